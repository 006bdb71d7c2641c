"""The solid colour source."""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

import numpy as np
from numpy.typing import NDArray

from .base import LayerSource, ParamSpec


class Solid(LayerSource):
    kind = "solid"
    summary = "One colour over the whole canvas."
    animated = False
    params = MappingProxyType(
        {"colour": ParamSpec(type="colour", default="#ffffff", doc="the colour")}
    )

    def setup(self, values: Mapping[str, Any], problems: list[str]) -> None:
        self.colour = np.asarray(values["colour"], dtype=np.uint16)
        # one row, broadcast down: numpy copies whole rows, not 3-value pieces
        self._row = np.tile(self.colour, (self.canvas.width, 1))

    def draw(self, t: float, out: NDArray[np.uint16]) -> None:
        np.copyto(out, self._row[None, :, :])
