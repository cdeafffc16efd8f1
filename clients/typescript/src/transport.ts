/**
 * A byte-stream transport under the protocol: TCP in Node, WebSocket in
 * browsers. The client core only needs these few operations.
 */
export interface Transport {
  /** Queue bytes for sending (never blocks). */
  send(data: Uint8Array): void;
  /** Stop delivering received bytes (backpressure); may be a no-op. */
  pauseReading(): void;
  /** Deliver received bytes again. */
  resumeReading(): void;
  /** Close the connection; `onClose` follows. */
  close(): void;
  /** Called with each received chunk (any split of the frame stream). */
  onData: (chunk: Uint8Array) => void;
  /** Called once when the connection is gone. */
  onClose: (reason: string) => void;
}

/** Opens a connected transport or rejects; must honour `timeoutMs`. */
export type TransportFactory = (timeoutMs: number) => Promise<Transport>;
