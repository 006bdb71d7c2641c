"""`trocadero show export|import`: the whole show as a show file (docs/show-file.md).

Both talk to the running daemon over its socket API (the socket named by the config), so the
import goes through the same validation, engine swap, audit and snapshot as the UI's, and
nothing opens the store behind the daemon's back. Exit codes as `trocadero ctl`: 0 ok,
1 refused (every problem on stderr), 2 bad usage or no daemon.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any

from trocadero.client import Client, ScriptError, default_socket_path

EXIT_OK, EXIT_REFUSED, EXIT_USAGE = 0, 1, 2


def add_parser(sub: Any) -> None:
    show = sub.add_parser(
        "show",
        help="export or import the whole show (through the running daemon)",
        description="Export or import the show file of the running daemon (docs/snapshots.md).",
    )
    verbs = show.add_subparsers(dest="show_verb", required=True, metavar="VERB")
    export = verbs.add_parser("export", help="write the show file (stdout, or -o FILE)")
    export.add_argument("--config", type=Path, metavar="PATH", help="TOML config file")
    export.add_argument("-o", "--output", type=Path, metavar="FILE", help="file to write")
    imp = verbs.add_parser("import", help="replace the show with a show file")
    imp.add_argument("file", type=Path, metavar="FILE")
    imp.add_argument("--config", type=Path, metavar="PATH", help="TOML config file")


def _socket(config_path: Path | None) -> Path:
    from trocadero.config import load_config

    from .control_socket import socket_path
    from .statefile import resolve_state_dir

    if config_path is None:  # the daemon runs on the defaults: their socket
        return default_socket_path()
    config = load_config(config_path)
    state = resolve_state_dir(config.state.directory, os.environ)
    return socket_path(config.socket, state, dict(os.environ))


def run_show(ns: argparse.Namespace) -> int:
    from trocadero.config import ConfigError

    try:
        path = _socket(ns.config)
        doc: Any = None
        if ns.show_verb == "import":
            doc = json.loads(ns.file.read_text(encoding="utf-8"))
    except (ConfigError, OSError, ValueError) as exc:
        print(f"trocadero show: {exc}", file=sys.stderr)
        return EXIT_USAGE
    try:
        client = Client(path)
    except OSError as exc:
        print(f"trocadero show: cannot reach the daemon at {path}: {exc}", file=sys.stderr)
        return EXIT_USAGE
    with client:
        try:
            if ns.show_verb == "export":
                text = json.dumps(client.call("show.export"), sort_keys=True, indent=2) + "\n"
                if ns.output:
                    ns.output.write_text(text, encoding="utf-8")
                else:
                    sys.stdout.write(text)
                return EXIT_OK
            out = client.call("show.import", document=doc)
        except ScriptError as exc:
            print(f"trocadero show: {exc.code}:", file=sys.stderr)
            for line in exc.message.split("; "):
                print(f"  {line}", file=sys.stderr)
            return EXIT_REFUSED
    print(f"imported: snapshot {out['snapshot']}, {len(out['changes'])} changes")
    if out.get("restart_required"):
        print("the patch or settings changed: restart the daemon for the outputs to take them")
    return EXIT_OK
