"""Receive sACN with our own input receiver and merge (`playout.inputs`), then report the merge.

Runs inside the namespace (from the repository root): `serve_sacn_input` for one universe,
joined on `--interface`, until the merge is active with at least `--sources` live sources (or
`--timeout` passes), then prints one JSON line: the first `--slots` merged slots, the live
sources, the winning priority, the merger's counters and the receiver's status.

Usage::

    python -m tests.interop.merge_receiver --universe 2 --interface 10.99.0.2 --sources 2
"""

from __future__ import annotations

import argparse
import json
import math
from typing import Any

import trio

from trocadero.config.inputs import InputConfig
from trocadero.playout.inputs import InputUniverses, ReceiverStatus, serve_sacn_input

POLL_S = 0.05


async def receive(args: argparse.Namespace) -> dict[str, Any]:
    config = InputConfig(
        protocol="sacn",
        universes=(args.universe,),
        bind_address="0.0.0.0",
        interface_address=args.interface,
    )
    inputs = InputUniverses([config])
    timed_out = True
    async with trio.open_nursery() as nursery:
        status: ReceiverStatus = await nursery.start(serve_sacn_input, config, inputs)
        with trio.move_on_after(args.timeout):
            while True:
                result = inputs.get(args.universe)
                if result.active and len(result.sources) >= args.sources:
                    timed_out = False
                    break
                await trio.sleep(POLL_S)
        nursery.cancel_scope.cancel()
    result = inputs.get(args.universe)
    return {
        "timed_out": timed_out,
        "active": result.active,
        "slots": list(result.slots[: args.slots]),
        "winning_priority": result.winning_priority,
        "sources": [
            {
                "name": s.name,
                "cid": s.source_id,
                "address": s.address,
                "priority": s.priority,
                "contributing": s.contributing,
                "slot_count": s.slot_count,
                "packets": s.packets,
            }
            for s in result.sources
        ],
        "counters": inputs.merger(args.universe).counters.as_dict(),
        "receiver": {
            "state": status.state,
            "healthy": status.healthy,
            "datagrams": status.datagrams,
            "malformed": status.malformed,
            "groups_joined": status.groups_joined,
            "groups_failed": status.groups_failed,
        },
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--universe", type=int, required=True)
    parser.add_argument("--interface", required=True, help="address joining the group")
    parser.add_argument("--sources", type=int, default=1, help="live sources to wait for")
    parser.add_argument("--slots", type=int, default=3, help="merged slots reported")
    parser.add_argument("--timeout", type=float, default=10.0, help="longest wait (s)")
    args = parser.parse_args()
    if not math.isfinite(args.timeout) or args.timeout <= 0:
        parser.error("--timeout must be a positive number of seconds")
    report = trio.run(receive, args)
    print(json.dumps(report), flush=True)


if __name__ == "__main__":
    main()
