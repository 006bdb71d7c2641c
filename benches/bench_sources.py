"""Benchmark of the layer sources: milliseconds per frame, Cython field loops beside numpy.

Run from the repository root (after building the extensions)::

    .venv/bin/python benches/bench_sources.py             # ~10 s
    .venv/bin/python benches/bench_sources.py --frames 50 # quicker, noisier

It prints two tables, each timing ``render(t, out)`` over consecutive frames at 44 Hz
(t advances by 1/44 s, the same buffer every frame, as the renderer does), median per frame:

1. Per source at the default show's facade size (480 x 160 = 76,800 pixels), with the
   default show's parameters where it uses the kind. Sources whose per-frame pass runs in the
   Cython field loops (``playout/render/fields.py``: scrolling gradients, noise, plasma) are
   timed with the Cython module and, in the same run, with the numpy reference, and the ratio
   is printed; the other sources are the same numpy code in both columns. Static sources
   print the cost of their first draw and then of a skipped frame (``render`` returns False).
2. The default show (``config/default_show.toml``): every canvas's three layer sources per
   frame, then the total over the five canvases (~140,000 pixels), Cython and numpy.

The numbers are printed, not asserted; the machine is shared, so medians are used. The
frame budget at 44 Hz is 22.7 ms for everything (sources, compositing, masters, gather).
"""

from __future__ import annotations

import argparse
import statistics
import time
import tomllib
from collections.abc import Callable, Mapping
from importlib import resources
from typing import Any

import numpy as np

from trocadero.playout.render import fields
from trocadero.playout.render.sources import CanvasContext, LayerSource, build_source

RATE_HZ = 44.0
FACADE = (480, 160)

# (label, kind, params) at the facade size
CASES: list[tuple[str, str, dict[str, Any]]] = [
    ("solid", "solid", {"colour": "#201040"}),
    (
        "linear-gradient (scrolling)",
        "linear-gradient",
        {"colours": ["#1b2a6b", "#c9a227"], "angle_deg": 90.0, "speed": 0.02},
    ),
    ("linear-gradient (still)", "linear-gradient", {"colours": ["#ffffff", "#806040"]}),
    ("radial-gradient (rings)", "radial-gradient", {"radius": 0.3, "speed": 0.5}),
    ("radial-gradient (still)", "radial-gradient", {"radius": 0.7}),
    ("chase (soft)", "chase", {"width": 0.05, "speed": 0.1}),
    ("chase (hard)", "chase", {"width": 0.05, "speed": 0.1, "soft": False}),
    ("chase (down)", "chase", {"width": 0.2, "speed": 0.25, "direction": "down"}),
    ("noise", "noise", {"scale": 0.08, "speed": 0.2, "colour": "#ff9a30"}),
    ("plasma", "plasma", {"scale": 0.02, "speed": 0.1}),
    ("test-identify (cycling)", "test-identify", {"period": 1.0}),
    ("test-universe", "test-universe", {}),
    ("test-colour-bars", "test-colour-bars", {}),
]
NATIVE_KINDS = {"noise", "plasma"}


def uses_field_loops(kind: str, params: Mapping[str, Any]) -> bool:
    return kind in NATIVE_KINDS or (kind.endswith("gradient") and params.get("speed", 0) != 0)


def synthetic_canvas(name: str, width: int, height: int) -> CanvasContext:
    """A canvas patched like the facade: a fixture per 30 columns, 170 pixels per universe."""
    x = np.arange(width)[None, :].repeat(height, axis=0)
    y = np.arange(height)[:, None].repeat(width, axis=1)
    fixture = (x // 30).astype(np.int32)
    universe = (1 + (x * height + y) // 170).astype(np.int32)
    names = tuple(f"{name}-{i + 1:02d}" for i in range(int(fixture.max()) + 1))
    return CanvasContext(name, width, height, fixture, universe, names)


def per_frame_ns(source: LayerSource, frames: int, start: float = 100.0) -> tuple[float, float]:
    """(first render, median of the following frames) in nanoseconds."""
    out = np.zeros(source.shape, dtype=np.uint16)
    clock = time.perf_counter_ns
    t0 = clock()
    source.render(start, out)
    first = clock() - t0
    samples = []
    for i in range(1, frames + 1):
        t = start + i / RATE_HZ
        t0 = clock()
        source.render(t, out)
        samples.append(clock() - t0)
    return float(first), statistics.median(samples)


def with_impl(impl: str, fn: Callable[[], Any]) -> Any:
    """Run fn with the field loops in Cython ("cython") or the numpy reference ("numpy")."""
    saved = fields._native
    if impl == "numpy":
        fields._native = None
    try:
        return fn()
    finally:
        fields._native = saved


def ms(ns: float) -> str:
    return f"{ns / 1e6:8.3f}"


def bench_per_source(frames: int) -> None:
    width, height = FACADE
    ctx = synthetic_canvas("facade", width, height)
    print(f"\n1. per source, {width} x {height} = {width * height:,} pixels, ms per frame")
    print(f"   {'source':30} {'cython':>8} {'numpy':>8} {'ratio':>7}   first draw (cython)")
    for label, kind, params in CASES:

        def run(kind: str = kind, params: dict[str, Any] = params) -> tuple[float, float]:
            return per_frame_ns(build_source(kind, params, ctx), frames)

        first_c, frame_c = with_impl("cython", run)
        if uses_field_loops(kind, params) and fields._native is not None:
            _, frame_n = with_impl("numpy", run)
            ratio = f"{frame_n / frame_c:6.1f}x"
        else:
            frame_n, ratio = frame_c, "     - "
        print(f"   {label:30} {ms(frame_c)} {ms(frame_n)} {ratio}   {ms(first_c)}")


def default_show() -> tuple[
    dict[str, tuple[int, int]], dict[str, list[tuple[str, dict[str, Any]]]]
]:
    text = resources.files("trocadero.config").joinpath("default_show.toml").read_text("utf-8")
    show = tomllib.loads(text)
    sizes = {c["name"]: (int(c["width"]), int(c["height"])) for c in show["canvases"]}
    looks = {
        look["canvas"]: [
            (layer["source"], dict(layer.get("params", {}))) for layer in look["layers"]
        ]
        for look in show["idle"]
    }
    return sizes, looks


def bench_default_show(frames: int) -> None:
    sizes, looks = default_show()
    total_pixels = sum(w * h for w, h in sizes.values())
    print(
        f"\n2. default show: {len(sizes)} canvases, {total_pixels:,} pixels, every layer source"
        " rendered per frame, ms per frame"
    )
    print(f"   {'canvas':12} {'size':>9}  {'layers':40} {'cython':>8} {'numpy':>8}")
    totals = {"cython": 0.0, "numpy": 0.0}
    for name, (w, h) in sizes.items():
        ctx = synthetic_canvas(name, w, h)
        layers = looks.get(name, [])

        def run(
            layers: list[tuple[str, dict[str, Any]]] = layers, ctx: CanvasContext = ctx
        ) -> float:
            sources = [build_source(kind, params, ctx) for kind, params in layers]
            outs = [np.zeros(s.shape, dtype=np.uint16) for s in sources]
            samples = []
            for i in range(frames + 1):
                t = 100.0 + i / RATE_HZ
                t0 = time.perf_counter_ns()
                for s, out in zip(sources, outs, strict=True):
                    s.render(t, out)
                samples.append(time.perf_counter_ns() - t0)
            return statistics.median(samples[1:])

        row = {impl: with_impl(impl, run) for impl in totals}
        for impl in totals:
            totals[impl] += row[impl]
        kinds = ", ".join(kind for kind, _ in layers)
        print(f"   {name:12} {w:4}x{h:<4}  {kinds:40} {ms(row['cython'])} {ms(row['numpy'])}")
    ratio = totals["numpy"] / totals["cython"]
    print(
        f"   {'all':12} {'':9}  {'':40} {ms(totals['cython'])} {ms(totals['numpy'])}"
        f"   ({ratio:.1f}x; {100 * totals['cython'] / (1e9 / RATE_HZ):.1f} % of the"
        f" {1e3 / RATE_HZ:.1f} ms frame with Cython)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--frames", type=int, default=200, help="frames per measurement")
    args = parser.parse_args()
    print(f"layer sources: field loops = {fields.IMPLEMENTATION}; {args.frames} frames each")
    bench_per_source(args.frames)
    bench_default_show(args.frames)


if __name__ == "__main__":
    main()
