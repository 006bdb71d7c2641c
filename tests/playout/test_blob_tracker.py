"""The blob tracker on a generated clip (tests/camera_clip.py: three people-like shapes on
known tracks over a noisy background), run as the daemon runs it: `trocadero blob-tracker`
in its own process. It finds each known track as one blob whose id never changes over the
pass, within a tolerance of its true position, and nothing else."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.camera_clip import EMPTY_S, TRACKS, position, write_clip
from trocadero.playout.cameras.tracker import CentroidTracker, Detection

FPS = 25
TOLERANCE = 0.02  # of the picture's width / height
RATE = 60  # frames analysed a second: the file is read faster than it plays
SETTLE = 6  # frames after the shapes appear before the background model has them whole


@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, int]:
    path = tmp_path_factory.mktemp("clip") / "walkers.mkv"
    return path, write_clip(path, fps=FPS)


def track(clip: Path, frames: int) -> list[dict[str, Any]]:
    camera = {"name": "square", "url": str(clip), "rate_hz": RATE, "max_missed": 4}
    proc = subprocess.Popen(
        [sys.executable, "-m", "trocadero", "blob-tracker", "--camera-json", json.dumps(camera)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    out: list[dict[str, Any]] = []
    try:
        for line in proc.stdout:
            message = json.loads(line)
            if message["t"] == "blobs":
                out.append(message)
                if len(out) == frames:
                    break
    finally:
        proc.kill()
        _, errors = proc.communicate()
    assert len(out) == frames, errors
    return out


def test_the_tracker_follows_the_known_tracks_with_stable_ids(clip: tuple[Path, int]) -> None:
    path, frames = clip
    seen = track(path, frames)  # one pass of the clip (it loops after)
    first = round(EMPTY_S * FPS) + SETTLE
    ids: dict[str, set[int]] = {name: set() for name in TRACKS}
    for message in seen[: first - SETTLE]:
        assert message["blobs"] == [], "blobs in the empty background"
    for message in seen[first:]:
        t = message["seq"] / FPS
        blobs = message["blobs"]
        assert len(blobs) == len(TRACKS), (message["seq"], blobs)
        for name in TRACKS:
            where = position(name, t)
            assert where is not None
            near = min(blobs, key=lambda b: math.hypot(b[1] - where[0], b[2] - where[1]))
            assert abs(near[1] - where[0]) <= TOLERANCE, (name, message["seq"], near, where)
            assert abs(near[2] - where[1]) <= TOLERANCE, (name, message["seq"], near, where)
            ids[name].add(near[0])
    assert all(len(found) == 1 for found in ids.values()), ids  # one id per track throughout
    assert len({next(iter(found)) for found in ids.values()}) == len(TRACKS)
    ages = {b[0]: b[6] for b in seen[-1]["blobs"]}
    # Ages in the tracker's time: the file is read at rate_hz (60), not its own 25 fps.
    assert (frames - first) / RATE * 0.9 <= min(ages.values()) <= frames / RATE * 1.5


def test_an_occluded_blob_keeps_its_id_and_a_lost_one_is_dropped() -> None:
    tracker = CentroidTracker(max_jump=0.05, max_missed=3)
    walk = [Detection(0.1 + 0.02 * i, 0.5, 0.05, 0.1, 0.005) for i in range(12)]
    (first,) = tracker.update([walk[0]], 0.0)
    for i in range(1, 4):
        assert [b.id for b in tracker.update([walk[i]], i)] == [first.id]
    for i in range(4, 6):  # behind a pillar: not reported, still followed
        assert tracker.update([], i) == []
    (back,) = tracker.update([walk[6]], 6.0)  # 0.06 from where it was last seen: coasted
    assert back.id == first.id
    assert back.age_s == 6.0
    for i in range(7, 11):
        tracker.update([], i)  # gone for more than max_missed frames
    assert tracker.live == 0
    (new,) = tracker.update([walk[11]], 11.0)
    assert new.id != first.id
    # Too far in one frame: a different blob, not a jump.
    far = tracker.update([Detection(0.9, 0.9, 0.05, 0.1, 0.005)], 12.0)
    assert [b.id for b in far] != [new.id]


def test_the_tracker_runs_from_a_config_file_and_names_what_is_wrong(
    clip: tuple[Path, int], tmp_path: Path
) -> None:
    config = tmp_path / "trocadero.toml"
    config.write_text(f'[[cameras]]\nname = "square"\nurl = "{clip[0]}"\nrate_hz = 50\n')
    tracker = [sys.executable, "-m", "trocadero", "blob-tracker", "--config", str(config)]
    proc = subprocess.Popen([*tracker, "--camera", "square"], stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    try:
        hello = json.loads(proc.stdout.readline())
        first = json.loads(proc.stdout.readline())
    finally:
        proc.kill()
        proc.communicate()
    assert hello == {"t": "hello", "camera": "square", "width": 640, "height": 480}
    assert (first["t"], first["seq"], first["blobs"]) == ("blobs", 0, [])

    def refused(*args: str) -> str:
        run = subprocess.run(
            [*tracker[:4], *args], capture_output=True, text=True, timeout=60, check=False
        )
        assert run.returncode == 2, run
        return run.stderr.strip()

    assert refused("--config", str(config), "--camera", "nope") == (
        f"{config}: cameras: no camera named 'nope'"
    )
    assert (
        refused("--camera-json", '{"name": "x"}') == "--camera-json: url: required key is missing"
    )
    missing = tmp_path / "gone.toml"
    missing.write_text('[[cameras]]\nname = "gone"\nurl = "/nonexistent/gone.mkv"\n')
    run = subprocess.run(
        [*tracker[:4], "--config", str(missing), "--camera", "gone"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert run.returncode == 3  # the source: the daemon's supervisor retries it
    assert json.loads(run.stdout.splitlines()[-1]) == {
        "t": "error",
        "text": "/nonexistent/gone.mkv: cannot open /nonexistent/gone.mkv",
    }
