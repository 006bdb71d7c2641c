"""The daemon's configuration as frozen, typed dataclasses.

Every field carries its default, its allowed range (`bounded`) and a one-line description
(`doc`), so the loader can validate any TOML against it and name the key that is wrong.
Nothing here reads files or the environment: `loader.py` does that.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from typing import Final, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from .cameras import MAX_CAMERAS, CameraConfig
from .fields import setting
from .ha import HaConfig
from .inputs import InputConfig, validate_inputs
from .mqtt import MqttConfig
from .outputs import OutputConfig
from .touch import TouchConfig

MAX_BODY_BYTES = 1 << 20  # the default of [web] max_body_bytes

LogFormat = Literal["auto", "json", "console"]
LogLevel = Literal["debug", "info", "warning", "error"]


@dataclass(frozen=True, slots=True)
class ClockConfig:
    """The native output thread's frame clock."""

    rate_hz: float = setting(
        44.0,
        "frames per second on the wire (44 Hz is the DMX512 full-universe maximum)",
        minimum=1.0,
        maximum=120.0,
    )
    realtime_priority: int = setting(
        50,
        "SCHED_FIFO priority asked for the output thread; 0 = do not ask",
        minimum=0,
        maximum=99,
    )


@dataclass(frozen=True, slots=True)
class ShowConfig:
    """Which show the daemon plays."""

    path: str = setting("", "show file (TOML); empty = the embedded default Trocadero show")


@dataclass(frozen=True, slots=True)
class RenderConfig:
    """Frame production on the Python side."""

    preview_rate_hz: float = setting(
        10.0, "live preview snapshots per second per canvas", minimum=0.5, maximum=30.0
    )
    preview_max_size: int = setting(
        160, "longest side of a preview snapshot, pixels", minimum=8, maximum=1024
    )
    native: bool = setting(
        True,
        "draw frames with the native render plan: a Rust thread that never needs the GIL, so"
        " vehicles, browsers and scripts cannot delay a frame (off: the Python renderer, in"
        " a thread or on the Trio thread as `thread` says)",
    )
    thread: bool = setting(
        True,
        "without `native`: render in a Python thread of its own (off: on the Trio thread,"
        " where vehicles, REST and WebSocket work can delay a frame)",
    )


@dataclass(frozen=True, slots=True)
class WebConfig:
    """The control plane (Starlette on Hypercorn, in the daemon's nursery)."""

    host: str = setting("127.0.0.1", "address to bind; loopback by default")
    port: int = setting(8440, "TCP port of the web UI and REST API", minimum=1, maximum=65535)
    restart_delay_s: float = setting(
        0.5,
        "pause before a crashed web server is restarted",
        minimum=0.0,
        maximum=60.0,
    )
    max_body_bytes: int = setting(
        MAX_BODY_BYTES,
        "largest request body of a JSON route, bytes; larger ones get 413 before being read"
        " (upload chunks and the iCal import have their own limits)",
        minimum=1024,
        maximum=64 << 20,
    )
    tls_certificate: str = setting(
        "",
        "PEM certificate chain file: the UI, REST and WebSocket are served as HTTPS and WSS"
        " (reloaded on SIGHUP); empty = plain HTTP",
    )
    tls_key: str = setting("", "PEM private key of tls_certificate")
    hsts_max_age_s: int = setting(
        31_536_000,
        "Strict-Transport-Security max-age sent on HTTPS responses, seconds; 0 = none",
        minimum=0,
        maximum=63_072_000,
    )
    allow_plaintext: bool = setting(
        False,
        "serve plain HTTP on an address beyond loopback (a TLS proxy in front on another"
        " host); without it such a host is refused unless TLS is configured",
    )
    proxy_hops: int = setting(
        0,
        "reverse proxies in front whose X-Forwarded-For/-Proto are trusted (1 behind a TLS"
        " proxy on this host): rate limits and the audit see the client's address",
        minimum=0,
        maximum=4,
    )

    def validate(self) -> list[str]:
        problems: list[str] = []
        if bool(self.tls_certificate) != bool(self.tls_key):
            problems.append(
                "tls_certificate, tls_key: give both or neither (got only "
                f"{'tls_certificate' if self.tls_certificate else 'tls_key'})"
            )
        if not self.tls_certificate and not self.allow_plaintext and not _loopback(self.host):
            problems.append(
                f"host: {self.host!r} is beyond loopback and would serve logins in plain"
                " HTTP: set tls_certificate and tls_key, or allow_plaintext = true when a"
                " TLS proxy on another host is in front (docs/tls.md)"
            )
        return problems


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False  # a name: it may resolve anywhere


@dataclass(frozen=True, slots=True)
class AuthConfig:
    """Logins for the web UI and REST API (docs/auth.md)."""

    admin_user: str = setting("admin", "account created on first start when there are no users")
    admin_password: str = setting(
        "",
        "its password; empty = a one-time password printed to the log, to be changed at login",
    )
    access_ttl_s: float = setting(
        900.0, "lifetime of an access token (JWT), seconds", minimum=30.0, maximum=86400.0
    )
    refresh_ttl_s: float = setting(
        14 * 86400.0,
        "lifetime of a refresh token, seconds (each use rotates it)",
        minimum=300.0,
        maximum=365 * 86400.0,
    )
    rate_limit_per_minute: int = setting(
        100, "requests per minute per user (per address before login)", minimum=1, maximum=100_000
    )
    login_attempts_per_minute: int = setting(
        10,
        "login, refresh, logout and password-change requests per minute per client address",
        minimum=1,
        maximum=1000,
    )


@dataclass(frozen=True, slots=True)
class ContentConfig:
    """The content library (uploaded videos and images)."""

    directory: str = setting("", "where files are kept; empty = content in the state directory")
    max_upload_bytes: int = setting(
        2 << 30, "largest upload accepted, bytes", minimum=1024, maximum=1 << 40
    )


@dataclass(frozen=True, slots=True)
class SocketConfig:
    """The show-script API: msgpack over a Unix socket (docs/socket-api.md)."""

    enabled: bool = setting(True, "serve the socket API")
    path: str = setting(
        "",
        "socket path; empty = control.sock in $RUNTIME_DIRECTORY (systemd), else in the state"
        " directory",
    )
    mode: int = setting(
        0o660, "file mode of the socket (owner and group may connect)", minimum=0, maximum=0o777
    )
    group: str = setting("", "group that owns the socket (its members may connect); empty: ours")
    role: Literal["admin", "operator", "marketing", "viewer"] = setting(
        "operator", "role of every caller (local users allowed by the socket's mode)"
    )
    max_message_bytes: int = setting(
        1 << 20,
        "largest request accepted; larger ones get an error reply",
        minimum=1024,
        maximum=64 << 20,
    )


@dataclass(frozen=True, slots=True)
class EventsConfig:
    """The event bus (WebSocket, socket API subscribers). In-process by default; with a Redis
    URL, events are also fanned out to (and received from) other nodes of a deployment."""

    redis_url: str = setting("", "redis://host:port/db to share events between nodes; empty: off")
    channel_prefix: str = setting("trocadero:events:", "Redis channel prefix (topic appended)")
    node_id: str = setting("", "this node's name in shared events; empty: host name and pid")
    reconnect_s: float = setting(
        2.0, "pause before reconnecting to Redis after a failure", minimum=0.1, maximum=60.0
    )


@dataclass(frozen=True, slots=True)
class ArtNetDiscoveryConfig:
    """ArtPoll every few seconds; the nodes that answer are listed for the control plane."""

    enabled: bool = setting(False, "poll for Art-Net nodes (off: never broadcast by default)")
    poll_targets: tuple[str, ...] = setting(
        ("255.255.255.255",), "where ArtPoll goes: the site's directed broadcast address(es)"
    )
    interval_s: float = setting(3.0, "seconds between polls", minimum=1.0, maximum=60.0)
    bind_address: str = setting("0.0.0.0", "local IPv4 address to poll from and reply as")
    port: int = setting(6454, "Art-Net UDP port", minimum=1, maximum=65535)


@dataclass(frozen=True, slots=True)
class InputMasterConfig:
    """A console channel driving a master: while its input is live, it sets the level."""

    target: str = setting("grand", '"grand" for the grand master, or a canvas name')
    universe: int = setting(
        1, "input universe (one of an [[inputs]] entry's)", minimum=1, maximum=63999
    )
    channel: int = setting(1, "slot in that universe, 1-based", minimum=1, maximum=512)


@dataclass(frozen=True, slots=True)
class LoggingConfig:
    """structlog output."""

    format: LogFormat = setting("auto", "json, console, or auto (console on a TTY, else JSON)")
    level: LogLevel = setting("info", "lowest level written")


@dataclass(frozen=True, slots=True)
class TracingConfig:
    """OpenTelemetry traces over OTLP/HTTP (docs/tracing.md). Off: nothing is imported."""

    enabled: bool = setting(False, "export traces (requests, commands, commits, frames)")
    endpoint: str = setting(
        "http://127.0.0.1:4318/v1/traces", "the collector's OTLP/HTTP traces URL (protobuf)"
    )
    service_name: str = setting("trocadero", "service.name of the exported spans")
    sample_ratio: float = setting(
        1.0,
        "share of traces kept (parent-based: a request's spans all or none)",
        minimum=0.0,
        maximum=1.0,
    )


@dataclass(frozen=True, slots=True)
class StateConfig:
    """Where persistent state lives."""

    directory: str = setting(
        "",
        "state directory; empty = $STATE_DIRECTORY (systemd), else $XDG_STATE_HOME/trocadero",
    )


@dataclass(frozen=True, slots=True)
class StorageConfig:
    """Where the show model, users, audit log and playback state are stored."""

    backend: Literal["sqlite", "postgres"] = setting(
        "sqlite", "sqlite (embedded, in the state directory) or postgres (asyncpg)"
    )
    sqlite_path: str = setting(
        "", "SQLite database file; empty = trocadero.db in the state directory"
    )
    fleet_sqlite_path: str = setting(
        "fleet.db",
        "SQLite file of the MDVR fleet's tables (devices, positions, alarms, files), relative"
        " to the state directory: apart, the gateway process's position writes never hold"
        " the write lock the lighting's commands wait for; empty = in sqlite_path's file",
    )
    postgres_dsn: str = setting(
        "", "PostgreSQL DSN, e.g. postgresql://trocadero@db.example/trocadero (backend postgres)"
    )
    pool_min: int = setting(1, "PostgreSQL pool: connections kept open", minimum=1, maximum=64)
    pool_max: int = setting(8, "PostgreSQL pool: most connections", minimum=1, maximum=256)
    command_timeout_s: float = setting(
        10.0, "PostgreSQL: longest a statement may run", minimum=0.1, maximum=600.0
    )

    def validate(self) -> list[str]:
        problems: list[str] = []
        if self.backend == "postgres" and not self.postgres_dsn:
            problems.append("postgres_dsn: required when backend is postgres (got '')")
        if self.pool_min > self.pool_max:
            problems.append(
                f"pool_min: must not exceed pool_max (got {self.pool_min} > {self.pool_max})"
            )
        return problems


@dataclass(frozen=True, slots=True)
class BackupConfig:
    """Scheduled backups of the store, content, config and show (docs/backup.md)."""

    enabled: bool = setting(False, "make backups on a schedule while the daemon runs")
    interval_s: float = setting(
        86400.0, "seconds between backups (when daily_at is empty)", minimum=1.0, maximum=2.7e6
    )
    daily_at: str = setting("", "HH:MM local time of one backup a day; empty = every interval_s")
    directory: str = setting("", "local destination directory; empty = none")
    s3_url: str = setting("", "S3 destination s3://bucket/prefix; empty = none")
    s3_endpoint_url: str = setting("", "S3-compatible endpoint; empty = AWS")
    s3_region: str = setting("us-east-1", "S3 region name")
    s3_credentials_file: str = setting(
        "",
        "file with two lines, access key id and secret key; empty = the AWS_ACCESS_KEY_ID /"
        " AWS_SECRET_ACCESS_KEY environment (never keys inline in the config)",
    )
    keep_last: int = setting(
        7, "archives kept per destination (the newest); 0 = no count limit", minimum=0
    )
    keep_days: float = setting(
        0.0, "archives older than this many days are deleted; 0 = no age limit", minimum=0.0
    )
    include_config: bool = setting(True, "put the config file and the show file in the archive")

    def validate(self) -> list[str]:
        problems: list[str] = []
        if self.enabled and not (self.directory or self.s3_url):
            problems.append("directory: a destination is required when enabled (or s3_url)")
        if self.s3_url and not (self.s3_url.startswith("s3://") and self.s3_url[5:].strip("/")):
            problems.append(f"s3_url: must be s3://bucket[/prefix] (got {self.s3_url!r})")
        if self.daily_at:
            hh, sep, mm = self.daily_at.partition(":")
            if not (sep and hh.isdigit() and mm.isdigit() and int(hh) < 24 and int(mm) < 60):
                problems.append(f"daily_at: must be HH:MM (got {self.daily_at!r})")
        return problems


@dataclass(frozen=True, slots=True)
class PlaybackConfig:
    """Cue-list playback behaviour."""

    go_debounce_s: float = setting(
        0.3, "a second GO on the same list within this window is ignored", minimum=0.0, maximum=5.0
    )
    panic_fade_s: float = setting(
        3.0, "default fade of PANIC (everything fades to the idle look)", minimum=0.0, maximum=600.0
    )


@dataclass(frozen=True, slots=True)
class EmergencyConfig:
    """Life-safety override inputs (the looks are in the show's [[emergency]])."""

    input_path: str = setting(
        "",
        "file or sysfs GPIO value the output thread reads every frame; '1' engages (latched)",
    )
    active_low: bool = setting(False, "the input engages on '0' instead of '1'")
    input_universe: int = setting(
        0,
        "sACN/Art-Net input universe whose channel engages it; 0 = none",
        minimum=0,
        maximum=63999,
    )
    input_channel: int = setting(1, "slot in that universe, 1-based", minimum=1, maximum=512)
    input_threshold: int = setting(
        128, "slot value at or above which the input engages", minimum=1, maximum=255
    )


@dataclass(frozen=True, slots=True)
class SiteConfig:
    """Where the building stands: its sun (sunrise, sunset, dawn, dusk) and its wall clock."""

    latitude: float = setting(
        48.8616, "degrees north (south is negative); the Trocadero", minimum=-90.0, maximum=90.0
    )
    longitude: float = setting(
        2.2893, "degrees east (west is negative); the Trocadero", minimum=-180.0, maximum=180.0
    )
    timezone: str = setting(
        "Europe/Paris", "IANA time zone of the site's wall clock (DST from the tz database)"
    )

    def validate(self) -> list[str]:
        try:
            ZoneInfo(self.timezone)
        except (ZoneInfoNotFoundError, ValueError):
            return [f"timezone: not a time zone of the tz database (got {self.timezone!r})"]
        return []


@dataclass(frozen=True, slots=True)
class ScheduleConfig:
    """The building's schedule at run time (docs/schedule.md)."""

    enabled: bool = setting(True, "play the schedule; false = edit and simulate only")
    horizon_s: float = setting(
        8 * 86400.0,
        "look-back horizon: an occurrence that started longer ago than this is not played"
        " (covers a weekly open-ended entry after a restart)",
        minimum=3600.0,
        maximum=366 * 86400.0,
    )
    interval_s: float = setting(
        30.0,
        "re-evaluate at least this often, besides at every transition",
        minimum=1.0,
        maximum=3600.0,
    )
    catch_up_s: float = setting(
        86400.0,
        "a cue list found running late is started as of its scheduled start, at most this far"
        " back (its follow/hang timers are replayed)",
        minimum=0.0,
        maximum=366 * 86400.0,
    )
    default_fade_s: float = setting(
        3.0, "fade of a scheduled look with no fade_s of its own", minimum=0.0, maximum=3600.0
    )


MAX_DEVICE_ID_BYTES: Final = 32  # what the MDVR builders can echo


@dataclass(frozen=True, slots=True)
class MdvrConfig:
    """The MDVR gateway (CMSV6 "$$dc" vehicle cameras, docs: shared/reference/mdvr-protocol.md).

    Off by default: the default daemon opens no ports for it."""

    enabled: bool = setting(False, "run the signaling and media servers")
    own_process: bool = setting(
        True,
        "run the gateway in a process of its own, started and supervised by the daemon, so"
        " vehicles never share the lighting's interpreter; false = in the daemon's process",
    )
    nice: int = setting(
        10,
        "CPU niceness of the gateway process (own_process): under load the vehicles yield"
        " the CPU to the lighting daemon and its commands, and still get all that is spare",
        minimum=0,
        maximum=19,
    )
    bind_address: str = setting("0.0.0.0", "address the servers listen on")
    udp: bool = setting(False, "also accept signaling datagrams (UDP) on the signaling port")
    signaling_port: int = setting(
        6608,
        "signaling TCP port (CMSV6 default 6608; 1087 is the seed's)",
        minimum=1,
        maximum=65535,
    )
    media_port: int = setting(
        6602, "media TCP port (named in every C508/C702)", minimum=1, maximum=65535
    )
    media_host: str = setting(
        "",
        "address devices reach the media server on (sent in C508/C702); empty = the local"
        " address of the device's signaling connection",
    )
    allowed_devices: tuple[str, ...] = setting(
        (),
        "device ids provisioned to the default tenant at start-up (ids provisioned to a tenant"
        " by device.provision register too); any other id is refused (C100 reason 2)",
    )
    heartbeat_s: float = setting(
        30.0,
        "C501 to each device at least this often (devices drop the link after 90 s)",
        minimum=0.01,
        maximum=45.0,
    )
    offline_after_s: float = setting(
        300.0,
        "a device silent this long is offline and its link closed",
        minimum=0.05,
        maximum=3600.0,
    )
    session_timeout_s: float = setting(
        15.0,
        "a requested media session whose connection has not arrived by then is dropped",
        minimum=0.05,
        maximum=300.0,
    )
    media_idle_s: float = setting(
        30.0,
        "a media connection that sends nothing this long is closed",
        minimum=0.05,
        maximum=3600.0,
    )
    video_token_s: float = setting(
        30.0,
        "a live-video stream token admits a browser viewer this long after it is issued",
        minimum=1.0,
        maximum=3600.0,
    )
    video_grace_s: float = setting(
        10.0,
        "a live-video device stream is stopped (C508 stop) this long after its last browser"
        " viewer left",
        minimum=0.0,
        maximum=3600.0,
    )
    retention_days: int = setting(
        90,
        "the default tenant's position retention (other tenants: tenant.update); older"
        " positions are deleted (PostgreSQL: whole monthly partitions when every tenant allows)",
        minimum=1,
        maximum=3650,
    )
    file_dir: str = setting(
        "", "where downloaded alarm files go; empty = mdvr-files in the state directory"
    )
    file_retries: int = setting(
        3, "times an interrupted file download is asked for again", minimum=0, maximum=20
    )
    telemetry_batch: int = setting(
        500, "positions written per batch (COPY on PostgreSQL)", minimum=1, maximum=50000
    )
    telemetry_flush_s: float = setting(
        1.0,
        "longest a received position waits before its batch is written",
        minimum=0.01,
        maximum=60.0,
    )
    unknown_log_interval_s: float = setting(
        60.0,
        "refused device ids are logged at most once per this interval each",
        minimum=0.0,
        maximum=86400.0,
    )
    register_within_s: float = setting(
        30.0,
        "a signaling connection that has not registered (V101) this soon is closed",
        minimum=0.05,
        maximum=600.0,
    )
    max_unregistered_per_address: int = setting(
        64,
        "connections from one address not yet registered (signaling) or not yet claiming a"
        " session (media); more are closed at once (vehicles behind one carrier NAT share an"
        " address: registered links do not count)",
        minimum=1,
        maximum=100_000,
    )
    max_connections: int = setting(
        20_000,
        "open signaling plus media connections in all; more are closed at once",
        minimum=1,
        maximum=1_000_000,
    )
    max_replacements_per_minute: int = setting(
        6,
        "a device id may displace its own registered link (a second V101) this often per"
        " minute; past it the newcomer is refused, logged as a security event and alerted",
        minimum=1,
        maximum=10_000,
    )

    def validate(self) -> list[str]:
        # Ids are echoed in every reply: one the frame cannot carry would never register.
        problems: list[str] = []
        for n, device_id in enumerate(self.allowed_devices):
            if not device_id or len(device_id.encode()) > MAX_DEVICE_ID_BYTES:
                problems.append(
                    f"allowed_devices[{n}]: a device id is 1 to {MAX_DEVICE_ID_BYTES} bytes"
                    f" (got {device_id!r})"
                )
            elif any(c in ",#" or not c.isprintable() or c.isspace() for c in device_id):
                problems.append(
                    f"allowed_devices[{n}]: a device id has no ',', '#', spaces or control"
                    f" characters (got {device_id!r})"
                )
        return problems


@dataclass(frozen=True, slots=True)
class DebugConfig:
    """Switches for tests and diagnosis; never on in production."""

    fault_injection: bool = setting(
        False,
        "serve /debug/fault/* endpoints that crash the web server or stall the clock",
    )


@dataclass(frozen=True, slots=True)
class Config:
    """The whole daemon configuration."""

    clock: ClockConfig = field(default_factory=ClockConfig)
    show: ShowConfig = field(default_factory=ShowConfig)
    outputs: tuple[OutputConfig, ...] = field(default=())
    inputs: tuple[InputConfig, ...] = field(default=())
    input_masters: tuple[InputMasterConfig, ...] = field(default=())
    artnet_discovery: ArtNetDiscoveryConfig = field(default_factory=ArtNetDiscoveryConfig)
    render: RenderConfig = field(default_factory=RenderConfig)
    web: WebConfig = field(default_factory=WebConfig)
    auth: AuthConfig = field(default_factory=AuthConfig)
    events: EventsConfig = field(default_factory=EventsConfig)
    socket: SocketConfig = field(default_factory=SocketConfig)
    content: ContentConfig = field(default_factory=ContentConfig)
    logging: LoggingConfig = field(default_factory=LoggingConfig)
    tracing: TracingConfig = field(default_factory=TracingConfig)
    state: StateConfig = field(default_factory=StateConfig)
    storage: StorageConfig = field(default_factory=StorageConfig)
    playback: PlaybackConfig = field(default_factory=PlaybackConfig)
    emergency: EmergencyConfig = field(default_factory=EmergencyConfig)
    site: SiteConfig = field(default_factory=SiteConfig)
    schedule: ScheduleConfig = field(default_factory=ScheduleConfig)
    mdvr: MdvrConfig = field(default_factory=MdvrConfig)
    mqtt: MqttConfig = field(default_factory=MqttConfig)
    touch: TouchConfig = field(default_factory=TouchConfig)
    cameras: tuple[CameraConfig, ...] = field(default=())  # blob trackers (docs/cameras.md)
    backup: BackupConfig = field(default_factory=BackupConfig)
    ha: HaConfig = field(default_factory=HaConfig)
    debug: DebugConfig = field(default_factory=DebugConfig)

    def validate(self) -> list[str]:
        """Rules across inputs (two receivers on one port, one universe fed twice)."""
        problems = validate_inputs(self.inputs)
        received = {u for i in self.inputs for u in i.universes}
        for n, m in enumerate(self.input_masters):
            if m.universe not in received:
                problems.append(
                    f"input_masters[{n}].universe: not received by any [[inputs]] "
                    f"(got {m.universe})"
                )
        if self.ha.enabled and self.storage.backend != "postgres":
            problems.append(
                "ha: the pair keeps its lease and state in PostgreSQL: set [storage] backend ="
                f' "postgres" (got {self.storage.backend!r})'
            )
        e = self.emergency
        if e.input_universe and e.input_universe not in received:
            problems.append(
                f"emergency.input_universe: not received by any [[inputs]] (got {e.input_universe})"
            )
        names = [c.name for c in self.cameras]
        if len(names) > MAX_CAMERAS:
            problems.append(f"cameras: at most {MAX_CAMERAS} (got {len(names)})")
        for n, name in enumerate(names):
            if name in names[:n]:
                problems.append(f"cameras[{n}].name: {name!r} is used by an earlier camera")
        return problems
