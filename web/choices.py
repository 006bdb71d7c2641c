"""Catch-all routes for a family of operations told apart by their last path segment
(``/api/cue-lists/{list}/go``, ``…/back``, …): a misspelt verb gets a 400 naming the verbs
there are, not a bare 404."""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from trocadero.core.operations import Operation

__all__ = ["choice_routes"]


def choice_routes(operations: Iterable[Operation]) -> Iterator[tuple[str, str, str, list[str]]]:
    """(method, ``parent/{verb}`` path, permission group, the verbs) for every family of two
    or more operations whose REST paths differ only in a literal last segment."""
    families: dict[tuple[str, str], list[Operation]] = {}
    for op in operations:
        if op.rest is None:
            continue
        parent, _, last = op.rest.path.rpartition("/")
        if last.startswith("{") or parent.count("/") < 2:
            continue  # never a catch-all for a whole /api/… level
        families.setdefault((op.rest.method, parent), []).append(op)
    for (method, parent), ops in families.items():
        if len(ops) >= 2:
            verbs = [op.rest.path.rpartition("/")[2] for op in ops if op.rest is not None]
            yield method, f"{parent}/{{verb}}", ops[0].group, verbs
