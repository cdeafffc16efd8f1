import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { ConflictError, NotFoundError, ServerError, connect } from "../dist/index.node.js";
import { Broker, dec, within } from "./broker.mjs";

let broker;
let c;
before(async () => {
  broker = await Broker.start();
  c = await connect(broker.addr);
});
after(async () => {
  await c?.close();
  await broker?.stop();
});

test("put / get / list / del with revisions", async () => {
  const r1 = await c.state.put("st.a", "k1", "v1");
  const r2 = await c.state.put("st.a", "k2", new Uint8Array([0, 255]));
  assert.ok(r2 > r1);
  const g = await c.state.get("st.a", "k1");
  assert.equal(dec.decode(g.value), "v1");
  assert.equal(g.revision, r1);
  assert.equal(await c.state.get("st.a", "nope"), null);
  const page = await c.state.list("st.a", { limit: 1 });
  assert.equal(page.entries.length, 1);
  assert.equal(page.more, true);
  const all = await c.state.listAll("st.a", 1);
  assert.deepEqual(all.map((e) => e.key), ["k1", "k2"]);
  assert.deepEqual([...all[1].value], [0, 255]);
  const rd = await c.state.del("st.a", "k1");
  assert.ok(rd > r2);
  await assert.rejects(c.state.del("st.a", "k1"), NotFoundError);
});

test("conditions: ifRevision and ifAbsent conflicts carry the current value", async () => {
  const r = await c.state.put("st.c", "k", "first", { ifAbsent: true });
  await assert.rejects(c.state.put("st.c", "k", "again", { ifAbsent: true }), (e) => {
    assert.ok(e instanceof ConflictError);
    assert.equal(e.revision, r);
    assert.equal(dec.decode(e.value), "first");
    return true;
  });
  await assert.rejects(c.state.put("st.c", "k", "x", { ifRevision: r + 100n }), ConflictError);
  const r2 = await c.state.put("st.c", "k", "second", { ifRevision: r });
  assert.ok(r2 > r);
  await assert.rejects(c.state.del("st.c", "k", { ifRevision: r }), ConflictError);
  await c.state.del("st.c", "k", { ifRevision: r2 });
  await assert.rejects(c.state.put("st.c", "", "x"), (e) => e instanceof ServerError && e.codeName === "INVALID_KEY");
});

test("CAS race: 8 writers x 50 increments end at 400", async () => {
  const writers = await Promise.all(Array.from({ length: 8 }, (_, i) => connect(broker.addr, { name: `w${i}` })));
  try {
    await within(
      60_000,
      Promise.all(
        writers.map(async (w) => {
          for (let i = 0; i < 50; i++) {
            await w.state.update("st.race", "counter", (cur) => String(Number(cur ? dec.decode(cur) : "0") + 1));
          }
        }),
      ),
      "CAS race",
    );
    const g = await c.state.get("st.race", "counter");
    assert.equal(dec.decode(g.value), "400");
  } finally {
    await Promise.all(writers.map((w) => w.close()));
  }
});
