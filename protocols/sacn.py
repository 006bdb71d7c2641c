"""Streaming ACN (ANSI E1.31-2018) packets: builders, templates and a validating decoder.

Sans-IO: bytes in, dataclasses out; dataclasses in, bytes out. All fields are big-endian.

Every PDU starts with a Flags & Length word: flags 0x7 in the top 4 bits, the low 12 bits the
PDU length counted from the start of that word to the end of the datagram.

Data packet layout (126 + N bytes, N = 0..512 slots)::

    off size layer    field
      0   2  root     preamble size 0x0010
      2   2  root     post-amble size 0x0000
      4  12  root     ACN packet identifier "ASC-E1.17\\0\\0\\0"
     16   2  root     flags & length 0x7000 | (total - 16)
     18   4  root     vector 0x00000004 (VECTOR_ROOT_E131_DATA)
     22  16  root     CID
     38   2  framing  flags & length 0x7000 | (total - 38)
     40   4  framing  vector 0x00000002 (VECTOR_E131_DATA_PACKET)
     44  64  framing  source name, UTF-8, NUL-terminated and NUL-padded
    108   1  framing  priority 0..200
    109   2  framing  synchronization address (0 = none, else 1..63999)
    111   1  framing  sequence number            <- SEQUENCE_OFFSET
    112   1  framing  options (0x80 preview, 0x40 stream terminated, 0x20 force sync)
    113   2  framing  universe 1..63999
    115   2  DMP      flags & length 0x7000 | (total - 115)
    117   1  DMP      vector 0x02 (VECTOR_DMP_SET_PROPERTY)
    118   1  DMP      address type & data type 0xA1
    119   2  DMP      first property address 0x0000
    121   2  DMP      address increment 0x0001
    123   2  DMP      property value count 1 + N
    125   1  DMP      START code                   <- START_CODE_OFFSET
    126   N  DMP      slots 1..N                   <- DATA_OFFSET

Decoding is strict: the three Flags & Length words must describe exactly the datagram, so
trailing bytes after the packet are **rejected** (E1.31 carries one root PDU per datagram). The
reserved option bits (0x1F), the reserved framing bytes of sync and discovery packets and the
bytes after the source name's NUL are ignored, as E1.31 tells receivers to do.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from ._fields import check_bytes, check_int, check_text, to_bytes

__all__ = [
    "ACN_IDENTIFIER",
    "DATA_HEADER_SIZE",
    "DATA_OFFSET",
    "DISCOVERY_HEADER_SIZE",
    "DISCOVERY_UNIVERSE",
    "DISCOVERY_UNIVERSES_PER_PAGE",
    "MAX_PRIORITY",
    "MAX_SLOTS",
    "MAX_UNIVERSE",
    "OPTIONS_OFFSET",
    "OPTION_FORCE_SYNC",
    "OPTION_PREVIEW",
    "OPTION_STREAM_TERMINATED",
    "SACN_PORT",
    "SEQUENCE_OFFSET",
    "START_CODE_OFFSET",
    "SYNC_PACKET_SIZE",
    "SYNC_SEQUENCE_OFFSET",
    "DataPacket",
    "DiscoveryPacket",
    "SacnData",
    "SacnDiscovery",
    "SacnError",
    "SacnSync",
    "SyncPacket",
    "data_template",
    "decode_sacn",
    "discovery_packets",
    "multicast_address",
    "next_sequence",
    "sequence_out_of_order",
]

SACN_PORT = 5568
ACN_IDENTIFIER = b"ASC-E1.17\x00\x00\x00"
PREAMBLE_SIZE = 0x0010
POSTAMBLE_SIZE = 0x0000

VECTOR_ROOT_E131_DATA = 0x00000004
VECTOR_ROOT_E131_EXTENDED = 0x00000008
VECTOR_E131_DATA_PACKET = 0x00000002
VECTOR_E131_EXTENDED_SYNCHRONIZATION = 0x00000001
VECTOR_E131_EXTENDED_DISCOVERY = 0x00000002
VECTOR_DMP_SET_PROPERTY = 0x02
VECTOR_UNIVERSE_DISCOVERY_UNIVERSE_LIST = 0x00000001
DMP_ADDRESS_DATA_TYPE = 0xA1

OPTION_PREVIEW = 0x80
OPTION_STREAM_TERMINATED = 0x40
OPTION_FORCE_SYNC = 0x20
_OPTION_MASK = OPTION_PREVIEW | OPTION_STREAM_TERMINATED | OPTION_FORCE_SYNC

MIN_UNIVERSE = 1
MAX_UNIVERSE = 63999
DISCOVERY_UNIVERSE = 64214  # E131_DISCOVERY_UNIVERSE → 239.255.250.214
MAX_PRIORITY = 200
DEFAULT_PRIORITY = 100
MAX_SLOTS = 512
SOURCE_NAME_SIZE = 64  # 63 UTF-8 bytes + NUL
DISCOVERY_UNIVERSES_PER_PAGE = 512

# Offsets in a data packet (the template API for the native output thread).
ROOT_FLAGS_LENGTH_OFFSET = 16
CID_OFFSET = 22
FRAMING_FLAGS_LENGTH_OFFSET = 38
SOURCE_NAME_OFFSET = 44
PRIORITY_OFFSET = 108
SYNC_ADDRESS_OFFSET = 109
SEQUENCE_OFFSET = 111
OPTIONS_OFFSET = 112
UNIVERSE_OFFSET = 113
DMP_FLAGS_LENGTH_OFFSET = 115
PROPERTY_COUNT_OFFSET = 123
START_CODE_OFFSET = 125
DATA_OFFSET = 126
DATA_HEADER_SIZE = 126

# Sync packet (49 bytes).
SYNC_PACKET_SIZE = 49
SYNC_SEQUENCE_OFFSET = 44
SYNC_ADDRESS_SYNC_OFFSET = 45

# Discovery packet (120 + 2n bytes).
DISCOVERY_FLAGS_LENGTH_OFFSET = 112
DISCOVERY_HEADER_SIZE = 120


class SacnError(ValueError):
    """A datagram is not a valid E1.31 packet; the message names the field and its offset."""


def _flags_length(length: int) -> bytes:
    return (0x7000 | length).to_bytes(2, "big")


def _root_layer(cid: bytes, vector: int, total: int) -> bytearray:
    buf = bytearray()
    buf += PREAMBLE_SIZE.to_bytes(2, "big")
    buf += POSTAMBLE_SIZE.to_bytes(2, "big")
    buf += ACN_IDENTIFIER
    buf += _flags_length(total - ROOT_FLAGS_LENGTH_OFFSET)
    buf += vector.to_bytes(4, "big")
    buf += cid
    return buf


def _source_name_field(name: str) -> bytes:
    raw = check_text("source_name", name, SOURCE_NAME_SIZE - 1, "utf-8")
    return raw.ljust(SOURCE_NAME_SIZE, b"\0")


def _check_universe(name: str, value: object) -> int:
    return check_int(name, value, MIN_UNIVERSE, MAX_UNIVERSE)


def _check_sync_address(value: object) -> int:
    sync = check_int("sync_address", value, 0, MAX_UNIVERSE)
    return sync


def data_template(
    cid: bytes,
    source_name: str,
    priority: int,
    universe: int,
    slot_count: int,
    sync_address: int = 0,
    options: int = 0,
    start_code: int = 0,
) -> bytearray:
    """A complete data packet with sequence 0 and all slots 0, every length field filled in.

    The output thread keeps one per universe and patches only ``buf[SEQUENCE_OFFSET]`` and
    ``buf[DATA_OFFSET:DATA_OFFSET + slot_count]`` (and ``buf[OPTIONS_OFFSET]`` to send
    stream-terminated packets on shutdown). Its length is ``DATA_HEADER_SIZE + slot_count``.
    """
    cid = check_bytes("cid", cid, 16, 16)
    name = _source_name_field(source_name)
    check_int("priority", priority, 0, MAX_PRIORITY)
    _check_universe("universe", universe)
    check_int("slot_count", slot_count, 0, MAX_SLOTS)
    _check_sync_address(sync_address)
    check_int("options", options, 0, 0xFF)
    if options & ~_OPTION_MASK:
        raise ValueError(
            f"options must only use bits 0x80 (preview), 0x40 (stream terminated) and "
            f"0x20 (force sync), got 0x{options:02x}"
        )
    check_int("start_code", start_code, 0, 0xFF)
    total = DATA_HEADER_SIZE + slot_count
    buf = _root_layer(cid, VECTOR_ROOT_E131_DATA, total)
    buf += _flags_length(total - FRAMING_FLAGS_LENGTH_OFFSET)
    buf += VECTOR_E131_DATA_PACKET.to_bytes(4, "big")
    buf += name
    buf.append(priority)
    buf += sync_address.to_bytes(2, "big")
    buf.append(0)  # sequence
    buf.append(options)
    buf += universe.to_bytes(2, "big")
    buf += _flags_length(total - DMP_FLAGS_LENGTH_OFFSET)
    buf.append(VECTOR_DMP_SET_PROPERTY)
    buf.append(DMP_ADDRESS_DATA_TYPE)
    buf += (0x0000).to_bytes(2, "big")  # first property address
    buf += (0x0001).to_bytes(2, "big")  # address increment
    buf += (1 + slot_count).to_bytes(2, "big")  # property value count
    buf.append(start_code)
    buf += bytes(slot_count)
    assert len(buf) == total
    return buf


@dataclass(frozen=True, slots=True)
class DataPacket:
    """An E1.31 data packet (also what `decode_sacn` returns for one, as `SacnData`)."""

    cid: bytes
    source_name: str
    universe: int
    data: bytes = b""
    priority: int = DEFAULT_PRIORITY
    sequence: int = 0
    sync_address: int = 0
    preview: bool = False
    stream_terminated: bool = False
    force_sync: bool = False
    start_code: int = 0x00

    def __post_init__(self) -> None:
        object.__setattr__(self, "cid", check_bytes("cid", self.cid, 16, 16))
        object.__setattr__(self, "data", check_bytes("data", self.data, 0, MAX_SLOTS))
        _source_name_field(self.source_name)
        _check_universe("universe", self.universe)
        check_int("priority", self.priority, 0, MAX_PRIORITY)
        check_int("sequence", self.sequence, 0, 0xFF)
        _check_sync_address(self.sync_address)
        check_int("start_code", self.start_code, 0, 0xFF)

    @property
    def options(self) -> int:
        """The options byte."""
        return (
            (OPTION_PREVIEW if self.preview else 0)
            | (OPTION_STREAM_TERMINATED if self.stream_terminated else 0)
            | (OPTION_FORCE_SYNC if self.force_sync else 0)
        )

    def to_bytes(self) -> bytes:
        buf = data_template(
            self.cid,
            self.source_name,
            self.priority,
            self.universe,
            len(self.data),
            self.sync_address,
            self.options,
            self.start_code,
        )
        buf[SEQUENCE_OFFSET] = self.sequence
        buf[DATA_OFFSET:] = self.data
        return bytes(buf)


@dataclass(frozen=True, slots=True)
class SyncPacket:
    """An E1.31 universe synchronization packet (49 bytes); sent to sync_address's group."""

    cid: bytes
    sync_address: int
    sequence: int = 0

    def __post_init__(self) -> None:
        object.__setattr__(self, "cid", check_bytes("cid", self.cid, 16, 16))
        _check_universe("sync_address", self.sync_address)
        check_int("sequence", self.sequence, 0, 0xFF)

    def to_bytes(self) -> bytes:
        buf = _root_layer(self.cid, VECTOR_ROOT_E131_EXTENDED, SYNC_PACKET_SIZE)
        buf += _flags_length(SYNC_PACKET_SIZE - FRAMING_FLAGS_LENGTH_OFFSET)
        buf += VECTOR_E131_EXTENDED_SYNCHRONIZATION.to_bytes(4, "big")
        buf.append(self.sequence)
        buf += self.sync_address.to_bytes(2, "big")
        buf += bytes(2)  # reserved
        assert len(buf) == SYNC_PACKET_SIZE
        return bytes(buf)


@dataclass(frozen=True, slots=True)
class DiscoveryPacket:
    """One page of an E1.31 universe discovery message (to universe 64214, every 10 s).

    `universes` must be strictly ascending (no duplicates), at most 512 per page;
    `discovery_packets` pages an arbitrary universe list.
    """

    cid: bytes
    source_name: str
    universes: tuple[int, ...] = ()
    page: int = 0
    last_page: int = 0

    def __post_init__(self) -> None:
        object.__setattr__(self, "cid", check_bytes("cid", self.cid, 16, 16))
        _source_name_field(self.source_name)
        check_int("last_page", self.last_page, 0, 0xFF)
        check_int("page", self.page, 0, self.last_page)
        universes = tuple(self.universes)
        if len(universes) > DISCOVERY_UNIVERSES_PER_PAGE:
            raise ValueError(
                f"universes must hold at most {DISCOVERY_UNIVERSES_PER_PAGE} entries per page, "
                f"got {len(universes)}"
            )
        for i, universe in enumerate(universes):
            _check_universe(f"universes[{i}]", universe)
            if i and universe <= universes[i - 1]:
                raise ValueError(
                    f"universes must be strictly ascending, universes[{i}]={universe} follows "
                    f"{universes[i - 1]}"
                )
        object.__setattr__(self, "universes", universes)

    def to_bytes(self) -> bytes:
        total = DISCOVERY_HEADER_SIZE + 2 * len(self.universes)
        buf = _root_layer(self.cid, VECTOR_ROOT_E131_EXTENDED, total)
        buf += _flags_length(total - FRAMING_FLAGS_LENGTH_OFFSET)
        buf += VECTOR_E131_EXTENDED_DISCOVERY.to_bytes(4, "big")
        buf += _source_name_field(self.source_name)
        buf += bytes(4)  # reserved
        buf += _flags_length(total - DISCOVERY_FLAGS_LENGTH_OFFSET)
        buf += VECTOR_UNIVERSE_DISCOVERY_UNIVERSE_LIST.to_bytes(4, "big")
        buf.append(self.page)
        buf.append(self.last_page)
        for universe in self.universes:
            buf += universe.to_bytes(2, "big")
        assert len(buf) == total
        return bytes(buf)


# Names used for decoder results (the same classes as the builders).
SacnData = DataPacket
SacnSync = SyncPacket
SacnDiscovery = DiscoveryPacket


def discovery_packets(
    cid: bytes, source_name: str, universes: Iterable[int]
) -> list[DiscoveryPacket]:
    """All pages of the discovery message for `universes` (sorted, deduplicated, 512 a page).

    An empty list gives one page with no universes (a source that currently sends none).
    """
    ordered = sorted(set(universes))
    for universe in ordered:
        _check_universe("universes", universe)
    pages = [
        ordered[i : i + DISCOVERY_UNIVERSES_PER_PAGE]
        for i in range(0, len(ordered), DISCOVERY_UNIVERSES_PER_PAGE)
    ] or [[]]
    last = len(pages) - 1
    return [
        DiscoveryPacket(cid, source_name, tuple(page), index, last)
        for index, page in enumerate(pages)
    ]


def multicast_address(universe: int) -> str:
    """IPv4 multicast group for a universe: 239.255.hi.lo (64214 → 239.255.250.214)."""
    if universe != DISCOVERY_UNIVERSE:
        _check_universe("universe", universe)
    return f"239.255.{universe >> 8}.{universe & 0xFF}"


def next_sequence(sequence: int) -> int:
    """The sequence number after `sequence` (0..255, wraps 255 → 0)."""
    return (check_int("sequence", sequence, 0, 0xFF) + 1) & 0xFF


def sequence_out_of_order(last: int, new: int) -> bool:
    """E1.31 §6.7.2: True when `new` must be discarded after `last` was accepted.

    With d = new - last in signed 8-bit arithmetic, the packet is out of order when
    -20 < d <= 0 (a repeat or a recent old packet); any other d is accepted (including
    large backward jumps, which the standard treats as a restarted source).
    """
    check_int("last", last, 0, 0xFF)
    check_int("new", new, 0, 0xFF)
    d = (new - last) & 0xFF
    if d >= 0x80:
        d -= 0x100
    return -20 < d <= 0


# --------------------------------------------------------------------------------------------
# Decoding


def _need(buf: bytes, end: int, field: str, offset: int) -> None:
    if len(buf) < end:
        raise SacnError(
            f"datagram truncated: {field} at offset {offset} needs {end} bytes, got {len(buf)}"
        )


def _u16(buf: bytes, offset: int) -> int:
    return (buf[offset] << 8) | buf[offset + 1]


def _u32(buf: bytes, offset: int) -> int:
    return int.from_bytes(buf[offset : offset + 4], "big")


def _check_flags_length(buf: bytes, offset: int, layer: str) -> None:
    _need(buf, offset + 2, f"{layer} flags & length", offset)
    word = _u16(buf, offset)
    flags, length = word >> 12, word & 0x0FFF
    if flags != 0x7:
        raise SacnError(f"{layer} flags 0x{flags:x} at offset {offset}, expected 0x7")
    expected = len(buf) - offset
    if length != expected:
        raise SacnError(
            f"{layer} length {length} at offset {offset} does not match the datagram "
            f"(expected {expected} = {len(buf)} bytes - {offset})"
        )


def _decode_source_name(buf: bytes) -> str:
    field = buf[SOURCE_NAME_OFFSET : SOURCE_NAME_OFFSET + SOURCE_NAME_SIZE]
    end = field.find(b"\0")
    if end < 0:
        raise SacnError(f"source name at offset {SOURCE_NAME_OFFSET} is not NUL-terminated")
    try:
        return field[:end].decode("utf-8")
    except UnicodeDecodeError as exc:
        raise SacnError(f"source name at offset {SOURCE_NAME_OFFSET} is not UTF-8: {exc}") from None


def _decode_universe(buf: bytes, offset: int, field: str) -> int:
    value = _u16(buf, offset)
    if not MIN_UNIVERSE <= value <= MAX_UNIVERSE:
        raise SacnError(
            f"{field} {value} at offset {offset} out of range {MIN_UNIVERSE}..{MAX_UNIVERSE}"
        )
    return value


def decode_sacn(datagram: bytes | bytearray | memoryview) -> SacnData | SacnSync | SacnDiscovery:
    """Decode one UDP payload received on port 5568; raise `SacnError` if anything is wrong."""
    buf = to_bytes("datagram", datagram)
    _need(buf, 2, "preamble size", 0)
    if (value := _u16(buf, 0)) != PREAMBLE_SIZE:
        raise SacnError(f"preamble size 0x{value:04x} at offset 0, expected 0x0010")
    _need(buf, 4, "post-amble size", 2)
    if (value := _u16(buf, 2)) != POSTAMBLE_SIZE:
        raise SacnError(f"post-amble size 0x{value:04x} at offset 2, expected 0x0000")
    _need(buf, 16, "ACN packet identifier", 4)
    if buf[4:16] != ACN_IDENTIFIER:
        raise SacnError(f"ACN packet identifier {buf[4:16]!r} at offset 4, expected 'ASC-E1.17'")
    _check_flags_length(buf, ROOT_FLAGS_LENGTH_OFFSET, "root layer")
    _need(buf, 22, "root vector", 18)
    root_vector = _u32(buf, 18)
    if root_vector not in (VECTOR_ROOT_E131_DATA, VECTOR_ROOT_E131_EXTENDED):
        raise SacnError(f"root vector 0x{root_vector:08x} at offset 18, expected 0x4 or 0x8")
    _need(buf, 38, "CID", CID_OFFSET)
    cid = buf[CID_OFFSET:38]
    _check_flags_length(buf, FRAMING_FLAGS_LENGTH_OFFSET, "framing layer")
    _need(buf, 44, "framing vector", 40)
    framing_vector = _u32(buf, 40)
    if root_vector == VECTOR_ROOT_E131_DATA:
        if framing_vector != VECTOR_E131_DATA_PACKET:
            raise SacnError(
                f"framing vector 0x{framing_vector:08x} at offset 40, expected 0x2 (data packet)"
            )
        return _decode_data(buf, cid)
    if framing_vector == VECTOR_E131_EXTENDED_SYNCHRONIZATION:
        return _decode_sync(buf, cid)
    if framing_vector == VECTOR_E131_EXTENDED_DISCOVERY:
        return _decode_discovery(buf, cid)
    raise SacnError(
        f"framing vector 0x{framing_vector:08x} at offset 40, expected 0x1 (sync) or "
        "0x2 (discovery) after root vector 0x8"
    )


def _decode_data(buf: bytes, cid: bytes) -> SacnData:
    _need(buf, DATA_HEADER_SIZE, "data packet header", 44)
    source_name = _decode_source_name(buf)
    priority = buf[PRIORITY_OFFSET]
    if priority > MAX_PRIORITY:
        raise SacnError(f"priority {priority} at offset {PRIORITY_OFFSET} out of range 0..200")
    sync_address = _u16(buf, SYNC_ADDRESS_OFFSET)
    if sync_address > MAX_UNIVERSE:
        raise SacnError(
            f"synchronization address {sync_address} at offset {SYNC_ADDRESS_OFFSET} out of "
            f"range 0..{MAX_UNIVERSE}"
        )
    options = buf[OPTIONS_OFFSET]
    universe = _decode_universe(buf, UNIVERSE_OFFSET, "universe")
    _check_flags_length(buf, DMP_FLAGS_LENGTH_OFFSET, "DMP layer")
    if buf[117] != VECTOR_DMP_SET_PROPERTY:
        raise SacnError(f"DMP vector 0x{buf[117]:02x} at offset 117, expected 0x02")
    if buf[118] != DMP_ADDRESS_DATA_TYPE:
        raise SacnError(f"DMP address & data type 0x{buf[118]:02x} at offset 118, expected 0xa1")
    if (value := _u16(buf, 119)) != 0:
        raise SacnError(f"DMP first property address {value} at offset 119, expected 0")
    if (value := _u16(buf, 121)) != 1:
        raise SacnError(f"DMP address increment {value} at offset 121, expected 1")
    count = _u16(buf, PROPERTY_COUNT_OFFSET)
    expected = len(buf) - START_CODE_OFFSET
    if count != expected:
        raise SacnError(
            f"DMP property value count {count} at offset {PROPERTY_COUNT_OFFSET} does not match "
            f"the datagram (expected {expected})"
        )
    if not 1 <= count <= MAX_SLOTS + 1:
        raise SacnError(
            f"DMP property value count {count} at offset {PROPERTY_COUNT_OFFSET} out of "
            f"range 1..{MAX_SLOTS + 1}"
        )
    return DataPacket(
        cid=cid,
        source_name=source_name,
        universe=universe,
        data=buf[DATA_OFFSET:],
        priority=priority,
        sequence=buf[SEQUENCE_OFFSET],
        sync_address=sync_address,
        preview=bool(options & OPTION_PREVIEW),
        stream_terminated=bool(options & OPTION_STREAM_TERMINATED),
        force_sync=bool(options & OPTION_FORCE_SYNC),
        start_code=buf[START_CODE_OFFSET],
    )


def _decode_sync(buf: bytes, cid: bytes) -> SacnSync:
    _need(buf, SYNC_PACKET_SIZE, "sync packet", 44)
    # The framing length check already pinned the datagram to exactly 49 bytes.
    sync_address = _decode_universe(buf, SYNC_ADDRESS_SYNC_OFFSET, "synchronization address")
    return SyncPacket(cid=cid, sync_address=sync_address, sequence=buf[SYNC_SEQUENCE_OFFSET])


def _decode_discovery(buf: bytes, cid: bytes) -> SacnDiscovery:
    _need(buf, DISCOVERY_HEADER_SIZE, "discovery packet header", 44)
    source_name = _decode_source_name(buf)
    _check_flags_length(buf, DISCOVERY_FLAGS_LENGTH_OFFSET, "universe discovery layer")
    if (vector := _u32(buf, 114)) != VECTOR_UNIVERSE_DISCOVERY_UNIVERSE_LIST:
        raise SacnError(f"universe discovery vector 0x{vector:08x} at offset 114, expected 0x1")
    page, last_page = buf[118], buf[119]
    if page > last_page:
        raise SacnError(f"page {page} at offset 118 is after last page {last_page}")
    body = len(buf) - DISCOVERY_HEADER_SIZE
    if body % 2:
        raise SacnError(f"universe list at offset 120 has an odd length {body}")
    if body // 2 > DISCOVERY_UNIVERSES_PER_PAGE:
        raise SacnError(
            f"universe list at offset 120 holds {body // 2} universes, at most "
            f"{DISCOVERY_UNIVERSES_PER_PAGE} allowed"
        )
    universes: list[int] = []
    for offset in range(DISCOVERY_HEADER_SIZE, len(buf), 2):
        universe = _decode_universe(buf, offset, "listed universe")
        if universes and universe <= universes[-1]:
            raise SacnError(
                f"universe list not ascending: {universe} at offset {offset} follows "
                f"{universes[-1]}"
            )
        universes.append(universe)
    return DiscoveryPacket(cid, source_name, tuple(universes), page, last_page)
