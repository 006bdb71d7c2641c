"""Enttec DMX USB Pro widget messages (API 1.44) and Open DMX frame/timing (sans-IO).

Widget message framing::

    0x7E | label | length LSB | length MSB | payload (0..600 bytes) | 0xE7

Label 6 "Output Only Send DMX Packet" carries the START code first, then 24..512 slots, so its
length is 25..513. The widget generates break, MAB and refresh itself.

`EnttecDecoder` decodes the widget's byte stream incrementally (any chunking, byte by byte)
and resynchronises after garbage: bytes before a 0x7E are dropped, and a 0x7E whose length
exceeds 600 or whose frame does not end in 0xE7 is dropped alone, then the scan restarts at
the next byte. `decode_message` decodes exactly one frame and rejects trailing bytes.

Open DMX (plain FTDI) leaves the timing to the host: BREAK ≥ 92 µs (110 µs here), MAB ≥ 12 µs
(16 µs here), then start code + 512 slots at 250 kbaud 8N2. The serial thread raises the break
with ``break_condition`` (not ``send_break``) and waits for the times in `OpenDmxTiming`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ._fields import check_bytes, check_int, to_bytes

__all__ = [
    "DATA_OFFSET",
    "END_DELIMITER",
    "LABEL_GET_SERIAL",
    "LABEL_GET_WIDGET_PARAMETERS",
    "LABEL_RECEIVED_DMX",
    "LABEL_RECEIVE_DMX_ON_CHANGE",
    "LABEL_SEND_DMX",
    "LABEL_SET_WIDGET_PARAMETERS",
    "MAX_PAYLOAD",
    "OPEN_DMX_BAUDRATE",
    "START_CODE_OFFSET",
    "START_DELIMITER",
    "EnttecDecoder",
    "EnttecError",
    "EnttecMessage",
    "OpenDmxTiming",
    "ReceivedDmx",
    "SendDmx",
    "SerialNumber",
    "WidgetParameters",
    "decode_message",
    "encode_message",
    "get_serial_number",
    "get_widget_parameters",
    "open_dmx_frame",
    "receive_dmx_on_change",
    "send_dmx",
    "send_dmx_template",
    "set_widget_parameters",
]

START_DELIMITER = 0x7E
END_DELIMITER = 0xE7
MAX_PAYLOAD = 600
HEADER_SIZE = 4
START_CODE_OFFSET = 4  # in a label-6 frame
DATA_OFFSET = 5  # first slot in a label-6 frame

LABEL_GET_WIDGET_PARAMETERS = 3
LABEL_SET_WIDGET_PARAMETERS = 4
LABEL_RECEIVED_DMX = 5
LABEL_SEND_DMX = 6
LABEL_RECEIVE_DMX_ON_CHANGE = 8
LABEL_GET_SERIAL = 10

MIN_SLOTS = 24  # DMX512: shorter packets are padded so break-to-break stays ≥ 1204 µs
MAX_SLOTS = 512

# Open DMX (host-timed) line parameters.
OPEN_DMX_BAUDRATE = 250_000
OPEN_DMX_BYTESIZE = 8
OPEN_DMX_PARITY = "N"
OPEN_DMX_STOPBITS = 2
MIN_BREAK_US = 92
MIN_MAB_US = 12
DEFAULT_BREAK_US = 110
DEFAULT_MAB_US = 16
SLOT_TIME_US = 44  # 11 bits at 250 kbit/s
MAX_DMX_RATE_HZ = 44


class EnttecError(ValueError):
    """A byte string is not a valid widget message; the message names the field and offset."""


def encode_message(label: int, payload: bytes = b"") -> bytes:
    """One widget message: 0x7E, label, length LSB/MSB, payload, 0xE7."""
    check_int("label", label, 0, 0xFF)
    payload = check_bytes("payload", payload, 0, MAX_PAYLOAD)
    return (
        bytes((START_DELIMITER, label, len(payload) & 0xFF, len(payload) >> 8))
        + payload
        + bytes((END_DELIMITER,))
    )


def send_dmx(slots: bytes, start_code: int = 0x00) -> bytes:
    """Label 6 frame: start code then the slots (fewer than 24 are zero-padded to 24)."""
    slots = check_bytes("slots", slots, 0, MAX_SLOTS)
    check_int("start_code", start_code, 0, 0xFF)
    return encode_message(LABEL_SEND_DMX, bytes((start_code,)) + slots.ljust(MIN_SLOTS, b"\0"))


def send_dmx_template(slot_count: int, start_code: int = 0x00) -> bytearray:
    """A label-6 frame with zero slots; the writer patches ``buf[DATA_OFFSET:DATA_OFFSET + n]``.

    `slot_count` below 24 is padded to 24 (the frame length is ``6 + max(24, n)``)."""
    check_int("slot_count", slot_count, 1, MAX_SLOTS)
    check_int("start_code", start_code, 0, 0xFF)
    return bytearray(send_dmx(bytes(slot_count), start_code))


def get_widget_parameters(user_config_size: int = 0) -> bytes:
    """Label 3 request: user-configuration size to return (LSB, MSB), 0..508."""
    check_int("user_config_size", user_config_size, 0, 508)
    return encode_message(LABEL_GET_WIDGET_PARAMETERS, user_config_size.to_bytes(2, "little"))


def set_widget_parameters(
    break_time: int = 9, mab_time: int = 1, rate: int = 40, user_config: bytes = b""
) -> bytes:
    """Label 4: break and MAB in 10.67 µs units (9..127, 1..127), rate 0..40 packets/s
    (0 = as fast as possible), then the user configuration bytes."""
    check_int("break_time", break_time, 9, 127)
    check_int("mab_time", mab_time, 1, 127)
    check_int("rate", rate, 0, 40)
    user_config = check_bytes("user_config", user_config, 0, 508)
    payload = len(user_config).to_bytes(2, "little") + bytes((break_time, mab_time, rate))
    return encode_message(LABEL_SET_WIDGET_PARAMETERS, payload + user_config)


def receive_dmx_on_change(on_change: bool) -> bytes:
    """Label 8: 0 = send every received DMX packet, 1 = send changes only."""
    return encode_message(LABEL_RECEIVE_DMX_ON_CHANGE, b"\x01" if on_change else b"\x00")


def get_serial_number() -> bytes:
    """Label 10 request (empty payload)."""
    return encode_message(LABEL_GET_SERIAL)


@dataclass(frozen=True, slots=True)
class EnttecMessage:
    """A widget message this module does not interpret (or whose payload is too short)."""

    label: int
    payload: bytes


@dataclass(frozen=True, slots=True)
class WidgetParameters:
    """Label 3 reply."""

    firmware_version: int
    break_time: int
    mab_time: int
    rate: int
    user_config: bytes = b""


@dataclass(frozen=True, slots=True)
class ReceivedDmx:
    """Label 5: status (bit0 queue overflow, bit1 receive overrun), start code, slots."""

    status: int
    start_code: int
    slots: bytes

    @property
    def queue_overflow(self) -> bool:
        return bool(self.status & 0x01)

    @property
    def overrun(self) -> bool:
        return bool(self.status & 0x02)


@dataclass(frozen=True, slots=True)
class SendDmx:
    """Label 6 (host → widget; decoded too, for tests and pass-through tools)."""

    start_code: int
    slots: bytes


@dataclass(frozen=True, slots=True)
class SerialNumber:
    """Label 10 reply: 4 bytes BCD, least significant byte first."""

    raw: bytes

    @property
    def number(self) -> int:
        digits = "".join(f"{b:02x}" for b in reversed(self.raw))
        return int(digits) if digits.isdigit() else -1


Message = EnttecMessage | WidgetParameters | ReceivedDmx | SendDmx | SerialNumber


def _interpret(label: int, payload: bytes) -> Message:
    if label == LABEL_GET_WIDGET_PARAMETERS and len(payload) >= 5:
        return WidgetParameters(
            firmware_version=payload[0] | (payload[1] << 8),
            break_time=payload[2],
            mab_time=payload[3],
            rate=payload[4],
            user_config=payload[5:],
        )
    if label == LABEL_RECEIVED_DMX and len(payload) >= 2:
        return ReceivedDmx(status=payload[0], start_code=payload[1], slots=payload[2:])
    if label == LABEL_SEND_DMX and len(payload) >= 1:
        return SendDmx(start_code=payload[0], slots=payload[1:])
    if label == LABEL_GET_SERIAL and len(payload) == 4:
        return SerialNumber(payload)
    return EnttecMessage(label, payload)


def decode_message(frame: bytes | bytearray | memoryview) -> Message:
    """Decode exactly one widget message; raise `EnttecError` naming the bad field."""
    buf = to_bytes("frame", frame)
    if len(buf) < HEADER_SIZE + 1:
        raise EnttecError(f"frame truncated: header and end delimiter need 5 bytes, got {len(buf)}")
    if buf[0] != START_DELIMITER:
        raise EnttecError(f"start delimiter 0x{buf[0]:02x} at offset 0, expected 0x7e")
    length = buf[2] | (buf[3] << 8)
    if length > MAX_PAYLOAD:
        raise EnttecError(f"data length {length} at offset 2 out of range 0..{MAX_PAYLOAD}")
    end = HEADER_SIZE + length
    if len(buf) < end + 1:
        raise EnttecError(
            f"frame truncated: data length {length} at offset 2 needs {end + 1} bytes, "
            f"got {len(buf)}"
        )
    if buf[end] != END_DELIMITER:
        raise EnttecError(f"end delimiter 0x{buf[end]:02x} at offset {end}, expected 0xe7")
    if len(buf) > end + 1:
        raise EnttecError(f"{len(buf) - end - 1} trailing bytes after the end delimiter")
    return _interpret(buf[1], buf[HEADER_SIZE:end])


@dataclass
class EnttecDecoder:
    """Incremental decoder for the widget → host byte stream.

    ``feed(chunk)`` returns the messages completed by `chunk`; `dropped` counts bytes skipped
    while resynchronising. The buffer never holds more than one maximal frame (605 bytes).
    """

    dropped: int = 0
    _buf: bytearray = field(default_factory=bytearray, repr=False)

    def feed(self, chunk: bytes | bytearray | memoryview) -> list[Message]:
        self._buf += chunk
        out: list[Message] = []
        buf = self._buf
        while True:
            start = buf.find(START_DELIMITER)
            if start < 0:
                self.dropped += len(buf)
                buf.clear()
                break
            if start:
                self.dropped += start
                del buf[:start]
            if len(buf) < HEADER_SIZE:
                break
            length = buf[2] | (buf[3] << 8)
            if length > MAX_PAYLOAD:
                self.dropped += 1
                del buf[:1]
                continue
            end = HEADER_SIZE + length
            if len(buf) < end + 1:
                break
            if buf[end] != END_DELIMITER:
                self.dropped += 1
                del buf[:1]
                continue
            out.append(_interpret(buf[1], bytes(buf[HEADER_SIZE:end])))
            del buf[: end + 1]
        return out

    @property
    def pending(self) -> int:
        """Bytes held while waiting for the rest of a frame."""
        return len(self._buf)


def open_dmx_frame(slots: bytes, start_code: int = 0x00) -> bytes:
    """The 513 bytes written after break and MAB: start code, then 512 slots (zero-padded)."""
    slots = check_bytes("slots", slots, 0, MAX_SLOTS)
    check_int("start_code", start_code, 0, 0xFF)
    return bytes((start_code,)) + slots.ljust(MAX_SLOTS, b"\0")


@dataclass(frozen=True, slots=True)
class OpenDmxTiming:
    """Host-side DMX timing for Open DMX: break and MAB in µs, frame rate in Hz."""

    break_us: int = DEFAULT_BREAK_US
    mab_us: int = DEFAULT_MAB_US
    rate_hz: float = 40.0

    def __post_init__(self) -> None:
        check_int("break_us", self.break_us, MIN_BREAK_US, 1_000_000)
        check_int("mab_us", self.mab_us, MIN_MAB_US, 1_000_000)
        if not isinstance(self.rate_hz, int | float) or not 0 < self.rate_hz <= MAX_DMX_RATE_HZ:
            raise ValueError(f"rate_hz must be in (0, {MAX_DMX_RATE_HZ}], got {self.rate_hz!r}")

    @property
    def frame_us(self) -> int:
        """Minimum on-wire time of one full frame: break + MAB + 513 slots * 44 µs."""
        return self.break_us + self.mab_us + (1 + MAX_SLOTS) * SLOT_TIME_US

    @property
    def period_us(self) -> int:
        """Time between frame starts: the rate's period, never shorter than `frame_us`."""
        return max(self.frame_us, round(1_000_000 / self.rate_hz))
