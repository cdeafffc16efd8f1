/** spate-client for browsers: `connect("ws://127.0.0.1:7412/")` over WebSocket. */
import { Client, type ClientOptions } from "./client.js";
import { wsTransport } from "./transport-ws.js";

export * from "./index.js";

/** Connect to a `ws://` / `wss://` URL. */
export function connect(url: string, opts: Omit<ClientOptions, "transport"> = {}): Promise<Client> {
  return Client.connect({ ...opts, transport: wsTransport(url) });
}
