"""What the interop senders publish and where: shared by the tests and the sender scripts.

The layout follows the verified olad recipe (reference: lighting-protocols.md §2.1): olad and
our senders share one network namespace; both bind 10.99.0.1 on ``v0``, whose multicast the
kernel loops back to local members. ``v1`` (10.99.0.2) is the far end of the veth pair, where
our receiver listens for what olad sends (see `netns` for why that needs ``accept_local``).
"""

from __future__ import annotations

import uuid

from trocadero.protocols import artnet

OLAD_INTERFACE = "v0"
OLAD_ADDRESS = "10.99.0.1"
PEER_INTERFACE = "v1"
PEER_ADDRESS = "10.99.0.2"

RATE_HZ = 44.0
SLOTS = 512

# sACN universes we send (OLA's universe ids equal the E1.31 universe numbers).
SACN_UNIVERSES = (1, 300, 1001)
# Art-Net: Net 1, Sub-Net 2, Universe 3 -> Port-Address 0x123.
ARTNET_NET, ARTNET_SUBNET, ARTNET_UNIVERSE = 1, 2, 3
ARTNET_PORT_ADDRESS = artnet.port_address(ARTNET_NET, ARTNET_SUBNET, ARTNET_UNIVERSE)
# OLA's Art-Net port takes Net and Sub-Net from ola-artnet.conf and the low nibble of the
# Port-Address from the OLA universe id it is patched to (id % 16): 4003 % 16 == 3.
OLA_ARTNET_UNIVERSE = 4003
# olad sends this universe as sACN (an E1.31 output port patched to it).
OLA_SACN_OUTPUT_UNIVERSE = 2

# Frame layout of the native sender: frame universe i = frame[i * 512 : (i + 1) * 512].
SACN_FRAME_INDEXES = tuple(range(len(SACN_UNIVERSES)))
ARTNET_FRAME_INDEX = len(SACN_UNIVERSES)
FRAME_UNIVERSES = len(SACN_UNIVERSES) + 1

PYTHON_CID = uuid.UUID("5f0a6c0e-8e4b-4d2a-9a57-1c1b7e0d2a01").bytes
NATIVE_CID = uuid.UUID("5f0a6c0e-8e4b-4d2a-9a57-1c1b7e0d2a02").bytes
PYTHON_SOURCE_NAME = "Trocadero interop (Python)"
NATIVE_SOURCE_NAME = "Trocadero interop (native)"


def slot_values(key: int, seed: int) -> bytes:
    """512 slots that differ per universe (`key`: sACN universe or Port-Address) and run."""
    return bytes((i * 7 + key + seed) & 0xFF for i in range(SLOTS))


def frame(seed: int) -> bytes:
    """The native sender's whole frame: every universe's `slot_values` at its frame index."""
    keys = [*SACN_UNIVERSES, ARTNET_PORT_ADDRESS]
    return b"".join(slot_values(key, seed) for key in keys)
