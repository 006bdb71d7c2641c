"""The pair's state comparison (playout/ha.py `compare_states`): a change on the leader is
followed (the lag is measured), a difference that lasts is a divergence, alerted once."""

from __future__ import annotations

import time

import trocadero_rt

from trocadero.config.ha import HaConfig
from trocadero.playout.ha import DIVERGED_AFTER_NS, Pair
from trocadero.playout.ha_lease import Lease
from trocadero.playout.ha_link import HeartbeatLink
from trocadero.protocols.ha_heartbeat import Heartbeat, Role


def _pair() -> tuple[Pair, list[str]]:
    config = HaConfig(node_name="b", peer="127.0.0.1:9001", bind="127.0.0.1:9002")
    clock = trocadero_rt.FrameClock(44.0, 512)
    pair = Pair(
        config,
        clock,
        Lease("postgresql://unused", "b"),
        HeartbeatLink("b", config.bind, config.peer),
    )
    alerts: list[str] = []
    pair.alert = alerts.append
    return pair, alerts


def _hear(pair: Pair, digest: int, now: int) -> None:
    hb = Heartbeat("a", 1, Role.LEADER, 1, 0, digest)
    pair.link.take(hb.to_bytes(), now)


def test_a_followed_change_measures_the_lag() -> None:
    pair, alerts = _pair()
    now = time.monotonic_ns()
    pair.state_digest = 0x1111
    _hear(pair, 0x1111, now)
    pair.compare_states(now)
    assert pair.differs_since_ns == 0
    _hear(pair, 0x2222, now + 10_000_000)  # the leader saved a change
    pair.compare_states(now + 10_000_000)
    pair.state_digest = 0x2222  # the standby followed it
    _hear(pair, 0x2222, now + 60_000_000)
    pair.compare_states(now + 60_000_000)
    s = pair.statistics()
    assert s.follow_lag_ms == 50.0
    assert (s.diverged, s.divergences, alerts) == (False, 0, [])


def test_a_lasting_difference_is_a_divergence_alerted_once() -> None:
    pair, alerts = _pair()
    now = time.monotonic_ns()
    pair.state_digest = 0x1111
    for k in range(5):
        at = now + k * DIVERGED_AFTER_NS // 2
        _hear(pair, 0x3333, at)
        pair.compare_states(at)
    s = pair.statistics()
    assert (s.diverged, s.divergences) == (True, 1)
    assert len(alerts) == 1
    assert "b and a play different states" in alerts[0]
    _hear(pair, 0x1111, now + 3 * DIVERGED_AFTER_NS)
    pair.compare_states(now + 3 * DIVERGED_AFTER_NS)
    assert pair.statistics().diverged is False
