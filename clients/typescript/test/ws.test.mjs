// The WebSocket transport from Node (needs a global WebSocket: Node >= 22,
// or Node 20 with --experimental-websocket, which test.sh passes) against a
// broker with --ws-listen (SPATE_WS_BIN, else the usual binary). Skips,
// saying why, otherwise.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { after, before, test } from "node:test";
import { ConflictError, connect } from "../dist/index.node.js";
import { Broker, collect, dec, spateBin } from "./broker.mjs";

const bin = process.env.SPATE_WS_BIN ?? spateBin();
function skipReason() {
  if (typeof globalThis.WebSocket !== "function") return "no global WebSocket in this Node (use --experimental-websocket)";
  const help = spawnSync(bin, ["serve", "--help"], { encoding: "utf8" });
  if (!(help.stdout ?? "").includes("--ws-listen")) return `${bin} has no --ws-listen (set SPATE_WS_BIN)`;
  return false;
}
const skip = skipReason();
if (skip) console.log(`# WebSocket test skipped: ${skip}`);

let broker;
before(async () => {
  if (!skip) broker = await Broker.start({ bin, wsPort: true });
});
after(async () => {
  await broker?.stop();
});

test("publish, subscribe, batches and state over WebSocket", { skip }, async () => {
  const c = await connect(`ws://127.0.0.1:${broker.wsPort}/`, { name: "ts-ws" });
  const tcp = await connect(broker.addr);
  try {
    const s = await c.subscribe("ws.t", { maxBatch: 32 });
    const a = await c.publishAck("ws.t", "via ws");
    tcp.publishBatch(Array.from({ length: 100 }, (_, i) => ({ topic: "ws.t", payload: String(i) })));
    const { msgs } = await collect(s, 101);
    assert.equal(msgs[0].seq, a.seq);
    assert.equal(dec.decode(msgs[100].payload), "99");
    const r = await c.state.put("ws.s", "k", "v", { ifAbsent: true });
    await assert.rejects(c.state.put("ws.s", "k", "w", { ifAbsent: true }), ConflictError);
    assert.equal((await tcp.state.get("ws.s", "k")).revision, r);
    assert.ok((await c.ping()) >= 0);
  } finally {
    await c.close();
    await tcp.close();
  }
});

test("WebSocket client resumes across a broker restart", { skip }, async () => {
  const c = await connect(`ws://127.0.0.1:${broker.wsPort}/`, { reconnect: { initialDelayMs: 50, maxDelayMs: 300 } });
  try {
    const s = await c.subscribe("ws.r");
    await c.publishAck("ws.r", "1");
    await collect(s, 1);
    await broker.restart("SIGKILL");
    const deadline = Date.now() + 15_000;
    let ev;
    do ev = await s.next(Math.max(1, deadline - Date.now()));
    while (!(ev.type === "notice" && ev.kind === "epoch_changed"));
    await c.publishAck("ws.r", "2");
    const { msgs } = await collect(s, 1);
    assert.equal(dec.decode(msgs[0].payload), "2");
    assert.equal(c.reconnects, 1);
  } finally {
    await c.close();
  }
});
