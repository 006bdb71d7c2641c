"""User accounts (admin): list, read, create, change (docs/auth.md). Logins, token refresh
and password changes check their own credentials and stay routes of `web/auth.py`."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Final

from trocadero.config.fields import EMAIL_MAX, PAGE_DEFAULT, PAGE_MAX

from ..permissions import Actor
from .args import Arg, Boolean, Choice, Integer, Name, Text
from .spec import Operation, Rest, Services

if TYPE_CHECKING:
    from ..auth import AuthService

__all__ = ["OPERATIONS", "user_json"]

ROLE: Final = Choice(("admin", "operator", "marketing", "viewer"))
_USER: Final = {
    "type": "object",
    "properties": {
        "name": {"type": "string"},
        "role": ROLE.schema(),
        "email": {"type": "string"},
        "disabled": {"type": "boolean"},
        "created_at": {"type": "string", "format": "date-time"},
        "last_login": {"type": ["string", "null"], "format": "date-time"},
    },
}


def user_json(user: Any) -> dict[str, Any]:
    return {
        "name": user.username,
        "role": user.role,
        "email": user.email,
        "disabled": user.disabled,
        "created_at": user.created_at.isoformat(),
        "last_login": None if user.last_login is None else user.last_login.isoformat(),
    }


def _auth(s: Services) -> AuthService:
    assert s.auth is not None  # in a registry only with the accounts
    return s.auth


async def _users(s: Services, actor: Actor, a: Mapping[str, Any]) -> Any:
    page = await _auth(s).store.users.list_users(limit=a["limit"], cursor=a["cursor"])
    return {"users": [user_json(u) for u in page.items], "next": page.next}


async def _user(s: Services, actor: Actor, a: Mapping[str, Any]) -> Any:
    return user_json(await _auth(s).store.users.get_user(a["name"]))


async def _create(s: Services, actor: Actor, a: Mapping[str, Any]) -> Any:
    made = await _auth(s).create_user(actor, a["name"], a["role"], a["password"], a["email"])
    return user_json(made)


async def _update(s: Services, actor: Actor, a: Mapping[str, Any]) -> Any:
    updated = await _auth(s).update_user(
        actor,
        a["name"],
        role=a["role"],
        disabled=a["disabled"],
        email=a["email"],
        password=a["password"],
    )
    return user_json(updated)


_NAME: Final = Arg("name", Name(64), required=True, doc="user name")
_PASSWORD: Final = Text(1000)
_EMAIL: Final = Text(EMAIL_MAX)
_NEEDS: Final = ("auth",)

OPERATIONS: Final[tuple[Operation, ...]] = (
    Operation(
        "users",
        "the accounts, a page at a time",
        "users.manage",
        (
            Arg("limit", Integer(1, PAGE_MAX), default=PAGE_DEFAULT),
            Arg("cursor", Text(), doc="the previous page's next"),
        ),
        _users,
        {"type": "object", "properties": {"users": {"type": "array", "items": _USER}}},
        Rest("GET", "/api/users"),
        needs=_NEEDS,
        action="manage users",
    ),
    Operation(
        "user",
        "one account",
        "users.manage",
        (_NAME,),
        _user,
        _USER,
        Rest("GET", "/api/users/{name}"),
        needs=_NEEDS,
        action="manage users",
    ),
    Operation(
        "user.create",
        "create an account",
        "users.manage",
        (
            _NAME,
            Arg("role", ROLE, required=True),
            Arg("password", _PASSWORD, required=True),
            Arg("email", _EMAIL, default=""),
        ),
        _create,
        _USER,
        Rest("POST", "/api/users", status=201),
        needs=_NEEDS,
        action="manage users",
    ),
    Operation(
        "user.update",
        "change an account's role, state, e-mail or password",
        "users.manage",
        (
            _NAME,
            Arg("role", ROLE),
            Arg("disabled", Boolean()),
            Arg("email", _EMAIL),
            Arg("password", _PASSWORD),
        ),
        _update,
        _USER,
        Rest("PATCH", "/api/users/{name}"),
        needs=_NEEDS,
        action="manage users",
    ),
)
