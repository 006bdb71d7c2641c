"""`follow` (docs/ha.md): a hot standby's running engine takes the leader's saved state as
its own — its own cue-list state and parks are replaced, the leader's fade is placed at the
leader's point, and what the saved state does not carry (overrides) stays."""

from __future__ import annotations

import json
from decimal import Decimal

from trocadero.config.show import CueListDef
from trocadero.core.playback.persist import follow, snapshot
from trocadero.core.playback.plan import LookRef, Solid

from .test_cues import BLUE, GREY, RED, WHITE, close, cue, engine, lerp, seen


def test_the_standby_takes_the_leaders_state_over_its_own() -> None:
    cl = CueListDef(
        name="m",
        cues=(cue("1", "red"), cue("2", "blue", up_fade=10.0, down_fade=10.0)),
    )
    other = CueListDef(name="o", cues=(cue("1", "white"),))
    leader = engine(cl, other)
    leader.go("m", 0.0)
    leader.go("m", 100.0)  # fading red → blue over 10 s from t = 100
    leader.set_grand_master(0.5)
    doc = json.loads(json.dumps(snapshot(leader, 104.0, 9_004.0)))

    standby = engine(cl, other)
    standby.go("o", 50.0)  # its own state, not the leader's: a list the leader never ran
    standby.park("b", 50.0, Solid(*WHITE))
    standby.add_override(50.0, {"a": LookRef("white")}, ttl=1000.0)
    before = standby.revision
    # Its frame clock is elsewhere (t = 70), the wall clock is the same one.
    assert follow(standby, doc, 70.0, 9_004.0) == []
    assert standby.revision > before
    assert standby.playback("o").current is None  # the leader's state has no "o" running
    assert standby.playback("m").current == Decimal(2)
    assert standby.parks.lanes == {}  # its own park is gone: the leader has none
    assert standby.grand_master == 0.5
    assert len(standby.overrides) == 1  # not in the saved state: left alone
    standby.release_override(next(iter(standby.overrides)), 70.0, fade=0.0)
    assert close(seen(standby, 70.0), lerp(RED, BLUE, 0.4))  # 4 s into the 10 s fade
    assert seen(standby, 70.0, "b") != WHITE


def test_following_a_released_state_clears_the_standby() -> None:
    cl = CueListDef(name="m", cues=(cue("1", "red"),))
    leader = engine(cl)
    doc = json.loads(json.dumps(snapshot(leader, 1.0, 1_000.0)))
    standby = engine(cl)
    standby.go("m", 0.0)
    follow(standby, doc, 1.0, 1_000.0)
    assert standby.playback("m").current is None
    assert seen(standby, 1.0) == GREY
