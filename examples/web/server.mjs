#!/usr/bin/env node
// spate live demo: a tiny static server (zero dependencies) for the page
// and the TypeScript client's browser build, plus the price publisher
// (10,000 updates/s over TCP). The page talks to the broker over WebSocket.
//
//   node examples/web/server.mjs --broker 127.0.0.1:7411 --ws ws://127.0.0.1:7412/ --port 8080
//
// Needs a broker with the WebSocket listener (`spate serve --ws-listen
// 127.0.0.1:7412`) and the client built (`cd clients/typescript && npm ci && npm run build`).
import { createServer } from "node:http";
import { readFile } from "node:fs/promises";
import { dirname, extname, join, normalize } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const dist = join(here, "../../clients/typescript/dist");

function arg(name, def) {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && i + 1 < process.argv.length ? process.argv[i + 1] : def;
}
const broker = arg("broker", "127.0.0.1:7411");
const wsUrl = arg("ws", "ws://127.0.0.1:7412/");
const port = Number(arg("port", "8080"));
const rate = Number(arg("rate", "10000"));
const publish = !process.argv.includes("--no-publisher");

export const SYMBOLS = ["ACME", "BOLT", "CRUX", "DYNA", "EPIC", "FLUX", "GRID", "HALO"];

const TYPES = { ".html": "text/html; charset=utf-8", ".js": "text/javascript; charset=utf-8", ".map": "application/json", ".css": "text/css" };

async function serveFile(res, root, rel) {
  const p = normalize(join(root, rel));
  if (!p.startsWith(root)) {
    res.writeHead(403).end();
    return;
  }
  try {
    const body = await readFile(p);
    res.writeHead(200, { "content-type": TYPES[extname(p)] ?? "application/octet-stream", "cache-control": "no-store" });
    res.end(body);
  } catch {
    res.writeHead(404).end("not found");
  }
}

const stats = { published: 0, errors: 0, connected: false };

const server = createServer((req, res) => {
  const url = new URL(req.url ?? "/", "http://x");
  if (url.pathname === "/config.json") {
    res.writeHead(200, { "content-type": "application/json", "cache-control": "no-store" });
    res.end(JSON.stringify({ ws: wsUrl, symbols: SYMBOLS, rate, publisher: stats }));
  } else if (url.pathname.startsWith("/spate/")) {
    serveFile(res, dist, url.pathname.slice("/spate/".length));
  } else {
    serveFile(res, here, url.pathname === "/" ? "index.html" : url.pathname.slice(1));
  }
});
server.listen(port, "127.0.0.1", () => console.log(`demo: http://127.0.0.1:${port}/ (broker ${broker}, WebSocket ${wsUrl})`));

/** Publish `rate` price updates per second, in batches every 10 ms; survives broker restarts. */
async function publisher() {
  const { connect } = await import(join(dist, "index.node.js"));
  const c = await connect(broker, { name: "demo-prices", reconnect: { initialDelayMs: 100, maxDelayMs: 1000 } });
  c.onStatus((s) => {
    stats.connected = s === "connected";
  });
  stats.connected = true;
  c.onError(() => stats.errors++);
  const price = Object.fromEntries(SYMBOLS.map((s, i) => [s, 100 + i * 10]));
  const perTick = Math.max(1, Math.round(rate / 100));
  let n = 0;
  setInterval(() => {
    if (c.status !== "connected") return;
    const batch = [];
    for (let i = 0; i < perTick; i++) {
      const sym = SYMBOLS[n % SYMBOLS.length];
      price[sym] = Math.max(1, price[sym] + (Math.random() - 0.5));
      batch.push({ topic: `prices.${sym}`, key: sym, payload: JSON.stringify({ sym, price: Number(price[sym].toFixed(2)), n }) });
      n++;
    }
    try {
      c.publishBatch(batch);
      stats.published += batch.length;
    } catch {
      /* reconnecting: skip this tick */
    }
  }, 10);
}
if (publish) {
  const start = () =>
    publisher().catch((e) => {
      console.error(`demo publisher: ${e.message}; retrying in 1 s`);
      setTimeout(start, 1000);
    });
  start();
}
