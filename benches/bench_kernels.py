"""Benchmark of the render kernels: Cython against the numpy reference, in the same run.

Run from the repository root (after building the extension)::

    .venv/bin/python benches/bench_kernels.py            # ~1 min
    .venv/bin/python benches/bench_kernels.py --quick    # a few seconds, fewer repetitions

It prints, for the default show size (800 universes = 136,000 RGB pixels in one flat uint16
buffer of 408,000 values):

* a table with the median time per call (time.perf_counter_ns) of every kernel for the Cython
  module and the numpy reference, and the speed-up;
* a "frame budget" line: one frame = 3 layer blends + master + lut_gather into all universes,
  against the 22.7 ms frame period at 44 Hz (issue 3 target: <= 3 ms and >= 5x the reference);
* how that frame cost grows with the universe count (100, 800, 4,000 universes).

Figures are printed, not asserted. The machine is shared, so medians are used throughout.
"""

from __future__ import annotations

import argparse
import platform
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from types import ModuleType

import numpy as np
from numpy.typing import NDArray

from trocadero.native import _kernels, kernels, kernels_ref

PIXELS_PER_UNIVERSE = 170  # 510 of 512 slots: a pixel is never split across universes
SLOTS = 512
FRAME_NS = 1e9 / 44  # 44 Hz, the DMX-safe default rate
OPACITY = 40_000  # a partial opacity, so the blends take the general (lerp) path
IMPLS: dict[str, ModuleType] = {"cython": _kernels, "numpy": kernels_ref}


@dataclass
class Show:
    """Buffers for a show of ``universes`` universes, all filled once up front."""

    canvas: NDArray[np.uint16]
    layers: list[NDArray[np.uint16]]
    slots: NDArray[np.uint8]
    slots16: NDArray[np.uint8]
    src_index: NDArray[np.int32]
    lut_id: NDArray[np.uint8]
    luts: NDArray[np.uint8]
    luts16: NDArray[np.uint16]


def make_show(universes: int, seed: int = 3) -> Show:
    rng = np.random.default_rng(seed)
    n = universes * PIXELS_PER_UNIVERSE * 3
    layers = [rng.integers(0, 65536, n, dtype=np.uint16) for _ in range(3)]
    src_index, lut_id = serpentine_patch(universes)
    return Show(
        canvas=layers[0].copy(),
        layers=layers,
        slots=np.zeros(universes * SLOTS, dtype=np.uint8),
        slots16=np.zeros(2 * universes * SLOTS, dtype=np.uint8),
        src_index=src_index,
        lut_id=lut_id,
        luts=rng.integers(0, 256, (3, 65536), dtype=np.uint8).reshape(-1),
        luts16=rng.integers(0, 65536, (3, 65536), dtype=np.uint16).reshape(-1),
    )


def serpentine_patch(universes: int) -> tuple[NDArray[np.int32], NDArray[np.uint8]]:
    """One 170-pixel strip per universe, every other strip running backwards (zig-zag), so the
    gather reads mostly sequentially, as a real facade patch does. LUT = colour channel."""
    pixel = np.arange(PIXELS_PER_UNIVERSE)
    index = np.full((universes, SLOTS), -1, dtype=np.int32)
    for u in range(universes):
        order = pixel if u % 2 == 0 else pixel[::-1]
        first = u * PIXELS_PER_UNIVERSE
        index[u, :510] = ((first + order)[:, None] * 3 + np.arange(3)).reshape(-1)
    lut_id = np.tile(np.arange(SLOTS) % 3, universes).astype(np.uint8)
    return index.reshape(-1), lut_id


def median_us(fn: Callable[[], object], runs: int) -> float:
    fn()  # warm up caches and any lazy set-up
    times = []
    for _ in range(runs):
        start = time.perf_counter_ns()
        fn()
        times.append(time.perf_counter_ns() - start)
    return statistics.median(times) / 1000


def render_frame(m: ModuleType, show: Show) -> None:
    """What the renderer does per canvas stack: 3 layers, the masters, gamma + patch."""
    m.blend(show.canvas, show.layers[0], m.NORMAL, OPACITY)
    m.blend(show.canvas, show.layers[1], m.ADD, OPACITY)
    m.blend(show.canvas, show.layers[2], m.SCREEN, OPACITY)
    m.scale(show.canvas, m.combine_levels(60_000, 50_000))  # grand master x canvas master
    m.lut_gather_u8(show.slots, show.canvas, show.src_index, show.lut_id, show.luts)


def render_frame_facade(show: Show) -> None:
    """The same frame through the checked façade (what the renderer will call)."""
    mode = kernels.BlendMode
    kernels.blend(show.canvas, show.layers[0], mode.NORMAL, OPACITY)
    kernels.blend(show.canvas, show.layers[1], mode.ADD, OPACITY)
    kernels.blend(show.canvas, show.layers[2], mode.SCREEN, OPACITY)
    kernels.scale(show.canvas, kernels.combine_levels(60_000, 50_000))
    kernels.lut_gather_u8(show.slots, show.canvas, show.src_index, show.lut_id, show.luts)


def kernel_cases(show: Show) -> dict[str, Callable[[ModuleType], object]]:
    c, a, b = show.canvas, show.layers[1], show.layers[2]
    out = np.empty_like(c)
    n_px = c.shape[0] // 3
    rgbw = np.empty(n_px * 4, dtype=np.uint16)
    h, w = 340, n_px // 340  # 136,000 px as a 340 x 400 canvas; preview at 1/4 size
    preview = np.empty((h // 4) * (w // 4) * 3, dtype=np.uint8)

    def blend_with(mode: str) -> Callable[[ModuleType], object]:
        return lambda m: m.blend(c, a, getattr(m, mode), OPACITY)

    cases = {
        f"blend {mode}": blend_with(mode) for mode in ("NORMAL", "ADD", "MULTIPLY", "SCREEN", "MAX")
    }
    cases["blend NORMAL op=1 (copy)"] = lambda m: m.blend(c, a, m.NORMAL, 65535)
    cases["crossfade"] = lambda m: m.crossfade(out, a, b, OPACITY)
    cases["scale (master)"] = lambda m: m.scale(c, 50_000)
    cases["lut_gather_u8"] = lambda m: m.lut_gather_u8(
        show.slots, c, show.src_index, show.lut_id, show.luts
    )
    cases["lut_gather_u16"] = lambda m: m.lut_gather_u16(
        show.slots16, c, show.src_index, show.lut_id, show.luts16
    )
    cases["rgb_to_rgbw"] = lambda m: m.rgb_to_rgbw(rgbw, c[: n_px * 3])
    cases[f"downscale_preview {h}x{w}->{h // 4}x{w // 4}"] = lambda m: m.downscale_preview(
        preview, c[: h * w * 3], h, w, h // 4, w // 4
    )
    return cases


def print_kernel_table(show: Show, runs: dict[str, int]) -> None:
    universes = show.slots.shape[0] // SLOTS
    print(f"\nper kernel, {universes} universes / {show.canvas.shape[0] // 3:,} RGB pixels")
    print(f"{'kernel':<36}{'cython µs':>12}{'numpy µs':>12}{'speed-up':>10}")
    for name, case in kernel_cases(show).items():
        t = {impl: median_us(partial(case, m), runs[impl]) for impl, m in IMPLS.items()}
        ratio = t["numpy"] / t["cython"]
        print(f"{name:<36}{t['cython']:>12.1f}{t['numpy']:>12.1f}{ratio:>9.1f}x")


def frame_ms(show: Show, runs: dict[str, int]) -> dict[str, float]:
    return {
        impl: median_us(partial(render_frame, m, show), runs[impl]) / 1000
        for impl, m in IMPLS.items()
    }


def print_frame_budget(show: Show, runs: dict[str, int]) -> None:
    t = frame_ms(show, runs)
    universes = show.slots.shape[0] // SLOTS
    budget = FRAME_NS / 1e6
    print(
        f"\nframe budget ({universes} universes: 3 layer blends + master + lut_gather_u8):"
        f" cython {t['cython']:.2f} ms = {100 * t['cython'] / budget:.1f} % of {budget:.1f} ms"
        f" (44 Hz); numpy {t['numpy']:.2f} ms = {100 * t['numpy'] / budget:.1f} %;"
        f" speed-up {t['numpy'] / t['cython']:.1f}x"
    )
    facade = median_us(partial(render_frame_facade, show), runs["cython"]) / 1000
    print(f"  same frame through the kernels façade ({kernels.IMPLEMENTATION}): {facade:.2f} ms")


def print_scaling(counts: list[int], runs: dict[str, int]) -> None:
    print("\nframe cost by universe count (same frame as above)")
    print(f"{'universes':>10}{'pixels':>11}{'cython ms':>11}{'numpy ms':>10}{'% 44 Hz':>9}")
    for universes in counts:
        t = frame_ms(make_show(universes), runs)
        pixels = universes * PIXELS_PER_UNIVERSE
        share = 100 * t["cython"] * 1e6 / FRAME_NS
        print(f"{universes:>10}{pixels:>11,}{t['cython']:>11.2f}{t['numpy']:>10.2f}{share:>8.1f}%")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer repetitions")
    args = parser.parse_args()
    runs = {"cython": 15, "numpy": 5} if args.quick else {"cython": 101, "numpy": 31}
    print(
        f"trocadero kernels: cython build {_kernels.BUILD_PROFILE!r}, numpy {np.__version__},"
        f" {platform.processor() or platform.machine()}; median of {runs['cython']} (cython)"
        f" / {runs['numpy']} (numpy) runs"
    )
    show = make_show(800)
    print_kernel_table(show, runs)
    print_frame_budget(show, runs)
    print_scaling([100, 800, 4000], runs)


if __name__ == "__main__":
    main()
