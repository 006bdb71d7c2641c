"""Hypercorn's I/O without idle rounds of the event loop (web/prompt_io.py): a reply the kernel
takes at once is written in the handler's own step, a queued request body is read without a
yield, and what must still wait (a full socket buffer, a busy send lock, an empty channel)
still does. Served by a real Hypercorn on a real socket."""

from __future__ import annotations

import socket
import struct
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import pytest
import trio
import trio.abc
from hypercorn.config import Config
from hypercorn.trio import serve

from tests.ports import free_port
from trocadero.web.prompt_io import PromptReceive, install

BIG = 16 * 1024 * 1024  # far beyond a loopback socket's buffer: the partial-write path


class Steps(trio.abc.Instrument):
    """How many times each task has been stepped (each step after the first follows a yield)."""

    def __init__(self) -> None:
        self.count: Counter[trio.lowlevel.Task] = Counter()

    def before_task_step(self, task: trio.lowlevel.Task) -> None:
        self.count[task] += 1


def _steps() -> Steps:
    steps = Steps()
    trio.lowlevel.add_instrument(steps)
    return steps


async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] == "lifespan":
        while True:
            kind = (await receive())["type"]
            await send({"type": kind + ".complete"})
            if kind == "lifespan.shutdown":
                return
    steps: Steps = APP_STATE["steps"]
    body = b""
    while True:
        message = await receive()
        body += message.get("body", b"")
        if not message.get("more_body"):
            break
    size = BIG if scope["path"] == "/big" else 64
    task = trio.lowlevel.current_task()
    before = steps.count[task]
    length = [(b"content-length", str(size).encode())]
    await send({"type": "http.response.start", "status": 200, "headers": length})
    await send({"type": "http.response.body", "body": b"x" * size, "more_body": True})
    APP_STATE["yields_while_replying"].append(steps.count[task] - before)
    # The end of the reply (Hypercorn's bookkeeping after the bytes: not counted).
    await send({"type": "http.response.body", "body": b""})


APP_STATE: dict[str, Any] = {}


@asynccontextmanager
async def server() -> AsyncIterator[int]:
    install()
    port = free_port()
    config = Config()
    config.bind = [f"127.0.0.1:{port}"]
    config.accesslog = None
    shutdown = trio.Event()
    APP_STATE.update(steps=_steps(), yields_while_replying=[])
    async with trio.open_nursery() as nursery:
        await nursery.start(
            lambda task_status: serve(
                PromptReceive(app),  # type: ignore[arg-type]
                config,
                shutdown_trigger=shutdown.wait,
                task_status=task_status,
            )
        )
        try:
            yield port
        finally:
            shutdown.set()


def _request(path: str, body: bytes = b"") -> bytes:
    return f"POST {path} HTTP/1.1\r\nHost: t\r\nContent-Length: {len(body)}\r\n\r\n".encode() + body


async def _exchange(port: int, request: bytes, expect: int) -> bytes:
    stream = await trio.open_tcp_stream("127.0.0.1", port)
    async with stream:
        await stream.send_all(request)
        got = b""
        while True:
            _, sep, rest = got.partition(b"\r\n\r\n")
            if sep and len(rest) >= expect:
                return rest
            chunk = await stream.receive_some(1 << 20)
            assert chunk, f"connection closed after {len(got)} bytes"
            got += chunk


async def test_a_small_reply_is_written_without_yielding() -> None:
    async with server() as port:
        for _ in range(5):
            assert await _exchange(port, _request("/small", b"{}"), 64) == b"x" * 64
    # Headers and body: both writes in the handler's own step (the send lock was free and
    # the kernel took the bytes). Without web/prompt_io.py each write waits a round or two.
    assert APP_STATE["yields_while_replying"] == [0] * 5


async def test_a_reply_larger_than_the_socket_buffer_arrives_whole() -> None:
    async with server() as port:
        stream = await trio.open_tcp_stream("127.0.0.1", port)
        async with stream:
            await stream.send_all(_request("/big"))
            await trio.sleep(0.2)  # let the server fill the socket buffer and wait on it
            got = b""
            while len(got.partition(b"\r\n\r\n")[2]) < BIG:
                chunk = await stream.receive_some(1 << 20)
                assert chunk
                got += chunk
        assert got.partition(b"\r\n\r\n")[2] == b"x" * BIG
    assert APP_STATE["yields_while_replying"][0] > 0  # it waited for the reader, as it must


async def test_a_peer_gone_mid_reply_costs_only_its_connection() -> None:
    async with server() as port:
        stream = await trio.open_tcp_stream("127.0.0.1", port)
        linger_now = struct.pack("ii", 1, 0)
        stream.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, linger_now)
        await stream.send_all(_request("/big"))
        assert await stream.receive_some(1000)
        await stream.aclose()  # RST while the server still has megabytes to write
        await trio.sleep(0.2)
        assert await _exchange(port, _request("/small"), 64) == b"x" * 64


async def test_prompt_receive_takes_a_queued_message_at_once_and_waits_for_one_not_yet_sent() -> (
    None
):
    steps = _steps()
    send_channel, receive_channel = trio.open_memory_channel[Any](4)
    seen: list[tuple[bytes, int]] = []

    async def inner(scope: Any, receive: Any, send: Any) -> None:
        task = trio.lowlevel.current_task()
        for _ in range(2):
            before = steps.count[task]
            message = await receive()
            seen.append((message["body"], steps.count[task] - before))

    send_channel.send_nowait({"type": "http.request", "body": b"queued", "more_body": True})
    async with trio.open_nursery() as nursery:
        nursery.start_soon(PromptReceive(inner), {"type": "http"}, receive_channel.receive, _unused)
        await trio.sleep(0.05)
        await send_channel.send({"type": "http.request", "body": b"later", "more_body": False})
    assert seen[0] == (b"queued", 0)  # no round of the loop for a message already there
    assert seen[1][0] == b"later"
    assert seen[1][1] >= 1  # nothing queued: it waited


async def _unused(message: Any) -> None:
    raise AssertionError(f"nothing is sent in this test: {message}")


@pytest.mark.parametrize("kind", ["websocket", "lifespan"])
async def test_other_scopes_keep_the_servers_receive(kind: str) -> None:
    given: list[Any] = []

    async def inner(scope: Any, receive: Any, send: Any) -> None:
        given.append(receive)

    _, receive_channel = trio.open_memory_channel[Any](1)
    await PromptReceive(inner)({"type": kind}, receive_channel.receive, _unused)
    assert given == [receive_channel.receive]
