"""Every `curl …` and `trocadero …` example in README.md and docs/*.md runs as written.

The examples are taken from the fenced code blocks. Each one is either run here against a
real daemon (`tests/daemon_harness.py`) with the host, port, password and token substituted,
or is listed in NOT_RUN with the reason. A usage synopsis (a line with placeholders such as
`[--config PATH]` or `list|add`) is checked against the command's own `--help` instead: the
subcommand exists and takes every option the synopsis names. A new example that the runner
cannot run and that is not listed fails the test.
"""

from __future__ import annotations

import functools
import os
import re
import shlex
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from .daemon_harness import ADMIN_PASSWORD, DEFAULT_SCHEDULE, Daemon, running_daemon
from .ports import free_port

ROOT = Path(__file__).resolve().parent.parent
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
TROCADERO = Path(sys.executable).parent / "trocadero"  # the console script, as installed
DOC_HOST = "localhost:8440"
DOC_PASSWORD = "…"  # the README's placeholder for the admin password

# Examples that cannot run here, each with why. Keep this short: an example belongs here
# only if running it would need hardware, destroy state or never end.
NOT_RUN: dict[str, str] = {
    "trocadero ctl watch 'device:*' cue:progress": "prints events until Ctrl-C (never ends)",
}


@dataclass(frozen=True)
class Example:
    doc: str  # file:line, for the failure message
    command: str  # as written (continuation lines joined with newlines)

    @property
    def synopsis(self) -> bool:
        """A usage line with placeholders, not a command to run."""
        placeholders = re.search(r"[\[|]|…|\b[A-Z]{2,}\b", self.command)
        return self.command.startswith("trocadero ") and placeholders is not None

    @property
    def is_login(self) -> bool:
        return self.command.startswith("TOKEN=$(curl")


def shell_complete(text: str) -> bool:
    try:
        shlex.split(text, comments=True)
    except ValueError:  # an open quote: the example continues on the next line
        return False
    return not text.endswith("\\")


def examples() -> Iterator[Example]:
    """Every line of a fenced block that starts a `curl`/`trocadero` command (or the login)."""
    for path in DOCS:
        lines = path.read_text("utf-8").splitlines()
        fenced, shell = False, False
        i = 0
        while i < len(lines):
            line = lines[i]
            i += 1
            if line.lstrip().startswith("```"):
                fenced = not fenced
                shell = line.strip().removeprefix("```") in ("sh", "bash", "console", "shell")
                continue
            text = line.strip().removeprefix("$ ")
            if not shell:  # a command list: `command   what it does`
                text = re.split(r" {2,}", text)[0]
            if not fenced or not re.match(r"(curl|trocadero) |TOKEN=\$\(curl ", text):
                continue
            start = i
            while not shell_complete(text) and i < len(lines):
                text += "\n" + lines[i]
                i += 1
            yield Example(f"{path.relative_to(ROOT)}:{start}", text)


ALL = list(examples())
TO_RUN = [e for e in ALL if not e.synopsis and e.command not in NOT_RUN]
SYNOPSES = [e for e in ALL if e.synopsis]


def test_examples_are_found() -> None:
    # The extractor itself: the README's login and playback examples and the ctl ones.
    commands = [e.command for e in ALL]
    assert any(e.is_login for e in ALL)
    assert any(c.startswith("curl -X POST localhost:8440/api/cue-lists/main/go") for c in commands)
    assert any(c.startswith("trocadero ctl go main") for c in commands)
    assert any(e.command.startswith("trocadero users add NAME") for e in SYNOPSES)
    assert len(NOT_RUN) <= 3, "NOT_RUN must stay a short list"


def test_not_run_list_is_current() -> None:
    # A listed example that is gone from the docs leaves the list.
    commands = {e.command for e in ALL}
    assert set(NOT_RUN) <= commands


def test_the_runner_knows_every_example() -> None:
    # A command the runner has no way to check fails here until it learns it or lists it.
    for e in TO_RUN:
        assert e.is_login or shlex.split(e.command, comments=True)[0] in ("curl", "trocadero"), e


def subcommands(synopsis: str) -> tuple[list[list[str]], list[str]]:
    """(each alternative's subcommand words, the options named) of a synopsis line."""
    words = shlex.split(synopsis.replace("…", ""))[1:]
    options = sorted({w.strip("[]") for w in words if w.strip("[").startswith("--")})
    alternatives: list[list[str]] = [[]]
    for word in words:  # verbs are lower-case words; options and PLACEHOLDERS are skipped
        if re.fullmatch(r"[a-z][a-z-]*(\|[a-z][a-z-]*)*", word):
            alternatives = [[*a, verb] for a in alternatives for verb in word.split("|")]
    return alternatives, options


@functools.cache
def help_text(words: tuple[str, ...]) -> str:
    out = subprocess.run(
        [str(TROCADERO), *words, "--help"], capture_output=True, text=True, timeout=60
    )
    assert out.returncode == 0, f"trocadero {' '.join(words)} --help: {out.stderr}"
    return out.stdout


@pytest.mark.parametrize("example", SYNOPSES, ids=lambda e: e.doc)
def test_synopsis_matches_the_cli(example: Example) -> None:
    alternatives, options = subcommands(example.command)
    for words in alternatives:
        # An option may belong to any level: `ctl [--socket PATH] go` is ctl's option.
        helps = "".join(help_text(tuple(words[:n])) for n in range(1, len(words) + 1))
        for option in options:
            assert option in helps, f"{example.doc}: trocadero {' '.join(words)}: no {option}"


def run_curl(daemon: Daemon, token: str, example: Example) -> None:
    args = shlex.split(example.command, comments=True)
    args = [a.replace(DOC_HOST, f"127.0.0.1:{daemon.port}") for a in args[1:]]
    # The header the README's `alias curl=…` adds to every example after the login.
    auth = ["-H", f"Authorization: Bearer {token}"]
    out = subprocess.run(
        ["curl", "-sS", "-o", "-", "-w", "\n%{http_code}", *auth, *args],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert out.returncode == 0, f"{example.doc}: curl failed: {out.stderr}"
    body, _, status = out.stdout.rpartition("\n")
    assert status.startswith("2"), f"{example.doc}: HTTP {status}: {body}"


def run_login(daemon: Daemon, example: Example) -> str:
    """The README's login line, run by the shell as written: it must leave a token."""
    script = example.command.replace(DOC_HOST, f"127.0.0.1:{daemon.port}").replace(
        DOC_PASSWORD, ADMIN_PASSWORD
    )
    out = subprocess.run(
        ["bash", "-c", f'set -euo pipefail\n{script}\nprintf %s "$TOKEN"'],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert out.returncode == 0, f"{example.doc}: {out.stderr}"
    assert out.stdout.count(".") == 2, f"{example.doc}: not a token: {out.stdout!r}"
    return out.stdout


def run_trocadero(daemon: Daemon, socket_path: Path, example: Example) -> None:
    args = shlex.split(example.command, comments=True)[1:]
    env = {k: v for k, v in os.environ.items() if k != "RUNTIME_DIRECTORY"}
    out = subprocess.run(
        [str(TROCADERO), *args],
        capture_output=True,
        text=True,
        timeout=60,
        env={**env, "TROCADERO_SOCKET": str(socket_path)},
    )
    assert out.returncode == 0, f"{example.doc}: exit {out.returncode}: {out.stderr}{out.stdout}"


def test_examples_run_against_a_daemon(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "RUNTIME_DIRECTORY"}
    # docs/touch.md's examples touch this surface.
    touch = f'[[touch.surfaces]]\nname = "stairs-panel"\ncanvas = "stairs"\nport = {free_port()}\n'
    with running_daemon(tmp_path, touch, env=env) as daemon:
        daemon.wait_healthy()
        socket_path = tmp_path / "state" / "control.sock"
        token = ""
        for example in sorted(TO_RUN, key=lambda e: not e.is_login):  # log in first
            if example.is_login:
                token = run_login(daemon, example)
            elif example.command.startswith("curl"):
                run_curl(daemon, token, example)
            else:
                run_trocadero(daemon, socket_path, example)
        assert token, "no login example ran"
        # The examples did what they say, not only answered 2xx.
        state = daemon.get("/api/playback").json()
        assert "facade" in state["parks"]
        overridden = {canvas for o in state["overrides"] for canvas in o["canvases"]}
        assert {"canopy", "facade"} <= overridden, state["overrides"]
        assert state["masters"]["grand"] == 0.6
        assert state["emergency"]["engaged"] is True
        (panel,) = daemon.get("/api/touch").json()["surfaces"]
        assert [(t["x"], t["y"]) for t in panel["touches"]] == [(24.0, 20.0)]
        entries = daemon.get("/api/schedule").json()["entries"]
        assert [e["name"] for e in entries] == sorted(["dusk", *DEFAULT_SCHEDULE])
