// Conformance vectors shared by every spate implementation
// (<repo>/conformance/vectors.json, or $SPATE_VECTORS): the codec must
// produce and decode the example frames byte for byte, and the real
// broker must react to each malformed input as the vector says.
import assert from "node:assert/strict";
import { existsSync, readFileSync } from "node:fs";
import * as net from "node:net";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import {
  decodeFrame,
  encodeHello,
  encodePing,
  encodePublish,
  encodeStatePut,
  encodeSubscribe,
  FrameReader,
  fromHex,
  toHex,
} from "../dist/index.node.js";
import { Broker, REPO } from "./broker.mjs";

const path = process.env.SPATE_VECTORS ?? join(REPO, "conformance/vectors.json");
const present = existsSync(path);
if (!present) console.log(`# conformance vectors not found at ${path}: skipping (set SPATE_VECTORS to run them)`);
const V = present ? JSON.parse(readFileSync(path, "utf8")) : { examples: [], malformed: [], max_frame: 1114112 };
const skip = present ? false : `no conformance vectors at ${path}`;

const POLICY = ["", "block", "drop-oldest", "drop-newest", "conflate", "disconnect"];
const START = ["live", "replay", "truncated", "epoch_changed", "snapshot"];
const REASON = ["", "dropped_oldest", "dropped_newest", "conflated", "memory_budget", "not_retained"];
const STATUS = ["ok", "conflict", "not_found"];

function decodeOne(hex, maxFrame) {
  const r = new FrameReader(maxFrame);
  r.push(fromHex(hex));
  const f = r.next((op, b, s, e) => decodeFrame(op, b, s, e));
  assert.ok(f, "a whole frame");
  assert.equal(r.buffered(), 0);
  return f.value;
}

function body(m) {
  return {
    epoch: String(m.epoch),
    seq: String(m.seq),
    timestamp_us: String(m.timestampUs),
    flags: m.flags,
    topic: m.topic,
    key: m.key,
    headers: m.headers,
    payload_hex: toHex(m.payload),
  };
}

/** Our decoded frame in the vectors' field naming. */
function asFields(f) {
  switch (f.op) {
    case "welcome":
      return {
        version: f.f.version,
        server: f.f.server,
        server_id: String(f.f.serverId),
        max_frame: f.f.maxFrame,
        max_subscriptions: f.f.maxSubscriptions,
        max_topic_len: f.f.maxTopicLen,
        ping_interval_ms: f.f.pingIntervalMs,
      };
    case "pub_ack":
      return {
        request_id: f.f.requestId,
        epoch: String(f.f.epoch),
        seq: String(f.f.seq),
        timestamp_us: String(f.f.timestampUs),
        receivers: f.f.receivers,
      };
    case "subscribed":
      return {
        sub_id: f.f.subId,
        policy: POLICY.indexOf(f.f.policy),
        queue_msgs: f.f.queueMsgs,
        queue_bytes: String(f.f.queueBytes),
        start: START.indexOf(f.f.start),
        epoch: String(f.f.epoch),
        first_seq: String(f.f.firstSeq),
        last_seq: String(f.f.lastSeq),
      };
    case "message":
      return { sub_id: f.subId, message: body(f.m) };
    case "message_batch":
      return { sub_id: f.subId, count: f.ms.length, messages: f.ms.map(body) };
    case "gap":
      return {
        sub_id: f.subId,
        reason: REASON.indexOf(f.g.reason),
        count: String(f.g.count),
        first_seq: String(f.g.firstSeq),
        last_seq: String(f.g.lastSeq),
        topic: f.g.topic,
      };
    case "error": {
      const o = { code: f.f.code, reference: f.f.reference, message: f.f.message };
      if (f.f.refKind !== null) o.ref_kind = f.f.refKind;
      return o;
    }
    case "ping":
    case "pong":
      return { token: String(f.token) };
    case "state_reply":
      return {
        request_id: f.f.requestId,
        status: STATUS.indexOf(f.f.status),
        revision: String(f.f.revision),
        has_value: f.f.value === null ? 0 : 1,
        value_hex: f.f.value === null ? null : toHex(f.f.value),
      };
    case "goaway":
      return { drain_ms: f.drainMs, reason: f.reason };
    default:
      throw new Error(`no mapping for ${f.op}`);
  }
}

/** Encode a client → server example from its fields. */
function encodeExample(e) {
  const x = e.fields;
  switch (e.name) {
    case "HELLO":
      return encodeHello(x.client_name, x.auth_token);
    case "PING":
      return encodePing(BigInt(x.token));
    case "PUBLISH": {
      assert.equal(x.flags & ~0x83, 0);
      return encodePublish(x.request_id, (x.flags & 0x80) !== 0, {
        topic: x.topic,
        key: x.key,
        headers: x.headers,
        payload: fromHex(x.payload_hex),
      });
    }
    case "SUBSCRIBE": {
      const o = {};
      let start = { kind: "new" };
      for (const opt of x.options) {
        if (opt.name === "POLICY") o.policy = POLICY[opt.value];
        else if (opt.name === "QUEUE_MSGS") o.queueMsgs = opt.value;
        else if (opt.name === "QUEUE_BYTES") o.queueBytes = BigInt(opt.value);
        else if (opt.name === "MAX_RATE") o.maxRate = opt.value;
        else if (opt.name === "MAX_BATCH") o.maxBatch = opt.value;
        else if (opt.name === "LINGER_US") o.lingerUs = opt.value;
        else if (opt.name === "FROM_SEQ") start = { kind: "from_seq", seq: BigInt(opt.value.seq), epoch: BigInt(opt.value.epoch) };
        else if (opt.name === "LAST_N") start = { kind: "last_n", n: opt.value };
        else if (opt.name === "SNAPSHOT") start = { kind: "snapshot" };
      }
      return encodeSubscribe(x.sub_id, x.pattern, o, start);
    }
    case "STATE_PUT": {
      const cond =
        x.condition === 0 ? { kind: "none" } : x.condition === 1 ? { kind: "if_revision", revision: BigInt(x.revision) } : { kind: "if_absent" };
      return encodeStatePut(x.request_id, x.topic, x.key, cond, fromHex(x.value_hex));
    }
    default:
      return null;
  }
}

describe("conformance examples", { skip }, () => {
  for (const e of V.examples) {
    test(`${e.id} (${e.name})`, () => {
      if (e.direction !== "server_to_client") {
        const enc = encodeExample(e);
        assert.ok(enc, `the client encodes ${e.name}`);
        assert.equal(toHex(enc), e.hex);
      }
      if (e.direction !== "client_to_server") {
        const got = asFields(decodeOne(e.hex, V.max_frame));
        const want = { ...e.fields };
        if (e.name === "ERROR" && !("ref_kind" in want)) delete got.ref_kind;
        assert.deepEqual(got, want);
      }
    });
  }
});

/** Opcodes a client decodes: server → client, and PING/PONG. */
const clientDecodes = (op) => op >= 0x80 || op === 0x02 || op === 0x03;

describe("malformed vectors: client decoder", { skip }, () => {
  for (const m of V.malformed) {
    const bytes = fromHex(m.hex);
    const lengthOnly = bytes.length <= 4;
    if (!lengthOnly && !clientDecodes(bytes[4])) continue;
    test(m.id, () => {
      let got = "ok";
      try {
        const r = new FrameReader(V.max_frame);
        r.push(bytes);
        const f = r.next((op, b, s, e) => decodeFrame(op, b, s, e));
        if (!f) got = "incomplete";
      } catch (e) {
        got = e.kind ?? "malformed";
      }
      assert.equal(got, m.decode, m.description);
    });
  }
});

/** A raw protocol connection for the server-reaction checks. */
class Raw {
  static open(port) {
    return new Promise((res, rej) => {
      const s = net.createConnection({ host: "127.0.0.1", port }, () => res(new Raw(s)));
      s.once("error", rej);
    });
  }
  constructor(sock) {
    this.sock = sock;
    this.reader = new FrameReader(V.max_frame + 65536);
    this.frames = [];
    this.eof = false;
    this.waiters = [];
    sock.on("data", (d) => {
      this.reader.push(new Uint8Array(d.buffer, d.byteOffset, d.byteLength));
      for (;;) {
        const f = this.reader.next((op, b, s, e) => decodeFrame(op, b, s, e));
        if (!f) break;
        this.frames.push(f.value);
      }
      this.wake();
    });
    sock.on("error", () => {});
    sock.on("close", () => {
      this.eof = true;
      this.wake();
    });
  }
  wake() {
    for (const w of this.waiters.splice(0)) w();
  }
  send(b) {
    this.sock.write(b);
  }
  /** Next frame, or null on EOF, within `ms`. */
  async next(ms = 5000) {
    const deadline = Date.now() + ms;
    while (this.frames.length === 0 && !this.eof) {
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`no frame within ${ms} ms`);
      await new Promise((r) => {
        const t = setTimeout(r, left);
        this.waiters.push(() => {
          clearTimeout(t);
          r();
        });
      });
    }
    return this.frames.shift() ?? null;
  }
  close() {
    this.sock.destroy();
  }
}

describe("malformed vectors: server reaction", { skip }, () => {
  let broker;
  before(async () => {
    broker = await Broker.start();
  });
  after(async () => {
    await broker?.stop();
  });
  for (const m of V.malformed) {
    test(m.id, async () => {
      const raw = await Raw.open(broker.port);
      try {
        if (m.hello_first) {
          raw.send(encodeHello("conformance", ""));
          const w = await raw.next();
          assert.equal(w?.op, "welcome");
        }
        raw.send(fromHex(m.hex));
        const f = await raw.next();
        assert.ok(f, `a reply (${m.description})`);
        const want = m.server;
        assert.equal(f.op, want.reply.toLowerCase(), m.description);
        if (want.reply === "ERROR") {
          assert.equal(f.f.code, want.error_code, m.description);
          assert.equal(f.f.reference, want.reference, m.description);
        }
        if (want.connection === "closed") {
          assert.equal(await raw.next(), null, "connection closed after the reply");
        } else {
          raw.send(encodePing(77n));
          const p = await raw.next();
          assert.equal(p?.op, "pong", "connection open: PING answered next");
          assert.equal(p.token, 77n);
        }
      } finally {
        raw.close();
      }
    });
  }
});
