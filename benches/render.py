"""Render-path benchmark: the default Trocadero show, Cython kernels beside the numpy oracle.

    ./dev bench render              # default show + scaling (100 / 800 / 4,000 universes)
    ./dev bench render --frames 200 # more frames per measurement

Per frame: every layer source (3 per canvas) renders, stacks composite, grand x canvas
masters, RGBW/intensity planes, then one LUT gather (gamma, curve, white balance and the
patch) into every universe. The same show is measured in a child process with
TROCADERO_PURE_KERNELS=1 (the numpy reference kernels), so both figures come from one run.
The issue's target: kernel path ≤ 3 ms per frame (≤ 15 % of 22.7 ms at 44 Hz) and ≥ 5x the
numpy reference. Sources are reported separately: they are the same code in both runs.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from dataclasses import replace

import numpy as np

from trocadero.config import load_default_show
from trocadero.config.show import CanvasDef, CanvasLayersDef, FixtureDef, ShowDef
from trocadero.core.patch import compile_patch
from trocadero.native import kernels
from trocadero.playout.render.renderer import Renderer

PERIOD_MS = 1000 / 44


def scaled_show(universes: int) -> ShowDef:
    """One canvas of `universes` universes of RGB pixels (170 per universe), 3 layers."""
    base = load_default_show()
    width = 170
    fixtures = tuple(
        FixtureDef(
            name=f"run-{u}",
            canvas="wall",
            shape="strip",
            x=0,
            y=u,
            pixels=170,
            universe=u + 1,
            channel=1,
            type="pixel-ws2811",
        )
        for u in range(universes)
    )
    look = next(lk for lk in base.idle if lk.canvas == "facade")
    layers = tuple(replace(layer) for layer in look.layers)
    return replace(
        base,
        canvases=(CanvasDef(name="wall", width=width, height=universes),),
        fixtures=fixtures,
        idle=(CanvasLayersDef(canvas="wall", layers=layers),),
        looks=(),
        cue_lists=(),
        emergency=(),
    )


def measure(show: ShowDef, frames: int) -> dict[str, float]:
    renderer = Renderer(show, compile_patch(show))
    period = 1 / 44
    for i in range(5):
        renderer.render(i * period)  # warm caches and static layers
    stages: dict[str, list[int]] = {
        k: [] for k in ("sources", "composite", "masters", "planes", "gather")
    }
    for i in range(frames):
        t = renderer.render((i + 5) * period)
        for k in stages:
            stages[k].append(getattr(t, k))
    med = {k: float(np.median(v)) / 1e6 for k, v in stages.items()}
    med["kernels"] = med["composite"] + med["masters"] + med["planes"] + med["gather"]
    med["total"] = med["kernels"] + med["sources"]
    med["universes"] = float(len(renderer.patch.universes))
    return med


def run_all(frames: int) -> dict[str, dict[str, float]]:
    results = {"default": measure(load_default_show(), frames)}
    for n in (100, 800, 4000):
        results[f"{n}"] = measure(scaled_show(n), max(20, frames // (1 + n // 800)))
    return results


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--frames", type=int, default=100)
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(run_all(args.frames)))
        return 0
    cy = run_all(args.frames)
    env = {**os.environ, "TROCADERO_PURE_KERNELS": "1"}
    child = subprocess.run(
        [sys.executable, __file__, "--child", "--frames", str(args.frames)],
        capture_output=True,
        text=True,
        env=env,
        check=True,
    )
    ref = json.loads(child.stdout)
    print(
        f"kernels: {kernels.IMPLEMENTATION} ({kernels.BUILD_PROFILE}) vs numpy reference; "
        f"median ms per frame"
    )
    d, r = cy["default"], ref["default"]
    print(f"\ndefault Trocadero show ({int(d['universes'])} universes, 5 canvases x 3 layers)")
    print(f"{'stage':12} {'cython':>9} {'numpy':>9} {'ratio':>7}")
    for k in ("composite", "masters", "planes", "gather", "kernels", "sources", "total"):
        print(f"{k:12} {d[k]:9.3f} {r[k]:9.3f} {r[k] / max(d[k], 1e-9):6.1f}x")
    share = 100 * d["kernels"] / PERIOD_MS
    ok = d["kernels"] <= 3.0 and r["kernels"] / d["kernels"] >= 5
    print(
        f"kernel path {d['kernels']:.2f} ms = {share:.1f} % of the 22.7 ms period; "
        f"{r['kernels'] / d['kernels']:.1f}x numpy; target (≤ 3 ms, ≥ 5x): "
        f"{'MET' if ok else 'NOT MET'}"
    )
    print(f"with sources: {d['total']:.2f} ms = {100 * d['total'] / PERIOD_MS:.1f} % of the period")
    print("\nscaling (one canvas, 170 RGB pixels per universe, the facade's 3 layers)")
    print(
        f"{'universes':>9} {'cython ms':>10} {'numpy ms':>9} {'ratio':>7} {'% 44 Hz':>8} "
        f"{'+sources ms':>12}"
    )
    for n in ("100", "800", "4000"):
        c, p = cy[n], ref[n]
        print(
            f"{n:>9} {c['kernels']:10.3f} {p['kernels']:9.3f} "
            f"{p['kernels'] / max(c['kernels'], 1e-9):6.1f}x "
            f"{100 * c['kernels'] / PERIOD_MS:7.1f}% {c['total']:12.3f}"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
