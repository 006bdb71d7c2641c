//! Configuration of one network output, and its validation. Messages name the offending
//! argument as the Python binding spells it (`universes[3]`, `destinations[0]`, `pace_us`…)
//! so they can be shown to an operator unchanged.

use super::packets::{
    ARTNET_MAX_PORT_ADDRESS, ARTNET_PORT, DDP_PORT, SACN_MAX_PRIORITY, SACN_MAX_UNIVERSE,
    SACN_PORT, SACN_SOURCE_NAME_MAX,
};
use std::fmt;
use std::net::{Ipv4Addr, SocketAddrV4};

/// Bytes per universe in the clock's frame: frame universe `i` is `frame[i*512 .. i*512+512]`.
pub const UNIVERSE_BYTES: usize = 512;
/// Longest Linux interface name (IFNAMSIZ − 1).
pub const MAX_INTERFACE_NAME: usize = 15;
/// Keep-alive bounds. sACN receivers drop a source after 2.5 s of silence
/// (E131_NETWORK_DATA_LOSS_TIMEOUT); Art-Net's own limit is 4 s.
pub const MIN_KEEPALIVE_S: f64 = 0.01;
pub const MAX_KEEPALIVE_S: f64 = 4.0;
pub const MAX_SACN_KEEPALIVE_S: f64 = 2.0;
/// Longest single pacing pause.
pub const MAX_PACE_US: u32 = 100_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    Sacn,
    ArtNet,
    Ddp,
    /// Enttec DMX USB Pro (label 6 over a serial device): [`super::SerialOutput`] only.
    EnttecPro,
    /// Open DMX (plain FTDI, host-timed break): [`super::OpenDmxSink`] only.
    OpenDmx,
}

impl Protocol {
    pub fn name(self) -> &'static str {
        match self {
            Protocol::Sacn => "sacn",
            Protocol::ArtNet => "artnet",
            Protocol::Ddp => "ddp",
            Protocol::EnttecPro => "enttec-pro",
            Protocol::OpenDmx => "open-dmx",
        }
    }

    /// Parses the binding's spelling: "sacn", "artnet", "ddp" (case-insensitive; "e131" and
    /// "art-net" accepted too).
    pub fn parse(s: &str) -> Option<Self> {
        match s.to_ascii_lowercase().as_str() {
            "sacn" | "e131" | "e1.31" => Some(Protocol::Sacn),
            "artnet" | "art-net" => Some(Protocol::ArtNet),
            "ddp" => Some(Protocol::Ddp),
            _ => None,
        }
    }

    pub fn default_port(self) -> u16 {
        match self {
            Protocol::Sacn => SACN_PORT,
            Protocol::ArtNet => ARTNET_PORT,
            Protocol::Ddp => DDP_PORT,
            Protocol::EnttecPro | Protocol::OpenDmx => 0,
        }
    }
}

impl fmt::Display for Protocol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// One universe of the output: which 512-byte universe of the frame, and what it is on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UniverseMap {
    /// Index of the universe in the clock's frame (bytes `index*512 ..`).
    pub frame_index: usize,
    /// sACN: universe number 1..=63999. Art-Net: 15-bit Port-Address (Net << 8 | Sub-Net << 4 |
    /// Universe). DDP: byte offset of this universe's `slots` bytes in the device buffer.
    pub wire: u32,
}

/// Everything that configures one output. Build it, then [`super::UdpOutput::new`] validates it
/// against the clock and opens the socket.
#[derive(Debug, Clone, PartialEq)]
pub struct OutputConfig {
    pub protocol: Protocol,
    pub universes: Vec<UniverseMap>,
    /// Unicast (or directed-broadcast) destinations; every universe goes to each of them.
    /// Empty with sACN: each universe to its multicast group 239.255.hi.lo:5568. Empty with
    /// Art-Net and `broadcast`: 255.255.255.255:6454.
    pub destinations: Vec<SocketAddrV4>,
    /// Local address to send from (bound with IP_FREEBIND, so an address that is not up yet
    /// makes the output fail and retry instead of refusing the configuration); also the
    /// multicast interface (IP_MULTICAST_IF).
    pub bind_address: Option<Ipv4Addr>,
    /// Network interface to send on: SO_BINDTODEVICE, or IP_UNICAST_IF + IP_MULTICAST_IF when
    /// the process may not bind to a device. A missing interface is retried once a second.
    pub interface: Option<String>,
    pub multicast_ttl: u8,
    /// IP_TTL for unicast; `None` keeps the system default.
    pub unicast_ttl: Option<u8>,
    /// SO_BROADCAST (Art-Net only, only when asked).
    pub broadcast: bool,
    /// sACN priority 0..=200.
    pub priority: u8,
    /// sACN source name (≤ 63 UTF-8 bytes).
    pub source_name: String,
    /// sACN CID (a UUID the caller keeps stable across restarts).
    pub cid: [u8; 16],
    /// sACN: synchronization universe (0 = none). Art-Net: non-zero sends ArtSync after each
    /// frame's ArtDmx. DDP: must be 0 (the push flag synchronizes).
    pub sync_address: u16,
    /// Send at most this many frames per second, on the clock's absolute schedule (`None`:
    /// every clock frame).
    pub rate_hz: Option<f64>,
    /// Send a universe only when its slots changed (then 3 more times, E1.31 §6.6.1), and
    /// otherwise every `keepalive_s`.
    pub send_on_change: bool,
    pub keepalive_s: f64,
    /// Pause `pace_us` µs after every `pace_every` packets (0 = no pacing).
    pub pace_every: usize,
    pub pace_us: u32,
    /// Slots sent per universe (1..=512): sACN sends short universes unpadded, Art-Net pads an
    /// odd count to even, DDP takes the first `slots` bytes of each universe.
    pub slots: usize,
}

impl OutputConfig {
    /// A configuration with the binding's defaults.
    pub fn new(protocol: Protocol, universes: Vec<UniverseMap>) -> Self {
        Self {
            protocol,
            universes,
            destinations: Vec::new(),
            bind_address: None,
            interface: None,
            multicast_ttl: 1,
            unicast_ttl: None,
            broadcast: false,
            priority: 100,
            source_name: "Trocadero".to_owned(),
            cid: [0; 16],
            sync_address: 0,
            rate_hz: None,
            send_on_change: false,
            keepalive_s: 1.0,
            pace_every: 0,
            pace_us: 0,
            slots: UNIVERSE_BYTES,
        }
    }

    /// Check every field against the protocol and the clock (`frame_bytes`, `clock_rate_hz`).
    pub fn validate(&self, frame_bytes: usize, clock_rate_hz: f64) -> Result<(), OutputError> {
        let invalid = |arg: &str, message: String| Err(OutputError::invalid(arg, message));
        let proto = self.protocol;
        if matches!(proto, Protocol::EnttecPro | Protocol::OpenDmx) {
            return invalid(
                "protocol",
                format!(
                    "{} is a serial output (add_serial_output / add_opendmx_output)",
                    proto.name()
                ),
            );
        }
        if self.universes.is_empty() {
            return invalid("universes", "universes must not be empty".into());
        }
        if !(1..=UNIVERSE_BYTES).contains(&self.slots) {
            return invalid(
                "slots",
                format!("slots must be between 1 and 512 (got {})", self.slots),
            );
        }
        let frame_universes = frame_bytes / UNIVERSE_BYTES;
        let mut wires: Vec<(u32, usize)> = Vec::with_capacity(self.universes.len());
        for (i, u) in self.universes.iter().enumerate() {
            let arg = format!("universes[{i}]");
            let end = u
                .frame_index
                .checked_mul(UNIVERSE_BYTES)
                .map(|s| s + self.slots);
            if end.is_none_or(|end| end > frame_bytes) {
                return invalid(
                    &arg,
                    format!(
                        "{arg}: frame index {} is outside the frame ({frame_bytes} bytes = \
                         {frame_universes} universes of 512)",
                        u.frame_index
                    ),
                );
            }
            match proto {
                Protocol::Sacn if !(1..=SACN_MAX_UNIVERSE).contains(&u.wire) => {
                    return invalid(
                        &arg,
                        format!(
                            "{arg}: sACN universe {} out of range 1..{SACN_MAX_UNIVERSE}",
                            u.wire
                        ),
                    );
                }
                Protocol::ArtNet if u.wire > ARTNET_MAX_PORT_ADDRESS => {
                    return invalid(
                        &arg,
                        format!(
                            "{arg}: Art-Net Port-Address {} out of range 0..{ARTNET_MAX_PORT_ADDRESS}",
                            u.wire
                        ),
                    );
                }
                Protocol::Ddp if u64::from(u.wire) + self.slots as u64 > u64::from(u32::MAX) => {
                    return invalid(&arg, format!("{arg}: DDP byte offset {} too large", u.wire));
                }
                _ => {}
            }
            wires.push((u.wire, i));
        }
        wires.sort_unstable();
        for pair in wires.windows(2) {
            let ((a, ia), (b, ib)) = (pair[0], pair[1]);
            let clash = match proto {
                Protocol::Ddp => u64::from(a) + self.slots as u64 > u64::from(b),
                _ => a == b,
            };
            if clash {
                let (first, second) = (ia.min(ib), ia.max(ib));
                let arg = format!("universes[{second}]");
                let message = match proto {
                    Protocol::Sacn => {
                        format!("{arg}: sACN universe {b} is already sent by universes[{first}]")
                    }
                    Protocol::ArtNet => format!(
                        "{arg}: Art-Net Port-Address {b} is already sent by universes[{first}]"
                    ),
                    Protocol::Ddp => format!(
                        "{arg}: DDP bytes overlap universes[{first}] (offsets {a} and {b}, \
                         {} slots each)",
                        self.slots
                    ),
                    Protocol::EnttecPro | Protocol::OpenDmx => unreachable!("rejected above"),
                };
                return invalid(&arg, message);
            }
        }
        for (i, d) in self.destinations.iter().enumerate() {
            if d.ip().is_unspecified() || d.port() == 0 {
                return invalid(
                    &format!("destinations[{i}]"),
                    format!("destinations[{i}]: {d} is not a destination address"),
                );
            }
        }
        if self.broadcast && proto != Protocol::ArtNet {
            return invalid(
                "broadcast",
                format!("broadcast is only for artnet (protocol is {proto})"),
            );
        }
        if self.destinations.is_empty() && !(proto == Protocol::Sacn || self.broadcast) {
            let hint = match proto {
                Protocol::ArtNet => " (or broadcast=True)",
                _ => "",
            };
            return invalid(
                "destinations",
                format!("destinations must not be empty for {proto}{hint}"),
            );
        }
        if self.priority > SACN_MAX_PRIORITY {
            return invalid(
                "priority",
                format!(
                    "priority must be between 0 and {SACN_MAX_PRIORITY} (got {})",
                    self.priority
                ),
            );
        }
        if self.source_name.len() > SACN_SOURCE_NAME_MAX || self.source_name.contains('\0') {
            return invalid(
                "source_name",
                format!(
                    "source_name must be at most {SACN_SOURCE_NAME_MAX} UTF-8 bytes without NUL \
                     (got {} bytes)",
                    self.source_name.len()
                ),
            );
        }
        match proto {
            Protocol::Sacn if u32::from(self.sync_address) > SACN_MAX_UNIVERSE => {
                return invalid(
                    "sync_address",
                    format!(
                        "sync_address must be 0 (no sync) or a universe 1..{SACN_MAX_UNIVERSE} \
                         (got {})",
                        self.sync_address
                    ),
                );
            }
            Protocol::Ddp if self.sync_address != 0 => {
                return invalid(
                    "sync_address",
                    "sync_address must be 0 for ddp (the push flag synchronizes)".into(),
                );
            }
            _ => {}
        }
        if let Some(rate) = self.rate_hz {
            if !(rate.is_finite() && rate >= crate::MIN_RATE_HZ) {
                return invalid(
                    "rate_hz",
                    format!(
                        "rate_hz must be None or at least {} Hz (got {rate:?})",
                        crate::MIN_RATE_HZ
                    ),
                );
            }
        }
        let max_keepalive = if proto == Protocol::Sacn {
            MAX_SACN_KEEPALIVE_S
        } else {
            MAX_KEEPALIVE_S
        };
        if !(self.keepalive_s.is_finite()
            && (MIN_KEEPALIVE_S..=max_keepalive).contains(&self.keepalive_s))
        {
            return invalid(
                "keepalive_s",
                format!(
                    "keepalive_s must be between {MIN_KEEPALIVE_S} and {max_keepalive} s for \
                     {proto} (got {:?})",
                    self.keepalive_s
                ),
            );
        }
        if let Some(name) = &self.interface {
            if name.is_empty()
                || name.len() > MAX_INTERFACE_NAME
                || name
                    .bytes()
                    .any(|b| b == 0 || b == b'/' || b.is_ascii_whitespace())
            {
                return invalid(
                    "interface",
                    format!(
                        "interface must be a network interface name of 1..{MAX_INTERFACE_NAME} \
                         bytes without '/', NUL or spaces (got {name:?})"
                    ),
                );
            }
        }
        if self.pace_us > MAX_PACE_US {
            return invalid(
                "pace_us",
                format!(
                    "pace_us must be between 0 and {MAX_PACE_US} (got {})",
                    self.pace_us
                ),
            );
        }
        if (self.pace_every == 0) != (self.pace_us == 0) {
            return invalid(
                if self.pace_every == 0 {
                    "pace_every"
                } else {
                    "pace_us"
                },
                "pace_every and pace_us must both be 0 (no pacing) or both positive".into(),
            );
        }
        // All pauses of a full frame must fit in half a clock period, or pacing alone would
        // make the clock miss deadlines.
        let packets = self.packets_per_frame();
        if let Some(pauses) = packets.saturating_sub(1).checked_div(self.pace_every) {
            let total_us = pauses as f64 * f64::from(self.pace_us);
            let budget_us = 0.5e6 / clock_rate_hz;
            if total_us > budget_us {
                return invalid(
                    "pace_us",
                    format!(
                        "pacing needs {pauses} pauses of {} µs = {:.1} ms per frame for {packets} \
                         packets, more than half the clock period ({:.1} ms); raise pace_every \
                         or lower pace_us",
                        self.pace_us,
                        total_us / 1000.0,
                        budget_us / 1000.0
                    ),
                );
            }
        }
        Ok(())
    }

    /// Destinations that receive every data packet (empty for sACN multicast).
    pub(crate) fn effective_destinations(&self) -> Vec<SocketAddrV4> {
        if self.destinations.is_empty() && self.broadcast {
            vec![SocketAddrV4::new(Ipv4Addr::BROADCAST, ARTNET_PORT)]
        } else {
            self.destinations.clone()
        }
    }

    /// Data packets of one full frame (before fan-out to destinations).
    pub(crate) fn data_packets(&self) -> usize {
        match self.protocol {
            Protocol::Ddp => self.ddp_packets().len(),
            _ => self.universes.len(),
        }
    }

    /// Datagrams of one full frame, sync included.
    pub fn packets_per_frame(&self) -> usize {
        let dests = self.effective_destinations().len();
        let data = self.data_packets() * dests.max(1);
        let sync = match (self.protocol, self.sync_address) {
            (_, 0) | (Protocol::Ddp, _) => 0,
            _ => dests.max(1),
        };
        data + sync
    }

    /// DDP: (device byte offset, frame byte offset) of each universe, sorted by device offset.
    pub(crate) fn ddp_segments(&self) -> Vec<(u32, usize)> {
        let mut segs: Vec<(u32, usize)> = self
            .universes
            .iter()
            .map(|u| (u.wire, u.frame_index * UNIVERSE_BYTES))
            .collect();
        segs.sort_unstable();
        segs
    }
}

/// One DDP packet: device offset, length, and the frame → packet copies that fill it
/// (frame offset, offset in the packet's data, length).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct DdpChunk {
    pub offset: u32,
    pub len: usize,
    pub copies: Vec<(usize, usize, usize)>,
}

/// Split the device buffer described by `segments` (device offset, frame offset; each `slots`
/// bytes long, sorted by device offset, not overlapping) into packets: contiguous runs are cut
/// into packets of at most 1440 bytes, and a packet never spans a gap in the device buffer.
pub(crate) fn ddp_chunks_with(segments: &[(u32, usize)], slots: usize) -> Vec<DdpChunk> {
    use super::packets::DDP_MAX_DATA;
    let mut chunks: Vec<DdpChunk> = Vec::new();
    let mut run_end: Option<u64> = None;
    for &(dev, frame) in segments {
        let dev = u64::from(dev);
        if run_end != Some(dev) {
            chunks.push(DdpChunk {
                offset: dev as u32,
                len: 0,
                copies: Vec::new(),
            });
        }
        // Feed this segment into the current chunk, opening new chunks at 1440 bytes.
        let mut done = 0;
        while done < slots {
            let full = chunks.last().is_some_and(|c| c.len == DDP_MAX_DATA);
            if full {
                let start = dev + done as u64;
                chunks.push(DdpChunk {
                    offset: start as u32,
                    len: 0,
                    copies: Vec::new(),
                });
            }
            let chunk = chunks.last_mut().expect("a chunk is open");
            let take = (DDP_MAX_DATA - chunk.len).min(slots - done);
            chunk.copies.push((frame + done, chunk.len, take));
            chunk.len += take;
            done += take;
        }
        run_end = Some(dev + slots as u64);
    }
    chunks
}

impl OutputConfig {
    pub(crate) fn ddp_packets(&self) -> Vec<DdpChunk> {
        ddp_chunks_with(&self.ddp_segments(), self.slots)
    }
}

/// Parse "ip" or "ip:port" (IPv4) with `default_port`; `arg` names the argument in errors.
pub fn parse_destination(
    arg: &str,
    text: &str,
    default_port: u16,
) -> Result<SocketAddrV4, OutputError> {
    let bad = || {
        OutputError::invalid(
            arg,
            format!("{arg}: {text:?} is not an IPv4 address \"a.b.c.d\" or \"a.b.c.d:port\""),
        )
    };
    let (ip, port) = match text.split_once(':') {
        Some((ip, port)) => {
            let port: u16 = port.parse().map_err(|_| bad())?;
            (ip, port)
        }
        None => (text, default_port),
    };
    let ip: Ipv4Addr = ip.parse().map_err(|_| bad())?;
    Ok(SocketAddrV4::new(ip, port))
}

/// Why an output could not be created.
#[derive(Debug)]
pub enum OutputError {
    /// A configuration value is invalid; `arg` names it, the message says why.
    Invalid { arg: String, message: String },
    /// The OS refused to create or set up the socket.
    Socket {
        what: String,
        source: std::io::Error,
    },
    /// Outputs can only be added before the clock starts.
    AfterStart,
}

impl OutputError {
    pub fn invalid(arg: &str, message: String) -> Self {
        OutputError::Invalid {
            arg: arg.to_owned(),
            message,
        }
    }

    pub fn is_invalid_argument(&self) -> bool {
        matches!(self, OutputError::Invalid { .. })
    }
}

impl fmt::Display for OutputError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            OutputError::Invalid { message, .. } => f.write_str(message),
            OutputError::Socket { what, source } => write!(f, "{what}: {source}"),
            OutputError::AfterStart => f.write_str("outputs must be added before start()"),
        }
    }
}

impl std::error::Error for OutputError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            OutputError::Socket { source, .. } => Some(source),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn uni(pairs: &[(usize, u32)]) -> Vec<UniverseMap> {
        pairs
            .iter()
            .map(|&(frame_index, wire)| UniverseMap { frame_index, wire })
            .collect()
    }

    fn check(cfg: &OutputConfig) -> Result<(), String> {
        cfg.validate(4 * 512, 44.0).map_err(|e| e.to_string())
    }

    #[test]
    fn defaults_are_valid_for_sacn_multicast() {
        let cfg = OutputConfig::new(Protocol::Sacn, uni(&[(0, 1), (3, 300)]));
        check(&cfg).unwrap();
        assert_eq!(cfg.packets_per_frame(), 2);
    }

    #[test]
    fn invalid_values_name_the_argument() {
        let base = OutputConfig::new(Protocol::Sacn, uni(&[(0, 1), (1, 2)]));
        type Mutation = Box<dyn Fn(&mut OutputConfig)>;
        let cases: Vec<(Mutation, &str)> = vec![
            (
                Box::new(|c| c.universes.clear()),
                "universes must not be empty",
            ),
            (
                Box::new(|c| c.universes[1].frame_index = 4),
                "universes[1]: frame index 4",
            ),
            (
                Box::new(|c| c.universes[0].wire = 0),
                "universes[0]: sACN universe 0",
            ),
            (
                Box::new(|c| c.universes[1].wire = 64000),
                "universes[1]: sACN universe 64000",
            ),
            (
                Box::new(|c| c.universes[1].wire = 1),
                "universes[1]: sACN universe 1 is already sent by universes[0]",
            ),
            (
                Box::new(|c| c.priority = 201),
                "priority must be between 0 and 200",
            ),
            (
                Box::new(|c| c.source_name = "é".repeat(32)),
                "source_name must be at most 63",
            ),
            (
                Box::new(|c| c.sync_address = 64000),
                "sync_address must be 0",
            ),
            (
                Box::new(|c| c.rate_hz = Some(0.5)),
                "rate_hz must be None or at least 1",
            ),
            (
                Box::new(|c| c.rate_hz = Some(f64::NAN)),
                "rate_hz must be None",
            ),
            (
                Box::new(|c| c.keepalive_s = 2.5),
                "keepalive_s must be between 0.01 and 2 s for sacn",
            ),
            (Box::new(|c| c.keepalive_s = 0.0), "keepalive_s"),
            (
                Box::new(|c| c.broadcast = true),
                "broadcast is only for artnet",
            ),
            (
                Box::new(|c| c.interface = Some("a-very-long-interface".into())),
                "interface must be",
            ),
            (
                Box::new(|c| c.interface = Some(String::new())),
                "interface must be",
            ),
            (Box::new(|c| c.slots = 0), "slots must be between 1 and 512"),
            (
                Box::new(|c| c.slots = 513),
                "slots must be between 1 and 512",
            ),
            (
                Box::new(|c| c.pace_every = 2),
                "pace_every and pace_us must both be",
            ),
            (
                Box::new(|c| c.pace_us = 200_000),
                "pace_us must be between 0 and 100000",
            ),
            (
                Box::new(|c| c.destinations = vec![SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, 5568)]),
                "destinations[0]",
            ),
        ];
        for (mutate, expected) in cases {
            let mut cfg = base.clone();
            mutate(&mut cfg);
            let err = check(&cfg).expect_err(expected);
            assert!(
                err.contains(expected),
                "{err:?} does not contain {expected:?}"
            );
        }
    }

    #[test]
    fn protocol_specific_rules() {
        let mut art = OutputConfig::new(Protocol::ArtNet, uni(&[(0, 0x7FFF)]));
        assert!(check(&art)
            .unwrap_err()
            .contains("destinations must not be empty for artnet (or broadcast=True)"));
        art.broadcast = true;
        check(&art).unwrap();
        assert_eq!(
            art.effective_destinations(),
            vec!["255.255.255.255:6454".parse().unwrap()]
        );
        art.universes[0].wire = 0x8000;
        assert!(check(&art)
            .unwrap_err()
            .contains("Port-Address 32768 out of range"));
        art.universes[0].wire = 0;
        art.keepalive_s = 4.0; // Art-Net allows up to 4 s
        check(&art).unwrap();

        let mut ddp = OutputConfig::new(Protocol::Ddp, uni(&[(0, 0), (1, 510)]));
        ddp.destinations = vec!["127.0.0.1:4048".parse().unwrap()];
        ddp.slots = 510;
        check(&ddp).unwrap();
        ddp.universes[1].wire = 509;
        assert!(check(&ddp).unwrap_err().contains(
            "universes[1]: DDP bytes overlap universes[0] (offsets 0 and 509, 510 slots each)"
        ));
        ddp.universes[1].wire = 510;
        ddp.sync_address = 1;
        assert!(check(&ddp)
            .unwrap_err()
            .contains("sync_address must be 0 for ddp"));
    }

    #[test]
    fn pacing_must_fit_in_half_a_period() {
        let pairs: Vec<(usize, u32)> = (0..4).map(|i| (i, i as u32 + 1)).collect();
        let mut cfg = OutputConfig::new(Protocol::Sacn, uni(&pairs));
        cfg.pace_every = 1;
        cfg.pace_us = 3_000; // 3 pauses × 3 ms = 9 ms ≤ 11.4 ms
        check(&cfg).unwrap();
        cfg.pace_us = 4_000; // 12 ms > 11.4 ms
        let err = check(&cfg).unwrap_err();
        assert!(err.starts_with("pacing needs 3 pauses of 4000 µs"), "{err}");
    }

    #[test]
    fn destination_parsing() {
        assert_eq!(
            parse_destination("destinations[0]", "10.0.0.5", 6454).unwrap(),
            "10.0.0.5:6454".parse().unwrap()
        );
        assert_eq!(
            parse_destination("destinations[0]", "10.0.0.5:7000", 6454).unwrap(),
            "10.0.0.5:7000".parse().unwrap()
        );
        for bad in ["", "10.0.0", "host:1", "10.0.0.5:", "10.0.0.5:70000", "::1"] {
            let e = parse_destination("destinations[2]", bad, 1).unwrap_err();
            assert!(e.to_string().starts_with("destinations[2]: "), "{e}");
        }
    }

    #[test]
    fn ddp_chunks_cut_runs_at_1440_and_at_gaps() {
        // Three contiguous 510-byte universes (1530 bytes) then a gap, then one more.
        let segs = [(0u32, 0usize), (510, 512), (1020, 1024), (5000, 1536)];
        let chunks = ddp_chunks_with(&segs, 510);
        let summary: Vec<(u32, usize)> = chunks.iter().map(|c| (c.offset, c.len)).collect();
        assert_eq!(summary, vec![(0, 1440), (1440, 90), (5000, 510)]);
        assert_eq!(
            chunks[0].copies,
            vec![(0, 0, 510), (512, 510, 510), (1024, 1020, 420)]
        );
        assert_eq!(chunks[1].copies, vec![(1024 + 420, 0, 90)]);
        assert_eq!(chunks[2].copies, vec![(1536, 0, 510)]);
    }
}
