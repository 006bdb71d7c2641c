"""The render kernels: one suite for the Cython module and the numpy reference.

Expected values are computed by hand from the integer formulas in ``kernels.py`` (the float
value is noted where rounding matters); Hypothesis then checks that Cython and numpy agree bit
for bit on random inputs.
"""

from __future__ import annotations

import os
import subprocess
import sys
from types import ModuleType
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from numpy.typing import NDArray

from trocadero.native import _kernels, kernels, kernels_ref
from trocadero.native.kernels import BlendMode, DimmerCurve

FULL = 65535
HALF = 32768  # "opacity 0.5": 32768 / 65535 = 0.500008

IMPLS: dict[str, ModuleType] = {"cython": _kernels, "numpy": kernels_ref}


@pytest.fixture(params=sorted(IMPLS))
def impl(request: pytest.FixtureRequest) -> ModuleType:
    """The raw kernel module under test (flat 1-D arrays, no dtype checks)."""
    return IMPLS[request.param]


@pytest.fixture(params=sorted(IMPLS))
def facade(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Any:
    """The checked façade, dispatching to each implementation in turn."""
    monkeypatch.setattr(kernels, "_impl", IMPLS[request.param])
    return kernels


def u16(*values: int) -> NDArray[np.uint16]:
    return np.array(values, dtype=np.uint16)


def u8(*values: int) -> NDArray[np.uint8]:
    return np.array(values, dtype=np.uint8)


def i32(*values: int) -> NDArray[np.int32]:
    return np.array(values, dtype=np.int32)


# ---------------------------------------------------------------------------------------------
# blend: dst = [0, 65535, 40000, 10000], src = [65535, 65535, 30000, 20000]
# ---------------------------------------------------------------------------------------------

DST = (0, FULL, 40000, 10000)
SRC = (FULL, FULL, 30000, 20000)

# f(dst, src) per mode, i.e. the result at opacity 1.
BLEND_FULL = {
    BlendMode.NORMAL: (FULL, FULL, 30000, 20000),
    BlendMode.ADD: (FULL, FULL, FULL, 30000),  # 70000 saturates
    # 40000*30000/65535 = 18310.83 -> 18311; 10000*20000/65535 = 3051.82 -> 3052
    BlendMode.MULTIPLY: (0, FULL, 18311, 3052),
    # 65535 - 25535*35535/65535 (13845.7 -> 13846) = 51689; 65535 - 38587.4 (-> 38587) = 26948
    BlendMode.SCREEN: (FULL, FULL, 51689, 26948),
    BlendMode.MAX: (FULL, FULL, 40000, 20000),
}

# lerp(dst, f, 32768) = dst + (f - dst) * 0.500008, rounded to nearest
BLEND_HALF = {
    BlendMode.NORMAL: (32768, FULL, 35000, 15000),  # 34999.92 -> 35000, 15000.08 -> 15000
    BlendMode.ADD: (32768, FULL, 52768, 20000),  # 52767.69 -> 52768
    BlendMode.MULTIPLY: (0, FULL, 29155, 6526),  # 29155.33, 6525.95
    BlendMode.SCREEN: (32768, FULL, 45845, 18474),  # 45844.59, 18474.13
    BlendMode.MAX: (32768, FULL, 40000, 15000),
}


@pytest.mark.parametrize("mode", list(BlendMode))
def test_blend_opacity_zero_is_identity(impl: ModuleType, mode: BlendMode) -> None:
    dst = u16(*DST)
    impl.blend(dst, u16(*SRC), int(mode), 0)
    assert dst.tolist() == list(DST)


@pytest.mark.parametrize("mode", list(BlendMode))
def test_blend_opacity_half(impl: ModuleType, mode: BlendMode) -> None:
    dst = u16(*DST)
    impl.blend(dst, u16(*SRC), int(mode), HALF)
    assert dst.tolist() == list(BLEND_HALF[mode])


@pytest.mark.parametrize("mode", list(BlendMode))
def test_blend_opacity_full(impl: ModuleType, mode: BlendMode) -> None:
    dst = u16(*DST)
    impl.blend(dst, u16(*SRC), int(mode), FULL)
    assert dst.tolist() == list(BLEND_FULL[mode])


@pytest.mark.parametrize("opacity", [1, 12345, FULL - 1])
def test_blend_opacity_rounding(impl: ModuleType, opacity: int) -> None:
    # 0 -> 65535 at opacity k moves by exactly k: (65535 * k + 32767) // 65535 = k
    dst = u16(0, FULL, 1)
    impl.blend(dst, u16(FULL, 0, 1), BlendMode.NORMAL, opacity)
    assert dst.tolist() == [opacity, FULL - opacity, 1]


def test_blend_multiply_rounding(impl: ModuleType) -> None:
    # 1 * 32767 / 65535 = 0.49999 -> 0; 1 * 32768 / 65535 = 0.50001 -> 1
    dst = u16(1, 1, 2, FULL)
    impl.blend(dst, u16(32767, 32768, 32768, FULL), BlendMode.MULTIPLY, FULL)
    assert dst.tolist() == [0, 1, 1, FULL]


def test_blend_in_place_with_itself(impl: ModuleType) -> None:
    buf = u16(*DST)
    impl.blend(buf, buf, BlendMode.ADD, FULL)
    assert buf.tolist() == [0, FULL, FULL, 20000]


def test_blend_empty(impl: ModuleType) -> None:
    impl.blend(u16(), u16(), BlendMode.SCREEN, HALF)


def test_blend_mode_values_match_kernel_constants() -> None:
    for module in IMPLS.values():
        assert [module.NORMAL, module.ADD, module.MULTIPLY, module.SCREEN, module.MAX] == [
            BlendMode.NORMAL,
            BlendMode.ADD,
            BlendMode.MULTIPLY,
            BlendMode.SCREEN,
            BlendMode.MAX,
        ]


# ---------------------------------------------------------------------------------------------
# crossfade, masters
# ---------------------------------------------------------------------------------------------

A = (0, FULL, 1000, FULL, 12345)
B = (FULL, 0, 1000, FULL, 54321)


@pytest.mark.parametrize(
    ("t", "expected"),
    [
        (0, A),
        (FULL, B),
        # 65535 * 0.500008 = 32768; 65535 - 32767.5 -> 32767; 12345 + 41976 * 0.500008 = 33333.3
        (HALF, (32768, 32767, 1000, FULL, 33333)),
        (1, (1, FULL - 1, 1000, FULL, 12346)),  # 12345 + 0.64 -> 12346
    ],
)
def test_crossfade(impl: ModuleType, t: int, expected: tuple[int, ...]) -> None:
    out = np.empty(len(A), dtype=np.uint16)
    impl.crossfade(out, u16(*A), u16(*B), t)
    assert out.tolist() == list(expected)


def test_crossfade_into_an_input(impl: ModuleType) -> None:
    a = u16(*A)
    impl.crossfade(a, a, u16(*B), FULL)
    assert a.tolist() == list(B)


def test_crossfade_red_to_red_does_not_dip(impl: ModuleType) -> None:
    red = u16(*([FULL, 0, 0] * 4))
    out = np.empty_like(red)
    for t in range(0, FULL + 1, 257):
        impl.crossfade(out, red, red, t)
        assert out.tolist() == red.tolist()


@pytest.mark.parametrize(
    ("level", "expected"),
    [
        (0, (0, 0, 0, 0)),  # grand master at 0: blackout
        (FULL, (0, 1, 32768, FULL)),  # full: unchanged
        (32768, (0, 1, 16384, 32768)),  # 1 * 0.500008 -> 1; 32768 * 0.500008 = 16384.25
        (32767, (0, 0, 16384, 32767)),  # 1 * 0.499992 -> 0; 16383.75 -> 16384
    ],
)
def test_scale(impl: ModuleType, level: int, expected: tuple[int, ...]) -> None:
    buf = u16(0, 1, 32768, FULL)
    impl.scale(buf, level)
    assert buf.tolist() == list(expected)


@pytest.mark.parametrize(
    ("a", "b", "expected"),
    [(FULL, FULL, FULL), (FULL, 1234, 1234), (0, FULL, 0), (32768, 32768, 16384)],
)
def test_combine_levels(impl: ModuleType, a: int, b: int, expected: int) -> None:
    assert impl.combine_levels(a, b) == expected
    assert impl.combine_levels(b, a) == expected


# ---------------------------------------------------------------------------------------------
# pixel-map gather with lookup tables
# ---------------------------------------------------------------------------------------------


def luts_u8() -> NDArray[np.uint8]:
    ramp = (np.arange(65536) >> 8).astype(np.uint8)  # table 0: v >> 8; table 1: 255 - (v >> 8)
    return np.stack([ramp, 255 - ramp]).reshape(-1)


def luts_u16() -> NDArray[np.uint16]:
    ramp = np.arange(65536, dtype=np.uint16)  # table 0: identity; table 1: 65535 - v
    return np.stack([ramp, FULL - ramp]).reshape(-1)


def test_lut_gather_u8(impl: ModuleType) -> None:
    out = np.full(6, 99, dtype=np.uint8)
    src = u16(0, 256, FULL, 1000)
    impl.lut_gather_u8(out, src, i32(2, -1, 0, 1, 3, 2), u8(0, 0, 1, 1, 0, 1), luts_u8())
    # 65535 >> 8 = 255; unpatched -> 0; 255 - 0; 255 - 1; 1000 >> 8 = 3; 255 - 255
    assert out.tolist() == [255, 0, 255, 254, 3, 0]


def test_lut_gather_u16_writes_coarse_then_fine(impl: ModuleType) -> None:
    out = np.full(8, 99, dtype=np.uint8)
    src = u16(0x1234, FULL, 0)
    impl.lut_gather_u16(out, src, i32(0, -1, 1, 2), u8(0, 0, 1, 1), luts_u16())
    assert out.tolist() == [0x12, 0x34, 0, 0, 0, 0, 0xFF, 0xFF]


def test_lut_gather_all_unpatched_with_empty_src(impl: ModuleType) -> None:
    out = np.full(2, 99, dtype=np.uint8)
    impl.lut_gather_u8(out, u16(), i32(-1, -1), u8(0, 0), luts_u8())
    assert out.tolist() == [0, 0]


def test_lut_gather_rejects_index_past_src(impl: ModuleType) -> None:
    out = np.zeros(3, dtype=np.uint8)
    with pytest.raises(ValueError, match=r"src_index\[1\] is 4, but src has only 4"):
        impl.lut_gather_u8(out, u16(1, 2, 3, 4), i32(0, 4, 1), u8(0, 0, 0), luts_u8())


def test_lut_gather_rejects_unknown_table(impl: ModuleType) -> None:
    out = np.zeros(4, dtype=np.uint8)
    with pytest.raises(ValueError, match=r"lut_id\[1\] is 2, but luts holds only 2"):
        impl.lut_gather_u16(out, u16(1), i32(0, -1), u8(0, 2), luts_u16())


def test_lut_gather_rejects_bad_lengths(impl: ModuleType) -> None:
    with pytest.raises(ValueError, match="lut_id has length 1, expected 2"):
        impl.lut_gather_u8(np.zeros(2, np.uint8), u16(1), i32(0, 0), u8(0), luts_u8())
    with pytest.raises(ValueError, match="out has length 2, expected 4"):
        impl.lut_gather_u16(np.zeros(2, np.uint8), u16(1), i32(0, 0), u8(0, 0), luts_u16())
    with pytest.raises(ValueError, match="luts has length 100"):
        impl.lut_gather_u8(np.zeros(1, np.uint8), u16(1), i32(0), u8(0), np.zeros(100, np.uint8))


# ---------------------------------------------------------------------------------------------
# RGBW, preview
# ---------------------------------------------------------------------------------------------


def test_rgb_to_rgbw(impl: ModuleType) -> None:
    out = np.full(16, 99, dtype=np.uint16)
    src = u16(FULL, FULL, FULL, FULL, 0, 0, 1000, 2000, 3000, 0, 0, 0)
    impl.rgb_to_rgbw(out, src)
    assert out.tolist() == [0, 0, 0, FULL, FULL, 0, 0, 0, 0, 1000, 2000, 1000, 0, 0, 0, 0]


def test_rgb_to_rgbw_rejects_partial_pixel(impl: ModuleType) -> None:
    with pytest.raises(ValueError, match="src has length 4, expected a multiple of 3"):
        impl.rgb_to_rgbw(np.zeros(4, np.uint16), u16(1, 2, 3, 4))


def test_downscale_2x2_to_1x1(impl: ModuleType) -> None:
    # red: (0 + 3 * 65535) / 4 / 257 = 191.25 -> 191; green: 257/4/257 = 0.25 -> 0;
    # blue: 514 * 2 / 4 / 257 = 1 exactly
    src = u16(0, 0, 514, FULL, 257, 0, FULL, 0, 514, FULL, 0, 0)
    out = np.zeros(3, dtype=np.uint8)
    impl.downscale_preview(out, src, 2, 2, 1, 1)
    assert out.tolist() == [191, 0, 1]


def test_downscale_uneven_boxes_and_half_up(impl: ModuleType) -> None:
    # 3 rows -> 2: boxes are row [0, 1) and rows [1, 3). Box 2 averages 0 and 257 -> 0.5 -> 1.
    src = u16(FULL, 129, 128, 0, 0, 0, 257, 0, 0)
    out = np.zeros(6, dtype=np.uint8)
    impl.downscale_preview(out, src, 3, 1, 2, 1)
    assert out.tolist() == [255, 1, 0, 1, 0, 0]  # 129/257 = 0.502 -> 1; 128/257 = 0.498 -> 0


@pytest.mark.parametrize(("h2", "w2"), [(3, 1), (1, 3), (0, 1)])
def test_downscale_rejects_bad_target(impl: ModuleType, h2: int, w2: int) -> None:
    with pytest.raises(ValueError, match="h2, w2 must be in"):
        impl.downscale_preview(
            np.zeros(max(h2 * w2, 1) * 3, np.uint8), np.zeros(12, np.uint16), 2, 2, h2, w2
        )


# ---------------------------------------------------------------------------------------------
# raw-module checks that keep bad arguments from reaching the loops
# ---------------------------------------------------------------------------------------------


def test_raw_length_mismatch_names_argument(impl: ModuleType) -> None:
    with pytest.raises(ValueError, match="src has length 2, expected 3"):
        impl.blend(u16(1, 2, 3), u16(1, 2), BlendMode.NORMAL, FULL)
    with pytest.raises(ValueError, match="b has length 1, expected 2"):
        impl.crossfade(u16(1, 2), u16(1, 2), u16(1), 0)


@pytest.mark.parametrize("value", [-1, FULL + 1])
def test_raw_level_range_names_argument(impl: ModuleType, value: int) -> None:
    with pytest.raises(ValueError, match=r"opacity must be in 0\.\.65535"):
        impl.blend(u16(1), u16(1), BlendMode.NORMAL, value)
    with pytest.raises(ValueError, match=r"t must be in 0\.\.65535"):
        impl.crossfade(u16(1), u16(1), u16(1), value)
    with pytest.raises(ValueError, match=r"level must be in 0\.\.65535"):
        impl.scale(u16(1), value)
    with pytest.raises(ValueError, match=r"b must be in 0\.\.65535"):
        impl.combine_levels(0, value)


def test_raw_unknown_mode(impl: ModuleType) -> None:
    with pytest.raises(ValueError, match="mode must be a BlendMode"):
        impl.blend(u16(1), u16(1), 5, FULL)


# ---------------------------------------------------------------------------------------------
# façade: argument checks name the argument (on both implementations)
# ---------------------------------------------------------------------------------------------


def test_facade_wrong_dtype(facade: Any) -> None:
    with pytest.raises(ValueError, match="dst must have dtype uint16, got float32"):
        facade.blend(np.zeros(3, np.float32), u16(1, 2, 3), BlendMode.ADD, FULL)
    with pytest.raises(ValueError, match="src_index must have dtype int32, got int64"):
        facade.lut_gather_u8(np.zeros(1, np.uint8), u16(1), np.zeros(1, np.int64), u8(0), luts_u8())
    with pytest.raises(ValueError, match="luts must have dtype uint16, got uint8"):
        facade.lut_gather_u16(np.zeros(2, np.uint8), u16(1), i32(0), u8(0), luts_u8())


def test_facade_non_contiguous(facade: Any) -> None:
    with pytest.raises(ValueError, match="src must be C-contiguous"):
        facade.blend(u16(1, 2, 3), u16(1, 2, 3, 4, 5, 6)[::2], BlendMode.ADD, FULL)
    with pytest.raises(ValueError, match="out must be C-contiguous"):
        facade.rgb_to_rgbw(np.zeros((4, 2), np.uint16)[:, 0], u16(1, 2, 3))


def test_facade_length_mismatch(facade: Any) -> None:
    with pytest.raises(ValueError, match="src has length 2, expected 3"):
        facade.blend(u16(1, 2, 3), u16(1, 2), BlendMode.ADD, FULL)
    with pytest.raises(ValueError, match="a has length 1, expected 2"):
        facade.crossfade(u16(1, 2), u16(1), u16(1, 2), 0)
    with pytest.raises(ValueError, match="lut_id has length 2, expected 1"):
        facade.lut_gather_u8(np.zeros(1, np.uint8), u16(1), i32(0), u8(0, 0), luts_u8())
    with pytest.raises(ValueError, match="out has length 3, expected 2"):
        facade.lut_gather_u16(np.zeros(3, np.uint8), u16(1), i32(0), u8(0), luts_u16())
    with pytest.raises(ValueError, match="out has length 3, expected 4"):
        facade.rgb_to_rgbw(np.zeros(3, np.uint16), u16(1, 2, 3))
    with pytest.raises(ValueError, match="src has length 3, expected 12"):
        facade.downscale_preview(np.zeros(3, np.uint8), u16(1, 2, 3), 2, 2, 1, 1)


def test_facade_parameters(facade: Any) -> None:
    with pytest.raises(ValueError, match=r"opacity must be in 0\.\.65535, got 70000"):
        facade.blend(u16(1), u16(1), BlendMode.ADD, 70000)
    with pytest.raises(ValueError, match=r"mode must be in 0\.\.4, got 9"):
        facade.blend(u16(1), u16(1), 9, FULL)
    with pytest.raises(TypeError, match="t must be an integer, got float"):
        facade.crossfade(u16(1), u16(1), u16(1), 0.5)
    with pytest.raises(ValueError, match=r"level must be in 0\.\.65535, got -1"):
        facade.scale(u16(1), -1)
    with pytest.raises(ValueError, match=r"h2 must be in 1\.\.2, got 3"):
        facade.downscale_preview(np.zeros(18, np.uint8), np.zeros(12, np.uint16), 2, 2, 3, 2)
    with pytest.raises(ValueError, match=r"luts must have shape \(n_luts, 65536\)"):
        facade.lut_gather_u8(
            np.zeros(1, np.uint8), u16(1), i32(0), u8(0), np.zeros((2, 9), np.uint8)
        )


def test_facade_outputs_must_be_writeable_arrays(facade: Any) -> None:
    dst = u16(1, 2)
    dst.flags.writeable = False
    with pytest.raises(ValueError, match="dst must be writeable"):
        facade.blend(dst, u16(1, 2), BlendMode.ADD, 1)
    with pytest.raises(TypeError, match="buf must be a numpy array, got list"):
        facade.scale([1, 2], 1)


def test_facade_rejects_partial_overlap(facade: Any) -> None:
    buf = u16(1, 2, 3, 4)
    with pytest.raises(ValueError, match="dst partially overlaps src"):
        facade.blend(buf[1:], buf[:-1], BlendMode.ADD, FULL)
    facade.crossfade(buf, buf, u16(5, 6, 7, 8), FULL)  # exactly the same buffer is fine
    assert buf.tolist() == [5, 6, 7, 8]


def test_facade_accepts_canvas_shaped_arrays(facade: Any) -> None:
    canvas = np.full((2, 3, 3), 1000, dtype=np.uint16)
    facade.blend(canvas, np.full((2, 3, 3), 500, dtype=np.uint16), BlendMode.ADD, FULL)
    facade.scale(canvas, FULL)
    luts = np.stack([kernels.build_lut(1.0)] * 2)  # 2-D (n_luts, 65536)
    out = np.zeros(18, dtype=np.uint8)
    facade.lut_gather_u8(out, canvas, np.arange(18, dtype=np.int32), np.zeros(18, np.uint8), luts)
    assert out.tolist() == [6] * 18  # 1500 / 257 = 5.84 -> 6
    preview = np.zeros((1, 1, 3), dtype=np.uint8)
    facade.downscale_preview(preview, canvas, 2, 3, 1, 1)
    assert preview.tolist() == [[[6, 6, 6]]]


def test_facade_combine_levels_then_scale(facade: Any) -> None:
    level = facade.combine_levels(FULL, 32768)  # grand master full x canvas master half
    buf = u16(FULL, 2)
    facade.scale(buf, level)
    assert buf.tolist() == [32768, 1]


def test_implementation_switch_by_environment() -> None:
    code = "from trocadero.native import kernels; print(kernels.IMPLEMENTATION)"
    env = dict(os.environ, TROCADERO_PURE_KERNELS="1")
    pure = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert pure.stdout.strip() == "numpy"
    env.pop("TROCADERO_PURE_KERNELS")
    native = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert native.stdout.strip() == "cython"


def test_build_profile_is_exported() -> None:
    assert _kernels.BUILD_PROFILE in {"release", "debug"}
    assert kernels.BUILD_PROFILE in {"release", "debug", "numpy"}


# ---------------------------------------------------------------------------------------------
# lookup tables
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("curve", list(DimmerCurve))
@pytest.mark.parametrize("gamma", [1.0, 2.2, 2.8])
def test_build_lut_end_points_and_monotonic(curve: DimmerCurve, gamma: float) -> None:
    lut = kernels.build_lut(gamma, 1.0, curve)
    assert lut.shape == (65536,)
    assert lut.dtype == np.uint8
    assert (lut[0], lut[-1]) == (0, 255)
    assert np.all(np.diff(lut.astype(np.int16)) >= 0)
    lut16 = kernels.build_lut_u16(gamma, 1.0, curve)
    assert (lut16[0], lut16[-1]) == (0, FULL)
    assert np.all(np.diff(lut16.astype(np.int32)) >= 0)


def test_build_lut_linear_values() -> None:
    lut = kernels.build_lut(1.0)
    # round(i / 257): 128/257 = 0.498 -> 0, 129/257 = 0.502 -> 1, 32896/257 = 128
    assert [lut[128], lut[129], lut[257], lut[32896]] == [0, 1, 1, 128]
    assert np.array_equal(kernels.build_lut_u16(1.0), np.arange(65536, dtype=np.uint16))


def test_build_lut_gamma_curve_and_gain() -> None:
    # gamma 2: (32768/65535)^2 * 255 = 63.75 -> 64; gain 0.5 at full: 127.5 -> 128
    assert kernels.build_lut(2.0)[32768] == 64
    assert kernels.build_lut(1.0, 0.5)[-1] == 128
    assert kernels.build_lut(1.0, 0.0).max() == 0
    # square curve = gamma 2 on linear; s-curve passes through the middle
    assert np.array_equal(kernels.build_lut(1.0, 1.0, "square"), kernels.build_lut(2.0))
    assert kernels.build_lut(1.0, 1.0, DimmerCurve.S_CURVE)[32768] == 128  # 127.51 -> 128
    assert kernels.build_lut(1.0, 1.0, "s-curve")[6554] < kernels.build_lut(1.0)[6554]


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"gamma": 0}, ValueError, "gamma must be a finite number > 0"),
        ({"gamma": float("nan")}, ValueError, "gamma must be a finite number > 0"),
        ({"gamma": "2.2"}, TypeError, "gamma must be a number"),
        ({"white_balance_gain": 1.5}, ValueError, "white_balance_gain must be in 0..1"),
        ({"dimmer_curve": "cubic"}, ValueError, "dimmer_curve must be one of linear"),
    ],
)
def test_build_lut_rejects(kwargs: dict[str, Any], error: type[Exception], message: str) -> None:
    with pytest.raises(error, match=message):
        kernels.build_lut(**kwargs)


# ---------------------------------------------------------------------------------------------
# Hypothesis: Cython == numpy, and properties of the formulas
# ---------------------------------------------------------------------------------------------

LEVEL = st.integers(0, FULL)
MODES = st.sampled_from(list(BlendMode))


@st.composite
def u16_arrays(draw: st.DrawFn, count: int, min_len: int = 0) -> list[NDArray[np.uint16]]:
    """``count`` uint16 arrays of one random length (lengths cross the SIMD tail sizes)."""
    n = draw(st.integers(min_len, 70))
    return [draw(hnp.arrays(np.uint16, n, elements=LEVEL)) for _ in range(count)]


@given(arrays=u16_arrays(2), mode=MODES, opacity=LEVEL)
def test_blend_cython_matches_numpy(
    arrays: list[NDArray[np.uint16]], mode: BlendMode, opacity: int
) -> None:
    dst, src = arrays
    out_c, out_n = dst.copy(), dst.copy()
    _kernels.blend(out_c, src, int(mode), opacity)
    kernels_ref.blend(out_n, src, int(mode), opacity)
    assert np.array_equal(out_c, out_n)


@given(arrays=u16_arrays(2), mode=MODES)
def test_blend_opacity_zero_is_identity_property(
    arrays: list[NDArray[np.uint16]], mode: BlendMode
) -> None:
    dst, src = arrays
    for impl in IMPLS.values():
        out = dst.copy()
        impl.blend(out, src, int(mode), 0)
        assert np.array_equal(out, dst)


@given(arrays=u16_arrays(2))
def test_max_is_commutative(arrays: list[NDArray[np.uint16]]) -> None:
    a, b = arrays
    for impl in IMPLS.values():
        ab, ba = a.copy(), b.copy()
        impl.blend(ab, b, BlendMode.MAX, FULL)
        impl.blend(ba, a, BlendMode.MAX, FULL)
        assert np.array_equal(ab, ba)


@given(arrays=u16_arrays(2), t=LEVEL)
def test_crossfade_cython_matches_numpy(arrays: list[NDArray[np.uint16]], t: int) -> None:
    a, b = arrays
    out_c, out_n = np.empty_like(a), np.empty_like(a)
    _kernels.crossfade(out_c, a, b, t)
    kernels_ref.crossfade(out_n, a, b, t)
    assert np.array_equal(out_c, out_n)


@given(arrays=u16_arrays(2))
def test_crossfade_end_points_are_exact(arrays: list[NDArray[np.uint16]]) -> None:
    a, b = arrays
    out = np.empty_like(a)
    for impl in IMPLS.values():
        impl.crossfade(out, a, b, 0)
        assert np.array_equal(out, a)
        impl.crossfade(out, a, b, FULL)
        assert np.array_equal(out, b)


@given(colour=hnp.arrays(np.uint16, 3, elements=LEVEL), t=LEVEL)
def test_crossfade_same_colour_never_dips(colour: NDArray[np.uint16], t: int) -> None:
    a = np.tile(colour, 11)
    for impl in IMPLS.values():
        out = np.empty_like(a)
        impl.crossfade(out, a, a.copy(), t)
        assert np.array_equal(out, a)


@given(arrays=u16_arrays(2), up=LEVEL, down=LEVEL)
def test_crossfade_split_cython_matches_numpy(
    arrays: list[NDArray[np.uint16]], up: int, down: int
) -> None:
    a, b = arrays
    out_c, out_n = np.empty_like(a), np.empty_like(a)
    _kernels.crossfade_split(out_c, a, b, up, down)
    kernels_ref.crossfade_split(out_n, a, b, up, down)
    assert np.array_equal(out_c, out_n)


@given(arrays=u16_arrays(2), up=LEVEL, down=LEVEL)
def test_crossfade_split_stays_between_its_ends(
    arrays: list[NDArray[np.uint16]], up: int, down: int
) -> None:
    a, b = arrays
    for impl in IMPLS.values():
        out = np.empty_like(a)
        impl.crossfade_split(out, a, b, up, down)
        assert np.all(out >= np.minimum(a, b))
        assert np.all(out <= np.maximum(a, b))
        # Equal up and down progress is the plain crossfade.
        impl.crossfade_split(out, a, b, up, up)
        plain = np.empty_like(a)
        impl.crossfade(plain, a, b, up)
        assert np.array_equal(out, plain)


def test_crossfade_split_uses_up_for_rising_and_down_for_falling(impl: ModuleType) -> None:
    a, b = u16(0, FULL, 500), u16(FULL, 0, 500)
    out = np.empty_like(a)
    impl.crossfade_split(out, a, b, FULL, 0)  # rising done, falling not started
    assert out.tolist() == [FULL, FULL, 500]
    impl.crossfade_split(out, a, b, 0, FULL)
    assert out.tolist() == [0, 0, 500]


@given(arrays=u16_arrays(1), level=LEVEL)
def test_scale_cython_matches_numpy(arrays: list[NDArray[np.uint16]], level: int) -> None:
    (buf,) = arrays
    out_c, out_n = buf.copy(), buf.copy()
    _kernels.scale(out_c, level)
    kernels_ref.scale(out_n, level)
    assert np.array_equal(out_c, out_n)


@given(a=LEVEL, b=LEVEL)
def test_combine_levels_cython_matches_numpy(a: int, b: int) -> None:
    assert _kernels.combine_levels(a, b) == kernels_ref.combine_levels(a, b)
    assert kernels_ref.combine_levels(a, b) == round(a * b / FULL)


@st.composite
def gather_inputs(draw: st.DrawFn, n_luts: int) -> tuple[NDArray[Any], ...]:
    src = draw(hnp.arrays(np.uint16, draw(st.integers(1, 40)), elements=LEVEL))
    n = draw(st.integers(0, 70))
    index = draw(hnp.arrays(np.int32, n, elements=st.integers(-3, src.shape[0] - 1)))
    lut_id = draw(hnp.arrays(np.uint8, n, elements=st.integers(0, n_luts - 1)))
    return src, index, lut_id


RANDOM_LUTS_U8 = np.random.default_rng(8).integers(0, 256, 3 * 65536, dtype=np.uint8)
RANDOM_LUTS_U16 = np.random.default_rng(16).integers(0, 65536, 3 * 65536, dtype=np.uint16)


@given(inputs=gather_inputs(3))
def test_lut_gather_cython_matches_numpy(inputs: tuple[NDArray[Any], ...]) -> None:
    src, index, lut_id = inputs
    n = index.shape[0]
    out_c, out_n = np.full(n, 7, np.uint8), np.full(n, 9, np.uint8)
    _kernels.lut_gather_u8(out_c, src, index, lut_id, RANDOM_LUTS_U8)
    kernels_ref.lut_gather_u8(out_n, src, index, lut_id, RANDOM_LUTS_U8)
    assert np.array_equal(out_c, out_n)
    out_c, out_n = np.full(2 * n, 7, np.uint8), np.full(2 * n, 9, np.uint8)
    _kernels.lut_gather_u16(out_c, src, index, lut_id, RANDOM_LUTS_U16)
    kernels_ref.lut_gather_u16(out_n, src, index, lut_id, RANDOM_LUTS_U16)
    assert np.array_equal(out_c, out_n)


@given(arrays=u16_arrays(1))
def test_rgb_to_rgbw_cython_matches_numpy(arrays: list[NDArray[np.uint16]]) -> None:
    src = arrays[0][: arrays[0].shape[0] // 3 * 3]
    n_px = src.shape[0] // 3
    out_c, out_n = np.empty(4 * n_px, np.uint16), np.empty(4 * n_px, np.uint16)
    _kernels.rgb_to_rgbw(out_c, src)
    kernels_ref.rgb_to_rgbw(out_n, src)
    assert np.array_equal(out_c, out_n)
    rgbw = out_n.reshape(n_px, 4).astype(np.int64)
    # W + each colour gives the input back, and one of R, G, B is always 0
    assert np.array_equal(rgbw[:, :3] + rgbw[:, 3:], src.reshape(n_px, 3))
    assert np.all(rgbw[:, :3].min(axis=1, initial=0) == 0)


@st.composite
def preview_inputs(draw: st.DrawFn) -> tuple[NDArray[np.uint16], int, int, int, int]:
    h, w = draw(st.integers(1, 12)), draw(st.integers(1, 12))
    h2, w2 = draw(st.integers(1, h)), draw(st.integers(1, w))
    src = draw(hnp.arrays(np.uint16, h * w * 3, elements=LEVEL))
    return src, h, w, h2, w2


@given(inputs=preview_inputs())
def test_downscale_cython_matches_numpy(
    inputs: tuple[NDArray[np.uint16], int, int, int, int],
) -> None:
    src, h, w, h2, w2 = inputs
    out_c, out_n = np.empty(h2 * w2 * 3, np.uint8), np.empty(h2 * w2 * 3, np.uint8)
    _kernels.downscale_preview(out_c, src, h, w, h2, w2)
    kernels_ref.downscale_preview(out_n, src, h, w, h2, w2)
    assert np.array_equal(out_c, out_n)


@settings(max_examples=20)
@given(arrays=u16_arrays(2, min_len=1), mode=MODES, opacity=LEVEL)
def test_facade_matches_reference_on_long_buffers(
    arrays: list[NDArray[np.uint16]], mode: BlendMode, opacity: int
) -> None:
    # Long buffers run the vectorised main loop many times, not only the scalar tail.
    dst, src = (np.tile(a, 97) for a in arrays)
    out_c, out_n = dst.copy(), dst.copy()
    _kernels.blend(out_c, src, int(mode), opacity)
    kernels_ref.blend(out_n, src, int(mode), opacity)
    assert np.array_equal(out_c, out_n)


def test_holding_the_gil_changes_no_result() -> None:
    # The Cython modules themselves (the façade would fall back to numpy, which has no GIL
    # mode): the same results whether the kernels drop the GIL or keep it.
    from trocadero.native import _sources

    rng = np.random.default_rng(3)
    a = rng.integers(0, 65536, 3000, dtype=np.uint16)
    b = rng.integers(0, 65536, 3000, dtype=np.uint16)
    results = []
    for release in (True, False):
        _kernels.set_release_gil(release)
        _sources.set_release_gil(release)
        try:
            assert _kernels.release_gil() is release
            assert _sources.release_gil() is release
            out = a.copy()
            _kernels.blend(out, b, int(BlendMode.SCREEN), 40000)
            fade = np.empty_like(a)
            _kernels.crossfade_split(fade, a, b, 20000, 50000)
            _kernels.scale(fade, 30000)
            results.append((out, fade))
        finally:
            _kernels.set_release_gil(True)
            _sources.set_release_gil(True)
    assert np.array_equal(results[0][0], results[1][0])
    assert np.array_equal(results[0][1], results[1][1])
    assert np.array_equal(results[0][0], a) is False  # the kernels did work
