"""HTTPS and WSS served by the daemon itself: the server's TLS context, loaded at start and
reloaded on SIGHUP (a renewed certificate takes effect for new connections, open ones keep
theirs; a bad renewal is logged and the running certificate kept).

HTTP/1.1 only over TLS: the body limits, the WebSocket containment and their fuzzing are
built and tested on HTTP/1.1; HTTP/2 is left to a reverse proxy in front (docs/tls.md).
"""

from __future__ import annotations

import ssl
from dataclasses import dataclass

from trocadero.config import ConfigError
from trocadero.config.schema import WebConfig

from .logs import get_logger

__all__ = ["ServerTls", "server_tls"]


@dataclass
class ServerTls:
    """The context Hypercorn serves with; `reload` swaps its certificate in place."""

    context: ssl.SSLContext
    certificate: str
    key: str
    reloads: int = 0
    reload_failures: int = 0

    def reload(self) -> bool:
        """Read the certificate and key files again; False (logged) if they do not load."""
        log = get_logger("web.tls")
        try:
            self.context.load_cert_chain(self.certificate, self.key)
        except (OSError, ssl.SSLError) as exc:
            self.reload_failures += 1
            log.error(
                "TLS certificate reload failed; the running certificate is kept",
                certificate=self.certificate,
                error=_reason(exc),
            )
            return False
        self.reloads += 1
        log.info("TLS certificate reloaded", certificate=self.certificate)
        return True


def server_tls(web: WebConfig) -> ServerTls | None:
    """The TLS context of `[web]`, or None for plain HTTP; ConfigError naming the setting
    when the files do not load."""
    if not web.tls_certificate:
        return None
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.options |= ssl.OP_NO_COMPRESSION
    context.set_alpn_protocols(["http/1.1"])
    try:
        context.load_cert_chain(web.tls_certificate, web.tls_key)
    except (OSError, ssl.SSLError) as exc:
        raise ConfigError(
            [
                f"web.tls_certificate/tls_key: cannot load {web.tls_certificate!r} with"
                f" {web.tls_key!r}: {_reason(exc)}"
            ]
        ) from exc
    return ServerTls(context, web.tls_certificate, web.tls_key)


def _reason(exc: Exception) -> str:
    if isinstance(exc, ssl.SSLError):
        return exc.reason or str(exc)
    if isinstance(exc, OSError):
        return f"{exc.strerror or exc} ({exc.filename or ''})".replace(" ()", "")
    return str(exc)
