# cython: language_level=3, autotestdict=False
"""Cython per-frame loops for the procedural layer sources (gradients, noise, plasma).

Each function turns a float32 field into palette indices and writes the palette colours
straight into the (flat, C-contiguous) uint16 RGB output, without the GIL, in blocks of 256
pixels: a loop gcc vectorises computes the block's indices, then a scalar loop copies the
colours (one fused scalar loop was 2.5x slower). The
numpy reference with the same semantics, and the façade that callers use, are in
``trocadero.playout.render.fields``; the float operations happen in the same order in both, so
the results agree (tests allow one palette entry of difference for float rounding).

Palettes are lookup tables of shape (m, 4): red, green, blue and a zero pad per entry, so one
pixel is one 8-byte load and one (overlapping) 8-byte store; the last pixel of a buffer is
stored with 6 bytes. This module checks only what memory safety needs (lengths, table shape,
mask range); every index is masked or clamped, whatever the floats hold.
"""

from libc.stdint cimport int32_t, uint16_t
from libc.string cimport memcpy


# Whether kernels drop the GIL while they run. On (the default), other Python threads run
# meanwhile. The daemon's render thread turns it off (`set_release_gil(False)`): a frame is
# ~1 ms of kernels, and re-taking the GIL after each one from a busy Trio thread could cost a
# whole switch interval (5 ms) each time; holding it, the render waits at most once per frame.
cdef bint _release_gil = True


def set_release_gil(bint release):
    """Whether the kernels release the GIL while they run (default True)."""
    global _release_gil
    _release_gil = release


def release_gil():
    """The current setting of `set_release_gil`."""
    return _release_gil


cdef extern from *:
    const char* TROCADERO_BUILD_PROFILE

BUILD_PROFILE: str = TROCADERO_BUILD_PROFILE.decode("ascii")


cdef int _check(bint ok, str message) except -1:
    if not ok:
        raise ValueError(message)
    return 0


cdef int _check_lut(const uint16_t[:, ::1] lut) except -1:
    _check(lut.shape[1] == 4, f"lut must have shape (m, 4), got ({lut.shape[0]}, {lut.shape[1]})")
    _check(lut.shape[0] > 0, "lut must not be empty")
    return 0


cdef enum:
    _BLOCK = 256  # pixels per block: indices are computed for a block, then gathered


cdef inline void _clamp_block(const float* v, int32_t* k, Py_ssize_t count, float top) noexcept nogil:
    # k = trunc(v) clamped to 0..top (NaN gives 0), in float so the loop vectorises; the numpy
    # reference clips, then truncates
    cdef Py_ssize_t j
    cdef float f
    for j in range(count):
        f = v[j]
        f = f if f > <float>0.0 else <float>0.0
        f = f if f < top else top
        k[j] = <int32_t>f


cdef inline void _gather_block(
    uint16_t* out, const int32_t* k, Py_ssize_t count, const uint16_t* lut
) noexcept nogil:
    # pixel j = entry k[j]: 8 bytes (the pad lands on pixel j + 1, which is written next), and
    # 6 bytes for the block's last pixel
    cdef Py_ssize_t j
    for j in range(count - 1):
        memcpy(out + 3 * j, lut + 4 * k[j], 8)
    memcpy(out + 3 * (count - 1), lut + 4 * k[count - 1], 6)


# The loops are cdef functions called through pointers (see _kernels.pyx: inlined into the
# wrapper they lose their registers to it). Each works in blocks: a vectorisable pass computes
# the block's indices, then a scalar pass copies the palette entries.

ctypedef void (*_shift_loop)(
    uint16_t*, const float*, Py_ssize_t, float, const uint16_t*, Py_ssize_t, int32_t
) noexcept nogil
ctypedef void (*_lerp_loop)(
    uint16_t*, const float*, const float*, Py_ssize_t, float, const uint16_t*, Py_ssize_t
) noexcept nogil
ctypedef void (*_plasma_loop)(
    uint16_t*, Py_ssize_t, Py_ssize_t, const float*, const float*, const float*, const float*,
    const float*, const float*, const float*, const float*, float, float, const uint16_t*,
    Py_ssize_t,
) noexcept nogil


cdef void _shift_gather(
    uint16_t* out, const float* pos, Py_ssize_t n, float shift, const uint16_t* lut,
    Py_ssize_t m, int32_t mask,
) noexcept nogil:
    # pos + shift is non-negative and below 2**31 by construction (the façade keeps shift in
    # 0..m); the mask keeps any index inside the table even if it were not
    cdef Py_ssize_t i0, j, count
    cdef int32_t k[_BLOCK]
    i0 = 0
    while i0 < n:
        count = min(<Py_ssize_t>_BLOCK, n - i0)
        for j in range(count):
            k[j] = (<int32_t>(pos[i0 + j] + shift)) & mask
        _gather_block(out + 3 * i0, k, count, lut)
        i0 += count


cdef void _lerp_gather(
    uint16_t* out, const float* a, const float* d, Py_ssize_t n, float w, const uint16_t* lut,
    Py_ssize_t m,
) noexcept nogil:
    cdef Py_ssize_t i0, j, count
    cdef float top = <float>(m - 1)
    cdef float v[_BLOCK]
    cdef int32_t k[_BLOCK]
    i0 = 0
    while i0 < n:
        count = min(<Py_ssize_t>_BLOCK, n - i0)
        for j in range(count):
            v[j] = a[i0 + j] + d[i0 + j] * w
        _clamp_block(v, k, count, top)
        _gather_block(out + 3 * i0, k, count, lut)
        i0 += count


cdef void _plasma_gather(
    uint16_t* out, Py_ssize_t h, Py_ssize_t w, const float* colx, const float* rowy,
    const float* sa, const float* ca, const float* cb, const float* sb, const float* sr,
    const float* cr, float c4, float s4, const uint16_t* lut, Py_ssize_t m,
) noexcept nogil:
    cdef Py_ssize_t x0, y, j, count, i
    cdef float ry, cby, sby
    cdef float top = <float>(m - 1)
    cdef float v[_BLOCK]
    cdef int32_t k[_BLOCK]
    for y in range(h):
        ry = rowy[y]
        cby = cb[y]
        sby = sb[y]
        x0 = 0
        while x0 < w:
            count = min(<Py_ssize_t>_BLOCK, w - x0)
            i = y * w + x0
            for j in range(count):
                # left to right, as the numpy reference adds
                v[j] = (
                    colx[x0 + j] + ry + sa[x0 + j] * cby + ca[x0 + j] * sby + sr[i + j] * c4
                    + cr[i + j] * s4
                )
            _clamp_block(v, k, count, top)
            _gather_block(out + 3 * i, k, count, lut)
            x0 += count


cdef _shift_loop _SHIFT = _shift_gather
cdef _lerp_loop _LERP = _lerp_gather
cdef _plasma_loop _PLASMA = _plasma_gather


def shift_gather(
    uint16_t[::1] out not None,
    const float[::1] pos not None,
    float shift,
    const uint16_t[:, ::1] lut not None,
    int mask,
):
    """out[3i:3i+3] = lut[int(pos[i] + shift) & mask, :3] (a scrolling, wrapping gradient)."""
    cdef Py_ssize_t n = pos.shape[0]
    _check(out.shape[0] == 3 * n, f"out has length {out.shape[0]}, expected {3 * n} (3 * pos)")
    _check_lut(lut)
    _check(0 <= mask < lut.shape[0], f"mask must be in 0..{lut.shape[0] - 1}, got {mask}")
    if _release_gil:
        with nogil:
            _SHIFT(&out[0] if n else NULL, &pos[0] if n else NULL, n, shift, &lut[0, 0],
                   lut.shape[0], mask)
    else:
        _SHIFT(&out[0] if n else NULL, &pos[0] if n else NULL, n, shift, &lut[0, 0],
               lut.shape[0], mask)


def lerp_gather(
    uint16_t[::1] out not None,
    const float[::1] a not None,
    const float[::1] d not None,
    float w,
    const uint16_t[:, ::1] lut not None,
):
    """out[3i:3i+3] = lut[clamp(trunc(a[i] + d[i] * w), 0, m - 1), :3] (noise between slices)."""
    cdef Py_ssize_t n = a.shape[0]
    _check(d.shape[0] == n, f"d has length {d.shape[0]}, expected {n} (the length of a)")
    _check(out.shape[0] == 3 * n, f"out has length {out.shape[0]}, expected {3 * n} (3 * a)")
    _check_lut(lut)
    if _release_gil:
        with nogil:
            _LERP(&out[0] if n else NULL, &a[0] if n else NULL, &d[0] if n else NULL, n, w,
                  &lut[0, 0], lut.shape[0])
    else:
        _LERP(&out[0] if n else NULL, &a[0] if n else NULL, &d[0] if n else NULL, n, w,
              &lut[0, 0], lut.shape[0])


def plasma_gather(
    uint16_t[::1] out not None,
    const float[::1] colx not None,
    const float[::1] rowy not None,
    const float[::1] sa not None,
    const float[::1] ca not None,
    const float[::1] cb not None,
    const float[::1] sb not None,
    const float[::1] sr not None,
    const float[::1] cr not None,
    float c4,
    float s4,
    const uint16_t[:, ::1] lut not None,
):
    """Sum-of-sines plasma (see fields.py): per pixel (y, x), i = y * w + x,
    v = colx[x] + rowy[y] + sa[x] * cb[y] + ca[x] * sb[y] + sr[i] * c4 + cr[i] * s4,
    out[3i:3i+3] = lut[clamp(trunc(v), 0, m - 1), :3]."""
    cdef Py_ssize_t w = colx.shape[0]
    cdef Py_ssize_t h = rowy.shape[0]
    cdef Py_ssize_t n = w * h
    _check(sa.shape[0] == w and ca.shape[0] == w, "sa and ca must have the length of colx")
    _check(cb.shape[0] == h and sb.shape[0] == h, "cb and sb must have the length of rowy")
    _check(sr.shape[0] == n and cr.shape[0] == n, f"sr and cr must have length {n} (h * w)")
    _check(out.shape[0] == 3 * n, f"out has length {out.shape[0]}, expected {3 * n} (3 h w)")
    _check_lut(lut)
    if n == 0:
        return
    if _release_gil:
        with nogil:
            _PLASMA(&out[0], h, w, &colx[0], &rowy[0], &sa[0], &ca[0], &cb[0], &sb[0], &sr[0],
                    &cr[0], c4, s4, &lut[0, 0], lut.shape[0])
    else:
        _PLASMA(&out[0], h, w, &colx[0], &rowy[0], &sa[0], &ca[0], &cb[0], &sb[0], &sr[0],
                &cr[0], c4, s4, &lut[0, 0], lut.shape[0])
