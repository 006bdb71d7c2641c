"""Session fixtures: the private network namespace and olad running in it, ports patched."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from .netns import NetNs, network_namespace
from .olad import ARTNET_DEVICE, E131_DEVICE, Olad, running_olad
from .scenario import OLA_ARTNET_UNIVERSE, OLA_SACN_OUTPUT_UNIVERSE, SACN_UNIVERSES

# E1.31 output port olad sends `OLA_SACN_OUTPUT_UNIVERSE` from (inputs use 0..2).
E131_OUTPUT_PORT = 3


@pytest.fixture(scope="session")
def netns() -> Iterator[NetNs]:
    """`trocadero-<pid>` with the veth pair v0/v1; deleted at the end of the session."""
    with network_namespace() as ns:
        yield ns


@pytest.fixture(scope="session")
def olad(netns: NetNs) -> Iterator[Olad]:
    """olad in the namespace: E1.31 inputs patched to `SACN_UNIVERSES`, Art-Net input 0 to
    `OLA_ARTNET_UNIVERSE` (Port-Address 0x123), E1.31 output 3 to `OLA_SACN_OUTPUT_UNIVERSE`."""
    with running_olad(netns) as daemon:
        for port, universe in enumerate(SACN_UNIVERSES):
            daemon.patch(E131_DEVICE, port, universe, input=True)
        daemon.patch(ARTNET_DEVICE, 0, OLA_ARTNET_UNIVERSE, input=True)
        daemon.patch(E131_DEVICE, E131_OUTPUT_PORT, OLA_SACN_OUTPUT_UNIVERSE, input=False)
        yield daemon
