"""Enttec DMX USB Pro framing, incremental decoder, Open DMX frame and timing."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from trocadero.protocols import enttec
from trocadero.protocols.enttec import (
    EnttecDecoder,
    EnttecError,
    EnttecMessage,
    OpenDmxTiming,
    ReceivedDmx,
    SendDmx,
    SerialNumber,
    WidgetParameters,
    decode_message,
    open_dmx_frame,
    send_dmx,
    send_dmx_template,
)

from .helpers import hexbytes

# Label 6 with 24 slots (the DMX minimum): payload 25 bytes.
LABEL6_24 = hexbytes(
    "7e",  # 0 start delimiter
    "06",  # 1 label 6: Output Only Send DMX Packet Request
    "1900",  # 2 data length 25 (LSB, MSB) = start code + 24 slots
    "00",  # 4 DMX START code 0x00
    "ff80 0102 0304 0506 0708 090a 0b0c 0d0e 0f10 1112 1314 1516",  # 5 slots 1..24
    "e7",  # 30 end delimiter
)
LABEL6_24_SLOTS = bytes([0xFF, 0x80, *range(1, 23)])

# Label 6 with a full universe: the forum's `7E 06 01 02 00 <512 slots> E7`.
LABEL6_512 = hexbytes(
    "7e",  # 0 start delimiter
    "06",  # 1 label 6
    "0102",  # 2 data length 513 = 0x0201 (LSB 01, MSB 02)
    "00",  # 4 START code
    "2a" * 512,  # 5 slots 1..512, all 42
    "e7",  # 517 end delimiter
)

# Label 3 reply (Get Widget Parameters): firmware 0x0144, break 9, MAB 1, rate 40, 2 config bytes.
LABEL3_REPLY = hexbytes(
    "7e",  # 0 start delimiter
    "03",  # 1 label 3
    "0700",  # 2 data length 7
    "4401",  # 4 firmware version 0x0144 (LSB, MSB)
    "09",  # 6 break time 9 x 10.67 us
    "01",  # 7 MAB time 1 x 10.67 us
    "28",  # 8 output rate 40 packets/s
    "abcd",  # 9 user configuration
    "e7",  # 11 end delimiter
)

# Label 5 (Received DMX Packet): status 0, start code 0, 3 slots.
LABEL5 = hexbytes(
    "7e",  # 0 start delimiter
    "05",  # 1 label 5
    "0500",  # 2 data length 5
    "00",  # 4 receive status: ok
    "00",  # 5 START code
    "0a0b0c",  # 6 slots 1..3
    "e7",  # 9 end delimiter
)

# Label 10 (serial number) reply: BCD 12345678, LSB first.
LABEL10 = hexbytes("7e", "0a", "0400", "78563412", "e7")  # start, label 10, len 4, BCD, end


def test_send_dmx_vectors() -> None:
    assert send_dmx(LABEL6_24_SLOTS) == LABEL6_24
    assert send_dmx(b"\x2a" * 512) == LABEL6_512
    assert len(LABEL6_512) == 518


def test_short_universe_is_padded_to_24_slots() -> None:
    assert send_dmx(b"\xff\x80") == send_dmx(b"\xff\x80" + bytes(22))


def test_template() -> None:
    buf = send_dmx_template(512)
    assert (enttec.START_CODE_OFFSET, enttec.DATA_OFFSET) == (4, 5)
    buf[enttec.DATA_OFFSET : enttec.DATA_OFFSET + 512] = b"\x2a" * 512
    assert bytes(buf) == LABEL6_512
    assert len(send_dmx_template(3)) == 6 + 24


def test_requests() -> None:
    assert enttec.get_widget_parameters() == hexbytes("7e 03 0200 0000 e7")
    assert enttec.set_widget_parameters(9, 1, 40) == hexbytes("7e 04 0500 0000 09 01 28 e7")
    assert enttec.receive_dmx_on_change(True) == hexbytes("7e 08 0100 01 e7")
    assert enttec.get_serial_number() == hexbytes("7e 0a 0000 e7")


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: send_dmx(bytes(513)), r"slots must be 0\.\.512 bytes"),
        (lambda: send_dmx(b"", start_code=256), r"start_code must be in 0\.\.255"),
        (lambda: enttec.encode_message(6, bytes(601)), r"payload must be 0\.\.600 bytes"),
        (lambda: enttec.set_widget_parameters(break_time=8), r"break_time must be in 9\.\.127"),
        (lambda: enttec.set_widget_parameters(mab_time=0), r"mab_time must be in 1\.\.127"),
        (lambda: enttec.set_widget_parameters(rate=41), r"rate must be in 0\.\.40"),
        (lambda: send_dmx_template(0), r"slot_count must be in 1\.\.512"),
        (lambda: OpenDmxTiming(break_us=91), r"break_us must be in 92\.\."),
        (lambda: OpenDmxTiming(mab_us=11), r"mab_us must be in 12\.\."),
        (lambda: OpenDmxTiming(rate_hz=45), r"rate_hz must be in \(0, 44\]"),
    ],
)
def test_builders_reject(call: object, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        call()  # type: ignore[operator]


EXPECTED = [
    (LABEL6_24, SendDmx(0, LABEL6_24_SLOTS)),
    (LABEL3_REPLY, WidgetParameters(0x0144, 9, 1, 40, b"\xab\xcd")),
    (LABEL5, ReceivedDmx(0, 0, b"\x0a\x0b\x0c")),
    (LABEL10, SerialNumber(b"\x78\x56\x34\x12")),
]


@pytest.mark.parametrize(("wire", "message"), EXPECTED)
def test_decode_message(wire: bytes, message: object) -> None:
    assert decode_message(wire) == message


def test_serial_number_bcd() -> None:
    assert SerialNumber(b"\x78\x56\x34\x12").number == 12345678


def test_decode_message_rejects_trailing_and_truncated() -> None:
    with pytest.raises(EnttecError, match=r"1 trailing bytes"):
        decode_message(LABEL5 + b"\x00")
    for n in range(len(LABEL5)):
        with pytest.raises(EnttecError):
            decode_message(LABEL5[:n])


@pytest.mark.parametrize(
    ("offset", "value", "message"),
    [
        (0, 0x7F, r"start delimiter 0x7f at offset 0"),
        (2, 0x06, r"frame truncated: data length 6 at offset 2"),
        (3, 0x03, r"data length 773 at offset 2 out of range 0\.\.600"),
        (9, 0xE6, r"end delimiter 0xe6 at offset 9"),
    ],
)
def test_decode_message_names_the_field(offset: int, value: int, message: str) -> None:
    wire = bytearray(LABEL5)
    wire[offset] = value
    with pytest.raises(EnttecError, match=message):
        decode_message(wire)


def test_stream_decoder_byte_by_byte() -> None:
    stream = b"".join(w for w, _ in EXPECTED)
    decoder = EnttecDecoder()
    out: list[object] = []
    for i in range(len(stream)):
        out += decoder.feed(stream[i : i + 1])
    assert out == [m for _, m in EXPECTED]
    assert decoder.dropped == 0
    assert decoder.pending == 0


def test_stream_decoder_resyncs_on_garbage() -> None:
    garbage = b"\x00\xe7\x7e\xff\xff\x7e\x05\x01\x00\x00\x00"  # stray bytes, a bogus header
    decoder = EnttecDecoder()
    out = decoder.feed(garbage + LABEL5 + b"\x7e\x05" + LABEL3_REPLY)
    assert out == [
        ReceivedDmx(0, 0, b"\x0a\x0b\x0c"),
        WidgetParameters(0x0144, 9, 1, 40, b"\xab\xcd"),
    ]
    assert decoder.dropped == len(garbage) + 2


def test_stream_decoder_unknown_and_short_payloads() -> None:
    decoder = EnttecDecoder()
    assert decoder.feed(hexbytes("7e 4d 0300 616263 e7 7e 03 0100 01 e7")) == [
        EnttecMessage(77, b"abc"),
        EnttecMessage(3, b"\x01"),
    ]


@given(st.lists(st.binary(max_size=40)), st.data())
def test_stream_decoder_any_chunking_and_noise(noise: list[bytes], data: st.DataObject) -> None:
    """Interleave valid frames with noise free of 0x7E; every frame comes out, in order."""
    frames = [w for w, _ in EXPECTED]
    stream = b""
    for i, frame in enumerate(frames):
        junk = noise[i].replace(b"\x7e", b"") if i < len(noise) else b""
        stream += junk + frame
    decoder = EnttecDecoder()
    out: list[object] = []
    pos = 0
    while pos < len(stream):
        step = data.draw(st.integers(1, 64))
        out += decoder.feed(stream[pos : pos + step])
        pos += step
    assert out == [m for _, m in EXPECTED]


@given(st.binary(max_size=2000))
def test_stream_decoder_never_raises_and_stays_bounded(blob: bytes) -> None:
    decoder = EnttecDecoder()
    decoder.feed(blob)
    assert decoder.pending <= 605


@given(st.binary(max_size=700))
def test_decode_message_only_raises_enttec_error(blob: bytes) -> None:
    try:
        decode_message(blob)
    except EnttecError:
        pass


def test_open_dmx_frame_and_timing() -> None:
    frame = open_dmx_frame(b"\x01\x02\x03")
    assert len(frame) == 513
    assert frame[:4] == b"\x00\x01\x02\x03"
    assert frame[4:] == bytes(509)
    timing = OpenDmxTiming()
    assert (timing.break_us, timing.mab_us) == (110, 16)
    assert timing.frame_us == 110 + 16 + 513 * 44
    assert timing.period_us == 25_000  # 40 Hz default
    long_break = OpenDmxTiming(break_us=1000, rate_hz=44)
    assert long_break.period_us == long_break.frame_us  # never shorter than a frame
    assert (enttec.OPEN_DMX_BAUDRATE, enttec.OPEN_DMX_STOPBITS) == (250_000, 2)
