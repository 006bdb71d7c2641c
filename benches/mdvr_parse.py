"""MDVR protocol parsing: the Rust decoder (through the ``trocadero_rt`` binding, and bare via a
cargo example) against the pure-Python reference parser, same streams, same run.

    ./dev bench mdvr_parse                  # ~15 s
    ./dev bench mdvr_parse --seconds 0.3    # quicker, noisier
    ./dev bench mdvr_parse --no-cargo       # skip the pure-Rust floor (no cargo needed)

Streams (built once, fed to a fresh decoder per pass, in reads as a socket delivers them):

* **signaling**: the real E2 device messages of the reference (V101, V142, V141, V109, V204,
  V254, V100 and 12 x V114: positions dominate real traffic), 20,000 messages, 4 KiB reads;
  every message decoded to its typed dataclass (``Position`` included). Figure: messages/s.
* **media live**: a 25 fps session (60 KB I-frame every 25 frames, 4 KB P-frames, one 320-byte
  audio frame per video frame) in M1 envelopes, after its V102 registration, 64 KiB reads;
  every packet decoded to a ``MediaFrame`` with its payload as ``bytes``. Figure: bytes/s.
* **media download**: 0x6102 file blocks of 32 KiB, 64 KiB reads. Figure: bytes/s.

"rust" is ``trocadero.protocols.mdvr`` (the façade the servers use), "ref" is
``trocadero.protocols.mdvr_ref``; "pure Rust" is ``native/rust/core/examples/mdvr_parse.rs``
on the same signaling mix and live media stream with no Python objects (zero-copy payload
slices). Each figure is the median over passes of at least ``--seconds``. Targets (issue 7):
>= 1 M messages/s and >= 1 GB/s in Rust, >= 20x the reference. Printed, not asserted.
"""

from __future__ import annotations

import argparse
import json
import platform
import shutil
import statistics
import struct
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import trocadero_rt

from trocadero.protocols import mdvr, mdvr_ref

RUST = Path(__file__).resolve().parent.parent / "native" / "rust"
EXAMPLE = RUST / "target" / "release" / "examples" / "mdvr_parse"

V101 = b"$$dc0234,2,V101,00967,,170915 105007,A0000,18,49,159000000,-34,5,24180000,0.00,28600,FFF7000000307783,0000000000000000,0.00,0.00,0.00,0,0.00,0,0|0.00|0|0|0|0|0|0|0,,V1.0.0.1,4108,,0,0,0,00967,0,8888,3,2,14,16,,T16120701,V6.1.45 20160604,,0,8,#"  # noqa: E501
V142 = b"$$dc0266,3,V142,00967,,170915 105008,A0000,18,49,159000000,-34,5,24180000,0.00,28600,FFF7000000307783,0000000000000000,0.00,0.00,0.00,0,0.00,0,0|0.00|0|0|0|0|0|0|0,,1,00967,4108,00967,T16120701,8,247,255,2,953256_1256_29933_533,0,2,14,0.0.0.0,0,8888,0,0.0.0.0,0,2,8,0,0,,0,,#"  # noqa: E501
V141 = b"$$dc0156,5,V141,00967,,170915 105008,A0000,18,49,159000000,-34,5,24180000,0.00,28600,FFF7000000307783,0000000000000000,0.00,0.00,0.00,0,0.00,0,0|0.00|0|0|0|0|0|0|0,#"  # noqa: E501
V114 = b"$$dc0157,6,V114,00967,,170915 105051,A0000,18,49,159000000,-34,5,24180000,0.00,28600,FFF7000000307783,0000000000000000,0.00,0.00,0.00,0,0.00,0,0|0.00|0|0|0|0|0|0|0,1#"  # noqa: E501
V109 = b"$$dc0028,7,V109,00967,,170915 105108#"
V204 = b"$$dc0194,1,V204,00967,,170915 104622,A0000,18,49,159000000,-34,5,24180000,0.00,3500,00F700000030D783,0000000000000000,0.00,0.00,0.00,0,0.00,0,0|0.00|0|0|0|0|0|0|0,,170915 104622,852D679B0155CB02,0,,0,,1#"  # noqa: E501
V254 = b"$$dc0195,9,V254,00967,,170915 105204,A0000,18,49,158819999,-34,5,24539999,0.00,19800,FFFB000000307783,0000000000000000,0.00,0.00,0.00,0,0.00,0,0|0.00|0|0|0|0|0|0|0,,170915 105204,85329EFD0156820A,0,,0,,4#"  # noqa: E501
V100 = b"$$dc0185,52,V100,00967,,170915 105412,A0000,18,49,158819999,-34,5,24539999,0.00,19800,FFFB000000309783,0000000000000000,0.00,0.00,0.00,0,0.00,0,0|0.00|0|0|0|0|0|0|0,,C508,170915 105351,0,1,1,,0#"  # noqa: E501
V102 = b"$$dc0180,1d,V102,34561,,170429 133652,A,+28,59,102539064,+41,3,32226562,0,0,0001000000105780,0000000000000000,0.00,0.00,0.00,,-1,0,0,0,V0.00.01,2,176.240.208.9,6602,26636840,C508,0,1,00000#"  # noqa: E501
CYCLE = [V101, V142, V141, V109, V204, V254, V100, *[V114] * 12]

Feed = Callable[[], int]


def signaling_stream(messages: int) -> bytes:
    return b"".join(CYCLE[i % len(CYCLE)] for i in range(messages))


def live_stream(frames: int) -> tuple[bytes, int]:
    """(stream, packets): the same session as the cargo example's, after its V102."""
    out = [V102]
    for i in range(frames):
        opcode, size = (0x6011, 60_000) if i % 25 == 0 else (0x6012, 4_000)
        ts = struct.pack("<Q", 1_505_472_375_278_000 + i * 40_000)
        body = (b"\x00\x00\x00\x01\x65" + bytes([i % 251]) * size)[:size]
        out.append(mdvr.build_media_packet(opcode, ts + body, serial=i % 65536))
        out.append(mdvr.build_media_packet(0x6013, ts + b"\x55" * 320, serial=i % 65536))
    return b"".join(out), 2 * frames


def download_stream(blocks: int, size: int = 32 << 10) -> tuple[bytes, int]:
    data = bytes(range(256)) * (size // 256)
    out = [
        mdvr.build_media_packet(0x6102, struct.pack("<II", i * size, size) + data, serial=i)
        for i in range(blocks)
    ]
    return b"".join(out), blocks


def reads(stream: bytes, size: int) -> list[bytes]:
    return [stream[i : i + size] for i in range(0, len(stream), size)]


def signaling_feed(
    cls: type[mdvr.SignalingDecoder | mdvr_ref.SignalingDecoder], chunks: Sequence[bytes]
) -> Feed:
    def run() -> int:
        decoder = cls()
        return sum(len(decoder.feed(chunk)) for chunk in chunks)

    return run


def media_feed(
    cls: type[mdvr.MediaDecoder | mdvr_ref.MediaDecoder], chunks: Sequence[bytes]
) -> Feed:
    def run() -> int:
        decoder = cls()
        return sum(len(decoder.feed(chunk)) for chunk in chunks)

    return run


def median_pass_s(run: Feed, seconds: float, expect: int) -> float:
    """Median duration of one pass over the stream, over passes filling ``seconds`` (>= 3)."""
    assert run() == expect  # warm-up, and a check that every item was decoded
    times: list[float] = []
    start = time.perf_counter()
    while len(times) < 3 or time.perf_counter() - start < seconds:
        t0 = time.perf_counter()
        run()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def pure_rust(seconds: float) -> dict[str, float] | None:
    if shutil.which("cargo") is None:
        print("(cargo not found: no pure-Rust figures)", file=sys.stderr)
        return None
    print("building the pure-Rust example (cargo, release)...", file=sys.stderr)
    subprocess.run(
        ["cargo", "build", "-q", "-j1", "--release", "--example", "mdvr_parse"],
        cwd=RUST / "core",
        check=True,
    )
    result = subprocess.run(
        [str(EXAMPLE), "--seconds", str(max(seconds, 0.5))],
        capture_output=True,
        text=True,
        check=True,
    )
    figures: dict[str, float] = json.loads(result.stdout)
    return figures


def rate(x: float, unit: str) -> str:
    for scale, prefix in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if x >= scale:
            return f"{x / scale:7.2f} {prefix}{unit}"
    return f"{x:7.0f} {unit}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=2.0, help="per figure (default 2)")
    parser.add_argument("--messages", type=int, default=20_000)
    parser.add_argument("--no-cargo", action="store_true", help="skip the pure-Rust example")
    args = parser.parse_args()
    print(
        f"MDVR parse: trocadero_rt {trocadero_rt.BUILD_PROFILE} ({trocadero_rt.BUILD_INFO}),"
        f" Python {platform.python_version()}, {platform.machine()}; median pass over"
        f" >= {args.seconds} s per figure"
    )
    sig = signaling_stream(args.messages)
    live, live_packets = live_stream(250)
    download, blocks = download_stream(64)
    cases = [
        (
            f"signaling ({args.messages:,} msgs, 4 KiB reads)",
            "msg/s",
            args.messages,
            signaling_feed(mdvr.SignalingDecoder, reads(sig, 4096)),
            signaling_feed(mdvr_ref.SignalingDecoder, reads(sig, 4096)),
            args.messages,
        ),
        (
            f"media live ({len(live) / 1e6:.1f} MB, 64 KiB reads)",
            "B/s",
            len(live),
            media_feed(mdvr.MediaDecoder, reads(live, 65536)),
            media_feed(mdvr_ref.MediaDecoder, reads(live, 65536)),
            live_packets + 1,
        ),
        (
            f"media download ({len(download) / 1e6:.1f} MB, 64 KiB reads)",
            "B/s",
            len(download),
            media_feed(mdvr.MediaDecoder, reads(download, 65536)),
            media_feed(mdvr_ref.MediaDecoder, reads(download, 65536)),
            blocks,
        ),
    ]
    print(f"\n{'stream':<40}{'rust':>16}{'ref':>16}{'rust/ref':>10}")
    results: dict[str, float] = {}
    for name, unit, amount, rust, ref, expect in cases:
        r = amount / median_pass_s(rust, args.seconds, expect)
        p = amount / median_pass_s(ref, args.seconds, expect)
        results[name.split(" (")[0]] = r
        print(f"{name:<40}{rate(r, unit):>16}{rate(p, unit):>16}{r / p:>9.1f}x")
    live_pps = results["media live"] / len(live) * (live_packets + 1)
    print(f"  (media live through the binding: {rate(live_pps, 'packets/s').strip()})")
    floor = None if args.no_cargo else pure_rust(args.seconds)
    if floor:
        print(
            f"\npure Rust (cargo example, no Python objects, zero-copy payloads):"
            f" signaling {rate(floor['signaling_messages_per_s'], 'msg/s').strip()},"
            f" media live {rate(floor['media_bytes_per_s'], 'B/s').strip()}"
            f" ({rate(floor['media_packets_per_s'], 'packets/s').strip()})"
        )
    print(
        "\ntargets: >= 1 M msg/s and >= 1 GB/s in Rust, >= 20x the reference."
        f" Through the binding: signaling {results['signaling'] / 1e6:.2f} M msg/s,"
        f" media live {results['media live'] / 1e9:.2f} GB/s,"
        f" download {results['media download'] / 1e9:.2f} GB/s."
    )


if __name__ == "__main__":
    main()
