"""Refresh-token families whose access tokens must be refused before they expire.

Every access token names the login (refresh-token family) it came from. Logging out, a
detected reuse of a rotated refresh token, or an account change revokes the family in the
store; this set lets `AuthService.authenticate` refuse the family's access tokens at once
without a database round trip per request. An access token of a family is issued before the
family is revoked and lives at most `access_ttl_s`, so an entry can be dropped that long after
the revocation: the set holds only the revocations of the last `access_ttl_s` seconds.
"""

from __future__ import annotations

__all__ = ["RevokedFamilies"]


class RevokedFamilies:
    def __init__(self, keep_s: float) -> None:
        self.keep_s = keep_s
        self._until: dict[str, float] = {}  # family → when it may be forgotten (Unix s)

    def add(self, family: str, revoked_at: float) -> None:
        until = revoked_at + self.keep_s
        if until > self._until.get(family, 0.0):
            self._until[family] = until

    def prune(self, now: float) -> None:
        for family in [f for f, until in self._until.items() if until <= now]:
            del self._until[family]

    def __contains__(self, family: object) -> bool:
        return family in self._until

    def __len__(self) -> int:
        return len(self._until)
