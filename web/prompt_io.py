"""Hypercorn's request I/O without idle rounds of the event loop.

A Trio primitive yields to the scheduler even when it has nothing to wait for: an uncontended
`Lock.acquire` and a `MemoryReceiveChannel.receive` with a message already queued each cost a
full round of the loop, and a round lasts as long as everything else that is runnable then.
Traced under the issue-14 load (50 pollers, 10 preview clients), a REST verb's handler task
took 11 such rounds before its reply reached the socket, most of them for nothing: two
receives of a body already queued, and before each of the reply's two writes (headers, body)
the connection's send lock, which was free, and after each write. Every round is a chance to
queue behind a poll.

Both fixes keep the semantics: the lock is still taken when it is free and waited for when it
is not (a WebSocket's writes and a reply on the same connection still never interleave);
a message is still received in order, and a receive with nothing queued still waits; a write
the kernel cannot take at once still waits in Trio's `send_all`. What goes is only the yield
when there was nothing to wait for. A handler still yields wherever it waits for anything.
"""

from __future__ import annotations

import socket
from collections.abc import Awaitable, Callable
from typing import Any, Final

import trio
from hypercorn.events import Closed, Event, RawData
from hypercorn.trio.tcp_server import TCPServer
from starlette.types import ASGIApp, Message, Receive, Scope, Send

__all__ = ["PromptReceive", "install"]

_MARK: Final = "_trocadero_prompt_send"


def install() -> None:
    """Patch `TCPServer.protocol_send` (once per process; later calls do nothing)."""
    original: Callable[[TCPServer, Event], Awaitable[None]] = TCPServer.protocol_send
    if getattr(original, _MARK, False):
        return

    async def protocol_send(self: TCPServer, event: Event) -> None:
        if not isinstance(event, RawData):
            await original(self, event)  # Closed, Updated: as Hypercorn does them
            return
        lock: trio.Lock = self.send_lock
        try:
            lock.acquire_nowait()  # free: taken without a round of the loop
        except trio.WouldBlock:
            await lock.acquire()  # another task is writing: wait our turn
        try:
            try:
                data = event.data
                sent = _write_now(self.stream, data)
                if sent < len(data):
                    with trio.CancelScope(shield=True):
                        await self.stream.send_all(memoryview(data)[sent:])
            except (trio.BrokenResourceError, trio.ClosedResourceError):
                await self.protocol.handle(Closed())
        finally:
            lock.release()

    setattr(protocol_send, _MARK, True)
    TCPServer.protocol_send = protocol_send  # type: ignore[method-assign]


def _write_now(stream: object, data: bytes) -> int:
    """How much of `data` the kernel took at once: a plain TCP stream's write without the
    round of the loop Trio's `send_all` takes after it (TLS and empty writes: 0, the caller
    sends them as usual). We hold the connection's send lock, so no other write interleaves."""
    if type(stream) is not trio.SocketStream or not data:
        return 0
    # The stdlib socket under Trio's (non-blocking already); MSG_NOSIGNAL: a peer gone is an
    # error here, never a SIGPIPE for the whole process.
    sock = getattr(stream.socket, "_sock", None)
    if not isinstance(sock, socket.socket):
        return 0
    try:
        return sock.send(data, socket.MSG_NOSIGNAL)
    except BlockingIOError:
        return 0  # the socket buffer is full: wait for it in send_all
    except OSError as exc:  # reset, broken pipe, closed
        raise trio.BrokenResourceError(f"socket write: {exc}") from exc


class PromptReceive:
    """Outermost ASGI layer: a request message already queued is taken at once.

    Hypercorn hands the app `MemoryReceiveChannel.receive` of the request's channel; when the
    channel is anything else (another server, a test client) the app's `receive` is used as
    given.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        channel: Any = getattr(receive, "__self__", None)
        if scope["type"] != "http" or not isinstance(channel, trio.MemoryReceiveChannel):
            await self.app(scope, receive, send)
            return

        async def prompt() -> Message:
            try:
                message: Message = channel.receive_nowait()
            except trio.WouldBlock:
                message = await receive()
            return message

        await self.app(scope, prompt, send)
