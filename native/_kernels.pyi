# Hand-written stub for the Cython module _kernels.pyx (checked with mypy.stubtest).
# The kernels take flat, C-contiguous 1-D buffers; use the checked façade in kernels.py.

import numpy as np
from numpy.typing import NDArray

BUILD_PROFILE: str
NORMAL: int
ADD: int
MULTIPLY: int
SCREEN: int
MAX: int
LUT_SIZE: int

def blend(dst: NDArray[np.uint16], src: NDArray[np.uint16], mode: int, opacity: int) -> None: ...
def crossfade(
    out: NDArray[np.uint16], a: NDArray[np.uint16], b: NDArray[np.uint16], t: int
) -> None: ...
def crossfade_split(
    out: NDArray[np.uint16], a: NDArray[np.uint16], b: NDArray[np.uint16], up: int, down: int
) -> None: ...
def scale(buf: NDArray[np.uint16], level: int) -> None: ...
def combine_levels(a: int, b: int) -> int: ...
def lut_gather_u8(
    out: NDArray[np.uint8],
    src: NDArray[np.uint16],
    src_index: NDArray[np.int32],
    lut_id: NDArray[np.uint8],
    luts: NDArray[np.uint8],
) -> None: ...
def lut_gather_u16(
    out: NDArray[np.uint8],
    src: NDArray[np.uint16],
    src_index: NDArray[np.int32],
    lut_id: NDArray[np.uint8],
    luts: NDArray[np.uint16],
) -> None: ...
def rgb_to_rgbw(out: NDArray[np.uint16], src: NDArray[np.uint16]) -> None: ...
def downscale_preview(
    out: NDArray[np.uint8], src: NDArray[np.uint16], h: int, w: int, h2: int, w2: int
) -> None: ...
def set_release_gil(release: bool) -> None:
    """Whether the kernels release the GIL while they run (default True)."""

def release_gil() -> bool:
    """The current setting of `set_release_gil`."""
