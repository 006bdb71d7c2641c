"""Art-Net 4 packets (Artistic Licence, protocol version 14): builders, templates, decoders.

Sans-IO. Byte order is mixed: the OpCode, the ArtPollReply port and EstaMan are little-endian;
ProtVer, Length, Oem, User, RefreshRate and the ArtPoll target fields are big-endian.

ArtDmx layout (18-byte header + 2..512 data bytes, even)::

    off size field
      0   8  ID "Art-Net\\0"
      8   2  OpCode 0x5000, low byte first (00 50)
     10   2  ProtVerHi, ProtVerLo = 0, 14
     12   1  Sequence 1..255 (0 = sequencing disabled)   <- SEQUENCE_OFFSET
     13   1  Physical (informational)                    <- PHYSICAL_OFFSET
     14   1  SubUni: Port-Address bits 7..0 (Sub-Net << 4 | Universe)
     15   1  Net: Port-Address bits 14..8
     16   2  Length, big-endian, even, 2..512
     18   n  slots 1..n (start code 0 is implied)          <- DATA_OFFSET

Trailing bytes: Art-Net lets packets grow at the end in later revisions, so every decoder here
**ignores** bytes after the fields it knows (ArtDmx: after ``18 + Length``). Short packets are
rejected, except ArtPoll (14 bytes accepted; the Art-Net 4 target fields are optional) and
ArtPollReply (accepted from 207 bytes, missing tail fields read as zero).
"""

from __future__ import annotations

from dataclasses import dataclass
from ipaddress import IPv4Address

from ._fields import check_bytes, check_int, check_ipv4, check_text, to_bytes

__all__ = [
    "ARTDMX_HEADER_SIZE",
    "ARTNET_ID",
    "ARTNET_PORT",
    "ARTPOLL_REPLY_SIZE",
    "DATA_OFFSET",
    "LENGTH_OFFSET",
    "OP_DMX",
    "OP_POLL",
    "OP_POLL_REPLY",
    "OP_SYNC",
    "PHYSICAL_OFFSET",
    "PROTOCOL_VERSION",
    "SEQUENCE_OFFSET",
    "ArtDmx",
    "ArtNetError",
    "ArtNetUnsupported",
    "ArtPoll",
    "ArtPollReply",
    "ArtSync",
    "decode_artnet",
    "dmx_template",
    "next_sequence",
    "port_address",
    "split_port_address",
]

ARTNET_PORT = 6454  # 0x1936
ARTNET_ID = b"Art-Net\x00"
PROTOCOL_VERSION = 14

OP_POLL = 0x2000
OP_POLL_REPLY = 0x2100
OP_DMX = 0x5000
OP_NZS = 0x5100
OP_SYNC = 0x5200

MAX_PORT_ADDRESS = 0x7FFF
MAX_SLOTS = 512

SEQUENCE_OFFSET = 12
PHYSICAL_OFFSET = 13
SUBUNI_OFFSET = 14
NET_OFFSET = 15
LENGTH_OFFSET = 16
DATA_OFFSET = 18
ARTDMX_HEADER_SIZE = 18
ARTSYNC_SIZE = 14
ARTPOLL_MIN_SIZE = 14
ARTPOLL_SIZE = 22
ARTPOLL_REPLY_SIZE = 239
ARTPOLL_REPLY_MIN_SIZE = 207

# ArtPoll Flags bits.
POLL_REPLY_ON_CHANGE = 0x02
POLL_SEND_DIAGNOSTICS = 0x04
POLL_DIAGNOSTICS_UNICAST = 0x08
POLL_DISABLE_VLC = 0x10
POLL_TARGETED = 0x20
# DiagPriority codes.
DP_LOW = 0x10
DP_MED = 0x40
DP_HIGH = 0x80
DP_CRITICAL = 0xE0
DP_VOLATILE = 0xF0

# ArtPollReply Style codes.
STYLE_NODE = 0x00
STYLE_CONTROLLER = 0x01
STYLE_MEDIA = 0x02
STYLE_ROUTE = 0x03
STYLE_BACKUP = 0x04
STYLE_CONFIG = 0x05
STYLE_VISUAL = 0x06

STATUS2_PORT_ADDRESS_15BIT = 0x08


class ArtNetError(ValueError):
    """A datagram is not a valid Art-Net packet; the message names the field and its offset."""


class ArtNetUnsupported(ArtNetError):
    """A well-formed Art-Net header whose OpCode this module does not decode."""

    def __init__(self, opcode: int) -> None:
        super().__init__(f"OpCode 0x{opcode:04x} at offset 8 is not supported by this decoder")
        self.opcode = opcode


def port_address(net: int, subnet: int, universe: int) -> int:
    """15-bit Port-Address from Net (0..127), Sub-Net (0..15) and Universe (0..15)."""
    check_int("net", net, 0, 0x7F)
    check_int("subnet", subnet, 0, 0x0F)
    check_int("universe", universe, 0, 0x0F)
    return (net << 8) | (subnet << 4) | universe


def split_port_address(address: int) -> tuple[int, int, int]:
    """(net, subnet, universe) of a 15-bit Port-Address; the inverse of `port_address`."""
    check_int("port_address", address, 0, MAX_PORT_ADDRESS)
    return address >> 8, (address >> 4) & 0x0F, address & 0x0F


def next_sequence(sequence: int) -> int:
    """The ArtDmx sequence after `sequence`: 1..255 wrapping to 1 (0 stays 0 = disabled)."""
    check_int("sequence", sequence, 0, 0xFF)
    if sequence == 0:
        return 0
    return 1 if sequence == 0xFF else sequence + 1


def _header(opcode: int, with_version: bool = True) -> bytearray:
    buf = bytearray(ARTNET_ID)
    buf += opcode.to_bytes(2, "little")
    if with_version:
        buf += PROTOCOL_VERSION.to_bytes(2, "big")
    return buf


def _even_length(slot_count: int) -> int:
    return slot_count + (slot_count & 1)


def dmx_template(port_address: int, slot_count: int, physical: int = 0) -> bytearray:
    """An ArtDmx packet with sequence 0 and zero slots, every field filled in.

    Odd `slot_count` is padded to the next even length (the pad slot stays 0). The output
    thread patches ``buf[SEQUENCE_OFFSET]`` and ``buf[DATA_OFFSET:DATA_OFFSET + slot_count]``.
    """
    check_int("port_address", port_address, 0, MAX_PORT_ADDRESS)
    check_int("slot_count", slot_count, 1, MAX_SLOTS)
    check_int("physical", physical, 0, 0xFF)
    length = _even_length(slot_count)
    buf = _header(OP_DMX)
    buf.append(0)  # sequence
    buf.append(physical)
    buf.append(port_address & 0xFF)  # SubUni
    buf.append(port_address >> 8)  # Net
    buf += length.to_bytes(2, "big")
    buf += bytes(length)
    return buf


@dataclass(frozen=True, slots=True)
class ArtDmx:
    """ArtDmx (OpDmx). `data` of odd length is padded with one zero slot on construction."""

    port_address: int
    data: bytes
    sequence: int = 0
    physical: int = 0

    def __post_init__(self) -> None:
        check_int("port_address", self.port_address, 0, MAX_PORT_ADDRESS)
        data = check_bytes("data", self.data, 1, MAX_SLOTS)
        if len(data) & 1:
            data += b"\0"
        object.__setattr__(self, "data", data)
        check_int("sequence", self.sequence, 0, 0xFF)
        check_int("physical", self.physical, 0, 0xFF)

    @property
    def net(self) -> int:
        return self.port_address >> 8

    @property
    def sub_uni(self) -> int:
        return self.port_address & 0xFF

    def to_bytes(self) -> bytes:
        buf = dmx_template(self.port_address, len(self.data), self.physical)
        buf[SEQUENCE_OFFSET] = self.sequence
        buf[DATA_OFFSET:] = self.data
        return bytes(buf)


@dataclass(frozen=True, slots=True)
class ArtSync:
    """ArtSync (OpSync, 14 bytes); Aux1/Aux2 are sent as 0 and ignored on receipt."""

    def to_bytes(self) -> bytes:
        return bytes(_header(OP_SYNC) + b"\0\0")


@dataclass(frozen=True, slots=True)
class ArtPoll:
    """ArtPoll (OpPoll). 14 bytes, or 22 when the Art-Net 4 fields are given.

    The four Art-Net 4 fields (target Port-Address top/bottom, ESTA manufacturer, OEM) are
    either all None (14-byte packet) or all set (22-byte packet).
    """

    flags: int = 0
    diag_priority: int = DP_LOW
    target_top: int | None = None
    target_bottom: int | None = None
    esta_manufacturer: int | None = None
    oem: int | None = None

    def __post_init__(self) -> None:
        check_int("flags", self.flags, 0, 0xFF)
        check_int("diag_priority", self.diag_priority, 0, 0xFF)
        extension = (self.target_top, self.target_bottom, self.esta_manufacturer, self.oem)
        if any(v is None for v in extension) and any(v is not None for v in extension):
            raise ValueError(
                "target_top, target_bottom, esta_manufacturer and oem must be all set "
                "(22-byte ArtPoll) or all None (14-byte ArtPoll)"
            )
        if self.target_top is not None:
            check_int("target_top", self.target_top, 0, MAX_PORT_ADDRESS)
            check_int("target_bottom", self.target_bottom, 0, MAX_PORT_ADDRESS)
            check_int("esta_manufacturer", self.esta_manufacturer, 0, 0xFFFF)
            check_int("oem", self.oem, 0, 0xFFFF)

    def to_bytes(self) -> bytes:
        buf = _header(OP_POLL)
        buf.append(self.flags)
        buf.append(self.diag_priority)
        if (
            self.target_top is not None
            and self.target_bottom is not None
            and self.esta_manufacturer is not None
            and self.oem is not None
        ):
            buf += self.target_top.to_bytes(2, "big")
            buf += self.target_bottom.to_bytes(2, "big")
            buf += self.esta_manufacturer.to_bytes(2, "big")
            buf += self.oem.to_bytes(2, "big")
        return bytes(buf)


_FOUR_ZEROS = b"\0\0\0\0"
_NO_ADDRESS = IPv4Address(0)


@dataclass(frozen=True, slots=True)
class ArtPollReply:
    """ArtPollReply (OpPollReply), always encoded as 239 bytes.

    The 4-byte per-port arrays (`port_types`, `good_input`, `good_output_a`, `sw_in`,
    `sw_out`, `good_output_b`) are `bytes` of length 4. Names are ASCII (Latin-1 accepted),
    NUL-terminated: short name ≤ 17 bytes, long name and node report ≤ 63 bytes.
    """

    ip: IPv4Address
    short_name: str = ""
    long_name: str = ""
    port: int = ARTNET_PORT
    version_info: int = 0
    net_switch: int = 0
    sub_switch: int = 0
    oem: int = 0xFFFF
    ubea_version: int = 0
    status1: int = 0
    esta_manufacturer: int = 0
    node_report: str = ""
    num_ports: int = 0
    port_types: bytes = _FOUR_ZEROS
    good_input: bytes = _FOUR_ZEROS
    good_output_a: bytes = _FOUR_ZEROS
    sw_in: bytes = _FOUR_ZEROS
    sw_out: bytes = _FOUR_ZEROS
    acn_priority: int = 0
    sw_macro: int = 0
    sw_remote: int = 0
    style: int = STYLE_NODE
    mac: bytes = b"\0\0\0\0\0\0"
    bind_ip: IPv4Address = _NO_ADDRESS
    bind_index: int = 0
    status2: int = STATUS2_PORT_ADDRESS_15BIT
    good_output_b: bytes = _FOUR_ZEROS
    status3: int = 0
    default_responder: bytes = b"\0\0\0\0\0\0"
    user: int = 0
    refresh_rate: int = 0

    def __post_init__(self) -> None:
        check_ipv4("ip", self.ip)
        check_ipv4("bind_ip", self.bind_ip)
        check_text("short_name", self.short_name, 17, "latin-1")
        check_text("long_name", self.long_name, 63, "latin-1")
        check_text("node_report", self.node_report, 63, "latin-1")
        for name, lo, hi in (
            ("port", 0, 0xFFFF),
            ("version_info", 0, 0xFFFF),
            ("net_switch", 0, 0x7F),
            ("sub_switch", 0, 0x0F),
            ("oem", 0, 0xFFFF),
            ("ubea_version", 0, 0xFF),
            ("status1", 0, 0xFF),
            ("esta_manufacturer", 0, 0xFFFF),
            ("num_ports", 0, 4),
            ("acn_priority", 0, 0xFF),
            ("sw_macro", 0, 0xFF),
            ("sw_remote", 0, 0xFF),
            ("style", 0, 0xFF),
            ("bind_index", 0, 0xFF),
            ("status2", 0, 0xFF),
            ("status3", 0, 0xFF),
            ("user", 0, 0xFFFF),
            ("refresh_rate", 0, 0xFFFF),
        ):
            check_int(name, getattr(self, name), lo, hi)
        for name, size in (
            ("port_types", 4),
            ("good_input", 4),
            ("good_output_a", 4),
            ("sw_in", 4),
            ("sw_out", 4),
            ("good_output_b", 4),
            ("mac", 6),
            ("default_responder", 6),
        ):
            object.__setattr__(self, name, check_bytes(name, getattr(self, name), size, size))

    def to_bytes(self) -> bytes:
        def text(value: str, size: int) -> bytes:
            return value.encode("latin-1").ljust(size, b"\0")

        buf = _header(OP_POLL_REPLY, with_version=False)
        buf += self.ip.packed  # 10
        buf += self.port.to_bytes(2, "little")  # 14
        buf += self.version_info.to_bytes(2, "big")  # 16
        buf.append(self.net_switch)  # 18
        buf.append(self.sub_switch)  # 19
        buf += self.oem.to_bytes(2, "big")  # 20
        buf.append(self.ubea_version)  # 22
        buf.append(self.status1)  # 23
        buf += self.esta_manufacturer.to_bytes(2, "little")  # 24
        buf += text(self.short_name, 18)  # 26
        buf += text(self.long_name, 64)  # 44
        buf += text(self.node_report, 64)  # 108
        buf += self.num_ports.to_bytes(2, "big")  # 172
        buf += self.port_types  # 174
        buf += self.good_input  # 178
        buf += self.good_output_a  # 182
        buf += self.sw_in  # 186
        buf += self.sw_out  # 190
        buf.append(self.acn_priority)  # 194
        buf.append(self.sw_macro)  # 195
        buf.append(self.sw_remote)  # 196
        buf += bytes(3)  # 197 spare
        buf.append(self.style)  # 200
        buf += self.mac  # 201
        buf += self.bind_ip.packed  # 207
        buf.append(self.bind_index)  # 211
        buf.append(self.status2)  # 212
        buf += self.good_output_b  # 213
        buf.append(self.status3)  # 217
        buf += self.default_responder  # 218
        buf += self.user.to_bytes(2, "big")  # 224
        buf += self.refresh_rate.to_bytes(2, "big")  # 226
        buf += bytes(11)  # 228 filler
        assert len(buf) == ARTPOLL_REPLY_SIZE
        return bytes(buf)


# --------------------------------------------------------------------------------------------
# Decoding


def _need(buf: bytes, end: int, field: str, offset: int) -> None:
    if len(buf) < end:
        raise ArtNetError(
            f"datagram truncated: {field} at offset {offset} needs {end} bytes, got {len(buf)}"
        )


def _check_version(buf: bytes) -> None:
    _need(buf, 12, "ProtVer", 10)
    version = (buf[10] << 8) | buf[11]
    if version < PROTOCOL_VERSION:
        raise ArtNetError(f"ProtVer {version} at offset 10 is below {PROTOCOL_VERSION}")


def decode_artnet(
    datagram: bytes | bytearray | memoryview,
) -> ArtDmx | ArtSync | ArtPoll | ArtPollReply:
    """Decode one UDP payload received on port 6454; raise `ArtNetError` if it is invalid.

    Other OpCodes raise `ArtNetUnsupported` (a subclass carrying `.opcode`).
    """
    buf = to_bytes("datagram", datagram)
    _need(buf, 8, "ID", 0)
    if buf[:8] != ARTNET_ID:
        raise ArtNetError(f"ID {buf[:8]!r} at offset 0, expected b'Art-Net\\x00'")
    _need(buf, 10, "OpCode", 8)
    opcode = buf[8] | (buf[9] << 8)
    if opcode == OP_DMX:
        return _decode_dmx(buf)
    if opcode == OP_SYNC:
        _check_version(buf)
        _need(buf, ARTSYNC_SIZE, "Aux1/Aux2", 12)
        return ArtSync()
    if opcode == OP_POLL:
        return _decode_poll(buf)
    if opcode == OP_POLL_REPLY:
        return _decode_poll_reply(buf)
    raise ArtNetUnsupported(opcode)


def _decode_dmx(buf: bytes) -> ArtDmx:
    _check_version(buf)
    _need(buf, ARTDMX_HEADER_SIZE, "ArtDmx header", 12)
    length = (buf[LENGTH_OFFSET] << 8) | buf[LENGTH_OFFSET + 1]
    if not 2 <= length <= MAX_SLOTS:
        raise ArtNetError(f"Length {length} at offset 16 out of range 2..{MAX_SLOTS}")
    # An odd Length (forbidden, but sent by some nodes) is accepted and padded with a zero slot.
    _need(buf, DATA_OFFSET + length, f"DMX data of Length {length}", DATA_OFFSET)
    return ArtDmx(
        port_address=((buf[NET_OFFSET] & 0x7F) << 8) | buf[SUBUNI_OFFSET],
        data=buf[DATA_OFFSET : DATA_OFFSET + length],
        sequence=buf[SEQUENCE_OFFSET],
        physical=buf[PHYSICAL_OFFSET],
    )


def _decode_poll(buf: bytes) -> ArtPoll:
    _check_version(buf)
    _need(buf, ARTPOLL_MIN_SIZE, "Flags/DiagPriority", 12)
    if len(buf) < ARTPOLL_SIZE:
        return ArtPoll(flags=buf[12], diag_priority=buf[13])
    top = (buf[14] << 8) | buf[15]
    bottom = (buf[16] << 8) | buf[17]
    for value, offset, field in (
        (top, 14, "TargetPortAddressTop"),
        (bottom, 16, "TargetPortAddressBottom"),
    ):
        if value > MAX_PORT_ADDRESS:
            raise ArtNetError(
                f"{field} {value} at offset {offset} out of range 0..{MAX_PORT_ADDRESS}"
            )
    return ArtPoll(
        flags=buf[12],
        diag_priority=buf[13],
        target_top=top,
        target_bottom=bottom,
        esta_manufacturer=(buf[18] << 8) | buf[19],
        oem=(buf[20] << 8) | buf[21],
    )


def _decode_text(buf: bytes, offset: int, size: int, field: str) -> str:
    raw = buf[offset : offset + size]
    end = raw.find(b"\0")
    if end < 0:
        raise ArtNetError(f"{field} at offset {offset} is not NUL-terminated")
    return raw[:end].decode("latin-1")


def _decode_poll_reply(buf: bytes) -> ArtPollReply:
    _need(buf, ARTPOLL_REPLY_MIN_SIZE, "ArtPollReply", 10)
    if len(buf) < ARTPOLL_REPLY_SIZE:
        buf = buf.ljust(ARTPOLL_REPLY_SIZE, b"\0")  # older, shorter forms: missing fields are 0

    num_ports = (buf[172] << 8) | buf[173]
    if num_ports > 4:
        raise ArtNetError(f"NumPorts {num_ports} at offset 172 out of range 0..4")
    if buf[18] > 0x7F:
        raise ArtNetError(f"NetSwitch {buf[18]} at offset 18 out of range 0..127")
    if buf[19] > 0x0F:
        raise ArtNetError(f"SubSwitch {buf[19]} at offset 19 out of range 0..15")

    def u16be(offset: int) -> int:
        return (buf[offset] << 8) | buf[offset + 1]

    return ArtPollReply(
        ip=IPv4Address(buf[10:14]),
        port=buf[14] | (buf[15] << 8),
        version_info=u16be(16),
        net_switch=buf[18],
        sub_switch=buf[19],
        oem=u16be(20),
        ubea_version=buf[22],
        status1=buf[23],
        esta_manufacturer=buf[24] | (buf[25] << 8),
        short_name=_decode_text(buf, 26, 18, "ShortName"),
        long_name=_decode_text(buf, 44, 64, "LongName"),
        node_report=_decode_text(buf, 108, 64, "NodeReport"),
        num_ports=num_ports,
        port_types=buf[174:178],
        good_input=buf[178:182],
        good_output_a=buf[182:186],
        sw_in=buf[186:190],
        sw_out=buf[190:194],
        acn_priority=buf[194],
        sw_macro=buf[195],
        sw_remote=buf[196],
        style=buf[200],
        mac=buf[201:207],
        bind_ip=IPv4Address(buf[207:211]),
        bind_index=buf[211],
        status2=buf[212],
        good_output_b=buf[213:217],
        status3=buf[217],
        default_responder=buf[218:224],
        user=u16be(224),
        refresh_rate=u16be(226),
    )
