"""The dependency direction from DESIGN.md: config, native ← protocols ← core ← web ← playout.

Every module under each package folder is parsed; an import of a higher layer fails the test.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
# Rank: a module may import packages of lower or equal rank only.
LAYERS = {"config": 0, "native": 0, "protocols": 1, "core": 2, "web": 3, "playout": 4}


def imported_packages(path: Path, package: str) -> list[tuple[int, str]]:
    """(line, trocadero subpackage) for every import in the module at `path`."""
    tree = ast.parse(path.read_text("utf-8"), filename=str(path))
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        names: list[str] = []
        if not isinstance(node, ast.Import | ast.ImportFrom):
            continue
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # relative: resolve against the module's own package
                rel = path.relative_to(ROOT / package).parent.parts
                base = [package, *rel][: max(0, len(rel) + 2 - node.level)]
                names = [".".join(["trocadero", *base, *([node.module] if node.module else [])])]
            elif node.module:
                names = [node.module]
        for name in names:
            parts = name.split(".")
            if parts[0] == "trocadero" and len(parts) > 1 and parts[1] in LAYERS:
                found.append((node.lineno, parts[1]))
            elif parts[0] in LAYERS:
                found.append((node.lineno, parts[0]))  # bare `import core` is wrong too
    return found


def violations(package: str) -> list[str]:
    bad = []
    for path in sorted((ROOT / package).rglob("*.py")) + sorted((ROOT / package).rglob("*.pyx")):
        if path.suffix == ".pyx":
            continue  # Cython kernels import numpy only; not parseable as Python
        for line, target in imported_packages(path, package):
            if LAYERS[target] > LAYERS[package] or (
                LAYERS[target] == LAYERS[package] and target != package
            ):
                bad.append(f"{path.relative_to(ROOT)}:{line}: {package} imports {target}")
    return bad


@pytest.mark.parametrize("package", sorted(LAYERS))
def test_no_upward_imports(package: str) -> None:
    assert violations(package) == []


def test_checker_catches_an_upward_import(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # The checker itself must be able to fail: plant a violating module in a fake tree.
    for pkg in LAYERS:
        (tmp_path / pkg).mkdir()
    (tmp_path / "core" / "bad.py").write_text("from trocadero.web import app\n")
    (tmp_path / "protocols" / "bad.py").write_text("from ..core import x\n")
    (tmp_path / "config" / "bad.py").write_text("import trocadero.native\n")
    monkeypatch.setattr(__import__(__name__, fromlist=["ROOT"]), "ROOT", tmp_path)
    assert violations("core") == ["core/bad.py:1: core imports web"]
    assert violations("protocols") == ["protocols/bad.py:1: protocols imports core"]
    assert violations("config") == ["config/bad.py:1: config imports native"]
