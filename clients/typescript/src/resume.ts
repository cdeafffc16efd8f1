/**
 * Per-subscription resume tracking (protocol.md §18.5), matching the Rust
 * client: literal subscriptions resume from the last delivered seq + 1 with
 * its epoch, snapshot subscriptions re-snapshot until their first live
 * change, wildcard subscriptions resume live and say so.
 */
import type { Gap, Message, Start, Subscribed } from "./codec.js";

/** Something that happened to a subscription; its stream continues. */
export type Notice =
  /** The connection was lost; the client is reconnecting (best effort: skipped when the buffer is full). */
  | { type: "notice"; kind: "disconnected"; reason: string }
  /** The server sent GOAWAY; the client reconnects once it closes. */
  | { type: "notice"; kind: "server_going_away"; reason: string }
  /** Re-subscribed after a reconnect from `fromSeq`: nothing lost, nothing twice. */
  | { type: "notice"; kind: "resumed"; fromSeq: bigint; epoch: bigint }
  /** History from `requestedSeq` is gone; delivery continues at `firstSeq` (a not_retained GAP counts the loss). */
  | { type: "notice"; kind: "truncated"; requestedSeq: bigint; firstSeq: bigint }
  /** The topic's history restarted (e.g. broker restart): messages after the last delivered one of `oldEpoch` are unknown. */
  | { type: "notice"; kind: "epoch_changed"; oldEpoch: bigint; newEpoch: bigint }
  /** A wildcard (or start-less) subscription resumed live: messages published while disconnected were missed and cannot be counted. */
  | { type: "notice"; kind: "resumed_live" }
  /** A snapshot subscription was interrupted before its first live change; the snapshot is delivered again. */
  | { type: "notice"; kind: "snapshot_restarted" };

/** One item of a subscription's stream. */
export type SubEvent = Message | Gap | Notice;

/** True if the pattern has a `*` or `>` token. */
export function isWildcard(pattern: string): boolean {
  return pattern.split(".").some((t) => t === "*" || t === ">");
}

/** Resume state of one subscription. */
export class Tracker {
  readonly literal: boolean;
  established = false;
  epoch = 0n;
  nextSeq = 0n;
  snapshotUntil: bigint | null = null;
  /** Granted policy `conflate`: with a rate limit the server delivers keys
   * in turn, so a lower seq after a higher one is another key's latest
   * value, not a duplicate (protocol.md §10.4). */
  conflate = false;

  constructor(
    readonly pattern: string,
    readonly initial: Start,
  ) {
    this.literal = !isWildcard(pattern);
  }

  /** The start option for the next SUBSCRIBE. */
  start(): Start {
    if (!this.established) return this.initial;
    if (!this.literal) return { kind: "new" };
    if (this.snapshotUntil !== null) return { kind: "snapshot" };
    return { kind: "from_seq", seq: this.nextSeq, epoch: this.epoch };
  }

  /** Handle SUBSCRIBED for the `requested` start; returns notices (and a GAP) for the application. */
  onSubscribed(s: Subscribed, requested: Start): SubEvent[] {
    const resuming = this.established;
    const oldEpoch = requested.kind === "from_seq" ? requested.epoch : this.epoch;
    this.established = true;
    this.conflate = s.policy === "conflate";
    this.epoch = s.epoch;
    this.snapshotUntil = null;
    const backlogStart = s.firstSeq > 0n ? s.firstSeq : s.lastSeq + 1n;
    const out: SubEvent[] = [];
    switch (s.start) {
      case "snapshot":
        this.snapshotUntil = s.lastSeq;
        this.nextSeq = s.lastSeq + 1n;
        if (resuming) out.push({ type: "notice", kind: "snapshot_restarted" });
        break;
      case "replay":
        this.nextSeq = backlogStart;
        if (resuming) out.push({ type: "notice", kind: "resumed", fromSeq: backlogStart, epoch: s.epoch });
        break;
      case "truncated":
        this.nextSeq = backlogStart;
        out.push({
          type: "notice",
          kind: "truncated",
          requestedSeq: requested.kind === "from_seq" ? requested.seq : backlogStart,
          firstSeq: backlogStart,
        });
        break;
      case "epoch_changed":
        this.nextSeq = backlogStart;
        out.push({ type: "notice", kind: "epoch_changed", oldEpoch, newEpoch: s.epoch });
        break;
      case "live":
        this.nextSeq = s.lastSeq + 1n;
        if (resuming) out.push(...this.liveResume(s, requested, oldEpoch));
        break;
    }
    return out;
  }

  private liveResume(s: Subscribed, requested: Start, oldEpoch: bigint): SubEvent[] {
    if (!this.literal || requested.kind !== "from_seq") return [{ type: "notice", kind: "resumed_live" }];
    if (oldEpoch !== 0n && oldEpoch !== s.epoch) {
      return [{ type: "notice", kind: "epoch_changed", oldEpoch, newEpoch: s.epoch }];
    }
    const seq = requested.seq;
    if (s.lastSeq < seq) return [{ type: "notice", kind: "resumed", fromSeq: seq, epoch: s.epoch }];
    return [
      { type: "notice", kind: "truncated", requestedSeq: seq, firstSeq: s.lastSeq + 1n },
      {
        type: "gap",
        reason: "not_retained",
        count: s.lastSeq - seq + 1n,
        firstSeq: seq,
        lastSeq: s.lastSeq,
        topic: this.pattern,
      },
    ];
  }

  /** Whether to deliver `m` (false: a duplicate of something already delivered). */
  admit(m: Message): boolean {
    if (!this.literal) return true;
    if (this.snapshotUntil !== null) {
      if (m.seq <= this.snapshotUntil) return true;
      this.snapshotUntil = null;
    }
    if (m.epoch !== this.epoch) this.epoch = m.epoch;
    else if (m.seq < this.nextSeq) return this.conflate;
    this.nextSeq = m.seq + 1n;
    return true;
  }

  /** Advance past a GAP's range. */
  onGap(g: Gap): void {
    if (this.literal && this.snapshotUntil === null && g.topic !== "" && g.lastSeq >= this.nextSeq) {
      this.nextSeq = g.lastSeq + 1n;
    }
  }
}
