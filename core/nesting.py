"""Nesting limits for what peers send: JSON (REST bodies, WebSocket messages) and msgpack
(the socket API).

Python's decoders recurse once per level: 100,000 nested brackets end in a RecursionError
(a 500 from REST, a dead session elsewhere), and a few thousand levels that do decode make
every later recursive walk (the audit log's JSON, `to_plain`) a crash waiting to happen. No
document of ours nests deeper than a handful of levels, so anything past `MAX_DEPTH` is
refused before the decoder runs: a linear scan of bracket depth outside strings for JSON,
an iterative walk for msgpack (its C decoder stops by itself at 1024 levels).
"""

from __future__ import annotations

import json
import re
from typing import Any, Final

import numpy as np

from .validate import InvalidArgument

__all__ = ["MAX_DEPTH", "check_nesting", "json_depth", "parse_json"]

MAX_DEPTH: Final = 32

# A JSON string, escapes included; possessive, and an unterminated one runs to the end (so a
# body of escaped quotes is scanned once, not once per quote).
_STRING: Final = re.compile(rb'"(?:[^"\\]++|\\.)*+(?:"|\\?\Z)', re.DOTALL)
_SURROGATE_ESCAPE: Final = re.compile(rb"\\u[dD][89a-fA-F]")
_NOT_BRACKETS: Final = bytes(b for b in range(256) if b not in b"[]{}")


def json_depth(raw: bytes, stop: int = MAX_DEPTH) -> int:
    """How deep the brackets of `raw` nest outside strings, at most `stop` + 1; a body with
    no more than `stop` brackets is not measured (it reads as `stop`). Invalid JSON is
    measured all the same (an unclosed bracket still nests): the parser refuses it later."""
    brackets = _STRING.sub(b"", raw).translate(None, _NOT_BRACKETS)
    if brackets.count(b"[") + brackets.count(b"{") <= stop:
        return 0 if not brackets else stop  # no deeper than its bracket count: no scan
    # Vectorised: a Python loop over a 1 MiB body of brackets would hold the GIL ~100 ms.
    codes = np.frombuffer(brackets, dtype=np.uint8)
    steps = np.where((codes == ord("[")) | (codes == ord("{")), 1, -1).astype(np.int32)
    return min(int(np.cumsum(steps).max()), stop + 1)


def _no_constant(name: str) -> Any:
    # NaN and Infinity are not JSON, and a stored NaN could never be sent back (Starlette
    # renders responses with allow_nan=False): refused on the way in.
    raise ValueError(f"{name} is not a JSON number")


def parse_json(raw: bytes | str, where: str = "body") -> Any:
    """Decode a JSON document from a peer; InvalidArgument (naming `where`) for anything that
    is not JSON, nests deeper than MAX_DEPTH, or holds NaN/Infinity."""
    data = raw.encode("utf-8", "surrogatepass") if isinstance(raw, str) else raw
    if json_depth(data) > MAX_DEPTH:
        raise InvalidArgument(f"{where}: JSON nested deeper than {MAX_DEPTH} levels")
    try:
        doc = json.loads(raw, parse_constant=_no_constant)
    except ValueError as exc:  # JSONDecodeError, UnicodeDecodeError, a 5000-digit integer
        raise InvalidArgument(f"{where}: not valid JSON ({str(exc)[:200]})") from None
    if _SURROGATE_ESCAPE.search(data):
        # "\ud800" alone is valid JSON text but no character: a string holding it cannot be
        # encoded as UTF-8, so storing, hashing or logging it raised (a 500). Paired
        # surrogates were joined by the decoder; only a lone one fails this.
        try:
            json.dumps(doc, ensure_ascii=False).encode("utf-8")
        except UnicodeEncodeError:
            raise InvalidArgument(
                f"{where}: a string holds a lone UTF-16 surrogate (\\ud800..\\udfff)"
            ) from None
    return doc


def check_nesting(value: Any, where: str, limit: int = MAX_DEPTH) -> None:
    """InvalidArgument when the lists and maps of a decoded value nest deeper than `limit`
    (iterative: the check itself must not recurse)."""
    stack: list[tuple[Any, int]] = [(value, 0)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            children: Any = item.values()
        elif isinstance(item, list | tuple):
            children = item
        else:
            continue
        if depth + 1 > limit:
            raise InvalidArgument(f"{where}: nested deeper than {limit} levels")
        stack.extend((child, depth + 1) for child in children if isinstance(child, dict | list))
