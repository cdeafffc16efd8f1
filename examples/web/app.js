// The demo page: price board, shared to-do list and document, connection
// indicator. Everything goes through the spate TypeScript client over
// WebSocket. window.spateDemo exposes the state for the end-to-end test.
import { connect, ConflictError } from "/spate/index.browser.js";

const $ = (id) => document.getElementById(id);
const dec = new TextDecoder();
const cfg = await (await fetch("/config.json")).json();

const demo = {
  status: "connecting",
  reconnects: 0,
  serverId: "",
  notices: [],
  prices: {},
  todos: new Map(),
  doc: { lines: [], revision: 0n },
  merges: 0,
  ready: false,
};
window.spateDemo = demo;

function log(text) {
  const d = document.createElement("div");
  d.textContent = `${new Date().toLocaleTimeString()} ${text}`;
  $("log").prepend(d);
  while ($("log").childElementCount > 50) $("log").lastElementChild.remove();
  demo.notices.push(text);
  if (demo.notices.length > 200) demo.notices.shift();
}

const client = await connect(cfg.ws, {
  name: "demo-page",
  reconnect: { initialDelayMs: 100, maxDelayMs: 2000 },
  requestTimeoutMs: 5000,
});
function showStatus(s, detail) {
  demo.status = s;
  demo.reconnects = client.reconnects;
  demo.serverId = String(client.serverId);
  $("conn").textContent = s;
  $("conn").className = s;
  $("conn-text").textContent = s + (detail ? ` (${detail})` : "");
  $("server-id").textContent = demo.serverId;
  $("reconnects").textContent = String(client.reconnects);
}
client.onStatus((s, detail) => {
  showStatus(s, detail);
  log(`connection ${s}${detail ? ": " + detail : ""}`);
  // reconnects is incremented right after the status change
  queueMicrotask(() => {
    demo.reconnects = client.reconnects;
    $("reconnects").textContent = String(client.reconnects);
  });
});
showStatus(client.status, "");

// ---------------------------------------------------------------- price board
const rows = {};
for (const sym of cfg.symbols) {
  const tr = document.createElement("tr");
  tr.innerHTML = `<td>${sym}</td><td class="p">-</td><td class="r">0</td><td class="n">0</td><td class="g">0</td>`;
  $("prices").append(tr);
  rows[sym] = tr;
  demo.prices[sym] = { price: null, n: -1, received: 0, skipped: 0, times: [] };
}
async function watchPrice(sym) {
  const sub = await client.subscribe(`prices.${sym}`, { policy: "conflate", maxRate: 20, queueMsgs: 16 });
  const p = demo.prices[sym];
  for await (const ev of sub) {
    if (ev.type === "message") {
      const v = JSON.parse(dec.decode(ev.payload));
      p.price = v.price;
      p.n = v.n;
      p.received++;
      const now = performance.now();
      p.times.push(now);
      while (p.times.length && now - p.times[0] > 1000) p.times.shift();
    } else if (ev.type === "gap") {
      p.skipped += Number(ev.count);
    } else {
      log(`prices.${sym}: ${ev.kind}`);
    }
  }
}
for (const sym of cfg.symbols) watchPrice(sym).catch((e) => log(`prices.${sym}: ${e.message}`));
setInterval(() => {
  const now = performance.now();
  for (const sym of cfg.symbols) {
    const p = demo.prices[sym];
    while (p.times.length && now - p.times[0] > 1000) p.times.shift();
    const tr = rows[sym];
    tr.querySelector(".p").textContent = p.price === null ? "-" : p.price.toFixed(2);
    tr.querySelector(".r").textContent = String(p.times.length);
    tr.querySelector(".n").textContent = String(p.received);
    tr.querySelector(".g").textContent = String(p.skipped);
  }
}, 200);

// ---------------------------------------------------------------- to-do list and document
const TOPIC = "demo.todo";
const enc = (o) => JSON.stringify(o);

function renderTodos() {
  const ul = $("todo-list");
  ul.textContent = "";
  const items = [...demo.todos.entries()].filter(([k]) => k.startsWith("item-")).sort(([a], [b]) => (a < b ? -1 : 1));
  for (const [key, { value }] of items) {
    const li = document.createElement("li");
    li.className = value.done ? "done" : "";
    const cb = document.createElement("input");
    cb.type = "checkbox";
    cb.checked = value.done;
    cb.onchange = () => toggle(key).catch((e) => log(e.message));
    const span = document.createElement("span");
    span.textContent = ` ${value.text} `;
    const del = document.createElement("button");
    del.textContent = "×";
    del.onclick = () => remove(key).catch((e) => log(e.message));
    li.append(cb, span, del);
    ul.append(li);
  }
}
function renderDoc() {
  $("doc").textContent = demo.doc.lines.join("\n");
  $("doc-rev").textContent = String(demo.doc.revision);
  $("merges").textContent = String(demo.merges);
}

/** Apply a state message (snapshot or live) to the local view. */
function applyState(m) {
  if (m.state === "put") {
    const value = JSON.parse(dec.decode(m.payload));
    if (m.key === "doc") demo.doc = { lines: value, revision: m.seq };
    else demo.todos.set(m.key, { value, revision: m.seq });
  } else if (m.state === "delete") {
    if (m.key === "doc") demo.doc = { lines: [], revision: 0n };
    else demo.todos.delete(m.key);
  }
}

/**
 * Compare-and-set update: `change` maps the current value to the new one.
 * On a conflict the change is re-applied to the fresh value (a merge, never
 * a silent overwrite) and the user is told.
 */
async function casUpdate(key, change, what) {
  const cur = await client.state.get(TOPIC, key);
  let value = cur ? JSON.parse(dec.decode(cur.value)) : null;
  let revision = cur ? cur.revision : 0n;
  for (let attempt = 0; attempt < 100; attempt++) {
    try {
      return await client.state.put(TOPIC, key, enc(change(value)), { ifRevision: revision });
    } catch (e) {
      if (!(e instanceof ConflictError)) throw e;
      demo.merges++;
      log(`${what}: someone else wrote revision ${e.revision}; merged and retried`);
      value = e.value ? JSON.parse(dec.decode(e.value)) : null;
      revision = e.revision;
      renderDoc();
    }
  }
  throw new Error(`${what}: too many conflicts`);
}

async function addTodo(text) {
  const key = `item-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 8)}`;
  await client.state.put(TOPIC, key, enc({ text, done: false }), { ifAbsent: true });
  return key;
}
async function toggle(key) {
  await casUpdate(key, (v) => ({ ...(v ?? { text: "?" }), done: !(v?.done ?? false) }), `toggle ${key}`);
}
async function remove(key) {
  const cur = demo.todos.get(key);
  try {
    await client.state.del(TOPIC, key, cur ? { ifRevision: cur.revision } : {});
  } catch (e) {
    if (e instanceof ConflictError) log(`delete ${key}: it changed meanwhile (revision ${e.revision}); not deleted`);
    else throw e;
  }
}
async function appendLine(text) {
  return casUpdate("doc", (lines) => [...(lines ?? []), text], "append");
}
Object.assign(demo, { addTodo, toggle, remove, appendLine, client });

$("todo-form").onsubmit = (e) => {
  e.preventDefault();
  const t = $("todo-text").value.trim();
  if (t) addTodo(t).catch((err) => log(err.message));
  $("todo-text").value = "";
};
$("doc-form").onsubmit = (e) => {
  e.preventDefault();
  const t = $("doc-line").value;
  if (t) appendLine(t).catch((err) => log(err.message));
  $("doc-line").value = "";
};

function clearView() {
  demo.todos.clear();
  demo.doc = { lines: [], revision: 0n };
}
/** Re-read the whole state (after a loss the stream cannot fill). */
async function resync() {
  const entries = await client.state.listAll(TOPIC);
  clearView();
  for (const e of entries) applyState({ state: "put", key: e.key, payload: e.value, seq: e.revision });
}

(async () => {
  const sub = await client.subscribe(TOPIC, { snapshot: true });
  demo.ready = true;
  for await (const ev of sub) {
    if (ev.type === "message") applyState(ev);
    else if (ev.type === "notice") {
      log(`${TOPIC}: ${ev.kind}`);
      // After a broker restart the state is gone (v1 keeps nothing on disk):
      // start over from what the server holds now.
      if (ev.kind === "epoch_changed" || ev.kind === "truncated") await resync();
      else if (ev.kind === "snapshot_restarted") clearView();
    } else if (ev.type === "gap") {
      log(`${TOPIC}: ${ev.count} updates lost (${ev.reason}); re-reading`);
      await resync();
    }
    renderTodos();
    renderDoc();
  }
})().catch((e) => log(`${TOPIC}: ${e.message}`));
