"""Sun events at the site (astral): sunrise, sunset, and civil / nautical / astronomical dawn
and dusk, each for one local date.

Which event belongs to a date: the evening events (sunset, dusks) of date D are the first
after D's solar noon (so an astronomical dusk at 00:28 belongs to the evening before); the
morning events (sunrise, dawns) of D are the last before D's solar noon.

The polar rule: when the sun does not cross the event's elevation that night (or morning),
the event falls on the moment the sun comes closest to it: solar midnight (12 h from solar
noon) when the sun stays above it — at the Trocadero, astronomical dusk and dawn from late May
to mid July — and solar noon when the sun stays below it (polar night). `SunTime.polar` says
which rule was used.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from functools import lru_cache
from typing import Final

import astral
import astral.sun

from ..model import SunEvent
from .clock import zone

# Apparent elevation (degrees) each event is the crossing of; the horizon one is astral's
# (refraction and the sun's radius).
ELEVATION: Final[dict[SunEvent, float]] = {
    "sunrise": -0.833,
    "sunset": -0.833,
    "civil_dawn": -6.0,
    "civil_dusk": -6.0,
    "nautical_dawn": -12.0,
    "nautical_dusk": -12.0,
    "astronomical_dawn": -18.0,
    "astronomical_dusk": -18.0,
}
EVENING: Final = frozenset({"sunset", "civil_dusk", "nautical_dusk", "astronomical_dusk"})
_DAY = timedelta(days=1)
_HALF = timedelta(hours=12)


@dataclass(frozen=True, slots=True)
class SunTime:
    at: datetime  # UTC
    polar: str = ""  # "" = the real event; else which polar rule gave `at`


def _event(kind: SunEvent, observer: astral.Observer, day: date, tz_name: str) -> datetime:
    """astral's event on `day` in the zone (raises ValueError when there is none)."""
    tz = zone(tz_name)
    if kind == "sunrise":
        return astral.sun.sunrise(observer, day, tzinfo=tz)
    if kind == "sunset":
        return astral.sun.sunset(observer, day, tzinfo=tz)
    depression = -ELEVATION[kind]
    if kind in EVENING:
        return astral.sun.dusk(observer, day, depression=depression, tzinfo=tz)
    return astral.sun.dawn(observer, day, depression=depression, tzinfo=tz)


@lru_cache(maxsize=16384)
def sun_time(latitude: float, longitude: float, tz_name: str, kind: SunEvent, day: date) -> SunTime:
    """The `kind` event that belongs to the local date `day` (rules in the module doc)."""
    observer = astral.Observer(latitude=latitude, longitude=longitude)
    noon = astral.sun.noon(observer, day, tzinfo=zone(tz_name)).astimezone(UTC)
    evening = kind in EVENING
    found: list[datetime] = []
    for d in (day, day + _DAY) if evening else (day - _DAY, day):
        try:
            at = _event(kind, observer, d, tz_name).astimezone(UTC)
        except ValueError:  # none that day at this latitude
            continue
        if (noon < at < noon + 2 * _HALF) if evening else (noon - 2 * _HALF < at < noon):
            found.append(at)
    if found:
        return SunTime(min(found) if evening else max(found))
    midnight = noon + _HALF if evening else noon - _HALF
    limit = ELEVATION[kind]
    if astral.sun.elevation(observer, midnight) > limit:
        return SunTime(midnight, f"the sun stays above {limit:g}°: solar midnight")
    return SunTime(noon, f"the sun stays below {limit:g}°: solar noon")
