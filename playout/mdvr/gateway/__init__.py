"""The MDVR gateway: signaling and media servers in the daemon's nursery.

Signaling (TCP): a device registers with V101 and is admitted only if its id is on the
allow-list (else C100 reason 2 and the link is closed; refusals are logged at most once per
interval per id). Every V101/V141/V142 and alarm is answered with the C100 CMSV6 sends; V109
and V114 get no reply. We send C501 at least every ``heartbeat_s`` (devices drop a link 90 s
after our last byte) and close a link that has been silent for ``offline_after_s``. A second
V101 for an id closes the older link. Positions go to a bounded queue and are written in
batches; re-sent cached positions and alarms are deduplicated by the store (device + time,
device + UID), and every alarm is acknowledged by UID, new or not.

Media (TCP): a connection must register a session we asked for (C508 live video, C702 file)
from the device we asked, before that session timed out; anything else gets 0x6000 failure
and is closed. Live video is decoded off-thread into the ``LiveFeeds`` it was given
(feeds.py, video.py) for the ``mdvr-live`` layer source; files are written and checked
(files.py), remuxed and thumbnailed.

Garbage policy (reference §9): a link is closed after 64 KiB of unframeable bytes or 16
rejected frames in a row; media packets are capped at 8 MiB (never buffered beyond one).

Its clocks are injected (`Clock`, clock.py): the default reads the real ones; a test gives a
controlled one. One job per module:

    core.py        MdvrGateway: composes the parts, serve(), the control plane's API
    context.py     what the parts share: config, adapters, clock, counters, links, sessions
    clock.py       Clock (monotonic(), now()) and the system clock
    limits.py      fixed limits and intervals
    listeners.py   TCP listeners, connection limits per address and in all
    allowlist.py   allowed ids, takeover rate limit
    session.py     one device's signaling session: register, reply, silence, offline
    link.py        a registered link: paced commands, C501 heartbeats
    positions.py   position checks, queue, batched writes, telemetry housekeeping
    alarms.py      alarms stored, announced, acknowledged; their files queued
    downloads.py   alarm file downloads: attempts, retries, the file's media connection
    media.py       the media server: solicited sessions only
    live.py        live video sessions
    health.py      the /healthz block
    fields.py      device text and fixes as we store them
"""

from .clock import SYSTEM_CLOCK, Clock, SystemClock
from .context import GatewayStats, PendingSession
from .core import MdvrGateway, gateway_file_dir
from .fields import plausible, stored_text
from .link import DeviceLink, DeviceOffline
from .live import LiveSession
from .positions import RecentKeys

__all__ = [
    "SYSTEM_CLOCK",
    "Clock",
    "DeviceLink",
    "DeviceOffline",
    "GatewayStats",
    "LiveSession",
    "MdvrGateway",
    "PendingSession",
    "RecentKeys",
    "SystemClock",
    "gateway_file_dir",
    "plausible",
    "stored_text",
]
