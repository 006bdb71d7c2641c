"""TUIO 1.1 and 2.0 frames into touch events: down/move/up on commit, sessions leaving
`alive` lifted, late frames ignored, a restarted tracker accepted, several sources on one
port, limits, malformed frames refused whole with their offset; random and mutated datagrams
only ever raise the typed error. Datagrams are built by tests/tuio_sender.py (by hand, not
with the daemon's encoder)."""

from __future__ import annotations

import struct

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.tuio_sender import cursor_frame, osc_bundle, osc_message
from trocadero.protocols.osc import OscError
from trocadero.protocols.tuio import TouchEvent, TuioError, TuioReceiver


def kinds(events: list[TouchEvent]) -> list[tuple[str, int, float, float]]:
    return [(e.kind, e.session, round(e.x, 3), round(e.y, 3)) for e in events]


def test_down_move_up() -> None:
    r = TuioReceiver()
    assert kinds(r.receive(cursor_frame(1, [(5, 0.25, 0.5)]))) == [("down", 5, 0.25, 0.5)]
    assert r.receive(cursor_frame(2, [(5, 0.25, 0.5)])) == []  # unchanged: nothing
    assert kinds(r.receive(cursor_frame(3, [(5, 0.5, 0.5), (6, 0.1, 0.9)]))) == [
        ("move", 5, 0.5, 0.5),
        ("down", 6, 0.1, 0.9),
    ]
    assert kinds(r.receive(cursor_frame(4, [(6, 0.1, 0.9)]))) == [("up", 5, 0.5, 0.5)]
    assert kinds(r.receive(cursor_frame(5, []))) == [("up", 6, 0.1, 0.9)]
    assert r.touches() == []


def test_nothing_is_committed_before_fseq() -> None:
    r = TuioReceiver()
    p = "/tuio/2Dcur"
    assert r.receive(osc_bundle([osc_message(p, ["alive", 1])])) == []
    assert r.receive(osc_message(p, ["set", 1, 0.5, 0.5, 0.0, 0.0, 0.0])) == []
    assert kinds(r.receive(osc_message(p, ["fseq", 9]))) == [("down", 1, 0.5, 0.5)]


def test_late_frames_are_ignored_and_a_restart_is_not() -> None:
    r = TuioReceiver()
    r.receive(cursor_frame(200, [(1, 0.5, 0.5)]))
    assert r.receive(cursor_frame(150, [])) == []  # late: 1 is still down
    assert r.late_frames == 1
    assert [t.session for t in r.touches()] == [1]
    assert kinds(r.receive(cursor_frame(200, [(1, 0.6, 0.5)]))) == [("move", 1, 0.6, 0.5)]
    # More than 100 back: the tracker restarted its count.
    assert kinds(r.receive(cursor_frame(3, []))) == [("up", 1, 0.6, 0.5)]
    # fseq -1 (a redundant frame) is always taken.
    assert kinds(r.receive(cursor_frame(-1, [(2, 0.0, 0.0)]))) == [("down", 2, 0.0, 0.0)]


def test_objects_blobs_and_sources() -> None:
    r = TuioReceiver()
    obj = osc_bundle(
        [
            osc_message("/tuio/2Dobj", ["alive", 3]),
            # set s i x y a X Y A m r
            osc_message("/tuio/2Dobj", ["set", 3, 42, 0.2, 0.3, 1.0, 0.0, 0.0, 0.0, 0.0, 0.0]),
            osc_message("/tuio/2Dobj", ["fseq", 1]),
        ]
    )
    (e,) = r.receive(obj)
    assert (e.kind, e.profile, e.symbol) == ("down", "obj", 42)
    assert e.x == pytest.approx(0.2)
    assert e.y == pytest.approx(0.3)
    blb = osc_bundle(
        [
            osc_message("/tuio/2Dblb", ["alive", 4]),
            # set s x y a w h f X Y A m r
            osc_message("/tuio/2Dblb", ["set", 4, 0.7, 0.8, 0.0, 0.1, 0.1, 0.01, *[0.0] * 5]),
            osc_message("/tuio/2Dblb", ["fseq", 1]),
        ]
    )
    assert kinds(r.receive(blb)) == [("down", 4, 0.7, 0.8)]
    # Two trackers on one port, told apart by their source: one's frame lifts only its own.
    a = cursor_frame(1, [(1, 0.1, 0.1)], source="left@10.0.0.1")
    b = cursor_frame(1, [(1, 0.9, 0.9)], source="right@10.0.0.2")
    assert [(e.source, e.kind) for e in r.receive(a) + r.receive(b)] == [
        ("left@10.0.0.1", "down"),
        ("right@10.0.0.2", "down"),
    ]
    (up,) = r.receive(cursor_frame(2, [], source="left@10.0.0.1"))
    assert (up.source, up.kind) == ("left@10.0.0.1", "up")


def test_coordinates_are_clamped() -> None:
    r = TuioReceiver()
    assert kinds(r.receive(cursor_frame(1, [(1, -0.01, 1.02)]))) == [("down", 1, 0.0, 1.0)]


def test_tuio2_pointers_and_tokens() -> None:
    r = TuioReceiver()

    def frame(f: int, ptrs: list[tuple[int, float, float]]) -> bytes:
        parts = [osc_message("/tuio2/frm", [f, 0, 0, "wall"])]
        # ptr s_id tu_id c_id x y a shear radius press
        parts += [
            osc_message("/tuio2/ptr", [s, 0, 0, x, y, 0.0, 0.0, 0.0, 0.0]) for s, x, y in ptrs
        ]
        parts.append(osc_message("/tuio2/alv", [s for s, _, _ in ptrs]))
        return osc_bundle(parts)

    events = r.receive(frame(1, [(7, 0.5, 0.25)]))
    assert kinds(events) == [("down", 7, 0.5, 0.25)]
    assert (events[0].profile, events[0].source) == ("ptr", "wall")
    assert kinds(r.receive(frame(2, [(7, 0.5, 0.5)]))) == [("move", 7, 0.5, 0.5)]
    assert r.receive(frame(1, [])) == []  # late
    assert kinds(r.receive(frame(3, []))) == [("up", 7, 0.5, 0.5)]
    with pytest.raises(TuioError, match="without a /tuio2/frm"):
        r.receive(osc_message("/tuio2/alv", []))


def test_a_malformed_frame_changes_nothing() -> None:
    r = TuioReceiver()
    r.receive(cursor_frame(1, [(1, 0.5, 0.5)]))
    bad = osc_bundle(
        [
            osc_message("/tuio/2Dcur", ["alive"]),
            osc_message("/tuio/2Dcur", ["set", 2, "x", 0.5, 0.0, 0.0, 0.0]),
            osc_message("/tuio/2Dcur", ["fseq", 2]),
        ]
    )
    with pytest.raises(TuioError) as info:
        r.receive(bad)
    assert "argument 2 must be a finite number" in info.value.what
    assert info.value.offset == 16 + 4 + len(osc_message("/tuio/2Dcur", ["alive"])) + 4
    assert [t.session for t in r.touches()] == [1]  # the first "alive" was not applied
    with pytest.raises(TuioError, match="unknown command 'wobble'"):
        r.receive(osc_message("/tuio/2Dcur", ["wobble"]))
    with pytest.raises(TuioError, match="expected at least 7 arguments"):
        r.receive(osc_message("/tuio/2Dcur", ["set", 1, 0.5]))
    nan = osc_message("/tuio/2Dcur", ["set", 1, 0.5, 0.5, 0.0, 0.0, 0.0]).replace(
        struct.pack(">f", 0.5), struct.pack(">f", float("nan")), 1
    )
    with pytest.raises(TuioError, match="finite"):
        r.receive(nan)


def test_limits() -> None:
    r = TuioReceiver(max_sessions=4, max_sources=2)
    with pytest.raises(TuioError, match="more than 4 sessions"):
        r.receive(cursor_frame(1, [(i, 0.5, 0.5) for i in range(5)]))
    r.receive(cursor_frame(1, [], source="a"))
    r.receive(cursor_frame(1, [], source="b"))
    with pytest.raises(TuioError, match="more than 2 TUIO sources"):
        r.receive(cursor_frame(1, [], source="c"))


def test_other_addresses_are_ignored() -> None:
    r = TuioReceiver()
    assert r.receive(osc_message("/tuio/25Dcur", ["fseq", 1])) == []
    assert r.receive(osc_message("/midi/note", [60])) == []


SAMPLES = [
    cursor_frame(1, [(1, 0.5, 0.5), (2, 0.2, 0.2)]),
    cursor_frame(2, [(1, 0.6, 0.5)], source="s@1"),
    osc_bundle([osc_message("/tuio2/frm", [1, 0, 0, "x"]), osc_message("/tuio2/alv", [])]),
]


@settings(max_examples=400, deadline=None)
@given(st.binary(max_size=300))
def test_random_bytes_only_raise_the_typed_error(data: bytes) -> None:
    r = TuioReceiver()
    try:
        r.receive(data)
    except OscError:
        pass


@settings(max_examples=600, deadline=None)
@given(
    st.sampled_from(SAMPLES),
    st.lists(st.tuples(st.integers(0, 400), st.integers(0, 255)), min_size=1, max_size=8),
    st.integers(0, 400),
)
def test_mutated_frames_only_raise_the_typed_error(
    sample: bytes, flips: list[tuple[int, int]], cut: int
) -> None:
    data = bytearray(sample)
    for at, value in flips:
        data[at % len(data)] = value
    r = TuioReceiver()
    r.receive(SAMPLES[0])
    for packet in (bytes(data), bytes(data[: cut % (len(data) + 1)])):
        try:
            events = r.receive(packet)
        except OscError:
            continue
        assert all(0.0 <= e.x <= 1.0 and 0.0 <= e.y <= 1.0 for e in events)
