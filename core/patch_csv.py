"""Patch import/export as CSV: one fixture per row, columns named like `FixtureDef` fields.

The columns, value formats and an example are in ``docs/patch-csv.md``. Rows are validated
with the config loader's own machinery (``config.loader.build_dataclass``), so a cell gets the
same checks and wording as the same key in a show file; every problem is reported at once as
``FILE:LINE: column: what is wrong (got X)`` in a ``ConfigError``. Cross-checks (canvas and
type names, pixels outside the canvas, overlapping channels) happen when the patch is compiled
(``core.patch.compile_patch``).
"""

from __future__ import annotations

import csv
import difflib
import io
import re
from collections.abc import Iterable
from dataclasses import fields
from pathlib import Path
from typing import Any, Final, Literal, get_args, get_origin, get_type_hints

from trocadero.config.loader import ConfigError, build_dataclass, read_text
from trocadero.config.show import FixtureDef

__all__ = ["COLUMNS", "REQUIRED_COLUMNS", "format_patch_csv", "load_patch_csv", "parse_patch_csv"]

COLUMNS: Final = tuple(f.name for f in fields(FixtureDef))
"""Every column the import understands, in export order."""

REQUIRED_COLUMNS: Final = ("name", "canvas")

_HINTS: Final = get_type_hints(FixtureDef)
_TRUE: Final = frozenset({"true", "yes", "1"})
_FALSE: Final = frozenset({"false", "no", "0"})
_INT_RE: Final = re.compile(r"[+-]?\d+")
_BAD_BOOL: Final = object()


def load_patch_csv(path: str | Path) -> tuple[FixtureDef, ...]:
    """Read and validate a patch CSV file."""
    return parse_patch_csv(read_text(path), source=str(path))


def parse_patch_csv(text: str, *, source: str) -> tuple[FixtureDef, ...]:
    """Fixtures from CSV text; ``source`` names the file in error messages.

    Raises ``ConfigError`` with every problem, each ``FILE:LINE: column: what (got X)``.
    """
    text = text.removeprefix("\ufeff")  # spreadsheet exports often start with a BOM
    problems: list[str] = []
    reader = csv.reader(
        io.StringIO(text, newline=""), delimiter=_delimiter(text), skipinitialspace=True
    )
    header: list[str] | None = None
    columns: list[str | None] = []  # per cell position: the field it fills, None = ignored
    fixtures: list[FixtureDef] = []
    first_line_of: dict[str, int] = {}
    line_end = 0
    try:
        for cells in reader:
            line = line_end + 1  # first physical line of this record
            line_end = reader.line_num
            cells = [c.strip() for c in cells]
            if not any(cells) or cells[0].startswith("#"):
                continue  # blank line or comment
            if header is None:
                header = cells
                columns = _columns(header, f"{source}:{line}", problems)
                continue
            fx = _row(cells, columns, f"{source}:{line}", problems)
            name = _cell_of("name", cells, columns)
            if name and name in first_line_of:
                problems.append(
                    f"{source}:{line}: name: duplicate fixture name, first on line"
                    f" {first_line_of[name]} (got {name!r})"
                )
                continue
            if name:
                first_line_of[name] = line
            if fx is not None:
                fixtures.append(fx)
    except csv.Error as exc:
        problems.append(f"{source}:{reader.line_num}: unreadable CSV: {exc}")
    if header is None and not problems:
        problems.append(f"{source}:1: no header row (expected column names such as name,canvas)")
    if problems:
        raise ConfigError(problems)
    return tuple(fixtures)


def format_patch_csv(fixtures: Iterable[FixtureDef]) -> str:
    """CSV text for ``fixtures`` with every column; ``parse_patch_csv`` reads it back."""
    out = io.StringIO(newline="")
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(COLUMNS)
    for fx in fixtures:
        writer.writerow([_cell(getattr(fx, name)) for name in COLUMNS])
    return out.getvalue()


def _cell(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _delimiter(text: str) -> str:
    """Comma, unless the first non-comment line uses semicolons or tabs instead."""
    for raw in text.splitlines():
        line = raw.strip()
        if line and not line.startswith("#"):
            counts = {d: line.count(d) for d in (",", ";", "\t")}
            best = max(counts, key=lambda d: counts[d])
            return best if counts[best] else ","
    return ","


def _normalise(column: str) -> str:
    return re.sub(r"[\s\-]+", "_", column.strip().lower())


def _columns(header: list[str], where: str, problems: list[str]) -> list[str | None]:
    columns: list[str | None] = []
    seen: set[str] = set()
    for raw in header:
        name = _normalise(raw)
        if not name:
            problems.append(f"{where}: a column has no name (leave no empty header cells)")
            columns.append(None)
        elif name not in COLUMNS:
            close = difflib.get_close_matches(name, COLUMNS, n=1)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            problems.append(f"{where}: {raw}: unknown column{hint}")
            columns.append(None)
        elif name in seen:
            problems.append(f"{where}: {name}: the column appears twice")
            columns.append(None)
        else:
            seen.add(name)
            columns.append(name)
    for name in REQUIRED_COLUMNS:
        if name not in seen:
            problems.append(f"{where}: {name}: required column is missing")
    return columns


def _cell_of(column: str, cells: list[str], columns: list[str | None]) -> str:
    try:
        return cells[columns.index(column)]
    except (ValueError, IndexError):
        return ""


def _row(
    cells: list[str], columns: list[str | None], where: str, problems: list[str]
) -> FixtureDef | None:
    if len(cells) > len(columns) and any(cells[len(columns) :]):
        problems.append(
            f"{where}: the row has {len(cells)} cells but the header has {len(columns)} columns"
        )
        return None
    values: dict[str, Any] = {}
    ok = True
    for column, cell in zip(columns, cells, strict=False):  # missing trailing cells = empty
        if column is None or cell == "":
            continue
        converted = _convert(column, cell)
        if converted is _BAD_BOOL:
            problems.append(f"{where}: {column}: expected true/false, yes/no or 1/0 (got {cell!r})")
            ok = False
            continue
        values[column] = converted
    for column in REQUIRED_COLUMNS:
        if column in columns and not values.get(column):
            problems.append(f"{where}: {column}: required, but the cell is empty")
            ok = False
    built, found = build_dataclass(FixtureDef, values)
    problems.extend(f"{where}: {p}" for p in found)
    return built if ok and built is not None else None


def _convert(column: str, cell: str) -> Any:
    """The cell as the TOML value the loader expects; unparseable cells stay strings, so the
    loader reports them with its usual message (e.g. "expected an integer (got '1.5')")."""
    tp = _HINTS[column]
    if tp is bool:
        word = cell.lower()
        if word in _TRUE:
            return True
        if word in _FALSE:
            return False
        return _BAD_BOOL
    if tp is int:
        return int(cell) if _INT_RE.fullmatch(cell) else cell
    if tp is float:
        try:
            return float(cell)
        except ValueError:
            return cell
    if get_origin(tp) is Literal:
        choices = get_args(tp)
        if all(isinstance(c, int) for c in choices):
            return int(cell) if _INT_RE.fullmatch(cell) else cell
        for choice in choices:
            if isinstance(choice, str) and choice.lower() == cell.lower():
                return choice
        return cell
    return cell
