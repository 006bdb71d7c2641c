"""Command line and lifetime shared by the interop sender scripts (run inside the namespace).

A sender runs until its stdin reaches EOF or `--seconds` pass, then prints one JSON line of
statistics on stdout.
"""

from __future__ import annotations

import argparse
import sys
import threading


def parse_args(description: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--seed", type=int, default=0, help="added to every slot value")
    parser.add_argument("--priority", type=int, default=100, help="sACN priority")
    parser.add_argument("--seconds", type=float, default=30.0, help="longest run time")
    parser.add_argument("--interface", default=None, help="SO_BINDTODEVICE for sACN (native)")
    return parser.parse_args()


def stop_on_stdin_eof() -> threading.Event:
    """An event set when stdin reaches EOF (the test closed it)."""
    stop = threading.Event()

    def watch() -> None:
        sys.stdin.read()
        stop.set()

    threading.Thread(target=watch, name="stdin-eof", daemon=True).start()
    return stop
