"""Live video and a file download on the same device at once: each media connection is
matched to its own pending session, and the download finishing (or being interrupted and
resumed) does not disturb the live stream, nor the other way round."""

from __future__ import annotations

from pathlib import Path

import trio

from tests.playout.test_mdvr_gateway import config, until
from trocadero.config.schema import StorageConfig
from trocadero.core.events import EventBus
from trocadero.core.storage import open_storage
from trocadero.playout.mdvr.gateway import MdvrGateway
from trocadero.playout.mdvr.sim import SimDevice, SimFile, encode_clip


async def test_live_stream_and_download_on_one_device(tmp_path: Path) -> None:
    clip = encode_clip(width=64, height=48, frames=40, fps=20.0, keyint=10)
    async with open_storage(StorageConfig(), tmp_path) as store:
        bus = EventBus()
        files = bus.subscribe("device:file")
        gw = MdvrGateway(config(), store, bus, tmp_path / "files")
        async with trio.open_nursery() as nursery:
            await nursery.start(gw.serve)
            dev = SimDevice(
                "00967", "127.0.0.1", gw.signaling_port, clip=clip, position_interval_s=10.0,
                heartbeat_s=0.3, interrupt_file_after=3000, block_size=1024,
            )  # fmt: skip
            nursery.start_soon(dev.run)
            with trio.fail_after(5):
                await dev.registered.wait()
            await gw.start_live("00967", 1)
            feed = gw.ctx.feeds.feed("00967", 1)
            await until(lambda: feed.seq >= 3)
            data = clip.elementary_stream() * 3  # a longer file: the transfer overlaps
            await dev.send_file_ready("UIDX", SimFile("/mnt/sd/alarm/ch2.264", data))
            seq_at_start = feed.seq
            with trio.fail_after(30):
                while (event := await files.receive()).payload["status"] not in ("done", "failed"):
                    pass
            assert event.payload["status"] == "done", event.payload
            row = await store.devices.get_file(event.payload["file_id"])
            assert (gw.file_dir / row.stored_path).read_bytes() == data
            assert row.attempts == 2  # interrupted once and resumed, beside the live stream
            # The live stream kept going through the whole transfer and after it.
            await until(lambda: feed.seq >= seq_at_start + 10)
            sessions = {(s["channel"], s["state"]) for s in gw.live_sessions()}
            assert sessions == {(1, "streaming")}
            # And stopping the live view leaves downloads alone.
            assert await gw.stop_live("00967", 1)
            await dev.send_file_ready("UIDY", SimFile("/mnt/sd/alarm/ch3.264", data[:5000]))
            with trio.fail_after(30):
                while (event := await files.receive()).payload["status"] not in ("done", "failed"):
                    pass
            assert event.payload["status"] == "done"
            nursery.cancel_scope.cancel()
