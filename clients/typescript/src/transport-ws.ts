/**
 * WebSocket transport (browsers, or any runtime with a global WebSocket).
 * One or more whole frames travel per binary WebSocket message; the client
 * parses the stream the same way as TCP. Browsers give no read
 * backpressure, so pauseReading is a no-op here.
 */
import type { Transport, TransportFactory } from "./transport.js";

/** A factory opening WebSocket connections to `url` (`ws://host:port/`). */
export function wsTransport(url: string): TransportFactory {
  return (timeoutMs) =>
    new Promise<Transport>((resolve, reject) => {
      const WS = (globalThis as { WebSocket?: typeof WebSocket }).WebSocket;
      if (!WS) {
        reject(new Error("no global WebSocket in this runtime"));
        return;
      }
      const ws = new WS(url);
      ws.binaryType = "arraybuffer";
      let settled = false;
      const timer = setTimeout(() => {
        if (settled) return;
        settled = true;
        ws.close();
        reject(new Error(`connect to ${url} timed out after ${timeoutMs} ms`));
      }, timeoutMs);
      ws.onerror = () => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        reject(new Error(`WebSocket connection to ${url} failed`));
      };
      ws.onopen = () => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        const t: Transport = {
          send: (d) => {
            if (ws.readyState === 1) ws.send(d);
          },
          pauseReading: () => {},
          resumeReading: () => {},
          close: () => ws.close(),
          onData: () => {},
          onClose: () => {},
        };
        ws.onmessage = (ev: MessageEvent) => {
          if (ev.data instanceof ArrayBuffer) t.onData(new Uint8Array(ev.data));
        };
        ws.onclose = (ev: CloseEvent) => t.onClose(`WebSocket closed (${ev.code}${ev.reason ? " " + ev.reason : ""})`);
        ws.onerror = () => {};
        resolve(t);
      };
    });
}
