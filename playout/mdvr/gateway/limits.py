"""The gateway's fixed limits and intervals (the configurable ones are in ``MdvrConfig``)."""

from __future__ import annotations

from datetime import timedelta
from typing import Final

SEND_TIMEOUT_S: Final = 10.0
COMMAND_SPACING_S: Final = 0.15  # net libraries before 6.1.26 read one command per recv (§9)
MAX_GARBAGE: Final = 64 * 1024
MAX_REJECTED: Final = 16
MAX_MEDIA_PAYLOAD: Final = 8 * 1024 * 1024
POSITION_QUEUE: Final = 100_000
RECENT_KEYS: Final = 512  # per link: recently seen alarm UIDs / command acks (event dedupe)
# Per device: the report times of the last positions announced. A re-sent report (the device
# missed our ack and sends its cache again) comes within a few reports; 64 covers a minute at
# 1/s. It is kept for every device that ever reported: 512 times cost ~35 KiB each, 70 MiB
# for 2,000 vehicles (seen as RSS growing for 8 minutes in the soak); 64 cost ~5 KiB.
RECENT_POSITIONS: Final = 64
HOUSEKEEPING_S: Final = 3600.0
BACKFILL_AGE_S: Final = 120.0  # older positions are flagged as backfill, not live
FUTURE_SLACK: Final = timedelta(days=2)
RETRY_DELAY_S: Final = 1.0
READ_SIZE: Final = 65536
REPLACEMENT_WINDOW_S: Final = 60.0
EDGE_LOG_KEYS: Final = 10_000  # refusals remembered for log throttling, then forgotten
