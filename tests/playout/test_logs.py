from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import pytest

from trocadero.config import LoggingConfig
from trocadero.playout.logs import configure_logging, get_logger


class FakeTTY(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.fixture(autouse=True)
def restore_logging() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


def test_json_lines_name_the_subsystem() -> None:
    out = io.StringIO()
    configure_logging(LoggingConfig(format="auto"), stream=out)
    get_logger("clock").info("frame clock started", rate_hz=44.0)
    logging.getLogger("web.hypercorn").warning("from stdlib")
    lines = [json.loads(line) for line in out.getvalue().splitlines()]
    assert lines[0]["subsystem"] == "clock"
    assert lines[0]["event"] == "frame clock started"
    assert lines[0]["rate_hz"] == 44.0
    assert lines[0]["level"] == "info"
    assert "timestamp" in lines[0]
    assert lines[1]["subsystem"] == "web.hypercorn"
    assert lines[1]["level"] == "warning"


def test_console_on_a_tty() -> None:
    out = FakeTTY()
    configure_logging(LoggingConfig(format="auto"), stream=out)
    get_logger("render").info("hello", universes=860)
    text = out.getvalue()
    assert not text.lstrip().startswith("{")
    assert "hello" in text
    assert "universes" in text
    assert "render" in text


def test_level_filter() -> None:
    out = io.StringIO()
    configure_logging(LoggingConfig(format="json", level="warning"), stream=out)
    get_logger("x").info("quiet")
    get_logger("x").error("loud")
    events = [json.loads(line)["event"] for line in out.getvalue().splitlines()]
    assert events == ["loud"]


def test_exceptions_are_rendered_in_json() -> None:
    out = io.StringIO()
    configure_logging(LoggingConfig(format="json"), stream=out)
    try:
        raise RuntimeError("boom")
    except RuntimeError as exc:
        get_logger("web").error("crashed", exc_info=exc)
    line = json.loads(out.getvalue())
    assert "RuntimeError: boom" in line["exception"]
