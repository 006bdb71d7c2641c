"""The patch as a grid per output (`core/patch_grid.py`, the `patch.grid` operation)."""

from __future__ import annotations

from trocadero.config.show import CanvasDef, FixtureDef, ShowDef
from trocadero.core.patch import compile_patch
from trocadero.core.patch_grid import OutputUniverses, PatchCell, Wiring, universe_cells

SHOW = ShowDef(
    canvases=(CanvasDef("facade", 200, 1), CanvasDef("stairs", 10, 2)),
    fixtures=(
        # 200 RGB pixels from universe 1 channel 1: 170 pixels (510 slots) fill universe 1,
        # the other 30 go on in universe 2.
        FixtureDef("f-1", "facade", pixels=200, universe=1),
        # After f-1 in universe 2: 20 RGBW pixels from channel 91.
        FixtureDef("s-1", "stairs", shape="matrix", width=10, height=2, colour_order="RGBW",
                   universe=2, channel=91),
        FixtureDef("s-2", "stairs", pixels=10, universe=7),
    ),
)  # fmt: skip


def test_each_universe_lists_its_fixtures_in_channel_order_with_their_pixels() -> None:
    cells = universe_cells(compile_patch(SHOW))
    assert cells == {
        1: (PatchCell(1, 510, "facade", "f-1", 0, 169),),
        2: (
            PatchCell(1, 90, "facade", "f-1", 170, 199),
            PatchCell(91, 170, "stairs", "s-1", 0, 19),
        ),
        7: (PatchCell(1, 30, "stairs", "s-2", 0, 9),),
    }


def test_the_grid_goes_per_output_and_names_what_no_output_sends() -> None:
    outputs = [
        OutputUniverses("front", "sacn", (1, 2)),
        OutputUniverses("spare", "artnet", (3,)),
    ]
    grid = Wiring(compile_patch(SHOW), lambda: outputs).grid()

    def cell(first: int, last: int, canvas: str, fixture: str, p0: int, p1: int) -> object:
        return {
            "first": first,
            "last": last,
            "canvas": canvas,
            "fixture": fixture,
            "pixels": [p0, p1],
        }

    assert grid["outputs"][0] == {
        "name": "front",
        "protocol": "sacn",
        "universes": [
            {
                "universe": 1,
                "cells": [cell(1, 510, "facade", "f-1", 0, 169)],
            },
            {
                "universe": 2,
                "cells": [
                    cell(1, 90, "facade", "f-1", 170, 199),
                    cell(91, 170, "stairs", "s-1", 0, 19),
                ],
            },
        ],
    }
    # A universe an output sends that nothing drives is listed, empty.
    assert grid["outputs"][1]["universes"] == [{"universe": 3, "cells": []}]
    assert grid["unsent"] == [7]
