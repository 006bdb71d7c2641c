"""A small blocking WebSocket client for tests and benches (wsproto over a plain socket):
enough to authenticate, send JSON ops and read text and binary messages."""

from __future__ import annotations

import json
import socket
import ssl
import struct
from typing import Any

import wsproto
from wsproto.events import (
    AcceptConnection,
    BytesMessage,
    CloseConnection,
    Message,
    Ping,
    RejectConnection,
    Request,
    TextMessage,
)


class Closed(Exception):
    def __init__(self, code: int, reason: str) -> None:
        super().__init__(f"{code} {reason}")
        self.code = code
        self.reason = reason


class WsClient:
    def __init__(
        self,
        port: int,
        path: str = "/ws",
        timeout: float = 5.0,
        tls: ssl.SSLContext | None = None,
    ) -> None:
        sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        # WSS: the same client over TLS (the daemon's [web] tls_certificate).
        self.sock = tls.wrap_socket(sock, server_hostname="127.0.0.1") if tls else sock
        self.ws = wsproto.WSConnection(wsproto.ConnectionType.CLIENT)
        self.sock.sendall(self.ws.send(Request(host="127.0.0.1", target=path)))
        self._pending: list[str | bytes] = []
        self._text: list[str] = []
        self._bytes = bytearray()
        try:
            while True:
                events = self._read()
                if any(isinstance(e, AcceptConnection) for e in events):
                    break
                if any(isinstance(e, RejectConnection) for e in events):
                    raise Closed(0, "rejected")
        except Closed:  # refused, or closed in the same read as the acceptance
            self.sock.close()
            raise

    def _read(self) -> list[Any]:
        data = self.sock.recv(1 << 16)
        if not data:
            raise Closed(1006, "connection lost")
        self.ws.receive_data(data)
        out = []
        for event in self.ws.events():
            out.append(event)
            if isinstance(event, Ping):
                self.sock.sendall(self.ws.send(event.response()))
            elif isinstance(event, CloseConnection):
                raise Closed(event.code, event.reason or "")
            elif isinstance(event, Message):
                if isinstance(event, TextMessage):
                    self._text.append(event.data)
                    if event.message_finished:
                        self._pending.append("".join(self._text))
                        self._text = []
                elif isinstance(event, BytesMessage):
                    self._bytes += event.data
                    if event.message_finished:
                        self._pending.append(bytes(self._bytes))
                        self._bytes = bytearray()
        return out

    def send(self, doc: dict[str, Any]) -> None:
        self.sock.sendall(self.ws.send(TextMessage(data=json.dumps(doc))))

    def send_raw(self, text: str) -> None:
        self.sock.sendall(self.ws.send(TextMessage(data=text)))

    def receive(self) -> str | bytes:
        while not self._pending:
            self._read()
        return self._pending.pop(0)

    def receive_json(self) -> dict[str, Any]:
        """The next text message (binary previews before it are skipped)."""
        while True:
            message = self.receive()
            if isinstance(message, str):
                doc: dict[str, Any] = json.loads(message)
                return doc

    def close(self) -> None:
        try:
            self.sock.sendall(self.ws.send(CloseConnection(code=1000)))
        except (OSError, wsproto.utilities.LocalProtocolError):
            pass
        self.sock.close()


def parse_preview(frame: bytes) -> tuple[str, int, int, float, bytes]:
    """(canvas, width, height, frame time, rgb) of a binary preview frame."""
    version, n = frame[0], frame[1]
    assert version == 1
    name = frame[2 : 2 + n].decode()
    width, height, t = struct.unpack_from(">HHd", frame, 2 + n)
    rgb = frame[2 + n + 12 :]
    assert len(rgb) == width * height * 3
    return name, width, height, t, rgb
