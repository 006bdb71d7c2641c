"""The patch as a grid: for each output, the universes it sends and, per universe, which
canvas and fixture (and which of its pixels) fill which slots. What the UI's patch grid
draws; read through the `patch.grid` operation (`GET /api/patch`).

The compiled patch is immutable, so the cells of every universe are worked out once; the
outputs are asked each time (they are attached after the operation table is made).
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from .patch import CompiledPatch

__all__ = ["OutputUniverses", "PatchCell", "Wiring", "universe_cells"]


@dataclass(frozen=True, slots=True)
class OutputUniverses:
    """An output as the grid shows it: its name, protocol and the show universes it sends."""

    name: str
    protocol: str
    universes: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class PatchCell:
    """A run of slots of one universe driven by one fixture: channels `first`..`last`
    (1-based, inclusive) carry its pixels `first_pixel`..`last_pixel` (wiring order)."""

    first: int
    last: int
    canvas: str
    fixture: str
    first_pixel: int
    last_pixel: int


def universe_cells(patch: CompiledPatch) -> dict[int, tuple[PatchCell, ...]]:
    """Every patched universe's cells, in channel order."""
    cells: dict[int, list[PatchCell]] = {}
    for fx in patch.fixtures.values():
        slots_before = 0
        for universe, first, last in fx.ranges:
            count = last - first + 1
            first_pixel = slots_before // fx.slots_per_pixel
            last_pixel = (slots_before + count) // fx.slots_per_pixel - 1
            cells.setdefault(universe, []).append(
                PatchCell(first, last, fx.canvas, fx.name, first_pixel, last_pixel)
            )
            slots_before += count
    return {u: tuple(sorted(c, key=lambda cell: cell.first)) for u, c in sorted(cells.items())}


@dataclass(frozen=True)
class Wiring:
    """The patch and the outputs that send it."""

    patch: CompiledPatch
    outputs: Callable[[], Sequence[OutputUniverses]]

    @functools.cached_property
    def cells(self) -> dict[int, tuple[PatchCell, ...]]:
        return universe_cells(self.patch)

    def grid(self) -> dict[str, Any]:
        """Per output, each universe it sends with its cells (a universe the patch does not
        drive has none); and the patched universes no output sends."""
        sent: set[int] = set()
        outputs = []
        for out in self.outputs():
            sent.update(out.universes)
            outputs.append(
                {
                    "name": out.name,
                    "protocol": out.protocol,
                    "universes": [
                        {"universe": u, "cells": [_cell(c) for c in self.cells.get(u, ())]}
                        for u in out.universes
                    ],
                }
            )
        return {"outputs": outputs, "unsent": [u for u in self.cells if u not in sent]}


def _cell(c: PatchCell) -> dict[str, Any]:
    return {
        "first": c.first,
        "last": c.last,
        "canvas": c.canvas,
        "fixture": c.fixture,
        "pixels": [c.first_pixel, c.last_pixel],
    }
