#!/usr/bin/env python3
"""Example show script: the stairs follow the hall's presence sensor.

    python3 presence_watch.py --sensor hall-presence --threshold 1

Subscribes to `sensor:data`; when the sensor reports people (`people` ≥ threshold) it parks
the stairs on a warm white, and releases the park when the hall is empty again. A sensor
gateway posts readings with `trocadero ctl call sensor sensor=hall-presence
'values={"people": 3}'` or `POST /api/sensors/hall-presence`.
"""

from __future__ import annotations

import argparse

from trocadero.client import Client


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sensor", default="hall-presence")
    parser.add_argument("--threshold", type=float, default=1.0)
    parser.add_argument("--canvas", default="stairs")
    args = parser.parse_args()
    occupied = False
    with Client() as events, Client() as show:
        for event in events.events(["sensor:data", "subscription:dropped"]):
            if event["event"] == "subscription:dropped":
                events.call("subscribe", topics=["sensor:data"])  # fell behind: go on
                continue
            data = event["data"]
            if data["sensor"] != args.sensor:
                continue
            now = float(data["values"].get("people", 0)) >= args.threshold
            if now and not occupied:
                show.call("park", canvas=args.canvas, rgb=[65535, 52000, 36000], fade=2.0)
            elif occupied and not now:
                show.call("unpark", canvas=args.canvas, fade=5.0)
            occupied = now
            print(f"{args.sensor}: {'occupied' if occupied else 'empty'}", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
