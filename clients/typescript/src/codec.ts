/**
 * Byte-level codec for spate protocol v1 (protocol.md is the contract).
 * Encodes the client → server frames and decodes the server → client frames
 * plus PING/PONG. All integers are big-endian; u64 fields are `bigint`.
 */

/** Opcodes of protocol v1 (protocol.md §4). */
export const Op = {
  HELLO: 0x01,
  PING: 0x02,
  PONG: 0x03,
  PUBLISH: 0x10,
  PUBLISH_BATCH: 0x11,
  SUBSCRIBE: 0x20,
  UNSUBSCRIBE: 0x21,
  STATE_PUT: 0x30,
  STATE_DEL: 0x31,
  STATE_GET: 0x32,
  STATE_LIST: 0x33,
  WELCOME: 0x81,
  PUB_ACK: 0x90,
  MESSAGE: 0x91,
  MESSAGE_BATCH: 0x92,
  SUBSCRIBED: 0xa0,
  UNSUBSCRIBED: 0xa1,
  GAP: 0xa2,
  STATE_REPLY: 0xb0,
  STATE_LIST_REPLY: 0xb1,
  ERROR: 0xe0,
  GOAWAY: 0xe1,
} as const;

/** Default `max_frame` of the reference server (1 MiB + 64 KiB). */
export const DEFAULT_MAX_FRAME = 1_114_112;
/** How much longer than `max_frame` a server frame may be (§2). */
export const SERVER_FRAME_SLACK = 65_536;

/** Backpressure policies (§10.2), by wire value 1–5. */
export type Policy = "block" | "drop-oldest" | "drop-newest" | "conflate" | "disconnect";
const POLICIES: readonly Policy[] = ["block", "drop-oldest", "drop-newest", "conflate", "disconnect"];

/** SUBSCRIBED start statuses (§8.3), by wire value 0–4. */
export type StartStatus = "live" | "replay" | "truncated" | "epoch_changed" | "snapshot";
const STARTS: readonly StartStatus[] = ["live", "replay", "truncated", "epoch_changed", "snapshot"];

/** GAP reasons (§9.4), by wire value 1–5. */
export type GapReason = "dropped_oldest" | "dropped_newest" | "conflated" | "memory_budget" | "not_retained";
const GAP_REASONS: readonly GapReason[] = [
  "dropped_oldest",
  "dropped_newest",
  "conflated",
  "memory_budget",
  "not_retained",
];

/** STATE_REPLY statuses (§12.5). */
export type StateStatus = "ok" | "conflict" | "not_found";
const STATE_STATUSES: readonly StateStatus[] = ["ok", "conflict", "not_found"];

/** Wire value of a policy name. */
export function policyCode(p: Policy): number {
  const i = POLICIES.indexOf(p);
  if (i < 0) throw new EncodeError(`unknown policy ${String(p)}`);
  return i + 1;
}

/** A frame could not be decoded (a broken stream: close the connection). */
export class ProtocolError extends Error {
  /** `too_large` for an oversized length prefix, else `malformed`. */
  readonly kind: "malformed" | "too_large" | "unknown_opcode";
  constructor(message: string, kind: "malformed" | "too_large" | "unknown_opcode" = "malformed") {
    super(message);
    this.name = "ProtocolError";
    this.kind = kind;
  }
}

/** A value cannot be encoded (string too long, too many headers, frame too large). */
export class EncodeError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "EncodeError";
  }
}

const utf8 = new TextEncoder();
const utf8Fatal = new TextDecoder("utf-8", { fatal: true });

/** Message headers: ordered (name, value) pairs; names need not be unique. */
export type Headers = Array<[string, string]>;

/** Growable big-endian writer. */
export class Writer {
  private buf: Uint8Array;
  private view: DataView;
  /** Bytes written so far. */
  len = 0;
  constructor(capacity = 256) {
    this.buf = new Uint8Array(capacity);
    this.view = new DataView(this.buf.buffer);
  }
  private reserve(n: number): void {
    if (this.len + n <= this.buf.length) return;
    let cap = this.buf.length * 2;
    while (cap < this.len + n) cap *= 2;
    const nb = new Uint8Array(cap);
    nb.set(this.buf.subarray(0, this.len));
    this.buf = nb;
    this.view = new DataView(nb.buffer);
  }
  u8(v: number): this {
    this.reserve(1);
    this.buf[this.len++] = v & 0xff;
    return this;
  }
  u16(v: number): this {
    this.reserve(2);
    this.view.setUint16(this.len, v);
    this.len += 2;
    return this;
  }
  u32(v: number): this {
    this.reserve(4);
    this.view.setUint32(this.len, v >>> 0);
    this.len += 4;
    return this;
  }
  u64(v: bigint): this {
    this.reserve(8);
    this.view.setBigUint64(this.len, BigInt.asUintN(64, v));
    this.len += 8;
    return this;
  }
  raw(b: Uint8Array): this {
    this.reserve(b.length);
    this.buf.set(b, this.len);
    this.len += b.length;
    return this;
  }
  str(s: string): this {
    const b = utf8.encode(s);
    if (b.length > 0xffff) throw new EncodeError(`string of ${b.length} bytes exceeds 65,535`);
    return this.u16(b.length).raw(b);
  }
  /** Patch a u32 at `at` (for length prefixes). */
  setU32(at: number, v: number): void {
    this.view.setUint32(at, v >>> 0);
  }
  /** The written bytes (a view; copy before reusing the writer). */
  bytes(): Uint8Array {
    return this.buf.subarray(0, this.len);
  }
}

/** Bounds-checked big-endian reader over one frame body. */
export class Reader {
  private readonly view: DataView;
  pos: number;
  constructor(
    private readonly buf: Uint8Array,
    start = 0,
    readonly end = buf.length,
  ) {
    this.view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
    this.pos = start;
  }
  remaining(): number {
    return this.end - this.pos;
  }
  private need(n: number, what: string): void {
    if (this.end - this.pos < n) throw new ProtocolError(`${what} runs past the end of the frame`);
  }
  u8(what = "u8"): number {
    this.need(1, what);
    return this.buf[this.pos++]!;
  }
  u16(what = "u16"): number {
    this.need(2, what);
    const v = this.view.getUint16(this.pos);
    this.pos += 2;
    return v;
  }
  u32(what = "u32"): number {
    this.need(4, what);
    const v = this.view.getUint32(this.pos);
    this.pos += 4;
    return v;
  }
  u64(what = "u64"): bigint {
    this.need(8, what);
    const v = this.view.getBigUint64(this.pos);
    this.pos += 8;
    return v;
  }
  take(n: number, what = "bytes"): Uint8Array {
    this.need(n, what);
    const b = this.buf.slice(this.pos, this.pos + n);
    this.pos += n;
    return b;
  }
  str(what = "str"): string {
    const n = this.u16(what);
    this.need(n, what);
    const b = this.buf.subarray(this.pos, this.pos + n);
    this.pos += n;
    try {
      return utf8Fatal.decode(b);
    } catch {
      throw new ProtocolError(`${what} is not valid UTF-8`);
    }
  }
  rest(): Uint8Array {
    const b = this.buf.slice(this.pos, this.end);
    this.pos = this.end;
    return b;
  }
  headers(): Headers {
    const c = this.u16("header count");
    if (c > 64) throw new ProtocolError(`header count ${c} exceeds 64`);
    const h: Headers = [];
    for (let i = 0; i < c; i++) h.push([this.str("header name"), this.str("header value")]);
    return h;
  }
  /** Non-extensible frames: nothing may follow the last field. */
  done(frame: string): void {
    if (this.pos !== this.end) throw new ProtocolError(`${frame} has ${this.end - this.pos} trailing bytes`);
  }
}

/** Build a whole frame: length prefix, opcode, body written by `body`. */
export function frame(opcode: number, body: (w: Writer) => void, sizeHint = 64): Uint8Array {
  const w = new Writer(sizeHint + 5);
  w.u32(0).u8(opcode);
  body(w);
  w.setU32(0, w.len - 4);
  return w.bytes();
}

// ---------------------------------------------------------------- encoders

/** HELLO (§5.1). */
export function encodeHello(clientName: string, authToken: string): Uint8Array {
  return frame(Op.HELLO, (w) => w.u16(1).u32(0).str(clientName).str(authToken));
}

/** PING or PONG with its 8-byte token (§5.2). */
export function encodePing(token: bigint, pong = false): Uint8Array {
  return frame(pong ? Op.PONG : Op.PING, (w) => w.u64(token));
}

/** One message to publish. */
export interface PublishSpec {
  /** Topic name (no wildcards). */
  topic: string;
  /** Payload bytes (a string is sent as UTF-8). */
  payload?: Uint8Array | string;
  /** Key (used by the `conflate` policy). An empty string is a key. */
  key?: string | null;
  /** Headers, at most 64. */
  headers?: Headers | null;
}

/** Encode payloads given as strings. */
export function payloadBytes(p: Uint8Array | string | undefined): Uint8Array {
  if (p === undefined) return new Uint8Array(0);
  return typeof p === "string" ? utf8.encode(p) : p;
}

function writePublishBody(w: Writer, requestId: number, ack: boolean, m: PublishSpec): void {
  const hasKey = m.key !== undefined && m.key !== null;
  const hasHeaders = !!m.headers && m.headers.length > 0;
  if (hasHeaders && m.headers!.length > 64) throw new EncodeError(`${m.headers!.length} headers exceed 64`);
  w.u32(requestId).u8((ack ? 0x80 : 0) | (hasKey ? 0x01 : 0) | (hasHeaders ? 0x02 : 0));
  w.str(m.topic);
  if (hasKey) w.str(m.key!);
  if (hasHeaders) {
    w.u16(m.headers!.length);
    for (const [n, v] of m.headers!) w.str(n).str(v);
  }
  w.raw(payloadBytes(m.payload));
}

/** PUBLISH (§7.1). */
export function encodePublish(requestId: number, ack: boolean, m: PublishSpec): Uint8Array {
  const hint = typeof m.payload === "string" ? m.payload.length * 3 : (m.payload?.length ?? 0);
  return frame(Op.PUBLISH, (w) => writePublishBody(w, requestId, ack, m), hint + m.topic.length + 16);
}

/** PUBLISH_BATCH (§7.2) of entries with their request ids. */
export function encodePublishBatch(entries: Array<{ requestId: number; ack: boolean; msg: PublishSpec }>): Uint8Array {
  if (entries.length > 0xffff) throw new EncodeError("more than 65,535 batch entries");
  return frame(Op.PUBLISH_BATCH, (w) => {
    w.u16(entries.length);
    for (const e of entries) {
      const at = w.len;
      w.u32(0);
      writePublishBody(w, e.requestId, e.ack, e.msg);
      w.setU32(at, w.len - at - 4);
    }
  });
}

/** Where a subscription starts (§8.2 start options). */
export type Start =
  | { kind: "new" }
  | { kind: "from_seq"; seq: bigint; epoch: bigint }
  | { kind: "last_n"; n: number }
  | { kind: "snapshot" };

/** SUBSCRIBE options other than the start (§8.2). Unset = server default. */
export interface SubscribeWireOptions {
  policy?: Policy;
  queueMsgs?: number;
  queueBytes?: bigint | number;
  maxRate?: number;
  maxBatch?: number;
  lingerUs?: number;
}

/** SUBSCRIBE (§8.1) with its options block. */
export function encodeSubscribe(subId: number, pattern: string, o: SubscribeWireOptions, start: Start): Uint8Array {
  return frame(Op.SUBSCRIBE, (w) => {
    w.u32(subId).str(pattern);
    const at = w.len;
    w.u16(0);
    const tlv = (tag: number, len: number, val: (w: Writer) => void): void => {
      w.u8(tag).u16(len);
      val(w);
    };
    if (o.policy !== undefined) tlv(0x01, 1, (w) => w.u8(policyCode(o.policy!)));
    if (o.queueMsgs !== undefined) tlv(0x02, 4, (w) => w.u32(o.queueMsgs!));
    if (o.queueBytes !== undefined) tlv(0x03, 8, (w) => w.u64(BigInt(o.queueBytes!)));
    if (o.maxRate !== undefined) tlv(0x04, 4, (w) => w.u32(o.maxRate!));
    if (o.maxBatch !== undefined) tlv(0x05, 2, (w) => w.u16(o.maxBatch!));
    if (o.lingerUs !== undefined) tlv(0x06, 4, (w) => w.u32(o.lingerUs!));
    if (start.kind === "from_seq") tlv(0x07, 16, (w) => w.u64(start.seq).u64(start.epoch));
    else if (start.kind === "last_n") tlv(0x08, 4, (w) => w.u32(start.n));
    else if (start.kind === "snapshot") tlv(0x09, 0, () => {});
    const l = w.len - at - 2;
    if (l > 0xffff) throw new EncodeError("options block too long");
    // patch the u16 block length
    const b = w.bytes();
    b[at] = l >> 8;
    b[at + 1] = l & 0xff;
  });
}

/** UNSUBSCRIBE (§8.4). */
export function encodeUnsubscribe(subId: number): Uint8Array {
  return frame(Op.UNSUBSCRIBE, (w) => w.u32(subId));
}

/** A state write condition (§12.1). */
export type Condition = { kind: "none" } | { kind: "if_revision"; revision: bigint } | { kind: "if_absent" };

function writeCondition(w: Writer, c: Condition): void {
  if (c.kind === "none") w.u8(0).u64(0n);
  else if (c.kind === "if_revision") w.u8(1).u64(c.revision);
  else w.u8(2).u64(0n);
}

/** STATE_PUT (§12.2). */
export function encodeStatePut(requestId: number, topic: string, key: string, c: Condition, value: Uint8Array): Uint8Array {
  return frame(
    Op.STATE_PUT,
    (w) => {
      w.u32(requestId).str(topic).str(key);
      writeCondition(w, c);
      w.raw(value);
    },
    value.length + topic.length + key.length + 32,
  );
}

/** STATE_DEL (§12.3). */
export function encodeStateDel(requestId: number, topic: string, key: string, c: Condition): Uint8Array {
  return frame(Op.STATE_DEL, (w) => {
    w.u32(requestId).str(topic).str(key);
    writeCondition(w, c);
  });
}

/** STATE_GET (§12.4). */
export function encodeStateGet(requestId: number, topic: string, key: string): Uint8Array {
  return frame(Op.STATE_GET, (w) => w.u32(requestId).str(topic).str(key));
}

/** STATE_LIST (§12.6). */
export function encodeStateList(requestId: number, topic: string, after: string, limit: number): Uint8Array {
  return frame(Op.STATE_LIST, (w) => w.u32(requestId).str(topic).str(after).u32(limit));
}

// ---------------------------------------------------------------- decoded frames

/** WELCOME (§5.1). */
export interface Welcome {
  version: number;
  server: string;
  serverId: bigint;
  maxFrame: number;
  maxSubscriptions: number;
  maxTopicLen: number;
  pingIntervalMs: number;
}

/** A delivered message (§9.1). */
export interface Message {
  readonly type: "message";
  /** Epoch of the topic when published. */
  epoch: bigint;
  /** Seq within topic and epoch. */
  seq: bigint;
  /** Server timestamp, µs since the Unix epoch. */
  timestampUs: bigint;
  /** Raw flag byte. */
  flags: number;
  topic: string;
  key: string | null;
  headers: Headers | null;
  payload: Uint8Array;
  /** `put` / `delete` when this message records a state change, else null. */
  state: "put" | "delete" | null;
}

/** GAP (§9.4): `count` messages of the subscription were lost. */
export interface Gap {
  readonly type: "gap";
  reason: GapReason;
  count: bigint;
  firstSeq: bigint;
  lastSeq: bigint;
  /** Topic of the lost messages; empty when they span several topics. */
  topic: string;
}

/** SUBSCRIBED (§8.3). */
export interface Subscribed {
  subId: number;
  policy: Policy;
  queueMsgs: number;
  queueBytes: bigint;
  start: StartStatus;
  epoch: bigint;
  firstSeq: bigint;
  lastSeq: bigint;
}

/** PUB_ACK (§7.3). */
export interface PubAck {
  requestId: number;
  epoch: bigint;
  seq: bigint;
  timestampUs: bigint;
  receivers: number;
}

/** STATE_REPLY (§12.5). */
export interface StateReply {
  requestId: number;
  status: StateStatus;
  revision: bigint;
  value: Uint8Array | null;
}

/** One entry of STATE_LIST_REPLY. */
export interface StateEntry {
  key: string;
  revision: bigint;
  value: Uint8Array;
}

/** STATE_LIST_REPLY (§12.7). */
export interface StateListReply {
  requestId: number;
  more: boolean;
  entries: StateEntry[];
}

/** ERROR (§13.1). `refKind` is null when an older server omitted it. */
export interface ErrorFrame {
  code: number;
  reference: number;
  message: string;
  refKind: 0 | 1 | 2 | null;
}

/** A decoded server → client frame (or PING/PONG). */
export type ServerFrame =
  | { op: "welcome"; f: Welcome }
  | { op: "ping"; token: bigint }
  | { op: "pong"; token: bigint }
  | { op: "pub_ack"; f: PubAck }
  | { op: "message"; subId: number; m: Message }
  | { op: "message_batch"; subId: number; ms: Message[] }
  | { op: "subscribed"; f: Subscribed }
  | { op: "unsubscribed"; subId: number }
  | { op: "gap"; subId: number; g: Gap }
  | { op: "state_reply"; f: StateReply }
  | { op: "state_list_reply"; f: StateListReply }
  | { op: "error"; f: ErrorFrame }
  | { op: "goaway"; drainMs: number; reason: string };

function messageBody(r: Reader): Message {
  const epoch = r.u64("epoch");
  const seq = r.u64("seq");
  const timestampUs = r.u64("timestamp_us");
  const flags = r.u8("flags");
  if (flags & ~0x0f) throw new ProtocolError(`MESSAGE flags 0x${flags.toString(16)} have unknown bits`);
  if ((flags & 0x0c) === 0x0c) throw new ProtocolError("MESSAGE has both STATE_PUT and STATE_DELETE");
  const topic = r.str("topic");
  const key = flags & 0x01 ? r.str("key") : null;
  const headers = flags & 0x02 ? r.headers() : null;
  const payload = r.rest();
  const state = flags & 0x04 ? "put" : flags & 0x08 ? "delete" : null;
  return { type: "message", epoch, seq, timestampUs, flags, topic, key, headers, payload, state };
}

function enumAt<T>(table: readonly T[], v: number, offset: number, what: string): T {
  const x = table[v - offset];
  if (x === undefined) throw new ProtocolError(`${what} value ${v} is not defined`);
  return x;
}

/**
 * Decode one frame given its opcode and body (`buf[start..end]`).
 * Throws ProtocolError (kind `unknown_opcode` for client → server or unknown opcodes).
 */
export function decodeFrame(opcode: number, buf: Uint8Array, start: number, end: number): ServerFrame {
  const r = new Reader(buf, start, end);
  switch (opcode) {
    case Op.WELCOME: {
      const f: Welcome = {
        version: r.u16(),
        server: r.str("server"),
        serverId: r.u64(),
        maxFrame: r.u32(),
        maxSubscriptions: r.u32(),
        maxTopicLen: r.u16(),
        pingIntervalMs: r.u32(),
      };
      return { op: "welcome", f };
    }
    case Op.PING:
    case Op.PONG: {
      const token = r.u64("token");
      r.done(opcode === Op.PING ? "PING" : "PONG");
      return { op: opcode === Op.PING ? "ping" : "pong", token };
    }
    case Op.PUB_ACK:
      return {
        op: "pub_ack",
        f: { requestId: r.u32(), epoch: r.u64(), seq: r.u64(), timestampUs: r.u64(), receivers: r.u32() },
      };
    case Op.MESSAGE: {
      const subId = r.u32("sub_id");
      return { op: "message", subId, m: messageBody(r) };
    }
    case Op.MESSAGE_BATCH: {
      const subId = r.u32("sub_id");
      const count = r.u16("count");
      const ms: Message[] = [];
      for (let i = 0; i < count; i++) {
        const len = r.u32("entry_len");
        if (r.remaining() < len) throw new ProtocolError("batch entry runs past the end of the frame");
        const er = new Reader(buf, r.pos, r.pos + len);
        ms.push(messageBody(er));
        r.pos += len;
      }
      r.done("MESSAGE_BATCH");
      return { op: "message_batch", subId, ms };
    }
    case Op.SUBSCRIBED: {
      const subId = r.u32();
      const policy = enumAt(POLICIES, r.u8(), 1, "policy");
      const queueMsgs = r.u32();
      const queueBytes = r.u64();
      const start = enumAt(STARTS, r.u8(), 0, "start");
      const f: Subscribed = {
        subId,
        policy,
        queueMsgs,
        queueBytes,
        start,
        epoch: r.u64(),
        firstSeq: r.u64(),
        lastSeq: r.u64(),
      };
      return { op: "subscribed", f };
    }
    case Op.UNSUBSCRIBED: {
      const subId = r.u32();
      r.done("UNSUBSCRIBED");
      return { op: "unsubscribed", subId };
    }
    case Op.GAP: {
      const subId = r.u32();
      const reason = enumAt(GAP_REASONS, r.u8(), 1, "GAP reason");
      const g: Gap = { type: "gap", reason, count: r.u64(), firstSeq: r.u64(), lastSeq: r.u64(), topic: r.str("topic") };
      return { op: "gap", subId, g };
    }
    case Op.STATE_REPLY: {
      const requestId = r.u32();
      const status = enumAt(STATE_STATUSES, r.u8(), 0, "STATE_REPLY status");
      const revision = r.u64();
      const hv = r.u8("has_value");
      if (hv > 1) throw new ProtocolError(`has_value ${hv} is not 0 or 1`);
      let value: Uint8Array | null = null;
      if (hv === 1) value = r.rest();
      else r.done("STATE_REPLY");
      return { op: "state_reply", f: { requestId, status, revision, value } };
    }
    case Op.STATE_LIST_REPLY: {
      const requestId = r.u32();
      const m = r.u8("more");
      if (m > 1) throw new ProtocolError(`more ${m} is not 0 or 1`);
      const count = r.u32("count");
      const entries: StateEntry[] = [];
      for (let i = 0; i < count; i++) {
        const key = r.str("key");
        const revision = r.u64("revision");
        const n = r.u32("value length");
        entries.push({ key, revision, value: r.take(n, "value") });
      }
      r.done("STATE_LIST_REPLY");
      return { op: "state_list_reply", f: { requestId, more: m === 1, entries } };
    }
    case Op.ERROR: {
      const code = r.u16();
      const reference = r.u32();
      const message = r.str("message");
      let refKind: 0 | 1 | 2 | null = null;
      if (r.remaining() > 0) {
        const k = r.u8();
        if (k > 2) throw new ProtocolError(`ERROR ref_kind ${k} is not defined`);
        refKind = k as 0 | 1 | 2;
      }
      return { op: "error", f: { code, reference, message, refKind } };
    }
    case Op.GOAWAY:
      return { op: "goaway", drainMs: r.u32(), reason: r.str("reason") };
    default:
      throw new ProtocolError(`opcode 0x${opcode.toString(16)} is not a server → client frame`, "unknown_opcode");
  }
}

/**
 * Incremental frame splitter for a byte stream (§18.2): feed chunks, get
 * whole frames. Checks each length prefix as soon as its 4 bytes are in.
 */
export class FrameReader {
  private buf = new Uint8Array(64 * 1024);
  private start = 0;
  private end = 0;
  constructor(public maxLength: number) {}

  /** Append received bytes. */
  push(chunk: Uint8Array): void {
    const n = chunk.length;
    if (this.end + n > this.buf.length) {
      const live = this.end - this.start;
      if (live + n <= this.buf.length && this.start > 0) {
        this.buf.copyWithin(0, this.start, this.end);
      } else {
        let cap = this.buf.length;
        while (cap < live + n) cap *= 2;
        const nb = new Uint8Array(cap);
        nb.set(this.buf.subarray(this.start, this.end));
        this.buf = nb;
      }
      this.start = 0;
      this.end = live;
    }
    this.buf.set(chunk, this.end);
    this.end += n;
  }

  /**
   * Next whole frame, or null if more bytes are needed. The callback gets
   * the opcode and the body's bounds in a buffer valid only during the call.
   */
  next<T>(f: (opcode: number, buf: Uint8Array, start: number, end: number) => T): { value: T } | null {
    const avail = this.end - this.start;
    if (avail < 4) return null;
    const b = this.buf;
    const s = this.start;
    const length = ((b[s]! << 24) | (b[s + 1]! << 16) | (b[s + 2]! << 8) | b[s + 3]!) >>> 0;
    if (length === 0) throw new ProtocolError("frame length 0");
    if (length > this.maxLength) throw new ProtocolError(`frame length ${length} exceeds ${this.maxLength}`, "too_large");
    if (avail < 4 + length) return null;
    this.start = s + 4 + length;
    if (this.start === this.end) {
      // keep the buffer, reset cursors after the callback
      const v = f(b[s + 4]!, b, s + 5, s + 4 + length);
      if (this.start === this.end) this.start = this.end = 0;
      return { value: v };
    }
    return { value: f(b[s + 4]!, b, s + 5, s + 4 + length) };
  }

  /** Bytes buffered but not yet returned as frames. */
  buffered(): number {
    return this.end - this.start;
  }
}

/** Parse a lowercase hex string (tests, tools). */
export function fromHex(h: string): Uint8Array {
  const out = new Uint8Array(h.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(h.substr(i * 2, 2), 16);
  return out;
}

/** Lowercase hex of bytes. */
export function toHex(b: Uint8Array): string {
  let s = "";
  for (const x of b) s += x.toString(16).padStart(2, "0");
  return s;
}
