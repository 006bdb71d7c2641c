"""Open DMX (plain FTDI, no microcontroller) output: configuration of the native writer.

The host makes the DMX timing, and all of it is native (``native/rust/core/src/output/
opendmx.rs``): the clock's output thread hands this output's universe of every frame it sends
— with the emergency overlay applied, like sACN, Art-Net and the Enttec USB Pro — to a Rust
writer thread per port, which on its own absolute schedule at ``rate_hz`` (≤ 44) raises the
line break (TIOCSBRK) for ``break_us``, releases it, waits ``mab_us``, writes start code + 512
slots at 250 kbaud 8N2 and waits for the tty to drain, so the next break never cuts a frame
short. No Python runs per frame, so the emergency look reaches an Open DMX port within a frame
even while the GIL is held, and nothing is sent before the first frame (512 zero slots would
flash the fixtures to black; a receiver holds its last look through a missing signal).

Errors (device unplugged or missing, a write not taken within a second) mark the output
failing with the error text and the device is opened again once a second; a tty that refuses
TIOCSBRK is counted in ``break_errors`` and the frame is still written.
"""

from __future__ import annotations

from trocadero.config.outputs import OPEN_DMX_MAX_RATE_HZ, OutputConfig
from trocadero.native.clock import FrameClock
from trocadero.protocols.enttec import OpenDmxTiming

DEFAULT_RATE_HZ = 40.0


def open_dmx_timing(cfg: OutputConfig) -> OpenDmxTiming:
    """The line timing of an ``open-dmx`` output: its rate (default 40 Hz, at most 44)."""
    return OpenDmxTiming(rate_hz=min(cfg.rate_hz or DEFAULT_RATE_HZ, OPEN_DMX_MAX_RATE_HZ))


def add_open_dmx_output(clock: FrameClock, cfg: OutputConfig, universe_index: int) -> int:
    """Add the native writer for `cfg` (universe `universe_index` of the frame) to the not
    yet started clock; returns its output id. ValueError names a bad argument."""
    timing = open_dmx_timing(cfg)
    return clock.add_opendmx_output(
        device=cfg.device,
        universe_index=universe_index,
        rate_hz=timing.rate_hz,
        break_us=timing.break_us,
        mab_us=timing.mab_us,
    )
