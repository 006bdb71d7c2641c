"""Statistics: every subsystem's counters as one frozen dataclass, and the one converter that
turns it into its `/healthz` JSON block and its Prometheus samples (so the two cannot drift).

A subsystem's `statistics()` returns a frozen dataclass of plain values (nested dataclasses
and tuples of them allowed). Each field is a JSON key of the same name; what it becomes in
`/metrics` follows from its metadata (`counter`, `gauge`, `detail`, `label`, `section`) or,
when it has none, from its value: a number or bool is a gauge (a counter if named `*_total`),
anything else is JSON only.

Metric names are `trocadero_<section>_<field>`: a counter gets `_total`, a field named in
`_ms` / `_us` / `_s` is exposed in `_seconds`. `metric=` keeps an older name working. Items
of a tuple section are told apart by their `label` fields (`{output="facade"}`); fields
naming one metric with the same labels add up (e.g. malformed + oversized datagrams).
"""

from __future__ import annotations

import math
import types
import typing
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, fields, is_dataclass
from typing import TYPE_CHECKING, Any, Final, Literal

if TYPE_CHECKING:
    from _typeshed import DataclassInstance

PREFIX: Final = "trocadero"
_KEY: Final = "trocadero.statistics"

Kind = Literal["counter", "gauge", "detail", "label", "section"]
_UNITS: Final = (("_ms", "_seconds", 1e-3), ("_us", "_seconds", 1e-6), ("_s", "_seconds", 1.0))


@dataclass(frozen=True, slots=True)
class Spec:
    """How one field shows in /metrics (its JSON key is always the field name)."""

    kind: Kind | None = None
    metric: str | None = None  # full metric name, instead of trocadero_<section>_<field>
    scale: float = 1.0  # metric value = field value * scale (before the unit suffix's own)
    labels: tuple[tuple[str, str], ...] = ()  # fixed labels of this field's sample
    label: str | None = None  # a label field: its label name (default: the field name)
    prefix: str | None = None  # a section: its name segment instead of the field name
    key: str | None = None  # a tuple section: JSON object keyed by this item field
    aggregate: bool = False  # a tuple section: items summed into unlabelled samples


def _meta(spec: Spec) -> Mapping[str, Spec]:
    return {_KEY: spec}


def counter(*, metric: str | None = None, labels: Mapping[str, str] | None = None) -> Any:
    """Metadata of a monotonic count (`field(metadata=counter())`)."""
    return _meta(Spec("counter", metric, labels=tuple((labels or {}).items())))


def gauge(*, metric: str | None = None, scale: float = 1.0) -> Any:
    """Metadata of a value that goes up and down; None is exposed as NaN."""
    return _meta(Spec("gauge", metric, scale))


def detail() -> Any:
    """Metadata of a field shown in /healthz only (text, addresses, per-source lists)."""
    return _meta(Spec("detail"))


def label(name: str | None = None) -> Any:
    """Metadata of an item field that tells items apart: a label of their samples."""
    return _meta(Spec("label", label=name))


def section(*, prefix: str | None = None, key: str | None = None, aggregate: bool = False) -> Any:
    """Metadata of a nested dataclass or a tuple of them."""
    return _meta(Spec("section", prefix=prefix, key=key, aggregate=aggregate))


def spec_of(f: Any) -> Spec:
    spec = f.metadata.get(_KEY)
    return spec if isinstance(spec, Spec) else Spec()


def _join(prefix: str, segment: str) -> str:
    return f"{prefix}_{segment}" if segment else prefix


def metric_name(prefix: str, name: str, spec: Spec, *, is_counter: bool) -> tuple[str, float]:
    """The sample name of field `name` in section `prefix`, and its scale."""
    if spec.metric is not None:
        return spec.metric, spec.scale
    scale = spec.scale
    for suffix, unit, factor in _UNITS:
        if name.endswith(suffix):
            name, scale = name[: -len(suffix)] + unit, scale * factor
            break
    if is_counter and name != "total" and not name.endswith("_total"):
        name += "_total"
    return _join(prefix, name), scale


# --- /healthz -------------------------------------------------------------------------------


def to_json(stats: DataclassInstance) -> dict[str, Any]:
    """The /healthz block: field names as keys, nested sections as objects, tuples as lists
    (or objects keyed by the section's `key`)."""
    return {f.name: _json(getattr(stats, f.name), spec_of(f)) for f in fields(stats)}


def _json(value: Any, spec: Spec) -> Any:
    if is_dataclass(value) and not isinstance(value, type):
        return to_json(value)
    if isinstance(value, tuple):
        if spec.key is not None:
            return {
                getattr(item, spec.key): {k: v for k, v in to_json(item).items() if k != spec.key}
                for item in value
            }
        return [_json(item, Spec()) for item in value]
    return value


# --- /metrics -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Sample:
    """One Prometheus sample of a statistics field: its family name, labels, value, whether
    the family is a counter, and the field's /healthz path (for the family's help text)."""

    name: str
    labels: tuple[tuple[str, str], ...]
    value: float
    counter: bool
    path: str


def _labels(pairs: tuple[tuple[str, str], ...]) -> str:
    if not pairs:
        return ""
    inner = ",".join(f'{k}="{v}"' for k, v in pairs)
    return "{" + inner + "}"


def to_samples(
    stats: DataclassInstance, prefix: str = PREFIX, labels: tuple[tuple[str, str], ...] = ()
) -> dict[str, float]:
    """Prometheus samples (`name{labels}` → value) of `stats` and its sections."""
    samples: dict[str, float] = {}
    for sample in samples_of(stats, prefix, labels):
        key = sample.name + _labels(sample.labels)
        samples[key] = samples[key] + sample.value if key in samples else sample.value
    return samples


def samples_of(
    stats: DataclassInstance, prefix: str = PREFIX, labels: tuple[tuple[str, str], ...] = ()
) -> list[Sample]:
    """Every sample of `stats` and its sections, in field order (fields naming one metric
    with the same labels are separate samples here: the reader adds them up)."""
    out: list[Sample] = []
    _collect(stats, prefix, labels, "", out)
    return out


def _collect(
    stats: DataclassInstance,
    prefix: str,
    labels: tuple[tuple[str, str], ...],
    path: str,
    out: list[Sample],
    *,
    aggregate: bool = False,
) -> None:
    own = labels
    if not aggregate:
        own = labels + tuple(
            (spec_of(f).label or f.name, str(getattr(stats, f.name)))
            for f in fields(stats)
            if spec_of(f).kind == "label"
        )
    for f in fields(stats):
        spec, value = spec_of(f), getattr(stats, f.name)
        if spec.kind in ("detail", "label"):
            continue
        here = f"{path}.{f.name}" if path else f.name
        if is_dataclass(value) and not isinstance(value, type):
            sub = _join(prefix, f.name if spec.prefix is None else spec.prefix)
            _collect(value, sub, own, here, out, aggregate=aggregate)
        elif isinstance(value, tuple):
            sub = _join(prefix, f.name if spec.prefix is None else spec.prefix)
            for item in value:
                if is_dataclass(item) and not isinstance(item, type):
                    agg = aggregate or spec.aggregate
                    _collect(item, sub, own, f"{here}[]", out, aggregate=agg)
        elif spec.kind in ("counter", "gauge") or isinstance(value, bool | int | float):
            if isinstance(value, str):
                continue
            is_counter = spec.kind == "counter" or (spec.kind is None and f.name.endswith("_total"))
            name, scale = metric_name(prefix, f.name, spec, is_counter=is_counter)
            sample = math.nan if value is None else float(value) * scale
            out.append(Sample(name, own + spec.labels, sample, is_counter, here))


# --- the schema, from the types (for tests that check nothing drifts) -----------------------


@dataclass(frozen=True, slots=True)
class Leaf:
    """One leaf field: its JSON path (`*` for any list index or object key) and its metric
    family (None: /healthz only, by its `detail` or `label` metadata)."""

    path: tuple[str, ...]
    metric: str | None


def _unwrap(hint: Any) -> tuple[Any, bool]:
    """`X | None` → (X, True); anything else → (it, False)."""
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(hint) if a is not type(None)]
        if len(args) == 1:
            return args[0], True
    return hint, False


def schema(cls: type[DataclassInstance], prefix: str = PREFIX) -> Iterator[Leaf]:
    """Every leaf field of statistics class `cls` with the sample family it becomes."""
    yield from _schema(cls, prefix, (), aggregate=False)


def _schema(
    cls: type[Any], prefix: str, path: tuple[str, ...], *, aggregate: bool
) -> Iterator[Leaf]:
    hints = typing.get_type_hints(cls)
    for f in fields(cls):
        spec, (hint, optional) = spec_of(f), _unwrap(hints[f.name])
        here = (*path, f.name)
        segment = f.name if spec.prefix is None else spec.prefix
        if spec.kind in ("detail", "label") or hint is str:
            yield Leaf(here, None)
            continue
        if isinstance(hint, type) and is_dataclass(hint):
            yield from _schema(hint, _join(prefix, segment), here, aggregate=aggregate)
            continue
        if typing.get_origin(hint) is tuple:
            item = typing.get_args(hint)[0]
            if isinstance(item, type) and is_dataclass(item):
                inner = _schema(
                    item,
                    _join(prefix, segment),
                    (*here, "*"),
                    aggregate=aggregate or spec.aggregate,
                )
                yield from (leaf for leaf in inner if leaf.path[-1] != spec.key)
                continue
        is_counter = spec.kind == "counter" or (spec.kind is None and f.name.endswith("_total"))
        if spec.kind is None and (optional or hint not in (bool, int, float)):
            # An unmarked None would silently go missing from /metrics.
            raise TypeError(f"{cls.__name__}.{f.name}: mark it counter(), gauge() or detail()")
        yield Leaf(here, metric_name(prefix, f.name, spec, is_counter=is_counter)[0])
