"""`trocadero` command line: run, check-config, version, ctl, users, show, mdvr-sim, backup,
restore.

Exit codes: 0 ok, 2 bad usage or bad config, 1 runtime failure.
"""

from __future__ import annotations

import argparse
import importlib
import os
import platform
import sys
from collections.abc import Sequence
from functools import partial
from pathlib import Path

from .backup_cli import add_parsers as add_backup_parsers
from .backup_cli import run_backup_command, run_restore_command
from .ctl import add_parser as add_ctl_parser
from .ctl import run_ctl
from .db_cli import add_parser as add_db_parser
from .db_cli import run_db
from .show_cli import add_parser as add_show_parser
from .show_cli import run_show
from .users_cli import add_parser as add_users_parser
from .users_cli import run_users

EXIT_OK = 0
EXIT_RUNTIME = 1
EXIT_USAGE = 2


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="trocadero",
        description="Real-time playout daemon for the Trocadero LED installation.",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    run = sub.add_parser(
        "run",
        help="run the daemon",
        description=(
            "Run the playout daemon in the foreground until SIGTERM or SIGINT. Without --config "
            "it runs on the embedded defaults (no hardware, no servers needed)."
        ),
    )
    run.add_argument("--config", type=Path, metavar="PATH", help="TOML config file")
    run.add_argument(
        "--reseed",
        action="store_true",
        help=(
            "seed an empty store with the show file's looks and cue lists and a new admin even"
            " though the state directory holds an earlier installation's data"
        ),
    )
    gateway = sub.add_parser(
        "gateway",
        help="run only the MDVR gateway (no lighting)",
        description=(
            "Run the MDVR gateway alone, with no frame clock and no outputs: its servers, its"
            " store (the configured one, shared with the appliance) and, with [events]"
            " redis_url, its events on Redis. Needs [mdvr] enabled = true."
        ),
    )
    gateway.add_argument("--config", type=Path, metavar="PATH", required=True, help="TOML config")
    tracker = sub.add_parser(
        "blob-tracker",
        help="run one camera's blob tracker",
        description=(
            "Track blobs in one camera's picture (docs/cameras.md). The daemon starts one per"
            " [[cameras]] entry; run alone, it prints what it sends as JSON lines."
        ),
    )
    tracker.add_argument("--config", type=Path, metavar="PATH", help="TOML config")
    tracker.add_argument("--camera", metavar="NAME", help="the [[cameras]] entry to run")
    tracker.add_argument("--camera-json", metavar="JSON", help="the camera's settings as JSON")
    tracker.add_argument("--fd", type=int, metavar="FD", help="socket to the daemon")
    check = sub.add_parser(
        "check-config",
        help="validate a config file",
        description=(
            "Validate a TOML config file; print every problem as FILE: key.path: what is wrong."
        ),
    )
    check.add_argument("path", type=Path, metavar="PATH")
    sub.add_parser(
        "version",
        help="print versions and native build profiles",
        description=(
            "Print the Trocadero version, the Python runtime and each native module's build "
            "profile."
        ),
    )
    sim = sub.add_parser(
        "mdvr-sim",
        help="simulate MDVR devices",
        description=(
            "Run simulated MDVR vehicle cameras against a gateway: registration, positions, "
            "alarms, live H.264 video on request (playout/mdvr/sim.py)."
        ),
    )
    sim.add_argument("--host", default="127.0.0.1", help="gateway address")
    sim.add_argument("--port", type=int, default=6608, help="signaling port")
    sim.add_argument("--devices", type=int, default=10, metavar="N", help="how many devices")
    sim.add_argument("--first-id", type=int, default=1, help="first device id (00001, …)")
    sim.add_argument("--interval", type=float, default=1.0, help="seconds between positions")
    sim.add_argument(
        "--clock-step",
        type=float,
        default=None,
        help="compressed time: each position advances the devices' clock this many seconds",
    )
    sim.add_argument("--duration", type=float, default=None, help="stop after this many seconds")
    sim.add_argument("--no-video", action="store_true", help="no clip for live-video requests")
    add_ctl_parser(sub)
    add_users_parser(sub)
    add_show_parser(sub)
    add_backup_parsers(sub)
    add_db_parser(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)  # exits 2 on bad usage
    if args.command == "check-config":
        return _check_config(args.path)
    if args.command == "version":
        return _version()
    if args.command == "mdvr-sim":
        return _mdvr_sim(args)
    if args.command == "ctl":
        return run_ctl(args)
    if args.command == "users":
        return run_users(args)
    if args.command == "show":
        return run_show(args)
    if args.command == "gateway":
        return _gateway(args.config)
    if args.command == "backup":
        return run_backup_command(args)
    if args.command == "blob-tracker":
        return _blob_tracker(args)
    if args.command == "restore":
        return run_restore_command(args)
    if args.command == "db":
        return run_db(args)
    return _run(args.config, reseed=args.reseed)


def _check_config(path: Path) -> int:
    from trocadero.config import ConfigError, load_config

    from .cameras.checks import camera_canvas_problems
    from .showload import load_configured_show
    from .statefile import resolve_state_dir, state_dir_problems
    from .tuio import surface_maps

    try:
        config = load_config(path)
        show = load_configured_show(config)
        sizes = {n: (c.cmap.width, c.cmap.height) for n, c in show.renderer.canvases.items()}
        surface_maps(config.touch, sizes)  # touch surfaces on the show's canvases
        if unknown := camera_canvas_problems(config, show.renderer.canvases):
            raise ConfigError([f"{path}: {p}" for p in unknown])
        state = resolve_state_dir(config.state.directory, os.environ)
        if problems := state_dir_problems(state):
            raise ConfigError([f"{path}: {p}" for p in problems])
    except ConfigError as exc:
        print(exc, file=sys.stderr)
        return EXIT_USAGE
    print(
        f"{path}: ok (show {show.show.name!r} from {show.source}: {len(show.show.canvases)} "
        f"canvases, {len(show.show.fixtures)} fixtures, {len(show.patch.universes)} universes)"
    )
    return EXIT_OK


NATIVE_MODULES = ("trocadero.native._kernels", "trocadero_rt")


def _version() -> int:
    from trocadero import __version__

    print(f"trocadero {__version__}")
    print(f"python {platform.python_version()} ({platform.python_implementation()})")
    status = EXIT_OK
    for name in NATIVE_MODULES:
        try:
            module = importlib.import_module(name)
        except ImportError as exc:
            print(f"{name}: NOT BUILT ({exc})")
            status = EXIT_RUNTIME
            continue
        profile = getattr(module, "BUILD_PROFILE", "unknown")
        info = getattr(module, "BUILD_INFO", "")
        version = getattr(module, "__version__", "")
        detail = " ".join(p for p in (version, info) if p)
        print(f"{name}: {profile} build" + (f" ({detail})" if detail else ""))
    return status


def _run(config_path: Path | None, *, reseed: bool = False) -> int:
    import trio

    from trocadero.config import ConfigError, load_config, load_default_config

    from .daemon import StartupRefused, run_daemon
    from .logs import configure_logging, get_logger
    from .malloc import limit_malloc_arenas

    try:
        config = load_default_config() if config_path is None else load_config(config_path)
    except ConfigError as exc:
        print(exc, file=sys.stderr)
        return EXIT_USAGE
    configure_logging(config.logging)
    limit_malloc_arenas()
    try:
        trio.run(partial(run_daemon, config, reseed=reseed, config_path=config_path))
    except ConfigError as exc:  # the show (loaded first), or found while attaching outputs
        print(exc, file=sys.stderr)
        return EXIT_USAGE
    except StartupRefused as exc:  # a damaged or missing store: nothing to configure away
        print(f"trocadero: {exc}", file=sys.stderr)
        return EXIT_RUNTIME
    except KeyboardInterrupt:
        return EXIT_OK  # a second Ctrl-C during shutdown
    except Exception as exc:
        get_logger("daemon").critical("daemon failed", exc_info=exc)
        return EXIT_RUNTIME
    return EXIT_OK


def _gateway(config_path: Path) -> int:
    import trio

    from trocadero.config import ConfigError, load_config
    from trocadero.core.events import EventBus

    from .logs import configure_logging, get_logger
    from .malloc import limit_malloc_arenas
    from .mdvr.process.child import run_alone
    from .redis_bridge import RedisBridge
    from .statefile import resolve_state_dir, state_dir_problems

    try:
        config = load_config(config_path)
        if not config.mdvr.enabled:
            raise ConfigError([f"{config_path}: mdvr.enabled: false: nothing to run"])
        state = resolve_state_dir(config.state.directory, os.environ)
        if problems := state_dir_problems(state):
            raise ConfigError([f"{config_path}: {p}" for p in problems])
    except ConfigError as exc:
        print(exc, file=sys.stderr)
        return EXIT_USAGE
    configure_logging(config.logging)
    limit_malloc_arenas()
    beside = None
    if config.events.redis_url:  # its events reach the appliance's and API nodes' consoles

        async def beside(bus: EventBus) -> None:
            await RedisBridge(bus, config.events).serve()

    try:
        trio.run(run_alone, config, state, beside)
    except ConfigError as exc:  # a port in use
        print(exc, file=sys.stderr)
        return EXIT_USAGE
    except Exception as exc:
        get_logger("mdvr").critical("gateway failed", exc_info=exc)
        return EXIT_RUNTIME
    return EXIT_OK


def _blob_tracker(args: argparse.Namespace) -> int:
    import json

    from trocadero.config import ConfigError, load_config
    from trocadero.config.cameras import CameraConfig
    from trocadero.core.codec import from_plain

    from .cameras.worker import run_worker

    try:
        if args.camera_json is not None:
            camera, problems = from_plain(CameraConfig, json.loads(args.camera_json))
            if camera is None:
                raise ConfigError([f"--camera-json: {p}" for p in problems])
        else:
            if args.config is None or args.camera is None:
                raise ConfigError(["give --config PATH --camera NAME, or --camera-json"])
            found = [c for c in load_config(args.config).cameras if c.name == args.camera]
            if not found:
                raise ConfigError([f"{args.config}: cameras: no camera named {args.camera!r}"])
            camera = found[0]
    except (ConfigError, ValueError) as exc:
        print(exc, file=sys.stderr)
        return EXIT_USAGE
    return run_worker(camera, args.fd)


def _mdvr_sim(args: argparse.Namespace) -> int:
    import trio

    from .mdvr.sim import main as simulate

    try:
        stats = trio.run(
            partial(
                simulate,
                host=args.host,
                port=args.port,
                devices=args.devices,
                interval_s=args.interval,
                clock_step_s=args.clock_step,
                duration_s=args.duration,
                first_id=args.first_id,
                video=not args.no_video,
            )
        )
    except KeyboardInterrupt:
        return EXIT_OK
    print(" ".join(f"{k}={v}" for k, v in vars(stats).items()))
    return EXIT_OK


if __name__ == "__main__":
    raise SystemExit(main())
