"""Cue-list semantics and the priority ladder under a controlled clock.

Looks here are single-pixel colours, so a plan evaluates (with the numpy reference kernels)
to one RGB triple per canvas and every assertion is about what the audience would see.
"""

from __future__ import annotations

import json
from decimal import Decimal

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from trocadero.config.show import CanvasLayersDef, CueDef, CueListDef, CuePartDef, LookDef
from trocadero.core.playback.cuelist import Outcome, PlaybackError
from trocadero.core.playback.ladder import Engine
from trocadero.core.playback.persist import restore, snapshot
from trocadero.core.playback.plan import EMERGENCY_LOOK, IDLE_LOOK, LookRef, Solid, evaluate

FULL = 65535
RED, BLUE, WHITE, GREY, GREEN = (
    (FULL, 0, 0),
    (0, 0, FULL),
    (FULL, FULL, FULL),
    (1000, 1000, 1000),
    (0, FULL, 0),
)
COLOURS = {
    "red": RED,
    "blue": BLUE,
    "white": WHITE,
    "green": GREEN,
    IDLE_LOOK: GREY,
    EMERGENCY_LOOK: WHITE,
}


def look(name: str, *canvases: str) -> LookDef:
    return LookDef(name=name, canvases=tuple(CanvasLayersDef(canvas=c) for c in canvases))


LOOKS = {
    "red": look("red", "a", "b"),
    "blue": look("blue", "a", "b"),
    "white": look("white", "a"),
    "green": look("green", "a", "b"),
}


def cue(number: str, look_name: str, **kw: object) -> CueDef:
    kw.setdefault("up_fade", 0.0)
    kw.setdefault("down_fade", 0.0)
    return CueDef(number=Decimal(number), look=look_name, **kw)  # type: ignore[arg-type]


def engine(*lists: CueListDef, idle: bool = True, **kw: object) -> Engine:
    return Engine(
        ("a", "b"),
        looks=LOOKS,
        cue_lists=lists,
        idle_canvases=("a", "b") if idle else (),
        emergency_canvases=("a",),
        **kw,  # type: ignore[arg-type]
    )


def seen(e: Engine, t: float, canvas: str = "a", tick: bool = True) -> tuple[int, ...]:
    if tick:
        e.tick(t)
    plan = e.compose(t)[canvas]
    out = evaluate(plan, lambda n: np.array(COLOURS[n], dtype=np.uint16), (1, 1, 3))
    return tuple(int(v) for v in out.reshape(-1))


def lerp(a: tuple[int, ...], b: tuple[int, ...], w: float) -> tuple[int, ...]:
    return tuple(round(x + (y - x) * w) for x, y in zip(a, b, strict=True))


def close(a: tuple[int, ...], b: tuple[int, ...], tol: int = 2) -> bool:
    return all(abs(x - y) <= tol for x, y in zip(a, b, strict=True))


# --- GO, follow, hang ---------------------------------------------------------------------


def test_go_fades_from_idle_to_the_cue() -> None:
    e = engine(CueListDef(name="m", cues=(cue("1", "red", up_fade=4.0, down_fade=4.0),)))
    assert seen(e, 0.0) == GREY
    assert e.go("m", 10.0) is Outcome.DONE
    assert seen(e, 10.0) == GREY
    assert close(seen(e, 11.0), lerp(GREY, RED, 0.25))
    assert seen(e, 14.0) == RED
    assert seen(e, 100.0) == RED


def test_follow_counts_from_go_and_hang_from_fade_end() -> None:
    follow = CueListDef(
        name="f",
        cues=(
            cue("1", "red", up_fade=5.0, down_fade=5.0, follow=2.0),
            cue("2", "blue", up_fade=1.0, down_fade=1.0),
        ),
    )
    hang = CueListDef(
        name="h",
        cues=(
            cue("1", "red", up_fade=5.0, down_fade=5.0, hang=2.0),
            cue("2", "blue", up_fade=1.0, down_fade=1.0),
        ),
    )
    ef, eh = engine(follow), engine(hang)
    ef.go("f", 0.0)
    eh.go("h", 0.0)
    ef.tick(1.999)
    assert ef.playback("f").current == Decimal(1)
    ef.tick(2.0)
    assert ef.playback("f").current == Decimal(2)
    eh.tick(6.999)
    assert eh.playback("h").current == Decimal(1)
    eh.tick(7.0)
    assert eh.playback("h").current == Decimal(2)
    # The auto-GO happened at its exact time even though the tick came late: cue 2's 1 s fade
    # is half done at 7.5 whichever frame first noticed it.
    eh2 = engine(hang)
    eh2.go("h", 0.0)
    assert close(seen(eh2, 7.5), lerp(RED, BLUE, 0.5))


def test_follow_chain_with_link_and_loop_count() -> None:
    cl = CueListDef(
        name="m",
        cues=(
            cue("1", "red", follow=1.0),
            cue("2", "blue", follow=1.0, link=Decimal(1), loop=2),
            cue("3", "green"),
        ),
    )
    e = engine(cl)
    e.go("m", 0.0)
    played = []
    for step in range(8):
        e.tick(step + 0.5)
        played.append(str(e.playback("m").current))
    # 1, 2, (link) 1, 2, (link) 1, 2, then the loop count is spent: 3, and it stays.
    assert played == ["1", "2", "1", "2", "1", "2", "3", "3"]


def test_go_at_the_end_of_the_list_changes_nothing() -> None:
    e = engine(CueListDef(name="m", cues=(cue("1", "red"),)))
    assert e.go("m", 0.0) is Outcome.DONE
    assert e.go("m", 5.0) is Outcome.END_OF_LIST
    assert seen(e, 6.0) == RED


def test_cue_numbers_play_in_numeric_order() -> None:
    e = engine(CueListDef(name="m", cues=(cue("10", "blue"), cue("2", "red"), cue("2.5", "green"))))
    e.go("m", 0.0)
    assert e.playback("m").current == Decimal(2)
    e.go("m", 1.0)
    assert e.playback("m").current == Decimal("2.5")
    e.go("m", 2.0)
    assert e.playback("m").current == Decimal(10)


# --- debounce -----------------------------------------------------------------------------


def test_double_press_within_the_window_is_one_go() -> None:
    e = engine(
        CueListDef(name="m", cues=(cue("1", "red"), cue("2", "blue"), cue("3", "green"))),
        debounce=0.3,
    )
    assert e.go("m", 1.0) is Outcome.DONE
    assert e.go("m", 1.2) is Outcome.DEBOUNCED
    assert e.playback("m").current == Decimal(1)
    assert e.go("m", 1.31) is Outcome.DONE
    assert e.playback("m").current == Decimal(2)


def test_a_rule_going_again_just_after_its_release_is_not_taken_for_a_double_press() -> None:
    # Presence on the stairs, gone, back 0.1 s later: the rule's second GO must light them
    # (found by benches/sensor_to_wire.py: it was swallowed by the console's guard).
    e = engine(CueListDef(name="m", cues=(cue("1", "red"),)), debounce=0.3)
    assert e.go("m", 1.0, level="rules", by="rule:stairs") is Outcome.DONE
    assert e.release("m", 1.05, 0.0) is Outcome.DONE
    assert e.go("m", 1.15, level="rules", by="rule:stairs") is Outcome.DONE
    assert e.playback("m").current == Decimal(1)
    # A technician's double press on the same list is still one GO.
    assert e.release("m", 2.0, 0.0) is Outcome.DONE
    assert e.go("m", 3.0) is Outcome.DONE
    assert e.release("m", 3.05, 0.0) is Outcome.DONE
    assert e.go("m", 3.1) is Outcome.DEBOUNCED


# --- GOTO, FIRE, LOAD, BACK, RELEASE, TOP -------------------------------------------------


def test_goto_plays_the_full_look_with_an_optional_fade_override() -> None:
    cl = CueListDef(
        name="m",
        cues=(cue("1", "red"), cue("2", "blue", up_fade=8.0, down_fade=8.0), cue("3", "green")),
    )
    e = engine(cl)
    e.go("m", 0.0)
    e.goto("m", 1.0, Decimal(2))
    assert close(seen(e, 3.0), lerp(RED, BLUE, 0.25))  # the cue's own 8 s
    assert e.playback("m").pending == Decimal(3)
    e.goto("m", 20.0, Decimal(1), fade=2.0)
    assert close(seen(e, 21.0), lerp(BLUE, RED, 0.5))
    assert seen(e, 22.0) == RED
    with pytest.raises(PlaybackError, match='"m" has no cue 7'):
        e.goto("m", 30.0, Decimal(7))


def test_fire_is_out_of_sequence_and_load_sets_the_standby() -> None:
    e = engine(CueListDef(name="m", cues=(cue("1", "red"), cue("2", "blue"), cue("3", "green"))))
    e.go("m", 0.0)
    e.fire("m", 1.0, Decimal(3))
    assert seen(e, 1.0) == GREEN
    assert e.playback("m").pending == Decimal(2)  # the standby did not move
    e.load("m", Decimal(1))
    e.go("m", 2.0)
    assert seen(e, 2.0) == RED


def test_back_uses_the_back_fade_time() -> None:
    cl = CueListDef(
        name="m", back_fade=2.0, cues=(cue("1", "red"), cue("2", "blue", up_fade=5, down_fade=5))
    )
    e = engine(cl)
    e.go("m", 0.0)
    e.go("m", 1.0)
    e.back("m", 10.0)
    assert e.playback("m").current == Decimal(1)
    assert close(seen(e, 11.0), lerp(BLUE, RED, 0.5))
    assert seen(e, 12.0) == RED
    e.back("m", 20.0, fade=4.0)  # before the first cue: the list lets go
    assert close(seen(e, 21.0), lerp(RED, GREY, 0.25))
    assert seen(e, 24.0) == GREY


def test_release_fades_back_to_what_is_under_and_resets_the_standby() -> None:
    e = engine(CueListDef(name="m", cues=(cue("1", "red"), cue("2", "blue"))))
    e.go("m", 0.0)
    e.go("m", 1.0)
    e.release("m", 5.0, fade=2.0)
    assert close(seen(e, 6.0), lerp(BLUE, GREY, 0.5))
    assert seen(e, 7.0) == GREY
    assert e.playback("m").pending == Decimal(1)
    assert e.playback("m").track.lanes == {}


def test_top_plays_the_first_cue_again() -> None:
    e = engine(CueListDef(name="m", cues=(cue("1", "red"), cue("2", "blue"))))
    e.go("m", 0.0)
    e.go("m", 1.0)
    e.top("m", 2.0)
    assert seen(e, 2.0) == RED
    assert e.playback("m").pending == Decimal(2)


# --- pause --------------------------------------------------------------------------------


def test_a_fade_paused_at_40_percent_holds_exactly() -> None:
    e = engine(
        CueListDef(
            name="m",
            cues=(
                cue("1", "red"),
                cue("2", "blue", up_fade=10.0, down_fade=10.0, follow=12.0),
                cue("3", "green"),
            ),
        )
    )
    e.go("m", 0.0)
    e.go("m", 100.0)
    e.pause("m", 104.0)
    held = seen(e, 104.0)
    assert close(held, lerp(RED, BLUE, 0.4))
    for t in (104.5, 150.0, 10_000.0):
        assert seen(e, t) == held  # bit-exact, for as long as it stays paused
    assert e.playback("m").current == Decimal(2)  # the follow timer is frozen too
    e.go("m", 10_000.0)  # GO on a paused list resumes it
    assert close(seen(e, 10_003.0), lerp(RED, BLUE, 0.7))
    e.tick(10_007.999)
    assert e.playback("m").current == Decimal(2)
    e.tick(10_008.0)  # 12 s of running time after cue 2's GO
    assert e.playback("m").current == Decimal(3)


# --- crossfades ---------------------------------------------------------------------------


def test_red_to_red_at_full_never_flickers() -> None:
    cl = CueListDef(
        name="m",
        cues=(
            cue("1", "red", up_fade=2, down_fade=2),
            cue("2", "red", up_fade=3, down_fade=1, curve="s-curve"),
        ),
    )
    e = engine(cl)
    e.go("m", 0.0)
    e.go("m", 5.0)
    for i in range(400):
        assert seen(e, 5.0 + i * 0.01) == RED


def test_up_and_down_times_move_rising_and_falling_values_separately() -> None:
    cl = CueListDef(name="m", cues=(cue("1", "red"), cue("2", "blue", up_fade=2.0, down_fade=8.0)))
    e = engine(cl)
    e.go("m", 0.0)
    e.go("m", 10.0)
    r, _g, b = seen(e, 12.0)
    assert b == FULL  # blue rose in 2 s
    assert abs(r - round(FULL * 0.75)) <= 1  # red falls over 8 s


def test_delay_postpones_the_fade() -> None:
    e = engine(
        CueListDef(
            name="m",
            cues=(cue("1", "red"), cue("2", "blue", up_fade=2.0, down_fade=2.0, delay=3.0)),
        )
    )
    e.go("m", 0.0)
    e.go("m", 10.0)
    assert seen(e, 12.9) == RED
    assert close(seen(e, 14.0), lerp(RED, BLUE, 0.5))


def test_parts_give_canvases_their_own_times() -> None:
    part = CuePartDef(canvases=("b",), up_fade=10.0, down_fade=10.0)
    e = engine(
        CueListDef(
            name="m",
            cues=(cue("1", "red"), cue("2", "blue", up_fade=1.0, down_fade=1.0, parts=(part,))),
        )
    )
    e.go("m", 0.0)
    e.go("m", 10.0)
    assert seen(e, 11.0, "a") == BLUE
    assert close(seen(e, 11.0, "b"), lerp(RED, BLUE, 0.1))


def test_go_mid_fade_continues_from_what_is_on_stage() -> None:
    e = engine(
        CueListDef(
            name="m",
            cues=(
                cue("1", "red", up_fade=4, down_fade=4),
                cue("2", "blue", up_fade=4, down_fade=4),
            ),
        )
    )
    e.go("m", 0.0)
    before = seen(e, 2.0)
    e.go("m", 2.0)
    assert seen(e, 2.0) == before  # no jump at the moment of the GO
    assert seen(e, 6.0) == BLUE


def test_fade_progress_is_exact_at_any_frame_rate() -> None:
    cl = CueListDef(name="m", cues=(cue("1", "red", up_fade=3.0, down_fade=3.0, curve="ease-in"),))
    slow, fast = engine(cl), engine(cl)
    slow.go("m", 0.0)
    fast.go("m", 0.0)
    for i in range(1, 44 * 3):  # one engine ticks at 44 Hz, the other only at the sample
        fast.tick(i / 44)
    assert seen(slow, 65 / 44, tick=True) == seen(fast, 65 / 44)


# --- the ladder ---------------------------------------------------------------------------


def test_higher_priority_list_covers_lower_and_htp_takes_the_higher_value() -> None:
    low = CueListDef(name="low", priority=10, cues=(cue("1", "red"),))
    high = CueListDef(name="high", priority=20, cues=(cue("1", "blue"),))
    htp = CueListDef(name="htp", priority=20, mode="htp", cues=(cue("1", "green"),))
    e = engine(low, high, htp)
    e.go("high", 0.0)
    e.go("low", 1.0)  # later, but lower priority
    assert seen(e, 1.0) == BLUE
    e.go("htp", 2.0)
    assert seen(e, 2.0) == (0, FULL, FULL)  # max(blue, green)


def test_equal_priority_lists_are_latest_takes_precedence() -> None:
    e = engine(
        CueListDef(name="x", cues=(cue("1", "red"),)),
        CueListDef(name="y", cues=(cue("1", "blue"),)),
    )
    e.go("x", 0.0)
    e.go("y", 1.0)
    assert seen(e, 1.0) == BLUE
    e.go("x", 2.0)  # end of list: no change, y stays on top
    assert seen(e, 2.0) == BLUE
    e.goto("x", 3.0, Decimal(1))
    assert seen(e, 3.0) == RED


def test_scripted_override_covers_a_cue_list_and_expires_by_itself() -> None:
    e = engine(CueListDef(name="m", cues=(cue("1", "red"),)))
    e.go("m", 0.0)
    oid = e.add_override(1.0, {"a": LookRef("blue")}, ttl=5.0, fade_out=2.0)
    assert seen(e, 1.0) == BLUE
    assert seen(e, 1.0, "b") == RED  # only the canvases it names
    assert seen(e, 5.99) == BLUE
    assert close(seen(e, 7.0), lerp(BLUE, RED, 0.5))  # expired at 6.0, fading out over 2 s
    assert seen(e, 8.0) == RED
    assert oid not in e.overrides


def test_a_refreshed_override_lives_on() -> None:
    e = engine()
    oid = e.add_override(0.0, {"a": Solid(*GREEN)}, ttl=1.0)
    e.tick(0.9)
    e.refresh_override(oid, 0.9, ttl=1.0)
    assert seen(e, 1.5) == GREEN
    assert seen(e, 2.0) == GREY


def test_park_covers_overrides_and_emergency_covers_everything() -> None:
    e = engine(CueListDef(name="m", cues=(cue("1", "red"),)))
    e.go("m", 0.0)
    e.add_override(0.0, {"a": LookRef("blue")}, ttl=100.0)
    e.park("a", 1.0, Solid(*GREEN))
    assert seen(e, 1.0) == GREEN
    e.set_emergency(True)
    assert seen(e, 2.0) == WHITE
    assert seen(e, 2.0, "b") == RED  # no emergency look for b: it keeps playing
    e.set_emergency(False)
    assert seen(e, 3.0) == GREEN
    e.unpark("a", 4.0)
    assert seen(e, 4.0) == BLUE


def test_safe_state_when_there_is_no_idle_look() -> None:
    e = engine(idle=False)
    assert seen(e, 0.0) == (0, 0, 0)
    hold = engine(idle=False, safe_state="hold")
    assert repr(hold.compose(0.0)["a"]) == "HOLD"


def test_panic_fades_everything_to_idle() -> None:
    e = engine(CueListDef(name="m", cues=(cue("1", "red"),)))
    e.go("m", 0.0)
    e.park("b", 0.0, Solid(*GREEN))
    e.panic(10.0, 4.0)
    assert close(seen(e, 12.0), lerp(RED, GREY, 0.5))
    assert seen(e, 14.0) == GREY
    assert seen(e, 14.0, "b") == GREY


def test_masters_and_blackout_are_reported_for_the_renderer() -> None:
    e = engine()
    e.set_grand_master(0.5)
    e.set_canvas_master("a", 0.25)
    e.set_blackout(True)
    m = e.masters()
    assert (m.grand, m.canvases["a"], m.blackout) == (0.5, 0.25, True)
    with pytest.raises(PlaybackError, match='no canvas "zz"'):
        e.set_canvas_master("zz", 1.0)


# --- no dip, no snap (property) -----------------------------------------------------------

colour = st.tuples(*[st.integers(0, FULL)] * 3)
curve = st.sampled_from(["linear", "s-curve", "ease-in", "ease-out", "snap"])
seconds = st.floats(0.0, 10.0)


@settings(max_examples=150, deadline=None)
@given(
    a=colour,
    b=colour,
    c1=curve,
    up=seconds,
    down=seconds,
    delay=st.floats(0.0, 3.0),
    samples=st.lists(st.floats(0.0, 25.0), min_size=2, max_size=30),
)
def test_crossfades_never_dip_or_overshoot(
    a: tuple[int, int, int],
    b: tuple[int, int, int],
    c1: str,
    up: float,
    down: float,
    delay: float,
    samples: list[float],
) -> None:
    COLOURS["pa"], COLOURS["pb"] = a, b
    looks = {"pa": look("pa", "a"), "pb": look("pb", "a")}
    cl = CueListDef(
        name="m",
        cues=(
            CueDef(number=Decimal(1), look="pa", up_fade=0, down_fade=0),
            CueDef(number=Decimal(2), look="pb", up_fade=up, down_fade=down, delay=delay, curve=c1),  # type: ignore[arg-type]
        ),
    )
    e = Engine(("a",), looks=looks, cue_lists=(cl,))
    e.go("m", 0.0)
    e.go("m", 1.0)
    previous: tuple[int, ...] | None = None
    for t in sorted(samples):
        now = seen(e, 1.0 + t)
        for i in range(3):
            lo, hi = min(a[i], b[i]), max(a[i], b[i])
            assert lo <= now[i] <= hi  # never outside its two ends: no dip, no overshoot
            if previous is not None:  # and it only ever moves towards b
                assert (now[i] - previous[i]) * (b[i] - a[i]) >= 0
        previous = now


# --- restart ------------------------------------------------------------------------------


def test_restore_resumes_a_fade_at_the_right_point_and_replays_follows() -> None:
    cl = CueListDef(
        name="m",
        cues=(
            cue("1", "red"),
            cue("2", "blue", up_fade=10.0, down_fade=10.0, hang=5.0),
            cue("3", "green", up_fade=2.0, down_fade=2.0),
        ),
    )
    first = engine(cl)
    first.go("m", 0.0)
    first.go("m", 100.0)
    first.park("b", 100.0, Solid(*WHITE))
    first.set_grand_master(0.8)
    first.add_override(100.0, {"a": LookRef("white")}, ttl=1000.0)
    doc = json.loads(json.dumps(snapshot(first, 103.0, 5_000.0)))  # it must be JSON
    # "Restarted" 4 s of wall time later, on a frame clock that starts again near zero.
    second = engine(cl)
    assert restore(second, doc, 2.0, 5_004.0) == []
    assert close(seen(second, 2.0), lerp(RED, BLUE, 0.7))  # 7 s into the 10 s fade
    assert seen(second, 2.0, "b") == WHITE  # the park came back, the override did not
    assert second.grand_master == 0.8
    # Restarted long after: the fade has finished and the hang (at 15 s) has fired cue 3.
    third = engine(cl)
    restore(third, doc, 0.0, 5_100.0)
    third.tick(0.0)
    assert third.playback("m").current == Decimal(3)
    assert seen(third, 0.0) == GREEN


def test_restore_keeps_a_paused_fade_where_it_was() -> None:
    cl = CueListDef(
        name="m", cues=(cue("1", "red"), cue("2", "blue", up_fade=10.0, down_fade=10.0))
    )
    first = engine(cl)
    first.go("m", 0.0)
    first.go("m", 10.0)
    first.pause("m", 14.0)
    doc = snapshot(first, 20.0, 1_000.0)
    second = engine(cl)
    restore(second, doc, 0.0, 9_000.0)
    assert seen(second, 0.0) == seen(first, 20.0)
    second.resume("m", 1.0)
    assert close(seen(second, 4.0), lerp(RED, BLUE, 0.7))


def test_restore_reports_what_no_longer_exists() -> None:
    doc = snapshot(engine(CueListDef(name="gone", cues=(cue("1", "red"),))), 0.0, 0.0)
    doc["lists"]["gone"] = {"current": "1", "started_wall": 0.0}
    notes = restore(engine(), doc, 0.0, 1.0)
    assert notes == ['cue list "gone" no longer exists']


def test_schedule_looks_sit_under_the_cue_lists() -> None:
    e = engine(CueListDef(name="m", cues=(cue("1", "red"),)))
    e.set_schedule_looks(0.0, {"a": LookRef("blue")}, fade=2.0)
    assert close(seen(e, 1.0), lerp(GREY, BLUE, 0.5))
    e.go("m", 3.0)
    assert seen(e, 3.0) == RED
    e.release("m", 4.0, fade=0.0)
    assert seen(e, 4.0) == BLUE  # the schedule shows again when the list lets go
    e.set_schedule_looks(5.0, {}, fade=0.0)
    assert seen(e, 5.0) == GREY


def test_a_list_created_empty_stands_by_on_its_first_cue_once_it_has_one() -> None:
    e = engine(CueListDef(name="m"))
    assert e.playback("m").pending is None
    assert e.go("m", 0.0) is Outcome.END_OF_LIST
    e.set_cue_list(CueListDef(name="m", cues=(cue("1", "red"), cue("2", "blue"))))
    assert e.playback("m").pending == Decimal(1)
    assert e.go("m", 1.0) is Outcome.DONE
    assert e.playback("m").current == Decimal(1)
    # At its end, a cue added after the last one stands by.
    e.go("m", 2.0)
    assert e.playback("m").pending is None
    e.set_cue_list(
        CueListDef(name="m", cues=(cue("1", "red"), cue("2", "blue"), cue("3", "green")))
    )
    assert e.playback("m").pending == Decimal(3)


def test_a_list_at_its_end_is_still_at_its_end_after_a_restart() -> None:
    cl = CueListDef(name="m", cues=(cue("1", "red"), cue("2", "blue")))
    first = engine(cl)
    first.go("m", 0.0)
    first.go("m", 10.0)
    assert first.playback("m").pending is None
    doc = json.loads(json.dumps(snapshot(first, 20.0, 1_000.0)))
    second = engine(cl)
    assert restore(second, doc, 0.0, 1_005.0) == []
    assert second.playback("m").current == Decimal(2)
    assert second.playback("m").pending is None
    assert second.go("m", 1.0) is Outcome.END_OF_LIST  # not cue 1 again


def test_a_fade_counts_down_and_stands_still_while_paused() -> None:
    e = engine(CueListDef(name="m", cues=(cue("1", "red", up_fade=4.0, down_fade=4.0),)))
    e.go("m", 10.0)
    pb = e.playback("m")
    assert pb.fade_times(11.0) == (1.0, 3.0)
    e.pause("m", 11.0)
    assert pb.fade_times(20.0) == (1.0, 3.0)  # paused: the clock of the list stands still
    e.resume("m", 20.0)
    assert pb.fade_times(22.0) == (3.0, 1.0)
    assert pb.fade_times(30.0) == (4.0, 0.0)
    assert pb.progress(30.0) == 1.0


def test_an_override_gone_after_its_release_is_a_new_revision() -> None:
    # The state pushed to the UIs changes when a released override is finally dropped.
    e = engine()
    oid = e.add_override(0.0, {"a": LookRef("red")}, ttl=60.0)
    e.release_override(oid, 1.0, 0.5)
    before = e.revision
    e.tick(2.0)
    assert oid not in e.overrides
    assert e.revision > before
