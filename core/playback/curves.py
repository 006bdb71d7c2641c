"""Fade curves: progress 0..1 → mix weight 0..1.

Every curve is monotone with f(0) = 0 and f(1) = 1, which is what makes a crossfade dipless:
each value moves from its old level to its new one without passing outside the two.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from trocadero.config.show import FadeCurve


def _linear(x: float) -> float:
    return x


def _s_curve(x: float) -> float:
    return x * x * (3.0 - 2.0 * x)  # smoothstep: gentle start and finish


def _ease_in(x: float) -> float:
    return x * x


def _ease_out(x: float) -> float:
    return 1.0 - (1.0 - x) * (1.0 - x)


CURVES: Mapping[str, Callable[[float], float]] = {
    "linear": _linear,
    "s-curve": _s_curve,
    "ease-in": _ease_in,
    "ease-out": _ease_out,
}


def progress(curve: FadeCurve, elapsed: float, delay: float, duration: float) -> float:
    """Mix weight `elapsed` seconds after GO for a fade of `duration` after `delay`.

    `snap` (and a zero-length fade) jumps to 1 the moment the delay has passed.
    """
    since = elapsed - delay
    if since < 0.0:
        return 0.0
    if curve == "snap" or duration <= 0.0 or since >= duration:
        return 1.0
    return CURVES[curve](since / duration)
