"""Send the interop scenario with plain Python sockets and our sans-IO builders.

sACN: multicast to each universe's group, IP_MULTICAST_IF = 10.99.0.1 (olad's interface; the
kernel loops the datagrams back to olad). Art-Net: ArtDmx unicast to 10.99.0.1:6454. At 44 Hz,
each packet built afresh; on exit three stream-terminated sACN packets per universe.

Usage (inside the namespace, from the repository root)::

    python -m tests.interop.sender_python --seed 0 --seconds 30 < /dev/null
"""

from __future__ import annotations

import json
import socket
import time

from trocadero.protocols import artnet, sacn

from .scenario import (
    ARTNET_PORT_ADDRESS,
    OLAD_ADDRESS,
    PYTHON_CID,
    PYTHON_SOURCE_NAME,
    RATE_HZ,
    SACN_UNIVERSES,
    slot_values,
)
from .sender_common import parse_args, stop_on_stdin_eof


def main() -> None:
    args = parse_args(__doc__ or "")
    stop = stop_on_stdin_eof()
    sacn_sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sacn_sock.bind((OLAD_ADDRESS, 0))
    sacn_sock.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_IF, socket.inet_aton(OLAD_ADDRESS))
    sacn_sock.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_TTL, 1)
    art_sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    art_sock.bind((OLAD_ADDRESS, 0))

    values = {u: slot_values(u, args.seed) for u in SACN_UNIVERSES}
    art_values = slot_values(ARTNET_PORT_ADDRESS, args.seed)
    sequences = dict.fromkeys(SACN_UNIVERSES, 0)
    art_sequence = 1
    sent = {"sacn": 0, "artnet": 0}

    def send_sacn(terminated: bool = False) -> None:
        for universe in SACN_UNIVERSES:
            packet = sacn.DataPacket(
                cid=PYTHON_CID,
                source_name=PYTHON_SOURCE_NAME,
                universe=universe,
                data=values[universe],
                priority=args.priority,
                sequence=sequences[universe],
                stream_terminated=terminated,
            )
            sacn_sock.sendto(packet.to_bytes(), (sacn.multicast_address(universe), sacn.SACN_PORT))
            sequences[universe] = sacn.next_sequence(sequences[universe])
            sent["sacn"] += 1

    period = 1.0 / RATE_HZ
    deadline = time.monotonic() + args.seconds
    next_frame = time.monotonic()
    while not stop.is_set() and time.monotonic() < deadline:
        send_sacn()
        packet = artnet.ArtDmx(ARTNET_PORT_ADDRESS, art_values, art_sequence)
        art_sock.sendto(packet.to_bytes(), (OLAD_ADDRESS, artnet.ARTNET_PORT))
        art_sequence = artnet.next_sequence(art_sequence)
        sent["artnet"] += 1
        next_frame += period
        stop.wait(max(0.0, next_frame - time.monotonic()))
    for _ in range(3):
        send_sacn(terminated=True)
    print(json.dumps({"packets_sent": sent}), flush=True)


if __name__ == "__main__":
    main()
