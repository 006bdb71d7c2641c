"""Trigger-rule operations (core/rule_service.py): list with live state, get, put (validated
against the show), delete, enable/disable, why (live state), and test (evaluate a document
against given readings without acting: the editor's button)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

from ..errors import InvalidArgument
from ..permissions import Actor
from ..validate import short
from .args import Arg, Document, Name, Number, _NotText
from .spec import Operation, Rest, Services

__all__ = ["OPERATIONS"]

_NAME: Final = Arg("name", Name(), required=True, doc="rule")
_RULE_DOC: Final = Document(
    "trigger rule (docs/rules.md)",
    {
        "when": {"type": "object"},
        "on_rise": {"type": "array", "items": {"type": "object"}},
        "on_fall": {"type": "array", "items": {"type": "object"}},
    },
)
_STATE: Final = {
    "type": "object",
    "properties": {
        "name": {"type": "string"},
        "enabled": {"type": "boolean"},
        "on": {"type": "boolean", "description": "the rule's debounced truth"},
        "since": {"type": ["number", "null"], "description": "of the last rise or fall (Unix s)"},
        "condition": {"type": "boolean", "description": "the condition's raw truth"},
        "condition_since": {"type": ["number", "null"]},
        "last_fire": {"type": ["number", "null"]},
        "fires": {"type": "integer"},
        "held": {"type": ["string", "null"], "description": "debounce, min_on_s, cooldown…"},
        "readings": {"type": "array", "items": {"type": "object"}},
    },
}
_EDITED: Final = {
    "type": "object",
    "properties": {"outcome": {"type": "string"}, "created": {"type": "boolean"}},
    "required": ["outcome"],
}


@dataclass(frozen=True, slots=True)
class _ReadingList(_NotText):
    """Readings to test a rule with: [{sensor, values, at?}] and touches
    [{touch, canvas, points, at?}]."""

    def parse(self, value: Any, key: str) -> list[Any]:
        if not isinstance(value, list) or len(value) > 1000:
            raise InvalidArgument(f"{key}: expected an array of readings (got {short(value)})")
        return value

    def schema(self) -> dict[str, Any]:
        reading = {
            "type": "object",
            "properties": {
                "sensor": {"type": "string"},
                "values": {"type": "object"},
                "at": {"type": "number", "description": "Unix s; absent: the test's time"},
            },
            "required": ["sensor", "values"],
        }
        touches = {
            "type": "object",
            "properties": {
                "touch": {"type": "string", "description": "the touch surface"},
                "canvas": {"type": "string"},
                "points": {
                    "type": "array",
                    "description": "every touch down on the surface: [x, y] in canvas pixels",
                    "items": {"type": "array", "items": {"type": "number"}},
                },
                "at": {"type": "number", "description": "Unix s; absent: the test's time"},
            },
            "required": ["touch", "canvas", "points"],
        }
        return {"type": "array", "items": {"anyOf": [reading, touches]}}


async def _list(s: Services, actor: Actor, a: Mapping[str, Any]) -> Any:
    return {"items": s.rule_service().all(actor)}


async def _get(s: Services, actor: Actor, a: Mapping[str, Any]) -> Any:
    return s.rule_service().get(actor, a["name"])


async def _put(s: Services, actor: Actor, a: Mapping[str, Any]) -> Any:
    return await s.rule_service().put(actor, a["name"], a["rule"])


async def _delete(s: Services, actor: Actor, a: Mapping[str, Any]) -> Any:
    return await s.rule_service().delete(actor, a["name"])


async def _enable(s: Services, actor: Actor, a: Mapping[str, Any]) -> Any:
    return await s.rule_service().enable(actor, a["name"], True)


async def _disable(s: Services, actor: Actor, a: Mapping[str, Any]) -> Any:
    return await s.rule_service().enable(actor, a["name"], False)


async def _why(s: Services, actor: Actor, a: Mapping[str, Any]) -> Any:
    return s.rule_service().why(actor, a["name"])


async def _test(s: Services, actor: Actor, a: Mapping[str, Any]) -> Any:
    return s.rule_service().test(actor, a["rule"], a["readings"], a["at"])


OPERATIONS: Final[tuple[Operation, ...]] = (
    Operation(
        "rule.list",
        "the trigger rules, each with its live state",
        "read",
        (),
        _list,
        {"type": "object", "properties": {"items": {"type": "array", "items": {"type": "object"}}}},
        Rest("GET", "/api/rules"),
        needs=("rules",),
        action="read the rules",
    ),
    Operation(
        "rule.get",
        "one trigger rule's document",
        "read",
        (_NAME,),
        _get,
        {"type": "object"},
        Rest("GET", "/api/rules/{name}"),
        needs=("rules",),
        action="read the rules",
    ),
    Operation(
        "rule.put",
        "create or replace a trigger rule (docs/rules.md; checked against the show)",
        "show.edit",
        (_NAME, Arg("rule", _RULE_DOC, required=True)),
        _put,
        _EDITED,
        Rest("PUT", "/api/rules/{name}", body="rule", created=201),
        needs=("rules",),
        action="edit rules",
        snapshot=lambda a, r: f'rule "{a["name"]}" changed',
    ),
    Operation(
        "rule.delete",
        "delete a trigger rule",
        "show.edit",
        (_NAME,),
        _delete,
        _EDITED,
        Rest("DELETE", "/api/rules/{name}"),
        needs=("rules",),
        action="edit rules",
        snapshot=lambda a, r: f'rule "{a["name"]}" deleted',
    ),
    Operation(
        "rule.enable",
        "enable a trigger rule (it starts false and rises when its condition holds)",
        "show.edit",
        (_NAME,),
        _enable,
        _EDITED,
        Rest("POST", "/api/rules/{name}/enable"),
        needs=("rules",),
        action="edit rules",
        snapshot=lambda a, r: f'rule "{a["name"]}" enabled',
    ),
    Operation(
        "rule.disable",
        "disable a trigger rule (what it started keeps playing)",
        "show.edit",
        (_NAME,),
        _disable,
        _EDITED,
        Rest("POST", "/api/rules/{name}/disable"),
        needs=("rules",),
        action="edit rules",
        snapshot=lambda a, r: f'rule "{a["name"]}" disabled',
    ),
    Operation(
        "rule.why",
        "a rule's live state: true or false since when, last fire, what holds it, the readings",
        "read",
        (_NAME,),
        _why,
        _STATE,
        Rest("GET", "/api/rules/{name}/why"),
        needs=("rules",),
        action="read the rules",
    ),
    Operation(
        "rule.test",
        "evaluate a rule document against readings at a time, without acting or storing",
        "read",
        (
            Arg("rule", _RULE_DOC, required=True),
            Arg("readings", _ReadingList(), default=[]),
            Arg("at", Number(0.0, 1e11), doc="Unix s; absent: now"),
        ),
        _test,
        {
            "type": "object",
            "properties": {
                "problems": {"type": "array", "items": {"type": "string"}},
                "fires": {"type": "array", "items": {"type": "object"}},
                "state": _STATE,
            },
        },
        Rest("POST", "/api/rules/test"),
        needs=("rules",),
        action="test rules",
    ),
)
