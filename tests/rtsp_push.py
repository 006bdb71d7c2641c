"""Push the generated camera clip (tests/camera_clip.py) to an RTSP server in real time, as
an encoder or a camera that publishes does (RTSP ANNOUNCE/RECORD, with PyAV; RTP over TCP,
or over UDP for a relay that takes nothing else, tests/rtsp_server.py):

    python -m tests.rtsp_push rtsp://127.0.0.1:8554/square SECONDS [tcp|udp]

Retries the connection until the server listens (it may start after us); loops the clip."""

from __future__ import annotations

import sys
import time
from fractions import Fraction

import av

from tests.camera_clip import EMPTY_S, WALK_S, picture

FPS = 25


def push(url: str, seconds: float, transport: str = "tcp") -> int:
    deadline = time.monotonic() + 20.0
    while True:
        try:
            out = av.open(url, "w", format="rtsp", options={"rtsp_transport": transport})
            break
        except (ConnectionRefusedError, av.error.ConnectionRefusedError):
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)
    loop = round((EMPTY_S + WALK_S) * FPS)
    frames = [picture(n / FPS) for n in range(loop)]
    try:
        stream = out.add_stream("mpeg4", rate=FPS)
        stream.width, stream.height, stream.pix_fmt = 640, 480, "yuv420p"
        stream.codec_context.time_base = Fraction(1, FPS)
        stream.codec_context.bit_rate = 4_000_000
        start = time.monotonic()
        n = 0
        while n < seconds * FPS:
            frame = av.VideoFrame.from_ndarray(frames[n % loop], format="rgb24")
            frame.pts = n
            for packet in stream.encode(frame):
                out.mux(packet)
            n += 1
            time.sleep(max(0.0, start + n / FPS - time.monotonic()))
    except (BrokenPipeError, ConnectionResetError, av.error.BrokenPipeError):
        return 0  # the server hung up: its business
    finally:
        try:
            out.close()
        except (OSError, av.error.FFmpegError):
            pass
    return 0


if __name__ == "__main__":
    sys.exit(push(sys.argv[1], float(sys.argv[2]), *sys.argv[3:4]))
