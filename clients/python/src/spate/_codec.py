"""Byte-level codec of spate protocol v1, written from protocol.md.

Encoders append client frames to a ``bytearray`` (so many frames share one
socket write); decoders read frames from a ``memoryview`` with
``struct.unpack_from`` and check every field against the end of the frame
(protocol.md §19). Server → client frames decode to the public dataclasses
of :mod:`spate.types`; client → server frames decode to the small records
below (used by the conformance tests and by tools).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from typing import Any, List, Optional, Sequence, Tuple, Union

from .errors import ProtocolError
from .types import (
    ErrorInfo,
    Gap,
    GapReason,
    Message,
    Policy,
    PubAck,
    StartStatus,
    StateEntry,
    StateListPage,
    Subscribed,
    Welcome,
)

PROTOCOL_VERSION = 1
DEFAULT_MAX_FRAME = 1_114_112
#: The server may send frames up to ``max_frame`` + this (protocol.md §2).
SERVER_FRAME_SLACK = 65_536

# Opcodes (protocol.md §4).
HELLO = 0x01
PING = 0x02
PONG = 0x03
PUBLISH = 0x10
PUBLISH_BATCH = 0x11
SUBSCRIBE = 0x20
UNSUBSCRIBE = 0x21
STATE_PUT = 0x30
STATE_DEL = 0x31
STATE_GET = 0x32
STATE_LIST = 0x33
WELCOME = 0x81
PUB_ACK = 0x90
MESSAGE = 0x91
MESSAGE_BATCH = 0x92
SUBSCRIBED = 0xA0
UNSUBSCRIBED = 0xA1
GAP = 0xA2
STATE_REPLY = 0xB0
STATE_LIST_REPLY = 0xB1
ERROR = 0xE0
GOAWAY = 0xE1

OPCODE_NAMES = {
    HELLO: "HELLO",
    PING: "PING",
    PONG: "PONG",
    PUBLISH: "PUBLISH",
    PUBLISH_BATCH: "PUBLISH_BATCH",
    SUBSCRIBE: "SUBSCRIBE",
    UNSUBSCRIBE: "UNSUBSCRIBE",
    STATE_PUT: "STATE_PUT",
    STATE_DEL: "STATE_DEL",
    STATE_GET: "STATE_GET",
    STATE_LIST: "STATE_LIST",
    WELCOME: "WELCOME",
    PUB_ACK: "PUB_ACK",
    MESSAGE: "MESSAGE",
    MESSAGE_BATCH: "MESSAGE_BATCH",
    SUBSCRIBED: "SUBSCRIBED",
    UNSUBSCRIBED: "UNSUBSCRIBED",
    GAP: "GAP",
    STATE_REPLY: "STATE_REPLY",
    STATE_LIST_REPLY: "STATE_LIST_REPLY",
    ERROR: "ERROR",
    GOAWAY: "GOAWAY",
}

# PUBLISH flags (§7.1) and message flags (§9.1).
F_ACK = 0x80
F_KEY = 0x01
F_HEADERS = 0x02
F_STATE_PUT = 0x04
F_STATE_DELETE = 0x08

# SUBSCRIBE option tags (§8.2) and their fixed value sizes.
OPT_POLICY = 0x01
OPT_QUEUE_MSGS = 0x02
OPT_QUEUE_BYTES = 0x03
OPT_MAX_RATE = 0x04
OPT_MAX_BATCH = 0x05
OPT_LINGER_US = 0x06
OPT_FROM_SEQ = 0x07
OPT_LAST_N = 0x08
OPT_SNAPSHOT = 0x09
OPTION_NAMES = {
    OPT_POLICY: "POLICY",
    OPT_QUEUE_MSGS: "QUEUE_MSGS",
    OPT_QUEUE_BYTES: "QUEUE_BYTES",
    OPT_MAX_RATE: "MAX_RATE",
    OPT_MAX_BATCH: "MAX_BATCH",
    OPT_LINGER_US: "LINGER_US",
    OPT_FROM_SEQ: "FROM_SEQ",
    OPT_LAST_N: "LAST_N",
    OPT_SNAPSHOT: "SNAPSHOT",
}
OPTION_SIZES = {1: 1, 2: 4, 3: 8, 4: 4, 5: 2, 6: 4, 7: 16, 8: 4, 9: 0}
START_OPTIONS = (OPT_FROM_SEQ, OPT_LAST_N, OPT_SNAPSHOT)

# State conditions (§12.1) and statuses (§12.5).
COND_NONE = 0
COND_IF_REVISION = 1
COND_IF_ABSENT = 2
STATUS_OK = 0
STATUS_CONFLICT = 1
STATUS_NOT_FOUND = 2

MAX_HEADERS = 64
MAX_STR = 65_535

_U8 = struct.Struct(">B")
_U16 = struct.Struct(">H")
_U32 = struct.Struct(">I")
_U64 = struct.Struct(">Q")
_HDR = struct.Struct(">IB")  # length, opcode
_HDR_ID = struct.Struct(">IBI")  # length, opcode, u32 id
_MSG_HEAD = struct.Struct(">QQQBH")  # epoch, seq, timestamp, flags, topic len
_PUB_HEAD = struct.Struct(">IBIBH")  # length, opcode, request_id, flags, topic len
_PUB_ACK = struct.Struct(">IQQQI")
_SUBSCRIBED = struct.Struct(">IBIQBQQQ")
_GAP = struct.Struct(">IBQQQH")
_STATE_REPLY = struct.Struct(">IBQB")
_ERROR = struct.Struct(">HIH")

Headers = Sequence[Tuple[str, str]]


def _s(text: str) -> bytes:
    """Encodes a ``str`` field (u16 length + UTF-8)."""
    raw = text.encode("utf-8")
    if len(raw) > MAX_STR:
        raise ValueError(f"string field longer than {MAX_STR} bytes")
    return _U16.pack(len(raw)) + raw


def _headers(headers: Headers) -> bytes:
    if len(headers) > MAX_HEADERS:
        raise ValueError(f"at most {MAX_HEADERS} headers per message")
    out = bytearray(_U16.pack(len(headers)))
    for name, value in headers:
        out += _s(name)
        out += _s(value)
    return bytes(out)


def _frame(out: bytearray, opcode: int, body: bytes) -> None:
    out += _HDR.pack(len(body) + 1, opcode)
    out += body


# --------------------------------------------------------------------------
# Encoders (client → server, plus PING/PONG)


def encode_hello(out: bytearray, client_name: str, auth_token: str, flags: int = 0) -> None:
    """HELLO (§5.1)."""
    _frame(out, HELLO, _U16.pack(PROTOCOL_VERSION) + _U32.pack(flags) + _s(client_name) + _s(auth_token))


def encode_ping(out: bytearray, token: int, opcode: int = PING) -> None:
    """PING, or PONG with ``opcode=PONG`` (§5.2)."""
    out += _HDR.pack(9, opcode)
    out += _U64.pack(token)


def publish_body(
    request_id: int,
    topic: str,
    payload: bytes,
    key: Optional[str] = None,
    headers: Optional[Headers] = None,
    ack: bool = False,
) -> bytes:
    """The body of a PUBLISH (also one PUBLISH_BATCH entry), §7.1."""
    flags = F_ACK if ack else 0
    parts = [b"", _s(topic)]
    if key is not None:
        flags |= F_KEY
        parts.append(_s(key))
    if headers:
        flags |= F_HEADERS
        parts.append(_headers(headers))
    parts[0] = _U32.pack(request_id) + _U8.pack(flags)
    parts.append(bytes(payload))
    return b"".join(parts)


def encode_publish(
    out: bytearray,
    request_id: int,
    topic: bytes,
    payload: bytes,
    key: Optional[str] = None,
    headers: Optional[Headers] = None,
    ack: bool = False,
) -> int:
    """Appends a PUBLISH; ``topic`` is already UTF-8. Returns the frame's length field."""
    if key is None and not headers:
        n = 8 + len(topic) + len(payload)
        out += _PUB_HEAD.pack(n, PUBLISH, request_id, F_ACK if ack else 0, len(topic))
        out += topic
        out += payload
        return n
    body = publish_body(request_id, topic.decode("utf-8"), payload, key, headers, ack)
    out += _HDR.pack(len(body) + 1, PUBLISH)
    out += body
    return len(body) + 1


def encode_publish_batch(out: bytearray, bodies: Sequence[bytes]) -> int:
    """Appends a PUBLISH_BATCH of PUBLISH bodies (§7.2). Returns its length field."""
    if len(bodies) > 0xFFFF:
        raise ValueError("at most 65,535 entries per batch")
    n = 3 + sum(4 + len(b) for b in bodies)
    out += _HDR.pack(n, PUBLISH_BATCH)
    out += _U16.pack(len(bodies))
    for b in bodies:
        out += _U32.pack(len(b))
        out += b
    return n


@dataclass(frozen=True)
class SubscribeOption:
    """One TLV entry of a SUBSCRIBE options block (§8.2).

    ``value`` is an int, ``(seq, epoch)`` for FROM_SEQ, ``None`` for SNAPSHOT,
    or raw bytes for a tag this codec does not know.
    """

    tag: int
    value: Union[int, Tuple[int, int], None, bytes]


def encode_option(opt: SubscribeOption) -> bytes:
    """Encodes one TLV option entry."""
    tag, v = opt.tag, opt.value
    if isinstance(v, bytes):
        raw = v
    elif tag == OPT_FROM_SEQ:
        assert isinstance(v, tuple)
        raw = _U64.pack(v[0]) + _U64.pack(v[1])
    elif tag == OPT_SNAPSHOT:
        raw = b""
    else:
        assert isinstance(v, int)
        size = OPTION_SIZES[tag]
        raw = v.to_bytes(size, "big")
    return _U8.pack(tag) + _U16.pack(len(raw)) + raw


def encode_subscribe(out: bytearray, sub_id: int, pattern: str, options: Sequence[SubscribeOption]) -> None:
    """SUBSCRIBE (§8.1)."""
    block = b"".join(encode_option(o) for o in options)
    _frame(out, SUBSCRIBE, _U32.pack(sub_id) + _s(pattern) + _U16.pack(len(block)) + block)


def encode_unsubscribe(out: bytearray, sub_id: int) -> None:
    """UNSUBSCRIBE (§8.4)."""
    _frame(out, UNSUBSCRIBE, _U32.pack(sub_id))


def encode_state_put(
    out: bytearray, request_id: int, topic: str, key: str, condition: int, revision: int, value: bytes
) -> None:
    """STATE_PUT (§12.2)."""
    _frame(
        out,
        STATE_PUT,
        _U32.pack(request_id) + _s(topic) + _s(key) + _U8.pack(condition) + _U64.pack(revision) + bytes(value),
    )


def encode_state_del(out: bytearray, request_id: int, topic: str, key: str, condition: int, revision: int) -> None:
    """STATE_DEL (§12.3)."""
    _frame(out, STATE_DEL, _U32.pack(request_id) + _s(topic) + _s(key) + _U8.pack(condition) + _U64.pack(revision))


def encode_state_get(out: bytearray, request_id: int, topic: str, key: str) -> None:
    """STATE_GET (§12.4)."""
    _frame(out, STATE_GET, _U32.pack(request_id) + _s(topic) + _s(key))


def encode_state_list(out: bytearray, request_id: int, topic: str, after: str, limit: int) -> None:
    """STATE_LIST (§12.6)."""
    _frame(out, STATE_LIST, _U32.pack(request_id) + _s(topic) + _s(after) + _U32.pack(limit))


# --------------------------------------------------------------------------
# Decoding


class Cursor:
    """Reads fields from ``buf[pos:end]``, checking each against ``end``."""

    __slots__ = ("buf", "pos", "end")

    def __init__(self, buf: memoryview, pos: int, end: int) -> None:
        self.buf = buf
        self.pos = pos
        self.end = end

    def _need(self, n: int) -> int:
        p = self.pos
        if p + n > self.end:
            raise ProtocolError("field runs past the end of the frame")
        self.pos = p + n
        return p

    def u8(self) -> int:
        return self.buf[self._need(1)]

    def u16(self) -> int:
        return int(_U16.unpack_from(self.buf, self._need(2))[0])

    def u32(self) -> int:
        return int(_U32.unpack_from(self.buf, self._need(4))[0])

    def u64(self) -> int:
        return int(_U64.unpack_from(self.buf, self._need(8))[0])

    def raw(self, n: int) -> bytes:
        p = self._need(n)
        return bytes(self.buf[p : p + n])

    def str_(self) -> str:
        n = self.u16()
        p = self._need(n)
        try:
            return str(self.buf[p : p + n], "utf-8")
        except UnicodeDecodeError:
            raise ProtocolError("invalid UTF-8 in a str field") from None

    def bytes_(self) -> bytes:
        return self.raw(self.u32())

    def rest(self) -> bytes:
        p = self.pos
        self.pos = self.end
        return bytes(self.buf[p : self.end])

    def headers(self) -> Tuple[Tuple[str, str], ...]:
        count = self.u16()
        if count > MAX_HEADERS:
            raise ProtocolError("more than 64 headers")
        return tuple((self.str_(), self.str_()) for _ in range(count))

    def done(self) -> None:
        """Non-extensible frames: nothing may follow the last field."""
        if self.pos != self.end:
            raise ProtocolError("trailing bytes after the last field")


def decode_message_body(buf: memoryview, pos: int, end: int) -> Message:
    """A message body (§9.1) occupying ``buf[pos:end]``."""
    if pos + 27 > end:
        raise ProtocolError("message body too short")
    epoch, seq, ts, flags, tlen = _MSG_HEAD.unpack_from(buf, pos)
    p = pos + 27
    q = p + tlen
    if q > end:
        raise ProtocolError("topic runs past the end of the message")
    if flags & ~0x0F or (flags & 0x0C) == 0x0C:
        raise ProtocolError(f"bad message flags 0x{flags:02x}")
    try:
        topic = str(buf[p:q], "utf-8")
    except UnicodeDecodeError:
        raise ProtocolError("invalid UTF-8 in topic") from None
    if not flags:
        return Message(topic, bytes(buf[q:end]), seq, epoch, ts, None, (), 0)
    c = Cursor(buf, q, end)
    key = c.str_() if flags & F_KEY else None
    headers = c.headers() if flags & F_HEADERS else ()
    return Message(topic, c.rest(), seq, epoch, ts, key, headers, flags)


def decode_message_batch(buf: memoryview, pos: int, end: int) -> Tuple[int, List[Message]]:
    """MESSAGE_BATCH body: ``(sub_id, messages)`` (§9.3)."""
    c = Cursor(buf, pos, end)
    sub_id = c.u32()
    count = c.u16()
    out = []
    for _ in range(count):
        n = c.u32()
        p = c._need(n)
        out.append(decode_message_body(buf, p, p + n))
    c.done()
    return sub_id, out


def decode_welcome(c: Cursor) -> Welcome:
    """WELCOME (§5.1); trailing bytes ignored."""
    return Welcome(c.u16(), c.str_(), c.u64(), c.u32(), c.u32(), c.u16(), c.u32())


def decode_pub_ack(c: Cursor) -> PubAck:
    """PUB_ACK (§7.3); trailing bytes ignored."""
    c._need(32)
    r, e, s, t, n = _PUB_ACK.unpack_from(c.buf, c.pos - 32)
    return PubAck(r, e, s, t, n)


def decode_subscribed(c: Cursor) -> Subscribed:
    """SUBSCRIBED (§8.3); trailing bytes ignored."""
    c._need(42)
    sid, pol, qm, qb, st, ep, fs, ls = _SUBSCRIBED.unpack_from(c.buf, c.pos - 42)
    try:
        return Subscribed(sid, Policy(pol), qm, qb, StartStatus(st), ep, fs, ls)
    except ValueError:
        raise ProtocolError("bad policy or start status in SUBSCRIBED") from None


def decode_gap(c: Cursor) -> Gap:
    """GAP (§9.4); trailing bytes ignored."""
    sid = c.u32()
    reason = c.u8()
    count, first, last = c.u64(), c.u64(), c.u64()
    topic = c.str_()
    try:
        return Gap(topic, GapReason(reason), count, first, last, sid)
    except ValueError:
        raise ProtocolError(f"bad GAP reason {reason}") from None


@dataclass(frozen=True)
class StateReply:
    """STATE_REPLY (§12.5)."""

    request_id: int
    status: int
    revision: int
    value: Optional[bytes]


def decode_state_reply(c: Cursor) -> StateReply:
    """STATE_REPLY; ``value`` is None when ``has_value`` is 0."""
    rid, status, rev, has = c.u32(), c.u8(), c.u64(), c.u8()
    if status > 2 or has > 1:
        raise ProtocolError("bad status or has_value in STATE_REPLY")
    if has:
        return StateReply(rid, status, rev, c.rest())
    c.done()
    return StateReply(rid, status, rev, None)


def decode_state_list_reply(c: Cursor) -> Tuple[int, StateListPage]:
    """STATE_LIST_REPLY: ``(request_id, page)`` (§12.7)."""
    rid, more, count = c.u32(), c.u8(), c.u32()
    if more > 1:
        raise ProtocolError("bad 'more' in STATE_LIST_REPLY")
    entries = []
    for _ in range(count):
        entries.append(StateEntry(c.str_(), c.u64(), c.bytes_()))
    c.done()
    return rid, StateListPage(tuple(entries), bool(more))


def decode_error(c: Cursor) -> ErrorInfo:
    """ERROR (§13.1): code, reference, message and the optional trailing
    ``ref_kind`` (0 connection, 1 request id, 2 sub id; any other value is
    malformed); bytes after it are ignored."""
    code, reference, message = c.u16(), c.u32(), c.str_()
    ref_kind: Optional[int] = None
    if c.pos < c.end:
        ref_kind = c.u8()
        if ref_kind > 2:
            raise ProtocolError(f"bad ref_kind {ref_kind} in ERROR")
    return ErrorInfo(code, reference, message, ref_kind)


def decode_goaway(c: Cursor) -> Tuple[int, str]:
    """GOAWAY (§5.4): ``(drain_ms, reason)``; trailing bytes ignored."""
    return c.u32(), c.str_()


def decode_token(c: Cursor) -> int:
    """PING / PONG token; nothing may follow."""
    t = c.u64()
    c.done()
    return t


# Client → server frames, decoded for conformance checks and tools.


@dataclass(frozen=True)
class Hello:
    """HELLO (§5.1)."""

    version: int
    flags: int
    client_name: str
    auth_token: str


@dataclass(frozen=True)
class Publish:
    """PUBLISH body / PUBLISH_BATCH entry (§7.1)."""

    request_id: int
    flags: int
    topic: str
    key: Optional[str]
    headers: Optional[Tuple[Tuple[str, str], ...]]
    payload: bytes


@dataclass(frozen=True)
class Subscribe:
    """SUBSCRIBE (§8.1)."""

    sub_id: int
    pattern: str
    options: Tuple[SubscribeOption, ...] = field(default_factory=tuple)


@dataclass(frozen=True)
class StateWrite:
    """STATE_PUT (``value`` set) or STATE_DEL (``value`` None)."""

    request_id: int
    topic: str
    key: str
    condition: int
    revision: int
    value: Optional[bytes]


def _decode_publish(c: Cursor) -> Publish:
    rid, flags, topic = c.u32(), c.u8(), c.str_()
    if flags & ~(F_ACK | F_KEY | F_HEADERS):
        raise ProtocolError(f"bad PUBLISH flags 0x{flags:02x}")
    key = c.str_() if flags & F_KEY else None
    headers = c.headers() if flags & F_HEADERS else None
    return Publish(rid, flags, topic, key, headers, c.rest())


def _decode_options(c: Cursor) -> Tuple[SubscribeOption, ...]:
    n = c.u16()
    end = c._need(n) + n
    oc = Cursor(c.buf, end - n, end)
    seen = set()
    starts = 0
    out = []
    while oc.pos < end:
        tag, ln = oc.u8(), oc.u16()
        raw = oc.raw(ln)
        if tag in seen:
            raise ProtocolError(f"option tag 0x{tag:02x} appears twice")
        seen.add(tag)
        size = OPTION_SIZES.get(tag)
        if size is None:
            out.append(SubscribeOption(tag, raw))
            continue
        if ln != size:
            raise ProtocolError(f"option 0x{tag:02x} has {ln} bytes, expected {size}")
        v: Union[int, Tuple[int, int], None]
        if tag == OPT_FROM_SEQ:
            v = (int.from_bytes(raw[:8], "big"), int.from_bytes(raw[8:], "big"))
        elif tag == OPT_SNAPSHOT:
            v = None
        else:
            v = int.from_bytes(raw, "big")
        if tag == OPT_POLICY and not (isinstance(v, int) and 1 <= v <= 5):
            raise ProtocolError("bad POLICY value")
        if tag in START_OPTIONS:
            starts += 1
            if starts > 1:
                raise ProtocolError("more than one start option")
        out.append(SubscribeOption(tag, v))
    return tuple(out)


def _decode_state_write(c: Cursor, with_value: bool) -> StateWrite:
    rid, topic, key, cond, rev = c.u32(), c.str_(), c.str_(), c.u8(), c.u64()
    if cond > 2:
        raise ProtocolError(f"bad condition {cond}")
    if with_value:
        return StateWrite(rid, topic, key, cond, rev, c.rest())
    c.done()
    return StateWrite(rid, topic, key, cond, rev, None)


class UnknownOpcode(ProtocolError):
    """A frame whose opcode v1 does not define."""


class FrameTooLarge(ProtocolError):
    """A length prefix over the receiver's limit."""


def decode_frame(frame: bytes, max_frame: int = DEFAULT_MAX_FRAME) -> Tuple[int, Any]:
    """Decodes one whole frame (length prefix included), in either direction.

    Returns ``(opcode, decoded)``; raises :class:`FrameTooLarge`,
    :class:`UnknownOpcode` or :class:`~spate.errors.ProtocolError`.
    Used by tests and tools; the client's reader has its own fast path.
    """
    mv = memoryview(frame)
    if len(mv) < 4:
        raise ProtocolError("incomplete length prefix")
    length = _U32.unpack_from(mv, 0)[0]
    if length == 0:
        raise ProtocolError("length prefix 0")
    if length > max_frame:
        raise FrameTooLarge(f"length {length} over max_frame {max_frame}")
    if len(mv) != 4 + length:
        raise ProtocolError("frame length does not match the bytes given")
    op = mv[4]
    c = Cursor(mv, 5, 4 + length)
    if op == HELLO:
        return op, Hello(c.u16(), c.u32(), c.str_(), c.str_())
    if op in (PING, PONG):
        return op, decode_token(c)
    if op == PUBLISH:
        return op, _decode_publish(c)
    if op == PUBLISH_BATCH:
        count = c.u16()
        entries = []
        for _ in range(count):
            n = c.u32()
            p = c._need(n)
            entries.append(_decode_publish(Cursor(mv, p, p + n)))
        c.done()
        return op, entries
    if op == SUBSCRIBE:
        sid, pat = c.u32(), c.str_()
        opts = _decode_options(c)
        c.done()
        return op, Subscribe(sid, pat, opts)
    if op in (UNSUBSCRIBE, UNSUBSCRIBED):
        sid = c.u32()
        c.done()
        return op, sid
    if op == STATE_PUT:
        return op, _decode_state_write(c, True)
    if op == STATE_DEL:
        return op, _decode_state_write(c, False)
    if op == STATE_GET:
        rid, topic, key = c.u32(), c.str_(), c.str_()
        c.done()
        return op, (rid, topic, key)
    if op == STATE_LIST:
        rid, topic, after, limit = c.u32(), c.str_(), c.str_(), c.u32()
        c.done()
        return op, (rid, topic, after, limit)
    if op == WELCOME:
        return op, decode_welcome(c)
    if op == PUB_ACK:
        return op, decode_pub_ack(c)
    if op == MESSAGE:
        sid = c.u32()
        return op, (sid, decode_message_body(mv, c.pos, c.end))
    if op == MESSAGE_BATCH:
        return op, decode_message_batch(mv, 5, 4 + length)
    if op == SUBSCRIBED:
        return op, decode_subscribed(c)
    if op == GAP:
        return op, decode_gap(c)
    if op == STATE_REPLY:
        return op, decode_state_reply(c)
    if op == STATE_LIST_REPLY:
        return op, decode_state_list_reply(c)
    if op == ERROR:
        return op, decode_error(c)
    if op == GOAWAY:
        return op, decode_goaway(c)
    raise UnknownOpcode(f"unknown opcode 0x{op:02x}")
