// End-to-end in headless Chromium (Debian's /usr/bin/chromium driven by
// playwright-core): the examples/web demo over the broker's WebSocket
// listener. Two pages edit the same document concurrently and converge;
// the price board gets at most 20 updates/s per key with the latest
// values; after a broker restart both pages resume. Screenshots are saved
// to test-results/ on failure. Skips (saying why) without Chromium or
// without a broker that has --ws-listen.
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { existsSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { Broker, REPO, freePort, spateBin } from "./broker.mjs";

const CHROMIUM = process.env.CHROMIUM ?? "/usr/bin/chromium";
const wsBin = process.env.SPATE_WS_BIN ?? spateBin();

function skipReason() {
  if (!existsSync(CHROMIUM)) return `no Chromium at ${CHROMIUM} (apt-get install chromium)`;
  const help = spawnSync(wsBin, ["serve", "--help"], { encoding: "utf8" });
  if (!(help.stdout ?? "").includes("--ws-listen")) return `${wsBin} has no --ws-listen (set SPATE_WS_BIN to a broker with the WebSocket listener)`;
  return false;
}
const skip = skipReason();
if (skip) console.log(`# browser test skipped: ${skip}`);

let broker;
let demo;
let browser;
const pages = [];
const results = join(REPO, "clients/typescript/test-results");

/** Poll a page condition with a deadline (the page's state changes asynchronously). */
async function until(page, fn, arg, ms, what) {
  try {
    await page.waitForFunction(fn, arg, { timeout: ms, polling: 50 });
  } catch (e) {
    throw new Error(`${what}: not true within ${ms} ms (${e.message.split("\n")[0]})`);
  }
}

before(async () => {
  if (skip) return;
  broker = await Broker.start({ bin: wsBin, wsPort: true, args: ["--shutdown-drain-ms", "300"] });
  const port = await freePort();
  demo = spawn(
    process.execPath,
    [join(REPO, "examples/web/server.mjs"), "--broker", broker.addr, "--ws", `ws://127.0.0.1:${broker.wsPort}/`, "--port", String(port)],
    { stdio: ["ignore", "pipe", "pipe"] },
  );
  await new Promise((res, rej) => {
    const t = setTimeout(() => rej(new Error("demo server did not start within 10 s")), 10_000);
    demo.stdout.on("data", (d) => {
      if (d.toString().includes("demo: http")) {
        clearTimeout(t);
        res();
      }
    });
    demo.once("exit", (c) => rej(new Error(`demo server exited (${c})`)));
  });
  demo.stderr.resume();
  const { chromium } = await import("playwright-core");
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
    timeout: 30_000,
  });
  for (let i = 0; i < 2; i++) {
    const page = await browser.newPage();
    page.on("pageerror", (e) => console.log(`# page ${i} error: ${e.message}`));
    await page.goto(`http://127.0.0.1:${port}/`, { timeout: 15_000 });
    await until(page, () => window.spateDemo?.ready === true, undefined, 15_000, `page ${i} ready`);
    pages.push(page);
  }
});

after(async () => {
  await browser?.close();
  demo?.kill("SIGTERM");
  await broker?.stop();
});

/** Run `fn`, saving screenshots of both pages if it throws. */
async function withShots(name, fn) {
  try {
    await fn();
  } catch (e) {
    mkdirSync(results, { recursive: true });
    for (let i = 0; i < pages.length; i++) await pages[i].screenshot({ path: join(results, `${name}-page${i}.png`) }).catch(() => {});
    throw e;
  }
}

test("two pages append to one document concurrently and converge", { skip, timeout: 60_000 }, () =>
  withShots("converge", async () => {
    const N = 15;
    await Promise.all(
      pages.map((p, i) =>
        p.evaluate(
          async ({ i, N }) => {
            const d = window.spateDemo;
            await Promise.all(Array.from({ length: N }, (_, k) => d.appendLine(`p${i}-${k}`)));
            await d.addTodo(`todo from page ${i}`);
          },
          { i, N },
        ),
      ),
    );
    for (const p of pages) {
      await until(p, (n) => window.spateDemo.doc.lines.length === n, 2 * N, 10_000, "document has every line");
      await until(p, () => [...window.spateDemo.todos.keys()].length === 2, undefined, 10_000, "both to-dos");
    }
    const docs = await Promise.all(pages.map((p) => p.evaluate(() => window.spateDemo.doc.lines)));
    assert.deepEqual(docs[0], docs[1], "both pages show the same document");
    assert.equal(new Set(docs[0]).size, 2 * N, "no line lost or doubled");
    const merges = await Promise.all(pages.map((p) => p.evaluate(() => window.spateDemo.merges)));
    assert.ok(merges[0] + merges[1] > 0, "concurrent appends conflicted and were merged");
    const shown = await pages[1].evaluate(() => document.getElementById("doc").textContent.split("\n").length);
    assert.equal(shown, 2 * N);
  }));

test("price board: latest values, at most 20 updates/s per key, skips counted", { skip, timeout: 60_000 }, () =>
  withShots("prices", async () => {
    const p = pages[0];
    await until(p, () => Object.values(window.spateDemo.prices).every((x) => x.received > 5), undefined, 10_000, "prices flowing");
    const a = await p.evaluate(() => Object.fromEntries(Object.entries(window.spateDemo.prices).map(([k, v]) => [k, v.received])));
    const t0 = Date.now();
    await new Promise((r) => setTimeout(r, 2000)); // measure over a 2 s window (a condition, not a wait)
    const b = await p.evaluate(() => Object.fromEntries(Object.entries(window.spateDemo.prices).map(([k, v]) => [k, { received: v.received, skipped: v.skipped }])));
    const secs = (Date.now() - t0) / 1000;
    for (const k of Object.keys(a)) {
      const rate = (b[k].received - a[k]) / secs;
      assert.ok(rate <= 20 * 1.25 + 1, `${k}: ${rate.toFixed(1)} updates/s`);
      assert.ok(rate >= 1, `${k}: ${rate.toFixed(1)} updates/s (still live)`);
      assert.ok(b[k].skipped > 0, `${k}: conflated updates are counted`);
    }
    const cfg = await p.evaluate(async () => (await fetch("/config.json")).json());
    assert.ok(cfg.publisher.published > 10_000, "publisher running");
    const shown = await p.evaluate(() => document.querySelector("#prices tr .p").textContent);
    assert.match(shown, /^\d+\.\d\d$/);
  }));

test("after a broker restart both pages reconnect, resume and edit again", { skip, timeout: 90_000 }, () =>
  withShots("restart", async () => {
    const before = await Promise.all(pages.map((p) => p.evaluate(() => window.spateDemo.reconnects)));
    await broker.restart("SIGTERM");
    for (const [i, p] of pages.entries()) {
      await until(p, (n) => window.spateDemo.status === "connected" && window.spateDemo.reconnects > n, before[i], 20_000, `page ${i} reconnected`);
      await until(p, () => window.spateDemo.doc.lines.length === 0, undefined, 10_000, `page ${i} dropped the old epoch's state`);
    }
    await pages[0].evaluate(() => window.spateDemo.appendLine("after restart"));
    for (const p of pages) await until(p, () => window.spateDemo.doc.lines.join() === "after restart", undefined, 10_000, "edit after restart");
    await until(pages[1], () => Object.values(window.spateDemo.prices).every((x) => x.times.length > 0), undefined, 10_000, "prices flowing again");
    const ind = await pages[1].evaluate(() => document.getElementById("conn").textContent);
    assert.equal(ind, "connected");
  }));
