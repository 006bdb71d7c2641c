"""Users and logins: scrypt password hashes, short-lived access JWTs, rotating refresh tokens.

- Passwords: scrypt (N=2^14, r=8, p=1, 16-byte salt), hashed on a worker thread so a login
  never holds the Trio thread (and the next frame's render) for the ~50 ms it costs.
- Access tokens: HS256 JWTs carrying the user name and role, valid `access_ttl_s`. Checking
  one needs no database round trip. Disabling a user or changing a password takes effect
  at once anyway: tokens issued before that instant are refused (``_not_before``).
- Refresh tokens: 32 random bytes, stored as SHA-256 only, rotated on every use; a
  rotated-out token presented again revokes its whole family (see `storage.tokens`).
- First start: when there are no users, an admin is created with the configured password,
  or a random one-time password printed to the log that must be changed at first login.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final

import trio

from trocadero.config.schema import AuthConfig

from .commands import Actor, Origin
from .model import ROLES, Role, User
from .storage import NotFound, Storage

__all__ = [
    "AuthError",
    "AuthService",
    "TokenPair",
    "decode_jwt",
    "encode_jwt",
    "hash_password",
    "verify_password",
]

_SCRYPT_N: Final = 1 << 14
_SCRYPT_R: Final = 8
_SCRYPT_P: Final = 1
_MIN_PASSWORD: Final = 10
BOOTSTRAP_KEY: Final = "auth.bootstrap"  # runtime state: accounts that must change password


class AuthError(Exception):
    """A login, token or account operation refused; ``status`` is the HTTP status to use."""

    def __init__(self, message: str, status: int = 401) -> None:
        super().__init__(message)
        self.status = status


# --- passwords ---------------------------------------------------------------------------------


def hash_password(password: str, *, salt: bytes | None = None) -> str:
    salt = salt or secrets.token_bytes(16)
    digest = hashlib.scrypt(
        password.encode(), salt=salt, n=_SCRYPT_N, r=_SCRYPT_R, p=_SCRYPT_P, dklen=32
    )
    return f"scrypt${_SCRYPT_N}${_SCRYPT_R}${_SCRYPT_P}${_b64(salt)}${_b64(digest)}"


def verify_password(password: str, stored: str) -> bool:
    try:
        scheme, n, r, p, salt, digest = stored.split("$")
        if scheme != "scrypt":
            return False
        want = _unb64(digest)
        got = hashlib.scrypt(
            password.encode(), salt=_unb64(salt), n=int(n), r=int(r), p=int(p), dklen=len(want)
        )
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(got, want)


def check_password_rules(password: str) -> None:
    if len(password) < _MIN_PASSWORD:
        raise AuthError(f"password: at least {_MIN_PASSWORD} characters", status=400)


# --- JWT (HS256) -------------------------------------------------------------------------------


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


_JWT_HEADER: Final = _b64(b'{"alg":"HS256","typ":"JWT"}')


def encode_jwt(claims: Mapping[str, Any], key: bytes) -> str:
    body = _b64(json.dumps(dict(claims), separators=(",", ":"), sort_keys=True).encode())
    signing_input = f"{_JWT_HEADER}.{body}".encode()
    return f"{_JWT_HEADER}.{body}.{_b64(hmac.digest(key, signing_input, 'sha256'))}"


def decode_jwt(token: str, key: bytes, *, now: float) -> dict[str, Any]:
    """The claims of a token we signed that has not expired; AuthError otherwise."""
    parts = token.split(".")
    if len(parts) != 3:
        raise AuthError("malformed token")
    header, body, signature = parts
    try:
        want = hmac.digest(key, f"{header}.{body}".encode(), "sha256")
        if not hmac.compare_digest(_unb64(signature), want):
            raise AuthError("bad token signature")
        head = json.loads(_unb64(header))
        claims = json.loads(_unb64(body))
    except (ValueError, TypeError) as exc:  # binascii.Error and JSONDecodeError are ValueErrors
        raise AuthError("malformed token") from exc
    # Only our own algorithm: a token claiming "none" or RS256 is refused outright.
    if not isinstance(head, dict) or head.get("alg") != "HS256" or not isinstance(claims, dict):
        raise AuthError("malformed token")
    exp = claims.get("exp")
    if not isinstance(exp, int | float) or exp <= now:
        raise AuthError("token expired")
    return claims


# --- the service -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class TokenPair:
    access_token: str
    refresh_token: str
    expires_in: float
    username: str
    role: Role
    password_change_required: bool = False

    def as_json(self) -> dict[str, Any]:
        return {
            "access_token": self.access_token,
            "token_type": "bearer",
            "expires_in": int(self.expires_in),
            "refresh_token": self.refresh_token,
            "user": {"name": self.username, "role": self.role},
            "password_change_required": self.password_change_required,
        }


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class AuthService:
    """Logins, token checks and account management over the store."""

    def __init__(
        self,
        store: Storage,
        key: bytes,
        config: AuthConfig,
        *,
        now: Callable[[], float] = time.time,
    ) -> None:
        if len(key) < 32:
            raise ValueError("the signing key must be at least 32 bytes")
        self.store = store
        self._key = key
        self.config = config
        self._now = now
        self._not_before: dict[str, float] = {}  # user → tokens issued earlier are refused
        self._must_change: set[str] = set()

    # --- start-up ---

    async def bootstrap(self) -> str | None:
        """Create the first admin when there are no users; the one-time password, if made."""
        state = await self.store.load_state(BOOTSTRAP_KEY) or {}
        self._must_change = {str(u) for u in state.get("must_change", [])}
        if (await self.store.list_users(limit=1)).items:
            return None
        name = self.config.admin_user
        password = self.config.admin_password or secrets.token_urlsafe(12)
        digest = await trio.to_thread.run_sync(hash_password, password)
        await self.store.create_user(name, role="admin", password_hash=digest)
        if self.config.admin_password:
            return None
        await self._set_must_change(name, True)
        return password

    async def _set_must_change(self, username: str, flag: bool) -> None:
        if flag:
            self._must_change.add(username)
        else:
            self._must_change.discard(username)
        await self.store.save_state(BOOTSTRAP_KEY, {"must_change": sorted(self._must_change)})

    # --- tokens ---

    def _access(self, user: str, role: Role, now: float) -> str:
        # Issued strictly after any cut-off, even within the same clock tick.
        iat = max(now, self._not_before.get(user, 0.0))
        claims: dict[str, Any] = {
            "sub": user,
            "role": role,
            "iat": iat,
            "exp": now + self.config.access_ttl_s,
            "jti": secrets.token_hex(8),
        }
        if user in self._must_change:
            claims["pwd"] = 1  # may only change the password
        return encode_jwt(claims, self._key)

    async def _pair(self, user: User, family: str | None, old: str | None) -> TokenPair:
        now = self._now()
        refresh = secrets.token_urlsafe(32)
        expires = datetime.fromtimestamp(now + self.config.refresh_ttl_s, UTC)
        if old is None:
            await self.store.tokens.issue(
                _token_hash(refresh),
                family=family or secrets.token_hex(16),
                username=user.username,
                expires_at=expires,
            )
        else:
            grant = await self.store.tokens.rotate(
                _token_hash(old),
                _token_hash(refresh),
                expires_at=expires,
                now=datetime.fromtimestamp(now, UTC),
            )
            if grant.outcome != "ok":
                raise AuthError(f"refresh token {grant.outcome}")
        return TokenPair(
            self._access(user.username, user.role, now),
            refresh,
            self.config.access_ttl_s,
            user.username,
            user.role,
            user.username in self._must_change,
        )

    async def login(self, username: str, password: str) -> TokenPair:
        try:
            user = await self.store.get_user(username)
        except NotFound:
            user = None
        # Hash even for an unknown user, so timing does not tell which names exist.
        stored = user.password_hash if user is not None else hash_password("x", salt=b"0" * 16)
        ok = await trio.to_thread.run_sync(verify_password, password, stored)
        if user is None or not ok or user.disabled:
            raise AuthError("wrong user name or password, or the account is disabled")
        await self.store.record_login(user.username)
        return await self._pair(user, None, None)

    async def refresh(self, refresh_token: str) -> TokenPair:
        grant_user = await self._refresh_owner(refresh_token)
        return await self._pair(grant_user, None, refresh_token)

    async def _refresh_owner(self, refresh_token: str) -> User:
        # Rotation itself checks liveness atomically; this only finds whose token it is so
        # the new access token carries the account's current role.
        if not refresh_token or len(refresh_token) > 200:
            raise AuthError("refresh token unknown")
        grant = await self.store.tokens.owner(_token_hash(refresh_token))
        if grant is None:
            raise AuthError("refresh token unknown")
        try:
            user = await self.store.get_user(grant)
        except NotFound as exc:
            raise AuthError("refresh token unknown") from exc
        if user.disabled:
            raise AuthError("the account is disabled")
        return user

    async def logout(self, refresh_token: str) -> bool:
        return await self.store.tokens.revoke(_token_hash(refresh_token), reason="logout")

    def authenticate(self, access_token: str, origin: Origin = "api", address: str = "") -> Actor:
        """The actor an access token stands for; AuthError (401) when it is not valid."""
        claims = decode_jwt(access_token, self._key, now=self._now())
        user, role, iat = claims.get("sub"), claims.get("role"), claims.get("iat")
        if not isinstance(user, str) or role not in ROLES or not isinstance(iat, int | float):
            raise AuthError("malformed token")
        if iat < self._not_before.get(user, 0.0):
            raise AuthError("token revoked")
        if claims.get("pwd"):
            raise AuthError("password change required", status=403)
        return Actor(user, role, origin, address)

    def expiry(self, access_token: str) -> float:
        """When a valid access token expires (Unix seconds)."""
        return float(decode_jwt(access_token, self._key, now=self._now())["exp"])

    def password_change_token_user(self, access_token: str) -> str:
        """The user of a valid token, including one that may only change its password."""
        claims = decode_jwt(access_token, self._key, now=self._now())
        user, iat = claims.get("sub"), claims.get("iat")
        if not isinstance(user, str) or not isinstance(iat, int | float):
            raise AuthError("malformed token")
        if iat < self._not_before.get(user, 0.0):
            raise AuthError("token revoked")
        return user

    async def _cut_off(self, username: str, reason: str) -> None:
        # Strictly after any token issued so far (iat is a float of the same clock); tokens
        # issued from now on carry iat >= this (see `_access`).
        self._not_before[username] = self._now() + 1e-6
        await self.store.tokens.revoke_user(username, reason=reason)

    # --- accounts ---

    async def change_password(self, username: str, old: str, new: str) -> None:
        user = await self.store.get_user(username)
        if not await trio.to_thread.run_sync(verify_password, old, user.password_hash):
            raise AuthError("current_password: wrong password", status=400)
        check_password_rules(new)
        if new == old:
            raise AuthError("new_password: must differ from the current one", status=400)
        digest = await trio.to_thread.run_sync(hash_password, new)
        await self.store.update_user(username, password_hash=digest)
        await self._cut_off(username, "password changed")
        if username in self._must_change:
            await self._set_must_change(username, False)

    async def create_user(self, username: str, role: Role, password: str, email: str = "") -> User:
        check_password_rules(password)
        digest = await trio.to_thread.run_sync(hash_password, password)
        return await self.store.create_user(username, role=role, password_hash=digest, email=email)

    async def update_user(
        self,
        username: str,
        *,
        role: Role | None = None,
        disabled: bool | None = None,
        email: str | None = None,
        password: str | None = None,
    ) -> User:
        digest = None
        if password is not None:
            check_password_rules(password)
            digest = await trio.to_thread.run_sync(hash_password, password)
        user = await self.store.update_user(
            username, role=role, disabled=disabled, email=email, password_hash=digest
        )
        if disabled or digest is not None or role is not None:
            # A new role must not ride on tokens that carry the old one.
            await self._cut_off(username, "account changed")
        return user
