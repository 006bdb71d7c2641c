"""The video hub over the real gateway in this process (`[mdvr] own_process = false`) and a
simulated device: the remux reaches the hub, a viewer that lost its place gets a keyframe
asked of the device (0x6002 on the media connection) and recovers, and the hub's grace stop
sends C508 stop."""

from __future__ import annotations

from pathlib import Path

import trio

from trocadero.config.schema import StorageConfig
from trocadero.core.events import EventBus
from trocadero.core.permissions import Actor
from trocadero.core.storage import open_storage
from trocadero.core.stream_tokens import StreamTokens
from trocadero.core.video_hub import VideoHub
from trocadero.playout.mdvr.feeds import LiveFeeds
from trocadero.playout.mdvr.gateway import MdvrGateway
from trocadero.playout.mdvr.sim import SimDevice, encode_clip
from trocadero.protocols.mdvr import LiveVideoRequest

from .test_mdvr_gateway import config, until

KEY = ("00967", 0, 0)


async def test_remux_keyframe_request_and_grace_stop_in_process(tmp_path: Path) -> None:
    clip = encode_clip(width=64, height=48, frames=600, fps=20.0, keyint=600)  # one per 30 s
    async with open_storage(StorageConfig(), tmp_path) as store:
        gw = MdvrGateway(config(), store, EventBus(), tmp_path / "files", feeds=LiveFeeds())
        hub = VideoHub(gw, StreamTokens(30), grace_s=0.5, start_timeout_s=5)
        gw.ctx.video = hub
        async with trio.open_nursery() as nursery:
            await nursery.start(gw.serve)
            await nursery.start(hub.run)
            dev = SimDevice("00967", "127.0.0.1", gw.signaling_port, clip=clip,
                            position_interval_s=10.0, heartbeat_s=0.3)  # fmt: skip
            nursery.start_soon(dev.run)
            with trio.fail_after(5):
                await dev.registered.wait()
            started = await hub.start(Actor("ada", "admin", "ui"), KEY)
            assert started["codec"].startswith("avc1.")
            stream = hub.streams[KEY]
            viewer = hub.attach(hub.tokens.verify(started["token"], KEY))
            # The viewer lost its place (as after an overflow): only a keyframe helps, and
            # the clip has one every 30 s only; the hub asks the device for one.
            await until(lambda: stream.keyframes >= 1, limit=4)  # the opening one, counted
            keyframes = stream.keyframes  # the next natural one is 30 s away
            viewer.queue.clear()
            viewer.fragments = 0
            viewer.waiting_key, viewer.waiting_since = True, trio.current_time()
            await until(lambda: stream.key_requests >= 1, limit=4)
            await until(lambda: stream.keyframes > keyframes, limit=4)
            assert not viewer.waiting_key
            assert viewer.fragments > 0  # frames flow to it again
            # The last viewer leaves: after the grace period, C508 stop.
            hub.detach(viewer)
            stream.reserved_until = 0.0
            await until(lambda: KEY not in hub.streams, limit=5)
            await until(
                lambda: any(
                    isinstance(m, LiveVideoRequest) and not m.start and m.channel == 0
                    for m in dev.received
                ),
                limit=5,
            )
            assert gw.live_sessions() == []
            nursery.cancel_scope.cancel()
