"""Shared helpers for the protocol tests: hex vectors and the tshark runner."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

TSHARK = "/usr/bin/tshark"


def hexbytes(*segments: str) -> bytes:
    """Join annotated hex segments (whitespace ignored) into bytes."""
    return bytes.fromhex("".join("".join(segments).split()))


def text_field(text: str, size: int, encoding: str = "utf-8") -> str:
    """Hex of `text` NUL-padded to `size` bytes (for readable vectors of name fields)."""
    raw = text.encode(encoding)
    assert len(raw) < size
    return raw.hex() + "00" * (size - len(raw))


def require_tshark() -> str:
    """Path to tshark, or a test failure explaining how to get it (never a silent skip)."""
    if not Path(TSHARK).exists() and shutil.which("tshark") is None:
        pytest.fail(
            "tshark is not installed: `./dev test` installs it (Debian package `tshark`); "
            "or run `apt-get install -y --no-install-recommends tshark`"
        )
    return TSHARK if Path(TSHARK).exists() else str(shutil.which("tshark"))


def tshark_fields(
    pcap: Path, fields: list[str], *options: str, display_filter: str | None = None
) -> list[list[str]]:
    """Run `tshark -r pcap -T fields -e …` and return one row of field values per packet."""
    tshark = require_tshark()
    cmd = [tshark, "-r", str(pcap), "-n", *options, "-T", "fields", "-E", "separator=/t"]
    if display_filter:
        cmd += ["-Y", display_filter]
    for field in fields:
        cmd += ["-e", field]
    result = subprocess.run(cmd, capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 0, result.stderr
    return [line.split("\t") for line in result.stdout.splitlines()]
