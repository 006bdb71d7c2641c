"""The schema, as versioned forward-only migrations applied at start-up.

Each migration runs in its own transaction and is recorded in `schema_migrations` (version,
name, applied_at). A database whose latest version is newer than `LATEST` (written by a newer
trocadero) is refused rather than guessed at. Never edit a released migration: add the next.

DDL is written once with `{…}` type slots filled per dialect (`driver.Dialect.ddl`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from .base import SchemaError
from .driver import Driver, Tx


@dataclass(frozen=True, slots=True)
class Migration:
    version: int
    name: str
    statements: tuple[str, ...]
    # Statements for one dialect only (by `Dialect.name`), run after the shared ones: what
    # the two engines cannot say alike (changing a CHECK constraint).
    by_dialect: tuple[tuple[str, tuple[str, ...]], ...] = ()


_SHOW = (
    # A single row (id = 1); the defaults are ShowDef's when the row is missing.
    """CREATE TABLE show_settings (
        id INTEGER PRIMARY KEY CHECK (id = 1),
        name TEXT NOT NULL,
        grand_master {real} NOT NULL CHECK (grand_master BETWEEN 0 AND 1),
        safe_state TEXT NOT NULL CHECK (safe_state IN ('black', 'hold')),
        idle {json} NOT NULL,
        emergency {json} NOT NULL
    )""",
    """CREATE TABLE canvases (
        name {key} PRIMARY KEY,
        position INTEGER NOT NULL,
        width INTEGER NOT NULL CHECK (width BETWEEN 1 AND 8192),
        height INTEGER NOT NULL CHECK (height BETWEEN 1 AND 8192),
        master {real} NOT NULL,
        description TEXT NOT NULL
    )""",
    """CREATE TABLE fixture_types (
        name {key} PRIMARY KEY,
        position INTEGER NOT NULL,
        gamma {real} NOT NULL,
        curve TEXT NOT NULL,
        white_balance {json} NOT NULL
    )""",
    # "order" is quoted everywhere: it is a keyword in both dialects.
    """CREATE TABLE fixtures (
        name {key} PRIMARY KEY,
        position INTEGER NOT NULL,
        canvas {key} NOT NULL REFERENCES canvases (name),
        type {key} REFERENCES fixture_types (name),
        shape TEXT NOT NULL,
        x INTEGER NOT NULL,
        y INTEGER NOT NULL,
        pixels INTEGER NOT NULL,
        direction TEXT NOT NULL,
        width INTEGER NOT NULL,
        height INTEGER NOT NULL,
        start_corner TEXT NOT NULL,
        "order" TEXT NOT NULL,
        serpentine {bool} NOT NULL,
        colour_order TEXT NOT NULL,
        universe INTEGER NOT NULL CHECK (universe BETWEEN 1 AND 63999),
        channel INTEGER NOT NULL CHECK (channel BETWEEN 1 AND 512),
        universe_size INTEGER NOT NULL CHECK (universe_size IN (510, 512))
    )""",
    "CREATE INDEX fixtures_canvas ON fixtures (canvas)",
    "CREATE INDEX fixtures_type ON fixtures (type)",
    """CREATE TABLE looks (
        name {key} PRIMARY KEY,
        label TEXT NOT NULL,
        canvases {json} NOT NULL
    )""",
    """CREATE TABLE cue_lists (
        name {key} PRIMARY KEY,
        label TEXT NOT NULL,
        priority INTEGER NOT NULL CHECK (priority BETWEEN 0 AND 1000),
        mode TEXT NOT NULL CHECK (mode IN ('ltp', 'htp')),
        back_fade {real} NOT NULL
    )""",
    # look NULL = the cue releases the list's canvases; a look in use cannot be deleted.
    """CREATE TABLE cues (
        cue_list {key} NOT NULL REFERENCES cue_lists (name) ON DELETE CASCADE,
        number {cue} NOT NULL,
        look {key} REFERENCES looks (name),
        label TEXT NOT NULL,
        notes TEXT NOT NULL,
        up_fade {real} NOT NULL,
        down_fade {real} NOT NULL,
        delay {real} NOT NULL,
        curve TEXT NOT NULL,
        follow {real},
        hang {real},
        link {cue},
        loop INTEGER NOT NULL,
        parts {json} NOT NULL,
        PRIMARY KEY (cue_list, number)
    )""",
    "CREATE INDEX cues_look ON cues (look)",
    """CREATE TABLE schedules (
        id {pk},
        name {key} NOT NULL UNIQUE,
        enabled {bool} NOT NULL,
        target_kind TEXT NOT NULL CHECK (target_kind IN ('cue_list', 'look', 'cue')),
        target {key} NOT NULL,
        cue {cue},
        canvases {json} NOT NULL,
        rrule TEXT NOT NULL,
        dtstart {ts} NOT NULL,
        duration_s {real},
        priority INTEGER NOT NULL,
        created_by TEXT NOT NULL,
        detail {json} NOT NULL
    )""",
    "CREATE INDEX schedules_target ON schedules (target_kind, target)",
)

_CONTENT_USERS_AUDIT = (
    """CREATE TABLE content_assets (
        id {pk},
        name TEXT NOT NULL,
        filename TEXT NOT NULL,
        content_type TEXT NOT NULL,
        size {bigint} NOT NULL CHECK (size >= 0),
        sha256 TEXT NOT NULL,
        status TEXT NOT NULL CHECK (status IN ('pending', 'approved', 'rejected')),
        version INTEGER NOT NULL,
        metadata {json} NOT NULL,
        created_at {ts} NOT NULL,
        created_by TEXT NOT NULL
    )""",
    "CREATE INDEX content_assets_status ON content_assets (status, id)",
    """CREATE TABLE content_asset_versions (
        asset_id {ref} NOT NULL REFERENCES content_assets (id) ON DELETE CASCADE,
        version INTEGER NOT NULL,
        filename TEXT NOT NULL,
        content_type TEXT NOT NULL,
        size {bigint} NOT NULL,
        sha256 TEXT NOT NULL,
        created_at {ts} NOT NULL,
        created_by TEXT NOT NULL,
        PRIMARY KEY (asset_id, version)
    )""",
    """CREATE TABLE users (
        id {pk},
        username {key} NOT NULL UNIQUE,
        email TEXT NOT NULL,
        role TEXT NOT NULL CHECK (role IN ('admin', 'operator', 'marketing', 'viewer')),
        password_hash TEXT NOT NULL,
        disabled {bool} NOT NULL DEFAULT {false},
        created_at {ts} NOT NULL,
        last_login {ts}
    )""",
    # Local accounts may have no email; the ones that have one are unique (case-insensitive).
    "CREATE UNIQUE INDEX users_email ON users (lower(email)) WHERE email <> ''",
    """CREATE TABLE audit_log (
        id {pk},
        at {ts} NOT NULL,
        actor TEXT NOT NULL,
        role TEXT NOT NULL,
        origin TEXT NOT NULL
            CHECK (origin IN ('ui', 'api', 'socket', 'schedule', 'input', 'system')),
        action TEXT NOT NULL,
        target TEXT NOT NULL,
        detail {json} NOT NULL,
        address TEXT NOT NULL
    )""",
    "CREATE INDEX audit_log_at ON audit_log (at)",
    "CREATE INDEX audit_log_actor ON audit_log (actor, id)",
    "CREATE INDEX audit_log_action ON audit_log (action, id)",
    "CREATE INDEX audit_log_origin ON audit_log (origin, id)",
    """CREATE TABLE runtime_state (
        key {key} PRIMARY KEY,
        doc {json} NOT NULL,
        updated_at {ts} NOT NULL
    )""",
)

# The schedule's own fields (docs/schedule.md): time zone, sun anchors and clamps, the end,
# the date range, exceptions and the fade. Defaults keep existing rows what they were.
_SCHEDULE_RULES = tuple(
    f'ALTER TABLE schedules ADD COLUMN "{column}" {kind}'
    for column, kind in (
        ("timezone", "TEXT NOT NULL DEFAULT ''"),
        ("anchor", "TEXT NOT NULL DEFAULT 'clock'"),
        ("offset_s", "{real} NOT NULL DEFAULT 0"),
        ("not_before", "TEXT NOT NULL DEFAULT ''"),
        ("not_after", "TEXT NOT NULL DEFAULT ''"),
        ("end_anchor", "TEXT NOT NULL DEFAULT 'duration'"),
        ("end_time", "TEXT NOT NULL DEFAULT ''"),
        ("end_offset_s", "{real} NOT NULL DEFAULT 0"),
        ("valid_from", "TEXT NOT NULL DEFAULT ''"),
        ("valid_until", "TEXT NOT NULL DEFAULT ''"),
        ("exdates", "{json} NOT NULL DEFAULT '[]'"),
        ("rdates", "{json} NOT NULL DEFAULT '[]'"),
        ("fade_s", "{real}"),
    )
)

# The MDVR gateway (core/storage/devices.py): devices, their positions, alarms and downloaded
# files. Positions are the bulk: keyed by (device, time) so re-sent cached reports dedupe;
# on PostgreSQL partitioned by month ({by_month}; partitions are made ahead and dropped by
# retention at run time), on SQLite one table with an index on time for retention.
_MDVR = (
    """CREATE TABLE devices (
        device_id {key} PRIMARY KEY,
        plate TEXT NOT NULL,
        device_type INTEGER,
        protocol_version TEXT NOT NULL,
        net_lib_version TEXT NOT NULL,
        address TEXT NOT NULL,
        online {bool} NOT NULL,
        first_seen {ts} NOT NULL,
        last_seen {ts} NOT NULL,
        position_at {ts},
        last_position {json}
    )""",
    """CREATE TABLE positions (
        device_id {key} NOT NULL,
        at {ts} NOT NULL,
        received_at {ts} NOT NULL,
        valid {bool} NOT NULL,
        longitude {real} NOT NULL,
        latitude {real} NOT NULL,
        speed_kmh {real},
        course_raw {bigint},
        status TEXT NOT NULL,
        mileage_m {bigint},
        report_flag INTEGER,
        PRIMARY KEY (device_id, at)
    ) {by_month}""",
    "CREATE INDEX positions_at ON positions (at)",
    """CREATE TABLE alarms (
        id {pk},
        device_id {key} NOT NULL,
        alarm_uid {key} NOT NULL,
        keyword TEXT NOT NULL,
        name TEXT NOT NULL,
        is_end {bool} NOT NULL,
        alarm_time {ts},
        received_at {ts} NOT NULL,
        channel_mask {bigint},
        details {json} NOT NULL,
        longitude {real},
        latitude {real},
        acknowledged_at {ts},
        acknowledged_by TEXT NOT NULL DEFAULT '',
        UNIQUE (device_id, alarm_uid)
    )""",
    "CREATE INDEX alarms_open ON alarms (acknowledged_at, id)",
    """CREATE TABLE device_files (
        id {pk},
        device_id {key} NOT NULL,
        alarm_uid TEXT NOT NULL,
        device_path TEXT NOT NULL,
        file_type INTEGER,
        channel INTEGER,
        size {bigint},
        start_time TEXT NOT NULL,
        duration_s INTEGER,
        status TEXT NOT NULL CHECK (status IN ('pending', 'downloading', 'done', 'failed')),
        received_bytes {bigint} NOT NULL,
        attempts INTEGER NOT NULL,
        stored_path TEXT NOT NULL,
        video_path TEXT NOT NULL,
        thumbnail_path TEXT NOT NULL,
        error TEXT NOT NULL,
        created_at {ts} NOT NULL,
        updated_at {ts} NOT NULL,
        UNIQUE (device_id, device_path)
    )""",
    "CREATE INDEX device_files_status ON device_files (status, id)",
)

_REFRESH_TOKENS = (
    # Rotating refresh tokens, stored as SHA-256 of the token (the token itself never is).
    # `family` ties every rotation of one login together: presenting a rotated-out token
    # again (a stolen copy) revokes the whole family.
    """CREATE TABLE refresh_tokens (
        id {pk},
        token_hash {key} NOT NULL UNIQUE,
        family {key} NOT NULL,
        username {key} NOT NULL,
        issued_at {ts} NOT NULL,
        expires_at {ts} NOT NULL,
        revoked_at {ts},
        revoked_reason TEXT NOT NULL DEFAULT ''
    )""",
    "CREATE INDEX refresh_tokens_family ON refresh_tokens (family)",
    "CREATE INDEX refresh_tokens_user ON refresh_tokens (username)",
)

_LIVE_VERSION = (
    # The approved version that plays, apart from the newest upload (which may be pending).
    "ALTER TABLE content_assets ADD COLUMN live_version INTEGER",
    "ALTER TABLE content_assets ADD COLUMN live_filename TEXT NOT NULL DEFAULT ''",
    "UPDATE content_assets SET live_version = version, live_filename = filename"
    " WHERE status = 'approved'",
)

# Where each canvas sits on the building's elevation drawing (CanvasDef.placement); NULL for
# a canvas the building view does not draw.
_CANVAS_PLACEMENT = ("ALTER TABLE canvases ADD COLUMN placement {json}",)

# Each show edit made for someone: the object before and after (NULL: created / deleted), so
# its author can undo it (core/edits.py). Trimmed to the newest rows by the edit's transaction.
_EDIT_HISTORY = (
    """CREATE TABLE edit_history (
        id {pk},
        at {ts} NOT NULL,
        actor {key} NOT NULL,
        kind TEXT NOT NULL CHECK (kind IN ('look', 'cue_list', 'cue', 'schedule')),
        "key" {key} NOT NULL,
        "before" {json},
        "after" {json},
        undone {bool} NOT NULL DEFAULT {false}
    )""",
    "CREATE INDEX edit_history_actor ON edit_history (actor, id)",
)

# Show snapshots (core/snapshots.py): each distinct show document once, by its SHA-256
# (zlib-compressed canonical JSON), and the history of snapshots that name one — a rollback
# to earlier content is a new history row over a document already kept.
_SHOW_SNAPSHOTS = (
    """CREATE TABLE show_documents (
        hash TEXT PRIMARY KEY,
        document {blob} NOT NULL
    )""",
    """CREATE TABLE show_snapshots (
        id {pk},
        hash TEXT NOT NULL REFERENCES show_documents (hash),
        created_at {ts} NOT NULL,
        actor {key} NOT NULL,
        message TEXT NOT NULL,
        parent TEXT
    )""",
)

# Trigger rules (core/rules), stored as their documents; and the audit log accepts the
# origin "rule" (each firing is audited as actor "rule:<name>"). SQLite cannot change a CHECK
# constraint: the table is rebuilt (ids kept; AUTOINCREMENT follows the rename).
_RULES = (
    """CREATE TABLE trigger_rules (
        name {key} PRIMARY KEY,
        doc {json} NOT NULL,
        updated_at {ts} NOT NULL
    )""",
)
_ORIGINS = "'ui', 'api', 'socket', 'schedule', 'rule', 'input', 'system'"
_RULE_ORIGIN_SQLITE = (
    f"""CREATE TABLE audit_log_v10 (
        id {{pk}},
        at {{ts}} NOT NULL,
        actor TEXT NOT NULL,
        role TEXT NOT NULL,
        origin TEXT NOT NULL CHECK (origin IN ({_ORIGINS})),
        action TEXT NOT NULL,
        target TEXT NOT NULL,
        detail {{json}} NOT NULL,
        address TEXT NOT NULL
    )""",
    "INSERT INTO audit_log_v10 (id, at, actor, role, origin, action, target, detail, address)"
    " SELECT id, at, actor, role, origin, action, target, detail, address FROM audit_log",
    "DROP TABLE audit_log",
    "ALTER TABLE audit_log_v10 RENAME TO audit_log",
    "CREATE INDEX audit_log_at ON audit_log (at)",
    "CREATE INDEX audit_log_actor ON audit_log (actor, id)",
    "CREATE INDEX audit_log_action ON audit_log (action, id)",
    "CREATE INDEX audit_log_origin ON audit_log (origin, id)",
)
_RULE_ORIGIN_POSTGRES = (
    "ALTER TABLE audit_log DROP CONSTRAINT audit_log_origin_check",
    f"ALTER TABLE audit_log ADD CONSTRAINT audit_log_origin_check CHECK (origin IN ({_ORIGINS}))",
)

# The correlation id of the request behind each entry (core/correlation.py): the audit entry,
# the log lines and the trace of one request are found by one id.
_AUDIT_REQUEST_ID = (
    "ALTER TABLE audit_log ADD COLUMN request_id TEXT NOT NULL DEFAULT ''",
    "CREATE INDEX audit_log_request_id ON audit_log (request_id)",
)

# The hot-standby pair's lease (issue 19, playout/ha_lease.py): one row, the fencing epoch
# each new leader increments, who holds it and when it was last renewed (ms, the database's
# clock). The advisory lock is what grants leadership; this row makes it visible and fences.
_HA_LEASE = (
    """CREATE TABLE ha_lease (
        id INTEGER PRIMARY KEY CHECK (id = 1),
        epoch BIGINT NOT NULL,
        leader TEXT NOT NULL,
        renewed_ms BIGINT NOT NULL,
        changed_ms BIGINT NOT NULL,
        reason TEXT NOT NULL
    )""",
)

# Tenants (docs/fleet.md): every fleet table carries `tenant_id`; existing rows go to the
# default tenant (id 1). `device_registry` is the provisioning table: a device id registers
# only if it is provisioned to a tenant. SQLite stays single-tenant (everything in tenant 1);
# PostgreSQL enforces the isolation with row-level security, ENABLEd and FORCEd so the table
# owner is held to it too. A missing `app.current_tenant_id` matches no row; the audited
# super_admin path (core/storage/tenancy.py) sets `app.super_admin` for one transaction.
FLEET_TABLES = ("devices", "positions", "alarms", "device_files", "device_registry")
_TENANTS = (
    """CREATE TABLE tenants (
        id {pk},
        name {key} NOT NULL UNIQUE,
        retention_days INTEGER NOT NULL DEFAULT 90 CHECK (retention_days BETWEEN 1 AND 3650),
        created_at {ts} NOT NULL
    )""",
    """CREATE TABLE device_registry (
        device_id {key} PRIMARY KEY,
        tenant_id {ref} NOT NULL DEFAULT 1,
        provisioned_at {ts} NOT NULL,
        provisioned_by TEXT NOT NULL
    )""",
    "CREATE INDEX device_registry_tenant ON device_registry (tenant_id, device_id)",
    *(
        f"ALTER TABLE {table} ADD COLUMN tenant_id {{ref}} NOT NULL DEFAULT 1"
        for table in ("devices", "positions", "alarms", "device_files")
    ),
    "CREATE INDEX devices_tenant ON devices (tenant_id, device_id)",
)
_TENANTS_SQLITE = (
    "INSERT INTO tenants (id, name, retention_days, created_at)"
    " VALUES (1, 'default', 90, strftime('%Y-%m-%dT%H:%M:%f', 'now') || '000Z')",
)
_TENANT_SETTING = "NULLIF(current_setting('app.current_tenant_id', true), '')::bigint"
_SUPER_SETTING = "current_setting('app.super_admin', true) = 'on'"
_TENANTS_POSTGRES = (
    "INSERT INTO tenants (id, name, retention_days, created_at) VALUES (1, 'default', 90, now())",
    "SELECT setval(pg_get_serial_sequence('tenants', 'id'), 1)",
    *(
        stmt
        for table in FLEET_TABLES
        for stmt in (
            # New rows take the transaction's tenant; none set → NOT NULL fails the insert.
            f"ALTER TABLE {table} ALTER COLUMN tenant_id SET DEFAULT {_TENANT_SETTING}",
            f"ALTER TABLE {table} ADD CONSTRAINT {table}_tenant_fk FOREIGN KEY (tenant_id)"
            " REFERENCES tenants (id)",
            f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY",
            f"ALTER TABLE {table} FORCE ROW LEVEL SECURITY",
            f"CREATE POLICY {table}_tenant ON {table} USING (tenant_id = {_TENANT_SETTING})"
            f" WITH CHECK (tenant_id = {_TENANT_SETTING})",
            f"CREATE POLICY {table}_super_admin ON {table} USING ({_SUPER_SETTING})"
            f" WITH CHECK ({_SUPER_SETTING})",
        )
    ),
    "ALTER TABLE tenants ENABLE ROW LEVEL SECURITY",
    "ALTER TABLE tenants FORCE ROW LEVEL SECURITY",
    f"CREATE POLICY tenants_own ON tenants FOR SELECT USING (id = {_TENANT_SETTING})",
    f"CREATE POLICY tenants_super_admin ON tenants USING ({_SUPER_SETTING})"
    f" WITH CHECK ({_SUPER_SETTING})",
    # The gateway's one cross-tenant question, before it knows whose device is calling:
    # which tenant holds this id (nothing else about it). The SET clause lasts for the call.
    """CREATE FUNCTION fleet_device_tenant(device TEXT) RETURNS BIGINT
        LANGUAGE sql STABLE SET app.super_admin = 'on'
        AS $$ SELECT tenant_id FROM device_registry WHERE device_id = device $$""",
    # Partitions are DDL on a table the application role does not own: these two functions,
    # run with the owner's rights, are all it may do to them (a month's partition by its
    # start; a drop only of our own positions_yYYYYmMM names).
    """CREATE FUNCTION fleet_create_position_partition(start TIMESTAMPTZ) RETURNS BOOLEAN
        LANGUAGE plpgsql SECURITY DEFINER SET search_path FROM CURRENT AS $$
        DECLARE
            first TIMESTAMPTZ := date_trunc('month', start AT TIME ZONE 'UTC') AT TIME ZONE 'UTC';
            name TEXT := 'positions_y' || to_char(first AT TIME ZONE 'UTC', 'YYYY"m"MM');
        BEGIN
            IF to_regclass(name) IS NOT NULL THEN
                RETURN FALSE;
            END IF;
            EXECUTE format('CREATE TABLE %I PARTITION OF positions FOR VALUES FROM (%L) TO (%L)',
                name, first, first + interval '1 month');
            RETURN TRUE;
        END $$""",
    """CREATE FUNCTION fleet_drop_position_partition(name TEXT) RETURNS BOOLEAN
        LANGUAGE plpgsql SECURITY DEFINER SET search_path FROM CURRENT AS $$
        BEGIN
            IF name !~ '^positions_y[0-9]{{4}}m[0-9]{{2}}$' OR NOT EXISTS (
                SELECT 1 FROM pg_inherits WHERE inhrelid = to_regclass(name)
                AND inhparent = to_regclass('positions')) THEN
                RAISE EXCEPTION 'not a positions partition: %', name;
            END IF;
            EXECUTE format('DROP TABLE %I', name);
            RETURN TRUE;
        END $$""",
)

MIGRATIONS: tuple[Migration, ...] = (
    Migration(1, "show model: settings, patch, looks, cue lists, cues, schedules", _SHOW),
    Migration(2, "content assets, users, audit log, runtime state", _CONTENT_USERS_AUDIT),
    Migration(3, "schedule rules: zone, sun anchors, end, date range, exceptions", _SCHEDULE_RULES),
    Migration(4, "MDVR devices, positions (monthly partitions), alarms, files", _MDVR),
    Migration(5, "refresh tokens (hashed, rotating, revocable)", _REFRESH_TOKENS),
    Migration(6, "content: the approved version that plays", _LIVE_VERSION),
    Migration(7, "canvases: placement on the building's elevation drawing", _CANVAS_PLACEMENT),
    Migration(8, "edit history: undo of a show edit", _EDIT_HISTORY),
    Migration(
        9, "show snapshots: content-addressed show documents and their history", _SHOW_SNAPSHOTS
    ),
    Migration(
        10,
        "trigger rules; the audit origin 'rule'",
        _RULES,
        (("sqlite", _RULE_ORIGIN_SQLITE), ("postgres", _RULE_ORIGIN_POSTGRES)),
    ),
    Migration(11, "audit log: the request's correlation id", _AUDIT_REQUEST_ID),
    Migration(15, "hot-standby pair: the leadership lease and its fencing epoch", _HA_LEASE),
    Migration(
        16,
        "tenants: tenant_id on the fleet tables, the device registry, row-level security",
        _TENANTS,
        (("sqlite", _TENANTS_SQLITE), ("postgres", _TENANTS_POSTGRES)),
    ),
)
LATEST = MIGRATIONS[-1].version

_MIGRATION_LOCK = 0x7472_6F63_0001  # advisory lock key: one migrator at a time ("troc")

_CREATE_LEDGER = """CREATE TABLE IF NOT EXISTS schema_migrations (
    version INTEGER PRIMARY KEY,
    name TEXT NOT NULL,
    applied_at {ts} NOT NULL
)"""


def too_new(found: int) -> SchemaError:
    return SchemaError(
        f"the database is at schema version {found}, newer than this trocadero knows"
        f" (up to {LATEST}): it was written by a newer release. Run that release, or restore"
        " a backup taken before the upgrade; trocadero never migrates backwards."
    )


async def _has_ledger(tx: Tx, dialect: str) -> bool:
    if dialect == "postgres":
        return bool(await tx.fetchval("SELECT to_regclass('schema_migrations') IS NOT NULL AS e"))
    return bool(
        await tx.fetchval(
            "SELECT count(*) AS n FROM sqlite_master WHERE type = 'table'"
            " AND name = 'schema_migrations'"
        )
    )


async def migrate(driver: Driver) -> list[int]:
    """Apply every pending migration, each in its own transaction; returns those applied."""
    d = driver.dialect
    async with driver.transaction(write=True) as tx:
        await tx.lock(_MIGRATION_LOCK)
        if not await _has_ledger(tx, d.name):  # the daemon's role may not CREATE (docs/fleet.md)
            await tx.execute(d.render(_CREATE_LEDGER))
        found = await tx.fetchval("SELECT MAX(version) AS v FROM schema_migrations")
    if found is not None and int(found) > LATEST:
        raise too_new(int(found))
    applied: list[int] = []
    for m in MIGRATIONS:
        async with driver.transaction(write=True) as tx:
            await tx.lock(_MIGRATION_LOCK)  # another process may be migrating the same database
            found = await tx.fetchval("SELECT MAX(version) AS v FROM schema_migrations")
            if found is not None and int(found) > LATEST:
                raise too_new(int(found))
            done = await tx.fetchval(
                "SELECT version FROM schema_migrations WHERE version = ?", m.version
            )
            if done is not None:
                continue
            for statement in (*m.statements, *dict(m.by_dialect).get(d.name, ())):
                await tx.execute(d.render(statement))
            await tx.execute(
                "INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)",
                m.version,
                m.name,
                d.enc_ts(datetime.now(UTC)),
            )
        applied.append(m.version)
    return applied


async def current_version(driver: Driver) -> int:
    async with driver.transaction(write=False) as tx:
        found = await tx.fetchval("SELECT MAX(version) AS v FROM schema_migrations")
    return 0 if found is None else int(found)
