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


def test_labels_share_one_type_line() -> None:
    text = render_prometheus({'x_total{output="a"}': 1, 'x_total{output="b"}': 2, "y": 0.5})
    assert text == (
        '# TYPE x_total counter\nx_total{output="a"} 1.0\nx_total{output="b"} 2.0\n'
        "# TYPE y gauge\ny 0.5\n"
    )
    with pytest.raises(ValueError, match="invalid"):
        render_prometheus({'x{output="a}': 1})
