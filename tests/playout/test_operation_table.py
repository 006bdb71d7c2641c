"""Every operation of the table behaves the same through REST and the socket API, against the
real daemon: the same refusal for a misspelt argument (code and message), the same refusal
for a role that may not run it, and the same audit entry when it runs. The table is walked,
so a new operation is checked without an edit here (the test fails until it has arguments
below)."""

from __future__ import annotations

import re
import tempfile
from collections.abc import Callable, Iterator
from functools import cache
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.daemon_harness import ADMIN_PASSWORD, Daemon, free_port, running_daemon
from tests.playout.test_content_upload import make_clip
from trocadero.client import Client, ScriptError
from trocadero.core.operations import OPERATIONS, Operation
from trocadero.core.operations.args import Integer
from trocadero.core.operations.reference import markdown
from trocadero.core.permissions import allowed

ROOT = Path(__file__).resolve().parents[2]
PASSWORD = "operation-table-pw"
LOOK = {"canvases": [{"canvas": "facade", "layers": [{"source": "solid"}]}]}
RULE = {
    "when": {"sensor": "lobby", "key": "people", "op": ">", "value": 5},
    "on_rise": [{"go": "main"}],
}
Args = dict[str, Any] | Callable[["Sides"], dict[str, Any]]

# Valid arguments for every operation on the default show (a callable: made when needed).
ARGS: dict[str, Args] = {
    "ping": {},
    "status": {},
    "playback.lists": {},
    "go": {"list": "main"},
    "back": {"list": "main", "fade": 0},
    "goto": {"list": "main", "cue": "2", "fade": 0},
    "fire": {"list": "main", "cue": "2", "fade": 0},
    "load": {"list": "main", "cue": "1"},
    "release": {"list": "main", "fade": 0},
    "top": {"list": "main", "fade": 0},
    "pause": {"list": "main"},
    "resume": {"list": "main"},
    "park": {"canvas": "canopy", "rgb": [0, 65535, 0]},
    "unpark": {"canvas": "canopy"},
    "override": {"canvases": {"stairs": {"rgb": [0, 0, 65535]}}, "ttl": 60},
    "override.refresh": lambda s: {"id": s.new_override(), "ttl": 30},
    "override.release": lambda s: {"id": s.new_override(), "fade": 0},
    "master": {"target": "grand", "level": 1.0},
    "blackout": {"on": False},
    "panic": {"fade": 0},
    "emergency.engage": {},
    "emergency.release": {},
    "looks": {"limit": 2},
    "look": {"name": "warm-welcome"},
    "look.put": {"name": "eq-look", "look": LOOK},
    "look.delete": {"name": "eq-look"},
    "look.preview": {"look": LOOK, "t": 0.5},
    "edit.last": {},
    "edit.undo": lambda s: s.edited(),
    "cue_lists": {"limit": 2},
    "cue_list": {"name": "main"},
    "cue_list.put": {"name": "eq-list", "cue_list": {"cues": []}},
    "cue_list.delete": {"name": "eq-list"},
    "cue": {"list": "main", "cue": "1"},
    "cue.put": {"list": "eq-list", "cue": "1", "definition": {"look": "warm-welcome"}},
    "cue.delete": {"list": "eq-list", "cue": "1"},
    "audit": {"limit": 1},
    "celebrate": {"look": "celebration", "duration_s": 1, "fade_in": 0, "fade_out": 0},
    "sensor": {"sensor": "lobby", "values": {"people": 3}},
    "patch.grid": {},
    "schedule": {},
    "schedule.create": lambda s: {"entry": s.entry()},
    "schedule.entry": lambda s: {"id": s.new_entry()},
    "schedule.replace": lambda s: {"id": s.new_entry(), "entry": s.entry()},
    "schedule.change": lambda s: {"id": s.new_entry(), "entry": {"priority": 7}},
    "schedule.delete": lambda s: {"id": s.new_entry()},
    "schedule.enable": lambda s: {"id": s.new_entry(enabled=False)},
    "schedule.disable": lambda s: {"id": s.new_entry()},
    "schedule.now": {"at": "2026-12-24T21:37"},
    "schedule.timeline": {"hours": 2},
    "snapshot.list": {"limit": 2},
    "snapshot.get": lambda s: {"hash": s.snapshot()},
    "snapshot.diff": lambda s: {"from": s.snapshot()},
    "snapshot.rollback": lambda s: {"hash": s.snapshot()},
    "show.export": {},
    "show.import": lambda s: {"document": s.exported()},
    "users": {"limit": 5},
    "user": {"name": "viewer"},
    "user.create": lambda s: {"name": s.unique("user"), "role": "viewer", "password": PASSWORD},
    "user.update": lambda s: {"name": "viewer", "email": f"{s.unique('v')}@example.org"},
    "content.list": {"status": "pending", "limit": 2},
    "content.get": lambda s: {"id": s.asset()},
    "content.edit": lambda s: {"id": s.asset(), "name": "eq-asset", "metadata": {"by": "eq"}},
    "content.delete": lambda s: {"id": s.new_asset()},
    "content.versions": lambda s: {"id": s.asset(), "limit": 2},
    "content.approve": lambda s: {"id": s.asset()},
    "content.reject": lambda s: {"id": s.asset()},
    # No vehicle is connected: the device and the rows named here do not exist.
    "mdvr.devices": {"limit": 2},
    "mdvr.positions": {"device": "00967", "since": "2026-01-01T00:00:00Z", "limit": 2},
    "mdvr.alarms": {"device": "00967", "open": True, "limit": 2},
    "mdvr.alarm.acknowledge": {"id": 987654},
    "mdvr.live": {},
    "mdvr.live.start": {"device": "00967", "channel": 0},
    "mdvr.live.stop": {"device": "00967", "channel": 0, "stream": 1},
    "mdvr.files": {"status": "failed", "limit": 2},
    "mdvr.file.retry": {"id": 987654},
    "video.start": {"device": "00967", "channel": 0},
    "video.leave": {"device": "00967", "channel": 0, "stream": 1},
    "video.streams": {},
    "rule.list": {},
    "rule.get": {"name": "eq-rule"},
    "rule.put": {"name": "eq-rule", "rule": RULE},
    "rule.delete": {"name": "eq-rule"},
    "rule.enable": {"name": "eq-rule"},
    "rule.disable": {"name": "eq-rule"},
    "rule.why": {"name": "eq-rule"},
    "rule.test": {"rule": RULE, "readings": [{"sensor": "lobby", "values": {"people": 9}}]},
    "touch.list": {},
    "touch.simulate": {"surface": "stairs-panel", "action": "down", "id": 1, "x": 0.5, "y": 0.5},
    "camera.list": {},
    # A daemon without [ha]: the status says so, a handover is refused alike (below);
    # tests/playout/test_ha_pair.py runs them on a pair.
    "ha.status": {},
    "ha.handover": {},
    # Fleet provisioning on the test daemon's SQLite store: one tenant (docs/fleet.md);
    # tests/playout/test_mdvr_tenants.py and tests/core/storage/test_tenants_rls.py run them
    # on PostgreSQL.
    "tenants": {"limit": 2},
    "tenant.create": {"name": "eq-tenant"},
    "tenant.update": {"id": 1, "retention_days": 90},
    "device.provision": lambda s: {"device": s.unique("eq-dev")},
    "device.deprovision": {"device": "no-such-dev"},
    "devices.provisioned": {"tenant": 1, "limit": 2},
}
# Operations that need a connected vehicle or a stored row the test cannot make: both sides
# must refuse them alike (this code, the same message) and audit nothing.
REFUSED_ALIKE: dict[str, str] = {
    "mdvr.alarm.acknowledge": "not_found",
    "mdvr.live.start": "conflict",
    "mdvr.file.retry": "not_found",
    "video.start": "conflict",
    "tenant.create": "conflict",  # SQLite is single-tenant
    "device.deprovision": "not_found",
    "ha.handover": "refused",
}
# What must be there before an operation can run (run through the socket first, each time).
BEFORE: dict[str, list[str]] = {
    "release": ["go"],
    "pause": ["go"],
    "resume": ["go", "pause"],
    "emergency.engage": ["emergency.release"],
    "unpark": ["park"],
    "emergency.release": ["emergency.engage"],
    "look.delete": ["look.put"],
    "cue_list.delete": ["cue_list.put"],
    "cue.put": ["cue_list.put"],
    "cue.delete": ["cue_list.put", "cue.put"],
    "rule.get": ["rule.put"],
    "rule.why": ["rule.put"],
    "rule.delete": ["rule.put"],
    "rule.disable": ["rule.put"],
    "rule.enable": ["rule.put", "rule.disable"],
}
RESTFUL = [op for op in OPERATIONS if op.rest is not None]


class Sides:
    """One daemon seen through both interfaces, as the same role."""

    def __init__(self, d: Daemon, role: str, password: str = PASSWORD) -> None:
        self.d = d
        self.made = 0
        sock = Path(d.health()["socket"]["path"])
        self.client = Client(sock)
        r = httpx.post(
            d.base + "/api/auth/login", json={"name": role, "password": password}, timeout=10
        )
        assert r.status_code == 200, r.text
        self.headers = {"Authorization": f"Bearer {r.json()['access_token']}"}
        self._asset: int | None = None

    def args(self, name: str) -> dict[str, Any]:
        made = ARGS[name]
        return made(self) if callable(made) else dict(made)

    def prepare(self, name: str) -> None:
        for before in BEFORE.get(name, []):
            code, result = self.socket(before, self.args(before))
            assert code == "ok", f"{before} (before {name}): {result}"

    def unique(self, prefix: str) -> str:
        self.made += 1
        return f"{prefix}{self.made}"

    def entry(self, enabled: bool = True) -> dict[str, Any]:
        return {
            "name": self.unique("entry"),
            "target_kind": "look",
            "target": "blue-hour",
            "rrule": "FREQ=DAILY",
            "dtstart": "2026-06-01T20:00:00+02:00",
            "enabled": enabled,
        }

    def new_entry(self, enabled: bool = True) -> int:
        made = self.client.call("schedule.create", entry=self.entry(enabled))
        entry_id: int = made["entry"]["id"]
        return entry_id

    def new_asset(self) -> int:
        """A stored asset (a short clip, uploaded as the admin)."""
        base, clip = "/api/content/uploads", _clip()
        r = self.d.post(base, json={"filename": "eq.mp4", "size": len(clip)})
        assert r.status_code == 201, r.text
        upload = r.json()["upload_id"]
        r = self.d.put(f"{base}/{upload}?offset=0", content=clip)
        assert r.status_code == 200, r.text
        r = self.d.post(f"{base}/{upload}/complete", json={}, timeout=30)
        assert r.status_code == 201, r.text
        asset: int = r.json()["asset_id"]
        return asset

    def asset(self) -> int:
        """One asset made once for this daemon (read, renamed, approved, rejected)."""
        if self._asset is None:
            self._asset = self.new_asset()
        return self._asset

    def edited(self) -> dict[str, Any]:
        """No arguments, after an edit by each side's caller (an undo reverts the caller's
        own): the same look put by both, so whichever undoes finds it as its edit left it."""
        code, result = self.socket("look.put", {"name": "eq-undo", "look": LOOK})
        assert code == "ok", result
        r = httpx.put(
            self.d.base + "/api/looks/eq-undo", json=LOOK, headers=self.headers, timeout=10
        )
        assert r.status_code == 200, r.text
        return {}

    def snapshot(self) -> str:
        """The newest snapshot's hash (the show as it is now)."""
        newest: str = self.client.call("snapshot.list", limit=1)["items"][0]["hash"]
        return newest

    def exported(self) -> dict[str, Any]:
        doc: dict[str, Any] = self.client.call("show.export")
        return doc

    def new_override(self) -> str:
        result = self.client.call("override", **self.args("override"))
        oid: str = result["id"]
        return oid

    def socket(self, name: str, args: dict[str, Any]) -> tuple[str, Any]:
        """(code or "ok", message or result)."""
        try:
            return "ok", self.client.call(name, **args)
        except ScriptError as exc:
            return exc.code, exc.message

    def rest(self, op: Operation, args: dict[str, Any]) -> tuple[str, Any, int]:
        """(code or "ok", message or result, HTTP status): the same arguments, as REST takes
        them (path parameters in the URL, a GET's in the query, a document as the body)."""
        assert op.rest is not None
        rest, rest_args = op.rest, dict(args)

        def fill(m: re.Match[str]) -> str:
            return str(rest_args.pop(m.group(1)))

        path = re.sub(r"{(\w+)(?::\w+)?}", fill, rest.path)
        kw: dict[str, Any] = {"headers": self.headers, "timeout": 10}
        if rest.body is not None:
            kw["json"] = rest_args.pop(rest.body)
            assert not rest_args, f"{op.name}: arguments REST cannot carry: {rest_args}"
        elif rest.method == "GET":
            kw["params"] = rest_args
        else:
            kw["json"] = rest_args
        r = httpx.request(rest.method, self.d.base + path, **kw)
        body = r.json()
        if r.status_code >= 400:
            return body.get("code", "?"), body["error"], r.status_code
        return "ok", body, r.status_code


@cache
def _clip() -> bytes:
    with tempfile.TemporaryDirectory() as tmp:
        return make_clip(Path(tmp) / "eq.mp4", frames=4)


def _config() -> str:
    return (
        f'[auth]\nadmin_password = "{ADMIN_PASSWORD}"\nrate_limit_per_minute = 100000\n'
        "[playback]\ngo_debounce_s = 0.0\n"
        f"[mdvr]\nenabled = true\nsignaling_port = {free_port()}\nmedia_port = {free_port()}\n"
        f'[[touch.surfaces]]\nname = "stairs-panel"\ncanvas = "stairs"\nport = {free_port()}\n'
        # A camera (its source missing: the tracker keeps retrying) for camera.list.
        '[[cameras]]\nname = "eq-cam"\nurl = "/nonexistent/eq-cam.mkv"\n'
    )


def _users(d: Daemon) -> None:
    for role in ("operator", "viewer"):
        r = d.post("/api/users", json={"name": role, "role": role, "password": PASSWORD})
        assert r.status_code == 201, r.text


@pytest.fixture(scope="module")
def admin(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sides]:
    """The admin may run every operation: each one is walked, through both interfaces."""
    extra = _config() + '[socket]\nrole = "admin"\n'
    with running_daemon(tmp_path_factory.mktemp("ops"), extra) as d:
        d.wait_healthy()
        _users(d)
        sides = Sides(d, "admin", ADMIN_PASSWORD)
        yield sides
        sides.client.close()


@pytest.fixture(scope="module")
def viewer(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sides]:
    extra = _config() + '[socket]\nrole = "viewer"\n'
    with running_daemon(tmp_path_factory.mktemp("ops-viewer"), extra) as d:
        d.wait_healthy()
        _users(d)
        sides = Sides(d, "viewer")
        yield sides
        sides.client.close()


def test_every_operation_has_arguments_here() -> None:
    assert sorted(ARGS) == sorted(op.name for op in OPERATIONS)


@pytest.mark.parametrize("op", RESTFUL, ids=lambda op: op.name)
def test_a_misspelt_argument_is_the_same_refusal(admin: Sides, op: Operation) -> None:
    admin.prepare(op.name)
    args = admin.args(op.name)
    assert op.rest is not None
    if op.rest.body is not None:
        # The whole body is one document: a misspelt field of it is the refusal to compare.
        args[op.rest.body] = {**args[op.rest.body], "colour_typo": 1}
    else:
        args["fdae"] = 2
    via_socket = admin.socket(op.name, args)
    code, message, status = admin.rest(op, args)
    assert via_socket == (code, message), f"{op.name}: socket {via_socket}, REST {message}"
    assert (code, status) == ("bad_args", 400)
    assert ("colour_typo" if op.rest.body else "fdae") in message


@pytest.mark.parametrize(
    "op", [op for op in RESTFUL if not allowed("viewer", op.group)], ids=lambda op: op.name
)
def test_a_role_that_may_not_is_the_same_refusal(viewer: Sides, op: Operation) -> None:
    # The role is checked before the arguments: any value of each shape will do.
    args: dict[str, Any] = {a.name: 1 if isinstance(a.kind, Integer) else "x" for a in op.args}
    if op.rest is not None and op.rest.body is not None:
        args[op.rest.body] = {}
    via_socket = viewer.socket(op.name, args)
    code, message, status = viewer.rest(op, args)
    assert via_socket == (code, message)
    assert (code, status) == ("forbidden", 403)
    assert message == f'role "viewer" may not {op.refusal}'


def _latest_audit(d: Daemon) -> tuple[int, dict[str, Any] | None]:
    r = d.get("/api/audit", params={"limit": 1})
    assert r.status_code == 200, r.text
    items = r.json()["items"]
    return (items[0]["id"] if items else 0), (items[0] if items else None)


@pytest.mark.parametrize("op", RESTFUL, ids=lambda op: op.name)
def test_the_same_audit_entry(admin: Sides, op: Operation) -> None:
    entries, outcomes = [], []
    for side in ("socket", "rest"):
        admin.prepare(op.name)
        args = admin.args(op.name)
        before, _ = _latest_audit(admin.d)
        if side == "socket":
            code, result = admin.socket(op.name, args)
        else:
            code, result, _ = admin.rest(op, args)
        assert code == REFUSED_ALIKE.get(op.name, "ok"), f"{op.name} via {side}: {result}"
        after, entry = _latest_audit(admin.d)
        entries.append(None if after == before else entry)
        outcomes.append((code, result))
    via_socket, via_rest = entries
    if op.name in REFUSED_ALIKE:
        assert outcomes[0] == outcomes[1], f"{op.name}: socket {outcomes[0]}, REST {outcomes[1]}"
        assert (via_socket, via_rest) == (None, None), f"{op.name}: a refusal was audited"
        return
    if via_socket is None or via_rest is None:
        assert (via_socket, via_rest) == (None, None), f"{op.name}: audited by one side only"
        return
    assert (via_socket["origin"], via_rest["origin"]) == ("socket", "api")
    for key in ("action", "target", "role"):
        # Override ids, entry and user names are made by each call (a number at the end):
        # the same kind of target, not the same one.
        same = [re.sub(r"\d+$", "#", str(e[key])) for e in (via_socket, via_rest)]
        assert same[0] == same[1], key
    assert sorted(via_socket["detail"]) == sorted(via_rest["detail"])


def test_the_socket_api_page_lists_the_table() -> None:
    page = (ROOT / "docs" / "socket-api.md").read_text()
    begin, end = "<!-- operations:begin -->\n", "<!-- operations:end -->"
    listed = page[page.index(begin) + len(begin) : page.index(end)]
    assert listed == markdown(), "run: python -m trocadero.core.operations.reference"
