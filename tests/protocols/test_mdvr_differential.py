"""Hypothesis: the Rust decoder and the pure-Python reference agree on random frames built
from a vocabulary of valid, borderline and invalid field tokens, and on random/mutated
streams cut into random reads (messages, counters and invariants; see ``mdvr_diff``)."""

from __future__ import annotations

import random

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from trocadero.protocols import mdvr

from . import mdvr_diff

MODEST = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])

KEYWORDS = [
    b"V100", b"V101", b"V102", b"V103", b"V105", b"V109", b"V114", b"V141", b"V142", b"V201",
    b"V204", b"V205", b"V217", b"V232", b"V254", b"V299", b"V304", b"V130", b"C100", b"C508",
    b"C702", b"C501", b"C517", b"C7212", b"V2", b"V2x4", b"c100", b"", b"X",
]  # fmt: skip
TOKENS = [
    b"", b"0", b"-0", b"+0", b"1", b"-34", b"+28", b"18", b"49", b"5", b"159000000",
    b"24180000", b"102539064", b"0.00", b"12.50", b"-1", b"1.", b".5", b".", b"-.5", b"1e5",
    b"inf", b"nan", b"1_0", b" 1", b"0x10", b"999999999999999999", b"1000000000000000000",
    b"1" * 33, b"FFF7000000307783", b"fff7000000307783", b"FFF70000003077", b"000A", b"0010",
    b"F7", b"FFFFFFFFFFFFFFF", b"A", b"A0000", b"A0010", b"V0000", b"X0000", b"0|0.00|0",
    b"|", b"a|b|c|", b"C508", b"170915 105051", b"/mnt/sd/a.264|CA 1", b"\r\n", b"#",
    "粤B12345".encode("gbk"), "é".encode(), b"\xff\xfe", b"\xed\xa0\x80", b"\xc0\xaf",
]  # fmt: skip
token = st.one_of(
    st.sampled_from(TOKENS), st.binary(max_size=6).map(lambda b: b.replace(b",", b""))
)


def enc(i: int) -> bytes:
    return str(i).encode()


# Tokens one side of a number grammar or the other (Python's int()/float() alone would take
# several of them).
EVIL = [
    b"1e5", b"inf", b"nan", b"1_0", b" 1", b"1 ", b"+-1", b"0x10", b"1.2.3", b".", b"-", b"+",
    b"", b"999999999999999999", b"-999999999999999999", b"1000000000000000000", b"1" * 32,
    b"1" * 33, b"1." + b"0" * 30, "\u0661".encode(), "\uff11".encode(), b"FfF7000000307783",
    b"fff700000030778g", b"0010", b"00F7", b"-0", b"+0", b"-0.0", b"0.", b"00.50",
]  # fmt: skip


def mostly(valid: st.SearchStrategy[bytes]) -> st.SearchStrategy[bytes]:
    """Usually a valid token, sometimes a borderline one or anything from the vocabulary."""
    return st.one_of(*[valid] * 5, st.sampled_from(EVIL), token)


POSITION_FIELDS = [
    mostly(st.sampled_from([b"A", b"A0000", b"A0010", b"V0000"])),
    *[
        mostly(st.one_of(st.integers(-180, 180).map(enc), st.sampled_from([b"-0", b"+28"]))),
        mostly(st.integers(0, 59).map(enc)),
        mostly(st.integers(0, 600_000_000).map(enc)),
    ]
    * 2,
    mostly(st.sampled_from([b"0.00", b"12.50", b"0", b"-1", b"1.", b".5", b""])),  # speed
    mostly(st.integers(-1, 2_000_000).map(enc)),  # course
    mostly(st.binary(min_size=8, max_size=8).map(lambda b: b.hex().upper().encode())),
    mostly(st.sampled_from([b"0000000000000000", b"", b"00000000000000ff"])),
    *[mostly(st.sampled_from([b"0.00", b"", b"-12.5", b"45"]))] * 3,  # temperatures
    mostly(st.integers(0, 10**9).map(enc)),  # mileage
    mostly(st.sampled_from([b"0.00", b"-1", b"99.99", b"9999", b""])),  # fuel
    mostly(st.integers(0, 10**6).map(enc)),  # parking
    mostly(st.sampled_from([b"0|0.00|0|0|0|0|0|0|0", b"0", b"1", b"", b"|", b"0|1"])),
]


@st.composite
def position_block(draw: st.DrawFn) -> list[bytes]:
    return [draw(field) for field in POSITION_FIELDS]


@st.composite
def text_frames(draw: st.DrawFn) -> bytes:
    keyword = draw(st.sampled_from(KEYWORDS))
    serial, device, ws, time = (draw(token) for _ in range(4))
    block = draw(position_block()) if draw(st.integers(0, 3)) else []
    fields = block + draw(st.lists(token, max_size=30))
    body = b",".join([b"", serial, keyword, device, ws, time, *fields])
    if draw(st.integers(0, 7)) == 0:
        body = body[: draw(st.integers(0, len(body)))] or b","
    body = body if body.startswith(b",") else b"," + body
    prefix = b"@@" if draw(st.integers(0, 9)) == 0 else b""
    return prefix + b"$$dc%04d" % len(body) + body + b"#"


BLOCK = (
    b"A0000,18,49,159000000,-34,5,24180000,0.00,28600,FFF7000000307783,0000000000000000,"
    b"0.00,0.00,0.00,0,0.00,0,0|0.00|0|0|0|0|0|0|0"
).split(b",")
HOSTS = [
    (b"V114", b"", b"1"),
    (b"V204", b",", b"170915 104622,UID,1,/a,0,,0010"),
    (b"V142", b",", b"1,00967,4108,00967,T1,8,247,00F7,2,1_2,0,2,14,0.0.0.0,0,AP,0,0.0.0.0"),
    (b"V102", b",", b"V0.00.01,2,1.2.3.4,6602,123,C508,0,1,PLATE"),
]


def test_every_token_in_every_field_of_the_block() -> None:
    """Deterministic sweep: each borderline token in each of the 18 block fields (and as the
    old-firmware 18th field) of messages of four layouts parses the same in both."""
    frames = []
    for keyword, sep, tail in HOSTS:
        for i in range(len(BLOCK)):
            for tok in {*EVIL, *TOKENS}:
                block = [*BLOCK[:i], tok, *BLOCK[i + 1 :]]
                body = b",1," + keyword + b",00967,,170915 105051," + b",".join(block) + sep + b","
                body += tail
                frames.append(b"$$dc%04d" % len(body) + body + b"#")
    assert mdvr_diff.assert_same([b"".join(frames)], max_payload=1 << 20) == 2 * len(frames)


@MODEST
@given(st.lists(text_frames(), min_size=1, max_size=4), st.randoms(use_true_random=False))
def test_random_frames_parse_the_same(frames: list[bytes], rng: random.Random) -> None:
    data = b"".join(frames)
    assert mdvr_diff.assert_same(mdvr_diff.split(rng, data)) >= 0
    # Valid-shaped frames (no prefix) always come out one message each on signaling.
    plain = [f for f in frames if not f.startswith(b"@@")]
    d = mdvr.SignalingDecoder()
    assert len(d.feed(b"".join(plain))) == len(plain)


@MODEST
@given(
    st.lists(st.sampled_from(mdvr_diff.seed_corpus()), min_size=1, max_size=3),
    st.randoms(use_true_random=False),
    st.integers(0, 3),
)
def test_mutated_streams_agree(pieces: list[bytes], rng: random.Random, edits: int) -> None:
    corpus = mdvr_diff.seed_corpus()
    data = b"".join(pieces)
    for _ in range(edits):
        data = mdvr_diff.mutate(rng, data, corpus)
    mdvr_diff.assert_same(mdvr_diff.split(rng, data), max_payload=rng.choice([64, 4096]))


@MODEST
@given(st.binary(max_size=512), st.randoms(use_true_random=False))
def test_random_bytes_agree(data: bytes, rng: random.Random) -> None:
    mdvr_diff.assert_same(mdvr_diff.split(rng, data))
