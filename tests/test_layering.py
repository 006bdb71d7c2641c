"""The dependency direction of docs/design.md, checked on the syntax tree of every module.

Layers: ``config``, ``native`` ← ``protocols`` ← ``core`` ← ``core.operations`` (the operation
table every interface reads) ← ``web`` ← ``playout``; the
``trocadero/`` package itself holds the version (anyone may read it), the show-script client
(a protocols-level library that reads the operation table: no domain, no daemon) and
``__main__`` (the entry point, on top).

Inside ``playout/`` the sub-layers, lowest first:

=========  ===================================================================
base       logs, state files, signing key, systemd notify, the supervisor, child processes'
           exits (``child_exit.py``), malloc tuning,
           tracing (``tracing.py``, ``otel.py``: the MDVR gateway process traces too)
mdvr       the MDVR gateway (``playout/mdvr/``)
render     frame rendering (``playout/render/``; reads the live MDVR feeds)
runtime    every other subsystem module (frames, outputs, playback, schedule, …)
daemon     ``daemon.py``: the nursery that wires the subsystems and the web app
cli        ``cli.py``, ``ctl.py``, ``users_cli.py``: the command line
=========  ===================================================================

Only the daemon serves the web app; only the command line uses the show-script client.

The native extension ``trocadero_rt`` (Rust) may be imported by ``native/`` (its home: the
frame clock façade), by ``protocols/`` for the MDVR codec only (sans-IO: frames in, messages
out — never the clock or the senders), and by ``playout/render/`` (the native render plan).

``protocols/`` is sans-IO: no sockets, no event loop, no clock (docs/design.md, "Layout").
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

# Top-level folders that are layers of the `trocadero` package, and the package dir itself.
LAYER_DIRS = ("config", "native", "protocols", "core", "web", "playout")
PACKAGE_DIR = "trocadero"

PLAYOUT_BASE = frozenset(
    {
        "logs",
        "statefile",
        "signing_key",
        "systemd",
        "supervisor",
        "child_exit",
        "malloc",
        "tracing",
        "otel",
    }
)
PLAYOUT_CLI = frozenset({"cli", "ctl", "users_cli", "show_cli"})
PLAYOUT_PACKAGES = frozenset({"mdvr", "render"})  # sub-packages, each one sub-layer

RT = "trocadero_rt"  # the native extension, a unit of its own
# The operation table (core/operations/) is a unit above the rest of core: every interface
# (web, playout, the client) reads it; nothing else in core imports it.
OPS = "core.operations"
LOWER = frozenset({"config", "native", "protocols", "core", OPS})  # what all of playout may use
# unit -> the units it may import (besides itself and the package root's version).
ALLOWED: dict[str, frozenset[str]] = {
    "trocadero": frozenset(),
    "config": frozenset(),
    "native": frozenset({RT}),
    "protocols": frozenset({"config", "native", RT}),
    "core": frozenset({"config", "native", "protocols"}),
    OPS: frozenset({"config", "native", "protocols", "core"}),
    "web": frozenset({"config", "native", "protocols", "core", OPS}),
    "client": frozenset({"config", "native", "protocols", OPS}),
    "playout.base": LOWER,
    "playout.mdvr": LOWER | {"playout.base"},
    "playout.render": LOWER | {"playout.base", "playout.mdvr", RT},
    "playout.runtime": LOWER | {"playout.base", "playout.mdvr", "playout.render"},
    "playout.daemon": LOWER
    | {"web", "playout.base", "playout.mdvr", "playout.render", "playout.runtime"},
    "playout.cli": LOWER
    | {
        "client",
        "playout.base",
        "playout.mdvr",
        "playout.render",
        "playout.runtime",
        "playout.daemon",
    },
}
ALLOWED["main"] = frozenset(ALLOWED) | {RT}

# Sans-IO: what protocols/ must not import, and the clock reads it must not make.
IO_MODULES = frozenset(
    {"socket", "trio", "trio_asyncio", "anyio", "asyncio", "select", "selectors"}
)
CLOCK_READS = frozenset(
    {
        "time.time",
        "time.time_ns",
        "time.monotonic",
        "time.monotonic_ns",
        "time.perf_counter",
        "time.perf_counter_ns",
        "time.process_time",
        "time.sleep",
        "datetime.datetime.now",
        "datetime.datetime.utcnow",
        "datetime.datetime.today",
        "datetime.date.today",
    }
)
# The part of trocadero_rt protocols/ may use: the MDVR codec (decoders, builders, limits).
RT_SANS_IO = re.compile(r"^(Mdvr|mdvr_|MDVR_)")


def playout_unit(parts: list[str]) -> str:
    """The sub-layer of the playout module `parts` (dotted name below `trocadero.playout`)."""
    if not parts or parts[0] == "__init__":
        return "playout.runtime"
    head = parts[0]
    if head in PLAYOUT_PACKAGES:
        return f"playout.{head}"
    if head in PLAYOUT_BASE:
        return "playout.base"
    if head == "daemon":
        return "playout.daemon"
    if head in PLAYOUT_CLI:
        return "playout.cli"
    return "playout.runtime"  # a new subsystem module lands here, with its limits


def unit_of_name(name: str) -> str | None:
    """The unit an absolute dotted import target belongs to; None outside the project."""
    parts = name.split(".")
    if parts[0] == RT:
        return RT
    if parts[0] in LAYER_DIRS:  # a bare `import core` is still that layer
        parts = ["trocadero", *parts]
    if parts[0] != "trocadero":
        return None
    if len(parts) == 1 or parts[1] in ("__init__", "__version__"):
        return "trocadero"
    if parts[1] == "client":
        return "client"
    if parts[1] == "__main__":
        return "main"
    if parts[1] == "playout":
        return playout_unit(parts[2:])
    if parts[1:3] == ["core", "operations"]:
        return OPS
    if parts[1] in LAYER_DIRS:
        return parts[1]
    return f"trocadero.{parts[1]}"  # unknown: never in ALLOWED, so it is reported


def module_name(rel: Path) -> str:
    """`playout/mdvr/gateway.py` → `trocadero.playout.mdvr.gateway` (the pyproject mapping)."""
    parts = list(rel.with_suffix("").parts)
    if parts[0] == PACKAGE_DIR:
        parts = parts[1:]
    if parts and parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(["trocadero", *parts])


def imports(tree: ast.Module, module: str, is_package: bool) -> Iterator[tuple[int, str]]:
    """(line, absolute dotted target) of every import; `from a import b` yields `a.b`."""
    package = module if is_package else module.rpartition(".")[0]
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")
                anchor = anchor[: len(anchor) - (node.level - 1)]
                base = ".".join([*anchor, *([base] if base else [])])
            for alias in node.names:
                yield node.lineno, f"{base}.{alias.name}" if alias.name != "*" else base


def local_names(tree: ast.Module) -> dict[str, str]:
    """Local name → the qualified name it was imported as (`mono` → `time.monotonic`)."""
    names: dict[str, str] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.asname:
                    names[alias.asname] = alias.name
                else:
                    top = alias.name.partition(".")[0]
                    names[top] = top
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            for alias in node.names:
                names[alias.asname or alias.name] = f"{node.module}.{alias.name}"
    return names


def dotted(node: ast.expr) -> list[str] | None:
    """`a.b.c` as ["a", "b", "c"]; None for anything that is not a plain attribute chain."""
    chain: list[str] = []
    while isinstance(node, ast.Attribute):
        chain.append(node.attr)
        node = node.value
    if not isinstance(node, ast.Name):
        return None
    return [node.id, *reversed(chain)]


def sans_io_violations(tree: ast.Module) -> Iterator[tuple[int, str]]:
    """Sockets, event loops, clock reads and trocadero_rt beyond its MDVR codec."""
    for line, target in imports(tree, "", False):
        top = target.lstrip(".").partition(".")[0]
        if top in IO_MODULES:
            yield line, f"imports {top} (sans-IO: no sockets, no event loop)"
        if target in CLOCK_READS:
            yield line, f"imports the clock {target} (take the time from the caller)"
        if top == RT and target != RT and not RT_SANS_IO.match(target.split(".")[1]):
            yield line, f"uses {target} (only the MDVR codec of {RT} is sans-IO)"
    names = local_names(tree)
    rt_aliases = {local for local, qual in names.items() if qual == RT}
    for node in ast.walk(tree):
        if isinstance(node, ast.Name) and names.get(node.id) in CLOCK_READS:
            yield node.lineno, f"reads the clock {names[node.id]} (take the time from the caller)"
        elif isinstance(node, ast.Attribute):
            chain = dotted(node)
            if chain is None or chain[0] not in names:
                continue
            qualified = ".".join([names[chain[0]], *chain[1:]])
            if qualified in CLOCK_READS:
                yield node.lineno, f"reads the clock {qualified} (take the time from the caller)"
            if chain[0] in rt_aliases and len(chain) == 2 and not RT_SANS_IO.match(chain[1]):
                yield node.lineno, f"uses {RT}.{chain[1]} (only the MDVR codec is sans-IO)"


def check_module(rel: Path, source: str) -> list[str]:
    """Every rule broken by the module at `rel` (relative to the repository root)."""
    tree = ast.parse(source, filename=str(rel))
    module = module_name(rel)
    unit = unit_of_name(module)
    if unit is None or unit not in ALLOWED:
        return [f"{rel}: not in any layer (place it in tests/test_layering.py)"]
    bad = []
    is_package = rel.name == "__init__.py"
    for line, target in imports(tree, module, is_package):
        dep = unit_of_name(target)
        if dep is None or dep in (unit, "trocadero") or dep in ALLOWED[unit]:
            continue
        what = RT if dep == RT else target
        bad.append(f"{rel}:{line}: {unit} imports {dep} ({what})")
    if unit == "protocols":
        bad += [f"{rel}:{line}: protocols {why}" for line, why in sans_io_violations(tree)]
    return bad


def check_tree(root: Path) -> list[str]:
    """Every rule broken by any Python module of the package folders under `root`."""
    bad: list[str] = []
    for folder in (*LAYER_DIRS, PACKAGE_DIR):
        for path in sorted((root / folder).rglob("*.py")):  # .pyx kernels import numpy only
            rel = path.relative_to(root)
            if "rust" in rel.parts:  # native/rust is the Cargo workspace
                continue
            bad += check_module(rel, path.read_text("utf-8"))
    return bad


@pytest.mark.parametrize("folder", [*LAYER_DIRS, PACKAGE_DIR])
def test_every_module_keeps_the_direction(folder: str) -> None:
    found = [v for v in check_tree(ROOT) if v.startswith(f"{folder}/")]
    assert found == []


def test_every_package_folder_is_checked() -> None:
    # A new top-level Python package folder must be given a layer here.
    mapped = set(LAYER_DIRS) | {PACKAGE_DIR}
    packages = {p.parent.name for p in ROOT.glob("*/__init__.py")}
    assert packages <= mapped | {"tests", "benches"}


def test_the_direction_is_acyclic() -> None:
    # The table itself: no two units may import each other (so it is a direction).
    for unit, allowed in ALLOWED.items():
        for other in allowed - {unit}:
            assert unit not in ALLOWED.get(other, frozenset()), (unit, other)


# The checker must be able to fail: one planted module per rule.
CASES = [
    ("core/bad.py", "from trocadero.web import app\n", "core/bad.py:1: core imports web"),
    ("protocols/bad.py", "from ..core import x\n", "protocols imports core"),
    ("config/bad.py", "import trocadero.native\n", "config imports native"),
    ("web/bad.py", "import playout.daemon\n", "web imports playout.daemon"),
    ("protocols/net.py", "import socket\n", "protocols imports socket"),
    ("protocols/loop.py", "async def f():\n    import trio\n", "protocols imports trio"),
    ("protocols/aio.py", "from asyncio import sleep\n", "protocols imports asyncio"),
    ("protocols/sel.py", "import selectors as s\n", "protocols imports selectors"),
    ("protocols/t.py", "import time\nnow = time.monotonic()\n", "reads the clock time.monotonic"),
    ("protocols/t2.py", "import time as t\nt.sleep(1)\n", "reads the clock time.sleep"),
    ("protocols/t3.py", "from time import perf_counter\n", "imports the clock time.perf_counter"),
    (
        "protocols/d.py",
        "from datetime import datetime\nx = datetime.now()\n",
        "reads the clock datetime.datetime.now",
    ),
    (
        "protocols/d2.py",
        "import datetime\nx = datetime.datetime.utcnow()\n",
        "reads the clock datetime.datetime.utcnow",
    ),
    ("protocols/rt.py", "import trocadero_rt\nc = trocadero_rt.FrameClock\n", "FrameClock"),
    ("protocols/rt2.py", "from trocadero_rt import FrameClock\n", "FrameClock"),
    ("core/rt.py", "import trocadero_rt\n", "core imports trocadero_rt"),
    ("web/rt.py", "from trocadero_rt import FrameClock\n", "web imports trocadero_rt"),
    ("playout/frames.py", "import trocadero_rt\n", "playout.runtime imports trocadero_rt"),
    ("trocadero/client.py", "import trocadero_rt\n", "client imports trocadero_rt"),
    ("trocadero/client.py", "from trocadero.core import x\n", "client imports core"),
    ("core/commands.py", "from .operations import OPERATIONS\n", "core imports core.operations"),
    ("trocadero/extra.py", "x = 1\n", "not in any layer"),
    ("playout/render/x.py", "from ..daemon import y\n", "playout.render imports playout.daemon"),
    ("playout/render/w.py", "from trocadero.web import app\n", "playout.render imports web"),
    ("playout/mdvr/x.py", "from ..render import sources\n", "playout.mdvr imports playout.render"),
    ("playout/mdvr/w.py", "import trocadero.web.app\n", "playout.mdvr imports web"),
    ("playout/logs.py", "from .playback import x\n", "playout.base imports playout.runtime"),
    ("playout/outputs.py", "from . import daemon\n", "playout.runtime imports playout.daemon"),
    ("playout/outputs.py", "from .cli import main\n", "playout.runtime imports playout.cli"),
    ("playout/daemon.py", "from .ctl import x\n", "playout.daemon imports playout.cli"),
    ("playout/frames.py", "from trocadero.web import live\n", "playout.runtime imports web"),
]
ALLOWED_CASES = [
    ("protocols/ok.py", "import trocadero_rt\nd = trocadero_rt.MdvrSignalingDecoder\n"),
    (
        "protocols/ok2.py",
        "from datetime import UTC, datetime\nx = datetime(2026, 1, 1, tzinfo=UTC)\n",
    ),
    ("protocols/ok3.py", "import time\nx = time.gmtime\n"),  # converting, not reading
    ("playout/render/ok.py", "import trocadero_rt\nfrom ..mdvr import feeds\n"),
    ("playout/cli.py", "from .daemon import run\nfrom trocadero.client import Client\n"),
    ("playout/daemon.py", "from trocadero.web.app import x\nfrom .render import y\n"),
    ("trocadero/__main__.py", "from trocadero.playout.cli import main\n"),
    ("trocadero/client.py", "from trocadero.protocols.control_socket import encode\n"),
    ("web/ok.py", "from trocadero import __version__\n"),
]


@pytest.mark.parametrize(("rel", "source", "expected"), CASES)
def test_checker_catches(rel: str, source: str, expected: str) -> None:
    found = check_module(Path(rel), source)
    assert any(expected in v for v in found), found


@pytest.mark.parametrize(("rel", "source"), ALLOWED_CASES)
def test_checker_allows(rel: str, source: str) -> None:
    assert check_module(Path(rel), source) == []


def test_checker_on_a_tree(tmp_path: Path) -> None:
    # Whole-tree walk on a synthetic repository: the rules are found through the files.
    for folder in (*LAYER_DIRS, PACKAGE_DIR, "playout/render", "native/rust/py"):
        (tmp_path / folder).mkdir(parents=True, exist_ok=True)
    (tmp_path / "core" / "bad.py").write_text("from trocadero.web import app\n")
    (tmp_path / "protocols" / "clock.py").write_text("import time\nt = time.time()\n")
    (tmp_path / "playout" / "render" / "up.py").write_text("from .. import daemon\n")
    (tmp_path / "native" / "rust" / "py" / "build.py").write_text("import trocadero.web\n")
    (tmp_path / "trocadero" / "__main__.py").write_text("from trocadero.playout import cli\n")
    assert check_tree(tmp_path) == [
        "protocols/clock.py:2: protocols reads the clock time.time (take the time from the caller)",
        "core/bad.py:1: core imports web (trocadero.web.app)",
        "playout/render/up.py:1: playout.render imports playout.daemon (trocadero.playout.daemon)",
    ]
