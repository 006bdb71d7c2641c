"""The MDVR gateway in a process of its own: the daemon's handle (parent.py), the process
(child.py) and the messages between them (wire.py)."""

from .parent import GatewayProcess, GatewayProcessLost, GatewayProcessStatistics

__all__ = ["GatewayProcess", "GatewayProcessLost", "GatewayProcessStatistics"]
