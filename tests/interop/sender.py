"""Send the interop scenario from the native output thread (`trocadero_rt.FrameClock`).

One 44 Hz clock, one published frame (four universes), two outputs: sACN multicast for the
universes in `scenario.SACN_UNIVERSES` bound to 10.99.0.1 (IP_MULTICAST_IF; with `--interface`
also SO_BINDTODEVICE), and Art-Net unicast to 10.99.0.1 for Port-Address 0x123. On exit it
prints the clock's and both outputs' counters as JSON.

Usage (inside the namespace, from the repository root)::

    python -m tests.interop.sender --seed 5 --priority 120 --seconds 30 < /dev/null
"""

from __future__ import annotations

import json
from typing import Any

import trocadero_rt

from .scenario import (
    ARTNET_FRAME_INDEX,
    ARTNET_PORT_ADDRESS,
    FRAME_UNIVERSES,
    NATIVE_CID,
    NATIVE_SOURCE_NAME,
    OLAD_ADDRESS,
    RATE_HZ,
    SACN_FRAME_INDEXES,
    SACN_UNIVERSES,
    SLOTS,
    frame,
)
from .sender_common import parse_args, stop_on_stdin_eof


def output_counters(stats: trocadero_rt.OutputStats) -> dict[str, Any]:
    return {
        "protocol": stats.protocol,
        "universes": stats.universes,
        "packets_sent": stats.packets_sent,
        "frames_sent": stats.frames_sent,
        "send_errors": stats.send_errors,
        "drops": stats.drops,
        "state": stats.state,
        "last_error": stats.last_error,
    }


def main() -> None:
    args = parse_args(__doc__ or "")
    stop = stop_on_stdin_eof()
    clock = trocadero_rt.FrameClock(RATE_HZ, FRAME_UNIVERSES * SLOTS)
    sacn_id = clock.add_output(
        protocol="sacn",
        universes=list(zip(SACN_FRAME_INDEXES, SACN_UNIVERSES, strict=True)),
        cid=NATIVE_CID,
        bind_address=OLAD_ADDRESS,
        interface=args.interface,
        multicast_ttl=1,
        priority=args.priority,
        source_name=NATIVE_SOURCE_NAME,
    )
    artnet_id = clock.add_output(
        protocol="artnet",
        universes=[(ARTNET_FRAME_INDEX, ARTNET_PORT_ADDRESS)],
        cid=NATIVE_CID,
        destinations=[OLAD_ADDRESS],
        bind_address=OLAD_ADDRESS,
    )
    clock.publish(frame(args.seed))
    clock.start()
    try:
        stop.wait(args.seconds)
    finally:
        clock.stop()
    stats = clock.stats()
    report = {
        "frames_sent": stats.frames_sent,
        "missed_deadlines": stats.missed_deadlines,
        "sacn": output_counters(clock.output_stats(sacn_id)),
        "artnet": output_counters(clock.output_stats(artnet_id)),
    }
    print(json.dumps(report), flush=True)


if __name__ == "__main__":
    main()
