"""glibc malloc tuning shared by the daemon and its gateway process."""

from __future__ import annotations

import ctypes
from typing import Final

MALLOC_ARENAS: Final = 2
M_ARENA_MAX: Final = -8  # glibc's mallopt parameter number


def limit_malloc_arenas(arenas: int = MALLOC_ARENAS) -> bool:
    """Cap glibc's malloc arenas (before the worker threads start). Each thread that mallocs
    may get an arena of its own (up to 8 per core), and freed memory scattered over them is
    seldom returned: with 2,000 vehicles the SQLite and decoder worker threads made RSS creep
    0.4 MiB a minute for as long as the soak ran, with no live object growing; capped at 2 it
    stayed flat (./dev bench soak). Same as MALLOC_ARENA_MAX=2; False where not glibc."""
    try:
        libc = ctypes.CDLL(None)
        return bool(libc.mallopt(M_ARENA_MAX, arenas))
    except (OSError, AttributeError):
        return False
