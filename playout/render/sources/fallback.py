"""What video and live layers show without a picture: a colour, or an image over it."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

import numpy as np
from numpy.typing import NDArray

from ..image import ImageError, read_image
from .base import LayerSource, ParamSpec

FALLBACK_IMAGE: Final = ParamSpec(
    type="path",
    doc="a still image shown instead of the fallback colour (fitted, bars in that colour)",
)


def fallback_frame(
    source: LayerSource, values: Mapping[str, Any], problems: list[str]
) -> NDArray[np.uint16]:
    """What a video or live layer shows without a picture: ``fallback_image`` fitted to the
    canvas over the ``fallback`` colour, or just the colour. A (h, w, 3) uint16 frame."""
    c = source.canvas
    colour = values["fallback"]
    frame = np.empty((c.height, c.width, 3), dtype=np.uint16)
    frame[...] = np.asarray(colour, dtype=np.uint16)
    path = values["fallback_image"]
    if path is not None:
        try:
            frame = read_image(path, c.width, c.height, "contain", colour)
        except ImageError as exc:
            problems.append(source.problem("fallback_image", str(exc)))
    return frame
