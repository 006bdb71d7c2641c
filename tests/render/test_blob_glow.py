"""The blob_glow source: a spot per blob where the camera's placement puts it on the canvas,
sized by the blob, with its falloff and colour; black with no blobs, once the newest frame is
older than fade_after_s, and for a camera never heard; a new frame is a new frame key."""

from __future__ import annotations

import numpy as np
import pytest
from numpy.typing import NDArray

from trocadero.core.blobs import LiveBlobs, Placement
from trocadero.playout.render.sources.base import (
    CanvasContext,
    LayerSource,
    SourceContext,
    SourceError,
)
from trocadero.playout.render.sources.registry import build_source
from trocadero.protocols.blob_wire import Blob


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def glow(live: LiveBlobs, **params: object) -> LayerSource:
    return build_source(
        "blob_glow",
        {"camera": "square", "colour": "#ff0000", **params},
        CanvasContext.unpatched("facade", 40, 20),
        SourceContext(blobs=live),
    )


def render(source: LayerSource) -> NDArray[np.uint16]:
    out = np.zeros((20, 40, 3), dtype=np.uint16)
    source.render(0.0, out)
    return out


def test_a_spot_where_the_blob_is_sized_by_it() -> None:
    clock = Clock()
    live = LiveBlobs(clock)
    source = glow(live, falloff="hard", size=1.0, min_radius=0.5)
    assert render(source).max() == 0  # nothing heard yet
    live.publish("square", (Blob(1, 0.25, 0.5, 0.2, 0.4, 0.05, 1.0),), 1.0)
    out = render(source)
    lit = np.argwhere(out[:, :, 0] > 0)
    cy, cx = lit.mean(axis=0)
    assert (round(cx), round(cy)) == (10, 10)  # 0.25 of 40, 0.5 of 20
    radius = 0.5 * np.hypot(0.2 * 40, 0.4 * 20)  # half the box's diagonal, in pixels
    assert lit[:, 1].max() - lit[:, 1].min() == pytest.approx(2 * radius, abs=1.5)
    assert out[10, 10].tolist() == [65535, 0, 0]  # the colour, at full
    assert out[:, 30:].max() == 0  # nothing elsewhere


def test_falloff_is_soft_and_the_placement_maps_the_picture() -> None:
    live = LiveBlobs()
    live.placements["square"] = Placement("facade", (20.0, 0.0, 20.0, 20.0))  # right half
    live.publish("square", (Blob(1, 0.5, 0.5, 0.3, 0.3, 0.05, 1.0),), 1.0)
    out = render(glow(live))
    row = out[10, :, 0].astype(int)
    assert row.argmax() == 30  # the middle of the right half
    assert row[:20].max() == 0
    assert row[30] > row[33] > row[35] > 0  # gaussian: fading towards the edge
    # Placed on another canvas: this layer maps the picture onto the whole of its own.
    live.placements["square"] = Placement("stairs", (20.0, 0.0, 20.0, 20.0))
    assert render(glow(live))[10, :, 0].argmax() == 20


def test_stale_blobs_go_dark_and_new_frames_are_new_keys() -> None:
    clock = Clock()
    live = LiveBlobs(clock)
    source = glow(live, fade_after_s=0.5)
    live.publish("square", (Blob(1, 0.5, 0.5, 0.1, 0.1, 0.01, 1.0),), 1.0)
    key = source.frame_key(0.0)
    assert render(source).max() > 0
    live.publish("square", (Blob(1, 0.6, 0.5, 0.1, 0.1, 0.01, 1.1),), 1.1)
    assert source.frame_key(0.0) != key
    clock.now += 0.6
    assert source.frame_key(0.0) is None
    assert render(source).max() == 0
    live.publish("square", (), 2.0)
    assert render(source).max() == 0


def test_the_camera_is_required() -> None:
    with pytest.raises(SourceError, match='blob_glow: param "camera": required'):
        build_source("blob_glow", {}, CanvasContext.unpatched("c", 4, 4))


def test_a_camera_the_daemon_does_not_have_is_refused() -> None:
    live = LiveBlobs()
    live.placements["square"] = Placement()
    with pytest.raises(
        SourceError, match=r"param \"camera\": no camera 'sqaure' \(known: square\)"
    ):
        glow(live, camera="sqaure")
