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
from trocadero.core.commands import Actor
from trocadero.core.errors import InvalidArgument, RefusedError, error_kind
from trocadero.core.login_throttle import LoginThrottle
from trocadero.core.storage import Storage

KEY = b"k" * 32
ADMIN = Actor("root", "admin", "api", "10.0.0.1")  # who manages the accounts in these tests


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
    await auth.create_user(ADMIN, "olga", "operator", "stage-left-42")
    pair = await auth.login("olga", "stage-left-42")
    actor = auth.authenticate(pair.access_token, "ui", "10.0.0.7")
    assert (actor.name, actor.role, actor.origin, actor.address) == (
        "olga",
        "operator",
        "ui",
        "10.0.0.7",
    )
    assert (await store.users.get_user("olga")).last_login is not None
    for name, pw in (("olga", "wrong-password"), ("nobody", "stage-left-42")):
        with pytest.raises(AuthError, match="wrong user name or password") as err:
            await auth.login(name, pw)
        assert err.value.status == 401
    clock.t += 901  # access tokens last 15 min by default
    with pytest.raises(AuthError, match="expired"):
        auth.authenticate(pair.access_token)
    with pytest.raises(InvalidArgument, match="at least 10"):
        await auth.create_user(ADMIN, "short", "viewer", "abc")


async def test_refresh_rotates_and_reuse_revokes_the_family(store: Storage) -> None:
    clock = Clock()
    auth = service(store, clock)
    await auth.create_user(ADMIN, "mia", "marketing", "posters-and-more")
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
    await auth.create_user(ADMIN, "vic", "viewer", "looking-only-1")
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
    await auth.create_user(ADMIN, "oz", "operator", "first-password")
    pair = await auth.login("oz", "first-password")
    clock.t += 1
    await auth.update_user(ADMIN, "oz", role="viewer")
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
    await auth.update_user(ADMIN, "oz", disabled=True)
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


async def _audit(store: Storage, action: str) -> list[tuple[str, str, str, dict[str, object]]]:
    page = await store.audit.list_audit(action=action, limit=100)
    return [(e.actor, e.target, e.address, dict(e.detail)) for e in reversed(page.items)]


async def test_failed_logins_slow_down_one_name_from_one_address_only(store: Storage) -> None:
    clock = Clock()
    auth = AuthService(
        store, KEY, AuthConfig(), now=clock, throttle=LoginThrottle(free=2, base_s=10, max_s=40)
    )
    await auth.create_user(ADMIN, "admin2", "admin", "the-real-password")
    await auth.create_user(ADMIN, "olga", "operator", "stage-left-42")
    for _ in range(2):  # free failures
        with pytest.raises(AuthError) as err:
            await auth.login("admin2", "guess-guess", address="203.0.113.9")
        assert err.value.status == 401
    with pytest.raises(AuthError) as err:
        await auth.login("admin2", "guess-guess", address="203.0.113.9")  # the delay starts
    assert err.value.status == 401
    # Now even the right password is refused from that address, without being checked…
    with pytest.raises(AuthError) as err:
        await auth.login("admin2", "the-real-password", address="203.0.113.9")
    assert (err.value.status, err.value.retry_after) == (429, 10)
    # …but the account logs in from anywhere else, and other names from that address work.
    assert (await auth.login("admin2", "the-real-password", address="10.0.0.5")).username
    assert (await auth.login("olga", "stage-left-42", address="203.0.113.9")).username
    # The delay doubles with every further failure, up to the cap.
    delays = []
    for _ in range(4):
        clock.t += 100
        with pytest.raises(AuthError):
            await auth.login("admin2", "guess-guess", address="203.0.113.9")
        with pytest.raises(AuthError) as err:
            await auth.login("admin2", "guess-guess", address="203.0.113.9")
        delays.append(err.value.retry_after)
    assert delays == [20, 40, 40, 40]
    # A success clears the pair.
    clock.t += 100
    await auth.login("admin2", "the-real-password", address="203.0.113.9")
    with pytest.raises(AuthError) as err:
        await auth.login("admin2", "guess-guess", address="203.0.113.9")
    assert err.value.status == 401
    failed = await _audit(store, "auth.login.failed")
    assert failed[0] == (
        "anonymous",
        "admin2",
        "203.0.113.9",
        {"reason": "wrong password", "delay_s": 0.0},
    )
    reasons = {d["reason"] for _, _, _, d in failed}
    assert reasons == {"wrong password", "throttled"}
    with pytest.raises(AuthError):
        await auth.login("nobody", "whatever-pw", address="203.0.113.10")
    with pytest.raises(AuthError):
        await auth.login("olga", "whatever-pw", address="203.0.113.10")
    assert [d["reason"] for *_, d in (await _audit(store, "auth.login.failed"))[-2:]] == [
        "unknown user",
        "wrong password",
    ]


async def test_logout_and_reuse_cut_off_the_access_tokens_of_that_login(store: Storage) -> None:
    auth = service(store, Clock())
    await auth.create_user(ADMIN, "lou", "operator", "lights-up-please")
    kept = await auth.login("lou", "lights-up-please")  # another login: unaffected throughout
    pair = await auth.login("lou", "lights-up-please")
    assert auth.authenticate(pair.access_token).name == "lou"
    assert await auth.logout(pair.refresh_token)
    with pytest.raises(AuthError, match="revoked"):
        auth.authenticate(pair.access_token)
    with pytest.raises(AuthError, match="revoked"):
        auth.password_change_token_user(pair.access_token)
    assert not await auth.logout("never-issued")
    first = await auth.login("lou", "lights-up-please")
    second = await auth.refresh(first.refresh_token)
    assert auth.authenticate(first.access_token).name == "lou"  # rotation alone cuts nothing
    with pytest.raises(AuthError, match="reused"):
        await auth.refresh(first.refresh_token)
    for access in (first.access_token, second.access_token):
        with pytest.raises(AuthError, match="revoked"):
            auth.authenticate(access)
    assert auth.authenticate(kept.access_token).name == "lou"
    assert [(a, t) for a, t, *_ in await _audit(store, "auth.token.reuse")] == [("lou", "lou")]
    assert [(a, t) for a, t, *_ in await _audit(store, "auth.logout")] == [("lou", "lou")]


async def test_revocations_survive_a_restart_and_reach_other_processes(store: Storage) -> None:
    # The real clock: the store stamps revocations with it.
    running = AuthService(store, KEY, AuthConfig())
    await running.bootstrap()
    await running.create_user(ADMIN, "ned", "viewer", "night-shift-1")
    pair = await running.login("ned", "night-shift-1")
    other = AuthService(store, KEY, AuthConfig())  # e.g. `trocadero users` on the appliance
    await other.logout(pair.refresh_token)
    assert running.authenticate(pair.access_token).name == "ned"  # not re-read yet
    await running.sync_revocations(force=True)
    with pytest.raises(AuthError, match="revoked"):
        running.authenticate(pair.access_token)
    # A restarted service loads them at start; a password reset elsewhere cuts off too.
    pair = await running.login("ned", "night-shift-1")
    await other.reset_password(ADMIN, "ned")
    restarted = AuthService(store, KEY, AuthConfig())
    await restarted.bootstrap()
    with pytest.raises(AuthError, match="revoked"):
        restarted.authenticate(pair.access_token)


async def test_the_last_enabled_admin_cannot_be_disabled_or_demoted(store: Storage) -> None:
    auth = service(store, Clock(), admin_password="first-admin-pw")
    await auth.bootstrap()
    me = Actor("admin", "admin", "api")
    for change in ({"disabled": True}, {"role": "operator"}):
        with pytest.raises(RefusedError, match="last enabled admin") as err:
            await auth.update_user(me, "admin", **change)
        kind = error_kind(err.value)
        assert kind is not None
        assert (kind.code, kind.status) == ("refused", 409)
    assert (await store.users.get_user("admin")).role == "admin"
    # A disabled admin does not count; an enabled second one does.
    await auth.create_user(me, "backup", "admin", "backup-admin-pw")
    await auth.update_user(me, "backup", disabled=True)
    with pytest.raises(RefusedError, match="last enabled admin"):
        await auth.update_user(me, "admin", role="viewer")
    await auth.update_user(me, "backup", disabled=False)
    await auth.update_user(me, "admin", role="operator")  # allowed now
    with pytest.raises(RefusedError, match="last enabled admin"):
        await auth.update_user(me, "backup", disabled=True)
    # Other changes to the last admin are fine.
    await auth.update_user(me, "backup", email="backup@example.org")


async def test_account_changes_are_audited_with_actor_and_target(store: Storage) -> None:
    auth = service(store, Clock())
    await auth.create_user(ADMIN, "ava", "viewer", "first-password", "ava@example.org")
    await auth.update_user(ADMIN, "ava", role="operator")
    await auth.update_user(ADMIN, "ava", disabled=True)
    await auth.update_user(ADMIN, "ava", disabled=False)
    await auth.update_user(ADMIN, "ava", password="set-by-admin-1")
    await auth.login("ava", "set-by-admin-1", address="10.1.1.1", origin="ui")
    await auth.change_password("ava", "set-by-admin-1", "chosen-by-ava", address="10.1.1.1")
    one_time = await auth.reset_password(ADMIN, "ava")
    assert (await auth.login("ava", one_time)).password_change_required
    page = await store.audit.list_audit(limit=100)
    got = [(e.actor, e.action, e.target, dict(e.detail)) for e in reversed(page.items)]
    assert got == [
        ("root", "user.create", "ava", {"role": "viewer"}),
        ("root", "user.role", "ava", {"role": "operator", "previous": "viewer"}),
        ("root", "user.disable", "ava", {}),
        ("root", "user.enable", "ava", {}),
        ("root", "user.password", "ava", {"by": "root"}),
        ("ava", "auth.login", "ava", {}),
        ("ava", "user.password", "ava", {"by": "self"}),
        ("root", "user.password", "ava", {"by": "root"}),
        ("ava", "auth.login", "ava", {}),
    ]
    login = next(e for e in page.items if e.action == "auth.login" and e.origin == "ui")
    assert (login.role, login.address) == ("operator", "10.1.1.1")
