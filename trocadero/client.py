"""A small client for the show-script socket API (docs/socket-api.md).

    from trocadero.client import Client
    with Client() as c:                      # $TROCADERO_SOCKET or the default path
        c.go("main")
        c.override({"facade": {"look": "celebration"}}, ttl=30, priority=10)
        for event in c.events(["cue:progress"]):
            print(event)

`TrioClient` is the same for Trio programs (``async with TrioClient() as c: await c.go(...)``).
Errors come back as `ScriptError` with the server's ``code`` and ``message``.
"""

from __future__ import annotations

import itertools
import os
import socket
from collections.abc import AsyncIterator, Iterator, Mapping
from pathlib import Path
from types import TracebackType
from typing import Any

from trocadero.protocols.control_socket import ReplyDecoder, encode

__all__ = ["Client", "ScriptError", "TrioClient", "default_socket_path"]

SOCKET_NAME = "control.sock"


class ScriptError(Exception):
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
        self.events: list[dict[str, Any]] = []
        self.decoder = ReplyDecoder()

    def take(self, data: bytes, wanted: int | None) -> dict[str, Any] | None:
        reply = None
        for doc in self.decoder.feed(data):
            if not isinstance(doc, dict):
                raise ScriptError("protocol", f"unexpected data from the daemon: {doc!r}")
            if "event" in doc:
                self.events.append(doc)
            elif doc.get("id") == wanted or doc.get("id") is None:
                reply = doc
        return reply


def _result(reply: dict[str, Any]) -> Any:
    if reply.get("ok"):
        return reply.get("result")
    error = reply.get("error") or {}
    raise ScriptError(str(error.get("code", "error")), str(error.get("message", "")))


class Client:
    """Blocking client: one request at a time; events are kept until read."""

    def __init__(self, path: str | Path | None = None, timeout: float = 10.0) -> None:
        self.path = Path(path) if path is not None else default_socket_path()
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
        mid = next(self._m.ids)
        self.sock.sendall(encode({"id": mid, "op": op, "args": args}))
        while True:
            data = self.sock.recv(65536)
            if not data:
                raise ScriptError("closed", "the daemon closed the connection")
            reply = self._m.take(data, mid)
            if reply is not None:
                return _result(reply)

    def subscribe(self, topics: list[str]) -> Any:
        return self.call("subscribe", topics=topics)

    def events(self, topics: list[str] | None = None) -> Iterator[dict[str, Any]]:
        """Subscribe now (when topics are given); iterate for the events as they come."""
        if topics:
            self.subscribe(topics)
        return self._events()

    def _events(self) -> Iterator[dict[str, Any]]:
        while True:
            while self._m.events:
                yield self._m.events.pop(0)
            data = self.sock.recv(65536)
            if not data:
                return
            self._m.take(data, None)

    # verbs
    def ping(self) -> Any:
        return self.call("ping")

    def status(self) -> Any:
        return self.call("status")

    def go(self, cue_list: str) -> Any:
        return self.call("go", list=cue_list)

    def goto(self, cue_list: str, cue: str, fade: float | None = None) -> Any:
        return self.call("goto", list=cue_list, cue=cue, **_opt(fade=fade))

    def release(self, cue_list: str, fade: float | None = None) -> Any:
        return self.call("release", list=cue_list, **_opt(fade=fade))

    def override(self, canvases: Mapping[str, Mapping[str, Any]], *, ttl: float, **kw: Any) -> Any:
        return self.call("override", canvases=dict(canvases), ttl=ttl, **kw)

    def master(self, target: str, level: float) -> Any:
        return self.call("master", target=target, level=level)


class TrioClient:
    """The same for Trio: ``async with TrioClient() as c: await c.go("main")``."""

    def __init__(self, path: str | Path | None = None) -> None:
        self.path = Path(path) if path is not None else default_socket_path()
        self._m = _Messages()
        self.stream: Any = None

    async def __aenter__(self) -> TrioClient:
        import trio

        self.stream = await trio.open_unix_socket(str(self.path))
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stream.aclose()

    async def call(self, op: str, **args: Any) -> Any:
        mid = next(self._m.ids)
        await self.stream.send_all(encode({"id": mid, "op": op, "args": args}))
        while True:
            data = await self.stream.receive_some(65536)
            if not data:
                raise ScriptError("closed", "the daemon closed the connection")
            reply = self._m.take(data, mid)
            if reply is not None:
                return _result(reply)

    async def subscribe(self, topics: list[str]) -> Any:
        return await self.call("subscribe", topics=topics)

    async def events(self) -> AsyncIterator[dict[str, Any]]:
        """Events of the subscriptions made with `subscribe`, as they come."""
        while True:
            while self._m.events:
                yield self._m.events.pop(0)
            data = await self.stream.receive_some(65536)
            if not data:
                return
            self._m.take(data, None)

    async def go(self, cue_list: str) -> Any:
        return await self.call("go", list=cue_list)

    async def status(self) -> Any:
        return await self.call("status")

    async def override(
        self, canvases: Mapping[str, Mapping[str, Any]], *, ttl: float, **kw: Any
    ) -> Any:
        return await self.call("override", canvases=dict(canvases), ttl=ttl, **kw)


def _opt(**kw: Any) -> dict[str, Any]:
    return {k: v for k, v in kw.items() if v is not None}
