import assert from "node:assert/strict";
import * as net from "node:net";
import { test } from "node:test";
import { connect } from "../dist/index.node.js";
import { Broker, collect, dec, freePort, nextWhere, within } from "./broker.mjs";

/** A TCP proxy whose connections the test can cut (a network failure). */
async function proxy(target) {
  const port = await freePort();
  const socks = new Set();
  const server = net.createServer((a) => {
    const b = net.createConnection({ host: "127.0.0.1", port: target });
    socks.add(a);
    socks.add(b);
    a.pipe(b);
    b.pipe(a);
    const done = () => {
      a.destroy();
      b.destroy();
      socks.delete(a);
      socks.delete(b);
    };
    a.on("error", done).on("close", done);
    b.on("error", done).on("close", done);
  });
  await new Promise((r) => server.listen(port, "127.0.0.1", r));
  return {
    addr: `127.0.0.1:${port}`,
    cut: () => {
      for (const s of socks) s.destroy();
    },
    close: () => {
      for (const s of socks) s.destroy();
      return new Promise((r) => server.close(r));
    },
  };
}

test("a cut connection resumes from the last seq: nothing lost, nothing twice", async () => {
  const broker = await Broker.start();
  const px = await proxy(broker.port);
  const sub = await connect(px.addr, { reconnect: { initialDelayMs: 20, maxDelayMs: 200 } });
  const pub = await connect(broker.addr);
  const statuses = [];
  sub.onStatus((s) => statuses.push(`${s}:${sub.reconnects}`));
  try {
    const s = await sub.subscribe("rs.topic");
    for (let i = 0; i < 10; i++) pub.publish("rs.topic", String(i));
    await pub.flush();
    const first = await collect(s, 10);
    px.cut();
    await nextWhere(s, (e) => e.type === "notice" && e.kind === "disconnected");
    // published while the subscriber is away
    for (let i = 10; i < 20; i++) pub.publish("rs.topic", String(i));
    await pub.flush();
    const resumed = await nextWhere(s, (e) => e.type === "notice" && e.kind === "resumed");
    assert.equal(resumed.fromSeq, first.msgs[9].seq + 1n);
    for (let i = 20; i < 25; i++) pub.publish("rs.topic", String(i));
    const rest = await collect(s, 15);
    const all = [...first.msgs, ...rest.msgs].map((m) => dec.decode(m.payload));
    assert.deepEqual(all, Array.from({ length: 25 }, (_, i) => String(i)));
    assert.equal(s.duplicates, 0);
    assert.deepEqual(statuses, ["reconnecting:0", "connected:1"], "reconnects counted before listeners hear of it");
    assert.equal(sub.reconnects, 1);
  } finally {
    await sub.close();
    await pub.close();
    await px.close();
    await broker.stop();
  }
});

test("broker restart: GOAWAY, reconnect, epoch_changed / resumed_live / snapshot_restarted notices", async () => {
  const broker = await Broker.start({ args: ["--shutdown-drain-ms", "200"] });
  const c = await connect(broker.addr, { reconnect: { initialDelayMs: 50, maxDelayMs: 300 } });
  try {
    const lit = await c.subscribe("rr.lit");
    const wild = await c.subscribe("rr.*");
    const snap = await c.subscribe("rr.snap", { snapshot: true });
    await c.publishAck("rr.lit", "before");
    await collect(lit, 1);
    const oldServer = c.serverId;
    const restarted = broker.restart("SIGTERM");
    await nextWhere(lit, (e) => e.type === "notice" && e.kind === "server_going_away");
    await restarted;
    const ec = await nextWhere(lit, (e) => e.type === "notice" && e.kind === "epoch_changed", 15_000);
    assert.notEqual(ec.oldEpoch, ec.newEpoch);
    await nextWhere(wild, (e) => e.type === "notice" && e.kind === "resumed_live", 5000);
    await nextWhere(snap, (e) => e.type === "notice" && e.kind === "snapshot_restarted", 5000);
    assert.notEqual(c.serverId, oldServer);
    assert.equal(c.status, "connected");
    await c.publishAck("rr.lit", "after");
    const m = await collect(lit, 1);
    assert.equal(dec.decode(m.msgs[0].payload), "after");
    assert.equal(m.msgs[0].seq, 1n);
  } finally {
    await c.close();
    await broker.stop();
  }
});

test("requests fail with a typed error when the connection drops; reconnect: false closes", async () => {
  const broker = await Broker.start();
  const c = await connect(broker.addr, { reconnect: false });
  const s = await c.subscribe("rx.t");
  await broker.stop("SIGKILL");
  const ev = await nextWhere(s, (e) => e.type === "notice" && e.kind === "disconnected");
  assert.ok(ev.reason.length > 0);
  assert.equal(await within(5000, s.next(5000)), null);
  assert.equal(c.status, "closed");
  await assert.rejects(c.publishAck("rx.t", "x"));
});

test("keepalive PINGs keep a paused subscriber alive past the server's idle timeout", async () => {
  const broker = await Broker.start({
    config: "[timeouts]\nping_interval_ms = 300\nping_timeout_ms = 600\n",
  });
  const c = await connect(broker.addr, { subscriptionBuffer: 10 });
  const pub = await connect(broker.addr, { reconnect: false });
  const errors = [];
  const statuses = [];
  c.onError((e) => errors.push(e));
  c.onStatus((st) => statuses.push(st));
  try {
    const s = await c.subscribe("ka.t", { policy: "block", queueMsgs: 1000 });
    for (let i = 0; i < 200; i++) pub.publish("ka.t", String(i));
    await pub.flush();
    // the client stops reading once 10 messages are buffered
    const deadline = Date.now() + 5000;
    while (!c.paused && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    assert.equal(c.paused, true, "client paused reading");
    // stay paused for well past the server's 600 ms idle timeout (a condition, not a wait)
    await new Promise((r) => setTimeout(r, 2000));
    const { msgs, others } = await collect(s, 200, 10_000);
    assert.deepEqual(msgs.map((m) => dec.decode(m.payload)), Array.from({ length: 200 }, (_, i) => String(i)));
    assert.deepEqual(others, [], "no disconnect, no gap");
    // a round trip on the same connection: everything the server sent has been read
    await c.ping();
    assert.deepEqual(statuses, [], "never disconnected");
    assert.equal(c.reconnects, 0);
    assert.deepEqual(errors, []);
  } finally {
    await c.close();
    await pub.close();
    await broker.stop();
  }
});
