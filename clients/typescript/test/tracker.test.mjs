// Resume tracking without a broker (the Rust client's cases).
import assert from "node:assert/strict";
import { test } from "node:test";
import { Tracker, isWildcard } from "../dist/resume.js";

const sub = (start, epoch, firstSeq, lastSeq) => ({ subId: 1, policy: "drop-oldest", queueMsgs: 100, queueBytes: 1n << 20n, start, epoch, firstSeq, lastSeq });
const msg = (epoch, seq) => ({ type: "message", epoch, seq, topic: "t" });

test("wildcard detection", () => {
  assert.ok(isWildcard("a.*") && isWildcard("a.>") && isWildcard(">"));
  assert.ok(!isWildcard("a.b") && !isWildcard("a*b.c"));
});

test("live, then resume from the next seq; duplicates dropped", () => {
  const t = new Tracker("t", { kind: "new" });
  assert.deepEqual(t.onSubscribed(sub("live", 7n, 0n, 10n), { kind: "new" }), []);
  assert.deepEqual(t.start(), { kind: "from_seq", seq: 11n, epoch: 7n });
  assert.ok(t.admit(msg(7n, 11n)) && t.admit(msg(7n, 12n)));
  const req = t.start();
  assert.deepEqual(req, { kind: "from_seq", seq: 13n, epoch: 7n });
  assert.deepEqual(t.onSubscribed(sub("replay", 7n, 13n, 20n), req), [{ type: "notice", kind: "resumed", fromSeq: 13n, epoch: 7n }]);
  assert.ok(!t.admit(msg(7n, 12n)), "duplicate");
  assert.ok(t.admit(msg(7n, 13n)));
});

test("live resume past the retained history reports the loss exactly", () => {
  const t = new Tracker("t", { kind: "new" });
  t.onSubscribed(sub("live", 7n, 0n, 10n), { kind: "new" });
  const req = t.start(); // from 11
  const ev = t.onSubscribed(sub("live", 7n, 0n, 15n), req);
  assert.deepEqual(ev[0], { type: "notice", kind: "truncated", requestedSeq: 11n, firstSeq: 16n });
  assert.equal(ev[1].type, "gap");
  assert.equal(ev[1].count, 5n);
});

test("epoch change, wildcard live resume, snapshot restart", () => {
  const t = new Tracker("t", { kind: "new" });
  t.onSubscribed(sub("live", 7n, 0n, 10n), { kind: "new" });
  const req = t.start();
  assert.deepEqual(t.onSubscribed(sub("epoch_changed", 9n, 1n, 3n), req), [{ type: "notice", kind: "epoch_changed", oldEpoch: 7n, newEpoch: 9n }]);
  assert.ok(t.admit(msg(9n, 1n)));

  const w = new Tracker("t.*", { kind: "new" });
  w.onSubscribed(sub("live", 0n, 0n, 0n), { kind: "new" });
  assert.deepEqual(w.start(), { kind: "new" });
  assert.deepEqual(w.onSubscribed(sub("live", 0n, 0n, 0n), w.start()), [{ type: "notice", kind: "resumed_live" }]);

  const s = new Tracker("t", { kind: "snapshot" });
  s.onSubscribed(sub("snapshot", 5n, 2n, 8n), { kind: "snapshot" });
  assert.ok(s.admit(msg(5n, 2n)) && s.admit(msg(5n, 8n)));
  assert.deepEqual(s.start(), { kind: "snapshot" }, "interrupted during the snapshot: snapshot again");
  assert.deepEqual(s.onSubscribed(sub("snapshot", 5n, 2n, 9n), s.start()), [{ type: "notice", kind: "snapshot_restarted" }]);
  assert.ok(s.admit(msg(5n, 10n)));
  assert.deepEqual(s.start(), { kind: "from_seq", seq: 11n, epoch: 5n }, "after the first live change: from_seq");
});

test("a GAP advances the resume point", () => {
  const t = new Tracker("t", { kind: "new" });
  t.onSubscribed(sub("live", 7n, 0n, 10n), { kind: "new" });
  t.onGap({ type: "gap", reason: "dropped_oldest", count: 4n, firstSeq: 11n, lastSeq: 14n, topic: "t" });
  assert.deepEqual(t.start(), { kind: "from_seq", seq: 15n, epoch: 7n });
});

test("conflate: keys out of seq order are not duplicates (protocol.md §10.4)", () => {
  const t = new Tracker("t", { kind: "new" });
  t.onSubscribed({ ...sub("live", 7n, 0n, 10n), policy: "conflate" }, { kind: "new" });
  assert.ok(t.admit(msg(7n, 14n)));
  assert.ok(t.admit(msg(7n, 12n)), "another key's latest value");
  assert.deepEqual(t.start(), { kind: "from_seq", seq: 15n, epoch: 7n });
});
