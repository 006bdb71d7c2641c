"""TUIO touch frames over OSC (sans-IO: datagrams in, touch events out; no sockets, no clock).

TUIO 1.1 profiles /tuio/2Dcur (fingers), /tuio/2Dobj (tagged objects) and /tuio/2Dblb
(blobs): per profile a frame is `source` (optional), `alive` (every session id present),
`set` (a session's position, for new or moved ones) and `fseq` (the frame id). The frame is
committed on `fseq`: a session that left `alive` is lifted (touch up), a new one with a
`set` goes down, a known one whose `set` moved moves. As the reference client does, a frame
id below the last one is late and ignored, unless it is more than 100 behind (the tracker
restarted); ids of 0 or less (-1: "redundant") are always taken.

TUIO 2.0: /tuio2/frm (frame id, time, dimension, source) opens a frame, /tuio2/ptr
(pointers) and /tuio2/tok (tokens) place sessions, /tuio2/alv (the alive list) commits it,
with the same rule for late frame ids.

Coordinates are 0..1 across the tracker's surface (x right, y down); values a little
outside are clamped, non-finite ones refused. A datagram is checked whole before anything it
says is applied: `TuioError` (an `OscError`) names what is wrong and the byte offset of the
offending message; the receiver's state is then as before. Limits: sessions per surface,
sources (trackers multiplexed onto one port). Facts from the TUIO 1.1 and 2.0
specifications (tuio.org).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Final, Literal

from .osc import Arg, Limits, Message, OscError, decode_packet, messages

__all__ = ["Profile", "TouchEvent", "TuioError", "TuioReceiver"]

Profile = Literal["cur", "obj", "blb", "ptr", "tok"]
Kind = Literal["down", "move", "up"]
DEFAULT_LIMITS: Final = Limits()
LATE_WINDOW: Final = 100  # frame ids further back than this mean a restarted tracker
_V1: Final[dict[str, Profile]] = {"/tuio/2Dcur": "cur", "/tuio/2Dobj": "obj", "/tuio/2Dblb": "blb"}
# Where x and y are in a `set` message after "set" and the session id; the symbol (class id).
_V1_XY: Final[dict[Profile, int]] = {"cur": 2, "obj": 3, "blb": 2}
_V1_MIN_ARGS: Final[dict[Profile, int]] = {"cur": 7, "obj": 11, "blb": 13}


class TuioError(OscError):
    """A datagram that is valid OSC but not valid TUIO."""


@dataclass(frozen=True, slots=True)
class TouchEvent:
    kind: Kind
    session: int
    x: float  # 0..1 across the surface, left to right
    y: float  # 0..1, top to bottom
    profile: Profile
    source: str = ""  # the tracker, when several share a port
    symbol: int | None = None  # an object's or token's class id


@dataclass(frozen=True, slots=True)
class _Place:
    session: int
    x: float
    y: float
    symbol: int | None


@dataclass(slots=True)
class _Stream:
    """One profile of one source: what is committed and what the open frame says."""

    sessions: dict[int, _Place] = field(default_factory=dict)
    alive: tuple[int, ...] | None = None
    placed: dict[int, _Place] = field(default_factory=dict)
    frame: int | None = None  # the last committed frame id > 0


def _int(m: Message, i: int) -> int:
    v = m.args[i] if i < len(m.args) else None
    if isinstance(v, bool) or not isinstance(v, int):
        raise TuioError(f"{m.address}: argument {i} must be an integer (got {v!r})", m.offset)
    return v


def _coord(m: Message, i: int) -> float:
    v = m.args[i] if i < len(m.args) else None
    if isinstance(v, bool) or not isinstance(v, int | float) or not math.isfinite(v):
        raise TuioError(f"{m.address}: argument {i} must be a finite number (got {v!r})", m.offset)
    return min(1.0, max(0.0, float(v)))


def _late(stream: _Stream, frame: int) -> bool:
    last = stream.frame
    return frame > 0 and last is not None and frame < last and last - frame <= LATE_WINDOW


class TuioReceiver:
    """The touches of one surface, from every datagram its trackers send."""

    def __init__(
        self, *, max_sessions: int = 64, max_sources: int = 8, limits: Limits = DEFAULT_LIMITS
    ) -> None:
        self.max_sessions = max_sessions
        self.max_sources = max_sources
        self.limits = limits
        self._streams: dict[tuple[str, Profile], _Stream] = {}
        self.late_frames = 0
        self._late = 0

    def receive(self, datagram: bytes, peer: str = "") -> list[TouchEvent]:
        """The events a datagram commits. `peer` names the sender when it names no source."""
        found = messages(decode_packet(datagram, self.limits))
        self._late = 0  # counted only if the whole datagram is valid
        work = {k: _copy(s) for k, s in self._streams.items()}  # applied only when all is valid
        events: list[TouchEvent] = []
        source = peer
        v2_profiles: tuple[Profile, ...] = ("ptr", "tok")
        v2_frame: int | None = None
        for m in found:
            if m.address in _V1:
                profile = _V1[m.address]
                command = m.args[0] if m.args else None
                if command == "source":
                    source = _text(m, 1)
                    continue
                stream = self._stream(work, source, profile, m)
                if command == "alive":
                    stream.alive = tuple(_int(m, i) for i in range(1, len(m.args)))
                    self._check_count(len(stream.alive), m)
                elif command == "set":
                    if len(m.args) < _V1_MIN_ARGS[profile]:
                        raise TuioError(
                            f"{m.address} set: expected at least {_V1_MIN_ARGS[profile]}"
                            f" arguments (got {len(m.args)})",
                            m.offset,
                        )
                    at = _V1_XY[profile]
                    symbol = _int(m, 2) if profile == "obj" else None
                    place = _Place(_int(m, 1), _coord(m, at), _coord(m, at + 1), symbol)
                    stream.placed[place.session] = place
                    self._check_count(len(stream.placed), m)
                elif command == "fseq":
                    events += self._commit(stream, _int(m, 1), source, profile)
                else:
                    raise TuioError(f"{m.address}: unknown command {command!r}", m.offset)
            elif m.address == "/tuio2/frm":
                v2_frame = _int(m, 0)
                if len(m.args) >= 4:
                    source = _text(m, 3)
            elif m.address in ("/tuio2/ptr", "/tuio2/tok"):
                profile = "ptr" if m.address.endswith("ptr") else "tok"
                if len(m.args) < 5:
                    raise TuioError(f"{m.address}: expected at least 5 arguments", m.offset)
                stream = self._stream(work, source, profile, m)
                symbol = _int(m, 1) if profile == "tok" else None
                place = _Place(_int(m, 0), _coord(m, 3), _coord(m, 4), symbol)
                _int(m, 2)  # the component id: checked, unused
                stream.placed[place.session] = place
                self._check_count(len(stream.placed), m)
            elif m.address == "/tuio2/alv":
                if v2_frame is None:
                    raise TuioError("/tuio2/alv without a /tuio2/frm before it", m.offset)
                alive = tuple(_int(m, i) for i in range(len(m.args)))
                self._check_count(len(alive), m)
                for profile in v2_profiles:
                    stream = self._stream(work, source, profile, m)
                    # One alive list for every component: each profile keeps its own.
                    stream.alive = tuple(
                        s for s in alive if s in stream.sessions or s in stream.placed
                    )
                    events += self._commit(stream, v2_frame, source, profile)
                v2_frame = None
            # Other addresses (other TUIO profiles, 2.0 components we do not map) are ignored.
        self._streams = work
        self.late_frames += self._late
        return events

    def _stream(
        self, work: dict[tuple[str, Profile], _Stream], source: str, profile: Profile, m: Message
    ) -> _Stream:
        key = (source, profile)
        found = work.get(key)
        if found is None:
            if len({s for s, _ in work} | {source}) > self.max_sources:
                raise TuioError(f"more than {self.max_sources} TUIO sources", m.offset)
            found = work[key] = _Stream()
        return found

    def _check_count(self, n: int, m: Message) -> None:
        if n > self.max_sessions:
            raise TuioError(f"{m.address}: more than {self.max_sessions} sessions", m.offset)

    def _commit(
        self, stream: _Stream, frame: int, source: str, profile: Profile
    ) -> list[TouchEvent]:
        if _late(stream, frame):
            self._late += 1
            stream.alive, stream.placed = None, {}
            return []
        if frame > 0:
            stream.frame = frame
        out: list[TouchEvent] = []
        if stream.alive is not None:
            alive = set(stream.alive)
            for sid in sorted(set(stream.sessions) - alive):
                gone = stream.sessions.pop(sid)
                out.append(TouchEvent("up", sid, gone.x, gone.y, profile, source, gone.symbol))
        else:
            alive = set(stream.sessions)  # no alive message: nobody left
        for sid, place in sorted(stream.placed.items()):
            if sid not in alive:
                continue  # placed but not alive: the tracker contradicts itself; not shown
            before = stream.sessions.get(sid)
            stream.sessions[sid] = place
            if before is None:
                out.append(TouchEvent("down", sid, place.x, place.y, profile, source, place.symbol))
            elif (before.x, before.y) != (place.x, place.y):
                out.append(TouchEvent("move", sid, place.x, place.y, profile, source, place.symbol))
        if len(stream.sessions) > self.max_sessions:  # cannot happen past the checks; a guard
            raise TuioError(f"more than {self.max_sessions} sessions", 0)
        stream.alive, stream.placed = None, {}
        return out

    def touches(self) -> list[TouchEvent]:
        """Every session down now (as "move" events at their last place)."""
        return [
            TouchEvent("move", sid, p.x, p.y, profile, source, p.symbol)
            for (source, profile), stream in self._streams.items()
            for sid, p in stream.sessions.items()
        ]


def _text(m: Message, i: int) -> str:
    v: Arg = m.args[i] if i < len(m.args) else None
    if not isinstance(v, str) or len(v) > 200:
        raise TuioError(f"{m.address}: argument {i} must be a text (got {v!r})", m.offset)
    return v


def _copy(s: _Stream) -> _Stream:
    return _Stream(dict(s.sessions), s.alive, dict(s.placed), s.frame)
