"""Argument kinds of the operation table: each checks a value (errors name the field, through
`core.validate`), converts the text of a URL path or query, and describes itself as JSON
Schema for the OpenAPI document. One kind per shape of input, shared by every operation."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Final, Protocol

from trocadero.config.fields import NAME_MAX

from ..codec import parse_datetime
from ..errors import InvalidArgument
from ..validate import cue_number, level, name, seconds, short, target

__all__ = [
    "Arg",
    "Boolean",
    "Choice",
    "CueNumber",
    "Document",
    "Integer",
    "Kind",
    "Level",
    "Name",
    "Names",
    "Number",
    "Object",
    "Readings",
    "Rgb",
    "Seconds",
    "Target",
    "TargetMap",
    "Text",
    "Timestamp",
]

SECONDS_MAX: Final = 86400


class Kind(Protocol):
    def parse(self, value: Any, key: str) -> Any:
        """The checked value (`value` is never None: absent arguments take their default)."""
        ...

    def from_text(self, text: str, key: str) -> Any:
        """The value of a URL path segment or query parameter."""
        ...

    def schema(self) -> dict[str, Any]: ...


class _FromJsonText:
    """Kinds whose text form is their JSON value (numbers, booleans)."""

    def parse(self, value: Any, key: str) -> Any:
        raise NotImplementedError

    def from_text(self, text: str, key: str) -> Any:
        if text in ("true", "false"):
            return self.parse(text == "true", key)
        try:
            number: Any = int(text)
        except ValueError:
            try:
                number = float(text)
            except ValueError:
                return self.parse(text, key)  # the kind's own message names the field
        return self.parse(number, key)


@dataclass(frozen=True, slots=True)
class Name:
    """A non-empty name of at most `limit` characters (cue list, canvas, look, user, …)."""

    limit: int = NAME_MAX

    def parse(self, value: Any, key: str) -> str:
        text = name({key: value}, key)
        if len(text) > self.limit:
            raise InvalidArgument(f"{key}: at most {self.limit} characters (got {len(text)})")
        return text

    def from_text(self, text: str, key: str) -> str:
        return self.parse(text, key)

    def schema(self) -> dict[str, Any]:
        return {"type": "string", "minLength": 1, "maxLength": self.limit}


@dataclass(frozen=True, slots=True)
class Text:
    """Any string up to `limit` characters (a paging cursor, a filter)."""

    limit: int = 256

    def parse(self, value: Any, key: str) -> str:
        if not isinstance(value, str):
            raise InvalidArgument(f"{key}: expected a string (got {short(value)})")
        if len(value) > self.limit:
            raise InvalidArgument(f"{key}: at most {self.limit} characters (got {len(value)})")
        return value

    def from_text(self, text: str, key: str) -> str:
        return self.parse(text, key)

    def schema(self) -> dict[str, Any]:
        return {"type": "string", "maxLength": self.limit}


@dataclass(frozen=True, slots=True)
class Seconds(_FromJsonText):
    """A duration, 0..86400 s (fades, TTLs)."""

    def parse(self, value: Any, key: str) -> float:
        out = seconds({key: value}, key)
        assert out is not None
        return out

    def schema(self) -> dict[str, Any]:
        return {"type": "number", "minimum": 0, "maximum": SECONDS_MAX}


@dataclass(frozen=True, slots=True)
class Level(_FromJsonText):
    """A master level, 0..1."""

    def parse(self, value: Any, key: str) -> float:
        return level({key: value}, key)

    def schema(self) -> dict[str, Any]:
        return {"type": "number", "minimum": 0, "maximum": 1}


def _bounded(kind: str, minimum: float | None, maximum: float | None) -> dict[str, Any]:
    out: dict[str, Any] = {"type": kind}
    if minimum is not None:
        out["minimum"] = minimum
    if maximum is not None:
        out["maximum"] = maximum
    return out


@dataclass(frozen=True, slots=True)
class Number(_FromJsonText):
    minimum: float | None = None
    maximum: float | None = None

    def parse(self, value: Any, key: str) -> float:
        ok = not isinstance(value, bool) and isinstance(value, int | float)
        if not ok or not math.isfinite(value):
            raise InvalidArgument(f"{key}: expected a number (got {short(value)})")
        low = -math.inf if self.minimum is None else self.minimum
        high = math.inf if self.maximum is None else self.maximum
        if not low <= value <= high:
            raise InvalidArgument(f"{key}: must be between {low:g} and {high:g} (got {value!r})")
        return float(value)

    def schema(self) -> dict[str, Any]:
        return _bounded("number", self.minimum, self.maximum)


@dataclass(frozen=True, slots=True)
class Integer(_FromJsonText):
    minimum: int | None = None
    maximum: int | None = None

    def parse(self, value: Any, key: str) -> int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise InvalidArgument(f"{key}: expected an integer (got {short(value)})")
        if (self.minimum is not None and value < self.minimum) or (
            self.maximum is not None and value > self.maximum
        ):
            low = "" if self.minimum is None else str(self.minimum)
            high = "" if self.maximum is None else str(self.maximum)
            raise InvalidArgument(f"{key}: expected an integer {low}..{high} (got {value!r})")
        return value

    def schema(self) -> dict[str, Any]:
        return _bounded("integer", self.minimum, self.maximum)


@dataclass(frozen=True, slots=True)
class Boolean(_FromJsonText):
    def parse(self, value: Any, key: str) -> bool:
        if not isinstance(value, bool):
            raise InvalidArgument(f"{key}: expected true or false (got {short(value)})")
        return value

    def from_text(self, text: str, key: str) -> bool:
        # A query flag may also be 1 or 0 (``?open=1``); anything else is refused by parse.
        if text in ("true", "1", "false", "0"):
            return text in ("true", "1")
        return self.parse(text, key)

    def schema(self) -> dict[str, Any]:
        return {"type": "boolean"}


@dataclass(frozen=True, slots=True)
class Choice:
    """One of a few words (a role, a status filter)."""

    values: tuple[str, ...]

    def parse(self, value: Any, key: str) -> str:
        if value not in self.values:
            raise InvalidArgument(f"{key}: one of {', '.join(self.values)} (got {short(value)})")
        return str(value)

    def from_text(self, text: str, key: str) -> str:
        return self.parse(text, key)

    def schema(self) -> dict[str, Any]:
        return {"type": "string", "enum": list(self.values)}


@dataclass(frozen=True, slots=True)
class CueNumber:
    def parse(self, value: Any, key: str) -> Any:
        return cue_number({key: value}, key)

    def from_text(self, text: str, key: str) -> Any:
        return self.parse(text, key)

    def schema(self) -> dict[str, Any]:
        return {
            "oneOf": [{"type": "string", "pattern": r"^\d{1,4}(\.\d{1,3})?$"}, {"type": "number"}],
            "description": 'cue number, e.g. "12.5"',
        }


_TARGET_SCHEMA: Final = {
    "type": "object",
    "properties": {
        "look": {"type": "string", "minLength": 1},
        "rgb": {
            "type": "array",
            "items": {"type": "integer", "minimum": 0, "maximum": 65535},
            "minItems": 3,
            "maxItems": 3,
        },
    },
    "description": "either look or rgb (16-bit)",
}


class _NotText:
    """Kinds that only come in a JSON body or a socket request, never in a URL."""

    def parse(self, value: Any, key: str) -> Any:
        raise NotImplementedError

    def from_text(self, text: str, key: str) -> Any:
        raise InvalidArgument(f"{key}: cannot be given in the URL")


@dataclass(frozen=True, slots=True)
class Rgb(_NotText):
    """A 16-bit colour: three integers 0..65535."""

    def parse(self, value: Any, key: str) -> tuple[int, int, int]:
        if (
            not isinstance(value, list)
            or len(value) != 3
            or not all(
                isinstance(v, int) and not isinstance(v, bool) and 0 <= v <= 65535 for v in value
            )
        ):
            raise InvalidArgument(f"{key}: expected three integers 0..65535 (got {short(value)})")
        return (value[0], value[1], value[2])

    def schema(self) -> dict[str, Any]:
        return dict(_TARGET_SCHEMA["properties"]["rgb"])  # type: ignore[index]


@dataclass(frozen=True, slots=True)
class Target(_NotText):
    """``{"look": name}`` or ``{"rgb": [r, g, b]}``, as (look, rgb)."""

    def parse(self, value: Any, key: str) -> tuple[str | None, tuple[int, int, int] | None]:
        if not isinstance(value, dict):
            raise InvalidArgument(f"{key}: expected {{look}} or {{rgb}}")
        unknown = sorted(set(value) - {"look", "rgb"})
        if unknown:
            raise InvalidArgument(f"{key}.{unknown[0]}: not a field of a target (known: look, rgb)")
        return target(value, key)

    def schema(self) -> dict[str, Any]:
        return dict(_TARGET_SCHEMA)


@dataclass(frozen=True, slots=True)
class TargetMap(_NotText):
    """canvas → target, at least one."""

    def parse(self, value: Any, key: str) -> dict[str, Any]:
        if not isinstance(value, dict) or not value:
            raise InvalidArgument(f"{key}: expected a map of canvas -> {{look | rgb}}")
        return {str(c): Target().parse(spec, f"{key}.{c}") for c, spec in value.items()}

    def schema(self) -> dict[str, Any]:
        return {"type": "object", "additionalProperties": dict(_TARGET_SCHEMA), "minProperties": 1}


@dataclass(frozen=True, slots=True)
class Names(_NotText):
    """A list of names (canvases)."""

    def parse(self, value: Any, key: str) -> list[str]:
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise InvalidArgument(f"{key}: expected a list of canvas names (got {short(value)})")
        return [Name().parse(v, key) for v in value]

    def schema(self) -> dict[str, Any]:
        return {"type": "array", "items": Name().schema()}


@dataclass(frozen=True, slots=True)
class Object(_NotText):
    """Any JSON object (free-form metadata)."""

    def parse(self, value: Any, key: str) -> dict[str, Any]:
        if not isinstance(value, dict):
            raise InvalidArgument(f"{key}: expected an object (got {short(value)})")
        return value

    def schema(self) -> dict[str, Any]:
        return {"type": "object"}


@dataclass(frozen=True, slots=True)
class Readings(_NotText):
    """Sensor readings: name → number or true/false (checked in detail by the interaction)."""

    def parse(self, value: Any, key: str) -> Any:
        return value

    def schema(self) -> dict[str, Any]:
        return {"type": "object", "additionalProperties": {"type": ["number", "boolean"]}}


@dataclass(frozen=True, slots=True)
class Document(_NotText):
    """A show-file object (a look, a cue list, a cue), checked by its dataclass's decoder."""

    what: str
    properties: Mapping[str, Any] = field(default_factory=dict)

    def parse(self, value: Any, key: str) -> dict[str, Any]:
        if not isinstance(value, dict):
            raise InvalidArgument(f"{key}: expected a {self.what} object (got {short(value)})")
        return value

    def schema(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "type": "object",
            "description": f"a {self.what} (docs/show-file.md)",
        }
        if self.properties:
            out["properties"] = dict(self.properties)
        return out


@dataclass(frozen=True, slots=True)
class Timestamp:
    """An ISO 8601 date-time with offset."""

    def parse(self, value: Any, key: str) -> datetime:
        if isinstance(value, datetime) and value.tzinfo is not None:
            return value  # already parsed from the URL (from_text): the table parses again
        problems: list[str] = []
        if not isinstance(value, str):
            raise InvalidArgument(f"{key}: expected an ISO 8601 date-time (got {short(value)})")
        out = parse_datetime(value, key, problems)
        if problems or out is None:
            raise InvalidArgument("; ".join(problems) or f"{key}: not a date-time")
        return out

    def from_text(self, text: str, key: str) -> datetime:
        return self.parse(text, key)

    def schema(self) -> dict[str, Any]:
        return {"type": "string", "format": "date-time"}


@dataclass(frozen=True, slots=True)
class Arg:
    """One argument of an operation: absent, it takes `default` (None: not given)."""

    name: str
    kind: Kind
    required: bool = False
    default: Any = None
    doc: str = ""

    def schema(self) -> dict[str, Any]:
        out = self.kind.schema()
        if self.default is not None:
            out["default"] = self.default
        if self.doc:
            out["description"] = self.doc
        return out
