# cython: language_level=3, autotestdict=False
"""Cython kernels for the render path (compositing, masters, gamma, pixel-map gather).

Every kernel works on flat, C-contiguous 1-D buffers, writes into a caller-supplied output and
runs its loop without the GIL. The integer formulas (and so the exact results) are documented in
``kernels.py`` and mirrored bit for bit by the numpy reference in ``kernels_ref.py``. Callers
should go through the ``trocadero.native.kernels`` façade, which validates dtypes and shapes;
this module checks only what it needs for memory safety (lengths, index ranges, parameters).
"""

from libc.stdint cimport int32_t, uint8_t, uint16_t, uint32_t, uint64_t
from libc.string cimport memmove, memset


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

# Blend modes; the façade re-exports them as the IntEnum ``BlendMode``.
NORMAL: int = 0
ADD: int = 1
MULTIPLY: int = 2
SCREEN: int = 3
MAX: int = 4

LUT_SIZE: int = 65536

cdef enum:
    _NORMAL = 0
    _ADD = 1
    _MULTIPLY = 2
    _SCREEN = 3
    _MAX = 4
    _FULL = 65535
    _HALF = 32767
    _LUT_SIZE = 65536


# ---------------------------------------------------------------------------------------------
# Scalar helpers. Products are formed as uint16 x uint16 -> uint32 so that gcc emits SSE2
# widening multiplies (pmullw/pmulhuw) and vectorises every loop; every intermediate value stays
# below 2**32 (65535 * 65535 + 32767 fits).
# ---------------------------------------------------------------------------------------------

cdef inline uint16_t _div_round(uint32_t x) noexcept nogil:
    # (x + 32767) // 65535, i.e. x / 65535 rounded to nearest (65535 is odd: never a tie), for
    # x <= 65535 * 65535, without a division. With y = x + 32767 = 65535 q + r (0 <= r < 65535,
    # q <= 65535): y >> 16 = q + e with e in {-1, 0}, so y + (y >> 16) + 1 = 65536 q + (r + e + 1)
    # and 0 <= r + e + 1 <= 65535, hence the final shift yields q exactly. No uint32 overflow:
    # y + 65536 < 2**32. (Also checked exhaustively over 0..65535**2 with numpy.) The numpy
    # reference uses the plain division, and the tests compare the two.
    cdef uint32_t y = x + _HALF
    return <uint16_t>((y + (y >> 16) + 1) >> 16)


cdef inline uint16_t _mul(uint16_t x, uint16_t y) noexcept nogil:
    # x * y / 65535 rounded to nearest
    return _div_round(<uint32_t>x * <uint32_t>y)


cdef inline uint16_t _lerp(uint16_t a, uint16_t b, uint16_t t, uint16_t inv_t) noexcept nogil:
    # a + (b - a) * t / 65535 rounded to nearest, written as the convex combination
    # (a * (65535 - t) + b * t) / 65535 so that it needs no signed arithmetic and a == b gives a
    # back exactly (no dip). inv_t is 65535 - t, hoisted out of the loops by the callers.
    return _div_round(<uint32_t>a * <uint32_t>inv_t + <uint32_t>b * <uint32_t>t)


cdef inline uint16_t _screen(uint16_t d, uint16_t s) noexcept nogil:
    return _FULL - _mul(_FULL - d, _FULL - s)


cdef inline uint16_t _add_sat(uint16_t d, uint16_t s) noexcept nogil:
    cdef uint16_t r = d + s
    return _FULL if r < d else r  # wrapped around: saturate


cdef inline uint16_t _max(uint16_t d, uint16_t s) noexcept nogil:
    return d if d > s else s


cdef int _check_level(object value, str name) except -1:
    if not 0 <= value <= _FULL:
        raise ValueError(f"{name} must be in 0..65535, got {value!r}")
    return 0


cdef int _check_same_length(Py_ssize_t n, Py_ssize_t m, str name, str ref) except -1:
    if n != m:
        raise ValueError(f"{name} has length {m}, expected {n} (the length of {ref})")
    return 0


# Every hot loop is a cdef function that the def wrappers call through a function pointer, never
# directly. Inlined into a wrapper, a loop shares that big function's register allocation, and
# gcc kept loop operands on the stack (they are live across PyEval_SaveThread): the gather loop
# did five stack loads per slot and ran ~1.6x slower. A call through a pointer is not inlined, so each loop gets registers of its
# own; the one indirect call per kernel invocation costs nothing. For blend the pointers form a
# table indexed by mode, which is also the mode dispatch.

ctypedef void (*_blend_loop)(uint16_t*, const uint16_t*, Py_ssize_t, uint16_t) noexcept nogil
ctypedef void (*_lerp_loop)(
    uint16_t*, const uint16_t*, const uint16_t*, Py_ssize_t, uint16_t
) noexcept nogil
ctypedef void (*_scale_loop)(uint16_t*, Py_ssize_t, uint16_t) noexcept nogil
ctypedef Py_ssize_t (*_gather8_loop)(
    uint8_t*, const uint16_t*, Py_ssize_t, const int32_t*, const uint8_t*, Py_ssize_t,
    const uint8_t*, Py_ssize_t,
) noexcept nogil
ctypedef Py_ssize_t (*_gather16_loop)(
    uint8_t*, const uint16_t*, Py_ssize_t, const int32_t*, const uint8_t*, Py_ssize_t,
    const uint16_t*, Py_ssize_t,
) noexcept nogil
ctypedef void (*_rgbw_loop)(uint16_t*, const uint16_t*, Py_ssize_t) noexcept nogil


# ---------------------------------------------------------------------------------------------
# blend: one loop per mode, so the mode switch is outside the loop and each loop vectorises
# ---------------------------------------------------------------------------------------------

cdef void _blend_normal(uint16_t* d, const uint16_t* s, Py_ssize_t n, uint16_t t) noexcept nogil:
    cdef Py_ssize_t i
    cdef uint16_t inv_t = _FULL - t
    for i in range(n):
        d[i] = _lerp(d[i], s[i], t, inv_t)


cdef void _blend_add(uint16_t* d, const uint16_t* s, Py_ssize_t n, uint16_t t) noexcept nogil:
    cdef Py_ssize_t i
    cdef uint16_t inv_t = _FULL - t
    for i in range(n):
        d[i] = _lerp(d[i], _add_sat(d[i], s[i]), t, inv_t)


cdef void _blend_multiply(
    uint16_t* d, const uint16_t* s, Py_ssize_t n, uint16_t t
) noexcept nogil:
    cdef Py_ssize_t i
    cdef uint16_t inv_t = _FULL - t
    for i in range(n):
        d[i] = _lerp(d[i], _mul(d[i], s[i]), t, inv_t)


cdef void _blend_screen(uint16_t* d, const uint16_t* s, Py_ssize_t n, uint16_t t) noexcept nogil:
    cdef Py_ssize_t i
    cdef uint16_t inv_t = _FULL - t
    for i in range(n):
        d[i] = _lerp(d[i], _screen(d[i], s[i]), t, inv_t)


cdef void _blend_max(uint16_t* d, const uint16_t* s, Py_ssize_t n, uint16_t t) noexcept nogil:
    cdef Py_ssize_t i
    cdef uint16_t inv_t = _FULL - t
    for i in range(n):
        d[i] = _lerp(d[i], _max(d[i], s[i]), t, inv_t)


# Full-opacity variants (t is ignored): lerp(d, f, 65535) == f exactly, so skipping the lerp
# changes no result.
cdef void _apply_normal(uint16_t* d, const uint16_t* s, Py_ssize_t n, uint16_t t) noexcept nogil:
    if d != s:
        memmove(d, s, n * sizeof(uint16_t))


cdef void _apply_add(uint16_t* d, const uint16_t* s, Py_ssize_t n, uint16_t t) noexcept nogil:
    cdef Py_ssize_t i
    for i in range(n):
        d[i] = _add_sat(d[i], s[i])


cdef void _apply_multiply(
    uint16_t* d, const uint16_t* s, Py_ssize_t n, uint16_t t
) noexcept nogil:
    cdef Py_ssize_t i
    for i in range(n):
        d[i] = _mul(d[i], s[i])


cdef void _apply_screen(uint16_t* d, const uint16_t* s, Py_ssize_t n, uint16_t t) noexcept nogil:
    cdef Py_ssize_t i
    for i in range(n):
        d[i] = _screen(d[i], s[i])


cdef void _apply_max(uint16_t* d, const uint16_t* s, Py_ssize_t n, uint16_t t) noexcept nogil:
    cdef Py_ssize_t i
    for i in range(n):
        d[i] = _max(d[i], s[i])


cdef _blend_loop[5] _BLEND_LOOPS
cdef _blend_loop[5] _APPLY_LOOPS
_BLEND_LOOPS[:] = [_blend_normal, _blend_add, _blend_multiply, _blend_screen, _blend_max]
_APPLY_LOOPS[:] = [_apply_normal, _apply_add, _apply_multiply, _apply_screen, _apply_max]


def blend(uint16_t[::1] dst not None, const uint16_t[::1] src not None, int mode, int opacity):
    """Blend ``src`` onto ``dst`` in place: dst = lerp(dst, f(dst, src), opacity)."""
    cdef Py_ssize_t n = dst.shape[0]
    _check_same_length(n, src.shape[0], "src", "dst")
    _check_level(opacity, "opacity")
    if not _NORMAL <= mode <= _MAX:
        raise ValueError(f"mode must be a BlendMode (0..4), got {mode!r}")
    if n == 0 or opacity == 0:
        return
    cdef _blend_loop loop = _APPLY_LOOPS[mode] if opacity == _FULL else _BLEND_LOOPS[mode]
    if _release_gil:
        with nogil:
            loop(&dst[0], &src[0], n, <uint16_t>opacity)
    else:
        loop(&dst[0], &src[0], n, <uint16_t>opacity)


# ---------------------------------------------------------------------------------------------
# crossfade and masters
# ---------------------------------------------------------------------------------------------

cdef void _crossfade(
    uint16_t* o, const uint16_t* a, const uint16_t* b, Py_ssize_t n, uint16_t t
) noexcept nogil:
    cdef Py_ssize_t i
    cdef uint16_t inv_t = _FULL - t
    for i in range(n):
        o[i] = _lerp(a[i], b[i], t, inv_t)


cdef _lerp_loop _CROSSFADE_LOOP = _crossfade


def crossfade(
    uint16_t[::1] out not None,
    const uint16_t[::1] a not None,
    const uint16_t[::1] b not None,
    int t,
):
    """out = a + (b - a) * t / 65535, rounded to nearest; out may be a or b."""
    cdef Py_ssize_t n = out.shape[0]
    _check_same_length(n, a.shape[0], "a", "out")
    _check_same_length(n, b.shape[0], "b", "out")
    _check_level(t, "t")
    if n == 0:
        return
    if _release_gil:
        with nogil:
            _CROSSFADE_LOOP(&out[0], &a[0], &b[0], n, <uint16_t>t)
    else:
        _CROSSFADE_LOOP(&out[0], &a[0], &b[0], n, <uint16_t>t)


cdef void _scale(uint16_t* d, Py_ssize_t n, uint16_t level) noexcept nogil:
    cdef Py_ssize_t i
    if level == 0:
        memset(d, 0, n * sizeof(uint16_t))
        return
    for i in range(n):
        d[i] = _mul(d[i], level)


cdef _scale_loop _SCALE_LOOP = _scale


cdef void _crossfade_split(
    uint16_t* o, const uint16_t* a, const uint16_t* b, Py_ssize_t n, uint16_t up, uint16_t down
) noexcept nogil:
    cdef Py_ssize_t i
    cdef uint16_t inv_up = _FULL - up
    cdef uint16_t inv_down = _FULL - down
    for i in range(n):
        if b[i] > a[i]:
            o[i] = _lerp(a[i], b[i], up, inv_up)
        else:
            o[i] = _lerp(a[i], b[i], down, inv_down)


ctypedef void (*_split_loop)(
    uint16_t*, const uint16_t*, const uint16_t*, Py_ssize_t, uint16_t, uint16_t
) noexcept nogil
cdef _split_loop _CROSSFADE_SPLIT_LOOP = _crossfade_split


def crossfade_split(
    uint16_t[::1] out not None,
    const uint16_t[::1] a not None,
    const uint16_t[::1] b not None,
    int up,
    int down,
):
    """out = lerp(a, b, up) where b > a, else lerp(a, b, down); out may be a or b."""
    cdef Py_ssize_t n = out.shape[0]
    _check_same_length(n, a.shape[0], "a", "out")
    _check_same_length(n, b.shape[0], "b", "out")
    _check_level(up, "up")
    _check_level(down, "down")
    if n == 0:
        return
    if _release_gil:
        with nogil:
            _CROSSFADE_SPLIT_LOOP(&out[0], &a[0], &b[0], n, <uint16_t>up, <uint16_t>down)
    else:
        _CROSSFADE_SPLIT_LOOP(&out[0], &a[0], &b[0], n, <uint16_t>up, <uint16_t>down)


def scale(uint16_t[::1] buf not None, int level):
    """buf = buf * level / 65535 in place, rounded to nearest."""
    _check_level(level, "level")
    cdef Py_ssize_t n = buf.shape[0]
    if n == 0 or level == _FULL:
        return
    if _release_gil:
        with nogil:
            _SCALE_LOOP(&buf[0], n, <uint16_t>level)
    else:
        _SCALE_LOOP(&buf[0], n, <uint16_t>level)


def combine_levels(int a, int b):
    """Product of two 0..65535 levels, as one level (grand master x canvas master)."""
    _check_level(a, "a")
    _check_level(b, "b")
    return <int>_mul(<uint16_t>a, <uint16_t>b)


# ---------------------------------------------------------------------------------------------
# pixel-map gather with per-slot lookup table
# ---------------------------------------------------------------------------------------------

cdef int _check_gather_args(
    Py_ssize_t n_out, Py_ssize_t n, Py_ssize_t n_lut_id, Py_ssize_t lut_len, int slots
) except -1:
    _check_same_length(n, n_lut_id, "lut_id", "src_index")
    if n_out != slots * n:
        raise ValueError(
            f"out has length {n_out}, expected {slots * n} ({slots} per src_index entry)"
        )
    if lut_len == 0 or lut_len % _LUT_SIZE:
        raise ValueError(f"luts has length {lut_len}, expected a positive multiple of 65536")
    return 0


cdef int _raise_bad_slot(
    Py_ssize_t i, int32_t k, Py_ssize_t n_src, uint8_t lid, Py_ssize_t n_luts
) except -1:
    if lid >= n_luts:
        raise ValueError(f"lut_id[{i}] is {lid}, but luts holds only {n_luts} tables")
    raise ValueError(f"src_index[{i}] is {k}, but src has only {n_src} values")


cdef Py_ssize_t _gather_u8(
    uint8_t* out, const uint16_t* src, Py_ssize_t n_src,
    const int32_t* idx, const uint8_t* lut_id, Py_ssize_t n,
    const uint8_t* luts, Py_ssize_t n_luts,
) noexcept nogil:
    # Returns -1 on success, else the first slot whose index or table id is out of range. The
    # range checks are predictable branches; they keep a bad map from reading outside the
    # buffers.
    cdef Py_ssize_t i
    cdef int32_t k
    cdef uint8_t table
    for i in range(n):
        k = idx[i]
        table = lut_id[i]
        if k >= n_src or table >= n_luts:
            return i
        out[i] = 0 if k < 0 else luts[(<Py_ssize_t>table << 16) + src[k]]
    return -1


cdef Py_ssize_t _gather_u16(
    uint8_t* out, const uint16_t* src, Py_ssize_t n_src,
    const int32_t* idx, const uint8_t* lut_id, Py_ssize_t n,
    const uint16_t* luts, Py_ssize_t n_luts,
) noexcept nogil:
    cdef Py_ssize_t i
    cdef int32_t k
    cdef uint8_t table
    cdef uint16_t v
    for i in range(n):
        k = idx[i]
        table = lut_id[i]
        if k >= n_src or table >= n_luts:
            return i
        v = 0 if k < 0 else luts[(<Py_ssize_t>table << 16) + src[k]]
        out[2 * i] = <uint8_t>(v >> 8)  # coarse slot
        out[2 * i + 1] = <uint8_t>(v & 0xFF)  # fine slot
    return -1


cdef _gather8_loop _GATHER_U8_LOOP = _gather_u8
cdef _gather16_loop _GATHER_U16_LOOP = _gather_u16


def lut_gather_u8(
    uint8_t[::1] out not None,
    const uint16_t[::1] src not None,
    const int32_t[::1] src_index not None,
    const uint8_t[::1] lut_id not None,
    const uint8_t[::1] luts not None,
):
    """out[i] = luts[lut_id[i] * 65536 + src[src_index[i]]], or 0 where src_index[i] < 0."""
    cdef Py_ssize_t n = src_index.shape[0]
    _check_gather_args(out.shape[0], n, lut_id.shape[0], luts.shape[0], 1)
    if n == 0:
        return
    cdef Py_ssize_t n_luts = luts.shape[0] // _LUT_SIZE
    cdef Py_ssize_t n_src = src.shape[0]
    # src may be empty when every slot is unpatched; never take &src[0] then.
    cdef const uint16_t* s = &src[0] if n_src else NULL
    cdef Py_ssize_t bad
    if _release_gil:
        with nogil:
            bad = _GATHER_U8_LOOP(
                &out[0], s, n_src, &src_index[0], &lut_id[0], n, &luts[0], n_luts
            )
    else:
        bad = _GATHER_U8_LOOP(
            &out[0], s, n_src, &src_index[0], &lut_id[0], n, &luts[0], n_luts
        )
    if bad >= 0:
        _raise_bad_slot(bad, src_index[bad], n_src, lut_id[bad], n_luts)


def lut_gather_u16(
    uint8_t[::1] out not None,
    const uint16_t[::1] src not None,
    const int32_t[::1] src_index not None,
    const uint8_t[::1] lut_id not None,
    const uint16_t[::1] luts not None,
):
    """Like lut_gather_u8 with 16-bit tables: out[2i], out[2i+1] = coarse, fine byte."""
    cdef Py_ssize_t n = src_index.shape[0]
    _check_gather_args(out.shape[0], n, lut_id.shape[0], luts.shape[0], 2)
    if n == 0:
        return
    cdef Py_ssize_t n_luts = luts.shape[0] // _LUT_SIZE
    cdef Py_ssize_t n_src = src.shape[0]
    cdef const uint16_t* s = &src[0] if n_src else NULL
    cdef Py_ssize_t bad
    if _release_gil:
        with nogil:
            bad = _GATHER_U16_LOOP(
                &out[0], s, n_src, &src_index[0], &lut_id[0], n, &luts[0], n_luts
            )
    else:
        bad = _GATHER_U16_LOOP(
            &out[0], s, n_src, &src_index[0], &lut_id[0], n, &luts[0], n_luts
        )
    if bad >= 0:
        _raise_bad_slot(bad, src_index[bad], n_src, lut_id[bad], n_luts)


# ---------------------------------------------------------------------------------------------
# colour conversion and preview
# ---------------------------------------------------------------------------------------------

cdef void _rgb_to_rgbw(uint16_t* o, const uint16_t* s, Py_ssize_t n_px) noexcept nogil:
    cdef Py_ssize_t p
    cdef uint16_t r, g, b, w
    for p in range(n_px):
        r = s[3 * p]
        g = s[3 * p + 1]
        b = s[3 * p + 2]
        w = r if r < g else g
        w = w if w < b else b
        o[4 * p] = r - w
        o[4 * p + 1] = g - w
        o[4 * p + 2] = b - w
        o[4 * p + 3] = w


cdef _rgbw_loop _RGBW_LOOP = _rgb_to_rgbw


def rgb_to_rgbw(uint16_t[::1] out not None, const uint16_t[::1] src not None):
    """RGB -> RGBW with W = min(R, G, B) taken out of each of R, G and B."""
    cdef Py_ssize_t n_src = src.shape[0]
    if n_src % 3:
        raise ValueError(f"src has length {n_src}, expected a multiple of 3 (RGB)")
    cdef Py_ssize_t n_px = n_src // 3
    if out.shape[0] != 4 * n_px:
        raise ValueError(f"out has length {out.shape[0]}, expected {4 * n_px} (4 per pixel)")
    if n_px == 0:
        return
    if _release_gil:
        with nogil:
            _RGBW_LOOP(&out[0], &src[0], n_px)
    else:
        _RGBW_LOOP(&out[0], &src[0], n_px)


cdef void _downscale(
    uint8_t* out, const uint16_t* src,
    Py_ssize_t h, Py_ssize_t w, Py_ssize_t h2, Py_ssize_t w2,
) noexcept nogil:
    cdef Py_ssize_t y2, x2, y, x, y0, y1, x0, x1, c
    cdef uint64_t count
    cdef uint64_t acc[3]
    for y2 in range(h2):
        y0 = y2 * h // h2
        y1 = (y2 + 1) * h // h2
        for x2 in range(w2):
            x0 = x2 * w // w2
            x1 = (x2 + 1) * w // w2
            acc[0] = 0
            acc[1] = 0
            acc[2] = 0
            for y in range(y0, y1):
                for x in range(x0, x1):
                    for c in range(3):
                        acc[c] += src[(y * w + x) * 3 + c]
            count = <uint64_t>((y1 - y0) * (x1 - x0))
            for c in range(3):
                # mean / 257 (65535 -> 255), rounded half up
                out[(y2 * w2 + x2) * 3 + c] = <uint8_t>(
                    (2 * acc[c] + 257 * count) // (514 * count)
                )


def downscale_preview(
    uint8_t[::1] out not None,
    const uint16_t[::1] src not None,
    Py_ssize_t h,
    Py_ssize_t w,
    Py_ssize_t h2,
    Py_ssize_t w2,
):
    """Box-average an h x w RGB16 image down to h2 x w2 RGB8 (h2 <= h, w2 <= w)."""
    if h < 1 or w < 1:
        raise ValueError(f"h and w must be >= 1, got h={h}, w={w}")
    if not (1 <= h2 <= h and 1 <= w2 <= w):
        raise ValueError(f"h2, w2 must be in 1..h, 1..w, got h2={h2}, w2={w2} for {h}x{w}")
    if src.shape[0] != h * w * 3:
        raise ValueError(f"src has length {src.shape[0]}, expected {h * w * 3} (h*w*3)")
    if out.shape[0] != h2 * w2 * 3:
        raise ValueError(f"out has length {out.shape[0]}, expected {h2 * w2 * 3} (h2*w2*3)")
    if _release_gil:
        with nogil:
            _downscale(&out[0], &src[0], h, w, h2, w2)
    else:
        _downscale(&out[0], &src[0], h, w, h2, w2)
