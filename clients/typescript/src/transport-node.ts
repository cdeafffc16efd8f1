/** TCP transport for Node (node:net). */
import * as net from "node:net";
import type { Transport, TransportFactory } from "./transport.js";

/** Parse `host:port` (IPv6 as `[::1]:7411`); the port defaults to 7411. */
export function parseHostPort(addr: string): { host: string; port: number } {
  const m = /^\[([^\]]+)\](?::(\d+))?$/.exec(addr) ?? /^([^:]*)(?::(\d+))?$/.exec(addr);
  if (!m) throw new Error(`cannot parse address ${addr}`);
  return { host: m[1] || "127.0.0.1", port: m[2] ? Number(m[2]) : 7411 };
}

/** A factory opening TCP connections to `addr` (`host:port`). */
export function tcpTransport(addr: string): TransportFactory {
  const { host, port } = parseHostPort(addr);
  return (timeoutMs) =>
    new Promise<Transport>((resolve, reject) => {
      const sock = net.createConnection({ host, port });
      let settled = false;
      const timer = setTimeout(() => {
        if (settled) return;
        settled = true;
        sock.destroy();
        reject(new Error(`connect to ${addr} timed out after ${timeoutMs} ms`));
      }, timeoutMs);
      sock.once("error", (e) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        reject(e);
      });
      sock.once("connect", () => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        sock.setNoDelay(true);
        let closed = false;
        const t: Transport = {
          send: (d) => {
            if (!closed) sock.write(d);
          },
          pauseReading: () => sock.pause(),
          resumeReading: () => sock.resume(),
          close: () => {
            sock.destroy();
          },
          onData: () => {},
          onClose: () => {},
        };
        let reason = "connection closed";
        sock.on("data", (b: Buffer) => t.onData(new Uint8Array(b.buffer, b.byteOffset, b.byteLength)));
        sock.on("error", (e) => {
          reason = e.message;
        });
        sock.on("end", () => {
          reason = "server closed the connection";
          sock.end();
        });
        sock.on("close", () => {
          closed = true;
          t.onClose(reason);
        });
        resolve(t);
      });
    });
}
