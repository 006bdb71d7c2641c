"""A minimal classic-pcap writer for feeding our packets to tshark (Ethernet/IPv4/UDP)."""

from __future__ import annotations

import struct
from collections.abc import Iterable
from pathlib import Path

SRC_MAC = bytes.fromhex("020000000001")
DST_MAC = bytes.fromhex("020000000002")


def ipv4_checksum(header: bytes) -> int:
    total = sum((header[i] << 8) | header[i + 1] for i in range(0, len(header), 2))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF


def udp_frame(payload: bytes, src: str, dst: str, sport: int, dport: int) -> bytes:
    """Ethernet II + IPv4 (checksummed, no options) + UDP (checksum 0 = none) + payload."""
    udp = struct.pack("!HHHH", sport, dport, 8 + len(payload), 0) + payload
    src_ip = bytes(int(x) for x in src.split("."))
    dst_ip = bytes(int(x) for x in dst.split("."))
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), 0, 0x4000, 64, 17, 0, src_ip, dst_ip)
    ip = ip[:10] + struct.pack("!H", ipv4_checksum(ip)) + ip[12:]
    return DST_MAC + SRC_MAC + b"\x08\x00" + ip + udp


def write_pcap(path: Path, frames: Iterable[bytes]) -> None:
    """Classic pcap, microsecond timestamps, LINKTYPE_ETHERNET; one frame per millisecond."""
    out = bytearray(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1))
    for i, frame in enumerate(frames):
        out += struct.pack("<IIII", 1_700_000_000, i * 1000, len(frame), len(frame)) + frame
    path.write_bytes(bytes(out))
