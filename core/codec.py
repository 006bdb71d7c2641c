"""Dataclasses ⇄ plain JSON-ready values, one convention for the show file, the store and the
REST layer.

`to_plain(obj)` gives dicts, lists, strings, numbers, booleans and None: every field, defaults
included (so output is deterministic); a `Decimal` (cue number) as its canonical string
("12.5", "10"), a datetime as ISO 8601 in UTC, tuples as lists.

`from_plain(cls, mapping)` validates with the config loader (`build_dataclass`), so problems
read `cues[2 cue 12.5].follow: must be between 0 and 86400 (got -1)`, the same wording as a
TOML show file; datetime fields (which TOML-shaped validation does not know) are checked here.
"""

from __future__ import annotations

import dataclasses
import functools
import types
from collections.abc import Mapping
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, TypeVar, Union, get_args, get_origin, get_type_hints

from trocadero.config.loader import build_dataclass

__all__ = ["canonical_decimal", "format_datetime", "from_plain", "parse_datetime", "to_plain"]

T = TypeVar("T")


def canonical_decimal(value: Decimal) -> str:
    """ "12.5", "10", "0.001": no exponent, no trailing zeros (one spelling per number)."""
    text = format(value.normalize(), "f")
    return "0" if text in ("-0", "0") else text


def format_datetime(value: datetime) -> str:
    """ISO 8601 in UTC, e.g. "2026-05-20T18:00:00+00:00"; naive datetimes are refused."""
    if value.tzinfo is None:
        raise ValueError(f"naive datetime {value!r}: give a timezone (UTC)")
    return value.astimezone(UTC).isoformat()


def parse_datetime(value: Any, where: str, problems: list[str]) -> datetime | None:
    """An ISO 8601 string with an offset (or an aware datetime) → aware datetime in UTC."""
    if isinstance(value, datetime):
        parsed = value
    elif isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value.strip())
        except ValueError:
            problems.append(
                f"{where}: expected an ISO 8601 date and time, e.g. "
                f"2026-05-20T18:00:00+00:00 (got {value!r})"
            )
            return None
    else:
        problems.append(f"{where}: expected an ISO 8601 date-time string (got {value!r})")
        return None
    if parsed.tzinfo is None:
        problems.append(f"{where}: needs a UTC offset, e.g. +00:00 or Z (got {value!r})")
        return None
    return parsed.astimezone(UTC)


def to_plain(value: Any) -> Any:
    """A dataclass (or any value inside one) as JSON-ready plain values."""
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        return value
    if isinstance(value, Decimal):
        return canonical_decimal(value)
    if isinstance(value, datetime):
        # A naive datetime stays naive here so that `from_plain` reports it by field name.
        return format_datetime(value) if value.tzinfo is not None else value.isoformat()
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: to_plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, Mapping):
        return {str(k): to_plain(v) for k, v in value.items()}
    if isinstance(value, tuple | list):
        return [to_plain(v) for v in value]
    raise TypeError(f"cannot make a plain value of {type(value).__name__}: {value!r}")


@functools.cache
def _datetime_fields(cls: type) -> dict[str, bool]:
    """Names of `cls`'s datetime fields → whether None is allowed."""
    found: dict[str, bool] = {}
    for name, tp in get_type_hints(cls).items():
        if tp is datetime:
            found[name] = False
        elif get_origin(tp) in (Union, types.UnionType) and datetime in get_args(tp):
            found[name] = True
    return found


def _where(path: tuple[str, ...], name: str) -> str:
    return ".".join((*path, name))


def from_plain(
    cls: type[T], mapping: Any, path: tuple[str, ...] = ()
) -> tuple[T | None, list[str]]:
    """Validate plain values against dataclass `cls`: (object, []) or (None, problems).

    `mapping` is what a request or file held (anything but a mapping is a problem too);
    `path` prefixes every problem's key (e.g. ("schedules[2]",)).
    """
    if not isinstance(mapping, Mapping):
        where = ".".join(path) or "(top level)"
        return None, [f"{where}: expected an object (got {type(mapping).__name__})"]
    stamps = _datetime_fields(cls)  # type: ignore[arg-type]  # a class is hashable
    rest = {k: v for k, v in mapping.items() if k not in stamps}
    problems: list[str] = []
    parsed: dict[str, datetime | None] = {}
    for name, nullable in stamps.items():
        if name not in mapping:
            continue
        raw = mapping[name]
        if raw is None and nullable:
            parsed[name] = None
            continue
        stamp = parse_datetime(raw, _where(path, name), problems)
        if stamp is not None:
            parsed[name] = stamp
    built, found = build_dataclass(cls, rest, path)
    problems = found + problems
    if problems or built is None:
        return None, problems
    return (dataclasses.replace(built, **parsed) if parsed else built), []  # type: ignore[type-var]
