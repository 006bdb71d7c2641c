"""The rule evaluator: debounce, hysteresis, minimum on/off, cooldown, staleness, time
windows and the sun, fed readings and ticks at chosen times (no clock)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from trocadero.core.model import SunEvent
from trocadero.core.rules import Fire, Reading, RuleEngine, Site, parse_rule
from trocadero.core.rules.model import Go, Master, Release

PARIS = ZoneInfo("Europe/Paris")


def fake_sun(event: SunEvent, day: date) -> float:
    """Sunrise 07:00 and sunset 18:00 local, every day (other events: noon)."""
    hour = {"sunrise": 7, "sunset": 18}.get(event, 12)
    return datetime(day.year, day.month, day.day, hour, tzinfo=PARIS).timestamp()


SITE = Site(PARIS, fake_sun)
T0 = datetime(2026, 12, 7, 12, 0, tzinfo=PARIS).timestamp()  # a Monday noon


def rule(**doc: Any) -> RuleEngine:
    base: dict[str, Any] = {"name": "r", "on_rise": [{"go": "stairs"}]}
    return RuleEngine(SITE, [parse_rule(base | doc)])


def edges(fires: list[Fire]) -> list[str]:
    return [f.edge for f in fires]


def lux(engine: RuleEngine, value: float, t: float) -> list[Fire]:
    return engine.feed(Reading("roof", {"lux": value}), t)


def test_presence_rises_and_falls_with_actions() -> None:
    e = rule(
        when={"sensor": "stairs", "key": "occupancy", "is": True},
        on_fall=[{"release": "stairs", "fade": 3}],
    )
    assert e.feed(Reading("stairs", {"occupancy": False}), T0) == []
    rise = e.feed(Reading("stairs", {"occupancy": True}), T0 + 1)
    assert [(f.edge, f.actions) for f in rise] == [("rise", (Go("stairs"),))]
    assert dict(rise[0].because[0]) | {"age_s": 0.0} == {
        "sensor": "stairs",
        "key": "occupancy",
        "value": True,
        "age_s": 0.0,
        "ok": True,
    }
    assert e.feed(Reading("stairs", {"occupancy": True}), T0 + 2) == []  # still on: no repeat
    fall = e.feed(Reading("stairs", {"occupancy": False}), T0 + 3)
    assert [(f.edge, f.actions) for f in fall] == [("fall", (Release("stairs", 3.0),))]


def test_hysteresis_under_a_flapping_light_meter_does_not_flicker() -> None:
    e = rule(
        when={"sensor": "roof", "key": "lux", "op": "<", "value": 50, "hysteresis": 10},
        on_fall=[{"release": "stairs"}],
    )
    assert lux(e, 80, T0) == []
    assert edges(lux(e, 49, T0 + 1)) == ["rise"]
    fired: list[str] = []
    # Hovering around the threshold and up to 60 (50 + hysteresis): stays true.
    for i, v in enumerate([51, 49, 55, 48, 59.9, 60, 52, 49.5]):
        fired += edges(lux(e, v, T0 + 2 + i))
    assert fired == []
    assert e.why("r")["on"] is True
    assert edges(lux(e, 60.5, T0 + 20)) == ["fall"]
    # Back down, hovering between 50 and 60: stays false (the threshold is 50 again).
    for i, v in enumerate([55, 51, 59, 50]):
        assert lux(e, v, T0 + 21 + i) == []
    assert edges(lux(e, 49.9, T0 + 30)) == ["rise"]


def test_greater_than_with_hysteresis_is_the_mirror() -> None:
    e = rule(
        when={"sensor": "roof", "key": "lux", "op": ">", "value": 100, "hysteresis": 20},
        on_fall=[{"release": "stairs"}],
    )
    assert edges(lux(e, 101, T0)) == ["rise"]
    assert lux(e, 80, T0 + 1) == []
    assert edges(lux(e, 79, T0 + 2)) == ["fall"]


def test_debounce_both_ways_and_a_flap_shorter_than_it_does_nothing() -> None:
    e = rule(
        when={"sensor": "stairs", "key": "occupancy", "is": True},
        debounce_s=2,
        on_fall=[{"release": "stairs"}],
    )
    occupied = Reading("stairs", {"occupancy": True})
    empty = Reading("stairs", {"occupancy": False})
    assert e.feed(occupied, T0) == []
    assert e.why("r")["held"].startswith("debounce until")
    assert e.feed(empty, T0 + 1.5) == []  # a flap: gone before it counted
    assert e.feed(None, T0 + 5) == []
    assert e.feed(occupied, T0 + 6) == []
    assert e.feed(None, T0 + 7.9) == []
    assert edges(e.feed(None, T0 + 8)) == ["rise"]  # held 2 s: now it counts
    assert e.feed(empty, T0 + 9) == []
    assert e.feed(occupied, T0 + 10) == []  # back within the debounce: no fall
    assert e.feed(empty, T0 + 11) == []
    assert edges(e.feed(None, T0 + 13)) == ["fall"]


def test_flapping_sensor_gives_exactly_the_expected_goes() -> None:
    """A PIR toggling every 0.5 s for 10 s, then steady: with a 1 s debounce, one rise."""
    e = rule(when={"sensor": "stairs", "key": "occupancy", "is": True}, debounce_s=1)
    fires: list[Fire] = []
    for i in range(20):
        fires += e.feed(Reading("stairs", {"occupancy": i % 2 == 0}), T0 + i * 0.5)
        fires += e.feed(None, T0 + i * 0.5 + 0.25)
    assert fires == []
    fires += e.feed(Reading("stairs", {"occupancy": True}), T0 + 10)
    for k in range(1, 12):
        fires += e.feed(None, T0 + 10 + k * 0.25)
    assert edges(fires) == ["rise"]
    assert fires[0].at == T0 + 11


def test_min_on_and_min_off() -> None:
    e = rule(
        when={"sensor": "s", "key": "v", "is": True},
        min_on_s=10,
        min_off_s=5,
        on_fall=[{"release": "stairs"}],
    )
    assert edges(e.feed(Reading("s", {"v": True}), T0)) == ["rise"]
    assert e.feed(Reading("s", {"v": False}), T0 + 1) == []
    assert e.why("r")["held"] == f"min_on_s until {T0 + 10:.3f}"
    assert edges(e.feed(None, T0 + 10)) == ["fall"]
    assert e.feed(Reading("s", {"v": True}), T0 + 11) == []
    assert e.why("r")["held"].startswith("min_off_s")
    assert edges(e.feed(None, T0 + 15)) == ["rise"]


def test_cooldown_blocks_a_new_rise() -> None:
    e = rule(when={"sensor": "s", "key": "v", "is": True}, cooldown_s=60)
    assert edges(e.feed(Reading("s", {"v": True}), T0)) == ["rise"]
    e.feed(Reading("s", {"v": False}), T0 + 1)
    assert e.feed(Reading("s", {"v": True}), T0 + 2) == []
    assert e.why("r")["held"] == f"cooldown until {T0 + 60:.3f}"
    assert edges(e.feed(None, T0 + 60)) == ["rise"]
    assert e.why("r")["fires"] == 2


def test_stale_reading_is_false() -> None:
    e = rule(
        when={"sensor": "s", "key": "v", "is": True, "stale_s": 30}, on_fall=[{"release": "stairs"}]
    )
    assert edges(e.feed(Reading("s", {"v": True}), T0)) == ["rise"]
    assert e.feed(None, T0 + 30) == []
    assert edges(e.feed(None, T0 + 30.5)) == ["fall"]
    assert e.why("r")["readings"][0]["state"] == "stale (older than 30 s)"


def test_missing_reading_is_false() -> None:
    e = rule(when={"sensor": "s", "key": "v", "op": "<", "value": 3})
    assert e.feed(None, T0) == []
    assert e.why("r")["readings"] == [
        {"sensor": "s", "key": "v", "state": "no reading", "ok": False}
    ]


@pytest.mark.parametrize(
    ("local", "expect"),
    [
        ("2026-12-07 21:59", False),
        ("2026-12-07 22:00", True),
        ("2026-12-07 23:59", True),
        ("2026-12-08 00:00", True),
        ("2026-12-08 05:59", True),
        ("2026-12-08 06:00", False),
        ("2026-12-08 12:00", False),
        # Friday night is not listed: its window, running into Saturday, stays shut.
        ("2026-12-11 23:00", False),
        ("2026-12-12 02:00", False),
        # Sunday's window runs into Monday morning.
        ("2026-12-14 03:00", True),
    ],
)
def test_time_window_across_midnight(local: str, expect: bool) -> None:
    e = rule(
        when={
            "time": {"from": "22:00", "until": "06:00", "days": ["mon", "tue", "wed", "thu", "sun"]}
        }
    )
    t = datetime.fromisoformat(local).replace(tzinfo=PARIS).timestamp()
    assert edges(e.feed(None, t)) == (["rise"] if expect else [])


def test_time_window_follows_the_sites_zone_not_utc() -> None:
    e = rule(when={"time": {"from": "08:00", "until": "09:00"}})
    t = datetime(2026, 7, 1, 6, 30, tzinfo=UTC).timestamp()  # 08:30 in Paris (CEST)
    assert edges(e.feed(None, t)) == ["rise"]


@pytest.mark.parametrize(
    ("local", "expect"),
    [
        ("2026-12-07 17:29", False),
        ("2026-12-07 17:30", True),  # sunset 18:00, offset -30 min
        ("2026-12-07 23:00", True),
        ("2026-12-08 06:59", True),
        ("2026-12-08 07:00", False),  # sunrise
        ("2026-12-08 12:00", False),
    ],
)
def test_after_sunset_with_offset(local: str, expect: bool) -> None:
    e = rule(when={"sun": "after_sunset", "offset_s": -1800})
    t = datetime.fromisoformat(local).replace(tzinfo=PARIS).timestamp()
    assert edges(e.feed(None, t)) == (["rise"] if expect else [])


def test_before_sunrise_with_offset_and_the_real_sun() -> None:
    e = rule(when={"sun": "before_sunrise", "offset_s": 3600})
    assert edges(e.feed(None, datetime(2026, 12, 8, 7, 30, tzinfo=PARIS).timestamp())) == ["rise"]
    from trocadero.core.schedule.sun import sun_time

    def real(event: SunEvent, day: date) -> float:
        return sun_time(48.8616, 2.2893, "Europe/Paris", event, day).at.timestamp()

    night = RuleEngine(
        Site(PARIS, real),
        [parse_rule({"name": "n", "when": {"sun": "after_sunset"}, "on_rise": [{"go": "x"}]})],
    )
    # Paris in December: sunset about 16:55, sunrise about 08:40.
    assert night.feed(None, datetime(2026, 12, 7, 16, 30, tzinfo=PARIS).timestamp()) == []
    assert edges(night.feed(None, datetime(2026, 12, 7, 17, 30, tzinfo=PARIS).timestamp())) == [
        "rise"
    ]
    assert night.why("n")["readings"][0]["from"].startswith("2026-12-07T16:5")


def test_schedule_plays_and_combinators() -> None:
    playing: set[str] = set()
    e = RuleEngine(
        SITE,
        [
            parse_rule(
                {
                    "name": "r",
                    "on_rise": [{"go": "x"}],
                    "on_fall": [{"release": "x"}],
                    "when": {
                        "all": [
                            {"schedule_plays": "evening"},
                            {"not": {"sensor": "s", "key": "v", "is": True}},
                        ]
                    },
                }
            )
        ],
        playing=lambda: frozenset(playing),
    )
    assert e.feed(None, T0) == []
    playing.add("evening")
    assert edges(e.feed(None, T0 + 1)) == ["rise"]
    assert edges(e.feed(Reading("s", {"v": True}), T0 + 2)) == ["fall"]


def test_follow_maps_a_reading_to_a_master_rate_limited() -> None:
    e = rule(
        when={"all": []},
        on_rise=[
            {
                "follow": "grand",
                "sensor": "roof",
                "key": "lux",
                "in_min": 0,
                "in_max": 1000,
                "rate_hz": 4,
            }
        ],
    )
    fires = lux(e, 500, T0)
    assert [(f.edge, f.actions) for f in fires] == [
        ("rise", ()),
        ("follow", (Master("grand", 0.5),)),
    ]
    assert lux(e, 600, T0 + 0.1) == []  # within 0.25 s of the last change
    assert [f.actions for f in e.feed(None, T0 + 0.25)] == [(Master("grand", 0.6),)]
    assert lux(e, 2000, T0 + 1)[0].actions == (Master("grand", 1.0),)  # clamped
    assert lux(e, 2500, T0 + 2) == []  # still 1.0: nothing to send
    sent = [f for i in range(40) for f in lux(e, i * 25, T0 + 3 + i * 0.05)]
    assert len(sent) <= 2 / 0.25 + 1  # 40 readings in 2 s: at most 4 changes a second


def test_disabled_rule_does_nothing_and_edit_resets_state() -> None:
    e = rule(when={"sensor": "s", "key": "v", "is": True}, enabled=False)
    assert e.feed(Reading("s", {"v": True}), T0) == []
    e.put(
        parse_rule(
            {
                "name": "r",
                "when": {"sensor": "s", "key": "v", "is": True},
                "on_rise": [{"go": "stairs"}],
            }
        )
    )
    assert edges(e.feed(None, T0 + 1)) == ["rise"]
    e.put(
        parse_rule(
            {
                "name": "r",
                "when": {"sensor": "s", "key": "v", "is": True},
                "on_rise": [{"go": "other"}],
            }
        )
    )
    assert [f.actions for f in e.feed(None, T0 + 2)] == [(Go("other"),)]


def test_priority_orders_fires() -> None:
    docs = [
        {"name": n, "priority": p, "when": {"all": []}, "on_rise": [{"go": n}]}
        for n, p in (("low", -1), ("high", 5), ("mid", 0))
    ]
    e = RuleEngine(SITE, [parse_rule(d) for d in docs])
    assert [f.rule for f in e.feed(None, T0)] == ["high", "mid", "low"]


def test_deterministic() -> None:
    def run() -> list[Fire]:
        e = rule(
            when={"sensor": "roof", "key": "lux", "op": "<=", "value": 5, "hysteresis": 1},
            debounce_s=0.5,
            on_fall=[{"release": "stairs"}],
        )
        out: list[Fire] = []
        for i in range(200):
            out += lux(e, (i * 37) % 11, T0 + i * 1.0)
        return out

    assert run() == run()
    assert run()  # and it did something


def test_readings_kept_are_bounded_least_recently_heard_first(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from trocadero.core.rules import engine as engine_module

    monkeypatch.setattr(engine_module, "MAX_READINGS", 3)
    e = rule(when={"sensor": "a", "key": "v", "is": True})
    for i, source in enumerate(["a", "b", "c", "a", "d"]):
        e.feed(Reading(source, {"v": False}), T0 + i)
    assert list(e.readings) == [("c", "v"), ("a", "v"), ("d", "v")]
