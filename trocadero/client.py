"""A small client for the show-script socket API (docs/socket-api.md).

    from trocadero.client import Client
    with Client() as c:                      # $TROCADERO_SOCKET or the default path
        c.go("main")
        c.override({"facade": {"look": "celebration"}}, ttl=30, priority=10)
        for event in c.events(["cue:progress"]):
            print(event)

`TrioClient` is the same for Trio programs (``async with TrioClient() as c: await c.go(...)``).
Errors come back as `ScriptError` with the server's ``code`` and ``message``.

One connection answers requests in order; events of its subscriptions arrive between the
replies and are kept until read. A script that waits for events while it sends commands is
simplest with two connections (one subscribed, one for commands), as the examples do.
"""

from __future__ import annotations

import itertools
import os
import socket
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Mapping
from pathlib import Path
from types import TracebackType
from typing import Any, Final, Generic, TypeVar

from trocadero.core.operations import OPERATIONS, Operation
from trocadero.protocols.control_socket import ReplyDecoder, encode

__all__ = ["METHODS", "Client", "ScriptError", "TrioClient", "default_socket_path"]

SOCKET_NAME = "control.sock"
R = TypeVar("R")


class ScriptError(Exception):
    """The daemon refused a request (``code`` as in docs/socket-api.md), or the connection
    ended (``closed``) or carried something that is not the protocol (``protocol``)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message


def default_socket_path() -> Path:
    """$TROCADERO_SOCKET, else the systemd runtime directory, else the user's state dir."""
    given = os.environ.get("TROCADERO_SOCKET")
    if given:
        return Path(given)
    run = Path("/run/trocadero") / SOCKET_NAME
    if run.exists():
        return run
    base = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(base) / "trocadero" / SOCKET_NAME


class _Messages:
    """Shared bookkeeping: the reply for an id, events that arrive meanwhile."""

    def __init__(self) -> None:
        self.ids = itertools.count(1)
        self.events: deque[dict[str, Any]] = deque()
        self.decoder = ReplyDecoder()

    def request(self, op: str, args: Mapping[str, Any]) -> tuple[int, bytes]:
        mid = next(self.ids)
        return mid, encode({"id": mid, "op": op, "args": dict(args)})

    def take(self, data: bytes, wanted: int | None) -> dict[str, Any] | None:
        if not data:
            raise ScriptError("closed", "the daemon closed the connection")
        reply = None
        for doc in self.decoder.feed(data):
            if not isinstance(doc, dict):
                raise ScriptError("protocol", f"unexpected data from the daemon: {doc!r}")
            if "event" in doc:
                self.events.append(doc)
            elif doc.get("id") == wanted or doc.get("id") is None:
                # id None: an error about input the daemon could not tie to a request
                # (framing), which can only be about the request we are waiting on.
                reply = doc
        return reply


def _result(reply: dict[str, Any]) -> Any:
    if reply.get("ok"):
        return reply.get("result")
    error = reply.get("error") or {}
    raise ScriptError(str(error.get("code", "error")), str(error.get("message", "")))


def _plain(value: Any) -> Any:
    """msgpack has no tuples or mappings other than dict: send them as lists and maps."""
    if isinstance(value, tuple):
        return [_plain(v) for v in value]
    if isinstance(value, Mapping):
        return {k: _plain(v) for k, v in value.items()}
    return value


# Every op by its method name: "override.refresh" is `refresh` … `override_refresh(...)`.
METHODS: Final[Mapping[str, Operation]] = {op.name.replace(".", "_"): op for op in OPERATIONS}


class _Verbs(Generic[R]):
    """The ops of the daemon's operation table (`trocadero.core.operations`) as methods, one
    definition for both clients: `Client.call` returns the result, `TrioClient.call` an
    awaitable of it (``R``). Positional arguments follow the op's declared order
    (``c.goto("main", "2.5", fade=1)``); an argument given as None is left out."""

    def call(self, op: str, **args: Any) -> R:
        raise NotImplementedError

    def __getattr__(self, attr: str) -> Callable[..., R]:
        op = METHODS.get(attr)
        if op is None:
            raise AttributeError(
                f"{type(self).__name__} has no op {attr!r} (ops: {', '.join(sorted(METHODS))})"
            )

        def invoke(*positional: Any, **named: Any) -> R:
            names = op.arg_names
            if len(positional) > len(names):
                raise TypeError(f"{attr}() takes at most {len(names)} arguments ({names})")
            args = dict(zip(names, positional, strict=False))
            twice = sorted(set(args) & set(named))
            if twice:
                raise TypeError(f"{attr}() got {twice[0]!r} twice")
            args.update(named)
            return self.call(op.name, **{k: _plain(v) for k, v in args.items() if v is not None})

        invoke.__name__ = attr
        invoke.__doc__ = op.summary
        return invoke

    # subscriptions (events come from `events()`): about the connection, not the table
    def subscribe(self, topics: list[str]) -> R:
        return self.call("subscribe", topics=list(topics))

    def unsubscribe(self, topics: list[str]) -> R:
        return self.call("unsubscribe", topics=list(topics))


class Client(_Verbs[Any]):
    """Blocking client: one request at a time; events are kept until read.

    ``timeout`` bounds the wait for a reply (a wedged daemon raises `TimeoutError`);
    `events` waits as long as it takes unless given its own timeout."""

    def __init__(self, path: str | Path | None = None, timeout: float = 10.0) -> None:
        self.path = Path(path) if path is not None else default_socket_path()
        self.timeout = timeout
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(timeout)
        try:
            self.sock.connect(str(self.path))
        except OSError:
            self.sock.close()
            raise
        self._m = _Messages()

    def __enter__(self) -> Client:
        return self

    def __exit__(
        self, t: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def close(self) -> None:
        self.sock.close()

    def call(self, op: str, **args: Any) -> Any:
        mid, data = self._m.request(op, args)
        self.sock.settimeout(self.timeout)
        self.sock.sendall(data)
        while True:
            reply = self._m.take(self.sock.recv(65536), mid)
            if reply is not None:
                return _result(reply)

    def events(
        self, topics: list[str] | None = None, timeout: float | None = None
    ) -> Iterator[dict[str, Any]]:
        """Subscribe now (when topics are given); iterate for the events as they come, each
        ``{"event", "data", "seq"}``. ``timeout``: longest wait for the next one (TimeoutError),
        None for ever. The iteration ends when the daemon closes the connection."""
        if topics:
            self.subscribe(topics)
        return self._events(timeout)

    def _events(self, timeout: float | None) -> Iterator[dict[str, Any]]:
        while True:
            while self._m.events:
                yield self._m.events.popleft()
            self.sock.settimeout(timeout)
            try:
                data = self.sock.recv(65536)
            finally:
                self.sock.settimeout(self.timeout)
            if not data:
                return
            self._m.take(data, None)


class TrioClient(_Verbs[Awaitable[Any]]):
    """The same for Trio: ``async with TrioClient() as c: await c.go("main")``.

    Calls from several tasks are sent one at a time, and a call made while another task
    waits in `events` goes ahead (the wait is interrupted and resumed). Bound a call's wait
    with Trio's own ``trio.fail_after``."""

    def __init__(self, path: str | Path | None = None) -> None:
        self.path = Path(path) if path is not None else default_socket_path()
        self._m = _Messages()
        # trio objects (trio is imported only when this client is used)
        self._stream: Any = None  # trio.SocketStream
        self._lock: Any = None  # trio.Lock: one reader of the stream at a time
        self._waiting: Any = None  # trio.CancelScope of an `events` wait, if any

    async def __aenter__(self) -> TrioClient:
        import trio

        self._stream = await trio.open_unix_socket(str(self.path))
        self._lock = trio.Lock()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self._stream.aclose()

    async def call(self, op: str, **args: Any) -> Any:
        mid, data = self._m.request(op, args)
        if self._waiting is not None:
            self._waiting.cancel()  # an `events` wait gives the stream up to us
        async with self._lock:
            await self._stream.send_all(data)
            while True:
                reply = self._m.take(await self._stream.receive_some(65536), mid)
                if reply is not None:
                    return _result(reply)

    async def events(self, topics: list[str] | None = None) -> AsyncIterator[dict[str, Any]]:
        """Subscribe now (when topics are given); the events as they come, each
        ``{"event", "data", "seq"}``; ends when the daemon closes the connection."""
        import trio

        if topics:
            await self.subscribe(topics)
        while True:
            while self._m.events:
                yield self._m.events.popleft()
            data: bytes | None = None
            async with self._lock:
                # A cancelled receive_some consumes nothing, so a call can interrupt it.
                with trio.CancelScope() as scope:
                    self._waiting = scope
                    data = await self._stream.receive_some(65536)
                self._waiting = None
            if data is None:
                continue  # a call took the stream for a moment (it kept any events it read)
            if not data:
                return
            self._m.take(data, None)
