#!/usr/bin/env python3
"""Example show script: a celebration on the facade and canopy, then back to the running cue.

    TROCADERO_SOCKET=/run/trocadero/control.sock python3 celebrate.py --duration 30

It puts the "celebration" look over whatever plays (a scripted override with a TTL, so it
lets go by itself even if this script dies), flashes the canopy white at the peak with a
short second override of higher priority, waits, and reports.
"""

from __future__ import annotations

import argparse
import time

from trocadero.client import Client, ScriptError


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=float, default=30.0, help="seconds of celebration")
    parser.add_argument("--look", default="celebration")
    args = parser.parse_args()
    with Client() as show:
        try:
            moment = show.call(
                "celebrate", look=args.look, duration_s=args.duration, fade_in=0.5, fade_out=2.0
            )
        except ScriptError as exc:
            print(f"cannot celebrate: {exc.code}: {exc.message}")
            return 1
        print(f"celebrating on {', '.join(moment['canvases'])} for {args.duration:g} s")
        time.sleep(args.duration / 2)
        flash = show.override(
            {"canopy": {"rgb": [65535, 65535, 65535]}}, ttl=0.5, priority=200, fade_out=0.3
        )
        print(f"flash {flash['id']}")
        time.sleep(args.duration / 2)
        deadline = time.monotonic() + 2.0 + 5.0  # the fade out, and some slack
        while any(o["id"] == moment["override"] for o in show.status()["overrides"]):
            if time.monotonic() > deadline:
                print("the celebration did not let go")
                return 1
            time.sleep(0.2)
        print("celebration over")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
