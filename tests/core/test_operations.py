"""The operation table without a daemon: argument kinds, the one error table, the registry's
order of checks (role, then arguments), and which operations a registry serves."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

import pytest
import trio

from trocadero.core.errors import (
    ERROR_KINDS,
    ConflictError,
    InvalidArgument,
    RefusedError,
    UnavailableError,
    error_kind,
)
from trocadero.core.operations import OPERATIONS, Arg, Operation, OpError, Rest, Services
from trocadero.core.operations.args import (
    Boolean,
    Choice,
    CueNumber,
    Integer,
    Kind,
    Name,
    Number,
    Rgb,
    Seconds,
    TargetMap,
)
from trocadero.core.operations.registry import Registry, as_op_error
from trocadero.core.permissions import Actor, Forbidden
from trocadero.core.playback.cuelist import PlaybackError, UnknownName
from trocadero.core.storage import Conflict, NotFound, StorageError, ValidationError

VIEWER = Actor("v", "viewer", "api")
OPERATOR = Actor("o", "operator", "api")


def test_kinds_check_and_name_the_field() -> None:
    assert Seconds().parse(2, "fade") == 2.0
    assert Seconds().from_text("1.5", "fade") == 1.5
    assert CueNumber().parse("12.5", "cue") == Decimal("12.5")
    assert Rgb().parse([1, 2, 3], "rgb") == (1, 2, 3)
    assert Integer(1, 10).from_text("7", "limit") == 7
    assert Boolean().from_text("true", "on") is True
    assert TargetMap().parse({"a": {"look": "x"}}, "canvases") == {"a": ("x", None)}
    refusals: list[tuple[Kind, Any, str]] = [
        (Seconds(), -1, "fade: must be between 0 and 86400"),
        (Seconds(), "soon", "fade: expected a number of seconds"),
        (Integer(1, 10), 11, "limit: expected an integer 1..10"),
        (Integer(), True, "limit: expected an integer"),
        (Number(0, 1), float("nan"), "x: expected a number"),
        (Rgb(), [1, 2], "rgb: expected three integers 0..65535"),
        (Name(3), "long", "n: at most 3 characters"),
        (Choice(("a", "b")), "c", "c: one of a, b"),
        (TargetMap(), {"a": {"look": "x", "fade": 1}}, "canvases.a.fade: not a field"),
    ]
    for kind, value, message in refusals:
        key = message.split(":")[0].split(".")[0]
        with pytest.raises(InvalidArgument, match=message.split(": ", 1)[1]) as err:
            kind.parse(value, key)
        assert str(err.value).startswith(message.split(": ")[0])


def test_every_exception_kind_has_one_code_and_status() -> None:
    cases: list[tuple[Exception, str, int]] = [
        (InvalidArgument("x: bad"), "bad_args", 400),
        (PlaybackError("level must be between 0 and 1"), "bad_args", 400),
        (UnknownName('no cue list "x"'), "not_found", 404),  # a bad argument, not found first
        (NotFound("no look"), "not_found", 404),
        (Conflict("in use"), "conflict", 409),
        (RefusedError("input asserted"), "refused", 409),
        (Forbidden(VIEWER, "go"), "forbidden", 403),
        (StorageError("disk"), "unavailable", 503),
        (ValidationError(["a: bad", "b: bad"]), "bad_args", 400),
    ]
    for exc, code, status in cases:
        mapped = as_op_error(exc)
        assert isinstance(mapped, OpError), exc
        assert (mapped.code, mapped.status) == (code, status), exc
    problems = as_op_error(ValidationError(["a: bad", "b: bad"]))
    assert isinstance(problems, OpError)
    assert problems.message == "a: bad; b: bad"
    assert problems.detail["problems"] == ["a: bad", "b: bad"]
    assert as_op_error(KeyError("a bug")).__class__ is KeyError  # not a domain error
    assert [k.code for k in ERROR_KINDS] == [
        "not_found",
        "bad_args",
        "forbidden",
        "conflict",
        "refused",
        "unavailable",
    ]
    assert error_kind(ConflictError()) is not None
    assert error_kind(UnavailableError()) is not None


def _table(calls: list[Mapping[str, Any]]) -> Registry:
    async def run(s: Services, actor: Actor, args: Mapping[str, Any]) -> Any:
        calls.append(args)
        return {"outcome": "done"}

    ops = (
        Operation(
            "probe",
            "a probe",
            "playback",
            (Arg("list", Name(), required=True), Arg("fade", Seconds(), default=0.0)),
            run,
            rest=Rest("POST", "/api/probe"),
            needs=(),
        ),
        Operation("needs.show", "needs a store", "read", (), run, needs=("show",)),
    )
    return Registry(ops, Services())


def test_the_registry_checks_role_then_arguments_then_runs() -> None:
    calls: list[Mapping[str, Any]] = []
    table = _table(calls)
    assert table.names() == ["probe", "subscribe", "unsubscribe"]  # no store: no needs.show

    async def main() -> None:
        with pytest.raises(OpError) as err:
            await table.call(VIEWER, "probe", {"lst": "x"})
        assert (err.value.code, err.value.message) == ("forbidden", 'role "viewer" may not probe')
        with pytest.raises(OpError) as err:
            await table.call(OPERATOR, "probe", {"lst": "x"})
        assert err.value.message == "lst: not an argument of probe (known: list, fade)"
        with pytest.raises(OpError) as err:
            await table.call(OPERATOR, "probe", {})
        assert err.value.message == "list: required"
        with pytest.raises(OpError) as err:
            await table.call(OPERATOR, "nope", {})
        assert err.value.code == "unknown_op"
        assert await table.call(OPERATOR, "probe", {"list": "main"}) == {"outcome": "done"}

    trio.run(main)
    assert calls == [{"list": "main", "fade": 0.0}]  # defaults applied, nothing else ran


def test_operation_names_and_routes_are_unique() -> None:
    names = [op.name for op in OPERATIONS]
    assert len(names) == len(set(names))
    routes = [(op.rest.method, op.rest.path) for op in OPERATIONS if op.rest is not None]
    assert len(routes) == len(set(routes))
    for op in OPERATIONS:
        if op.rest is None:
            continue
        for param in op.rest.path.split("{")[1:]:
            assert param.split("}")[0].split(":")[0] in op.arg_names, (op.name, param)
        if op.rest.body is not None:
            assert op.rest.body in op.arg_names, op.name
