"""The native render plan against its reference, the Python renderer: the same show, the same
plans and masters, the same frame times, the same universes bit for bit. Fades go over with
their timing (`Engine.compose(timed=True)`), so one plan handed over must match the reference
recomposed at every later frame time."""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import replace

import numpy as np
import pytest
import trocadero_rt
from hypothesis import given, settings
from hypothesis import strategies as st

from trocadero.config import load_default_config, load_default_show
from trocadero.config.show import CanvasLayersDef, LayerDef, LookDef
from trocadero.core.patch import compile_patch
from trocadero.core.playback.ladder import Engine
from trocadero.core.playback.plan import (
    Fade,
    Htp,
    LookRef,
    Node,
    Solid,
    fade,
    level16,
    resolve,
)
from trocadero.playout.playback import build_engine
from trocadero.playout.render.native import NativeScene, native_kind
from trocadero.playout.render.renderer import Renderer

TIMES = (0.0, 0.51, 1.234, 3.3, 100.5, 86400.77)


@pytest.fixture(scope="module")
def show_and_patch():  # type: ignore[no-untyped-def]
    show = load_default_show()
    return show, compile_patch(show)


def reference(r: Renderer, plans: Mapping[str, Node], t: float) -> np.ndarray:
    r.set_plans(plans)
    r.render(t)
    return r.universes.copy()


def masters_of(r: Renderer) -> dict[str, int]:
    return {n: c.master for n, c in r.canvases.items()}


def test_every_default_source_is_drawn_natively(show_and_patch) -> None:  # type: ignore[no-untyped-def]
    show, patch = show_and_patch
    r = Renderer(show, patch)
    kinds = {
        (type(layer.source).kind, native_kind(layer.source))
        for c in r.canvases.values()
        for stack in c.stacks.values()
        for layer in stack.layers
    }
    assert all(native != "slot" for _, native in kinds), kinds
    assert {"shift", "chase", "noise", "plasma", "static"} <= {n for _, n in kinds}


@pytest.mark.parametrize("look", [None, "warm-welcome", "blue-hour", "celebration"])
def test_each_look_matches_the_reference(show_and_patch, look: str | None) -> None:  # type: ignore[no-untyped-def]
    show, patch = show_and_patch
    r = Renderer(show, patch)
    scene = NativeScene(r)
    plans = (
        {n: c.plan for n, c in r.canvases.items()}
        if look is None
        else {n: LookRef(look) for n in r.canvases}
    )
    scene.set_plans(plans, r.grand_master, masters_of(r))
    for t in TIMES:
        frame, _ = scene.render(t)
        ref = reference(r, plans, t)
        assert np.array_equal(frame, ref), f"{look} at t={t}: {np.count_nonzero(frame != ref)}"
    scene.close()


def engine_plans(e: Engine, t: float) -> tuple[dict[str, Node], int, dict[str, int]]:
    grand = 0 if e.blackout else level16(e.grand_master)
    return e.compose(t), grand, {n: level16(m) for n, m in e.canvas_masters.items()}


def check_timed(e: Engine, r: Renderer, scene: NativeScene, t0: float, times: list[float]) -> None:
    """One timed plan handed over at t0 matches the reference recomposed at every t."""
    _, grand, masters = engine_plans(e, t0)
    scene.set_plans(e.compose(t0, timed=True), grand, masters)
    for t in times:
        ref_plans, ref_grand, ref_masters = engine_plans(e, t)
        r.grand_master = ref_grand
        for n, c in r.canvases.items():
            c.master = ref_masters[n]
        ref = reference(r, ref_plans, t)
        frame, _ = scene.render(t)
        assert np.array_equal(frame, ref), f"t0={t0} t={t}: {np.count_nonzero(frame != ref)}"


def test_fades_parks_overrides_and_masters_match_over_time(show_and_patch) -> None:  # type: ignore[no-untyped-def]
    show, patch = show_and_patch
    r = Renderer(show, patch)
    e = build_engine(show, r, load_default_config())
    scene = NativeScene(r)
    t = 10.0
    e.go("main", t)  # fades from idle to cue 1
    check_timed(e, r, scene, t, [t + k * 0.37 for k in range(12)])
    t = 12.0
    e.park("facade", t, Solid(65535, 20000, 0), fade=1.5)
    e.add_override(t, {"canopy": LookRef("blue-hour")}, ttl=30, fade_in=2.0, fade_out=1.0)
    e.set_canvas_master("canopy", 0.6)
    check_timed(e, r, scene, t, [t + k * 0.29 for k in range(10)])
    t = 14.0
    e.go("main", t)  # mid-fade GO: frozen bases, nested fades
    e.pause("main", t + 0.5)
    check_timed(e, r, scene, t + 0.5, [t + 0.5 + k * 0.41 for k in range(8)])
    e.resume("main", t + 3.0)
    e.set_grand_master(0.8)
    check_timed(e, r, scene, t + 3.0, [t + 3.0 + k * 0.5 for k in range(8)])
    e.set_blackout(True)
    check_timed(e, r, scene, t + 5.0, [t + 5.0, t + 6.0])
    e.set_blackout(False)
    e.set_emergency(True)  # the emergency look is exempt from every master
    check_timed(e, r, scene, t + 6.0, [t + 6.0, t + 7.0])
    scene.close()


def test_a_layer_with_no_native_port_is_fed_through_its_slot(show_and_patch) -> None:  # type: ignore[no-untyped-def]
    show, patch = show_and_patch
    wave = LookDef(
        name="waves",
        canvases=(
            CanvasLayersDef(
                canvas="stairs",
                layers=(LayerDef(source="wave", params={"colour": "#ff8000"}),),
            ),
        ),
    )
    show = replace(show, looks=(*show.looks, wave))
    r = Renderer(show, patch)
    scene = NativeScene(r)
    plans = {n: c.plan for n, c in r.canvases.items()} | {"stairs": LookRef("waves")}
    scene.set_plans(plans, r.grand_master, masters_of(r))
    fed = list(scene.fed_layers())
    assert [type(f.layer.source).kind for f in fed] == ["wave"]
    sources = {}
    for t in (1.0, 2.5):
        assert scene.feed(t) == 1
        frame, sources[t] = scene.render(t)
        assert np.array_equal(frame, reference(r, plans, t))
    assert fed[0].slot.writes == 2
    # Not fed (Python busy): the layer shows its last frame, the rest of the frame moves on.
    _, later = scene.render(4.0)

    def part(source: np.ndarray, canvas: str) -> np.ndarray:
        m = r.patch.canvases[canvas]
        return source[m.rgb_offset : m.rgb_offset + 3 * m.width * m.height]

    assert np.array_equal(part(later, "stairs"), part(sources[2.5], "stairs"))
    assert not np.array_equal(part(later, "facade"), part(sources[2.5], "facade"))
    scene.close()


def test_a_dropped_look_is_rebuilt_and_mirrored_again(show_and_patch) -> None:  # type: ignore[no-untyped-def]
    show, patch = show_and_patch
    r = Renderer(show, patch)
    scene = NativeScene(r)
    plans = {n: LookRef("celebration") for n in r.canvases}
    scene.set_plans(plans, r.grand_master, masters_of(r))
    before = len(scene._stacks)
    r.rebuild_looks(["celebration"])
    assert len(scene._stacks) < before
    scene.set_plans(plans, r.grand_master, masters_of(r))  # rebuilt on use, mirrored
    assert len(scene._stacks) == before
    frame, _ = scene.render(5.0)
    assert np.array_equal(frame, reference(r, plans, 5.0))
    scene.close()


def test_bad_plans_and_stacks_are_refused_with_a_reason(show_and_patch) -> None:  # type: ignore[no-untyped-def]
    show, patch = show_and_patch
    r = Renderer(show, patch)
    scene = NativeScene(r)
    n = len(r.canvases)
    black = ([("black",)], 0, 65535, False)
    with pytest.raises(ValueError, match="later node"):
        scene.native.set_plan([([("htp", 0, 1), ("black",)], 0, 65535, False)] * n, 65535)
    with pytest.raises(ValueError, match="canvases"):
        scene.native.set_plan([black], 65535)
    with pytest.raises(ValueError, match="unknown plan node"):
        scene.native.set_plan([([("sparkles",)], 0, 65535, False)] * n, 65535)
    nodes = [("black",), ("black",), ("timed", 0, 1, 0.0, 0.0, None, 0.0, 1.0, 1.0, "wobbly")]
    with pytest.raises(ValueError, match="unknown fade curve"):
        scene.native.set_plan([(nodes, 2, 65535, False)] * n, 65535)
    with pytest.raises(ValueError, match="buffer has 3 values"):
        scene.native.add_stack(99, 0, [(("static",), 0, 65535, b"\0" * 6)])
    with pytest.raises(ValueError, match="no canvas 99"):
        scene.native.add_stack(99, 99, [])
    with pytest.raises(ValueError, match="blend mode 9"):
        scene.native.add_stack(99, 0, [(("static",), 9, 65535, b"")])
    with pytest.raises(ValueError, match="512 slots"):
        scene.native.set_inputs([(0, True, b"\1" * 3)])
    with pytest.raises(RuntimeError, match="frame clock must be started"):
        scene.native.start(trocadero_rt.FrameClock(44.0, patch.frame_bytes))
    scene.close()


def test_the_render_thread_reports_the_first_frame_drawn_with_each_plan(show_and_patch) -> None:  # type: ignore[no-untyped-def]
    # What the "frame" span of a traced command is made of (docs/tracing.md).
    show, patch = show_and_patch
    r = Renderer(show, patch)
    scene = NativeScene(r)
    clock = trocadero_rt.FrameClock(100.0, patch.frame_bytes)
    n = len(r.canvases)
    black = ([("black",)], 0, 65535, False)
    first = scene.native.set_plan([black] * n, 65535)
    assert scene.native.drawn_plan() == (0, 0)  # nothing drawn yet
    clock.start()
    try:
        scene.native.start(clock)
        deadline = time.monotonic() + 2.0
        while scene.native.drawn_plan()[0] < first and time.monotonic() < deadline:
            time.sleep(0.001)
        assert scene.native.drawn_plan()[0] == first
        handed = time.monotonic_ns()
        second = scene.native.set_plan([black] * n, 65535)
        assert second == first + 1
        scene.native.poke()
        while scene.native.drawn_plan()[0] < second and time.monotonic() < deadline:
            time.sleep(0.001)
        number, index = scene.native.drawn_plan()
        assert number == second
        # Its frame: the first deadline after the hand-over, or the one after that when a
        # render was under way — never one already past.
        after = clock.deadline_after(handed)
        assert after is not None
        assert after[0] <= index <= after[0] + 2
    finally:
        scene.close()
        clock.stop()


# --- the timed composition is the composition --------------------------------------------

OPS = st.lists(
    st.tuples(
        st.sampled_from(["go", "back", "pause", "resume", "park", "unpark", "override"]),
        st.floats(0.05, 3.0),
    ),
    min_size=1,
    max_size=8,
)


def normal(node: Node) -> Node:
    """The node with fades whose two sides are equal (after substitution) collapsed: they
    draw the same (lerp(x, x) == x), whichever way the tree was built."""
    if isinstance(node, Fade):
        return fade(normal(node.a), normal(node.b), node.up, node.down)
    if isinstance(node, Htp):
        return Htp(normal(node.a), normal(node.b))
    return node


@settings(max_examples=60, deadline=None)
@given(OPS, st.lists(st.floats(0.0, 12.0), min_size=1, max_size=6))
def test_resolving_a_timed_plan_gives_the_plain_plan(ops, later) -> None:  # type: ignore[no-untyped-def]
    show = load_default_show()
    e = Engine(
        tuple(c.name for c in show.canvases),
        looks={look.name: look for look in show.looks},
        cue_lists=show.cue_lists,
        idle_canvases=[c.name for c in show.canvases],
    )
    t = 1.0
    for op, dt in ops:
        t += dt
        if op == "go":
            e.go("main", t)
        elif op == "back":
            e.back("main", t)
        elif op == "pause":
            e.pause("main", t)
        elif op == "resume":
            e.resume("main", t)
        elif op == "park":
            e.park("facade", t, Solid(1, 2, 3), fade=dt)
        elif op == "unpark":
            e.unpark("facade", t, fade=dt)
        else:
            e.add_override(t, {"canopy": LookRef("blue-hour")}, ttl=dt * 2, fade_in=dt)
        e.tick(t)
        timed = e.compose(t, timed=True)
        due = min(
            (w for w in [pb.due_time() for pb in e.lists.values()] if w is not None),
            default=None,
        )
        expiries = [ov.expires for ov in e.overrides.values() if ov.expires is not None]
        for extra in later:
            at = t + extra
            if (due is not None and at >= due) or any(at >= x for x in expiries):
                continue  # a discrete change comes first: the plan would be replaced
            plain = e.compose(at)
            for canvas in plain:
                got, want = normal(resolve(timed[canvas], at)), normal(plain[canvas])
                assert got == want, (canvas, at, t)
