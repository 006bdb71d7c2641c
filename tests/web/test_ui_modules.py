"""Every UI module parses as an ES module (node --check), and the page obeys the CSP: no
inline scripts, handlers or style attributes in the HTML."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

UI = Path(__file__).resolve().parents[2] / "web" / "ui"


@pytest.mark.parametrize("module", sorted(p.name for p in UI.glob("*.js")))
def test_module_parses(module: str, tmp_path: Path) -> None:
    node = shutil.which("node")
    if node is None:
        pytest.fail("node is required to check the UI modules (the brief's machine has it)")
    copy = tmp_path / (module.removesuffix(".js") + ".mjs")  # parse as a module
    copy.write_text((UI / module).read_text())
    r = subprocess.run([node, "--check", str(copy)], capture_output=True, text=True, check=False)
    assert r.returncode == 0, r.stderr


def test_html_has_nothing_inline() -> None:
    html = (UI / "index.html").read_text()
    assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", html), "inline <script>"
    assert not re.search(r"\son[a-z]+\s*=", html), "inline event handler"
    assert not re.search(r"\sstyle\s*=", html), "inline style attribute"
    for module in UI.glob("*.js"):
        text = module.read_text()
        assert "innerHTML" not in text, f"{module.name}: innerHTML (use DOM nodes)"
        assert "eval(" not in text, f"{module.name}: eval"
