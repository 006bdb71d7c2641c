"""Growing delays for failed logins, per (user name, client address).

A per-user-name limit lets anyone on the network lock a named account out (twelve wrong
passwords for "admin" from anywhere used to refuse the real admin everywhere). Keyed by the
pair instead, guessing from one address slows that address down for that name only: the
same account still logs in from every other address, and the per-address request limit
(`core.ratelimit`, in the web middleware) bounds how many names one address may try.

After `free` failures in a row the pair must wait `base_s`, doubling with every further
failure up to `max_s`. A success clears the pair. Memory is bounded: at most `max_keys`
pairs, the ones whose delay ran out longest ago forgotten first.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["LoginThrottle"]


@dataclass(slots=True)
class _Failures:
    count: int
    blocked_until: float


class LoginThrottle:
    def __init__(
        self, *, free: int = 3, base_s: float = 1.0, max_s: float = 300.0, max_keys: int = 10_000
    ) -> None:
        if free < 0 or base_s <= 0 or max_s < base_s or max_keys < 1:
            raise ValueError("free >= 0, 0 < base_s <= max_s and max_keys >= 1")
        self.free = free
        self.base_s = base_s
        self.max_s = max_s
        self.max_keys = max_keys
        self._pairs: dict[tuple[str, str], _Failures] = {}

    def wait(self, user: str, address: str, now: float) -> float | None:
        """Seconds this pair must still wait before its next attempt, or None."""
        entry = self._pairs.get((user, address))
        if entry is None or entry.blocked_until <= now:
            return None
        return entry.blocked_until - now

    def failed(self, user: str, address: str, now: float) -> float:
        """Record a failed attempt; the delay it imposes (0 while still free)."""
        key = (user, address)
        entry = self._pairs.get(key)
        if entry is None:
            if len(self._pairs) >= self.max_keys:
                self._evict(now)
            entry = self._pairs[key] = _Failures(0, now)
        entry.count += 1
        over = entry.count - self.free
        delay = 0.0 if over <= 0 else min(self.max_s, self.base_s * 2.0 ** min(over - 1, 60))
        entry.blocked_until = now + delay
        return delay

    def succeeded(self, user: str, address: str) -> None:
        self._pairs.pop((user, address), None)

    def _evict(self, now: float) -> None:
        # Pairs whose delay has long run out are the least useful to keep; failing that, the
        # oldest tenth (dicts keep insertion order).
        stale = [k for k, e in self._pairs.items() if e.blocked_until + self.max_s <= now]
        for k in stale or list(self._pairs)[: max(1, self.max_keys // 10)]:
            del self._pairs[k]

    def __len__(self) -> int:
        return len(self._pairs)
