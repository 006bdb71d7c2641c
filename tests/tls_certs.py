"""A throwaway certificate authority and server certificates for 127.0.0.1 (openssl CLI)."""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class ServerCert:
    certificate: Path
    key: Path
    serial: int


def _openssl(*args: str | Path) -> None:
    subprocess.run(["openssl", *map(str, args)], check=True, capture_output=True)


def make_authority(directory: Path) -> tuple[Path, Path]:
    """A self-signed CA: (certificate, key)."""
    ca, key = directory / "ca.pem", directory / "ca.key"
    _openssl(
        "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
        "-keyout", key, "-out", ca, "-days", "2", "-subj", "/CN=Trocadero test CA",
    )  # fmt: skip
    return ca, key


def make_server(directory: Path, ca: Path, ca_key: Path, name: str, serial: int) -> ServerCert:
    """A server certificate for 127.0.0.1 and localhost signed by the CA, with `serial`."""
    key, csr, cert = directory / f"{name}.key", directory / f"{name}.csr", directory / f"{name}.pem"
    ext = directory / f"{name}.ext"
    ext.write_text(
        "subjectAltName = IP:127.0.0.1, DNS:localhost\n"
        "extendedKeyUsage = serverAuth\nbasicConstraints = CA:FALSE\n"
    )
    _openssl(
        "req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
        "-keyout", key, "-out", csr, "-subj", f"/CN={name}",
    )  # fmt: skip
    _openssl(
        "x509", "-req", "-in", csr, "-CA", ca, "-CAkey", ca_key, "-set_serial", str(serial),
        "-days", "2", "-extfile", ext, "-out", cert,
    )  # fmt: skip
    return ServerCert(cert, key, serial)
