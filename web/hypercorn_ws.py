"""Close the connection after Hypercorn refuses a malformed WebSocket upgrade.

Hypercorn (0.18) answers an upgrade it cannot accept (no `Sec-WebSocket-Key`, a wrong
version, an unknown server name) with 400/404 and `connection: close`, then marks its
stream closed without telling the connection (no `StreamClosed`), so the connection waits
for an event that never comes and stays open: one peer can hold as many sockets as it opens.
The refusal happens before the ASGI app is called, so no middleware can see it; the one fix
is here: once the stream has refused (closed, with no app started), it ends itself, and
Hypercorn closes the connection as it does after any `connection: close` response.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Final

from hypercorn.protocol.events import Body, Data, Event, Request, StreamClosed
from hypercorn.protocol.ws_stream import WSStream

__all__ = ["install"]

_MARK: Final = "_trocadero_closes_refused"


def install() -> None:
    """Patch `WSStream.handle` (once per process; later calls do nothing)."""
    original: Callable[[WSStream, Event], Awaitable[None]] = WSStream.handle
    if getattr(original, _MARK, False):
        return

    async def handle(self: WSStream, event: Event) -> None:
        was_closed = self.closed
        await original(self, event)
        refused = not was_closed and self.closed and self.app_put is None
        if refused and isinstance(event, Request | Body | Data):
            await self.send(StreamClosed(stream_id=self.stream_id))

    setattr(handle, _MARK, True)
    WSStream.handle = handle  # type: ignore[method-assign]
