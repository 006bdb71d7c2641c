"""`trocadero ctl`: the socket API from the shell (docs/socket-api.md).

    trocadero ctl go main              trocadero ctl goto main 12.5 [--fade 2]
    trocadero ctl release main         trocadero ctl status [--json]
    trocadero ctl watch [TOPIC ...]    trocadero ctl call OP [key=value ...]
    trocadero ctl ha status|handover   (the hot-standby pair, docs/ha.md)

Every op of the operation table (`core.operations`) is a subcommand: its required arguments
positional, the others as ``--name VALUE`` (JSON, except names and cue numbers).

Exit codes: 0 ok, 1 the daemon refused (its message on stderr), 2 bad usage or no daemon.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any, Final

from trocadero.client import Client, ScriptError, default_socket_path
from trocadero.core.operations import OPERATIONS, operation
from trocadero.core.operations.args import Choice, CueNumber, Name, Text, Timestamp

EXIT_OK, EXIT_REFUSED, EXIT_USAGE = 0, 1, 2


# Kinds whose command-line text is the value itself (a name, a cue number "12.5"); the others
# are read as JSON (numbers, true/false, lists, objects).
_TEXT_KINDS: Final = (Name, Text, CueNumber, Timestamp, Choice)


def add_parser(sub: Any) -> None:
    ctl = sub.add_parser(
        "ctl",
        help="control the running daemon (socket API)",
        description="Send one command to the running daemon over its Unix socket.",
    )
    ctl.add_argument("--socket", type=Path, metavar="PATH", help="socket (default: see docs)")
    verbs = ctl.add_subparsers(dest="verb", required=True, metavar="VERB")
    for op in OPERATIONS:
        if op.name == "status":
            continue  # below, with its own printing
        p = verbs.add_parser(op.name, help=op.summary, description=op.summary)
        for a in op.args:
            what = a.doc or type(a.kind).__name__.lower()
            if a.required:
                p.add_argument(a.name, help=what)
            else:
                p.add_argument(f"--{a.name}", help=what, metavar="VALUE")
    # The pair's ops also as two words (docs/ha.md): `trocadero ctl ha handover`.
    ha = verbs.add_parser("ha", help="the hot-standby pair: its status, or a planned handover")
    ha.add_argument("action", choices=("status", "handover"))
    status = verbs.add_parser("status", help="every cue list, park, override and master")
    status.add_argument("--json", action="store_true", help="the raw state as JSON")
    watch = verbs.add_parser("watch", help="print events until Ctrl-C")
    watch.add_argument("topics", nargs="*", default=["*"], metavar="TOPIC")
    call = verbs.add_parser("call", help="any op, with key=value arguments (values as JSON)")
    call.add_argument("op")
    call.add_argument("args", nargs="*", metavar="KEY=VALUE")


def _value(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        return text  # a bare word is a string


def _args(ns: argparse.Namespace) -> tuple[str, dict[str, Any]]:
    verb = ns.verb
    if verb == "call":
        out: dict[str, Any] = {}
        for pair in ns.args:
            key, sep, value = pair.partition("=")
            if not sep or not key:
                raise ValueError(f"argument {pair!r}: expected key=value")
            out[key] = _value(value)
        return ns.op, out
    if verb == "ha":
        return f"ha.{ns.action}", {}
    op = operation(verb)
    args: dict[str, Any] = {}
    for a in op.args:
        text = getattr(ns, a.name, None)
        if text is not None:
            args[a.name] = text if isinstance(a.kind, _TEXT_KINDS) else _value(text)
    return op.name, args


def _print_status(state: dict[str, Any]) -> None:
    print(f"{'list':16} {'cue':>8} {'pending':>8} {'progress':>9}  state")
    for lst in state["lists"]:
        flags = [f for f in ("fading", "paused") if lst.get(f)] or [
            "idle" if not lst["current"] else "holding"
        ]
        progress = f"{100 * lst['progress']:.0f}%"
        print(
            f"{lst['name']:16} {lst['current'] or '-':>8} {lst['pending'] or '-':>8} "
            f"{progress:>9}  {', '.join(flags)}"
        )
    m = state["masters"]
    print(f"grand master {m['grand']:.2f}{'  BLACKOUT' if m['blackout'] else ''}")
    if state["emergency"]["engaged"]:
        print(f"EMERGENCY engaged on {', '.join(state['emergency']['canvases'])}")
    for canvas, target in sorted(state["parks"].items()):
        given = target or {}
        shown = given.get("look") or f"rgb {given.get('rgb')}"
        print(f"park on {canvas}: {shown}")
    for o in state["overrides"]:
        where = ", ".join(o["canvases"])
        print(f"override {o['id']} by {o['owner']} on {where}, {o['expires_in']} s left")


def run_ctl(ns: argparse.Namespace) -> int:
    path = ns.socket or default_socket_path()
    try:
        client = Client(path)
    except OSError as exc:
        print(
            f"trocadero ctl: cannot reach the daemon at {path}: {exc.strerror or exc}",
            file=sys.stderr,
        )
        return EXIT_USAGE
    with client:
        try:
            if ns.verb == "status":
                state = client.status()
                if ns.json:
                    print(json.dumps(state, indent=2, sort_keys=True))
                else:
                    _print_status(state)
                return EXIT_OK
            if ns.verb == "watch":
                try:
                    for event in client.events(ns.topics):
                        print(json.dumps(event, sort_keys=True, default=str), flush=True)
                except KeyboardInterrupt:
                    pass
                return EXIT_OK
            op, args = _args(ns)
            result = client.call(op, **args)
        except ValueError as exc:
            print(f"trocadero ctl: {exc}", file=sys.stderr)
            return EXIT_USAGE
        except ScriptError as exc:
            print(f"trocadero ctl: {exc.code}: {exc.message}", file=sys.stderr)
            return EXIT_REFUSED
    print(json.dumps(result, sort_keys=True, default=str))
    return EXIT_OK
