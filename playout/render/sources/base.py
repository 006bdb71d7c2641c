"""The source interface: the canvas a source draws on, its parameter specs and the base class
every kind derives from (see the package docstring for the contract)."""

from __future__ import annotations

import difflib
import math
from abc import ABC, abstractmethod
from collections.abc import Callable, Hashable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any, ClassVar, Final, Literal, Protocol

import numpy as np
from numpy.typing import NDArray

from trocadero.core.blobs import LiveBlobs
from trocadero.core.touch_board import TouchBoard

from ...mdvr.feeds import LiveFeeds  # no Trio/PyAV: just the frames the gateway decodes
from ..colour import COLOUR_FORMS, Colour, parse_colour, shown

# ---------------------------------------------------------------------------------------------
# canvas context and errors
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class CanvasContext:
    """What a source may know about its canvas (built by the renderer from the patch).

    Compared and hashed by identity (it holds arrays)."""

    name: str
    width: int
    height: int
    pixel_fixture: NDArray[np.int32]  # (h, w) index into fixture_names, -1 = no fixture
    pixel_universe: NDArray[np.int32]  # (h, w) universe number driving the pixel, -1 = none
    fixture_names: tuple[str, ...]

    def __post_init__(self) -> None:
        if self.width < 1 or self.height < 1:
            raise ValueError(f"canvas {self.name!r}: size must be at least 1 x 1")
        for label, arr in (
            ("pixel_fixture", self.pixel_fixture),
            ("pixel_universe", self.pixel_universe),
        ):
            if arr.shape != (self.height, self.width):
                raise ValueError(
                    f"canvas {self.name!r}: {label} has shape {arr.shape},"
                    f" expected {(self.height, self.width)}"
                )

    @classmethod
    def unpatched(cls, name: str, width: int, height: int) -> CanvasContext:
        """A canvas with no fixtures on it (tests, previews of a look before patching)."""
        none = np.full((height, width), -1, dtype=np.int32)
        return cls(name, width, height, none, none.copy(), ())


class AssetFiles(Protocol):
    """The content library's playable files (``core.content.AssetIndex``)."""

    def resolve(self, asset_id: int) -> Path:
        """The asset's live file; ValueError says why there is none."""
        ...


def ignore_alert(text: str) -> None:
    """Nobody to tell (tests, previews, check-config)."""


@dataclass(frozen=True, eq=False)
class SourceContext:
    """What sources use beyond their parameters and canvas, handed to them at construction.

    The daemon builds one before the show is loaded and gives the same content index and
    feeds to the content library and the MDVR gateway. A bare ``SourceContext()`` has no
    content library, feeds nobody publishes to and drops alerts."""

    assets: AssetFiles | None = None  # video layers' `asset` ids; None: no content library
    live_feeds: LiveFeeds = field(default_factory=LiveFeeds)  # what mdvr-live layers show
    alert: Callable[[str], None] = ignore_alert  # called from worker threads (decoders)
    touches: TouchBoard = field(default_factory=TouchBoard)  # what touch_ripple layers draw
    blobs: LiveBlobs = field(default_factory=LiveBlobs)  # what blob_glow layers draw from


class SourceError(ValueError):
    """A source cannot be built; ``problems`` has one line per problem, each naming the param."""

    def __init__(self, problems: str | Sequence[str]) -> None:
        self.problems = [problems] if isinstance(problems, str) else list(problems)
        super().__init__("\n".join(self.problems))


# ---------------------------------------------------------------------------------------------
# parameter specs
# ---------------------------------------------------------------------------------------------

ParamType = Literal[
    "number",  # float; minimum/maximum inclusive; unit for display
    "integer",  # int; minimum/maximum inclusive
    "boolean",
    "string",
    "choice",  # one of `choices`
    "colour",  # see colour.py; parsed to a 16-bit (r, g, b) triple
    "palette",  # list of min_items..max_items colours; parsed to a tuple of triples
    "point",  # [x, y], each within minimum..maximum; parsed to a (float, float) pair
    "path",  # a non-empty file path (images; later video files)
    "fixture",  # a fixture name on this canvas, or "" (the UI offers the canvas's fixtures)
]


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _fmt(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else repr(float(x))


@dataclass(frozen=True, kw_only=True)
class ParamSpec:
    """One parameter of a source kind: how to check it, its default and how the UI shows it.

    ``default`` is written the way a show file writes it (a colour as "#rrggbb"), and is parsed
    by the same rules as a given value; ``None`` means "not set" (the source decides, e.g. the
    noise palette falls back to the tint). ``required`` parameters have no default.
    """

    type: ParamType
    doc: str
    default: Any = None
    required: bool = False
    minimum: float | None = None
    maximum: float | None = None
    unit: str = ""
    choices: tuple[str, ...] = ()
    min_items: int = 2
    max_items: int = 64

    def _range(self, v: float) -> str | None:
        lo, hi = self.minimum, self.maximum
        if (lo is not None and v < lo) or (hi is not None and v > hi):
            if lo is not None and hi is not None:
                return f"must be between {_fmt(lo)} and {_fmt(hi)}"
            if lo is not None:
                return f"must be at least {_fmt(lo)}"
            return f"must be at most {_fmt(hi)}"  # type: ignore[arg-type]
        return None

    def parse(self, value: Any) -> Any:
        """The checked, converted value; ValueError with what is wrong and the value given."""
        got = f" (got {shown(value)})"
        t = self.type
        if t == "number":
            if not _is_number(value) or not math.isfinite(value):
                raise ValueError("must be a number" + got)
            problem = self._range(float(value))
            if problem:
                raise ValueError(problem + got)
            return float(value)
        if t == "integer":
            if _is_number(value) and isinstance(value, float) and value.is_integer():
                value = int(value)
            if not isinstance(value, int) or isinstance(value, bool):
                raise ValueError("must be a whole number" + got)
            problem = self._range(value)
            if problem:
                raise ValueError(problem + got)
            return value
        if t == "boolean":
            if not isinstance(value, bool):
                raise ValueError("must be true or false" + got)
            return value
        if t in ("string", "fixture"):
            if not isinstance(value, str):
                raise ValueError("must be a string" + got)
            return value
        if t == "path":
            if not isinstance(value, str) or not value.strip():
                raise ValueError("must be a file path" + got)
            return value
        if t == "choice":
            if value not in self.choices or not isinstance(value, str):
                hint = ""
                if isinstance(value, str):
                    close = difflib.get_close_matches(value, self.choices, n=1)
                    hint = f'; did you mean "{close[0]}"?' if close else ""
                raise ValueError(f"must be one of {', '.join(self.choices)}{hint}" + got)
            return value
        if t == "colour":
            return parse_colour(value)
        if t == "palette":
            if not isinstance(value, list | tuple):
                raise ValueError(
                    f"must be a list of {self.min_items} to {self.max_items} colours" + got
                )
            if not self.min_items <= len(value) <= self.max_items:
                raise ValueError(
                    f"must have {self.min_items} to {self.max_items} colours (got {len(value)})"
                )
            parsed: list[Colour] = []
            for i, item in enumerate(value):
                try:
                    parsed.append(parse_colour(item))
                except ValueError as exc:
                    raise ValueError(f"colour {i + 1}: {exc}") from None
            return tuple(parsed)
        if t == "point":
            if (
                not isinstance(value, list | tuple)
                or len(value) != 2
                or not all(_is_number(v) and math.isfinite(v) for v in value)
            ):
                raise ValueError("must be a point [x, y] of two numbers" + got)
            for axis, v in zip("xy", value, strict=True):
                problem = self._range(float(v))
                if problem:
                    raise ValueError(f"{axis} {problem}" + got)
            return float(value[0]), float(value[1])
        raise AssertionError(f"unknown param type {t}")  # pragma: no cover

    def describe(self) -> dict[str, Any]:
        """JSON-able description for the UI (only the fields that apply to the type)."""
        out: dict[str, Any] = {"type": self.type, "doc": self.doc}
        if self.required:
            out["required"] = True
        else:
            out["default"] = list(self.default) if isinstance(self.default, tuple) else self.default
        if self.minimum is not None:
            out["minimum"] = self.minimum
        if self.maximum is not None:
            out["maximum"] = self.maximum
        if self.unit:
            out["unit"] = self.unit
        if self.type == "choice":
            out["choices"] = list(self.choices)
        if self.type == "palette":
            out["min_items"], out["max_items"] = self.min_items, self.max_items
        if self.type in ("colour", "palette"):
            out["colour_forms"] = COLOUR_FORMS
        return out


def parse_params(
    kind: str, specs: Mapping[str, ParamSpec], given: Any
) -> tuple[dict[str, Any], list[str]]:
    """Every param checked: (values, problems). An invalid value is replaced by its default
    (None for a required one), so a source can finish its checks and report them all."""
    problems: list[str] = []
    if not isinstance(given, Mapping):
        return dict.fromkeys(specs), [f"{kind}: params must be a table (got {shown(given)})"]
    for name in given:
        if name not in specs:
            close = difflib.get_close_matches(str(name), list(specs), n=1)
            hint = f'did you mean "{close[0]}"? ' if close else ""
            known = ", ".join(specs) or "none"
            problems.append(f'{kind}: param "{name}": unknown parameter; {hint}(known: {known})')
    values: dict[str, Any] = {}
    for name, spec in specs.items():
        raw = given.get(name)
        if raw is None:
            if spec.required:
                problems.append(f'{kind}: param "{name}": required ({spec.doc})')
                values[name] = None
            else:
                values[name] = None if spec.default is None else spec.parse(spec.default)
            continue
        try:
            values[name] = spec.parse(raw)
        except ValueError as exc:
            problems.append(f'{kind}: param "{name}": {exc}')
            values[name] = None if spec.default is None else spec.parse(spec.default)
    return values, problems


# ---------------------------------------------------------------------------------------------
# the source interface
# ---------------------------------------------------------------------------------------------

_NEVER: Final = object()


class LayerSource(ABC):
    """Base of every source kind. Subclasses set the class variables, ``setup`` and ``draw``
    (and ``frame_key`` when the output changes less often than every frame)."""

    kind: ClassVar[str]
    params: ClassVar[Mapping[str, ParamSpec]]
    animated: ClassVar[bool]  # False: output depends only on params (and the canvas)
    summary: ClassVar[str]

    def __init__(
        self,
        params: Mapping[str, Any],
        canvas: CanvasContext,
        context: SourceContext | None = None,
    ) -> None:
        self.canvas = canvas
        self.context = SourceContext() if context is None else context
        self.shape: tuple[int, int, int] = (canvas.height, canvas.width, 3)
        given = params if isinstance(params, Mapping) else {}
        self.given: frozenset[str] = frozenset(k for k, v in given.items() if v is not None)
        values, problems = parse_params(self.kind, self.params, params)
        self.values: Mapping[str, Any] = MappingProxyType(values)
        if isinstance(params, Mapping):
            self.setup(values, problems)
        if problems:
            raise SourceError(problems)
        self._last_out: NDArray[np.uint16] | None = None
        self._last_key: object = _NEVER

    def problem(self, name: str, message: str) -> str:
        """A problem line naming this kind and the parameter."""
        return f'{self.kind}: param "{name}": {message}'

    @abstractmethod
    def setup(self, values: Mapping[str, Any], problems: list[str]) -> None:
        """Precompute from the checked values; append any further problems (naming the param).

        Every value is valid here (an invalid one was replaced by its default), except a
        required one that was missing or invalid, which is None.
        """

    @abstractmethod
    def draw(self, t: float, out: NDArray[np.uint16]) -> None:
        """Write the whole of ``out`` (h, w, 3) for frame time t."""

    def frame_key(self, t: float) -> Hashable:
        """The output is a function of this key alone (static sources: a constant)."""
        return t if self.animated else None

    def render(self, t: float, out: NDArray[np.uint16]) -> bool:
        """Fill ``out`` for frame time ``t``; False if it already holds that output."""
        key = self.frame_key(t)
        if out is self._last_out and key == self._last_key:
            return False
        if out.shape != self.shape or out.dtype != np.uint16 or not out.flags.c_contiguous:
            raise ValueError(
                f"{self.kind}: out must be a C-contiguous uint16 array of shape {self.shape},"
                f" got {out.dtype} {out.shape}"
            )
        self._last_out = None  # a failed draw leaves nothing to skip
        self.draw(t, out)
        self._last_out, self._last_key = out, key
        return True

    def settle(self, t: float, timeout: float) -> None:  # noqa: B027 - an optional hook
        """Wait, off the event loop, until the output for frame time `t` is ready (a blind
        preview draws one frame of a freshly built layer; the live render never waits)."""

    def close(self) -> None:  # noqa: B027 - an optional hook, not abstract
        """Release resources (decoding threads, live feeds) when the layer is dropped (its look
        edited or deleted). Called on the event loop: it must not wait long."""


# ---------------------------------------------------------------------------------------------
# shared by several kinds
# ---------------------------------------------------------------------------------------------

SCALE_DOC: Final = "pattern size: cycles per pixel (0.05 = one cycle every 20 pixels)"


def speed_spec(doc: str, limit: float = 100.0, default: float = 0.0) -> ParamSpec:
    return ParamSpec(
        type="number", default=default, minimum=-limit, maximum=limit, unit="cycles/s", doc=doc
    )


def cycle_phase(cycles: float) -> float:
    """cycles mod 1, in 0..1, computed in float64 (t may be days of seconds)."""
    return cycles - math.floor(cycles)
