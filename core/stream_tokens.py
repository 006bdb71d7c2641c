"""Stream tokens: short-lived, signed permission to open one live-video WebSocket.

A token names who asked (user, role), which stream (device, channel, main/sub) and the scope
it grants (`video:watch`), and when it expires. It is an HMAC-SHA256 over its JSON claims with
a key made at start-up, so it needs no store and dies with the daemon. The WebSocket route
checks the signature, the expiry and that the stream it asks for is the one the token names.

There are no fleet tenants yet (issue 17): a token is bound to the tenant when they come.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final

from .permissions import Actor

__all__ = [
    "WATCH_SCOPE",
    "StreamGrant",
    "StreamKey",
    "StreamTokens",
    "TokenExpired",
    "TokenRefused",
]

WATCH_SCOPE: Final = "video:watch"
StreamKey = tuple[str, int, int]  # device id, channel, stream type (0 main, 1 sub)


class TokenRefused(Exception):
    """Not a token of ours, or not for this stream or scope (WebSocket close 4403)."""


class TokenExpired(TokenRefused):
    """A genuine token past its expiry (WebSocket close 4401: ask for a new one)."""


@dataclass(frozen=True, slots=True)
class StreamGrant:
    user: str
    role: str
    device: str
    channel: int
    stream: int
    scope: str
    expires: float  # Unix time

    @property
    def key(self) -> StreamKey:
        return (self.device, self.channel, self.stream)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class StreamTokens:
    def __init__(
        self, ttl_s: float, *, key: bytes | None = None, clock: Callable[[], float] = time.time
    ) -> None:
        self.ttl_s = ttl_s
        self._key = key or secrets.token_bytes(32)
        self._clock = clock

    def issue(
        self,
        actor: Actor,
        stream: StreamKey,
        scope: str = WATCH_SCOPE,
        *,
        ttl_s: float | None = None,
    ) -> str:
        device, channel, kind = stream
        claims = {
            "u": actor.name,
            "r": actor.role,
            "d": device,
            "c": channel,
            "s": kind,
            "scope": scope,
            "exp": round(self._clock() + (self.ttl_s if ttl_s is None else ttl_s), 3),
        }
        body = _b64(json.dumps(claims, separators=(",", ":"), sort_keys=True).encode())
        return f"{body}.{self._sign(body)}"

    def verify(self, token: str, stream: StreamKey, scope: str = WATCH_SCOPE) -> StreamGrant:
        """The grant of a valid token for `stream` and `scope`; raises TokenRefused or
        TokenExpired (checked last, so a forged or foreign token never reads as expired)."""
        body, _, signature = token.partition(".")
        if not signature or not hmac.compare_digest(signature, self._sign(body)):
            raise TokenRefused("not a valid stream token")
        try:
            c = json.loads(_unb64(body))
            grant = StreamGrant(
                str(c["u"]),
                str(c["r"]),
                str(c["d"]),
                int(c["c"]),
                int(c["s"]),
                str(c["scope"]),
                float(c["exp"]),
            )
        except (ValueError, KeyError, TypeError) as exc:
            raise TokenRefused("not a valid stream token") from exc
        if grant.scope != scope:
            raise TokenRefused(f"the token grants {grant.scope!r}, not {scope!r}")
        if grant.key != stream:
            d, ch, s = grant.key
            raise TokenRefused(f"the token is for device {d} channel {ch} stream {s}")
        if grant.expires < self._clock():
            raise TokenExpired("the stream token has expired: start the stream again")
        return grant

    def _sign(self, body: str) -> str:
        return _b64(hmac.new(self._key, body.encode(), hashlib.sha256).digest()[:18])
