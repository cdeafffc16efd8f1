#!/usr/bin/env node
// Throughput of the TypeScript client against a local broker (127.0.0.1
// only): N fire-and-forget publishes of `size` bytes (batched or not) to
// one topic, received by a subscriber on a second connection.
//   node bench.mjs [--addr 127.0.0.1:7411] [--n 200000] [--size 64] [--batch 100]
import { connect } from "./dist/index.node.js";

const arg = (k, d) => {
  const i = process.argv.indexOf(`--${k}`);
  return i >= 0 ? process.argv[i + 1] : d;
};
const addr = arg("addr", "127.0.0.1:7411");
if (!addr.startsWith("127.0.0.1:")) throw new Error("bench traffic goes to 127.0.0.1 only");
const N = Number(arg("n", "200000"));
const size = Number(arg("size", "64"));
const batch = Number(arg("batch", "1"));

const pub = await connect(addr, { name: "ts-bench-pub" });
const sub = await connect(addr, { name: "ts-bench-sub" });
const topic = `bench.ts.${process.pid}`;
const s = await sub.subscribe(topic, { policy: "block", queueMsgs: 100_000, maxBatch: 256 });
const payload = new Uint8Array(size);
const t0 = performance.now();
const recv = (async () => {
  let n = 0;
  let lost = 0n;
  while (n + Number(lost) < N) {
    const ev = await s.next(30_000);
    if (ev.type === "message") n++;
    else if (ev.type === "gap") lost += ev.count;
  }
  return { n, lost };
})();
for (let i = 0; i < N; ) {
  if (batch > 1) {
    const k = Math.min(batch, N - i);
    pub.publishBatch(Array.from({ length: k }, () => ({ topic, payload })));
    i += k;
  } else {
    pub.publish(topic, payload);
    i++;
  }
  if (i % 10_000 === 0) await pub.flush(); // bound what the publisher queues in memory
}
await pub.flush();
const tPub = performance.now() - t0;
const { n, lost } = await recv;
const tAll = performance.now() - t0;
console.log(
  `${N} msgs x ${size} B, batch ${batch}: published in ${tPub.toFixed(0)} ms (${Math.round(N / (tPub / 1000))} msg/s), ` +
    `received ${n} (+${lost} lost) in ${tAll.toFixed(0)} ms (${Math.round(n / (tAll / 1000))} msg/s end to end)`,
);
await pub.close();
await sub.close();
