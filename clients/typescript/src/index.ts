/**
 * spate-client core: everything except the choice of transport. Import
 * `spate-client` (Node: TCP, browsers: WebSocket) unless you bring your own.
 */
export * from "./codec.js";
export * from "./errors.js";
export { Client, Subscription } from "./client.js";
export type {
  ClientOptions,
  ConnectionStatus,
  PublishOptions,
  ReconnectOptions,
  StateValue,
  SubscribeOptions,
  WriteCondition,
} from "./client.js";
export type { Notice, SubEvent } from "./resume.js";
export type { Transport, TransportFactory } from "./transport.js";
export { wsTransport } from "./transport-ws.js";
