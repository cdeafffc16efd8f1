"""Writes docs/api.md: the API reference, generated from the docstrings.

Run from clients/python: ``python tools/gendoc.py`` (``--check`` exits 1
if docs/api.md is out of date). Standard library only.
"""

from __future__ import annotations

import dataclasses
import enum
import inspect
import sys
from pathlib import Path
from typing import Any, List

HERE = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(HERE / "src"))

import spate  # noqa: E402
from spate.client import _State  # noqa: E402

SECTIONS = [
    ("Connecting", ["connect", "Client", "Reconnect"]),
    ("Subscribing", ["Subscription", "Publication"]),
    ("State (`client.state`)", [_State]),
    (
        "Events",
        [
            "Message",
            "Gap",
            "Notice",
            "Disconnected",
            "ServerGoingAway",
            "Resumed",
            "Truncated",
            "EpochChanged",
            "ResumedLive",
            "SnapshotRestarted",
        ],
    ),
    (
        "Values",
        [
            "PubAck",
            "Subscribed",
            "Welcome",
            "StateValue",
            "StateEntry",
            "StateListPage",
            "Policy",
            "StartStatus",
            "GapReason",
        ],
    ),
    (
        "Errors",
        [
            "SpateError",
            "ServerError",
            "StateConflict",
            "StateNotFound",
            "ConnectionLostError",
            "SpateTimeoutError",
            "ProtocolError",
        ],
    ),
    ("Blocking facade", ["connect_sync", "SyncClient", "SyncSubscription"]),
]


def doc(obj: Any) -> str:
    return inspect.cleandoc(obj.__doc__ or "").strip()


def sig(obj: Any) -> str:
    try:
        s = str(inspect.signature(obj, eval_str=True))
    except (TypeError, ValueError, NameError):
        s = str(inspect.signature(obj))
    for prefix in ("typing.", "spate.types.", "spate.client.", "spate.errors.", "ssl."):
        s = s.replace(prefix, "")
    return s


def render(name: str, obj: Any, out: List[str]) -> None:
    if inspect.isclass(obj):
        title = "State" if obj is _State else name
        out.append(f"### `{title}`\n")
        if issubclass(obj, enum.Enum):
            out.append(doc(obj) + "\n")
            out.append(", ".join(f"`{m.name}` = {m.value}" for m in obj) + "\n")
            return
        if dataclasses.is_dataclass(obj):
            out.append(f"`{name}{sig(obj)}`\n")
        out.append(doc(obj) + "\n")
        if dataclasses.is_dataclass(obj) or issubclass(obj, BaseException):
            for pname, prop in vars(obj).items():
                if isinstance(prop, property) and prop.__doc__:
                    out.append(f"- `{pname}`: {doc(prop)}")
            out.append("")
            return
        for mname, member in vars(obj).items():
            if mname.startswith("_") and mname not in ("__aiter__",):
                continue
            if isinstance(member, property):
                out.append(f"- **`{mname}`** (property): {doc(member)}")
            elif callable(member):
                prefix = "async " if inspect.iscoroutinefunction(member) or inspect.isasyncgenfunction(member) else ""
                out.append(f"- **`{prefix}{mname}{sig(member)}`**\n\n  " + doc(member).replace("\n", "\n  "))
        out.append("")
    else:
        prefix = "async " if inspect.iscoroutinefunction(obj) else ""
        out.append(f"### `{prefix}{name}{sig(obj)}`\n")
        out.append(doc(obj) + "\n")


def main() -> int:
    out = [
        "# spate Python client — API reference",
        "",
        "Generated from the docstrings by `tools/gendoc.py`; do not edit by hand.",
        "",
        doc(spate),
        "",
    ]
    for title, names in SECTIONS:
        out.append(f"## {title}\n")
        for n in names:
            obj = n if not isinstance(n, str) else getattr(spate, n)
            render(n if isinstance(n, str) else "State", obj, out)
    text = "\n".join(out).rstrip() + "\n"
    path = HERE / "docs" / "api.md"
    if "--check" in sys.argv:
        if not path.exists() or path.read_text() != text:
            print("docs/api.md is out of date: run python tools/gendoc.py", file=sys.stderr)
            return 1
        return 0
    path.parent.mkdir(exist_ok=True)
    path.write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
