"""Patch operations: the patch as a grid per output (what the UI's patch grid draws)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from ..permissions import Actor
from .spec import Operation, Rest, Services

__all__ = ["OPERATIONS"]


async def _grid(s: Services, actor: Actor, a: Mapping[str, Any]) -> Any:
    return s.patch_wiring().grid()


_CELL: Final = {
    "type": "object",
    "description": "channels first..last (1-based) carry the fixture's pixels[0]..pixels[1]",
    "properties": {
        "first": {"type": "integer"},
        "last": {"type": "integer"},
        "canvas": {"type": "string"},
        "fixture": {"type": "string"},
        "pixels": {"type": "array", "items": {"type": "integer"}},
    },
}
_GRID: Final = {
    "type": "object",
    "properties": {
        "outputs": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {
                    "name": {"type": "string"},
                    "protocol": {"type": "string"},
                    "universes": {
                        "type": "array",
                        "items": {
                            "type": "object",
                            "properties": {
                                "universe": {"type": "integer"},
                                "cells": {"type": "array", "items": _CELL},
                            },
                        },
                    },
                },
            },
        },
        "unsent": {
            "type": "array",
            "items": {"type": "integer"},
            "description": "patched universes no output sends",
        },
    },
}

OPERATIONS: Final[tuple[Operation, ...]] = (
    Operation(
        "patch.grid",
        "the patch per output: each universe it sends, which canvas and fixture fill which slots",
        "read",
        (),
        _grid,
        _GRID,
        Rest("GET", "/api/patch"),
        needs=("wiring",),
        action="read the patch",
    ),
)
