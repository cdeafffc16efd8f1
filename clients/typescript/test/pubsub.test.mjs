import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { connect, ServerError } from "../dist/index.node.js";
import { Broker, collect, dec, nextWhere } from "./broker.mjs";

let broker;
let c;
before(async () => {
  broker = await Broker.start();
  c = await connect(broker.addr, { name: "ts-test", token: "secret" });
});
after(async () => {
  await c?.close();
  await broker?.stop();
});

describe("session", () => {
  test("handshake: WELCOME limits and server id", () => {
    const w = c.welcome;
    assert.equal(w.version, 1);
    assert.ok(w.server.startsWith("spate"));
    assert.equal(typeof w.serverId, "bigint");
    assert.ok(w.maxFrame >= 1024);
    assert.equal(c.status, "connected");
  });
  test("ping returns a round-trip time", async () => {
    const rtt = await c.ping();
    assert.ok(rtt >= 0 && rtt < 5000);
  });
  test("token callback is asked on connect", async () => {
    let asked = 0;
    const c2 = await connect(broker.addr, { token: () => (asked++, "t") });
    assert.equal(asked, 1);
    await c2.close();
    assert.equal(c2.status, "closed");
  });
  test("connect to a closed port rejects within the deadline", async () => {
    const { freePort } = await import("./broker.mjs");
    const port = await freePort();
    await assert.rejects(connect(`127.0.0.1:${port}`, { connectTimeoutMs: 2000, reconnect: false }));
  });
});

describe("publish", () => {
  test("publishAck returns consecutive seqs with the topic epoch", async () => {
    const a = await c.publishAck("ts.ack", "one");
    const b = await c.publishAck("ts.ack", new Uint8Array([1, 2]));
    assert.equal(typeof a.seq, "bigint");
    assert.equal(b.seq, a.seq + 1n);
    assert.equal(a.epoch, b.epoch);
    assert.equal(a.receivers, 0);
  });
  test("fire-and-forget publish, batch, key and headers reach a subscriber in order", async () => {
    const sub = await c.subscribe("ts.ff");
    c.publish("ts.ff", "a", { key: "k", headers: [["h", "v"], ["h", "w"]] });
    c.publishBatch([
      { topic: "ts.ff", payload: "b" },
      { topic: "ts.ff", payload: "c", key: "" },
    ]);
    await c.flush();
    const { msgs } = await collect(sub, 3);
    assert.deepEqual(msgs.map((m) => dec.decode(m.payload)), ["a", "b", "c"]);
    assert.equal(msgs[0].key, "k");
    assert.deepEqual(msgs[0].headers, [["h", "v"], ["h", "w"]]);
    assert.equal(msgs[1].key, null);
    assert.equal(msgs[2].key, "");
    assert.equal(msgs[1].seq, msgs[0].seq + 1n);
    assert.equal(msgs[0].topic, "ts.ff");
    await sub.unsubscribe();
  });
  test("publishBatchAck: one ack per entry, a rejected entry gets its ServerError", async () => {
    const r = await c.publishBatchAck([
      { topic: "ts.batch", payload: "1" },
      { topic: "bad..topic", payload: "2" },
      { topic: "ts.batch", payload: "3" },
    ]);
    assert.equal(r.length, 3);
    assert.equal(r[1] instanceof ServerError, true);
    assert.equal(r[1].code, 201);
    assert.equal(r[2].seq, r[0].seq + 1n);
  });
  test("large batches are split to fit max_frame", async () => {
    const big = new Uint8Array(200_000);
    const msgs = Array.from({ length: 12 }, () => ({ topic: "ts.bigbatch", payload: big }));
    const r = await c.publishBatchAck(msgs);
    assert.equal(r.length, 12);
    assert.equal(r[11].seq, r[0].seq + 11n);
  });
  test("invalid topic is a typed ServerError (INVALID_TOPIC)", async () => {
    await assert.rejects(c.publishAck("a..b", "x"), (e) => e instanceof ServerError && e.codeName === "INVALID_TOPIC");
  });
  test("fire-and-forget error reaches onError", async () => {
    const errs = [];
    const off = c.onError((e) => errs.push(e));
    c.publish("bad topic", "x");
    await c.flush();
    off();
    assert.equal(errs.length, 1);
    assert.equal(errs[0].code, 201);
  });
});

describe("subscribe", () => {
  test("wildcard patterns", async () => {
    const s1 = await c.subscribe("ts.w.*");
    const s2 = await c.subscribe("ts.w.>");
    c.publish("ts.w.a", "1");
    c.publish("ts.w.a.b", "2");
    await c.flush();
    const a = await collect(s1, 1);
    assert.equal(a.msgs[0].topic, "ts.w.a");
    const b = await collect(s2, 2);
    assert.deepEqual(b.msgs.map((m) => m.topic), ["ts.w.a", "ts.w.a.b"]);
    await s1.unsubscribe();
    await s2.unsubscribe();
  });
  test("granted policy and queue limits are reported", async () => {
    const s = await c.subscribe("ts.opts", { policy: "drop-newest", queueMsgs: 7, queueBytes: 65536n, maxRate: 100 });
    assert.equal(s.granted.policy, "drop-newest");
    assert.equal(s.granted.queueMsgs, 7);
    assert.equal(s.granted.queueBytes, 65536n);
    assert.equal(s.granted.start, "live");
    await s.unsubscribe();
  });
  test("invalid pattern and invalid option are typed errors", async () => {
    await assert.rejects(c.subscribe("a.>.b"), (e) => e instanceof ServerError && e.code === 202);
    await assert.rejects(c.subscribe("ts.x.*", { lastN: 3 }), (e) => e instanceof ServerError && e.code === 203);
    await assert.rejects(c.subscribe("ts.x", { queueMsgs: 0 }), (e) => e instanceof ServerError && e.code === 203);
  });
  test("MAX_BATCH + LINGER_US deliver everything in order", async () => {
    const s = await c.subscribe("ts.batchsub", { maxBatch: 64, lingerUs: 2000 });
    c.publishBatch(Array.from({ length: 300 }, (_, i) => ({ topic: "ts.batchsub", payload: String(i) })));
    const { msgs, others } = await collect(s, 300);
    assert.equal(others.length, 0);
    msgs.forEach((m, i) => assert.equal(dec.decode(m.payload), String(i)));
    await s.unsubscribe();
  });
  test("replay fromSeq and lastN", async () => {
    const acks = [];
    for (let i = 0; i < 5; i++) acks.push(await c.publishAck("ts.replay", `m${i}`));
    const s = await c.subscribe("ts.replay", { fromSeq: { seq: acks[2].seq, epoch: acks[2].epoch } });
    assert.equal(s.granted.start, "replay");
    const r = await collect(s, 3);
    assert.deepEqual(r.msgs.map((m) => dec.decode(m.payload)), ["m2", "m3", "m4"]);
    const l = await c.subscribe("ts.replay", { lastN: 2 });
    const r2 = await collect(l, 2);
    assert.deepEqual(r2.msgs.map((m) => dec.decode(m.payload)), ["m3", "m4"]);
    // live continues after the backlog
    c.publish("ts.replay", "live");
    const r3 = await collect(l, 1);
    assert.equal(dec.decode(r3.msgs[0].payload), "live");
    await s.unsubscribe();
    await l.unsubscribe();
  });
  test("fromSeq older than history: truncated notice and exact not_retained GAP", async () => {
    const b2 = await Broker.start({ args: ["--history-msgs", "3"] });
    const c2 = await connect(b2.addr);
    try {
      for (let i = 0; i < 6; i++) await c2.publishAck("ts.trunc", String(i));
      const s = await c2.subscribe("ts.trunc", { fromSeq: { seq: 1n } });
      assert.equal(s.granted.start, "truncated");
      const gap = await nextWhere(s, (e) => e.type === "gap");
      assert.equal(gap.reason, "not_retained");
      assert.equal(gap.count, 3n);
      assert.equal(gap.firstSeq, 1n);
      assert.equal(gap.lastSeq, 3n);
      const r = await collect(s, 3);
      assert.deepEqual(r.msgs.map((m) => m.seq), [4n, 5n, 6n]);
    } finally {
      await c2.close();
      await b2.stop();
    }
  });
  test("snapshot delivers the state of every key, then live", async () => {
    await c.state.put("ts.snap", "a", "1");
    await c.state.put("ts.snap", "b", "2");
    await c.state.put("ts.snap", "a", "3");
    const s = await c.subscribe("ts.snap", { snapshot: true });
    assert.equal(s.granted.start, "snapshot");
    const r = await collect(s, 2);
    assert.deepEqual(r.msgs.map((m) => [m.key, dec.decode(m.payload), m.state]), [["b", "2", "put"], ["a", "3", "put"]]);
    await c.state.del("ts.snap", "b");
    const d = await collect(s, 1);
    assert.equal(d.msgs[0].state, "delete");
    assert.equal(d.msgs[0].key, "b");
    await s.unsubscribe();
  });
  test("conflate + maxRate: latest value per key, loss counted by GAPs", async () => {
    const s = await c.subscribe("ts.conf", { policy: "conflate", maxRate: 20, queueMsgs: 100 });
    const N = 2000;
    const keys = ["x", "y", "z"];
    const batch = [];
    for (let i = 0; i < N; i++) batch.push({ topic: "ts.conf", key: keys[i % 3], payload: String(i) });
    c.publishBatch(batch);
    await c.flush();
    const latest = new Map();
    let delivered = 0;
    let lost = 0n;
    const deadline = Date.now() + 8000;
    while (delivered + Number(lost) < N && Date.now() < deadline) {
      const ev = await s.next(deadline - Date.now());
      if (ev.type === "message") {
        delivered++;
        latest.set(ev.key, dec.decode(ev.payload));
      } else if (ev.type === "gap") lost += ev.count;
    }
    assert.equal(delivered + Number(lost), N, "delivered + GAP counts = published");
    assert.ok(delivered < 100, `rate limited: ${delivered} delivered`);
    const expected = new Map();
    batch.forEach((m, i) => expected.set(m.key, String(i)));
    assert.deepEqual(Object.fromEntries(latest), Object.fromEntries(expected), "latest value of every key");
    await s.unsubscribe();
  });
  test("a paused client makes the server apply drop-newest: GAPs count every loss", async () => {
    const c2 = await connect(broker.addr, { subscriptionBuffer: 5 });
    try {
      const s = await c2.subscribe("ts.dropnew", { policy: "drop-newest", queueMsgs: 20 });
      const N = 3000;
      c.publishBatch(Array.from({ length: N }, (_, i) => ({ topic: "ts.dropnew", payload: "x".repeat(200) + i })));
      await c.flush();
      let delivered = 0;
      let lost = 0n;
      const seqs = [];
      const deadline = Date.now() + 8000;
      while (delivered + Number(lost) < N) {
        const ev = await s.next(Math.max(1, deadline - Date.now()));
        if (ev.type === "message") {
          delivered++;
          seqs.push(ev.seq);
        } else if (ev.type === "gap") {
          assert.equal(ev.reason, "dropped_newest");
          lost += ev.count;
        }
      }
      assert.equal(delivered + Number(lost), N);
      assert.ok(lost > 0n, "the client's bounded buffer pushed back");
      for (let i = 1; i < seqs.length; i++) assert.ok(seqs[i] > seqs[i - 1]);
    } finally {
      await c2.close();
    }
  });
  test("next() honours an AbortSignal", async () => {
    const s = await c.subscribe("ts.abort");
    const ac = new AbortController();
    const p = s.next(5000, ac.signal);
    ac.abort(new Error("stop"));
    await assert.rejects(p, /stop/);
    await s.unsubscribe();
  });
  test("unsubscribe ends the iterator; for-await break unsubscribes", async () => {
    const s = await c.subscribe("ts.unsub");
    c.publish("ts.unsub", "1");
    let n = 0;
    for await (const ev of s) {
      if (ev.type === "message") n++;
      break;
    }
    assert.equal(n, 1);
    assert.equal(s.ended, true);
    assert.equal(await s.next(100), null);
  });
});
