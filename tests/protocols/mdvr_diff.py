"""Differential harness: the Rust decoders (``trocadero.protocols.mdvr``) against the
pure-Python reference (``mdvr_ref``) on the same reads, plus the framing invariants. Shared by
the Hypothesis test and the time-boxed mutation fuzz."""

from __future__ import annotations

import random
import struct
from collections.abc import Sequence
from typing import Protocol

from trocadero.protocols import mdvr, mdvr_ref

from . import mdvr_vectors as v

MAX_TEXT_FRAME = 9999 + 9


class Counted(Protocol):
    @property
    def frames(self) -> int: ...
    @property
    def frame_bytes(self) -> int: ...
    @property
    def skipped_bytes(self) -> int: ...
    @property
    def rejected_frames(self) -> int: ...
    @property
    def skipped_since_frame(self) -> int: ...
    @property
    def rejected_since_frame(self) -> int: ...
    @property
    def buffered_bytes(self) -> int: ...


def counters(d: Counted) -> tuple[int, ...]:
    return (
        d.frames,
        d.frame_bytes,
        d.skipped_bytes,
        d.rejected_frames,
        d.skipped_since_frame,
        d.rejected_since_frame,
        d.buffered_bytes,
    )


def assert_same(chunks: Sequence[bytes], *, max_payload: int = 4096) -> int:
    """Feed ``chunks`` to both implementations of both channels; every read must give equal
    items (compared by ``repr`` too, so ``-0.0`` ≠ ``0.0``) and equal counters. Returns the
    number of items decoded (to steer the fuzzer towards inputs that still parse)."""
    rust_s, ref_s = mdvr.SignalingDecoder(), mdvr_ref.SignalingDecoder()
    rust_m = mdvr.MediaDecoder(max_payload=max_payload)
    ref_m = mdvr_ref.MediaDecoder(max_payload=max_payload)
    fed = items = 0
    for chunk in chunks:
        fed += len(chunk)
        a, b = rust_s.feed(chunk), ref_s.feed(chunk)
        assert a == b, (chunk, a, b)
        assert repr(a) == repr(b)
        c, d = rust_m.feed(chunk), ref_m.feed(chunk)
        assert c == d, (chunk, c, d)
        assert repr(c) == repr(d)
        items += len(a) + len(c)
        assert counters(rust_s) == counters(ref_s)
        assert counters(rust_m) == counters(ref_m)
        assert (rust_m.envelope, rust_m.text_prefixed) == (ref_m.envelope, ref_m.text_prefixed)
        for dec in (rust_s, rust_m):
            assert dec.frame_bytes + dec.skipped_bytes + dec.buffered_bytes == fed
        assert rust_s.buffered_bytes < MAX_TEXT_FRAME
        assert rust_m.buffered_bytes < max(MAX_TEXT_FRAME + 2, max_payload + 8 + 16)
    return items


def media_packet(opcode: int, payload: bytes, envelope: mdvr.Envelope = "M1") -> bytes:
    return mdvr_ref.build_media_packet(opcode, payload, envelope=envelope, serial=1, time=2)


def seed_corpus() -> list[bytes]:
    """Real vectors, synthesised variants and media sessions to mutate."""
    frame = struct.pack("<Q", 1_505_472_375_278_000) + b"\x00\x00\x00\x01\x67\x42\x00\x1e"
    media = [
        v.M1_FEEDBACK_OK,
        media_packet(0x6011, frame),
        media_packet(0x6012, frame[:8] + b"\x00\x00\x01\x41\x9a", "M2"),
        media_packet(0x6013, frame[:8] + b"\x55" * 40),
        media_packet(0x6102, struct.pack("<II", 0, 4) + b"DATA"),
        media_packet(0x6102, struct.pack("<II", 4, 0), "M2"),
        media_packet(0x6005, b""),
        media_packet(0x6001, b"00dc" + b"\x00" * 12),
    ]
    sessions = [
        v.E4_V102 + b"".join(media),
        b"@@" + v.SYNTH_V103 + media[4] + media[5],
        b"".join(v.E2_STREAM),
    ]
    return [*v.ALL_TEXT, *media, *sessions]


SPECIAL = [
    b"$",
    b"@",
    b"#",
    b",",
    b"|",
    b"0",
    b"9",
    b"-",
    b"+",
    b".",
    b"A",
    b"V",
    b"\x00",
    b"\xff",
    b"$$dc",
    b"@@",
    b"@@$$dc",
    b"$$$$$$dc",
    b"####",
    b"\x11\x60",
    b"\x02\x10",
    "粤".encode("gbk"),
    "é".encode(),
]


def mutate(rng: random.Random, data: bytes, corpus: Sequence[bytes]) -> bytes:
    """One to four random edits: bit flips, special bytes/markers, inserts, deletes, copies,
    splices with another input, rewritten length fields, truncation."""
    buf = bytearray(data)
    for _ in range(rng.randint(1, 4)):
        n = len(buf)
        op = rng.randrange(9)
        at = rng.randrange(n + 1)
        if op == 0 and n:
            i = rng.randrange(n)
            buf[i] ^= 1 << rng.randrange(8)
        elif op == 1 and n:
            tok = rng.choice(SPECIAL)
            buf[at : at + len(tok)] = tok
        elif op == 2:
            buf[at:at] = rng.choice(SPECIAL) * rng.randint(1, 3)
        elif op == 3:
            buf[at:at] = rng.randbytes(rng.randint(1, 16))
        elif op == 4 and n:
            del buf[at : at + rng.randint(1, 32)]
        elif op == 5 and n:
            piece = buf[at : at + rng.randint(1, 64)]
            to = rng.randrange(len(buf) + 1)
            buf[to:to] = piece
        elif op == 6:
            other = rng.choice(corpus)
            cut = rng.randrange(len(other) + 1)
            buf = buf[:at] + other[cut:] if rng.random() < 0.5 else buf + other[:cut]
        elif op == 7:
            # Rewrite a length: text LLLL digits or a binary u32 after a marker.
            i = buf.find(b"$$dc", at)
            if i >= 0 and rng.random() < 0.5:
                buf[i + 4 : i + 8] = b"%04d" % rng.randrange(10000)
            elif i >= 0:
                buf[i + 4 : i + 8] = struct.pack("<I", rng.choice([0, 7, 8, 9, 4096, 1 << 31]))
        elif op == 8 and n:
            del buf[rng.randrange(n) :]
    return bytes(buf)


def split(rng: random.Random, data: bytes) -> list[bytes]:
    """Random reads: whole, bytewise, or random cut points."""
    mode = rng.randrange(4)
    if mode == 0 or len(data) < 2:
        return [data]
    if mode == 1:
        return [data[i : i + 1] for i in range(len(data))]
    cuts = sorted(rng.sample(range(1, len(data)), min(len(data) - 1, rng.randint(1, 8))))
    return [data[a:b] for a, b in zip([0, *cuts], [*cuts, len(data)], strict=True)]
