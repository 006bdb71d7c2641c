"""Users, logins and tokens over a real store (SQLite and PostgreSQL): scrypt hashes, JWT
access tokens, rotating refresh tokens with reuse detection, revocation, the first admin."""

from __future__ import annotations

import base64
import json

import pytest

from trocadero.config.schema import AuthConfig
from trocadero.core.auth import (
    AuthError,
    AuthService,
    decode_jwt,
    encode_jwt,
    hash_password,
    verify_password,
)
from trocadero.core.storage import Storage

KEY = b"k" * 32


class Clock:
    def __init__(self) -> None:
        self.t = 1_800_000_000.0

    def __call__(self) -> float:
        return self.t


def service(store: Storage, clock: Clock, **config: object) -> AuthService:
    return AuthService(store, KEY, AuthConfig(**config), now=clock)  # type: ignore[arg-type]


def test_password_hash_round_trip_and_salt() -> None:
    a, b = hash_password("correct horse"), hash_password("correct horse")
    assert a != b  # salted
    assert a.startswith("scrypt$16384$8$1$")
    assert verify_password("correct horse", a)
    assert not verify_password("correct horsE", a)
    assert not verify_password("x", "not-a-hash")
    assert not verify_password("x", "bcrypt$1$2$3$4$5")


def test_jwt_rejects_tampering_expiry_and_alg_none() -> None:
    token = encode_jwt({"sub": "ann", "role": "viewer", "exp": 100}, KEY)
    assert decode_jwt(token, KEY, now=99)["sub"] == "ann"
    with pytest.raises(AuthError, match="expired"):
        decode_jwt(token, KEY, now=100)
    head, body, sig = token.split(".")
    forged = json.dumps({"sub": "ann", "role": "admin", "exp": 100}).encode()
    forged_body = base64.urlsafe_b64encode(forged).rstrip(b"=").decode()
    with pytest.raises(AuthError, match="signature"):
        decode_jwt(f"{head}.{forged_body}.{sig}", KEY, now=0)
    with pytest.raises(AuthError, match="signature"):
        decode_jwt(token, b"other" * 8, now=0)
    none_head = base64.urlsafe_b64encode(b'{"alg":"none"}').rstrip(b"=").decode()
    with pytest.raises(AuthError):
        decode_jwt(f"{none_head}.{body}.", KEY, now=0)
    for junk in ("", "a.b", "a.b.c", "...."):
        with pytest.raises(AuthError):
            decode_jwt(junk, KEY, now=0)


async def test_login_authenticate_and_wrong_passwords(store: Storage) -> None:
    clock = Clock()
    auth = service(store, clock)
    await auth.create_user("olga", "operator", "stage-left-42")
    pair = await auth.login("olga", "stage-left-42")
    actor = auth.authenticate(pair.access_token, "ui", "10.0.0.7")
    assert (actor.name, actor.role, actor.origin, actor.address) == (
        "olga",
        "operator",
        "ui",
        "10.0.0.7",
    )
    assert (await store.get_user("olga")).last_login is not None
    for name, pw in (("olga", "wrong-password"), ("nobody", "stage-left-42")):
        with pytest.raises(AuthError, match="wrong user name or password") as err:
            await auth.login(name, pw)
        assert err.value.status == 401
    clock.t += 901  # access tokens last 15 min by default
    with pytest.raises(AuthError, match="expired"):
        auth.authenticate(pair.access_token)
    with pytest.raises(AuthError, match="at least 10"):
        await auth.create_user("short", "viewer", "abc")


async def test_refresh_rotates_and_reuse_revokes_the_family(store: Storage) -> None:
    clock = Clock()
    auth = service(store, clock)
    await auth.create_user("mia", "marketing", "posters-and-more")
    first = await auth.login("mia", "posters-and-more")
    clock.t += 5
    second = await auth.refresh(first.refresh_token)
    assert second.refresh_token != first.refresh_token
    assert auth.authenticate(second.access_token).name == "mia"
    # The rotated-out token comes back (a stolen copy): refused, and the family is revoked,
    # so the legitimate holder's current token stops working too.
    with pytest.raises(AuthError, match="reused"):
        await auth.refresh(first.refresh_token)
    with pytest.raises(AuthError, match="revoked"):
        await auth.refresh(second.refresh_token)
    # A separate login is a separate family and unaffected.
    third = await auth.login("mia", "posters-and-more")
    assert (await auth.refresh(third.refresh_token)).username == "mia"
    with pytest.raises(AuthError, match="unknown"):
        await auth.refresh("never-issued")


async def test_logout_expiry_and_stored_hashes_only(store: Storage) -> None:
    clock = Clock()
    auth = service(store, clock, refresh_ttl_s=600.0)
    await auth.create_user("vic", "viewer", "looking-only-1")
    pair = await auth.login("vic", "looking-only-1")
    assert await store.tokens.owner(pair.refresh_token) is None  # only the hash is stored
    assert await auth.logout(pair.refresh_token)
    with pytest.raises(AuthError, match="revoked"):
        await auth.refresh(pair.refresh_token)
    again = await auth.login("vic", "looking-only-1")
    clock.t += 601
    with pytest.raises(AuthError, match="expired"):
        await auth.refresh(again.refresh_token)


async def test_disable_role_change_and_password_change_cut_off_tokens(store: Storage) -> None:
    clock = Clock()
    auth = service(store, clock)
    await auth.create_user("oz", "operator", "first-password")
    pair = await auth.login("oz", "first-password")
    clock.t += 1
    await auth.update_user("oz", role="viewer")
    with pytest.raises(AuthError, match="revoked"):
        auth.authenticate(pair.access_token)  # the old token carried "operator"
    with pytest.raises(AuthError):
        await auth.refresh(pair.refresh_token)
    pair = await auth.login("oz", "first-password")
    assert auth.authenticate(pair.access_token).role == "viewer"
    clock.t += 1
    await auth.change_password("oz", "first-password", "second-password")
    with pytest.raises(AuthError):
        auth.authenticate(pair.access_token)
    with pytest.raises(AuthError):
        await auth.login("oz", "first-password")
    pair = await auth.login("oz", "second-password")
    clock.t += 1
    await auth.update_user("oz", disabled=True)
    with pytest.raises(AuthError):
        auth.authenticate(pair.access_token)
    with pytest.raises(AuthError, match="disabled"):
        await auth.login("oz", "second-password")


async def test_first_start_one_time_password_must_be_changed(store: Storage) -> None:
    clock = Clock()
    auth = service(store, clock)
    one_time = await auth.bootstrap()
    assert one_time is not None
    assert await auth.bootstrap() is None  # users exist now: nothing more is created
    pair = await auth.login("admin", one_time)
    assert pair.password_change_required
    with pytest.raises(AuthError, match="password change required") as err:
        auth.authenticate(pair.access_token)
    assert err.value.status == 403
    assert auth.password_change_token_user(pair.access_token) == "admin"
    await auth.change_password("admin", one_time, "a-real-admin-password")
    # The flag is stored: a restarted service (new instance) does not ask again.
    fresh = service(store, clock)
    assert await fresh.bootstrap() is None
    pair = await fresh.login("admin", "a-real-admin-password")
    assert not pair.password_change_required
    assert fresh.authenticate(pair.access_token).role == "admin"


async def test_configured_admin_password(store: Storage) -> None:
    auth = service(store, Clock(), admin_user="root", admin_password="from-the-config")
    assert await auth.bootstrap() is None
    pair = await auth.login("root", "from-the-config")
    assert not pair.password_change_required
    assert auth.authenticate(pair.access_token).role == "admin"
