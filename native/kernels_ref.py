"""Pure-numpy reference for the render kernels in ``_kernels.pyx``.

Same names, signatures and integer formulas as the Cython module (see the ``kernels`` module
docstring), so the two give bit-identical results; the test suite runs against both. It is the
oracle for the Cython code and the fallback when ``TROCADERO_PURE_KERNELS=1``. Everything is
vectorised; intermediates are uint32 (every value stays below 2**32) or uint64 for the preview
sums. Like the Cython module it expects flat 1-D arrays and checks only lengths, index ranges and
parameters; dtype and contiguity checks live in the façade.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

U16 = NDArray[np.uint16]
U8 = NDArray[np.uint8]
I32 = NDArray[np.int32]
U32 = NDArray[np.uint32]

BUILD_PROFILE = "numpy"

NORMAL = 0
ADD = 1
MULTIPLY = 2
SCREEN = 3
MAX = 4

LUT_SIZE = 65536

_FULL = 65535
_HALF = 32767


def _check_level(value: int, name: str) -> None:
    if not 0 <= value <= _FULL:
        raise ValueError(f"{name} must be in 0..65535, got {value!r}")


def _check_same_length(n: int, m: int, name: str, ref: str) -> None:
    if n != m:
        raise ValueError(f"{name} has length {m}, expected {n} (the length of {ref})")


def _div_round(x: U32) -> U32:
    """x / 65535 rounded to nearest (in place on x); 65535 is odd, so there are no ties."""
    x += _HALF
    x //= _FULL
    return x


def _mul(x: U32, y: U32) -> U32:
    return _div_round(x * y)


def _mode_result(mode: int, d: U32, s: U32) -> U32:
    """f(dst, src) of a blend mode, as uint32 values in 0..65535."""
    if mode == NORMAL:
        return s
    if mode == ADD:
        total = d + s
        np.minimum(total, _FULL, out=total)
        return total
    if mode == MULTIPLY:
        return _mul(d, s)
    if mode == SCREEN:
        return _FULL - _mul(_FULL - d, _FULL - s)
    return np.maximum(d, s)


def _lerp(a: U32, b: U32, t: int) -> U32:
    # (a * (65535 - t) + b * t + 32767) // 65535: the convex combination never goes negative
    # and a == b gives a back exactly.
    acc = a * np.uint32(_FULL - t)
    acc += b * np.uint32(t)
    return _div_round(acc)


def blend(dst: U16, src: U16, mode: int, opacity: int) -> None:
    """Blend ``src`` onto ``dst`` in place: dst = lerp(dst, f(dst, src), opacity)."""
    _check_same_length(dst.shape[0], src.shape[0], "src", "dst")
    _check_level(opacity, "opacity")
    if not NORMAL <= mode <= MAX:
        raise ValueError(f"mode must be a BlendMode (0..4), got {mode!r}")
    if opacity == 0:
        return
    d = dst.astype(np.uint32)
    f = _mode_result(mode, d, src.astype(np.uint32))
    dst[...] = f if opacity == _FULL else _lerp(d, f, opacity)


def crossfade(out: U16, a: U16, b: U16, t: int) -> None:
    """out = a + (b - a) * t / 65535, rounded to nearest; out may be a or b."""
    n = out.shape[0]
    _check_same_length(n, a.shape[0], "a", "out")
    _check_same_length(n, b.shape[0], "b", "out")
    _check_level(t, "t")
    out[...] = _lerp(a.astype(np.uint32), b.astype(np.uint32), t)


def crossfade_split(out: U16, a: U16, b: U16, up: int, down: int) -> None:
    """Per value: lerp(a, b, up) where b > a (a rising level), else lerp(a, b, down)."""
    n = out.shape[0]
    _check_same_length(n, a.shape[0], "a", "out")
    _check_same_length(n, b.shape[0], "b", "out")
    _check_level(up, "up")
    _check_level(down, "down")
    a32, b32 = a.astype(np.uint32), b.astype(np.uint32)
    out[...] = np.where(b32 > a32, _lerp(a32, b32, up), _lerp(a32, b32, down))


def scale(buf: U16, level: int) -> None:
    """buf = buf * level / 65535 in place, rounded to nearest."""
    _check_level(level, "level")
    prod = buf.astype(np.uint32)
    prod *= np.uint32(level)
    buf[...] = _div_round(prod)


def combine_levels(a: int, b: int) -> int:
    """Product of two 0..65535 levels, as one level (grand master x canvas master)."""
    _check_level(a, "a")
    _check_level(b, "b")
    return (a * b + _HALF) // _FULL


def _check_gather_args(
    out: NDArray[np.generic], index: I32, lut_id: U8, luts_len: int, slots: int
) -> None:
    n = index.shape[0]
    _check_same_length(n, lut_id.shape[0], "lut_id", "src_index")
    if out.shape[0] != slots * n:
        raise ValueError(
            f"out has length {out.shape[0]}, expected {slots * n} ({slots} per src_index entry)"
        )
    if luts_len == 0 or luts_len % LUT_SIZE:
        raise ValueError(f"luts has length {luts_len}, expected a positive multiple of 65536")


def _gather(src: U16, src_index: I32, lut_id: U8, luts: NDArray[np.generic]) -> NDArray[np.intp]:
    """Flat positions into ``luts`` for every slot, with -1 where the slot is unpatched."""
    n_luts = luts.shape[0] // LUT_SIZE
    n_src = src.shape[0]
    # Report the first bad slot, as the Cython loop does (it stops at the first one).
    bad = (lut_id >= n_luts) | (src_index >= n_src)
    if bad.any():
        i = int(np.argmax(bad))
        if lut_id[i] >= n_luts:
            raise ValueError(f"lut_id[{i}] is {lut_id[i]}, but luts holds only {n_luts} tables")
        raise ValueError(f"src_index[{i}] is {src_index[i]}, but src has only {n_src} values")
    patched = src_index >= 0
    # np.take(mode="clip") keeps unpatched slots (index -1) from failing, even on an empty src.
    values = np.take(src, src_index, mode="clip") if n_src else np.zeros(0, np.uint16)
    pos = lut_id.astype(np.intp) * LUT_SIZE
    if n_src:
        pos += values
    return np.where(patched, pos, -1)


def lut_gather_u8(out: U8, src: U16, src_index: I32, lut_id: U8, luts: U8) -> None:
    """out[i] = luts[lut_id[i] * 65536 + src[src_index[i]]], or 0 where src_index[i] < 0."""
    _check_gather_args(out, src_index, lut_id, luts.shape[0], 1)
    pos = _gather(src, src_index, lut_id, luts)
    out[...] = np.where(pos >= 0, np.take(luts, pos, mode="clip"), 0)


def lut_gather_u16(out: U8, src: U16, src_index: I32, lut_id: U8, luts: U16) -> None:
    """Like lut_gather_u8 with 16-bit tables: out[2i], out[2i+1] = coarse, fine byte."""
    _check_gather_args(out, src_index, lut_id, luts.shape[0], 2)
    pos = _gather(src, src_index, lut_id, luts)
    values = np.where(pos >= 0, np.take(luts, pos, mode="clip"), 0)
    out[0::2] = values >> 8
    out[1::2] = values & 0xFF


def rgb_to_rgbw(out: U16, src: U16) -> None:
    """RGB -> RGBW with W = min(R, G, B) taken out of each of R, G and B."""
    if src.shape[0] % 3:
        raise ValueError(f"src has length {src.shape[0]}, expected a multiple of 3 (RGB)")
    n_px = src.shape[0] // 3
    if out.shape[0] != 4 * n_px:
        raise ValueError(f"out has length {out.shape[0]}, expected {4 * n_px} (4 per pixel)")
    rgb = src.reshape(n_px, 3)
    w = rgb.min(axis=1, keepdims=True)
    rgbw = out.reshape(n_px, 4)
    rgbw[:, :3] = rgb - w
    rgbw[:, 3:] = w


def _box_edges(n: int, n2: int) -> NDArray[np.intp]:
    """Start of each output box along one axis: box k covers [k*n//n2, (k+1)*n//n2)."""
    return (np.arange(n2 + 1, dtype=np.intp) * n) // n2


def downscale_preview(out: U8, src: U16, h: int, w: int, h2: int, w2: int) -> None:
    """Box-average an h x w RGB16 image down to h2 x w2 RGB8 (h2 <= h, w2 <= w)."""
    if h < 1 or w < 1:
        raise ValueError(f"h and w must be >= 1, got h={h}, w={w}")
    if not (1 <= h2 <= h and 1 <= w2 <= w):
        raise ValueError(f"h2, w2 must be in 1..h, 1..w, got h2={h2}, w2={w2} for {h}x{w}")
    if src.shape[0] != h * w * 3:
        raise ValueError(f"src has length {src.shape[0]}, expected {h * w * 3} (h*w*3)")
    if out.shape[0] != h2 * w2 * 3:
        raise ValueError(f"out has length {out.shape[0]}, expected {h2 * w2 * 3} (h2*w2*3)")
    ys, xs = _box_edges(h, h2), _box_edges(w, w2)
    img = src.reshape(h, w, 3).astype(np.uint64)
    sums = np.add.reduceat(np.add.reduceat(img, ys[:-1], axis=0), xs[:-1], axis=1)
    count = np.outer(np.diff(ys), np.diff(xs)).astype(np.uint64)[:, :, None]
    # mean / 257 (65535 -> 255), rounded half up
    out[...] = ((2 * sums + 257 * count) // (514 * count)).reshape(-1)
