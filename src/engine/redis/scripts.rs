//! The Lua scripts that make each engine operation atomic in Redis. Each
//! runs as one EVALSHA (loaded on first NOSCRIPT), so a run of publishes
//! or a state write is one round trip.
//!
//! Per topic: `m:` hash {epoch, seq}, `s:` stream (entry id `<seq>-1`,
//! fields `t` timestamp, `d` blob), `k:` hash of state `<revision>:<value>`.
//! A missing epoch means the topic's record is gone (new topic, or Redis
//! lost its data): a new epoch is set from the node's candidate and the
//! stream and state of any older epoch are dropped.

use std::sync::LazyLock;

use redis::Script;

/// Gets or creates the epoch of the topic whose keys are KEYS[i..i+2]
/// (meta, stream, state). Shared head of every script.
const EPOCH_FN: &str = r#"
local function epoch_of(mk, sk, kk, cand)
  local e = redis.call('HGET', mk, 'epoch')
  if not e then
    e = cand
    redis.call('HSET', mk, 'epoch', e, 'seq', 0)
    redis.call('DEL', sk, kk)
  end
  return e
end
local function append(mk, sk, chan, maxlen, e, ts, blob)
  local seq = redis.call('HINCRBY', mk, 'seq', 1)
  if maxlen > 0 then
    redis.call('XADD', sk, 'MAXLEN', maxlen, seq .. '-1', 't', ts, 'd', blob)
  end
  local n = redis.call('PUBLISH', chan, e .. ':' .. seq .. ':' .. ts .. ':' .. blob)
  return seq, n
end
"#;

/// A run of publishes. KEYS: per topic i, meta/stream/state at 3i-2..3i.
/// ARGV: ts, channel prefix, topic count, then per topic (name, maxlen,
/// candidate epoch), then per message (topic index, blob). Returns per
/// message {epoch, seq, receiving nodes}.
pub static PUBLISH: LazyLock<Script> = LazyLock::new(|| {
    Script::new(&format!(
        "{EPOCH_FN}{}",
        r#"
local ts, chp, nt = ARGV[1], ARGV[2], tonumber(ARGV[3])
local names, maxlens, epochs = {}, {}, {}
for i = 1, nt do
  local a = 3 + 3 * (i - 1)
  names[i] = ARGV[a + 1]
  maxlens[i] = tonumber(ARGV[a + 2])
  epochs[i] = epoch_of(KEYS[3 * i - 2], KEYS[3 * i - 1], KEYS[3 * i], ARGV[a + 3])
end
local out = {}
local j = 4 + 3 * nt
while j < #ARGV do
  local i = tonumber(ARGV[j])
  local seq, n = append(KEYS[3 * i - 2], KEYS[3 * i - 1], chp .. names[i], maxlens[i], epochs[i], ts, ARGV[j + 1])
  out[#out + 1] = epochs[i]
  out[#out + 1] = seq
  out[#out + 1] = n
  j = j + 2
end
return out
"#
    ))
});

/// Where a topic stands and what its stream retains from a seq. KEYS:
/// meta, stream, state. ARGV: candidate epoch, the caller's epoch, first
/// seq wanted (from 1 if the epoch is not the caller's), most entries.
/// Returns {epoch, last seq, XRANGE entries}.
pub static SYNC: LazyLock<Script> = LazyLock::new(|| {
    Script::new(&format!(
        "{EPOCH_FN}{}",
        r#"
local e = epoch_of(KEYS[1], KEYS[2], KEYS[3], ARGV[1])
local seq = tonumber(redis.call('HGET', KEYS[1], 'seq'))
local from = ARGV[3]
if e ~= ARGV[2] then from = '1' end
local entries = {}
if tonumber(from) <= seq and tonumber(ARGV[4]) > 0 then
  entries = redis.call('XRANGE', KEYS[2], from .. '-0', '+', 'COUNT', ARGV[4])
end
return {e, seq, entries}
"#
    ))
});

/// A state write with compare-and-set. KEYS: meta, stream, state. ARGV:
/// ts, channel, maxlen, candidate epoch, key, condition (`n` none, `a`
/// if absent, `r` if revision), revision, op (`p` put, `d` delete), blob,
/// value, most keys. Returns {status, revision, value-or-false, epoch}
/// with status `ok`, `conflict`, `notfound` or `full`.
pub static STATE_WRITE: LazyLock<Script> = LazyLock::new(|| {
    Script::new(&format!(
        "{EPOCH_FN}{}",
        r#"
local ts, chan, maxlen, cand = ARGV[1], ARGV[2], tonumber(ARGV[3]), ARGV[4]
local key, ck, crev, op, blob, value, maxkeys = ARGV[5], ARGV[6], ARGV[7], ARGV[8], ARGV[9], ARGV[10], tonumber(ARGV[11])
local e = epoch_of(KEYS[1], KEYS[2], KEYS[3], cand)
local cur = redis.call('HGET', KEYS[3], key)
local rev, val = 0, false
if cur then
  local p = string.find(cur, ':', 1, true)
  rev = tonumber(string.sub(cur, 1, p - 1))
  val = string.sub(cur, p + 1)
end
local ok
if ck == 'n' then ok = true elseif ck == 'a' then ok = (not cur) else ok = (rev == tonumber(crev)) end
if not ok then return {'conflict', rev, val, e} end
if op == 'd' and not cur then return {'notfound', 0, false, e} end
if op == 'p' and not cur and redis.call('HLEN', KEYS[3]) >= maxkeys then return {'full', 0, false, e} end
local seq = append(KEYS[1], KEYS[2], chan, maxlen, e, ts, blob)
if op == 'p' then
  redis.call('HSET', KEYS[3], key, seq .. ':' .. value)
else
  redis.call('HDEL', KEYS[3], key)
end
return {'ok', seq, false, e}
"#
    ))
});
