"""Users and logins: scrypt password hashes, short-lived access JWTs, rotating refresh tokens.

- Passwords: scrypt (N=2^14, r=8, p=1, 16-byte salt), hashed on a worker thread so a login
  never holds the Trio thread (and the next frame's render) for the ~50 ms it costs.
- Access tokens: HS256 JWTs (PyJWT, that algorithm only) carrying the user name and role,
  valid `access_ttl_s`. Checking one needs no database round trip. Disabling a user or
  changing a password takes effect at once anyway: tokens issued before that instant are
  refused (``_not_before``).
- Refresh tokens: 32 random bytes, stored as SHA-256 only, rotated on every use; a
  rotated-out token presented again revokes its whole family (see `storage.tokens`).
- Every access token names its family (``fam``): logging out or a detected reuse revokes the
  family, and its access tokens are refused at once (`revocations.RevokedFamilies`, loaded
  from the store at start and re-read every few seconds, so a change made by
  `trocadero users` in another process reaches a running daemon too).
- Failed logins are logged, audited and slowed down per (name, address) with a growing
  delay (`login_throttle`), never per name alone: nobody can lock a named account out.
- The last enabled admin cannot be disabled or demoted (409).
- First start: when there are no users, an admin is created with the configured password,
  or a random one-time password printed to the log that must be changed at first login.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Final

import jwt
import structlog
import trio
from jwt.types import Options

from trocadero.config.schema import AuthConfig

from .commands import Actor, Origin, audit
from .errors import InvalidArgument, RefusedError
from .login_throttle import LoginThrottle
from .model import ROLES, Role, User
from .revocations import RevokedFamilies
from .statistics import counter
from .storage import NotFound, Storage, StorageError

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
# How often a running service re-reads revoked families from the store (changes made by
# another process, e.g. `trocadero users reset-password`); its own revocations apply at once.
REVOCATION_SYNC_S: Final = 2.0
_NAME_LIMIT: Final = 64  # longest user name recorded for a failed login

log = structlog.get_logger(subsystem="auth")


class AuthError(Exception):
    """A login, token or account operation refused; ``status`` is the HTTP status to use,
    ``retry_after`` (seconds) when the caller is told to wait (429)."""

    def __init__(self, message: str, status: int = 401, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.retry_after = retry_after


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
        raise InvalidArgument(f"password: at least {_MIN_PASSWORD} characters")


_VERIFIED_CACHE: Final = 1024  # tokens whose signature was checked (per process)


# --- JWT (HS256, through PyJWT) -----------------------------------------------------------------


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


# Only our own algorithm: a token claiming "none", RS256 or another HMAC is refused outright
# (an explicit list, so the header never chooses how it is checked).
_ALGORITHMS: Final = ("HS256",)
# Expiry is checked against the service's clock (injectable in tests), not PyJWT's; iat and
# nbf are ours to judge (`AuthService._claims`), so PyJWT checks only the signature and shape.
_DECODE_OPTIONS: Final[Options] = {
    "verify_signature": True,
    "verify_exp": False,
    "verify_iat": False,
    "verify_nbf": False,
    "enforce_minimum_key_length": True,  # HS256 wants >= 32 bytes (AuthService checks too)
}


def encode_jwt(claims: Mapping[str, Any], key: bytes) -> str:
    return jwt.encode(dict(claims), key, algorithm="HS256")


def decode_jwt(token: str, key: bytes, *, now: float) -> dict[str, Any]:
    """The claims of a token we signed that has not expired; AuthError otherwise."""
    try:
        claims = jwt.decode(token, key, algorithms=_ALGORITHMS, options=_DECODE_OPTIONS)
    except jwt.InvalidSignatureError as exc:
        raise AuthError("bad token signature") from exc
    except jwt.InvalidTokenError as exc:  # bad segments, base64, JSON, algorithm or claim types
        raise AuthError("malformed token") from exc
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


@dataclass(frozen=True, slots=True)
class LoginStatistics:
    """Logins since start-up (/healthz `logins`, /metrics `trocadero_logins_*_total`)."""

    succeeded: int = field(metadata=counter())
    failed: int = field(metadata=counter())  # every refusal, throttled ones included
    throttled: int = field(metadata=counter())  # refused unchecked: too many failures


class AuthService:
    """Logins, token checks and account management over the store."""

    def __init__(
        self,
        store: Storage,
        key: bytes,
        config: AuthConfig,
        *,
        now: Callable[[], float] = time.time,
        throttle: LoginThrottle | None = None,
    ) -> None:
        if len(key) < 32:
            raise ValueError("the signing key must be at least 32 bytes")
        self.store = store
        self._key = key
        self.config = config
        self._now = now
        self._not_before: dict[str, float] = {}  # user → tokens issued earlier are refused
        # Verified tokens → their claims: a UI or script presents the same token on every
        # request until it expires, and checking its signature again costs ~25 µs each time.
        # Only the signature check is skipped; expiry and revocation are judged every time.
        self._verified: dict[str, dict[str, Any]] = {}
        self._must_change: set[str] = set()
        self.throttle = throttle if throttle is not None else LoginThrottle()
        self.revoked = RevokedFamilies(config.access_ttl_s)
        self._synced_at: float | None = None
        self._syncing = False
        # Account changes check "is another admin left?" and then write: one at a time.
        self._accounts = trio.Lock()
        self._logins = [0, 0, 0]  # succeeded, failed, throttled

    def statistics(self) -> LoginStatistics:
        return LoginStatistics(*self._logins)

    # --- start-up ---

    async def bootstrap(self) -> str | None:
        """Create the first admin when there are no users; the one-time password, if made.
        Also loads the revocations still in force (they survive a restart)."""
        await self._load_must_change()
        await self.sync_revocations(force=True)
        if (await self.store.users.list_users(limit=1)).items:
            return None
        name = self.config.admin_user
        password = self.config.admin_password or secrets.token_urlsafe(12)
        digest = await trio.to_thread.run_sync(hash_password, password)
        await self.store.users.create_user(name, role="admin", password_hash=digest)
        if self.config.admin_password:
            return None
        await self._set_must_change(name, True)
        return password

    async def _load_must_change(self) -> None:
        # Re-read at every login: `trocadero users reset-password` sets it from another process.
        state = await self.store.state.load_state(BOOTSTRAP_KEY) or {}
        self._must_change = {str(u) for u in state.get("must_change", [])}

    async def _set_must_change(self, username: str, flag: bool) -> None:
        await self._load_must_change()
        if flag:
            self._must_change.add(username)
        else:
            self._must_change.discard(username)
        await self.store.state.save_state(BOOTSTRAP_KEY, {"must_change": sorted(self._must_change)})

    async def sync_revocations(self, *, force: bool = False) -> None:
        """Re-read the families revoked within the last access-token lifetime (at most every
        `REVOCATION_SYNC_S` unless forced); the web middleware calls it before each check."""
        now = self._now()
        if self._syncing or (
            not force and self._synced_at is not None and now - self._synced_at < REVOCATION_SYNC_S
        ):
            return
        self._syncing = True
        try:
            since = datetime.fromtimestamp(now - self.config.access_ttl_s, UTC)
            for family, at in await self.store.tokens.revoked_families(since):
                self.revoked.add(family, at.timestamp())
            self.revoked.prune(now)
        except StorageError as exc:
            if force:
                raise
            # Keep serving with what is known (this process's own revocations still apply).
            log.warning("could not re-read revoked logins", error=str(exc))
        finally:
            self._synced_at = now
            self._syncing = False

    # --- tokens ---

    def _access(self, user: str, role: Role, family: str, now: float) -> str:
        # Issued strictly after any cut-off, even within the same clock tick.
        iat = max(now, self._not_before.get(user, 0.0))
        claims: dict[str, Any] = {
            "sub": user,
            "role": role,
            "fam": family,  # the login it belongs to: revoked with it
            "iat": iat,
            "exp": now + self.config.access_ttl_s,
            "jti": secrets.token_hex(8),
        }
        if user in self._must_change:
            claims["pwd"] = 1  # may only change the password
        return encode_jwt(claims, self._key)

    async def _pair(self, user: User, old: str | None, who: Actor) -> TokenPair:
        now = self._now()
        refresh = secrets.token_urlsafe(32)
        expires = datetime.fromtimestamp(now + self.config.refresh_ttl_s, UTC)
        if old is None:
            family = secrets.token_hex(16)
            await self.store.tokens.issue(
                _token_hash(refresh), family=family, username=user.username, expires_at=expires
            )
        else:
            grant = await self.store.tokens.rotate(
                _token_hash(old),
                _token_hash(refresh),
                expires_at=expires,
                now=datetime.fromtimestamp(now, UTC),
            )
            if grant.outcome == "reused":
                # A stolen copy raced the real client: the store revoked the family; its
                # access tokens go too, and the event is recorded.
                self.revoked.add(grant.family, now)
                log.warning(
                    "refresh token reuse detected: login revoked",
                    user=grant.username,
                    address=who.address,
                )
                await self._audit_as(
                    Actor(grant.username, user.role, who.origin, who.address),
                    "auth.token.reuse",
                    grant.username,
                    family=grant.family[:8],
                )
            if grant.outcome != "ok":
                raise AuthError(f"refresh token {grant.outcome}")
            family = grant.family
        return TokenPair(
            self._access(user.username, user.role, family, now),
            refresh,
            self.config.access_ttl_s,
            user.username,
            user.role,
            user.username in self._must_change,
        )

    async def login(
        self, username: str, password: str, *, address: str = "", origin: Origin = "api"
    ) -> TokenPair:
        name = username[:_NAME_LIMIT]
        wait = self.throttle.wait(name, address, self._now())
        if wait is not None:
            # Not even checked: a guess made while throttled would tell the guesser something.
            self._logins[2] += 1
            await self._login_failed(name, address, origin, "throttled", wait)
            raise AuthError(
                "too many failed logins from this address: wait before trying again",
                status=429,
                retry_after=wait,
            )
        try:
            user = await self.store.users.get_user(username)
        except NotFound:
            user = None
        # Hash even for an unknown user, so timing does not tell which names exist.
        stored = user.password_hash if user is not None else hash_password("x", salt=b"0" * 16)
        ok = await trio.to_thread.run_sync(verify_password, password, stored)
        if user is None or not ok or user.disabled:
            reason = "unknown user" if user is None else "disabled" if ok else "wrong password"
            delay = self.throttle.failed(name, address, self._now())
            await self._login_failed(name, address, origin, reason, delay)
            raise AuthError("wrong user name or password, or the account is disabled")
        self.throttle.succeeded(name, address)
        self._logins[0] += 1
        await self.store.users.record_login(user.username)
        await self._load_must_change()
        actor = Actor(user.username, user.role, origin, address)
        pair = await self._pair(user, None, actor)
        await self._audit_as(actor, "auth.login", user.username)
        return pair

    async def _login_failed(
        self, name: str, address: str, origin: Origin, reason: str, delay: float
    ) -> None:
        # Who tried is unknown (the name is what they typed): the entry's actor is
        # "anonymous", the account they tried is the target. The client is only ever told
        # "wrong user name or password"; the reason is for the log and the audit trail.
        self._logins[1] += 1
        log.warning("login failed", user=name, address=address, reason=reason, delay_s=delay)
        await self.store.audit.append_audit(
            actor="anonymous",
            role="",
            origin=origin,
            action="auth.login.failed",
            target=name,
            detail={"reason": reason, "delay_s": round(delay, 3)},
            address=address,
        )

    async def _audit_as(self, actor: Actor, action: str, target: str, **detail: Any) -> None:
        await audit(self.store.audit, actor, action, target, **detail)

    async def refresh(
        self, refresh_token: str, *, address: str = "", origin: Origin = "api"
    ) -> TokenPair:
        grant_user = await self._refresh_owner(refresh_token)
        await self._load_must_change()
        who = Actor(grant_user.username, grant_user.role, origin, address)
        return await self._pair(grant_user, refresh_token, who)

    async def _refresh_owner(self, refresh_token: str) -> User:
        # Rotation itself checks liveness atomically; this only finds whose token it is so
        # the new access token carries the account's current role.
        if not refresh_token or len(refresh_token) > 200:
            raise AuthError("refresh token unknown")
        grant = await self.store.tokens.owner(_token_hash(refresh_token))
        if grant is None:
            raise AuthError("refresh token unknown")
        try:
            user = await self.store.users.get_user(grant)
        except NotFound as exc:
            raise AuthError("refresh token unknown") from exc
        if user.disabled:
            raise AuthError("the account is disabled")
        return user

    async def logout(
        self, refresh_token: str, *, address: str = "", origin: Origin = "api"
    ) -> bool:
        """Revoke the login (refresh-token family) of this token, its access tokens included."""
        grant = await self.store.tokens.revoke(_token_hash(refresh_token), reason="logout")
        if grant.outcome != "revoked":
            return False
        self.revoked.add(grant.family, self._now())
        role = await self._role_of(grant.username)
        await self._audit_as(
            Actor(grant.username, role, origin, address), "auth.logout", grant.username
        )
        return True

    async def _role_of(self, username: str) -> Role:
        try:
            return (await self.store.users.get_user(username)).role
        except NotFound:
            return "viewer"

    def _decode(self, access_token: str) -> dict[str, Any]:
        now = self._now()
        claims = self._verified.get(access_token)
        if claims is None:
            claims = decode_jwt(access_token, self._key, now=now)
            if len(self._verified) >= _VERIFIED_CACHE:
                self._verified.clear()
            self._verified[access_token] = claims
        elif claims["exp"] <= now:
            del self._verified[access_token]
            raise AuthError("token expired")
        return claims

    def _claims(self, access_token: str) -> tuple[str, dict[str, Any]]:
        claims = self._decode(access_token)
        user, iat, family = claims.get("sub"), claims.get("iat"), claims.get("fam")
        if (
            not isinstance(user, str)
            or not isinstance(iat, int | float)
            or not isinstance(family, str)
        ):
            raise AuthError("malformed token")
        if iat < self._not_before.get(user, 0.0) or family in self.revoked:
            raise AuthError("token revoked")
        return user, claims

    def authenticate(self, access_token: str, origin: Origin = "api", address: str = "") -> Actor:
        """The actor an access token stands for; AuthError (401) when it is not valid."""
        user, claims = self._claims(access_token)
        role = claims.get("role")
        if role not in ROLES:
            raise AuthError("malformed token")
        if claims.get("pwd"):
            raise AuthError("password change required", status=403)
        return Actor(user, role, origin, address)

    def expiry(self, access_token: str) -> float:
        """When a valid access token expires (Unix seconds)."""
        return float(self._decode(access_token)["exp"])

    def password_change_token_user(self, access_token: str) -> str:
        """The user of a valid token, including one that may only change its password."""
        return self._claims(access_token)[0]

    async def _cut_off(self, username: str, reason: str) -> None:
        # Strictly after any token issued so far (iat is a float of the same clock); tokens
        # issued from now on carry iat >= this (see `_access`). The store's revocation of
        # the user's families carries the cut-off across a restart and to other processes.
        self._not_before[username] = self._now() + 1e-6
        await self.store.tokens.revoke_user(username, reason=reason)

    # --- accounts ---

    async def change_password(
        self, username: str, old: str, new: str, *, address: str = "", origin: Origin = "api"
    ) -> None:
        user = await self.store.users.get_user(username)
        if not await trio.to_thread.run_sync(verify_password, old, user.password_hash):
            raise InvalidArgument("current_password: wrong password")
        check_password_rules(new)
        if new == old:
            raise InvalidArgument("new_password: must differ from the current one")
        digest = await trio.to_thread.run_sync(hash_password, new)
        await self.store.users.update_user(username, password_hash=digest)
        await self._cut_off(username, "password changed")
        await self._set_must_change(username, False)
        await self._audit_as(
            Actor(username, user.role, origin, address), "user.password", username, by="self"
        )

    async def create_user(
        self,
        actor: Actor,
        username: str,
        role: Role,
        password: str,
        email: str = "",
        *,
        must_change: bool = False,
    ) -> User:
        """`must_change`: the password is a one-time one, to be changed at first login."""
        check_password_rules(password)
        digest = await trio.to_thread.run_sync(hash_password, password)
        user = await self.store.users.create_user(
            username, role=role, password_hash=digest, email=email
        )
        if must_change:
            await self._set_must_change(username, True)
        await self._audit_as(actor, "user.create", username, role=role)
        return user

    async def reset_password(self, actor: Actor, username: str) -> str:
        """A new one-time password (returned) that must be changed at the next login; every
        login of the account is cut off."""
        password = secrets.token_urlsafe(12)
        await self.update_user(actor, username, password=password)
        await self._set_must_change(username, True)
        return password

    async def _enabled_admins(self) -> set[str]:
        found: set[str] = set()
        cursor = None
        while True:
            page = await self.store.users.list_users(limit=500, cursor=cursor)
            found |= {u.username for u in page.items if u.role == "admin" and not u.disabled}
            if not page.next:
                return found
            cursor = page.next

    async def update_user(
        self,
        actor: Actor,
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
        async with self._accounts:
            before = await self.store.users.get_user(username)
            demoted = role is not None and role != "admin"
            losing = before.role == "admin" and not before.disabled and (demoted or disabled)
            # Nobody could log in to manage accounts again (the [auth] admin_password only
            # helps on an empty store).
            if losing and await self._enabled_admins() <= {username}:
                change = "disabled" if disabled else f"made {role}"
                raise RefusedError(
                    f'"{username}" is the last enabled admin and cannot be {change}: '
                    "create or enable another admin first"
                )
            user = await self.store.users.update_user(
                username, role=role, disabled=disabled, email=email, password_hash=digest
            )
        if disabled or digest is not None or role is not None:
            # A new role must not ride on tokens that carry the old one.
            await self._cut_off(username, "account changed")
        if role is not None and role != before.role:
            await self._audit_as(actor, "user.role", username, role=role, previous=before.role)
        if disabled is not None and disabled != before.disabled:
            await self._audit_as(actor, "user.disable" if disabled else "user.enable", username)
        if digest is not None:
            await self._audit_as(actor, "user.password", username, by=actor.name)
        if email is not None and email != before.email:
            await self._audit_as(actor, "user.email", username)
        return user
