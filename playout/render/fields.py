"""Per-frame field → palette kernels for the procedural sources, Cython with a numpy reference.

Three loops do the per-frame work of the animated procedural sources. Each evaluates a float32
field per pixel, turns it into an index k into a palette table ``lut`` of shape (m, 4) (red,
green, blue, zero pad: ``colour.palette_lut``) and writes lut[k, :3] into the uint16 RGB
output:

* ``shift_gather`` (scrolling gradients): k = trunc(pos[i] + shift) & mask, where pos >= 0,
  0 <= shift < m and m = mask + 1 is a power of two, so the gradient wraps around cyclically;
* ``lerp_gather`` (noise between two time slices): k = clamp(trunc(a[i] + d[i] * w), 0, m - 1);
* ``plasma_gather`` (sum of sines, rebuilt from separable parts by the angle-sum identity):
  v = colx[x] + rowy[y] + sa[x] * cb[y] + ca[x] * sb[y] + sr[i] * c4 + cr[i] * s4,
  k = clamp(trunc(v), 0, m - 1).

Scalars are rounded to float32 first and the additions happen left to right in float32 in
both implementations, so they normally agree exactly; the tests allow one palette entry of
difference in case a compiler contracts a multiply-add.

The Cython module (``trocadero.native._sources``) is used when it is built, unless
``TROCADERO_PURE_KERNELS=1`` is set (the same switch as the compositing kernels);
``IMPLEMENTATION`` says which one runs. The numpy reference keeps its temporaries in a
``Scratch`` owned by the calling source, so it allocates nothing per frame either.
"""

from __future__ import annotations

import math
import os
from types import ModuleType
from typing import Final, Literal

import numpy as np
from numpy.typing import NDArray

__all__ = [
    "IMPLEMENTATION",
    "Scratch",
    "lerp_gather",
    "plasma_gather",
    "ref_lerp_gather",
    "ref_plasma_gather",
    "ref_shift_gather",
    "shift_gather",
]


def _load_native() -> ModuleType | None:
    if os.environ.get("TROCADERO_PURE_KERNELS") == "1":
        return None
    try:
        from trocadero.native import _sources
    except ImportError:
        return None
    return _sources


_native: ModuleType | None = _load_native()
IMPLEMENTATION: Final[Literal["cython", "numpy"]] = "numpy" if _native is None else "cython"


class Scratch:
    """Per-source temporaries for the numpy reference, allocated on first use, then reused."""

    def __init__(self, n: int) -> None:
        self.n = n
        self._f32: list[NDArray[np.float32]] = []
        self._i32: NDArray[np.int32] | None = None
        self._u16: NDArray[np.uint16] | None = None

    def f32(self, k: int) -> NDArray[np.float32]:
        """The k-th float32 temporary (0 or 1) of n elements."""
        while len(self._f32) <= k:
            self._f32.append(np.empty(self.n, dtype=np.float32))
        return self._f32[k]

    def i32(self) -> NDArray[np.int32]:
        if self._i32 is None:
            self._i32 = np.empty(self.n, dtype=np.int32)
        return self._i32

    def u16(self) -> NDArray[np.uint16]:
        if self._u16 is None:
            self._u16 = np.empty(self.n, dtype=np.uint16)
        return self._u16


def _scratch(scratch: Scratch | None, n: int) -> Scratch:
    return scratch if scratch is not None and scratch.n == n else Scratch(n)


def gather(
    out: NDArray[np.uint16],
    index: NDArray[np.int32],
    lut: NDArray[np.uint16],
    tmp: NDArray[np.uint16],
) -> None:
    """out (n*3, flat) = lut[index, :3] (index clipped to the table); numpy, per channel."""
    rgb = out.reshape(-1, 3)
    for c in range(3):
        np.take(lut[:, c], index, out=tmp, mode="clip")
        rgb[:, c] = tmp


# ---------------------------------------------------------------------------------------------
# numpy reference (flat arrays, same arguments as the Cython functions plus the scratch)
# ---------------------------------------------------------------------------------------------


def ref_shift_gather(
    out: NDArray[np.uint16],
    pos: NDArray[np.float32],
    shift: float,
    lut: NDArray[np.uint16],
    mask: int,
    scratch: Scratch | None = None,
) -> None:
    s = _scratch(scratch, pos.shape[0])
    v, k = s.f32(0), s.i32()
    np.add(pos, np.float32(shift), out=v)
    np.copyto(k, v, casting="unsafe")  # truncation: v >= 0 by construction
    np.bitwise_and(k, mask, out=k)
    gather(out, k, lut, s.u16())


def ref_lerp_gather(
    out: NDArray[np.uint16],
    a: NDArray[np.float32],
    d: NDArray[np.float32],
    w: float,
    lut: NDArray[np.uint16],
    scratch: Scratch | None = None,
) -> None:
    s = _scratch(scratch, a.shape[0])
    v, k = s.f32(0), s.i32()
    np.multiply(d, np.float32(w), out=v)
    np.add(a, v, out=v)
    np.clip(v, 0, lut.shape[0] - 1, out=v)
    np.copyto(k, v, casting="unsafe")
    gather(out, k, lut, s.u16())


def ref_plasma_gather(
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
    scratch: Scratch | None = None,
) -> None:
    h, w = rowy.shape[0], colx.shape[0]
    s = _scratch(scratch, h * w)
    v, tmp, k = s.f32(0).reshape(h, w), s.f32(1).reshape(h, w), s.i32()
    np.add(colx, rowy[:, None], out=v)
    np.multiply(sa, cb[:, None], out=tmp)
    v += tmp
    np.multiply(ca, sb[:, None], out=tmp)
    v += tmp
    np.multiply(sr.reshape(h, w), np.float32(c4), out=tmp)
    v += tmp
    np.multiply(cr.reshape(h, w), np.float32(s4), out=tmp)
    v += tmp
    np.clip(v, 0, lut.shape[0] - 1, out=v)
    np.copyto(k, v.reshape(-1), casting="unsafe")
    gather(out, k, lut, s.u16())


# ---------------------------------------------------------------------------------------------
# façade: (h, w, 3) output and (h, w) fields, as the sources hold them
# ---------------------------------------------------------------------------------------------


def shift_gather(
    out: NDArray[np.uint16],
    pos: NDArray[np.float32],
    shift: float,
    lut: NDArray[np.uint16],
    scratch: Scratch,
) -> None:
    """Scrolling gradient: lut[trunc(pos + shift) & (m - 1)]; m must be a power of two and
    pos non-negative; shift is reduced to 0..m here."""
    m = lut.shape[0]
    mask = m - 1
    shift = shift % m if math.isfinite(shift) else 0.0
    if _native is not None:
        _native.shift_gather(out.reshape(-1), pos.reshape(-1), shift, lut, mask)
    else:
        ref_shift_gather(out.reshape(-1), pos.reshape(-1), shift, lut, mask, scratch)


def lerp_gather(
    out: NDArray[np.uint16],
    a: NDArray[np.float32],
    d: NDArray[np.float32],
    w: float,
    lut: NDArray[np.uint16],
    scratch: Scratch,
) -> None:
    """Field a + d * w (a, d prescaled to table entries) through the palette, clamped."""
    if _native is not None:
        _native.lerp_gather(out.reshape(-1), a.reshape(-1), d.reshape(-1), w, lut)
    else:
        ref_lerp_gather(out.reshape(-1), a.reshape(-1), d.reshape(-1), w, lut, scratch)


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
    scratch: Scratch,
) -> None:
    """The plasma field (see the module docstring) through the palette, clamped."""
    args = (colx, rowy, sa, ca, cb, sb, sr.reshape(-1), cr.reshape(-1), c4, s4, lut)
    if _native is not None:
        _native.plasma_gather(out.reshape(-1), *args)
    else:
        ref_plasma_gather(out.reshape(-1), *args, scratch)
