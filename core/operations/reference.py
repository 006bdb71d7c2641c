"""The operation table as Markdown, for docs/socket-api.md (a test keeps the page equal to
it): ``python -m trocadero.core.operations.reference`` prints it."""

from __future__ import annotations

from collections.abc import Iterable

from . import OPERATIONS
from .spec import Operation

__all__ = ["markdown"]


def _args(op: Operation) -> str:
    parts = []
    for a in op.args:
        text = f"`{a.name}`" + ("" if a.required else "?")
        if a.default is not None:
            text += f" ({a.default!r})".replace("'", '"')
        parts.append(text)
    return ", ".join(parts)


def _rest(op: Operation) -> str:
    return "" if op.rest is None else f"`{op.rest.method} {op.rest.path}`"


def markdown(operations: Iterable[Operation] = OPERATIONS) -> str:
    """One row per operation: name, arguments (``?`` optional, default in brackets), the
    permission group, the REST route and what it does."""
    rows = [
        "| op | args | permission | REST | what |",
        "|---|---|---|---|---|",
    ]
    for op in operations:
        rows.append(f"| `{op.name}` | {_args(op)} | {op.group} | {_rest(op)} | {op.summary} |")
    return "\n".join(rows) + "\n"


if __name__ == "__main__":
    print(markdown(), end="")
