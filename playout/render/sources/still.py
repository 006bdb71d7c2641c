"""A still image file fitted to the canvas."""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

import numpy as np
from numpy.typing import NDArray

from ..image import FITS, ImageError, read_image
from .base import LayerSource, ParamSpec


class Image(LayerSource):
    kind = "image"
    summary = "A still image file (PNG, JPEG, …) fitted to the canvas."
    animated = False
    params = MappingProxyType(
        {
            "path": ParamSpec(
                type="path",
                required=True,
                doc="image file (PNG, JPEG, …), absolute or relative to the working directory",
            ),
            "fit": ParamSpec(
                type="choice",
                default="contain",
                choices=FITS,
                doc="stretch = fill, ignoring the aspect ratio; contain = all of the image,"
                " bars in the background colour; cover = fill the canvas, cropping the image",
            ),
            "background": ParamSpec(
                type="colour",
                default="#000000",
                doc="colour of the bars (contain) and behind transparent pixels",
            ),
        }
    )

    def setup(self, values: Mapping[str, Any], problems: list[str]) -> None:
        self.picture: NDArray[np.uint16] | None = None
        path: str | None = values["path"]
        if path is None:
            return
        try:
            self.picture = read_image(
                path, self.canvas.width, self.canvas.height, values["fit"], values["background"]
            )
        except ImageError as exc:
            problems.append(self.problem("path", str(exc)))

    def draw(self, t: float, out: NDArray[np.uint16]) -> None:
        assert self.picture is not None  # __init__ raised otherwise
        np.copyto(out, self.picture)
