"""The key that signs access tokens: 32 random bytes in the state directory, made once.

Kept in a file (mode 0600) rather than the database so a database dump does not carry it;
kept across restarts so logins survive them. Deleting the file logs everybody out.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

KEY_FILE = "auth.key"
KEY_BYTES = 32


def load_signing_key(state_dir: Path) -> bytes:
    path = state_dir / KEY_FILE
    try:
        key = path.read_bytes()
    except FileNotFoundError:
        key = b""
    if len(key) >= KEY_BYTES:
        return key
    # New (or truncated by a crash before the rename could ever happen): write it whole
    # to a temporary file, fsync, then rename, so a reader never sees half a key.
    key = secrets.token_bytes(KEY_BYTES)
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.write(fd, key)
        os.fsync(fd)
    finally:
        os.close(fd)
    tmp.replace(path)
    return key
