/** Typed errors of the spate client. */

/** Names of the error codes of protocol.md §13.2. */
export const ERROR_NAMES: Readonly<Record<number, string>> = {
  100: "MALFORMED_FRAME",
  101: "FRAME_TOO_LARGE",
  102: "UNSUPPORTED_VERSION",
  103: "HELLO_REQUIRED",
  104: "AUTH_FAILED",
  105: "TOO_MANY_CONNECTIONS",
  106: "SLOW_CONSUMER",
  107: "IDLE_TIMEOUT",
  108: "SHUTTING_DOWN",
  109: "TOKEN_EXPIRED",
  110: "TOO_MANY_CONNECTIONS_FROM_IP",
  111: "TOO_MANY_USER_CONNECTIONS",
  120: "TLS_REQUIRED",
  200: "UNKNOWN_OPCODE",
  201: "INVALID_TOPIC",
  202: "INVALID_PATTERN",
  203: "INVALID_OPTION",
  204: "DUPLICATE_SUBSCRIPTION",
  205: "UNKNOWN_SUBSCRIPTION",
  206: "TOO_MANY_SUBSCRIPTIONS",
  207: "TOO_MANY_TOPICS",
  208: "NOT_ALLOWED",
  209: "STATE_FULL",
  210: "INVALID_KEY",
  211: "NOT_AUTHORIZED",
  212: "RATE_LIMITED",
  500: "INTERNAL",
  501: "STORAGE_FAILED",
  510: "ENGINE_UNAVAILABLE",
};

/** Base class of every error this client throws. */
export class SpateError extends Error {
  constructor(message: string) {
    super(message);
    this.name = new.target.name;
  }
}

/** The server answered with ERROR (§13). */
export class ServerError extends SpateError {
  /** Stable numeric code. */
  readonly code: number;
  /** Name of the code (`INVALID_TOPIC`, …) or `UNKNOWN`. */
  readonly codeName: string;
  /** request_id / sub_id the error is about, 0 for the connection. */
  readonly reference: number;
  constructor(code: number, reference: number, message: string) {
    const name = ERROR_NAMES[code] ?? "UNKNOWN";
    super(`${name} (${code}): ${message}`);
    this.code = code;
    this.codeName = name;
    this.reference = reference;
  }
  /** 1xx codes close the connection. */
  get fatal(): boolean {
    return this.code >= 100 && this.code < 200;
  }
}

/** A wait on the server passed its deadline. */
export class TimeoutError extends SpateError {}

/** The connection was lost while the request was in flight (it may or may not have been applied). */
export class DisconnectedError extends SpateError {}

/** The client is closed. */
export class ClosedError extends SpateError {}

/** Not connected right now (fire-and-forget publish while reconnecting). */
export class NotConnectedError extends SpateError {}

/** The peer sent bytes that do not decode. */
export { ProtocolError, EncodeError } from "./codec.js";

/** A conditional state write failed: the key's current revision and value. */
export class ConflictError extends SpateError {
  /** Current revision (0n if the key is absent). */
  readonly revision: bigint;
  /** Current value, null if the key is absent. */
  readonly value: Uint8Array | null;
  constructor(topic: string, key: string, revision: bigint, value: Uint8Array | null) {
    super(`state ${topic}/${key}: condition failed (current revision ${revision})`);
    this.revision = revision;
    this.value = value;
  }
}

/** A state delete found no key. */
export class NotFoundError extends SpateError {}
