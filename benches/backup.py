"""Backup and restore of the default show plus N MB of content (issue 22: 1 GB), beside a peer
measured in the same run on the same files.

    ./dev bench backup               # 1024 MB of content
    ./dev bench backup --mb 64

The store is the default show as a real daemon seeds it (started once, stopped); the content
is one incompressible file (like the video a library holds) in the library's layout. Ours:
`run_backup` (SQLite online backup of both files, tar through zstd, every member hashed,
fsync and rename) and `restore` into an empty state directory (every member verified, then
moved into place). The peer: `sqlite3 .backup` of each file and `tar --zstd -c` of the same
files, then `tar --zstd -x` (no hashing, no fsync).
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.daemon_harness import running_daemon
from trocadero.config import load_config
from trocadero.playout.backup_restore import RestoreOptions, restore
from trocadero.playout.backup_run import run_backup
from trocadero.playout.backup_targets import LocalTarget


def seed(base: Path) -> Path:
    """A state directory with the default show's store, as the daemon seeded it."""
    with running_daemon(base) as d:
        d.wait_healthy()
        assert d.stop()[0] == 0
    return base / "trocadero.toml"


def add_content(state: Path, mb: int) -> None:
    asset = state / "content" / "assets" / "1"
    asset.mkdir(parents=True, exist_ok=True)
    with open(asset / "v1-big.mp4", "wb") as f:
        for _ in range(mb):
            f.write(os.urandom(1 << 20))  # incompressible, as encoded video is


def timed(fn: Callable[[], object]) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--mb", type=int, default=1024, help="MB of content (default 1024)")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="trocadero-bench-backup-", dir="/var/tmp") as tmp:
        base = Path(tmp)
        config_path = seed(base)
        state = base / "state"
        add_content(state, args.mb)
        total = sum(p.stat().st_size for p in state.rglob("*") if p.is_file()) / 1e6
        config = load_config(config_path)
        out = base / "ours"
        out.mkdir()
        result = None

        def ours_backup() -> None:
            nonlocal result
            result = run_backup(config, config_path, state, targets=[LocalTarget(out)])

        t_ours = timed(ours_backup)
        assert result is not None
        archive = out / result.archive
        peer_dir = base / "peer"
        peer_dir.mkdir()

        def peer_backup() -> None:
            for name in ("trocadero.db", "fleet.db"):
                subprocess.run(
                    ["sqlite3", str(state / name), f".backup {peer_dir / name}"], check=True
                )
            subprocess.run(
                [
                    "tar",
                    "--zstd",
                    "-cf",
                    str(base / "peer.tar.zst"),
                    "-C",
                    str(peer_dir),
                    "trocadero.db",
                    "fleet.db",
                    "-C",
                    str(state),
                    "content",
                    "auth.key",
                    "-C",
                    str(base),
                    "trocadero.toml",
                ],
                check=True,
            )

        t_peer = timed(peer_backup)
        # Restore into an empty state directory (the config names it: move the old one away).
        shutil.move(state, base / "old-state")
        t_restore = timed(
            lambda: restore(str(archive), config_path, RestoreOptions(staging=base), lambda _: None)
        )
        restored = base / "peer-restored"
        restored.mkdir()
        t_peer_restore = timed(
            lambda: subprocess.run(
                ["tar", "--zstd", "-xf", str(base / "peer.tar.zst"), "-C", str(restored)],
                check=True,
            )
        )
        size = archive.stat().st_size / 1e6
        peer_size = (base / "peer.tar.zst").stat().st_size / 1e6
    print(f"default show + {args.mb} MB of content: {total:.0f} MB of files")
    print(f"{'':22}{'ours':>26}{'peer (sqlite3 .backup + tar --zstd)':>40}")
    print(
        f"{'backup':22}{t_ours:>9.2f} s {total / t_ours:>8.0f} MB/s"
        f"{t_peer:>22.2f} s {total / t_peer:>8.0f} MB/s"
    )
    print(
        f"{'restore':22}{t_restore:>9.2f} s {total / t_restore:>8.0f} MB/s"
        f"{t_peer_restore:>22.2f} s {total / t_peer_restore:>8.0f} MB/s"
    )
    print(f"{'archive size':22}{size:>17.0f} MB{peer_size:>34.0f} MB")


if __name__ == "__main__":
    main()
