"""The video hub without sockets: one device stream shared by its viewers, the live edge of a
slow viewer, keyframe requests, the grace stop, the end of a session; and stream tokens."""

from __future__ import annotations

import json
from typing import Any

import pytest
import trio
import trio.testing

from trocadero.core.errors import ForbiddenError, RefusedError
from trocadero.core.permissions import Actor
from trocadero.core.stream_tokens import StreamTokens, TokenExpired, TokenRefused
from trocadero.core.video_hub import CLOSE_ENDED, KEY_WAIT_S, NOT_SENDING_S, VideoHub, Viewer

KEY = ("00967", 0, 0)
ADMIN = Actor("ada", "admin", "ui")
OPERATOR = Actor("otto", "operator", "ui")
VIEWER = Actor("vic", "viewer", "ui")


class FakeGateway:
    """Records the calls; `hub.segment` plays the device."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, tuple[str, int, int]]] = []

    async def start_live(
        self, device_id: str, channel: int, stream_type: int = 0
    ) -> dict[str, Any]:
        self.calls.append(("start", (device_id, channel, stream_type)))
        return {"session_id": "s1"}

    async def stop_live(self, device_id: str, channel: int, stream_type: int = 0) -> bool:
        self.calls.append(("stop", (device_id, channel, stream_type)))
        return True

    async def request_iframe(self, device_id: str, channel: int, stream_type: int = 0) -> bool:
        self.calls.append(("iframe", (device_id, channel, stream_type)))
        return True


def frame(hub: VideoHub, n: int, key: bool, session: str = "s1") -> None:
    hub.segment(
        KEY, session, b"INIT" if n == 0 else None, b"F%d" % n, key, "avc1.42C01E", n / 15, 0.0
    )


def drain(viewer: Viewer) -> list[bytes | str]:
    out = list(viewer.queue)
    viewer.queue.clear()
    viewer.fragments = 0
    return out


async def started(hub: VideoHub, actor: Actor = ADMIN) -> dict[str, Any]:
    result: dict[str, Any] = {}

    async def start() -> None:
        result.update(await hub.start(actor, KEY))

    async with trio.open_nursery() as nursery:
        nursery.start_soon(start)
        await trio.testing.wait_all_tasks_blocked()
        frame(hub, 0, True)  # the device's first keyframe arrives
    return result


def make(grace_s: float = 5.0) -> tuple[VideoHub, FakeGateway]:
    gw = FakeGateway()
    return VideoHub(gw, StreamTokens(30), grace_s=grace_s, start_timeout_s=2), gw


async def test_one_device_stream_for_every_viewer() -> None:
    hub, gw = make()
    first = await started(hub)
    second = await hub.start(OPERATOR, KEY)  # already live: no second C508
    assert gw.calls == [("start", KEY)]
    a = hub.attach(hub.tokens.verify(first["token"], KEY))
    b = hub.attach(hub.tokens.verify(second["token"], KEY))
    frame(hub, 1, False)
    for viewer in (a, b):
        got = drain(viewer)
        assert b"INIT" in got  # joined late: init and the frames since the keyframe
        assert got[-2:] == [b"F0", b"F1"]
    assert hub.statuses()[0]["viewers"] == 2
    assert hub.statuses()[0]["users"] == ["ada", "otto"]


async def test_a_role_without_video_watch_starts_nothing() -> None:
    hub, gw = make()
    with pytest.raises(ForbiddenError):
        await hub.start(VIEWER, KEY)
    assert gw.calls == []


async def test_a_device_that_sends_nothing_is_refused_and_stopped() -> None:
    hub, gw = make()
    with pytest.raises(RefusedError, match="sent no video within 2 s"):
        await hub.start(ADMIN, KEY)
    assert gw.calls == [("start", KEY), ("stop", KEY)]
    assert hub.statuses() == []


async def test_a_slow_viewer_skips_to_the_next_keyframe() -> None:
    hub, _ = make()
    token = (await started(hub))["token"]
    viewer = hub.attach(hub.tokens.verify(token, KEY))
    drain(viewer)
    for n in range(1, viewer.limit + 1):
        frame(hub, n, False)  # nobody reads: the queue fills up
    assert viewer.fragments == viewer.limit
    frame(hub, 100, False)  # overflow: the backlog goes, and P-frames until a keyframe
    frame(hub, 101, False)
    assert viewer.fragments == 0
    assert viewer.waiting_key
    assert viewer.skipped == viewer.limit + 2
    frame(hub, 102, True)
    assert [m for m in drain(viewer) if isinstance(m, bytes)] == [b"F102"]
    assert not viewer.waiting_key


async def test_a_viewer_waiting_too_long_for_a_keyframe_asks_the_device(
    autojump_clock: trio.testing.MockClock,
) -> None:
    hub, gw = make()
    async with trio.open_nursery() as nursery:
        await nursery.start(hub.run)
        token = (await started(hub))["token"]
        viewer = hub.attach(hub.tokens.verify(token, KEY))
        viewer.waiting_key, viewer.waiting_since = True, trio.current_time()  # a lost I-frame
        for n in range(1, 40):
            frame(hub, n, False)
            await trio.sleep(1 / 15)
        assert ("iframe", KEY) in gw.calls
        assert trio.current_time() - viewer.waiting_since > KEY_WAIT_S
        assert hub.statuses()[0]["keyframe_requests"] >= 1
        frame(hub, 40, True)  # the device answers with an I-frame: the picture is back
        assert not viewer.waiting_key
        nursery.cancel_scope.cancel()


async def test_device_not_sending_then_the_grace_stop(
    autojump_clock: trio.testing.MockClock,
) -> None:
    hub, gw = make(grace_s=3.0)
    async with trio.open_nursery() as nursery:
        await nursery.start(hub.run)
        token = (await started(hub))["token"]
        viewer = hub.attach(hub.tokens.verify(token, KEY))
        drain(viewer)
        await trio.sleep(NOT_SENDING_S + 0.5)
        assert '{"type":"state","state":"device not sending"}' in drain(viewer)
        frame(hub, 1, False)
        assert '{"type":"state","state":"live"}' in drain(viewer)
        hub.detach(viewer)
        await trio.sleep(2.0)
        assert ("stop", KEY) not in gw.calls  # within the grace period
        await trio.sleep(1.5)
        assert gw.calls[-1] == ("stop", KEY)
        assert hub.statuses() == []
        nursery.cancel_scope.cancel()


async def test_the_gateway_ending_a_session_closes_its_viewers() -> None:
    hub, _ = make()
    token = (await started(hub))["token"]
    viewer = hub.attach(hub.tokens.verify(token, KEY))
    hub.ended(KEY, "old-session", "stale")  # another session's end: ignored
    assert hub.statuses()[0]["viewers"] == 1
    hub.ended(KEY, "s1", "the device sent garbage instead of video")
    told = json.loads(str(drain(viewer)[-1]))
    assert told == {
        "type": "state",
        "state": "device not sending",
        "reason": "the device sent garbage instead of video",
    }
    assert await viewer.next() == (CLOSE_ENDED, "the device sent garbage instead of video")
    assert hub.statuses() == []


def test_tokens_name_user_stream_scope_and_expiry() -> None:
    now = [1000.0]
    tokens = StreamTokens(30, clock=lambda: now[0])
    token = tokens.issue(OPERATOR, KEY)
    grant = tokens.verify(token, KEY)
    assert (grant.user, grant.role, grant.key) == ("otto", "operator", KEY)
    assert grant.scope == "video:watch"
    with pytest.raises(TokenRefused, match="channel 0"):
        tokens.verify(token, ("00967", 1, 0))
    with pytest.raises(TokenRefused, match="grants 'video:watch'"):
        tokens.verify(token, KEY, scope="video:admin")
    with pytest.raises(TokenRefused):
        tokens.verify(token[:-1] + ("A" if token[-1] != "A" else "B"), KEY)
    with pytest.raises(TokenRefused):
        StreamTokens(30, clock=lambda: now[0]).verify(token, KEY)  # another daemon's key
    now[0] += 31
    with pytest.raises(TokenExpired):
        tokens.verify(token, KEY)


async def test_a_viewer_joining_a_long_gop_waits_for_a_keyframe_asked_for_at_once(
    autojump_clock: trio.testing.MockClock,
) -> None:
    hub, gw = make()
    async with trio.open_nursery() as nursery:
        await nursery.start(hub.run)
        token = (await started(hub))["token"]
        for n in range(1, 60):  # a 4 s GOP at 15 fps: more than a viewer's queue holds
            frame(hub, n, False)
        viewer = hub.attach(hub.tokens.verify(token, KEY))
        await trio.testing.wait_all_tasks_blocked()
        assert gw.calls[-1] == ("iframe", KEY)
        assert viewer.waiting_key
        assert [m for m in viewer.queue if isinstance(m, bytes)] == [b"INIT"]
        nursery.cancel_scope.cancel()
