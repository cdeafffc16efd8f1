// Test fixture: finds (or builds) the spate binary and runs `spate serve`
// on free 127.0.0.1 ports. Every wait has a deadline.
import { spawn, spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, writeFileSync } from "node:fs";
import * as net from "node:net";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

export const REPO = resolve(dirname(fileURLToPath(import.meta.url)), "../../..");

let cachedBin = null;
/** Path of the spate binary: $SPATE_BIN, target/debug, target/release, else `cargo build --bin spate`. */
export function spateBin() {
  if (cachedBin) return cachedBin;
  const candidates = [process.env.SPATE_BIN, join(REPO, "target/debug/spate"), join(REPO, "target/release/spate")];
  for (const c of candidates) if (c && existsSync(c)) return (cachedBin = c);
  const r = spawnSync("cargo", ["build", "--bin", "spate"], { cwd: REPO, stdio: "inherit", timeout: 20 * 60_000 });
  if (r.status !== 0) throw new Error("cargo build --bin spate failed");
  return (cachedBin = join(REPO, "target/debug/spate"));
}

/** A free TCP port on 127.0.0.1. */
export function freePort() {
  return new Promise((res, rej) => {
    const s = net.createServer();
    s.once("error", rej);
    s.listen(0, "127.0.0.1", () => {
      const { port } = s.address();
      s.close(() => res(port));
    });
  });
}

/** Resolve when `pred` is true for a line of the process output, within `ms`. */
function waitOutput(proc, pred, ms, what) {
  return new Promise((res, rej) => {
    let buf = "";
    const timer = setTimeout(() => {
      cleanup();
      rej(new Error(`${what}: not seen within ${ms} ms; output:\n${buf.slice(-2000)}`));
    }, ms);
    const on = (d) => {
      buf += d.toString();
      if (pred(buf)) {
        cleanup();
        res();
      }
    };
    const onExit = (code) => {
      cleanup();
      rej(new Error(`${what}: spate exited (${code}) first; output:\n${buf.slice(-2000)}`));
    };
    const cleanup = () => {
      clearTimeout(timer);
      proc.stdout.off("data", on);
      proc.stderr.off("data", on);
      proc.off("exit", onExit);
    };
    proc.stdout.on("data", on);
    proc.stderr.on("data", on);
    proc.once("exit", onExit);
  });
}

/**
 * A running broker. `opts.config` is TOML text (written to a temp file),
 * `opts.args` extra CLI flags, `opts.port` a fixed port (for restarts).
 */
export class Broker {
  constructor(opts = {}) {
    this.opts = opts;
    this.proc = null;
  }
  static async start(opts = {}) {
    const b = new Broker(opts);
    b.port = opts.port ?? (await freePort());
    if (opts.wsPort === true) b.wsPort = await freePort();
    await b.spawn();
    return b;
  }
  get addr() {
    return `127.0.0.1:${this.port}`;
  }
  async spawn() {
    const args = ["serve", "--listen", this.addr, "--no-admin", "--log-level", "info", ...(this.opts.args ?? [])];
    if (this.wsPort) args.push("--ws-listen", `127.0.0.1:${this.wsPort}`);
    if (this.opts.config) {
      const dir = mkdtempSync(join(tmpdir(), "spate-ts-"));
      const f = join(dir, "spate.toml");
      writeFileSync(f, this.opts.config);
      args.push("--config", f);
    }
    this.proc = spawn(this.opts.bin ?? spateBin(), args, { stdio: ["ignore", "pipe", "pipe"] });
    this.proc.stdout.resume();
    this.proc.stderr.resume();
    await waitOutput(this.proc, (s) => s.includes("accepting clients"), 15_000, "broker start");
  }
  /** SIGTERM (graceful: GOAWAY, drain) or SIGKILL, and wait for the exit. */
  async stop(signal = "SIGTERM") {
    const p = this.proc;
    if (!p || p.exitCode !== null || p.signalCode !== null) return;
    const exited = new Promise((res) => p.once("exit", res));
    p.kill(signal);
    const t = setTimeout(() => p.kill("SIGKILL"), 10_000);
    await exited;
    clearTimeout(t);
  }
  /** Stop and start again on the same ports (a new server id, new epochs). */
  async restart(signal = "SIGTERM") {
    await this.stop(signal);
    await this.spawn();
  }
}

/** Reject if `p` does not settle within `ms`. */
export function within(ms, p, what = "operation") {
  let t;
  return Promise.race([
    p.finally(() => clearTimeout(t)),
    new Promise((_, rej) => {
      t = setTimeout(() => rej(new Error(`${what} did not finish within ${ms} ms`)), ms);
    }),
  ]);
}

/** Next event of `sub` that satisfies `pred` (skipping others), within `ms`. */
export async function nextWhere(sub, pred, ms = 5000) {
  const deadline = Date.now() + ms;
  for (;;) {
    const left = deadline - Date.now();
    if (left <= 0) throw new Error(`no matching event within ${ms} ms`);
    const ev = await sub.next(left);
    if (ev === null) throw new Error("subscription ended");
    if (pred(ev)) return ev;
  }
}

/** Collect `n` messages (and whatever else comes in between) within `ms`. */
export async function collect(sub, n, ms = 5000) {
  const msgs = [];
  const others = [];
  const deadline = Date.now() + ms;
  while (msgs.length < n) {
    const left = deadline - Date.now();
    if (left <= 0) throw new Error(`got ${msgs.length} of ${n} messages within ${ms} ms`);
    const ev = await sub.next(left);
    if (ev === null) throw new Error("subscription ended");
    if (ev.type === "message") msgs.push(ev);
    else others.push(ev);
  }
  return { msgs, others };
}

export const dec = new TextDecoder();
