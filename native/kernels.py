"""Render kernels: compositing, masters, gamma/white-balance lookup and the pixel-map gather.

Working precision: uint16
-------------------------
Canvases are RGB buffers of uint16 (0..65535), not uint8. Everything that scales light happens
before the final lookup, and at 8 bits it would throw resolution away at each step: a layer at
opacity 10 % on a canvas master at 20 % under a grand master at 50 % leaves a full-scale 8-bit
value with about 2.5 distinct steps, so dim scenes band and long fades visibly stair-step (a
10 s fade at 44 Hz has 440 frames but only 256 possible 8-bit values, fewer still once gamma
compresses the bottom of the range). At 16 bits the same chain keeps ~650 steps and a fade moves
on every frame. Compositing, opacity, crossfade and masters therefore run at 16 bits, and only
the last step, a per-slot lookup table fusing the gamma / dimmer curve and white balance, maps
16-bit values to 8-bit DMX slots (or to coarse/fine slot pairs for 16-bit fixtures). The LUT has
65536 entries, so the gamma curve's steep bottom end gets the full input resolution. The costs
are twice the memory traffic of uint8 and 256 KiB per 16-bit-out table (64 KiB per 8-bit one),
both small against the 22.7 ms frame period.

Exact integer semantics
-----------------------
Every kernel is an integer formula, so the Cython module and the numpy reference
(``kernels_ref``) give bit-identical results and tests compare for equality. With
``mul(x, y) = (x*y + 32767) // 65535`` (x*y/65535 rounded to nearest; 65535 is odd, so no ties)
and ``lerp(a, b, t) = (a*(65535 - t) + b*t + 32767) // 65535`` (= a + (b - a)*t/65535 rounded to
nearest, exact at t = 0 and t = 65535, and lerp(a, a, t) = a for every t, so a red-to-red fade
never dips):

* ``blend``: dst = lerp(dst, f(dst, src), opacity) where f is NORMAL: src; ADD: min(dst + src,
  65535); MULTIPLY: mul(dst, src); SCREEN: 65535 - mul(65535 - dst, 65535 - src); MAX (HTP):
  max(dst, src).
* ``crossfade``: out = lerp(a, b, t).
* ``crossfade_split``: out = lerp(a, b, up) where b > a, else lerp(a, b, down): each value
  moves from a to b on its own course, rising ones with the up-fade's progress and falling
  ones with the down-fade's (Eos up/down fade times). Every value stays between a and b, so a
  cue never dips or overshoots, whatever the two progresses are.
* ``scale``: buf = mul(buf, level); ``combine_levels(a, b)`` = mul(a, b).
* ``lut_gather_u8``: out[i] = luts[lut_id[i]][src[src_index[i]]], or 0 where src_index[i] < 0.
  ``lut_gather_u16``: the same with 16-bit tables; value v goes out as the slot pair
  out[2i] = v >> 8 (coarse), out[2i + 1] = v & 0xFF (fine).
* ``rgb_to_rgbw``: W = min(R, G, B); out = (R - W, G - W, B - W, W) (the white LED takes the
  common part, so the mix is colour-exact for a fixture whose W matches R+G+B at full).
* ``downscale_preview``: output pixel (y2, x2) averages the source box rows
  [y2*h//h2, (y2+1)*h//h2) x columns [x2*w//w2, (x2+1)*w//w2); 8-bit value =
  (2*sum + 257*count) // (514*count) (the mean / 257, rounded half up).

Buffers and dispatch
--------------------
Buffers are C-contiguous numpy arrays of the stated dtype, of any shape (they are treated as
flat); outputs are written in place and nothing is allocated on the per-frame path. This façade
checks dtype, contiguity, writability, lengths and parameters and raises ``ValueError`` naming
the argument (``TypeError`` for something that is not an array or an integer), then calls the
Cython kernels, which run without the GIL. With ``TROCADERO_PURE_KERNELS=1`` in the environment,
or when the extension is not built, it calls the numpy reference instead; ``IMPLEMENTATION``
says which one is in use (the daemon should log it: the reference is several times slower).
"""

from __future__ import annotations

import math
import operator
import os
from enum import IntEnum, StrEnum
from typing import Final, Literal, Protocol, SupportsIndex, TypeVar, cast

import numpy as np
from numpy.typing import NDArray

from . import kernels_ref

__all__ = [
    "BUILD_PROFILE",
    "IMPLEMENTATION",
    "LUT_SIZE",
    "BlendMode",
    "DimmerCurve",
    "blend",
    "build_lut",
    "build_lut_u16",
    "combine_levels",
    "crossfade",
    "crossfade_split",
    "downscale_preview",
    "hold_gil",
    "lut_gather_u8",
    "lut_gather_u16",
    "rgb_to_rgbw",
    "scale",
]

LUT_SIZE: Final = 65536
"""Entries per lookup table: one per 16-bit input value."""


class _Backend(Protocol):
    """What both the Cython module and the numpy reference provide (flat 1-D arrays)."""

    BUILD_PROFILE: str

    def blend(
        self, dst: NDArray[np.uint16], src: NDArray[np.uint16], mode: int, opacity: int, /
    ) -> None: ...
    def crossfade(
        self, out: NDArray[np.uint16], a: NDArray[np.uint16], b: NDArray[np.uint16], t: int, /
    ) -> None: ...
    def crossfade_split(
        self,
        out: NDArray[np.uint16],
        a: NDArray[np.uint16],
        b: NDArray[np.uint16],
        up: int,
        down: int,
        /,
    ) -> None: ...
    def scale(self, buf: NDArray[np.uint16], level: int, /) -> None: ...
    def combine_levels(self, a: int, b: int, /) -> int: ...
    def lut_gather_u8(
        self,
        out: NDArray[np.uint8],
        src: NDArray[np.uint16],
        src_index: NDArray[np.int32],
        lut_id: NDArray[np.uint8],
        luts: NDArray[np.uint8],
        /,
    ) -> None: ...
    def lut_gather_u16(
        self,
        out: NDArray[np.uint8],
        src: NDArray[np.uint16],
        src_index: NDArray[np.int32],
        lut_id: NDArray[np.uint8],
        luts: NDArray[np.uint16],
        /,
    ) -> None: ...
    def rgb_to_rgbw(self, out: NDArray[np.uint16], src: NDArray[np.uint16], /) -> None: ...
    def downscale_preview(
        self, out: NDArray[np.uint8], src: NDArray[np.uint16], h: int, w: int, h2: int, w2: int, /
    ) -> None: ...


def _load_backend() -> tuple[_Backend, Literal["cython", "numpy"]]:
    # msgpack's pattern: an environment switch forces the pure implementation, and a missing
    # extension (not built yet) falls back to it rather than failing the import.
    if os.environ.get("TROCADERO_PURE_KERNELS") == "1":
        return kernels_ref, "numpy"
    try:
        from . import _kernels
    except ImportError:
        return kernels_ref, "numpy"
    return _kernels, "cython"


_impl, IMPLEMENTATION = _load_backend()


def hold_gil(hold: bool) -> None:
    """Keep the GIL through every native kernel, compositing and layer sources (True), or
    drop it while each runs (False, the default). The daemon's render thread holds it: one
    wait for the GIL per frame instead of one after every kernel (see playout/frames.py).
    No effect on the numpy reference."""
    if IMPLEMENTATION != "cython":
        return
    from . import _kernels, _sources

    _kernels.set_release_gil(not hold)
    _sources.set_release_gil(not hold)


BUILD_PROFILE: Final[str] = _impl.BUILD_PROFILE
"""Build profile: "release" or "debug" for the Cython module, "numpy" for the reference."""


class BlendMode(IntEnum):
    """How a layer combines with what is below it (values are the kernel's mode numbers)."""

    NORMAL = kernels_ref.NORMAL
    ADD = kernels_ref.ADD
    MULTIPLY = kernels_ref.MULTIPLY
    SCREEN = kernels_ref.SCREEN
    MAX = kernels_ref.MAX  # HTP, "highest takes precedence"


class DimmerCurve(StrEnum):
    """Shape applied to the normalised level x in 0..1 before gamma (see ``build_lut``)."""

    LINEAR = "linear"  # x
    SQUARE = "square"  # x**2
    S_CURVE = "s-curve"  # 3x**2 - 2x**3 (smoothstep): soft at both ends


# ---------------------------------------------------------------------------------------------
# argument checks
# ---------------------------------------------------------------------------------------------


_T = TypeVar("_T", bound=np.generic)


def _flat(arr: object, name: str, dtype: type[_T], *, writeable: bool = False) -> NDArray[_T]:
    """The flat 1-D view of a C-contiguous array of ``dtype``, or an error naming ``name``."""
    if not isinstance(arr, np.ndarray):
        raise TypeError(f"{name} must be a numpy array, got {type(arr).__name__}")
    if arr.dtype != dtype:
        raise ValueError(f"{name} must have dtype {np.dtype(dtype).name}, got {arr.dtype.name}")
    if not arr.flags.c_contiguous:
        raise ValueError(f"{name} must be C-contiguous (use np.ascontiguousarray)")
    if writeable and not arr.flags.writeable:
        raise ValueError(f"{name} must be writeable")
    return arr.reshape(-1)


def _int(value: object, name: str, lo: int = 0, hi: int = 65535) -> int:
    """An integer in lo..hi (numpy integers accepted), or an error naming ``name``."""
    if type(value) is int:  # the per-frame case; isinstance(x, SupportsIndex) costs ~10 µs
        number = value
    elif isinstance(value, bool) or not hasattr(value, "__index__"):
        raise TypeError(f"{name} must be an integer, got {type(value).__name__}")
    else:
        number = operator.index(cast(SupportsIndex, value))
    if not lo <= number <= hi:
        raise ValueError(f"{name} must be in {lo}..{hi}, got {number}")
    return number


def _same_length(n: int, arr: NDArray[np.generic], name: str, ref: str) -> None:
    if arr.shape[0] != n:
        raise ValueError(f"{name} has length {arr.shape[0]}, expected {n} (the length of {ref})")


def _no_partial_overlap(
    out: NDArray[np.uint16], out_name: str, inp: NDArray[np.uint16], inp_name: str
) -> None:
    # The kernels are element-wise, so an output that is exactly an input is fine; a shifted
    # overlap would make the result depend on loop order (and differ between implementations).
    # may_share_memory only compares bounds (~1 µs); the exact test runs when that says yes.
    if not np.may_share_memory(out, inp):
        return
    if out.ctypes.data != inp.ctypes.data or out.shape != inp.shape:
        raise ValueError(f"{out_name} partially overlaps {inp_name}")


def _luts(luts: object, dtype: type[_T]) -> NDArray[_T]:
    if isinstance(luts, np.ndarray) and luts.ndim >= 2 and luts.shape[-1] != LUT_SIZE:
        raise ValueError(f"luts must have shape (n_luts, 65536), got {luts.shape}")
    flat = _flat(luts, "luts", dtype)
    if flat.shape[0] == 0 or flat.shape[0] % LUT_SIZE:
        raise ValueError(f"luts has {flat.shape[0]} entries, expected a positive multiple of 65536")
    return flat


# ---------------------------------------------------------------------------------------------
# kernels
# ---------------------------------------------------------------------------------------------


def blend(
    dst: NDArray[np.uint16], src: NDArray[np.uint16], mode: BlendMode | int, opacity: int
) -> None:
    """Blend ``src`` onto ``dst`` in place with ``mode`` at ``opacity`` (0..65535)."""
    d = _flat(dst, "dst", np.uint16, writeable=True)
    s = _flat(src, "src", np.uint16)
    _same_length(d.shape[0], s, "src", "dst")
    if dst is not src:
        _no_partial_overlap(d, "dst", s, "src")
    _impl.blend(d, s, _int(mode, "mode", 0, len(BlendMode) - 1), _int(opacity, "opacity"))


def crossfade(
    out: NDArray[np.uint16], a: NDArray[np.uint16], b: NDArray[np.uint16], t: int
) -> None:
    """out = a + (b - a) * t / 65535 (t in 0..65535); ``out`` may be ``a`` or ``b``."""
    o = _flat(out, "out", np.uint16, writeable=True)
    fa, fb = _flat(a, "a", np.uint16), _flat(b, "b", np.uint16)
    _same_length(o.shape[0], fa, "a", "out")
    _same_length(o.shape[0], fb, "b", "out")
    if out is not a:  # the same array is fine, and cheap to recognise
        _no_partial_overlap(o, "out", fa, "a")
    if out is not b:
        _no_partial_overlap(o, "out", fb, "b")
    _impl.crossfade(o, fa, fb, _int(t, "t"))


def crossfade_split(
    out: NDArray[np.uint16], a: NDArray[np.uint16], b: NDArray[np.uint16], up: int, down: int
) -> None:
    """Per value, a → b with progress ``up`` where b > a, else ``down`` (0..65535 each)."""
    o = _flat(out, "out", np.uint16, writeable=True)
    fa, fb = _flat(a, "a", np.uint16), _flat(b, "b", np.uint16)
    _same_length(o.shape[0], fa, "a", "out")
    _same_length(o.shape[0], fb, "b", "out")
    if out is not a:
        _no_partial_overlap(o, "out", fa, "a")
    if out is not b:
        _no_partial_overlap(o, "out", fb, "b")
    _impl.crossfade_split(o, fa, fb, _int(up, "up"), _int(down, "down"))


def scale(buf: NDArray[np.uint16], level: int) -> None:
    """Multiply ``buf`` in place by level / 65535 (a master; combine masters first)."""
    _impl.scale(_flat(buf, "buf", np.uint16, writeable=True), _int(level, "level"))


def combine_levels(a: int, b: int) -> int:
    """One level for two masters in series, e.g. grand master x canvas master."""
    return kernels_ref.combine_levels(_int(a, "a"), _int(b, "b"))


def lut_gather_u8(
    out: NDArray[np.uint8],
    src: NDArray[np.uint16],
    src_index: NDArray[np.int32],
    lut_id: NDArray[np.uint8],
    luts: NDArray[np.uint8],
) -> None:
    """Fill DMX slots: out[i] = luts[lut_id[i]][src[src_index[i]]], 0 where src_index[i] < 0.

    ``luts`` is (n_luts, 65536) or its flat form. Raises ValueError naming the first slot whose
    index or table id is out of range (``out`` is then partly written).
    """
    o, s, idx, ids = _gather_args(out, src, src_index, lut_id, slots=1)
    _impl.lut_gather_u8(o, s, idx, ids, _luts(luts, np.uint8))


def lut_gather_u16(
    out: NDArray[np.uint8],
    src: NDArray[np.uint16],
    src_index: NDArray[np.int32],
    lut_id: NDArray[np.uint8],
    luts: NDArray[np.uint16],
) -> None:
    """Like ``lut_gather_u8`` with 16-bit tables, writing coarse/fine slot pairs.

    ``out`` has two slots per ``src_index`` entry: out[2i] = v >> 8, out[2i + 1] = v & 0xFF.
    """
    o, s, idx, ids = _gather_args(out, src, src_index, lut_id, slots=2)
    _impl.lut_gather_u16(o, s, idx, ids, _luts(luts, np.uint16))


def _gather_args(
    out: NDArray[np.uint8],
    src: NDArray[np.uint16],
    src_index: NDArray[np.int32],
    lut_id: NDArray[np.uint8],
    *,
    slots: int,
) -> tuple[NDArray[np.uint8], NDArray[np.uint16], NDArray[np.int32], NDArray[np.uint8]]:
    o = _flat(out, "out", np.uint8, writeable=True)
    s = _flat(src, "src", np.uint16)
    idx = _flat(src_index, "src_index", np.int32)
    ids = _flat(lut_id, "lut_id", np.uint8)
    _same_length(idx.shape[0], ids, "lut_id", "src_index")
    if o.shape[0] != slots * idx.shape[0]:
        raise ValueError(
            f"out has length {o.shape[0]}, expected {slots * idx.shape[0]}"
            f" ({slots} per src_index entry)"
        )
    return o, s, idx, ids


def rgb_to_rgbw(out: NDArray[np.uint16], src: NDArray[np.uint16]) -> None:
    """RGB (3 values per pixel) to RGBW (4 per pixel) with W = min(R, G, B)."""
    o = _flat(out, "out", np.uint16, writeable=True)
    s = _flat(src, "src", np.uint16)
    if s.shape[0] % 3:
        raise ValueError(f"src has length {s.shape[0]}, expected a multiple of 3 (RGB)")
    if o.shape[0] != s.shape[0] // 3 * 4:
        raise ValueError(f"out has length {o.shape[0]}, expected {s.shape[0] // 3 * 4}")
    if np.may_share_memory(o, s):
        raise ValueError("out overlaps src")
    _impl.rgb_to_rgbw(o, s)


def downscale_preview(
    out: NDArray[np.uint8], src: NDArray[np.uint16], h: int, w: int, h2: int, w2: int
) -> None:
    """Box-average an h x w RGB16 canvas into an h2 x w2 RGB8 preview (h2 <= h, w2 <= w)."""
    o = _flat(out, "out", np.uint8, writeable=True)
    s = _flat(src, "src", np.uint16)
    big = 1 << 30
    h, w = _int(h, "h", 1, big), _int(w, "w", 1, big)
    h2, w2 = _int(h2, "h2", 1, h), _int(w2, "w2", 1, w)
    if s.shape[0] != h * w * 3:
        raise ValueError(f"src has length {s.shape[0]}, expected {h * w * 3} (h*w*3)")
    if o.shape[0] != h2 * w2 * 3:
        raise ValueError(f"out has length {o.shape[0]}, expected {h2 * w2 * 3} (h2*w2*3)")
    _impl.downscale_preview(o, s, h, w, h2, w2)


# ---------------------------------------------------------------------------------------------
# lookup tables (built once per fixture type and channel, not per frame)
# ---------------------------------------------------------------------------------------------


def _number(value: object, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise TypeError(f"{name} must be a number, got {type(value).__name__}")
    return float(value)


def _curve_levels(gamma: object, gain: object, dimmer_curve: str) -> NDArray[np.float64]:
    """gain * curve(x) ** gamma for x = i / 65535, i in 0..65535, as float64 in 0..1."""
    g = _number(gamma, "gamma")
    if not (math.isfinite(g) and g > 0):
        raise ValueError(f"gamma must be a finite number > 0, got {gamma!r}")
    k = _number(gain, "white_balance_gain")
    if not 0.0 <= k <= 1.0:
        raise ValueError(f"white_balance_gain must be in 0..1, got {gain!r}")
    try:
        curve = DimmerCurve(dimmer_curve)
    except ValueError:
        names = ", ".join(c.value for c in DimmerCurve)
        raise ValueError(f"dimmer_curve must be one of {names}; got {dimmer_curve!r}") from None
    x = np.arange(LUT_SIZE, dtype=np.float64) / 65535.0
    if curve is DimmerCurve.SQUARE:
        x = x * x
    elif curve is DimmerCurve.S_CURVE:
        x = x * x * (3.0 - 2.0 * x)
    return k * np.power(x, g)


def build_lut(
    gamma: float = 2.2,
    white_balance_gain: float = 1.0,
    dimmer_curve: DimmerCurve | str = DimmerCurve.LINEAR,
) -> NDArray[np.uint8]:
    """A 65536-entry table mapping a 16-bit canvas value to an 8-bit DMX slot value.

    With x = i / 65535: lut[i] = floor(255 * gain * curve(x) ** gamma + 0.5), where curve is the
    dimmer curve (linear x, square x**2, s-curve 3x**2 - 2x**3) and gain the channel's white
    balance (0..1, scales the channel's full output). gamma 1 is linear; 2.2 (the default)
    roughly matches perceived brightness on LEDs. End points: lut[0] = 0 and
    lut[65535] = round(255 * gain). Stack one table per fixture type and colour channel into an
    (n_luts, 65536) array for ``lut_gather_u8``.
    """
    levels = _curve_levels(gamma, white_balance_gain, dimmer_curve)
    return np.floor(levels * 255.0 + 0.5).astype(np.uint8)


def build_lut_u16(
    gamma: float = 2.2,
    white_balance_gain: float = 1.0,
    dimmer_curve: DimmerCurve | str = DimmerCurve.LINEAR,
) -> NDArray[np.uint16]:
    """Like ``build_lut`` for 16-bit fixtures: floor(65535 * gain * curve(x) ** gamma + 0.5)."""
    levels = _curve_levels(gamma, white_balance_gain, dimmer_curve)
    return np.floor(levels * 65535.0 + 0.5).astype(np.uint16)
