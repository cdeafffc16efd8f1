/** spate-client for Node: `connect("127.0.0.1:7411")` over TCP (or `ws://…` with a global WebSocket). */
import { Client, type ClientOptions } from "./client.js";
import { tcpTransport } from "./transport-node.js";
import { wsTransport } from "./transport-ws.js";

export * from "./index.js";
export { tcpTransport, parseHostPort } from "./transport-node.js";

/** Connect to `host:port` (TCP) or a `ws://` / `wss://` URL. */
export function connect(addr = "127.0.0.1:7411", opts: Omit<ClientOptions, "transport"> = {}): Promise<Client> {
  const transport = /^wss?:\/\//.test(addr) ? wsTransport(addr) : tcpTransport(addr);
  return Client.connect({ ...opts, transport });
}
