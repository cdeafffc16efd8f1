/**
 * The spate client core: one connection at a time over a Transport, with
 * request correlation, subscriptions as bounded async iterators,
 * keepalive, and reconnect + resume (protocol.md §18).
 */
import {
  type Condition,
  DEFAULT_MAX_FRAME,
  EncodeError,
  encodeHello,
  encodePing,
  encodePublish,
  encodePublishBatch,
  encodeStateDel,
  encodeStateGet,
  encodeStateList,
  encodeStatePut,
  encodeSubscribe,
  encodeUnsubscribe,
  decodeFrame,
  FrameReader,
  type Gap,
  type Message,
  payloadBytes,
  type Policy,
  ProtocolError,
  type PubAck,
  type PublishSpec,
  SERVER_FRAME_SLACK,
  type ServerFrame,
  type Start,
  type StateEntry,
  type StateListReply,
  type StateReply,
  type Subscribed,
  type Welcome,
  type Headers,
} from "./codec.js";
import {
  ClosedError,
  ConflictError,
  DisconnectedError,
  NotConnectedError,
  NotFoundError,
  ServerError,
  SpateError,
  TimeoutError,
} from "./errors.js";
import { type Notice, type SubEvent, Tracker } from "./resume.js";
import type { Transport, TransportFactory } from "./transport.js";

/** Reconnect behaviour: exponential backoff with jitter. */
export interface ReconnectOptions {
  /** First delay, ms (default 100). */
  initialDelayMs?: number;
  /** Largest delay, ms (default 5,000). */
  maxDelayMs?: number;
  /** Give up after this many failed attempts in a row (default: never). */
  maxAttempts?: number;
}

/** Options of {@link Client.connect}. */
export interface ClientOptions {
  /** How to open a connection (TCP in Node, WebSocket in browsers). */
  transport: TransportFactory;
  /** Client name for the server's logs and stats. */
  name?: string;
  /** Auth token, or a callback asked before every (re)connect. */
  token?: string | (() => string | Promise<string>);
  /** Deadline for TCP/WebSocket connect plus handshake, ms (default 5,000). */
  connectTimeoutMs?: number;
  /** Deadline for every request (ack, state, subscribe, ping), ms (default 10,000). */
  requestTimeoutMs?: number;
  /** `false` disables reconnecting; default on. */
  reconnect?: boolean | ReconnectOptions;
  /** Send a PING after this long without sending anything, ms (default: half the server's ping interval, at most 15,000). */
  keepaliveMs?: number;
  /** Messages buffered per subscription before the client stops reading the socket (default 1,024). */
  subscriptionBuffer?: number;
  /**
   * Transports without read backpressure (browser WebSocket): bytes
   * accepted while paused before the client drops the connection and
   * resumes later (default 16 MiB).
   */
  maxPausedBytes?: number;
}

/** Connection state, for a visible indicator. */
export type ConnectionStatus = "connecting" | "connected" | "reconnecting" | "closed";

/** Options of {@link Client.subscribe}. */
export interface SubscribeOptions {
  /** Backpressure policy (server default: drop-oldest). */
  policy?: Policy;
  /** Queue limit in messages. */
  queueMsgs?: number;
  /** Queue limit in bytes. */
  queueBytes?: bigint | number;
  /** Most messages per second (0 = unlimited). */
  maxRate?: number;
  /** Most messages per delivery frame (MESSAGE_BATCH when > 1). */
  maxBatch?: number;
  /** Linger for batches, µs. */
  lingerUs?: number;
  /** Replay from this seq (literal patterns only). `epoch` 0 = any. */
  fromSeq?: { seq: bigint; epoch?: bigint };
  /** Replay the last N retained messages. */
  lastN?: number;
  /** Start with the topic's state snapshot. */
  snapshot?: boolean;
  /** Overrides the client's subscriptionBuffer for this subscription. */
  buffer?: number;
}

/** Options of a single publish. */
export interface PublishOptions {
  key?: string;
  headers?: Headers;
}

/** Condition of a state write. */
export interface WriteCondition {
  /** Write only if the key's revision is this (0n = only if absent). */
  ifRevision?: bigint;
  /** Write only if the key is absent. */
  ifAbsent?: boolean;
}

/** A state value with its revision. */
export interface StateValue {
  value: Uint8Array;
  revision: bigint;
}

type Pending = {
  resolve: (f: ServerFrame) => void;
  reject: (e: Error) => void;
  timer: ReturnType<typeof setTimeout>;
};

const REQUEST_ID_MAX = 0xffffffff;

/** A live connection with its framing state. */
interface Conn {
  t: Transport;
  reader: FrameReader;
  welcome: Welcome;
  goingAway: boolean;
  lastSent: number;
  lastReceived: number;
  kaToken: bigint | null;
  kaSentAt: number;
  out: Uint8Array[];
  outScheduled: boolean;
  dead: boolean;
  closeReason: string | null;
  keepalive: ReturnType<typeof setInterval> | null;
  goawayTimer: ReturnType<typeof setTimeout> | null;
}

/** A spate client. Create with {@link Client.connect}. */
export class Client {
  private conn: Conn | null = null;
  private _status: ConnectionStatus = "connecting";
  private readonly opts: Required<Omit<ClientOptions, "token" | "reconnect" | "keepaliveMs">> & {
    token: ClientOptions["token"];
    reconnect: ReconnectOptions | null;
    keepaliveMs: number | undefined;
  };
  private nextRequestId = 1;
  private nextSubId = 1;
  private nextPingToken = 1n;
  private readonly pending = new Map<number, Pending>();
  private readonly pings = new Map<bigint, Pending>();
  private readonly subs = new Map<number, Subscription>();
  private readonly fullSubs = new Set<Subscription>();
  private readyWaiters: Array<{ resolve: () => void; reject: (e: Error) => void }> = [];
  private statusListeners = new Set<(s: ConnectionStatus, detail: string) => void>();
  private errorListeners = new Set<(e: Error) => void>();
  private reconnectTimer: ReturnType<typeof setTimeout> | null = null;
  private attempts = 0;
  private connectedOnce = false;
  /** The server's id from the latest WELCOME; changes when the broker restarted. */
  serverId = 0n;
  /** Reconnects completed so far. */
  reconnects = 0;
  /** Errors about fire-and-forget publishes (also passed to onError listeners). */
  publishErrors = 0;

  private constructor(opts: ClientOptions) {
    const rc = opts.reconnect === false ? null : opts.reconnect === true || !opts.reconnect ? {} : opts.reconnect;
    this.opts = {
      transport: opts.transport,
      name: opts.name ?? "spate-ts",
      token: opts.token,
      connectTimeoutMs: opts.connectTimeoutMs ?? 5000,
      requestTimeoutMs: opts.requestTimeoutMs ?? 10_000,
      reconnect: rc,
      keepaliveMs: opts.keepaliveMs,
      subscriptionBuffer: opts.subscriptionBuffer ?? 1024,
      maxPausedBytes: opts.maxPausedBytes ?? 16 * 1024 * 1024,
    };
  }

  /** Connect and complete the handshake; rejects if the first attempt fails. */
  static async connect(opts: ClientOptions): Promise<Client> {
    const c = new Client(opts);
    await c.open();
    return c;
  }

  /** Current connection state. */
  get status(): ConnectionStatus {
    return this._status;
  }

  /** The latest WELCOME (limits of the current connection), or null while disconnected. */
  get welcome(): Welcome | null {
    return this.conn?.welcome ?? null;
  }

  /** Listen to connection state changes; returns a function that removes the listener. */
  onStatus(cb: (s: ConnectionStatus, detail: string) => void): () => void {
    this.statusListeners.add(cb);
    return () => this.statusListeners.delete(cb);
  }

  /** Listen to errors that belong to no awaited call (fire-and-forget publish errors, connection errors). */
  onError(cb: (e: Error) => void): () => void {
    this.errorListeners.add(cb);
    return () => this.errorListeners.delete(cb);
  }

  private setStatus(s: ConnectionStatus, detail = ""): void {
    if (this._status === s) return;
    this._status = s;
    for (const cb of this.statusListeners) cb(s, detail);
  }

  private emitError(e: Error): void {
    for (const cb of this.errorListeners) cb(e);
  }

  // ------------------------------------------------------------ connection

  private async token(): Promise<string> {
    const t = this.opts.token;
    if (t === undefined) return "";
    return typeof t === "string" ? t : await t();
  }

  private async open(): Promise<void> {
    const timeout = this.opts.connectTimeoutMs;
    const deadline = Date.now() + timeout;
    const token = await this.token();
    const t = await this.opts.transport(timeout);
    const reader = new FrameReader(DEFAULT_MAX_FRAME + SERVER_FRAME_SLACK);
    const welcome = await new Promise<Welcome>((resolve, reject) => {
      const timer = setTimeout(
        () => {
          t.close();
          reject(new TimeoutError(`no WELCOME within ${timeout} ms`));
        },
        Math.max(1, deadline - Date.now()),
      );
      const fail = (e: Error): void => {
        clearTimeout(timer);
        t.onData = () => {};
        t.close();
        reject(e);
      };
      t.onClose = (reason) => fail(new DisconnectedError(`connection closed during handshake: ${reason}`));
      t.onData = (chunk) => {
        try {
          reader.push(chunk);
          const r = reader.next((op, b, s, e) => decodeFrame(op, b, s, e));
          if (!r) return;
          clearTimeout(timer);
          const f = r.value;
          if (f.op === "welcome") resolve(f.f);
          else if (f.op === "error") fail(new ServerError(f.f.code, f.f.reference, f.f.message));
          else fail(new ProtocolError(`expected WELCOME, got ${f.op}`));
        } catch (e) {
          fail(e as Error);
        }
      };
      t.send(encodeHello(this.opts.name, token));
    });
    reader.maxLength = welcome.maxFrame + SERVER_FRAME_SLACK;
    const now = Date.now();
    const conn: Conn = {
      t,
      reader,
      welcome,
      goingAway: false,
      lastSent: now,
      lastReceived: now,
      kaToken: null,
      kaSentAt: 0,
      out: [],
      outScheduled: false,
      dead: false,
      closeReason: null,
      keepalive: null,
      goawayTimer: null,
    };
    if (this._status === "closed") {
      t.close();
      throw new ClosedError("client closed");
    }
    const restarted = this.serverId !== 0n && this.serverId !== welcome.serverId;
    this.serverId = welcome.serverId;
    this.conn = conn;
    t.onData = (chunk) => this.onData(conn, chunk);
    t.onClose = (reason) => this.onClose(conn, conn.closeReason ?? reason);
    const ka =
      this.opts.keepaliveMs ?? Math.min(15_000, welcome.pingIntervalMs > 0 ? welcome.pingIntervalMs / 2 : 15_000);
    const kaMs = Math.max(20, ka);
    conn.keepalive = setInterval(() => this.keepalive(conn, kaMs), Math.max(10, kaMs / 2));
    // Anything still buffered after WELCOME belongs to the session.
    this.drainFrames(conn);
    // Resume subscriptions (their replies and notices come back in order).
    for (const sub of this.subs.values()) {
      if (sub.ended) continue;
      sub.requested = sub.tracker.start();
      this.send(encodeSubscribe(sub.id, sub.pattern, sub.wire, sub.requested));
    }
    if (this.fullSubs.size > 0) t.pauseReading();
    this.attempts = 0;
    if (this.connectedOnce) this.reconnects++;
    this.connectedOnce = true;
    this.setStatus("connected", restarted ? "server restarted" : "");
    const ws = this.readyWaiters;
    this.readyWaiters = [];
    for (const w of ws) w.resolve();
  }

  private keepalive(conn: Conn, kaMs: number): void {
    if (conn.dead) return;
    const now = Date.now();
    // Dead peer: our PING went unanswered while we were reading.
    if (
      conn.kaToken !== null &&
      this.fullSubs.size === 0 &&
      conn.lastReceived < conn.kaSentAt &&
      now - conn.kaSentAt > this.opts.requestTimeoutMs
    ) {
      this.dropConn(conn, `no PONG within ${this.opts.requestTimeoutMs} ms`);
      return;
    }
    if (now - conn.lastSent >= kaMs) {
      const tok = this.nextPingToken++;
      conn.kaToken = tok;
      conn.kaSentAt = now;
      this.send(encodePing(tok));
    }
  }

  private send(frame: Uint8Array): void {
    const conn = this.conn;
    if (!conn || conn.dead) throw new NotConnectedError("not connected");
    conn.out.push(frame);
    conn.lastSent = Date.now();
    if (!conn.outScheduled) {
      conn.outScheduled = true;
      queueMicrotask(() => this.flushOut(conn));
    }
  }

  private flushOut(conn: Conn): void {
    conn.outScheduled = false;
    const out = conn.out;
    if (out.length === 0 || conn.dead) return;
    conn.out = [];
    if (out.length === 1) {
      conn.t.send(out[0]!);
      return;
    }
    let n = 0;
    for (const b of out) n += b.length;
    const all = new Uint8Array(n);
    let at = 0;
    for (const b of out) {
      all.set(b, at);
      at += b.length;
    }
    conn.t.send(all);
  }

  private onData(conn: Conn, chunk: Uint8Array): void {
    if (conn.dead) return;
    conn.lastReceived = Date.now();
    conn.reader.push(chunk);
    this.drainFrames(conn);
    // A transport that cannot stop reading (WebSocket) keeps delivering while
    // paused: bound what piles up, then reconnect and resume instead.
    if (this.fullSubs.size > 0 && conn.reader.buffered() > this.opts.maxPausedBytes) {
      this.dropConn(conn, `more than ${this.opts.maxPausedBytes} bytes arrived while a subscription buffer was full`);
    }
  }

  /** Decode and dispatch buffered frames until paused or out of bytes. */
  private drainFrames(conn: Conn): void {
    try {
      while (!conn.dead && this.fullSubs.size === 0) {
        const r = conn.reader.next((op, b, s, e) => decodeFrame(op, b, s, e));
        if (!r) break;
        this.dispatch(conn, r.value);
      }
    } catch (e) {
      this.emitError(e as Error);
      this.dropConn(conn, `undecodable frame from server: ${(e as Error).message}`);
    }
  }

  private dropConn(conn: Conn, reason: string): void {
    if (conn.dead) return;
    conn.closeReason = reason;
    conn.t.close();
    // onClose follows from the transport; make sure it runs even if it does not.
    this.onClose(conn, reason);
  }

  private onClose(conn: Conn, reason: string): void {
    if (conn.dead) return;
    conn.dead = true;
    if (conn.keepalive) clearInterval(conn.keepalive);
    if (conn.goawayTimer) clearTimeout(conn.goawayTimer);
    if (this.conn === conn) this.conn = null;
    const err = new DisconnectedError(`connection lost: ${reason}`);
    for (const [id, p] of this.pending) {
      clearTimeout(p.timer);
      this.pending.delete(id);
      p.reject(err);
    }
    for (const [id, p] of this.pings) {
      clearTimeout(p.timer);
      this.pings.delete(id);
      p.reject(err);
    }
    for (const sub of this.subs.values()) {
      sub.unsubWaiter?.(); // the subscription is gone with the connection
    }
    if (this._status === "closed") return;
    for (const sub of this.subs.values()) sub.notify({ type: "notice", kind: "disconnected", reason }, true);
    if (!this.opts.reconnect) {
      this.shutdown(err);
      return;
    }
    this.setStatus("reconnecting", reason);
    this.scheduleReconnect();
  }

  private scheduleReconnect(): void {
    const rc = this.opts.reconnect!;
    if (rc.maxAttempts !== undefined && this.attempts >= rc.maxAttempts) {
      this.shutdown(new DisconnectedError(`gave up reconnecting after ${this.attempts} attempts`));
      return;
    }
    const base = Math.min(rc.maxDelayMs ?? 5000, (rc.initialDelayMs ?? 100) * 2 ** Math.min(this.attempts, 20));
    const delay = base * (0.5 + Math.random() * 0.5);
    this.attempts++;
    this.reconnectTimer = setTimeout(() => {
      this.reconnectTimer = null;
      if (this._status === "closed") return;
      this.open().then(
        () => {},
        (e: Error) => {
          if (this._status === "closed") return;
          this.emitError(e);
          this.scheduleReconnect();
        },
      );
    }, delay);
  }

  private shutdown(err: Error): void {
    this.setStatus("closed", err.message);
    if (this.reconnectTimer) clearTimeout(this.reconnectTimer);
    for (const w of this.readyWaiters) w.reject(err);
    this.readyWaiters = [];
    for (const sub of this.subs.values()) sub.end(null);
    this.subs.clear();
  }

  /** Wait until connected (and not going away), within `timeoutMs`. */
  private ready(timeoutMs: number): Promise<void> {
    if (this._status === "closed") return Promise.reject(new ClosedError("client closed"));
    if (this.conn && !this.conn.dead && !this.conn.goingAway) return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      const w = {
        resolve: () => {
          clearTimeout(timer);
          resolve();
        },
        reject: (e: Error) => {
          clearTimeout(timer);
          reject(e);
        },
      };
      const timer = setTimeout(() => {
        this.readyWaiters = this.readyWaiters.filter((x) => x !== w);
        reject(new TimeoutError(`not reconnected within ${timeoutMs} ms`));
      }, timeoutMs);
      this.readyWaiters.push(w);
    });
  }

  // ------------------------------------------------------------ dispatch

  private dispatch(conn: Conn, f: ServerFrame): void {
    switch (f.op) {
      case "ping":
        this.send(encodePing(f.token, true));
        return;
      case "pong": {
        if (f.token === conn.kaToken) {
          conn.kaToken = null;
          return;
        }
        const p = this.pings.get(f.token);
        if (p) {
          this.pings.delete(f.token);
          clearTimeout(p.timer);
          p.resolve(f);
        }
        return;
      }
      case "pub_ack":
        this.complete(f.f.requestId, f);
        return;
      case "state_reply":
        this.complete(f.f.requestId, f);
        return;
      case "state_list_reply":
        this.complete(f.f.requestId, f);
        return;
      case "message": {
        const sub = this.subs.get(f.subId);
        if (sub) sub.deliver(f.m);
        return;
      }
      case "message_batch": {
        const sub = this.subs.get(f.subId);
        if (sub) for (const m of f.ms) sub.deliver(m);
        return;
      }
      case "gap": {
        const sub = this.subs.get(f.subId);
        if (sub) sub.gap(f.g);
        return;
      }
      case "subscribed": {
        const sub = this.subs.get(f.f.subId);
        if (sub) sub.subscribed(f.f);
        return;
      }
      case "unsubscribed": {
        const sub = this.subs.get(f.subId);
        if (sub) sub.unsubWaiter?.();
        return;
      }
      case "error":
        this.onServerError(conn, f.f.code, f.f.reference, f.f.message, f.f.refKind);
        return;
      case "goaway":
        conn.goingAway = true;
        for (const sub of this.subs.values()) sub.notify({ type: "notice", kind: "server_going_away", reason: f.reason }, true);
        // Keep reading until the server closes; close ourselves if it does not in time.
        conn.goawayTimer = setTimeout(() => this.dropConn(conn, `GOAWAY: ${f.reason}`), f.drainMs + 2000);
        return;
      case "welcome":
        this.dropConn(conn, "unexpected second WELCOME");
        return;
    }
  }

  private complete(requestId: number, f: ServerFrame): void {
    const p = this.pending.get(requestId);
    if (!p) return;
    this.pending.delete(requestId);
    clearTimeout(p.timer);
    p.resolve(f);
  }

  private onServerError(conn: Conn, code: number, ref: number, message: string, kind: 0 | 1 | 2 | null): void {
    const err = new ServerError(code, ref, message);
    const fatal = code >= 100 && code < 200;
    const asRequest = kind === 1 || (kind === null && ref !== 0 && this.pending.has(ref));
    const asSub = kind === 2 || (kind === null && ref !== 0 && !asRequest && this.subs.has(ref));
    if (asRequest) {
      const p = this.pending.get(ref);
      if (p) {
        this.pending.delete(ref);
        clearTimeout(p.timer);
        p.reject(err);
      } else {
        this.publishErrors++;
        this.emitError(err);
      }
    } else if (asSub && !fatal) {
      const sub = this.subs.get(ref);
      if (sub) sub.serverError(err);
      else this.emitError(err);
    } else {
      this.emitError(err);
    }
    if (fatal) conn.closeReason = err.message;
  }

  // ------------------------------------------------------------ requests

  private allocRequestId(): number {
    for (;;) {
      const id = this.nextRequestId;
      this.nextRequestId = id >= REQUEST_ID_MAX ? 1 : id + 1;
      if (!this.pending.has(id)) return id;
    }
  }

  private request(frame: (id: number) => Uint8Array, what: string): Promise<ServerFrame> {
    const id = this.allocRequestId();
    const bytes = frame(id);
    return new Promise<ServerFrame>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new TimeoutError(`${what}: no reply within ${this.opts.requestTimeoutMs} ms`));
      }, this.opts.requestTimeoutMs);
      this.pending.set(id, { resolve, reject, timer });
      try {
        this.send(bytes);
      } catch (e) {
        clearTimeout(timer);
        this.pending.delete(id);
        reject(e as Error);
      }
    });
  }

  private checkFrame(len: number): void {
    const max = this.conn?.welcome.maxFrame ?? DEFAULT_MAX_FRAME;
    if (len - 4 > max) throw new EncodeError(`frame of ${len - 4} bytes exceeds max_frame ${max}`);
  }

  /** Publish without acknowledgement (errors arrive at onError). Throws NotConnectedError while reconnecting. */
  publish(topic: string, payload: Uint8Array | string = new Uint8Array(0), opts: PublishOptions = {}): void {
    if (!this.conn || this.conn.dead || this.conn.goingAway) {
      if (this._status === "closed") throw new ClosedError("client closed");
      throw new NotConnectedError("not connected (reconnecting)");
    }
    const f = encodePublish(this.allocRequestId(), false, { topic, payload, key: opts.key, headers: opts.headers });
    this.checkFrame(f.length);
    this.send(f);
  }

  /** Publish and wait for PUB_ACK (seq, epoch, receivers). */
  async publishAck(topic: string, payload: Uint8Array | string = new Uint8Array(0), opts: PublishOptions = {}): Promise<PubAck> {
    await this.ready(this.opts.requestTimeoutMs);
    const f = await this.request((id) => {
      const b = encodePublish(id, true, { topic, payload, key: opts.key, headers: opts.headers });
      this.checkFrame(b.length);
      return b;
    }, "publish");
    if (f.op !== "pub_ack") throw new ProtocolError(`expected PUB_ACK, got ${f.op}`);
    return f.f;
  }

  private batchFrames(msgs: PublishSpec[], ids: number[], ack: boolean): Uint8Array[] {
    const max = this.conn?.welcome.maxFrame ?? DEFAULT_MAX_FRAME;
    const frames: Uint8Array[] = [];
    let cur: Array<{ requestId: number; ack: boolean; msg: PublishSpec }> = [];
    let size = 3;
    for (let i = 0; i < msgs.length; i++) {
      const m = msgs[i]!;
      const est =
        4 + 7 + m.topic.length * 3 + (m.key ? m.key.length * 3 + 2 : 0) + payloadBytes(m.payload).length +
        (m.headers ?? []).reduce((a, [n, v]) => a + 4 + (n.length + v.length) * 3, 2);
      if (cur.length > 0 && (size + est > max || cur.length === 0xffff)) {
        frames.push(encodePublishBatch(cur));
        cur = [];
        size = 3;
      }
      cur.push({ requestId: ids[i]!, ack, msg: m });
      size += est;
    }
    if (cur.length > 0) frames.push(encodePublishBatch(cur));
    for (const f of frames) this.checkFrame(f.length);
    return frames;
  }

  /** Publish several messages in PUBLISH_BATCH frames, fire-and-forget. */
  publishBatch(msgs: PublishSpec[]): void {
    if (!this.conn || this.conn.dead || this.conn.goingAway) throw new NotConnectedError("not connected (reconnecting)");
    const ids = msgs.map(() => this.allocRequestId());
    for (const f of this.batchFrames(msgs, ids, false)) this.send(f);
  }

  /** Publish several messages in PUBLISH_BATCH frames; one result per message (PubAck or the ServerError). */
  async publishBatchAck(msgs: PublishSpec[]): Promise<Array<PubAck | ServerError>> {
    await this.ready(this.opts.requestTimeoutMs);
    const ids: number[] = [];
    const waits: Array<Promise<PubAck | ServerError>> = [];
    for (let i = 0; i < msgs.length; i++) {
      const id = this.allocRequestId();
      ids.push(id);
      waits.push(
        new Promise<ServerFrame>((resolve, reject) => {
          const timer = setTimeout(() => {
            this.pending.delete(id);
            reject(new TimeoutError(`publish batch: no reply within ${this.opts.requestTimeoutMs} ms`));
          }, this.opts.requestTimeoutMs);
          this.pending.set(id, { resolve, reject, timer });
        }).then(
          (f) => (f as { op: "pub_ack"; f: PubAck }).f,
          (e: Error) => {
            if (e instanceof ServerError) return e;
            throw e;
          },
        ),
      );
    }
    try {
      for (const f of this.batchFrames(msgs, ids, true)) this.send(f);
    } catch (e) {
      for (const id of ids) {
        const p = this.pending.get(id);
        if (p) {
          clearTimeout(p.timer);
          this.pending.delete(id);
          p.reject(e as Error);
        }
      }
    }
    return Promise.all(waits);
  }

  /** PING the server and wait for its PONG; returns the round trip in ms. Also a barrier: every earlier request has been processed. */
  async ping(): Promise<number> {
    await this.ready(this.opts.requestTimeoutMs);
    const tok = this.nextPingToken++;
    const t0 = performance.now();
    await new Promise<ServerFrame>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pings.delete(tok);
        reject(new TimeoutError(`no PONG within ${this.opts.requestTimeoutMs} ms`));
      }, this.opts.requestTimeoutMs);
      this.pings.set(tok, { resolve, reject, timer });
      try {
        this.send(encodePing(tok));
      } catch (e) {
        clearTimeout(timer);
        this.pings.delete(tok);
        reject(e as Error);
      }
    });
    return performance.now() - t0;
  }

  /** Wait until the server has processed everything sent so far (PING barrier). */
  async flush(): Promise<void> {
    await this.ping();
  }

  // ------------------------------------------------------------ subscriptions

  /** Subscribe; resolves once SUBSCRIBED arrives. Iterate the result with `for await`. */
  async subscribe(pattern: string, opts: SubscribeOptions = {}): Promise<Subscription> {
    const starts = [opts.fromSeq !== undefined, opts.lastN !== undefined, !!opts.snapshot].filter(Boolean).length;
    if (starts > 1) throw new SpateError("at most one of fromSeq, lastN, snapshot");
    const start: Start = opts.fromSeq
      ? { kind: "from_seq", seq: opts.fromSeq.seq, epoch: opts.fromSeq.epoch ?? 0n }
      : opts.lastN !== undefined
        ? { kind: "last_n", n: opts.lastN }
        : opts.snapshot
          ? { kind: "snapshot" }
          : { kind: "new" };
    await this.ready(this.opts.requestTimeoutMs);
    let id = this.nextSubId;
    while (this.subs.has(id)) id = id >= REQUEST_ID_MAX ? 1 : id + 1;
    this.nextSubId = id >= REQUEST_ID_MAX ? 1 : id + 1;
    const sub = new Subscription(this, id, pattern, opts, start, opts.buffer ?? this.opts.subscriptionBuffer);
    this.subs.set(id, sub);
    sub.requested = start;
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        sub.openWaiter = null;
        this.forget(sub);
        reject(new TimeoutError(`subscribe ${pattern}: no SUBSCRIBED within ${this.opts.requestTimeoutMs} ms`));
      }, this.opts.requestTimeoutMs);
      sub.openWaiter = (e) => {
        clearTimeout(timer);
        sub.openWaiter = null;
        if (e) {
          this.subs.delete(id);
          reject(e);
        } else resolve();
      };
      try {
        this.send(encodeSubscribe(id, pattern, sub.wire, start));
      } catch (e) {
        sub.openWaiter(e as Error);
      }
    });
    return sub;
  }

  /** @internal drop a subscription locally (and on the server if connected). */
  forget(sub: Subscription): void {
    this.subs.delete(sub.id);
    this.setFull(sub, false);
    if (this.conn && !this.conn.dead) {
      try {
        this.send(encodeUnsubscribe(sub.id));
      } catch {
        /* not connected: nothing to undo */
      }
    }
  }

  /** @internal UNSUBSCRIBE and wait for UNSUBSCRIBED (bounded). */
  async unsubscribe(sub: Subscription): Promise<void> {
    if (!this.subs.has(sub.id)) return;
    if (!this.conn || this.conn.dead) {
      this.subs.delete(sub.id);
      this.setFull(sub, false);
      return;
    }
    await new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        sub.unsubWaiter = null;
        resolve();
      }, this.opts.requestTimeoutMs);
      sub.unsubWaiter = () => {
        clearTimeout(timer);
        sub.unsubWaiter = null;
        resolve();
      };
      try {
        this.send(encodeUnsubscribe(sub.id));
      } catch {
        sub.unsubWaiter();
      }
    });
    this.subs.delete(sub.id);
    this.setFull(sub, false);
  }

  /** @internal a subscription's buffer became full / drained: pause or resume reading. */
  setFull(sub: Subscription, full: boolean): void {
    const before = this.fullSubs.size;
    if (full) this.fullSubs.add(sub);
    else this.fullSubs.delete(sub);
    const conn = this.conn;
    if (!conn || conn.dead) return;
    if (before === 0 && this.fullSubs.size > 0) conn.t.pauseReading();
    else if (before > 0 && this.fullSubs.size === 0) {
      conn.t.resumeReading();
      queueMicrotask(() => this.drainFrames(conn));
    }
  }

  /** True while the client has stopped reading because a subscription buffer is full. */
  get paused(): boolean {
    return this.fullSubs.size > 0;
  }

  // ------------------------------------------------------------ state

  /** Versioned key/value state with compare-and-set (§12). */
  readonly state = {
    /** Set `key`; returns its new revision. Throws ConflictError when the condition fails. */
    put: async (topic: string, key: string, value: Uint8Array | string, cond: WriteCondition = {}): Promise<bigint> => {
      await this.ready(this.opts.requestTimeoutMs);
      const c = toCondition(cond);
      const f = await this.request((id) => encodeStatePut(id, topic, key, c, payloadBytes(value)), "state put");
      const r = stateReply(f);
      if (r.status === "conflict") throw new ConflictError(topic, key, r.revision, r.value);
      if (r.status !== "ok") throw new ProtocolError(`unexpected PUT status ${r.status}`);
      return r.revision;
    },
    /** Delete `key`; returns the revision of the delete. Throws NotFoundError / ConflictError. */
    del: async (topic: string, key: string, cond: WriteCondition = {}): Promise<bigint> => {
      await this.ready(this.opts.requestTimeoutMs);
      const c = toCondition(cond);
      const f = await this.request((id) => encodeStateDel(id, topic, key, c), "state del");
      const r = stateReply(f);
      if (r.status === "conflict") throw new ConflictError(topic, key, r.revision, r.value);
      if (r.status === "not_found") throw new NotFoundError(`state ${topic}/${key}: no such key`);
      return r.revision;
    },
    /** Read `key`; null when absent. */
    get: async (topic: string, key: string): Promise<StateValue | null> => {
      await this.ready(this.opts.requestTimeoutMs);
      const f = await this.request((id) => encodeStateGet(id, topic, key), "state get");
      const r = stateReply(f);
      if (r.status === "not_found") return null;
      return { value: r.value ?? new Uint8Array(0), revision: r.revision };
    },
    /** One page of keys greater than `after` (byte order). */
    list: async (topic: string, opts: { after?: string; limit?: number } = {}): Promise<{ entries: StateEntry[]; more: boolean }> => {
      await this.ready(this.opts.requestTimeoutMs);
      const f = await this.request((id) => encodeStateList(id, topic, opts.after ?? "", opts.limit ?? 0), "state list");
      if (f.op !== "state_list_reply") throw new ProtocolError(`expected STATE_LIST_REPLY, got ${f.op}`);
      const r: StateListReply = f.f;
      return { entries: r.entries, more: r.more };
    },
    /** Every key of the topic, page by page. */
    listAll: async (topic: string, pageSize = 0): Promise<StateEntry[]> => {
      const out: StateEntry[] = [];
      let after = "";
      for (let pages = 0; pages < 1_000_000; pages++) {
        const p = await this.state.list(topic, { after, limit: pageSize });
        out.push(...p.entries);
        if (!p.more || p.entries.length === 0) break;
        after = p.entries[p.entries.length - 1]!.key;
      }
      return out;
    },
    /**
     * Read-modify-write with compare-and-set: `fn` gets the current value
     * (null if absent) and returns the new one; on a conflict it is called
     * again with the fresh value. Returns the new revision.
     */
    update: async (
      topic: string,
      key: string,
      fn: (current: Uint8Array | null, revision: bigint) => Uint8Array | string,
      maxAttempts = 1000,
    ): Promise<bigint> => {
      const cur = await this.state.get(topic, key);
      let value = cur?.value ?? null;
      let revision = cur?.revision ?? 0n;
      for (let i = 0; i < maxAttempts; i++) {
        try {
          return await this.state.put(topic, key, fn(value, revision), { ifRevision: revision });
        } catch (e) {
          if (!(e instanceof ConflictError)) throw e;
          value = e.value;
          revision = e.revision;
        }
      }
      throw new SpateError(`state ${topic}/${key}: still conflicting after ${maxAttempts} attempts`);
    },
  };

  /** Close the connection and end every subscription. */
  async close(): Promise<void> {
    if (this._status === "closed") return;
    const conn = this.conn;
    if (conn && !conn.dead) this.flushOut(conn);
    this.shutdown(new ClosedError("client closed"));
    if (conn) {
      conn.closeReason = "client closed";
      conn.t.close();
      this.onClose(conn, "client closed");
    }
  }
}

function toCondition(c: WriteCondition): Condition {
  if (c.ifAbsent && c.ifRevision !== undefined) throw new SpateError("ifAbsent and ifRevision together");
  if (c.ifAbsent) return { kind: "if_absent" };
  if (c.ifRevision !== undefined) return { kind: "if_revision", revision: c.ifRevision };
  return { kind: "none" };
}

function stateReply(f: ServerFrame): StateReply {
  if (f.op !== "state_reply") throw new ProtocolError(`expected STATE_REPLY, got ${f.op}`);
  return f.f;
}

/**
 * A subscription: an async iterator of messages, GAPs and notices. Its
 * buffer is bounded; when full, the client stops reading the socket (the
 * server then applies the subscription's policy) and keeps sending PINGs.
 */
export class Subscription implements AsyncIterable<SubEvent> {
  /** @internal */ readonly tracker: Tracker;
  /** @internal */ readonly wire: SubscribeOptions;
  /** @internal */ requested: Start = { kind: "new" };
  /** @internal */ openWaiter: ((e?: Error) => void) | null = null;
  /** @internal */ unsubWaiter: (() => void) | null = null;
  /** What the server granted (latest SUBSCRIBED). */
  granted: Subscribed | null = null;
  /** True once the stream has ended (unsubscribed, client closed, or rejected on resume). */
  ended = false;
  /** Why the stream ended with an error, if it did. */
  error: Error | null = null;
  /** Messages dropped as duplicates on resume (should stay 0). */
  duplicates = 0;
  private buf: SubEvent[] = [];
  private head = 0;
  private msgs = 0;
  private waiter: ((ev: SubEvent | null) => void) | null = null;

  /** @internal */
  constructor(
    private readonly client: Client,
    /** The sub_id. */ readonly id: number,
    /** The pattern. */ readonly pattern: string,
    opts: SubscribeOptions,
    start: Start,
    private readonly limit: number,
  ) {
    this.tracker = new Tracker(pattern, start);
    this.wire = {
      policy: opts.policy,
      queueMsgs: opts.queueMsgs,
      queueBytes: opts.queueBytes,
      maxRate: opts.maxRate,
      maxBatch: opts.maxBatch,
      lingerUs: opts.lingerUs,
    };
  }

  /** Events buffered and not yet taken. */
  get buffered(): number {
    return this.buf.length - this.head;
  }

  /** @internal */
  subscribed(s: Subscribed): void {
    this.granted = s;
    const evs = this.tracker.onSubscribed(s, this.requested);
    for (const ev of evs) this.push(ev);
    this.openWaiter?.();
  }

  /** @internal */
  deliver(m: Message): void {
    if (this.ended) return;
    if (!this.tracker.admit(m)) {
      this.duplicates++;
      return;
    }
    this.push(m);
  }

  /** @internal */
  gap(g: Gap): void {
    if (this.ended) return;
    this.tracker.onGap(g);
    this.push(g);
  }

  /** @internal a notice; `bestEffort` ones are skipped when the buffer is full. */
  notify(n: Notice, bestEffort: boolean): void {
    if (this.ended) return;
    if (bestEffort && this.msgs >= this.limit) return;
    this.push(n);
  }

  /** @internal an ERROR about this subscription. */
  serverError(e: Error): void {
    if (this.openWaiter) {
      this.openWaiter(e);
      return;
    }
    if (this.unsubWaiter) {
      this.unsubWaiter();
      return;
    }
    // A resume was refused: the stream cannot continue.
    this.error = e;
    this.client.forget(this);
    this.end(e);
  }

  private push(ev: SubEvent): void {
    if (this.waiter) {
      const w = this.waiter;
      this.waiter = null;
      w(ev);
      return;
    }
    this.buf.push(ev);
    if (ev.type === "message") {
      this.msgs++;
      if (this.msgs >= this.limit) this.client.setFull(this, true);
    }
  }

  private take(): SubEvent | undefined {
    if (this.head >= this.buf.length) return undefined;
    const ev = this.buf[this.head++]!;
    if (this.head > 1024 && this.head * 2 > this.buf.length) {
      this.buf = this.buf.slice(this.head);
      this.head = 0;
    }
    if (ev.type === "message") {
      this.msgs--;
      if (this.msgs === Math.floor(this.limit / 2)) this.client.setFull(this, false);
    }
    return ev;
  }

  /** @internal end the stream (after what is buffered). */
  end(e: Error | null): void {
    if (this.ended) return;
    this.ended = true;
    if (e) this.error = e;
    this.client.setFull(this, false);
    if (this.waiter) {
      const w = this.waiter;
      this.waiter = null;
      w(null);
    }
  }

  /**
   * The next event, or null once the stream has ended. With `timeoutMs`,
   * throws TimeoutError if nothing arrives in time; with `signal`, rejects
   * with its reason when aborted.
   */
  next(timeoutMs?: number, signal?: AbortSignal): Promise<SubEvent | null> {
    const ev = this.take();
    if (ev !== undefined) return Promise.resolve(ev);
    if (this.ended) return Promise.resolve(null);
    if (this.waiter) return Promise.reject(new SpateError("next() is already waiting on this subscription"));
    if (signal?.aborted) return Promise.reject(signal.reason ?? new SpateError("aborted"));
    return new Promise<SubEvent | null>((resolve, reject) => {
      let timer: ReturnType<typeof setTimeout> | null = null;
      const onAbort = (): void => {
        if (timer) clearTimeout(timer);
        this.waiter = null;
        reject(signal!.reason ?? new SpateError("aborted"));
      };
      if (timeoutMs !== undefined) {
        timer = setTimeout(() => {
          this.waiter = null;
          signal?.removeEventListener("abort", onAbort);
          reject(new TimeoutError(`no event on ${this.pattern} within ${timeoutMs} ms`));
        }, timeoutMs);
      }
      signal?.addEventListener("abort", onAbort, { once: true });
      this.waiter = (e) => {
        if (timer) clearTimeout(timer);
        signal?.removeEventListener("abort", onAbort);
        resolve(e);
      };
    });
  }

  /** Unsubscribe (waits for UNSUBSCRIBED, bounded) and end the stream. */
  async unsubscribe(): Promise<void> {
    if (this.ended) return;
    this.end(null);
    await this.client.unsubscribe(this);
  }

  /** Iterate events; breaking out of the loop unsubscribes. */
  [Symbol.asyncIterator](): AsyncIterator<SubEvent> {
    return {
      next: async () => {
        const ev = await this.next();
        return ev === null ? { done: true, value: undefined } : { done: false, value: ev };
      },
      return: async () => {
        await this.unsubscribe();
        return { done: true, value: undefined };
      },
    };
  }
}
