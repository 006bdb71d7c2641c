"""Processes the interop tests run inside the namespace: our senders and a live tshark."""

from __future__ import annotations

import json
import os
import selectors
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import pytest

from ..protocols.helpers import require_tshark
from .netns import REPO, NetNs, stop_process_group


class SenderRun:
    """A running sender script (`sender` or `sender_python`)."""

    def __init__(self, name: str, proc: subprocess.Popen[str]) -> None:
        self.name = name
        self.proc = proc

    def assert_running(self) -> None:
        if self.proc.poll() is not None:
            _, err = self.proc.communicate(timeout=5)
            pytest.fail(f"{self.name} exited early with {self.proc.returncode}:\n{err}")

    def finish(self, timeout: float = 15) -> dict[str, Any]:
        """Close its stdin (it stops), wait, and return the JSON statistics it printed."""
        try:
            out, err = self.proc.communicate(input="", timeout=timeout)
        except subprocess.TimeoutExpired:
            pytest.fail(f"{self.name} did not stop within {timeout} s after stdin closed")
        if self.proc.returncode != 0:
            pytest.fail(f"{self.name} exited with {self.proc.returncode}:\n{err}")
        lines = out.strip().splitlines()
        if not lines:
            pytest.fail(f"{self.name} printed no statistics:\n{err}")
        report: dict[str, Any] = json.loads(lines[-1])
        return report


@contextmanager
def sender(ns: NetNs, module: str, *args: str) -> Iterator[SenderRun]:
    """Run `python -m tests.interop.<module> args` inside `ns`; always stopped afterwards."""
    proc = subprocess.Popen(
        ns.cmd(sys.executable, "-m", f"tests.interop.{module}", *args),
        cwd=REPO,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        yield SenderRun(module, proc)
    finally:
        stop_process_group(proc)


class Capture:
    """A live tshark capture printing `-T fields` rows, one line per packet, as they come.

    tshark (dumpcap) reads the kernel's capture ring in blocks and does not drain it when
    interrupted, so the last packets can be missing if it is stopped right after they were
    sent. `wait` reads rows until the caller has seen what it expects; only then `stop`.
    """

    def __init__(self, proc: subprocess.Popen[bytes], fields: Sequence[str]) -> None:
        self.proc = proc
        self.fields = list(fields)
        self.rows: list[dict[str, str]] = []
        self._partial = b""

    def _take(self, data: bytes) -> None:
        lines = (self._partial + data).split(b"\n")
        self._partial = lines.pop()
        for line in lines:
            values = line.decode(errors="replace").split("\t")
            self.rows.append(dict(zip(self.fields, values, strict=True)))

    def wait(self, until: Callable[[list[dict[str, str]]], bool], timeout: float) -> None:
        """Read rows until `until(rows)` holds or `timeout` passes (the caller then asserts)."""
        assert self.proc.stdout is not None
        fd = self.proc.stdout.fileno()
        end = time.monotonic() + timeout
        with selectors.DefaultSelector() as selector:
            selector.register(fd, selectors.EVENT_READ)
            while not until(self.rows) and (left := end - time.monotonic()) > 0:
                if selector.select(left):
                    chunk = os.read(fd, 1 << 16)
                    if not chunk:
                        return
                    self._take(chunk)

    def stop(self, timeout: float = 20) -> list[dict[str, str]]:
        """SIGINT tshark (it flushes its output and exits) and return every row."""
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGINT)
        try:
            out, err = self.proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            pytest.fail(f"tshark did not stop within {timeout} s")
        if self.proc.returncode not in (0, -signal.SIGINT):
            pytest.fail(
                f"tshark exited with {self.proc.returncode}:\n{err.decode(errors='replace')}"
            )
        self._take(out)
        if self._partial:
            self._take(b"\n")
        return self.rows


@contextmanager
def tshark_capture(
    ns: NetNs,
    interfaces: Sequence[str],
    capture_filter: str,
    display_filter: str,
    fields: Sequence[str],
    options: Sequence[str] = (),
    start_timeout: float = 20,
) -> Iterator[Capture]:
    """Start tshark inside `ns` and return once it is capturing; always stopped afterwards."""
    argv = [require_tshark(), "-n", "-l", "-a", "duration:60", "-f", capture_filter]
    for interface in interfaces:
        argv += ["-i", interface]
    argv += [*options, "-Y", display_filter, "-T", "fields", "-E", "separator=/t"]
    for name in fields:
        argv += ["-e", name]
    proc = subprocess.Popen(
        ns.cmd(*argv),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    try:
        _wait_capturing(proc, start_timeout)
        yield Capture(proc, fields)
    finally:
        stop_process_group(proc)


def _wait_capturing(proc: subprocess.Popen[bytes], timeout: float) -> None:
    """Read tshark's stderr until it reports "Capturing on …".

    Reads the raw descriptor (not the text wrapper), so nothing stays buffered where the later
    `communicate()` would not see it.
    """
    assert proc.stderr is not None
    fd = proc.stderr.fileno()
    seen = b""
    end = time.monotonic() + timeout
    with selectors.DefaultSelector() as selector:
        selector.register(fd, selectors.EVENT_READ)
        while (left := end - time.monotonic()) > 0:
            if not selector.select(left):
                continue
            chunk = os.read(fd, 4096)
            if not chunk:
                break
            seen += chunk
            if b"Capturing on" in seen:
                return
    pytest.fail(
        f"tshark did not start capturing within {timeout} s:\n{seen.decode(errors='replace')}"
    )
