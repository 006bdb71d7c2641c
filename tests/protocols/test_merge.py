"""The receiver-side merge: priority, HTP, source timeout, §6.7.2 sequence, options, bounds.

Packets are built with the protocol builders and sent through the decoders, so the merge
sees exactly what a receiver would.
"""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from trocadero.protocols.artnet import ArtDmx, decode_artnet
from trocadero.protocols.merge import SLOTS, MergeResult, UniverseMerger, Verdict
from trocadero.protocols.sacn import DataPacket, decode_sacn

CID_A = bytes(range(16))
CID_B = bytes(range(16, 32))
CID_C = bytes(range(32, 48))
UNIVERSE = 7


def sacn(
    cid: bytes,
    data: bytes,
    *,
    sequence: int = 0,
    priority: int = 100,
    universe: int = UNIVERSE,
    preview: bool = False,
    terminated: bool = False,
    start_code: int = 0,
    name: str = "console",
) -> DataPacket:
    packet = DataPacket(
        cid=cid,
        source_name=name,
        universe=universe,
        data=data,
        priority=priority,
        sequence=sequence,
        preview=preview,
        stream_terminated=terminated,
        start_code=start_code,
    )
    decoded = decode_sacn(packet.to_bytes())
    assert isinstance(decoded, DataPacket)
    return decoded


def artdmx(data: bytes, *, sequence: int = 0, port_address: int = UNIVERSE - 1) -> ArtDmx:
    decoded = decode_artnet(ArtDmx(port_address, data, sequence).to_bytes())
    assert isinstance(decoded, ArtDmx)
    return decoded


def padded(*values: int) -> bytes:
    return bytes(values).ljust(SLOTS, b"\0")


def test_no_source_is_inactive_and_dark() -> None:
    result = UniverseMerger(UNIVERSE).merged(0.0)
    assert result == MergeResult(UNIVERSE, bytes(SLOTS), (), None, False)


def test_single_source() -> None:
    m = UniverseMerger(UNIVERSE)
    data = bytes(i % 256 for i in range(SLOTS))
    assert m.feed_sacn(sacn(CID_A, data, sequence=1), 0.0, "10.0.0.5") is Verdict.ACCEPTED
    result = m.merged(0.1)
    assert result.slots == data
    assert result.active
    assert result.winning_priority == 100
    (info,) = result.sources
    assert info.protocol == "sacn"
    assert info.source_id == "00010203-0405-0607-0809-0a0b0c0d0e0f"
    assert info.name == "console"
    assert info.address == "10.0.0.5"
    assert (info.priority, info.slot_count, info.sequence, info.packets) == (100, 512, 1, 1)
    assert info.contributing
    assert m.counters.packets_accepted == 1
    assert m.counters.sources_added == 1


def test_latest_packet_replaces_the_source_data() -> None:
    m = UniverseMerger(UNIVERSE)
    m.feed_sacn(sacn(CID_A, bytes([9, 9, 9]), sequence=1), 0.0)
    m.feed_sacn(sacn(CID_A, bytes([1, 2]), sequence=2), 0.1)
    assert m.merged(0.1).slots == padded(1, 2)
    assert m.merged(0.1).sources[0].packets == 2


def test_two_sources_same_priority_merge_htp_per_slot() -> None:
    m = UniverseMerger(UNIVERSE)
    m.feed_sacn(sacn(CID_A, bytes([255, 0, 10, 200])), 0.0)
    m.feed_sacn(sacn(CID_B, bytes([0, 128, 20, 100])), 0.0)
    result = m.merged(0.0)
    assert result.slots == padded(255, 128, 20, 200)
    assert result.winning_priority == 100
    assert [s.contributing for s in result.sources] == [True, True]


def test_higher_priority_wins_outright() -> None:
    m = UniverseMerger(UNIVERSE)
    m.feed_sacn(sacn(CID_A, bytes([255, 255, 255]), priority=100), 0.0)
    m.feed_sacn(sacn(CID_B, bytes([0, 10, 0]), priority=150), 0.0)
    result = m.merged(0.0)
    assert result.slots == padded(0, 10, 0)  # no HTP with the lower-priority source
    assert result.winning_priority == 150
    assert [(s.priority, s.contributing) for s in result.sources] == [(150, True), (100, False)]


def test_priority_change_within_a_source_takes_effect() -> None:
    m = UniverseMerger(UNIVERSE)
    m.feed_sacn(sacn(CID_A, bytes([10]), priority=100, sequence=1), 0.0)
    m.feed_sacn(sacn(CID_B, bytes([20]), priority=120, sequence=1), 0.0)
    assert m.merged(0.0).slots == padded(20)
    m.feed_sacn(sacn(CID_A, bytes([10]), priority=130, sequence=2), 0.1)
    assert m.merged(0.1).slots == padded(10)
    assert m.merged(0.1).winning_priority == 130


def test_high_priority_source_times_out_after_2_5_s_and_priority_drops() -> None:
    m = UniverseMerger(UNIVERSE)
    m.feed_sacn(sacn(CID_A, bytes([50, 50])), 0.0)  # low, keeps sending
    m.feed_sacn(sacn(CID_B, bytes([200, 0]), priority=180), 0.0)  # high, then silent
    assert m.merged(0.0).slots == padded(200, 0)
    m.feed_sacn(sacn(CID_A, bytes([50, 50]), sequence=1), 2.0)
    # 2.5 s after its last packet the high source still counts (loss is "more than 2.5 s").
    assert m.merged(2.5).winning_priority == 180
    assert m.counters.sources_timed_out == 0
    result = m.merged(2.51)
    assert result.slots == padded(50, 50)
    assert result.winning_priority == 100
    assert [s.source_id[:8] for s in result.sources] == ["00010203"]
    assert m.counters.sources_timed_out == 1
    # And the last one goes too: inactive, dark.
    result = m.merged(4.6)
    assert not result.active
    assert result.slots == bytes(SLOTS)
    assert result.winning_priority is None
    assert m.counters.sources_timed_out == 2


def test_configurable_source_timeout() -> None:
    m = UniverseMerger(UNIVERSE, source_timeout_s=1.0)
    m.feed_sacn(sacn(CID_A, bytes([1])), 10.0)
    assert m.merged(11.0).active
    assert not m.merged(11.01).active


def test_stream_terminated_removes_the_source_at_once() -> None:
    m = UniverseMerger(UNIVERSE)
    m.feed_sacn(sacn(CID_A, bytes([10, 10]), sequence=1), 0.0)
    m.feed_sacn(sacn(CID_B, bytes([0, 99]), sequence=1, priority=150), 0.0)
    verdict = m.feed_sacn(sacn(CID_B, bytes([255, 255]), sequence=2, terminated=True), 0.1)
    assert verdict is Verdict.TERMINATED
    result = m.merged(0.1)  # no timeout needed; the terminated packet's data is ignored
    assert result.slots == padded(10, 10)
    assert result.winning_priority == 100
    assert m.counters.sources_terminated == 1
    # The 2nd and 3rd terminated packets of the burst come from an unknown source now.
    assert m.feed_sacn(sacn(CID_B, b"", sequence=3, terminated=True), 0.1) is Verdict.IGNORED
    assert m.merged(0.1).slots == padded(10, 10)
    assert m.counters.sources_terminated == 1
    # The source comes back with a fresh stream.
    assert m.feed_sacn(sacn(CID_B, bytes([0, 99]), sequence=0, priority=150), 5.0) is (
        Verdict.ACCEPTED
    )


@pytest.mark.parametrize(
    ("last", "new", "accepted"),
    [
        (10, 11, True),  # next
        (10, 30, True),  # a gap (lost packets) is fine
        (10, 10, False),  # duplicate: d = 0
        (10, 5, False),  # last 10, new 5: d = -5
        (10, 0, False),  # d = -10
        (19, 0, False),  # d = -19
        (20, 0, True),  # d = -20: a new stream
        (10, 247, False),  # d = -19 across the wrap downwards
        (10, 246, True),  # d = -20
        (10, 245, True),  # d = -21
        (0, 255, False),  # d = -1 across the wrap
        (250, 3, True),  # d = +9 across the wrap upwards
        (255, 0, True),  # the wrap itself
        (10, 137, True),  # d = +127
        (10, 138, True),  # d = -128
        (10, 139, True),  # d = -127
    ],
)
def test_sequence_rule_6_7_2(last: int, new: int, accepted: bool) -> None:
    m = UniverseMerger(UNIVERSE)
    m.feed_sacn(sacn(CID_A, bytes([1]), sequence=last), 0.0)
    verdict = m.feed_sacn(sacn(CID_A, bytes([2]), sequence=new), 0.1)
    assert (verdict is Verdict.ACCEPTED) is accepted
    assert m.merged(0.1).slots == padded(2 if accepted else 1)
    assert m.counters.dropped_out_of_order == (0 if accepted else 1)


def test_sequence_is_per_source() -> None:
    m = UniverseMerger(UNIVERSE)
    m.feed_sacn(sacn(CID_A, bytes([1]), sequence=100), 0.0)
    # B's sequence numbers are unrelated to A's.
    assert m.feed_sacn(sacn(CID_B, bytes([2]), sequence=95), 0.0) is Verdict.ACCEPTED
    assert m.feed_sacn(sacn(CID_A, bytes([3]), sequence=95), 0.0) is Verdict.OUT_OF_ORDER


def test_out_of_order_terminated_packet_is_dropped() -> None:
    m = UniverseMerger(UNIVERSE)
    m.feed_sacn(sacn(CID_A, bytes([1]), sequence=50), 0.0)
    verdict = m.feed_sacn(sacn(CID_A, b"", sequence=45, terminated=True), 0.0)
    assert verdict is Verdict.OUT_OF_ORDER
    assert m.merged(0.0).active


def test_preview_packets_are_ignored() -> None:
    m = UniverseMerger(UNIVERSE)
    assert m.feed_sacn(sacn(CID_A, bytes([255]), preview=True), 0.0) is Verdict.PREVIEW
    assert not m.merged(0.0).active
    m.feed_sacn(sacn(CID_B, bytes([10]), sequence=1), 0.0)
    m.feed_sacn(sacn(CID_B, bytes([200]), sequence=2, preview=True), 0.0)
    assert m.merged(0.0).slots == padded(10)
    assert m.counters.dropped_preview == 2
    # A preview packet does not advance the sequence: the next live packet is not "old".
    assert m.feed_sacn(sacn(CID_B, bytes([11]), sequence=2), 0.0) is Verdict.ACCEPTED


def test_non_zero_start_code_is_kept_out_of_the_merge() -> None:
    m = UniverseMerger(UNIVERSE)
    # Per-address priority (0xDD) alone creates no source.
    assert m.feed_sacn(sacn(CID_A, bytes([200] * 4), start_code=0xDD), 0.0) is (Verdict.START_CODE)
    assert not m.merged(0.0).active
    m.feed_sacn(sacn(CID_A, bytes([1, 2, 3, 4]), sequence=1), 0.0)
    m.feed_sacn(sacn(CID_A, bytes([200] * 4), sequence=2, start_code=0xDD), 0.0)
    m.feed_sacn(sacn(CID_A, bytes([255] * 4), sequence=3, start_code=0x17), 0.0)
    assert m.merged(0.0).slots == padded(1, 2, 3, 4)
    assert m.counters.dropped_start_code == 3
    # …and does not keep a silent source alive.
    m.feed_sacn(sacn(CID_A, bytes([200] * 4), sequence=4, start_code=0xDD), 2.0)
    assert not m.merged(2.6).active


def test_short_universes_merge_with_zeros_beyond() -> None:
    # olad sends 3-slot universes unpadded (129-byte packets).
    short = DataPacket(cid=CID_A, source_name="OLA", universe=UNIVERSE, data=bytes([7, 8, 9]))
    raw = short.to_bytes()
    assert len(raw) == 129
    packet = decode_sacn(raw)
    assert isinstance(packet, DataPacket)
    m = UniverseMerger(UNIVERSE)
    m.feed_sacn(packet, 0.0)
    assert m.merged(0.0).slots == padded(7, 8, 9)
    assert len(m.merged(0.0).slots) == SLOTS
    m.feed_sacn(sacn(CID_B, bytes([1, 20, 1, 40, 50])), 0.0)
    assert m.merged(0.0).slots == padded(7, 20, 9, 40, 50)
    m.feed_sacn(sacn(CID_C, b""), 0.0)  # zero slots: contributes nothing
    assert m.merged(0.0).slots == padded(7, 20, 9, 40, 50)
    assert [s.slot_count for s in m.merged(0.0).sources] == [3, 5, 0]


def test_wrong_universe_is_dropped() -> None:
    m = UniverseMerger(UNIVERSE)
    assert m.feed_sacn(sacn(CID_A, bytes([1]), universe=8), 0.0) is Verdict.WRONG_UNIVERSE
    assert not m.merged(0.0).active
    assert m.counters.dropped_wrong_universe == 1


def test_artnet_and_sacn_merge_htp_at_equal_priority() -> None:
    m = UniverseMerger(UNIVERSE)
    m.feed_sacn(sacn(CID_A, bytes([100, 0, 30])), 0.0, "10.0.0.1")
    assert m.feed_artnet(artdmx(bytes([0, 200, 10, 5]), sequence=1), "10.0.0.2", 0.0) is (
        Verdict.ACCEPTED
    )
    result = m.merged(0.0)
    assert result.slots == padded(100, 200, 30, 5)
    assert result.winning_priority == 100
    art = next(s for s in result.sources if s.protocol == "artnet")
    assert (art.source_id, art.name, art.address, art.priority) == (
        "10.0.0.2",
        "10.0.0.2",
        "10.0.0.2",
        100,
    )


def test_artnet_priority_is_configurable() -> None:
    m = UniverseMerger(UNIVERSE, artnet_priority=50)
    m.feed_sacn(sacn(CID_A, bytes([1])), 0.0)
    m.feed_artnet(artdmx(bytes([255, 255])), "10.0.0.2", 0.0)
    assert m.merged(0.0).slots == padded(1)  # sACN at 100 beats Art-Net at 50
    m.feed_artnet(artdmx(bytes([255, 255])), "10.0.0.2", 0.1, priority=120)  # per packet
    assert m.merged(0.1).slots == padded(255, 255)


def test_artnet_sources_are_keyed_by_ip_and_time_out() -> None:
    m = UniverseMerger(UNIVERSE)
    m.feed_artnet(artdmx(bytes([10, 0])), "10.0.0.2", 0.0)
    m.feed_artnet(artdmx(bytes([0, 20])), "10.0.0.3", 1.0)
    m.feed_artnet(artdmx(bytes([5, 0])), "10.0.0.2", 1.0)
    assert m.merged(1.0).slots == padded(5, 20)
    assert m.source_count == 2
    m.feed_artnet(artdmx(bytes([0, 20])), "10.0.0.3", 3.0)
    assert m.merged(3.6).slots == padded(0, 20)  # 10.0.0.2 silent since 1.0


def test_artnet_sequence() -> None:
    m = UniverseMerger(UNIVERSE)
    ip = "10.0.0.2"
    m.feed_artnet(artdmx(bytes([1, 0]), sequence=254), ip, 0.0)
    assert m.feed_artnet(artdmx(bytes([2, 0]), sequence=255), ip, 0.0) is Verdict.ACCEPTED
    # Art-Net wraps 255 → 1 (0 is reserved).
    assert m.feed_artnet(artdmx(bytes([3, 0]), sequence=1), ip, 0.0) is Verdict.ACCEPTED
    assert m.feed_artnet(artdmx(bytes([9, 0]), sequence=250), ip, 0.0) is Verdict.OUT_OF_ORDER
    assert m.merged(0.0).slots == padded(3)
    # Sequence 0 = "not used": never rejected, and the next numbered packet is not checked.
    assert m.feed_artnet(artdmx(bytes([4, 0]), sequence=0), ip, 0.0) is Verdict.ACCEPTED
    assert m.feed_artnet(artdmx(bytes([5, 0]), sequence=0), ip, 0.0) is Verdict.ACCEPTED
    assert m.feed_artnet(artdmx(bytes([6, 0]), sequence=1), ip, 0.0) is Verdict.ACCEPTED
    assert m.merged(0.0).slots == padded(6)


def test_max_sources_bound() -> None:
    m = UniverseMerger(UNIVERSE, max_sources=2)
    assert m.feed_sacn(sacn(CID_A, bytes([1])), 0.0) is Verdict.ACCEPTED
    assert m.feed_artnet(artdmx(bytes([2, 0])), "10.0.0.2", 0.0) is Verdict.ACCEPTED
    assert m.feed_sacn(sacn(CID_C, bytes([255])), 1.0) is Verdict.SOURCES_FULL
    assert m.merged(1.0).slots == padded(2)
    assert m.counters.dropped_sources_full == 1
    # Known sources keep being accepted while full.
    assert m.feed_sacn(sacn(CID_A, bytes([3]), sequence=1), 1.0) is Verdict.ACCEPTED
    # Once one source has timed out, a new one is admitted (expiry happens on admission).
    assert m.feed_sacn(sacn(CID_C, bytes([255])), 3.4) is Verdict.ACCEPTED
    assert m.counters.sources_timed_out == 1  # the Art-Net source, silent since 0.0
    assert m.merged(3.4).slots == padded(255)  # HTP with A ([3])


def test_merged_result_is_cached_until_something_changes() -> None:
    m = UniverseMerger(UNIVERSE)
    m.feed_sacn(sacn(CID_A, bytes([1])), 0.0)
    first = m.merged(0.0)
    assert m.merged(0.5) is first
    m.feed_sacn(sacn(CID_A, bytes([2]), sequence=1), 0.6)
    assert m.merged(0.6) is not first


def test_constructor_checks() -> None:
    with pytest.raises(ValueError, match="source_timeout_s"):
        UniverseMerger(1, source_timeout_s=0)
    with pytest.raises(ValueError, match="max_sources"):
        UniverseMerger(1, max_sources=0)
    with pytest.raises(ValueError, match="artnet_priority"):
        UniverseMerger(1, artnet_priority=201)


# -------------------------------------------------------------------------------------------
# Property: random interleavings never raise, and the result is exactly the rule set applied
# by an independent, plain model.

SOURCES = (CID_A, CID_B, CID_C, "10.0.0.1", "10.0.0.2")


@st.composite
def events(draw: st.DrawFn) -> tuple[int, float, int, int, bytes, int]:
    """(source index, time step, sequence, priority, data, flags)."""
    return (
        draw(st.integers(0, len(SOURCES) - 1)),
        draw(st.sampled_from([0.0, 0.01, 0.5, 1.0, 2.5, 3.0])),
        draw(st.integers(0, 255)),
        draw(st.sampled_from([0, 100, 100, 150, 200])),
        draw(st.binary(min_size=0, max_size=12)),
        # bit0 terminated, bit1 preview, bit2 start code 0xDD
        draw(st.sampled_from([0, 0, 0, 0, 1, 2, 4])),
    )


def out_of_order(last: int, new: int) -> bool:
    d = (new - last) % 256
    return d == 0 or d > 236  # -20 < d <= 0 in signed 8-bit


@settings(max_examples=300, deadline=None)
@given(st.lists(events(), max_size=60), st.integers(1, 5))
def test_random_interleavings_match_the_model(
    steps: list[tuple[int, float, int, int, bytes, int]], max_sources: int
) -> None:
    m = UniverseMerger(UNIVERSE, max_sources=max_sources, artnet_priority=100)
    # model: key → (priority, sequence, data, last_seen)
    live: dict[bytes | str, tuple[int, int, bytes, float]] = {}
    now = 0.0
    for index, step, sequence, priority, data, flags in steps:
        now += step
        key = SOURCES[index]
        known = live.get(key)
        if known is not None and now - known[3] > 2.5:
            del live[key]  # a source back after the timeout starts afresh
            known = None
        if isinstance(key, bytes):
            terminated, preview, dd = bool(flags & 1), bool(flags & 2), bool(flags & 4)
            verdict = m.feed_sacn(
                sacn(
                    key,
                    data,
                    sequence=sequence,
                    priority=priority,
                    preview=preview,
                    terminated=terminated,
                    start_code=0xDD if dd else 0,
                ),
                now,
            )
            if preview:
                expected = Verdict.PREVIEW
            elif known is not None and out_of_order(known[1], sequence):
                expected = Verdict.OUT_OF_ORDER
            elif terminated:
                expected = Verdict.TERMINATED if known is not None else Verdict.IGNORED
            elif dd:
                expected = Verdict.START_CODE
            else:
                expected = Verdict.ACCEPTED
            level = priority
        else:
            if flags & 2:
                sequence = 0  # Art-Net "sequence not used"
            data = data if len(data) >= 2 else data.ljust(2, b"\0")
            packet = artdmx(data, sequence=sequence)
            data = packet.data
            verdict = m.feed_artnet(packet, key, now)
            if (
                known is not None
                and sequence != 0
                and known[1] != 0
                and out_of_order(known[1], sequence)
            ):
                expected = Verdict.OUT_OF_ORDER
            else:
                expected = Verdict.ACCEPTED
            level = 100
        if expected is Verdict.ACCEPTED and known is None and len(live) >= max_sources:
            live = {k: v for k, v in live.items() if now - v[3] <= 2.5}  # expiry on admission
            if len(live) >= max_sources:
                expected = Verdict.SOURCES_FULL
        assert verdict is expected
        if verdict is Verdict.ACCEPTED:
            live[key] = (level, sequence, data, now)
        elif verdict is Verdict.TERMINATED:
            del live[key]

        result = m.merged(now)
        live = {k: v for k, v in live.items() if now - v[3] <= 2.5}
        assert result.active is bool(live)
        assert len(result.slots) == SLOTS
        if not live:
            assert result.slots == bytes(SLOTS)
            assert result.winning_priority is None
            continue
        top = max(v[0] for v in live.values())
        expected_slots = [0] * SLOTS
        for level, _, slots, _ in live.values():
            if level == top:
                for i, value in enumerate(slots):
                    expected_slots[i] = max(expected_slots[i], value)
        assert result.slots == bytes(expected_slots)
        assert result.winning_priority == top
        assert len(result.sources) == len(live)
