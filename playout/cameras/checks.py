"""What `[[cameras]]` names that the show must have (checked at start-up and by
`trocadero check-config`, once the show is loaded)."""

from __future__ import annotations

from collections.abc import Collection

from trocadero.config.schema import Config

__all__ = ["camera_canvas_problems"]


def camera_canvas_problems(config: Config, canvases: Collection[str]) -> list[str]:
    return [
        f"cameras[{n}].canvas: {c.canvas!r} is not a canvas of the show"
        for n, c in enumerate(config.cameras)
        if c.canvas and c.canvas not in canvases
    ]
