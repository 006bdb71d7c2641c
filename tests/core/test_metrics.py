from __future__ import annotations

import math

import pytest

from trocadero.core.metrics import render_prometheus


def test_render() -> None:
    text = render_prometheus({"b_total": 3, "a_seconds": 0.5, "c": math.nan})
    assert text == (
        "# TYPE a_seconds gauge\na_seconds 0.5\n"
        "# TYPE b_total counter\nb_total 3.0\n"
        "# TYPE c gauge\nc NaN\n"
    )


def test_bad_name() -> None:
    with pytest.raises(ValueError, match="invalid Prometheus metric name"):
        render_prometheus({"bad-name": 1})
