# Hand-written stub for the Cython module _sources.pyx (checked with mypy.stubtest).
# Flat, C-contiguous buffers; callers go through trocadero.playout.render.fields.

import numpy as np
from numpy.typing import NDArray

BUILD_PROFILE: str

def shift_gather(
    out: NDArray[np.uint16],
    pos: NDArray[np.float32],
    shift: float,
    lut: NDArray[np.uint16],
    mask: int,
) -> None: ...
def lerp_gather(
    out: NDArray[np.uint16],
    a: NDArray[np.float32],
    d: NDArray[np.float32],
    w: float,
    lut: NDArray[np.uint16],
) -> None: ...
def plasma_gather(
    out: NDArray[np.uint16],
    colx: NDArray[np.float32],
    rowy: NDArray[np.float32],
    sa: NDArray[np.float32],
    ca: NDArray[np.float32],
    cb: NDArray[np.float32],
    sb: NDArray[np.float32],
    sr: NDArray[np.float32],
    cr: NDArray[np.float32],
    c4: float,
    s4: float,
    lut: NDArray[np.uint16],
) -> None: ...
def set_release_gil(release: bool) -> None:
    """Whether the kernels release the GIL while they run (default True)."""

def release_gil() -> bool:
    """The current setting of `set_release_gil`."""
