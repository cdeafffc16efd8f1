"""The shared conformance vectors (<repo>/conformance/vectors.json): every
example decodes with this client's codec to exactly the listed fields and
re-encodes to the same bytes; every malformed vector gets the listed verdict
from the decoder and, sent to the real broker, the listed reaction."""

from __future__ import annotations

import json
import os
import socket
import struct
from pathlib import Path
from typing import Any, Dict, List, Optional

import pytest
from conftest import REPO

from spate import _codec as wire
from spate.types import Message

VECTORS = Path(os.environ.get("SPATE_CONFORMANCE_VECTORS", REPO / "conformance" / "vectors.json"))


def load() -> Dict[str, Any]:
    if not VECTORS.exists():
        pytest.skip(f"conformance vectors not found at {VECTORS} (they arrive with conformance/vectors.json)")
    data: Dict[str, Any] = json.loads(VECTORS.read_text())
    return data


def _examples() -> List[Any]:
    return load()["examples"] if VECTORS.exists() else [None]


def _malformed() -> List[Any]:
    return load()["malformed"] if VECTORS.exists() else [None]


def _ids(v: Any) -> str:
    return str(v["id"]) if v else "absent"


def msg_fields(m: Message) -> Dict[str, Any]:
    return {
        "epoch": str(m.epoch),
        "seq": str(m.seq),
        "timestamp_us": str(m.timestamp_us),
        "flags": m.flags,
        "topic": m.topic,
        "key": m.key,
        "headers": [list(h) for h in m.headers] if m.flags & wire.F_HEADERS else None,
        "payload_hex": m.payload.hex(),
    }


def option_fields(o: wire.SubscribeOption) -> Dict[str, Any]:
    v: Any = o.value
    if o.tag == wire.OPT_FROM_SEQ:
        assert isinstance(v, tuple)
        v = {"seq": str(v[0]), "epoch": str(v[1])}
    elif o.tag == wire.OPT_QUEUE_BYTES:
        v = str(v)
    elif isinstance(v, bytes):
        v = v.hex()
    return {"tag": o.tag, "name": wire.OPTION_NAMES.get(o.tag, f"0x{o.tag:02x}"), "value": v}


def fields_of(op: int, d: Any) -> Dict[str, Any]:
    """The decoded frame in the vectors' schema."""
    if op == wire.HELLO:
        return {"version": d.version, "flags": d.flags, "client_name": d.client_name, "auth_token": d.auth_token}
    if op == wire.WELCOME:
        return {
            "version": d.version,
            "server": d.server,
            "server_id": str(d.server_id),
            "max_frame": d.max_frame,
            "max_subscriptions": d.max_subscriptions,
            "max_topic_len": d.max_topic_len,
            "ping_interval_ms": d.ping_interval_ms,
        }
    if op in (wire.PING, wire.PONG):
        return {"token": str(d)}
    if op == wire.PUBLISH:
        return {
            "request_id": d.request_id,
            "flags": d.flags,
            "topic": d.topic,
            "key": d.key,
            "headers": [list(h) for h in d.headers] if d.headers is not None else None,
            "payload_hex": d.payload.hex(),
        }
    if op == wire.PUB_ACK:
        return {
            "request_id": d.request_id,
            "epoch": str(d.epoch),
            "seq": str(d.seq),
            "timestamp_us": str(d.timestamp_us),
            "receivers": d.receivers,
        }
    if op == wire.SUBSCRIBE:
        return {"sub_id": d.sub_id, "pattern": d.pattern, "options": [option_fields(o) for o in d.options]}
    if op == wire.SUBSCRIBED:
        return {
            "sub_id": d.sub_id,
            "policy": int(d.policy),
            "queue_msgs": d.queue_msgs,
            "queue_bytes": str(d.queue_bytes),
            "start": int(d.start),
            "epoch": str(d.epoch),
            "first_seq": str(d.first_seq),
            "last_seq": str(d.last_seq),
        }
    if op in (wire.UNSUBSCRIBE, wire.UNSUBSCRIBED):
        return {"sub_id": d}
    if op == wire.MESSAGE:
        return {"sub_id": d[0], "message": msg_fields(d[1])}
    if op == wire.MESSAGE_BATCH:
        return {"sub_id": d[0], "count": len(d[1]), "messages": [msg_fields(m) for m in d[1]]}
    if op == wire.GAP:
        return {
            "sub_id": d.sub_id,
            "reason": int(d.reason),
            "count": str(d.count),
            "first_seq": str(d.first_seq),
            "last_seq": str(d.last_seq),
            "topic": d.topic,
        }
    if op == wire.ERROR:
        return {"code": d.code, "reference": d.reference, "message": d.message}
    if op == wire.GOAWAY:
        return {"drain_ms": d[0], "reason": d[1]}
    if op in (wire.STATE_PUT, wire.STATE_DEL):
        f = {
            "request_id": d.request_id,
            "topic": d.topic,
            "key": d.key,
            "condition": d.condition,
            "revision": str(d.revision),
        }
        if op == wire.STATE_PUT:
            f["value_hex"] = (d.value or b"").hex()
        return f
    if op == wire.STATE_GET:
        return {"request_id": d[0], "topic": d[1], "key": d[2]}
    if op == wire.STATE_LIST:
        return {"request_id": d[0], "topic": d[1], "after": d[2], "limit": d[3]}
    if op == wire.STATE_REPLY:
        return {
            "request_id": d.request_id,
            "status": d.status,
            "revision": str(d.revision),
            "has_value": int(d.value is not None),
            "value_hex": d.value.hex() if d.value is not None else None,
        }
    if op == wire.STATE_LIST_REPLY:
        return {
            "request_id": d[0],
            "more": int(d[1].more),
            "count": len(d[1].entries),
            "entries": [{"key": e.key, "revision": str(e.revision), "value_hex": e.value.hex()} for e in d[1].entries],
        }
    raise AssertionError(f"no field mapping for opcode 0x{op:02x}")


def reencode(op: int, d: Any) -> Optional[bytes]:
    """Client → server frames (and PING/PONG) re-encoded with the client's encoders."""
    out = bytearray()
    if op == wire.HELLO:
        wire.encode_hello(out, d.client_name, d.auth_token, d.flags)
    elif op in (wire.PING, wire.PONG):
        wire.encode_ping(out, d, op)
    elif op == wire.PUBLISH:
        wire.encode_publish(
            out, d.request_id, d.topic.encode(), d.payload, d.key, d.headers, ack=bool(d.flags & wire.F_ACK)
        )
    elif op == wire.SUBSCRIBE:
        wire.encode_subscribe(out, d.sub_id, d.pattern, d.options)
    elif op == wire.UNSUBSCRIBE:
        wire.encode_unsubscribe(out, d)
    elif op == wire.STATE_PUT:
        wire.encode_state_put(out, d.request_id, d.topic, d.key, d.condition, d.revision, d.value or b"")
    elif op == wire.STATE_DEL:
        wire.encode_state_del(out, d.request_id, d.topic, d.key, d.condition, d.revision)
    elif op == wire.STATE_GET:
        wire.encode_state_get(out, *d)
    elif op == wire.STATE_LIST:
        wire.encode_state_list(out, *d)
    else:
        return None
    return bytes(out)


@pytest.mark.parametrize("ex", _examples(), ids=_ids)
def test_example_decodes_and_reencodes(ex: Any) -> None:
    data = load()
    frame = bytes.fromhex(ex["hex"])
    op, decoded = wire.decode_frame(frame, data["max_frame"])
    assert op == ex["opcode"] and wire.OPCODE_NAMES[op] == ex["name"]
    assert fields_of(op, decoded) == ex["fields"]
    again = reencode(op, decoded)
    if again is not None:
        assert again.hex() == ex["hex"]


@pytest.mark.parametrize("vec", _malformed(), ids=_ids)
def test_malformed_decoder_verdict(vec: Any) -> None:
    data = load()
    raw = bytes.fromhex(vec["hex"])
    try:
        wire.decode_frame(raw, data["max_frame"])
        verdict = "ok"
    except wire.FrameTooLarge:
        verdict = "too_large"
    except wire.UnknownOpcode:
        verdict = "unknown_opcode"
    except wire.ProtocolError:
        verdict = "malformed"
    assert verdict == vec["decode"], vec["description"]


def _read_frame(s: socket.socket) -> Optional[bytes]:
    """One whole frame, or None at EOF."""
    buf = b""
    while len(buf) < 4:
        chunk = s.recv(4 - len(buf))
        if not chunk:
            return None
        buf += chunk
    (n,) = struct.unpack(">I", buf)
    while len(buf) < 4 + n:
        chunk = s.recv(4 + n - len(buf))
        if not chunk:
            return None
        buf += chunk
    return buf


@pytest.mark.parametrize("vec", _malformed(), ids=_ids)
def test_malformed_server_reaction(vec: Any, broker: Any) -> None:
    load()
    want = vec["server"]
    with socket.create_connection(("127.0.0.1", broker.port), timeout=10) as s:
        if vec["hello_first"]:
            hello = bytearray()
            wire.encode_hello(hello, "conformance", "")
            s.sendall(hello)
            f = _read_frame(s)
            assert f is not None and f[4] == wire.WELCOME
        s.sendall(bytes.fromhex(vec["hex"]))
        f = _read_frame(s)
        assert f is not None, "the server closed without a reply"
        op, d = wire.decode_frame(f, 1 << 30)
        assert wire.OPCODE_NAMES[op] == want["reply"]
        if op == wire.ERROR:
            assert (d.code, d.reference) == (want["error_code"], want["reference"]), d.message
        if want["connection"] == "closed":
            assert _read_frame(s) is None
        else:
            ping = bytearray()
            wire.encode_ping(ping, 77)
            s.sendall(ping)
            f = _read_frame(s)
            assert f is not None and wire.decode_frame(f) == (wire.PONG, 77)
