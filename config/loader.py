"""TOML → frozen config dataclasses, with every error reported at once.

Each error reads `FILE: key.path: what is wrong (got X)`, so an operator can fix a config
file in one pass instead of one restart per typo.
"""

from __future__ import annotations

import difflib
import functools
import json
import math
import tomllib
import types
from collections.abc import Mapping
from dataclasses import MISSING, Field, fields, is_dataclass
from decimal import Decimal, InvalidOperation
from importlib import resources
from pathlib import Path
from typing import Any, Literal, TypeVar, Union, get_args, get_origin, get_type_hints

from .fields import TEXT_MAX
from .schema import Config
from .show import ShowDef

T = TypeVar("T")

DEFAULT_CONFIG_NAME = "default.toml"


class ConfigError(Exception):
    """A config file could not be read or does not match the schema.

    `problems` holds one line per error, each already prefixed with the file name.
    """

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


def load_config(path: str | Path) -> Config:
    """Read and validate a TOML config file."""
    return parse_config(read_text(path), source=str(path))


def load_default_config() -> Config:
    """The embedded default config: runs on a bare machine, no hardware and no servers."""
    text = resources.files(__package__).joinpath(DEFAULT_CONFIG_NAME).read_text("utf-8")
    return parse_config(text, source=f"<embedded {DEFAULT_CONFIG_NAME}>")


DEFAULT_SHOW_NAME = "default_show.toml"


# A show file's `[[schedules]]` tables as read (plain TOML values). The schedule entry's type and
# its checks (RRULE, zones, targets) belong to the core, which this package may not import:
# `playout/showload.py` validates them.
RawSchedules = tuple[Mapping[str, Any], ...]


def load_show(path: str | Path) -> ShowDef:
    """Read and validate a show file (canvases, fixture types, fixtures, looks)."""
    return read_show(path)[0]


def load_default_show() -> ShowDef:
    """The embedded default Trocadero show."""
    return read_default_show()[0]


def read_show(path: str | Path) -> tuple[ShowDef, RawSchedules]:
    """A show file and its schedule entries (not yet validated, see `RawSchedules`)."""
    return parse_show(read_text(path), source=str(path))


def read_default_show() -> tuple[ShowDef, RawSchedules]:
    """The embedded default show and its schedule (the building's evening)."""
    text = resources.files(__package__).joinpath(DEFAULT_SHOW_NAME).read_text("utf-8")
    return parse_show(text, source=f"<embedded {DEFAULT_SHOW_NAME}>")


def parse_show(text: str, *, source: str) -> tuple[ShowDef, RawSchedules]:
    """Show TOML text: the show validated against the schema, its `schedules` set apart."""
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError([f"{source}: invalid TOML: {exc}"]) from exc
    schedules = raw.pop("schedules", [])
    problems: list[str] = []
    if not isinstance(schedules, list) or not all(isinstance(s, dict) for s in schedules):
        problems.append("schedules: expected an array of tables ([[schedules]])")
        schedules = []
    built = _build(ShowDef, raw, (), problems)
    if problems or built is None:
        raise ConfigError([f"{source}: {p}" for p in problems])
    return built, tuple(schedules)


def parse_config(text: str, *, source: str) -> Config:
    """Validate TOML text against the schema; `source` names it in error messages."""
    return parse_toml(Config, text, source=source)


def parse_toml(root: type[T], text: str, *, source: str) -> T:
    """Validate TOML text against the dataclass `root`; `source` names it in errors."""
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError([f"{source}: invalid TOML: {exc}"]) from exc
    problems: list[str] = []
    built = _build(root, raw, (), problems)
    if problems or built is None:
        raise ConfigError([f"{source}: {p}" for p in problems])
    return built


def build_dataclass(
    cls: type[T], mapping: Mapping[str, Any], path: tuple[str, ...] = ()
) -> tuple[T | None, list[str]]:
    """Validate a mapping of already-parsed values (as TOML would give them) against `cls`.

    The same checks and messages as for a TOML file (`key.path: what is wrong (got X)`, with
    `path` prefixed to each key), for callers that read other formats (the patch CSV import).
    Returns the object, or None and the problems (not prefixed with any file name).
    """
    problems: list[str] = []
    built = _build(cls, mapping, path, problems)
    return (None if problems else built), problems


def read_text(path: str | Path) -> str:
    """A config file's text, or a ConfigError naming it."""
    try:
        return Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError([f"{path}: cannot read: {exc.strerror or exc}"]) from exc


def _dotted(path: tuple[str, ...]) -> str:
    return ".".join(path) if path else "(top level)"


def _show(value: Any) -> str:
    if isinstance(value, dict):
        return "a table"
    if isinstance(value, list):
        return "an array"
    text = repr(value)  # a 50 MB string is not echoed back whole
    return text if len(text) <= 60 else f"{text[:57]}..."


@functools.cache
def _shape(cls: type) -> tuple[dict[str, Any], dict[str, Field[Any]]]:
    """A dataclass's resolved type hints and fields: resolving the hints costs ~0.1 ms a
    class, and API requests validate the same few classes over and over."""
    return get_type_hints(cls), {f.name: f for f in fields(cls)}


def _build(cls: type[T], raw: Any, path: tuple[str, ...], problems: list[str]) -> T | None:
    """Build dataclass `cls` from a TOML table, appending problems instead of raising."""
    if not isinstance(raw, Mapping):
        problems.append(f"{_dotted(path)}: expected a table (got {_show(raw)})")
        return None
    hints, known = _shape(cls)  # type: ignore[arg-type]  # a class is hashable
    for key in raw:
        if key not in known:
            close = difflib.get_close_matches(key, list(known), n=1)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            problems.append(f"{_dotted((*path, key))}: unknown key{hint} (got {_show(raw[key])})")
    values: dict[str, Any] = {}
    before = len(problems)
    for name, f in known.items():
        if name not in raw:
            continue
        key_path = (*path, name)
        value = _convert(hints[name], raw[name], key_path, problems)
        if value is _INVALID:
            continue
        lo, hi = f.metadata.get("min"), f.metadata.get("max")
        is_number = isinstance(value, int | float) and not isinstance(value, bool)
        if is_number and ((lo is not None and value < lo) or (hi is not None and value > hi)):
            problems.append(
                f"{_dotted(key_path)}: must be between {lo:g} and {hi:g} (got {value!r})"
                if lo is not None and hi is not None
                else f"{_dotted(key_path)}: out of range (got {value!r})"
            )
            continue
        too_big = _size_problem(value, f)
        if too_big:
            problems.append(f"{_dotted(key_path)}: {too_big}")
            continue
        values[name] = value
    if len(problems) != before:
        return None
    for name, f in known.items():
        if name not in values and f.default is MISSING and f.default_factory is MISSING:
            problems.append(f"{_dotted((*path, name))}: required key is missing")
            return None
    built = cls(**values)
    # Cross-field rules live with the dataclass: `validate()` returns "key: problem" lines.
    validate = getattr(built, "validate", None)
    if callable(validate):
        prefix = f"{_dotted(path)}." if path else ""
        found = [f"{prefix}{p}" for p in validate()]
        if found:
            problems.extend(found)
            return None
    return built


def _size_problem(value: Any, f: Field[Any]) -> str | None:
    """Text longer than the field's `max_length` (every text has one: `TEXT_MAX` unless the
    field sets its own), or a free-form map larger than its `max_bytes` as JSON."""
    limit = f.metadata.get("max_length", TEXT_MAX)
    texts = [value] if isinstance(value, str) else []
    if isinstance(value, tuple):
        texts = [v for v in value if isinstance(v, str)]
    longest = max((len(t) for t in texts), default=0)
    if longest > limit:
        each = " each" if isinstance(value, tuple) else ""
        return f"at most {limit} characters{each} (got {longest})"
    max_bytes = f.metadata.get("max_bytes")
    if max_bytes is not None and isinstance(value, Mapping):
        size = len(json.dumps(dict(value), default=str, separators=(",", ":")).encode())
        if size > max_bytes:
            return f"at most {max_bytes} bytes as JSON (got {size})"
    return None


class _Invalid:
    pass


_INVALID: Any = _Invalid()


def _convert(tp: Any, value: Any, path: tuple[str, ...], problems: list[str]) -> Any:
    """Check `value` against the annotation `tp`; return the converted value or _INVALID."""
    where = _dotted(path)
    origin = get_origin(tp)
    if is_dataclass(tp) and isinstance(tp, type):
        built = _build(tp, value, path, problems)
        return _INVALID if built is None else built
    if origin is Literal:
        choices = get_args(tp)
        if value in choices and type(value) is type(choices[0]):
            return value
        listed = ", ".join(repr(c) for c in choices)
        problems.append(f"{where}: must be one of {listed} (got {_show(value)})")
        return _INVALID
    if origin in (Union, types.UnionType):
        args = get_args(tp)
        if value is None and type(None) in args:
            return None
        inner = [a for a in args if a is not type(None)]
        if len(inner) == 1:
            return _convert(inner[0], value, path, problems)
        raise TypeError(f"unsupported union in schema at {where}: {tp}")
    if origin is tuple:
        (item_tp, _ellipsis) = get_args(tp)
        if not isinstance(value, list):
            problems.append(f"{where}: expected an array (got {_show(value)})")
            return _INVALID
        items = [
            _convert(item_tp, v, (*path[:-1], _item_label(path[-1], i, v)), problems)
            for i, v in enumerate(value)
        ]
        return _INVALID if any(i is _INVALID for i in items) else tuple(items)
    if origin is Mapping or tp is Mapping:
        if isinstance(value, dict):
            return types.MappingProxyType(dict(value))  # read-only: configs are frozen
        problems.append(f"{where}: expected a table (got {_show(value)})")
        return _INVALID
    if tp is bool:
        if isinstance(value, bool):
            return value
        problems.append(f"{where}: expected true or false (got {_show(value)})")
        return _INVALID
    if tp is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        problems.append(f"{where}: expected an integer (got {_show(value)})")
        return _INVALID
    if tp is float:
        if isinstance(value, int | float) and not isinstance(value, bool):
            if math.isfinite(value):
                return float(value)
            problems.append(f"{where}: must be a finite number (got {value!r})")
            return _INVALID
        problems.append(f"{where}: expected a number (got {_show(value)})")
        return _INVALID
    if tp is Decimal:
        return _decimal(value, where, problems)
    if tp is str:
        if isinstance(value, str):
            return value
        problems.append(f"{where}: expected a string (got {_show(value)})")
        return _INVALID
    raise TypeError(f"unsupported type in schema at {where}: {tp}")


DECIMAL_STEP = Decimal("0.001")


def _decimal(value: Any, where: str, problems: list[str]) -> Any:
    """Cue numbers: "12.5", 12.5 or 12 → Decimal with at most three decimals, exactly.

    A float goes through its shortest repr (12.3 stays 12.3, not 12.2999…); more than three
    decimals is an error rather than a silent rounding (cue 1.0005 is not cue 1.001).
    """
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        problems.append(f"{where}: expected a number or a numeric string (got {_show(value)})")
        return _INVALID
    try:
        d = Decimal(repr(value) if isinstance(value, float) else str(value).strip())
    except InvalidOperation:
        problems.append(f"{where}: not a number (got {_show(value)})")
        return _INVALID
    if not d.is_finite():
        problems.append(f"{where}: must be a finite number (got {_show(value)})")
        return _INVALID
    q = d.quantize(DECIMAL_STEP)
    if q != d:
        problems.append(f"{where}: at most three decimals (got {_show(value)})")
        return _INVALID
    return q.to_integral_value() if q == q.to_integral_value() else q.normalize()


def _item_label(key: str, index: int, item: Any) -> str:
    """`fixtures[3 "facade-2"]`: array items that have a name are named in errors."""
    name = item.get("name") if isinstance(item, dict) else None
    if name is None and isinstance(item, dict) and "number" in item:
        return f"{key}[{index} cue {str(item['number'])[:20]}]"
    if isinstance(name, str) and name:
        return f'{key}[{index} "{name[:60]}"]'
    return f"{key}[{index}]"
