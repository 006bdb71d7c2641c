"""The native frame clock (Rust, `trocadero_rt`) behind a small Python façade.

The output thread runs in Rust and never takes the GIL: it wakes on absolute deadlines
(start + n·period), takes the newest complete frame Python published into a triple buffer,
and repeats the previous frame when a render is late. Python only publishes and reads stats.

The emergency override lives there too (`set_emergency_overlay`, `set_emergency_input`,
`engage_emergency`, `release_emergency`; `emergency_*` in `ClockStats`): the output thread
polls the input file and applies the overlay itself, so it reaches the wire on the next frame
even while Python is blocked.
"""

from __future__ import annotations

import trocadero_rt
from trocadero_rt import ClockStats, FrameClock, OutputStats
from trocadero_rt import PanicException as NativePanic

BUILD_PROFILE: str = trocadero_rt.BUILD_PROFILE
BUILD_INFO: str = trocadero_rt.BUILD_INFO
VERSION: str = trocadero_rt.__version__

__all__ = [
    "BUILD_INFO",
    "BUILD_PROFILE",
    "VERSION",
    "ClockStats",
    "FrameClock",
    "NativePanic",
    "OutputStats",
]
