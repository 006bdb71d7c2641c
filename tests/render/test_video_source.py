"""The video layer under a controlled clock: the canvas shows exactly the clip's frame for
each frame time (each frame's index is written in its colour): looping, played once or held,
at another speed and offset, without drift after hours; a decoder failure mid-playback
switches to the fallback with one alert."""

from __future__ import annotations

import fractions
import time
from dataclasses import replace
from pathlib import Path

import av
import numpy as np
import pytest

from tests.render.test_renderer import tiny_show
from trocadero.config.show import CanvasLayersDef, LayerDef, LookDef
from trocadero.core.content import AssetIndex
from trocadero.core.patch import compile_patch
from trocadero.core.playback.plan import IDLE_LOOK
from trocadero.playout.mdvr.feeds import LiveFeeds
from trocadero.playout.render.renderer import Renderer
from trocadero.playout.render.sources import (
    CanvasContext,
    SourceContext,
    SourceError,
    build_source,
)
from trocadero.playout.render.sources import video as video_module

FPS = 25
FRAMES = 30  # fits the ring: a second pass is not needed to loop
LONG = 120  # does not: the decoder loops by starting over


def make_clip(path: Path, frames: int) -> Path:
    with av.open(str(path), "w", format="mp4") as out:
        stream = out.add_stream("libx264", rate=FPS)
        stream.width, stream.height, stream.pix_fmt = 32, 16, "yuv420p"
        stream.time_base = fractions.Fraction(1, FPS)
        stream.options = {"crf": "0", "g": "5"}
        for i in range(frames):
            # The frame index in the picture: red = 5 * (i mod 50), green = 50 * (i div 50).
            colour = np.zeros((16, 32, 3), dtype=np.uint8)
            colour[..., 0], colour[..., 1] = (i % 50) * 5, (i // 50) * 50
            frame = av.VideoFrame.from_ndarray(colour, format="rgb24")
            frame.pts = i
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)
    return path


@pytest.fixture(scope="module")
def clips(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    base = tmp_path_factory.mktemp("clips")
    return {
        "short": make_clip(base / "short.mp4", FRAMES),
        "long": make_clip(base / "long.mp4", LONG),
    }


def shown_index(layer: object, t: float, out: np.ndarray) -> int:
    """Render at t (waiting for the decoder to reach the frame, as later frames would) and
    read the frame index back from the grey level."""
    deadline = time.monotonic() + 5
    while True:
        key = layer.frame_key(t)  # type: ignore[attr-defined]
        wanted = layer.index_at(t)  # type: ignore[attr-defined]
        if key == wanted or key in ("ended", "fallback"):
            break
        assert time.monotonic() < deadline, f"decoder never reached frame {wanted} (at {key})"
        time.sleep(0.005)
    layer.render(t, out)  # type: ignore[attr-defined]
    if key in ("ended", "fallback"):
        return -1
    red, green = (float(out[..., c].mean()) / 257 for c in (0, 1))
    return round(red / 5) + 50 * round(green / 50)


def canvas() -> CanvasContext:
    return CanvasContext.unpatched("wall", 32, 16)


def test_frame_accurate_and_looping(clips: dict[str, Path]) -> None:
    layer = build_source("video", {"path": str(clips["short"])}, canvas())
    out = np.zeros((16, 32, 3), np.uint16)
    start = 1000.0
    assert shown_index(layer, start, out) == 0  # the first frame time is the start
    for k in (1, 7, 29, 30, 31, 59, 60):
        t = start + k / FPS + 0.001
        assert shown_index(layer, t, out) == k % FRAMES, k
    # Hours later, still exact: computed from time, never accumulated.
    t = start + 3 * 3600 + 12 / FPS + 0.001
    assert shown_index(layer, t, out) == (3 * 3600 * FPS + 12) % FRAMES
    layer.close()


def test_long_clip_loops_by_starting_over(clips: dict[str, Path]) -> None:
    layer = build_source("video", {"path": str(clips["long"])}, canvas())
    out = np.zeros((16, 32, 3), np.uint16)
    for k in (0, 10, 50, 100, 119, 120, 125):
        assert shown_index(layer, k / FPS + 0.001, out) == k % LONG, k
    layer.close()


def test_once_hold_speed_offset(clips: dict[str, Path]) -> None:
    out = np.zeros((16, 32, 3), np.uint16)
    once = build_source(
        "video", {"path": str(clips["short"]), "mode": "once", "fallback": "#ff0000"}, canvas()
    )
    assert shown_index(once, 0.0, out) == 0
    assert shown_index(once, 29 / FPS + 0.001, out) == 29
    assert shown_index(once, 31 / FPS, out) == -1  # ended: the fallback colour
    assert (out[..., 0] == 65535).all()
    once.close()
    hold = build_source("video", {"path": str(clips["short"]), "mode": "hold"}, canvas())
    assert shown_index(hold, 0.0, out) == 0
    assert shown_index(hold, 100.0, out) == FRAMES - 1
    hold.close()
    fast = build_source(
        "video", {"path": str(clips["short"]), "speed": 2.0, "offset_s": 0.2}, canvas()
    )
    assert shown_index(fast, 0.0, out) == 5  # 0.2 s in
    assert shown_index(fast, 5 / FPS + 0.001, out) == 15  # two frames per frame time
    fast.close()


def test_decoder_failure_mid_playback_falls_back_and_alerts(
    tmp_path: Path, clips: dict[str, Path]
) -> None:
    alerts: list[str] = []
    moving = tmp_path / "moving.mp4"
    moving.write_bytes(clips["long"].read_bytes())
    still = write_png(tmp_path / "still.png", 16, 16, (0, 0, 255))
    params = {"path": str(moving), "fallback": "#00ff00", "fallback_image": str(still)}
    layer = build_source("video", params, canvas(), SourceContext(alert=alerts.append))
    out = np.zeros((16, 32, 3), np.uint16)
    assert shown_index(layer, 0.0, out) == 0  # the layer starts at its first frame time
    assert shown_index(layer, 100 / FPS + 0.001, out) == 100
    moving.unlink()  # the file goes away under the player (a storage failure)
    deadline = time.monotonic() + 10
    t = LONG / FPS + 0.001  # looping back makes the decoder read the file again
    while layer.frame_key(t) != "fallback":
        assert time.monotonic() < deadline
        time.sleep(0.01)
    layer.render(t, out)
    # The still, fitted (16x16 in the middle of 32x16), with bars of the fallback colour.
    assert (out[:, 8:24] == [0, 0, 65535]).all()
    assert (out[:, :8] == [0, 65535, 0]).all()
    assert (out[:, 24:] == [0, 65535, 0]).all()
    assert len(alerts) == 1
    assert "decoding failed" in alerts[0]
    layer.close()


def test_unreadable_file_is_refused_when_the_look_is_built(tmp_path: Path) -> None:
    junk = tmp_path / "junk.mp4"
    junk.write_bytes(b"\x00" * 1000)
    with pytest.raises(SourceError, match="not a readable video"):
        build_source("video", {"path": str(junk)}, canvas())


def write_png(path: Path, width: int, height: int, rgb: tuple[int, int, int]) -> Path:
    frame = av.VideoFrame.from_ndarray(np.full((height, width, 3), rgb, np.uint8), format="rgb24")
    with av.open(str(path), "w", format="image2") as out:
        stream = out.add_stream("png")
        stream.width, stream.height, stream.pix_fmt = width, height, "rgb24"
        for packet in [*stream.encode(frame), *stream.encode(None)]:
            out.mux(packet)
    return path


def test_live_layer_falls_back_to_a_still(tmp_path: Path) -> None:
    still = write_png(tmp_path / "still.png", 16, 16, (0, 0, 255))
    params = {"device": "nobody", "fallback": "#ff0000", "fallback_image": str(still)}
    layer = build_source("mdvr-live", params, canvas())
    out = np.zeros((16, 32, 3), np.uint16)
    layer.render(0.0, out)  # no frame has ever come: the still, bars in the colour
    assert (out[:, 8:24] == [0, 0, 65535]).all()
    assert (out[:, :8] == [65535, 0, 0]).all()
    layer.close()
    with pytest.raises(SourceError, match='param "fallback_image"'):
        build_source(
            "mdvr-live", {**params, "fallback_image": str(tmp_path / "none.png")}, canvas()
        )


def test_image_sequence_and_single_image(tmp_path: Path) -> None:
    for i in range(10):
        rgb = np.zeros((16, 32, 3), np.uint8)
        rgb[..., 0] = (i % 50) * 5
        frame = av.VideoFrame.from_ndarray(rgb, format="rgb24")
        with av.open(str(tmp_path / f"f{i:03d}.png"), "w", format="image2") as out:
            stream = out.add_stream("png")
            stream.width, stream.height, stream.pix_fmt = 32, 16, "rgb24"
            for packet in [*stream.encode(frame), *stream.encode(None)]:
                out.mux(packet)
    out16 = np.zeros((16, 32, 3), np.uint16)
    seq = build_source("video", {"path": str(tmp_path / "f%03d.png")}, canvas())
    for k in (0, 3, 9, 12):
        assert shown_index(seq, k / 25 + 0.001, out16) == k % 10  # 25 fps, looping
    seq.close()
    still = build_source("video", {"path": str(tmp_path / "f007.png")}, canvas())
    assert shown_index(still, 0.0, out16) == 7  # one picture: shown whatever the time
    assert shown_index(still, 3600.0, out16) == 7
    still.close()


def test_an_edited_or_deleted_look_stops_its_decoding_thread(clips: dict[str, Path]) -> None:
    video = LayerDef(source="video", params={"path": str(clips["short"])})
    look = LookDef(name="film", canvases=(CanvasLayersDef(canvas="c", layers=(video,)),))
    show = replace(
        tiny_show((LayerDef(source="solid", params={"colour": "#000000"}),)), looks=(look,)
    )
    renderer = Renderer(show, compile_patch(show))

    def decoder() -> video_module.VideoDecoder:
        stack = renderer.stack_for("c", "film")
        assert stack is not None
        source = stack.layers[0].source
        assert isinstance(source, video_module.Video)
        assert source.decoder is not None
        return source.decoder

    first = decoder()
    assert first.running
    renderer.set_look(look)  # edited: rebuilt on its next use, the old layer closed
    second = decoder()
    assert second is not first
    renderer.forget_look("film")  # deleted
    deadline = time.monotonic() + 5
    running = [first, second]
    while any(d.running for d in running) and time.monotonic() < deadline:
        time.sleep(0.01)
    assert [d.running for d in running] == [False, False]


def test_asset_ids_resolve_through_the_source_context(clips: dict[str, Path]) -> None:
    with pytest.raises(SourceError, match="no content library in this process"):
        build_source("video", {"asset": 7}, canvas())  # a bare context: no library
    assets = AssetIndex()
    context = SourceContext(assets=assets)
    with pytest.raises(SourceError, match="no content asset 7"):
        build_source("video", {"asset": 7}, canvas(), context)
    assets.note(7, "pending", None)
    with pytest.raises(SourceError, match="only approved content plays"):
        build_source("video", {"asset": 7}, canvas(), context)
    assets.note(7, "approved", clips["short"])
    layer = build_source("video", {"asset": 7}, canvas(), context)
    out = np.zeros((16, 32, 3), np.uint16)
    assert shown_index(layer, 0.0, out) == 0
    layer.close()


def test_the_renderer_hands_its_context_to_the_sources_it_builds() -> None:
    feeds = LiveFeeds()
    live = LayerDef(source="mdvr-live", params={"device": "00967", "channel": 1})
    show = tiny_show((live,))
    renderer = Renderer(show, compile_patch(show), sources=SourceContext(live_feeds=feeds))
    stack = renderer.stack_for("c", IDLE_LOOK)
    assert stack is not None
    source = stack.layers[0].source
    assert source.context is renderer.sources
    assert feeds.feed("00967", 1).wanted() == [(2, 1)]  # the layer asked this context's feed
    renderer.forget_look(IDLE_LOOK)
    assert feeds.feed("00967", 1).wanted() == []
