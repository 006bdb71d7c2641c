"""Per-key request rate limiting: a token bucket per user (or per address before login).

A bucket holds up to `per_minute` tokens and refills continuously at `per_minute / 60` per
second, so a client may burst to the full minute's allowance and then gets a steady rate.
A refused request learns when the next token arrives (the HTTP layer turns that into 429
with Retry-After). Memory is bounded: at most `max_keys` buckets; full buckets (idle keys)
are forgotten first when the table is full.
"""

from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass(slots=True)
class _Bucket:
    tokens: float
    at: float


class RateLimiter:
    def __init__(self, per_minute: int, *, max_keys: int = 10_000) -> None:
        if per_minute < 1:
            raise ValueError("per_minute must be at least 1")
        self.capacity = float(per_minute)
        self.rate = per_minute / 60.0
        self.max_keys = max_keys
        self._buckets: dict[str, _Bucket] = {}
        self.refused = 0

    def check(self, key: str, now: float) -> float | None:
        """Take a token for `key`: None when allowed, else seconds until one is available."""
        bucket = self._buckets.get(key)
        if bucket is None:
            if len(self._buckets) >= self.max_keys:
                self._evict(now)
            bucket = self._buckets[key] = _Bucket(self.capacity, now)
        else:
            bucket.tokens = min(self.capacity, bucket.tokens + (now - bucket.at) * self.rate)
            bucket.at = now
        if bucket.tokens >= 1.0:
            bucket.tokens -= 1.0
            return None
        self.refused += 1
        return (1.0 - bucket.tokens) / self.rate

    def _evict(self, now: float) -> None:
        full = [
            k
            for k, b in self._buckets.items()
            if b.tokens + (now - b.at) * self.rate >= self.capacity
        ]
        for k in full or list(self._buckets)[: max(1, self.max_keys // 10)]:
            del self._buckets[k]

    def __len__(self) -> int:
        return len(self._buckets)


def retry_after_header(seconds: float) -> str:
    return str(max(1, math.ceil(seconds)))
