"""Argument checks shared by the protocol builders (ValueError/TypeError naming the argument)."""

from __future__ import annotations

from ipaddress import IPv4Address

__all__ = ["check_bytes", "check_int", "check_ipv4", "check_text", "to_bytes"]


def check_int(name: str, value: object, lo: int, hi: int) -> int:
    """Return `value` if it is an int in lo..hi; otherwise raise naming `name` and the range."""
    if not isinstance(value, int) or isinstance(value, bool):
        raise TypeError(f"{name} must be an int in {lo}..{hi}, got {type(value).__name__}")
    if not lo <= value <= hi:
        raise ValueError(f"{name} must be in {lo}..{hi}, got {value}")
    return value


def to_bytes(name: str, value: object) -> bytes:
    """Bytes-like → bytes (immutable); anything else is a TypeError naming `name`."""
    if isinstance(value, bytes):
        return value
    if isinstance(value, bytearray | memoryview):
        return bytes(value)
    raise TypeError(f"{name} must be bytes-like, got {type(value).__name__}")


def check_bytes(name: str, value: object, lo: int, hi: int) -> bytes:
    """Bytes-like of length lo..hi, returned as bytes."""
    data = to_bytes(name, value)
    if not lo <= len(data) <= hi:
        if lo == hi:
            raise ValueError(f"{name} must be exactly {lo} bytes, got {len(data)}")
        raise ValueError(f"{name} must be {lo}..{hi} bytes long, got {len(data)}")
    return data


def check_text(name: str, value: object, max_bytes: int, encoding: str) -> bytes:
    """Encode a str field; it must fit in `max_bytes` (a NUL terminator follows) and hold no NUL."""
    if not isinstance(value, str):
        raise TypeError(f"{name} must be a str, got {type(value).__name__}")
    try:
        raw = value.encode(encoding)
    except UnicodeEncodeError as exc:
        raise ValueError(f"{name} must be {encoding}-encodable: {exc}") from None
    if len(raw) > max_bytes:
        raise ValueError(f"{name} must be at most {max_bytes} {encoding} bytes, got {len(raw)}")
    if b"\0" in raw:
        raise ValueError(f"{name} must not contain NUL characters")
    return raw


def check_ipv4(name: str, value: object) -> IPv4Address:
    if not isinstance(value, IPv4Address):
        raise TypeError(f"{name} must be an ipaddress.IPv4Address, got {type(value).__name__}")
    return value
