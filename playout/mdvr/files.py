"""Alarm files from devices: 0x6102 blocks into a checked file, then MP4 + JPEG for video.

A download writes ``<dir>/<device>/<id>.part``. Blocks must arrive in order: one that repeats
bytes already written (a device resending after a stall) is trimmed, one that leaves a gap
ends the attempt. The end marker (length 0) must come at exactly the announced size. Only then
is the file fsynced and renamed to its final name, so a file under its final name is always
complete; an interrupted attempt keeps its ``.part`` and resumes from its length (C702 byte
range), and a download that gives up deletes it.
"""

from __future__ import annotations

import fractions
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import av

from trocadero.core import media
from trocadero.protocols.mdvr import FileBlock, sniff_video_codec


class TransferError(Exception):
    """The attempt cannot continue (gap, overrun, wrong size)."""


def safe_name(text: str) -> str:
    keep = "".join(c if c.isalnum() or c in "-_." else "_" for c in text)
    return keep.strip(".") or "file"


@dataclass
class PartialFile:
    """The ``.part`` file of one download; ``size`` the announced length (None: unknown)."""

    path: Path
    size: int | None

    def __post_init__(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._fd = os.open(self.path, os.O_WRONLY | os.O_CREAT, 0o640)
        self.received = os.lseek(self._fd, 0, os.SEEK_END)
        if self.size is not None and self.received > self.size:  # stale: start again
            os.ftruncate(self._fd, 0)
            self.received = 0

    def restart_at(self, offset: int) -> None:
        os.ftruncate(self._fd, offset)
        os.lseek(self._fd, offset, os.SEEK_SET)
        self.received = offset

    def write(self, block: FileBlock) -> bool:
        """Apply one block; True at the end marker (the file is then complete)."""
        if block.is_end:
            if self.size is not None and block.offset != self.size:
                raise TransferError(f"end at {block.offset}, announced size {self.size}")
            if block.offset != self.received:
                raise TransferError(f"end at {block.offset}, but {self.received} bytes received")
            return True
        data = block.data[: block.length]
        if len(data) != block.length:
            raise TransferError(f"block at {block.offset} is short ({len(data)}/{block.length})")
        start, end = block.offset, block.offset + len(data)
        if start > self.received:
            raise TransferError(f"gap: block at {start}, {self.received} bytes received")
        if end <= self.received:
            return False  # all of it already written
        data = data[self.received - start :]
        if self.size is not None and self.received + len(data) > self.size:
            raise TransferError(f"data beyond the announced size {self.size}")
        # Page-cache writes of one block are microseconds; the fsync happens off-thread.
        os.write(self._fd, data)
        self.received += len(data)
        return False

    def close(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1

    def finish(self, final: Path) -> None:
        """fsync, rename to ``final``, fsync the directory (blocking: run in a thread)."""
        os.fsync(self._fd)
        self.close()
        self.path.replace(final)
        dfd = os.open(final.parent, os.O_RDONLY)
        try:
            os.fsync(dfd)
        finally:
            os.close(dfd)


def _atomic(path: Path) -> Path:
    return path.with_name(path.name + ".tmp")


def _demuxer(source: Path) -> str | None:
    """Raw elementary streams have no container to probe reliably: sniff the first NAL."""
    with open(source, "rb") as f:
        head = f.read(4096)
    codec = sniff_video_codec(head)
    return {"h264": "h264", "h265": "hevc"}.get(codec or "")


def remux_to_mp4(source: Path, target: Path, *, fps: int = 25) -> int:
    """Raw Annex-B H.264/H.265 → MP4 without re-encoding; returns the packets written.
    Written to a temporary name, then renamed (blocking: run in a thread)."""
    tmp = _atomic(target)
    written = 0
    with av.open(str(source), format=_demuxer(source)) as src:
        vin = src.streams.video[0]
        with av.open(str(tmp), "w", format="mp4") as dst:
            vout: Any = dst.add_stream_from_template(vin)
            vout.time_base = fractions.Fraction(1, fps)
            pts = 0
            for packet in src.demux(vin):
                if packet.size == 0:
                    continue
                packet.stream = vout
                # Raw elementary streams carry no timestamps: one frame per packet at fps.
                packet.pts = packet.dts = pts
                packet.time_base = vout.time_base
                packet.duration = 1
                pts += 1
                dst.mux(packet)
                written += 1
    tmp.replace(target)
    return written


def make_thumbnail(source: Path, target: Path, *, max_width: int = 320) -> tuple[int, int]:
    """A JPEG of the first decodable picture, at most ``max_width`` wide (blocking)."""
    return media.make_thumbnail(source, target, max_width=max_width, demuxer=_demuxer(source))
