"""The native frame clock (Rust, `trocadero_rt`) behind a small Python façade.

The output thread runs in Rust and never takes the GIL: it wakes on absolute deadlines
(start + n·period), takes the newest complete frame Python published into a triple buffer,
and repeats the previous frame when a render is late. Python only publishes and reads stats.
"""

from __future__ import annotations

import trocadero_rt
from trocadero_rt import ClockStats, FrameClock, OutputStats

BUILD_PROFILE: str = trocadero_rt.BUILD_PROFILE
BUILD_INFO: str = trocadero_rt.BUILD_INFO
VERSION: str = trocadero_rt.__version__

__all__ = ["BUILD_INFO", "BUILD_PROFILE", "VERSION", "ClockStats", "FrameClock", "OutputStats"]
