//! Network outputs: sACN (E1.31), Art-Net (ArtDmx + ArtSync) and DDP senders that run on the
//! clock's output thread as [`FrameSink`]s.
//!
//! # Theory of operation
//!
//! At configuration ([`UdpOutput::new`]) every datagram a frame can need is written once into
//! one buffer: a complete packet template per universe (DDP: per 1440-byte chunk) and the sync
//! packet, each at a fixed offset, plus the socket addresses of the destinations. A frame then
//! costs, per packet: a `memcpy` of the slot data from the frame (with `send_on_change`, a
//! compare first), one sequence byte, and one `mmsghdr`; the whole frame goes to the kernel in
//! `sendmmsg` batches of up to 1024 datagrams, data packets first and the sync packet last.
//!
//! The socket is non-blocking and the output never waits on the network: a full send buffer
//! (EAGAIN/ENOBUFS) drops the rest of the frame (`drops`); an error for one destination
//! (ENETUNREACH, EHOSTUNREACH, EPERM, EINVAL for a source address that is not up…) drops that
//! destination's remaining packets for this frame (`send_errors`) and the others go on. Every
//! frame tries again, so an output recovers by itself; its [`OutputState`] and a state-change
//! counter let the control plane log once per change. With `send_on_change`, dropped packets
//! are resent on the next frame; a destination that failed catches up at the next keep-alive.
//!
//! Runs of equal-size datagrams to one destination (every universe of a unicast sACN or
//! Art-Net output) are handed over as UDP GSO messages (`UDP_SEGMENT`, up to 64 datagrams
//! each): the kernel cuts them into the very same datagrams for a fraction of the per-datagram
//! cost. Where the kernel or the route refuses GSO, the output falls back to one message per
//! datagram by itself.
//!
//! Sequence numbers are kept per universe (sACN 0..255, Art-Net 1..255) and per output for DDP
//! (1..15, one per frame) and for the sACN sync address.

pub mod config;
pub mod opendmx;
pub mod packets;
pub mod serial;
mod socket;

pub use config::{
    parse_destination, OutputConfig, OutputError, Protocol, UniverseMap, UNIVERSE_BYTES,
};
pub use opendmx::{OpenDmxConfig, OpenDmxSink};
pub use serial::{SerialConfig, SerialKind, SerialOutput};

use crate::timebase::{ClockConfig, FrameSink, Schedule};
use packets::*;
use socket::{SetupError, SocketOptions, MAX_BATCH};
use std::net::{Ipv4Addr, SocketAddrV4};
use std::ops::Range;
use std::os::fd::{AsRawFd, OwnedFd};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError, TryLockError};

/// `last_sent_ns` of a packet that was never sent.
const NEVER: u64 = u64::MAX;
/// After a change, an unchanged universe is sent this many more times before falling back to
/// the keep-alive interval (E1.31 §6.6.1).
const REPEATS_AFTER_CHANGE: u8 = 3;
/// Stream-terminated packets per universe on stop (E1.31 §6.2.6).
pub const TERMINATE_PACKETS: usize = 3;
/// A missing interface is looked for again at this interval.
const INTERFACE_RETRY_NS: u64 = 1_000_000_000;
/// After this many consecutive failed messages in a frame, the rest of the frame is given up
/// (e.g. sACN multicast with no route: one error per universe group otherwise).
const GIVE_UP_AFTER_ERRORS: usize = 8;
/// How long `terminate()` may wait for socket buffer space (it runs once, at stop).
const TERMINATE_PATIENCE_NS: u64 = 250_000_000;

/// Health of an output as the control plane shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutputState {
    Healthy,
    /// The last frame (or interface lookup) failed; `OutputStats::last_error` says why.
    Failing,
}

impl OutputState {
    pub fn name(self) -> &'static str {
        match self {
            OutputState::Healthy => "healthy",
            OutputState::Failing => "failing",
        }
    }
}

/// A point-in-time copy of an output's counters (each read atomically, not all at once).
#[derive(Debug, Clone, PartialEq)]
pub struct OutputStats {
    pub protocol: Protocol,
    /// Universes configured (DDP: universes feeding the device buffer).
    pub universes: usize,
    /// Datagrams of a full frame (data to every destination, plus sync).
    pub packets_per_frame: usize,
    /// Datagrams the kernel accepted, and their UDP payload bytes.
    pub packets_sent: u64,
    pub bytes_sent: u64,
    /// Frames this output handled without an error or drop (with `send_on_change`, a frame
    /// in which nothing was due counts too).
    pub frames_sent: u64,
    /// Clock frames left out to keep to `rate_hz`.
    pub frames_skipped_by_rate: u64,
    /// Datagrams not sent because of an error (the failed one and the rest of the frame for
    /// the same destination; every due datagram while the interface is missing).
    pub send_errors: u64,
    /// Datagrams not sent because the socket buffer was full (EAGAIN/ENOBUFS).
    pub drops: u64,
    pub state: OutputState,
    /// The most recent error (kept after recovery), e.g.
    /// "send to 10.0.0.9:6454 failed: Network is unreachable (os error 101)".
    pub last_error: Option<String>,
    /// Transitions healthy ↔ failing, and changes of the error while failing.
    pub state_changes: u64,
    /// Open DMX only (0 otherwise): breaks the tty refused (the frame was still written).
    pub break_errors: u64,
    /// Open DMX only (0 otherwise): DMX frames the writer skipped because it woke late.
    pub late_frames: u64,
}

struct StateCell {
    failing: bool,
    last_error: Option<String>,
    state_changes: u64,
}

/// Counters shared between the output (on the output thread) and its handles.
struct Shared {
    protocol: Protocol,
    universes: usize,
    packets_per_frame: usize,
    packets_sent: AtomicU64,
    bytes_sent: AtomicU64,
    frames_sent: AtomicU64,
    frames_skipped_by_rate: AtomicU64,
    send_errors: AtomicU64,
    drops: AtomicU64,
    break_errors: AtomicU64,
    late_frames: AtomicU64,
    /// The output thread only ever `try_lock`s this (a reader holds it for a string clone).
    state: Mutex<StateCell>,
}

impl Shared {
    /// Zeroed counters, healthy state.
    fn new(protocol: Protocol, universes: usize, packets_per_frame: usize) -> Self {
        Self {
            protocol,
            universes,
            packets_per_frame,
            packets_sent: AtomicU64::new(0),
            bytes_sent: AtomicU64::new(0),
            frames_sent: AtomicU64::new(0),
            frames_skipped_by_rate: AtomicU64::new(0),
            send_errors: AtomicU64::new(0),
            drops: AtomicU64::new(0),
            break_errors: AtomicU64::new(0),
            late_frames: AtomicU64::new(0),
            state: Mutex::new(StateCell {
                failing: false,
                last_error: None,
                state_changes: 0,
            }),
        }
    }
}

/// Reads an output's statistics from any thread while the clock runs.
#[derive(Clone)]
pub struct OutputHandle {
    shared: Arc<Shared>,
}

impl std::fmt::Debug for OutputHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OutputHandle")
            .field("protocol", &self.shared.protocol)
            .finish_non_exhaustive()
    }
}

impl OutputHandle {
    pub fn protocol(&self) -> Protocol {
        self.shared.protocol
    }

    pub fn stats(&self) -> OutputStats {
        let s = &*self.shared;
        let (failing, last_error, state_changes) = {
            let cell = s.state.lock().unwrap_or_else(PoisonError::into_inner);
            (cell.failing, cell.last_error.clone(), cell.state_changes)
        };
        OutputStats {
            protocol: s.protocol,
            universes: s.universes,
            packets_per_frame: s.packets_per_frame,
            packets_sent: s.packets_sent.load(Ordering::Relaxed),
            bytes_sent: s.bytes_sent.load(Ordering::Relaxed),
            frames_sent: s.frames_sent.load(Ordering::Relaxed),
            frames_skipped_by_rate: s.frames_skipped_by_rate.load(Ordering::Relaxed),
            send_errors: s.send_errors.load(Ordering::Relaxed),
            drops: s.drops.load(Ordering::Relaxed),
            state: if failing {
                OutputState::Failing
            } else {
                OutputState::Healthy
            },
            last_error,
            state_changes,
            break_errors: s.break_errors.load(Ordering::Relaxed),
            late_frames: s.late_frames.load(Ordering::Relaxed),
        }
    }
}

/// A state change waiting to be published to `Shared::state`. The output thread never waits
/// for the lock: if a reader holds it, the change goes out on a later frame.
#[derive(Default)]
struct PendingState {
    /// `Some(None)`: became healthy; `Some(Some(text))`: failing with `text`.
    pending: Option<Option<String>>,
    changes: u64,
}

impl PendingState {
    fn record(&mut self, error_text: Option<String>) {
        self.pending = Some(error_text);
        self.changes += 1;
    }

    fn publish(&mut self, state: &Mutex<StateCell>) {
        if self.pending.is_none() {
            return;
        }
        let mut cell = match state.try_lock() {
            Ok(cell) => cell,
            Err(TryLockError::Poisoned(p)) => p.into_inner(),
            Err(TryLockError::WouldBlock) => return,
        };
        let pending = self.pending.take().expect("checked above");
        cell.failing = pending.is_some();
        if pending.is_some() {
            cell.last_error = pending;
        }
        cell.state_changes += self.changes;
        self.changes = 0;
    }
}

/// Which clock frames an output with a maximum rate sends: frame `n` is sent when
/// `⌊n · rate_out / rate_clock⌋` moved on since the last one sent. Computed from `n` (the
/// clock's absolute deadline index), so the output keeps to `rate_out` on average forever,
/// with no drift, and a missed clock deadline never shifts the pattern.
#[derive(Debug, Clone, Copy)]
pub(crate) struct RateGate {
    out_mhz: u64,
    clock_mhz: u64,
    last_tick: Option<u64>,
}

impl RateGate {
    pub(crate) fn new(rate_hz: Option<f64>, clock: Schedule) -> Self {
        let clock_mhz = clock.rate_mhz();
        let out_mhz = rate_hz.map_or(clock_mhz, |r| ((r * 1000.0).round() as u64).min(clock_mhz));
        Self {
            out_mhz: out_mhz.max(1),
            clock_mhz,
            last_tick: None,
        }
    }

    pub(crate) fn due(&mut self, n: u64) -> bool {
        if self.out_mhz >= self.clock_mhz {
            return true;
        }
        let tick = (u128::from(n) * u128::from(self.out_mhz) / u128::from(self.clock_mhz)) as u64;
        if self.last_tick == Some(tick) {
            return false;
        }
        self.last_tick = Some(tick);
        true
    }

    /// Longest gap between two frames this gate lets through, in clock frames.
    pub(crate) fn max_gap_frames(&self) -> u64 {
        self.clock_mhz.div_ceil(self.out_mhz)
    }
}

/// One data packet of the output (a universe; for DDP a chunk of the device buffer).
#[derive(Debug, Clone)]
struct DataPacket {
    /// Offset of the packet in the output's buffer.
    off: usize,
    /// Its frame → packet copies (indices into `UdpOutput::copies`).
    copies: Range<usize>,
    /// Its destinations (indices into `UdpOutput::dest_list`).
    dests: Range<usize>,
    /// Next sequence number (sACN, Art-Net).
    seq: u8,
    /// Frame time (ns from the clock epoch) of the last send, or [`NEVER`].
    last_sent_ns: u64,
    /// `send_on_change`: identical resends still owed after the last change.
    repeats: u8,
    /// Dropped (socket buffer full) since its data was last copied: send on the next frame.
    dirty: bool,
}

#[derive(Debug, Clone, Copy)]
struct CopySpec {
    /// Offset in the frame, offset in the output's buffer, length.
    src: usize,
    dst: usize,
    len: usize,
}

#[derive(Debug, Clone)]
struct SyncSpec {
    /// Index of the sync packet among the packet spans.
    packet: usize,
    /// Offset of its sequence byte in the buffer (sACN), or None (ArtSync).
    seq_at: Option<usize>,
    seq: u8,
    dests: Vec<u32>,
}

/// One datagram of the frame being sent: packet span index, destination index.
#[derive(Debug, Clone, Copy)]
struct Msg {
    packet: u32,
    dest: u32,
}

/// Most datagrams one UDP GSO send carries (the kernel allows 64 on every version with GSO),
/// and its largest payload.
const GSO_MAX_SEGMENTS: usize = 64;
const GSO_MAX_BYTES: usize = 60_000;
/// Most iovecs built for one `sendmmsg` call.
const MAX_IOVS: usize = 4096;

/// Control message carrying the UDP_SEGMENT size of one GSO send (`CMSG_SPACE(2)` bytes).
#[repr(C)]
#[derive(Clone, Copy)]
struct GsoControl {
    hdr: libc::cmsghdr,
    size: u16,
    _pad: [u8; 6],
}

// SAFETY: CMSG_LEN/CMSG_SPACE are pure arithmetic on their argument.
const GSO_CMSG_LEN: usize = unsafe { libc::CMSG_LEN(2) } as usize;
// SAFETY: as above.
const GSO_CMSG_SPACE: usize = unsafe { libc::CMSG_SPACE(2) } as usize;
const _: () = assert!(std::mem::size_of::<GsoControl>() == GSO_CMSG_SPACE);
const _: () = assert!(std::mem::offset_of!(GsoControl, size) + 2 == GSO_CMSG_LEN);

/// One `mmsghdr` of a batch: `count` consecutive messages of `self.msgs` from `start`, to one
/// destination; more than one is a GSO send the kernel cuts into `count` datagrams.
#[derive(Debug, Clone, Copy, Default)]
struct Unit {
    start: usize,
    count: usize,
}

/// `sendmmsg` headers, iovecs and GSO control messages, rebuilt for every batch.
struct Scratch {
    hdrs: Vec<libc::mmsghdr>,
    iovs: Vec<libc::iovec>,
    ctrl: Vec<GsoControl>,
    units: Vec<Unit>,
}

// SAFETY: the raw pointers in `Scratch` are only meaningful during one `transmit` call, which
// rewrites them (pointing into buffers owned by the same `UdpOutput`) before the kernel reads
// them; between calls they are dead values. Nothing is shared with another thread.
unsafe impl Send for Scratch {}

impl Scratch {
    fn new() -> Self {
        // SAFETY: mmsghdr, iovec and cmsghdr are plain integers and pointers; all-zero is
        // valid (null pointers, zero lengths), and every entry is filled before use.
        let (hdr, iov, ctrl): (libc::mmsghdr, libc::iovec, GsoControl) =
            unsafe { (std::mem::zeroed(), std::mem::zeroed(), std::mem::zeroed()) };
        Self {
            hdrs: vec![hdr; MAX_BATCH],
            iovs: vec![iov; MAX_IOVS],
            ctrl: vec![ctrl; MAX_BATCH],
            units: vec![Unit::default(); MAX_BATCH],
        }
    }
}

/// Errors after which a GSO send is retried as single datagrams (the route's MTU is too small
/// for a segment, no checksum offload on a tunnel, an old kernel…).
fn is_gso_refusal(errno: i32) -> bool {
    matches!(
        errno,
        libc::EINVAL | libc::EIO | libc::EMSGSIZE | libc::ENOPROTOOPT | libc::EOPNOTSUPP
    )
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ErrorKey {
    Send { dest: u32, errno: i32 },
    Interface { errno: i32 },
}

struct Interface {
    name: String,
    bound: bool,
    last_errno: i32,
    next_retry_ns: u64,
}

#[derive(Debug, Default, Clone, Copy)]
struct Outcome {
    sent: u64,
    bytes: u64,
    errors: u64,
    drops: u64,
    first_error: Option<(u32, i32)>,
}

/// A sACN, Art-Net or DDP sender; see the module docs. Add it to a clock with
/// [`crate::FrameClock::add_output`] (or as any [`FrameSink`]).
pub struct UdpOutput {
    protocol: Protocol,
    fd: OwnedFd,
    /// Every packet, at fixed offsets.
    buf: Box<[u8]>,
    /// (offset, length) in `buf` of each data packet, then of the sync packet.
    spans: Vec<(usize, usize)>,
    packets: Vec<DataPacket>,
    copies: Vec<CopySpec>,
    dest_list: Vec<u32>,
    names: Box<[libc::sockaddr_in]>,
    addrs: Vec<SocketAddrV4>,
    sync: Option<SyncSpec>,
    /// Offset of the sequence byte within a data packet.
    seq_offset: usize,
    ddp_seq: u8,
    schedule: Schedule,
    gate: RateGate,
    send_on_change: bool,
    keepalive_ns: u64,
    /// Longest gap between two frames of this output (ns): a keep-alive is sent when waiting
    /// for the next frame would exceed `keepalive_ns`.
    max_gap_ns: u64,
    pace_every: usize,
    pace: std::time::Duration,
    bind_address: Option<Ipv4Addr>,
    broadcast: bool,
    interface: Option<Interface>,
    msgs: Vec<Msg>,
    /// Data packets chosen for the current frame, in order.
    selected: Vec<u32>,
    /// Unicast/broadcast: every data packet goes to destinations `0..n` (sent destination by
    /// destination, so each one's packets are contiguous for GSO). `None`: multicast.
    shared_dests: Option<usize>,
    /// Send runs of equal-size datagrams to one destination as one UDP GSO message.
    gso: bool,
    scratch: Scratch,
    error_key: Option<ErrorKey>,
    /// A state change not yet published (the reader held the lock): new error text or healthy.
    pending: PendingState,
    packets_per_frame: usize,
    /// Configured sACN priority (the standby sends it minus an offset).
    priority: u8,
    shared: Arc<Shared>,
}

impl std::fmt::Debug for UdpOutput {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UdpOutput")
            .field("protocol", &self.protocol)
            .field("packets", &self.packets.len())
            .field("destinations", &self.addrs)
            .finish_non_exhaustive()
    }
}

fn round_up(n: usize, to: usize) -> usize {
    n.div_ceil(to) * to
}

impl UdpOutput {
    /// Validate `config` against the clock, build every packet and open the socket.
    pub fn new(
        config: &OutputConfig,
        clock: &ClockConfig,
    ) -> Result<(UdpOutput, OutputHandle), OutputError> {
        config.validate(clock.frame_bytes, clock.rate_hz)?;
        let protocol = config.protocol;
        let slots = config.slots;
        let unicast = config.effective_destinations();

        // Destinations: the unicast/broadcast list, or (sACN multicast) one group per universe.
        let mut addrs: Vec<SocketAddrV4> = unicast.clone();
        let multicast = unicast.is_empty();
        if multicast {
            for u in &config.universes {
                addrs.push(SocketAddrV4::new(
                    sacn_multicast_group(u.wire as u16),
                    SACN_PORT,
                ));
            }
        }

        // Packet templates, in configuration order (DDP: in device-buffer order).
        let mut templates: Vec<Vec<u8>> = Vec::new();
        let mut copy_lists: Vec<Vec<CopySpec>> = Vec::new(); // dst relative to the packet
        let (seq_offset, first_seq) = match protocol {
            Protocol::Sacn => (SACN_SEQUENCE_OFFSET, 0),
            Protocol::ArtNet => (ARTNET_SEQUENCE_OFFSET, 1),
            Protocol::Ddp => (DDP_SEQUENCE_OFFSET, 1),
            Protocol::EnttecPro | Protocol::OpenDmx => {
                unreachable!("serial protocol rejected by validate")
            }
        };
        match protocol {
            Protocol::Sacn => {
                let source = SacnSource {
                    cid: &config.cid,
                    source_name: &config.source_name,
                    priority: config.priority,
                    sync_address: config.sync_address,
                };
                for u in &config.universes {
                    templates.push(sacn_data_template(&source, u.wire as u16, slots));
                    copy_lists.push(vec![CopySpec {
                        src: u.frame_index * UNIVERSE_BYTES,
                        dst: SACN_DATA_OFFSET,
                        len: slots,
                    }]);
                }
            }
            Protocol::ArtNet => {
                for u in &config.universes {
                    templates.push(artnet_dmx_template(u.wire as u16, slots));
                    copy_lists.push(vec![CopySpec {
                        src: u.frame_index * UNIVERSE_BYTES,
                        dst: ARTNET_DATA_OFFSET,
                        len: slots,
                    }]);
                }
            }
            Protocol::Ddp => {
                let chunks = config.ddp_packets();
                let last = chunks.len() - 1;
                for (i, chunk) in chunks.iter().enumerate() {
                    templates.push(ddp_template(chunk.offset, chunk.len, i == last));
                    copy_lists.push(
                        chunk
                            .copies
                            .iter()
                            .map(|&(src, dst, len)| CopySpec {
                                src,
                                dst: DDP_HEADER_SIZE + dst,
                                len,
                            })
                            .collect(),
                    );
                }
            }
            Protocol::EnttecPro | Protocol::OpenDmx => {}
        }

        // The sync packet and where it goes.
        let sync_template = match (protocol, config.sync_address) {
            (Protocol::Sacn, s) if s != 0 => Some(sacn_sync_template(&config.cid, s)),
            (Protocol::ArtNet, s) if s != 0 => Some(artnet_sync_packet()),
            _ => None,
        };
        let sync_dests: Vec<u32> = if sync_template.is_none() {
            Vec::new()
        } else if multicast {
            addrs.push(SocketAddrV4::new(
                sacn_multicast_group(config.sync_address),
                SACN_PORT,
            ));
            vec![(addrs.len() - 1) as u32]
        } else {
            (0..unicast.len() as u32).collect()
        };

        // Lay every packet out in one buffer, 64-byte aligned.
        let mut spans: Vec<(usize, usize)> = Vec::new();
        let mut total = 0;
        for t in templates.iter().chain(sync_template.iter()) {
            spans.push((total, t.len()));
            total += round_up(t.len().max(1), 64);
        }
        let mut buf = vec![0u8; total].into_boxed_slice();
        for (t, &(off, len)) in templates.iter().chain(sync_template.iter()).zip(&spans) {
            buf[off..off + len].copy_from_slice(t);
        }

        let mut dest_list: Vec<u32> = Vec::new();
        if !multicast {
            dest_list.extend(0..unicast.len() as u32);
        }
        let mut copies: Vec<CopySpec> = Vec::new();
        let mut packets: Vec<DataPacket> = Vec::with_capacity(templates.len());
        for (i, list) in copy_lists.iter().enumerate() {
            let off = spans[i].0;
            let start = copies.len();
            copies.extend(list.iter().map(|c| CopySpec {
                src: c.src,
                dst: off + c.dst,
                len: c.len,
            }));
            let dests = if multicast {
                dest_list.push(i as u32);
                dest_list.len() - 1..dest_list.len()
            } else {
                0..unicast.len()
            };
            packets.push(DataPacket {
                off,
                copies: start..copies.len(),
                dests,
                seq: first_seq,
                last_sent_ns: NEVER,
                repeats: 0,
                dirty: false,
            });
        }
        let sync = sync_template.as_ref().map(|_| SyncSpec {
            packet: templates.len(),
            seq_at: (protocol == Protocol::Sacn)
                .then(|| spans[templates.len()].0 + SACN_SYNC_SEQUENCE_OFFSET),
            seq: 0,
            dests: sync_dests,
        });

        let packets_per_frame = config.packets_per_frame();
        let opts = SocketOptions {
            bind_address: config.bind_address,
            broadcast: config.broadcast,
            multicast_ttl: config.multicast_ttl,
            unicast_ttl: config.unicast_ttl,
            // Room for two full frames of datagrams (the kernel charges ~2 KiB per datagram).
            send_buffer: (packets_per_frame * 4096).clamp(256 << 10, 64 << 20),
        };
        let setup_err = |e: SetupError| OutputError::Socket {
            what: format!("{protocol} output: {}", e.what),
            source: e.source,
        };
        let fd = socket::open(&opts).map_err(setup_err)?;
        let interface = match &config.interface {
            None => None,
            Some(name) => {
                match socket::bind_interface(fd.as_raw_fd(), name, config.bind_address) {
                    Ok(_) => Some(Interface {
                        name: name.clone(),
                        bound: true,
                        last_errno: 0,
                        next_retry_ns: 0,
                    }),
                    // Not there (yet): the output reports it as failing and looks again
                    // every second rather than refusing the configuration.
                    Err(e) if e.raw_os_error() == Some(libc::ENODEV) => Some(Interface {
                        name: name.clone(),
                        bound: false,
                        last_errno: libc::ENODEV,
                        next_retry_ns: 0,
                    }),
                    Err(source) => {
                        return Err(setup_err(SetupError {
                            what: format!("bind to interface {name:?}"),
                            source,
                        }))
                    }
                }
            }
        };

        let gso = socket::supports_gso(fd.as_raw_fd());
        let packets_len = packets.len();
        let schedule = Schedule::new(clock.rate_hz);
        let gate = RateGate::new(config.rate_hz, schedule);
        let shared = Arc::new(Shared::new(
            protocol,
            config.universes.len(),
            packets_per_frame,
        ));
        let names: Box<[libc::sockaddr_in]> = addrs.iter().map(|&a| socket::sockaddr(a)).collect();
        let output = UdpOutput {
            protocol,
            fd,
            buf,
            spans,
            packets,
            copies,
            dest_list,
            names,
            addrs,
            sync,
            seq_offset,
            ddp_seq: 1,
            schedule,
            gate,
            send_on_change: config.send_on_change,
            keepalive_ns: (config.keepalive_s * 1e9).round() as u64,
            max_gap_ns: schedule.offset_ns(gate.max_gap_frames()),
            pace_every: config.pace_every,
            pace: std::time::Duration::from_micros(u64::from(config.pace_us)),
            bind_address: config.bind_address,
            broadcast: config.broadcast,
            interface,
            msgs: Vec::with_capacity(packets_per_frame),
            selected: Vec::with_capacity(packets_len),
            shared_dests: (!multicast).then_some(unicast.len()),
            gso,
            scratch: Scratch::new(),
            error_key: None,
            pending: PendingState::default(),
            packets_per_frame,
            priority: config.priority,
            shared: Arc::clone(&shared),
        };
        Ok((output, OutputHandle { shared }))
    }

    pub fn handle(&self) -> OutputHandle {
        OutputHandle {
            shared: Arc::clone(&self.shared),
        }
    }

    /// Choose this frame's datagrams (`self.msgs`), patching data and sequence numbers in.
    /// `t` is the frame's time in ns from the clock epoch.
    fn plan(&mut self, frame: &[u8], t: u64) {
        let UdpOutput {
            protocol,
            buf,
            packets,
            copies,
            msgs,
            send_on_change,
            keepalive_ns,
            max_gap_ns,
            seq_offset,
            ddp_seq,
            selected,
            ..
        } = self;
        msgs.clear();
        selected.clear();
        for (pi, p) in packets.iter_mut().enumerate() {
            let copies = &copies[p.copies.clone()];
            let due = if *send_on_change {
                let changed = copies
                    .iter()
                    .any(|c| frame[c.src..c.src + c.len] != buf[c.dst..c.dst + c.len]);
                if changed {
                    for c in copies {
                        buf[c.dst..c.dst + c.len].copy_from_slice(&frame[c.src..c.src + c.len]);
                    }
                    p.repeats = REPEATS_AFTER_CHANGE;
                    true
                } else if p.repeats > 0 {
                    p.repeats -= 1;
                    true
                } else {
                    p.dirty
                        || p.last_sent_ns == NEVER
                        || t.saturating_sub(p.last_sent_ns) + *max_gap_ns > *keepalive_ns
                }
            } else {
                for c in copies {
                    buf[c.dst..c.dst + c.len].copy_from_slice(&frame[c.src..c.src + c.len]);
                }
                true
            };
            if !due {
                continue;
            }
            p.last_sent_ns = t;
            p.dirty = false;
            match protocol {
                Protocol::Sacn => {
                    buf[p.off + *seq_offset] = p.seq;
                    p.seq = sacn_next_sequence(p.seq);
                }
                Protocol::ArtNet => {
                    buf[p.off + *seq_offset] = p.seq;
                    p.seq = artnet_next_sequence(p.seq);
                }
                Protocol::Ddp => {
                    buf[p.off + *seq_offset] = *ddp_seq;
                    buf[p.off + DDP_FLAGS_OFFSET] = DDP_FLAG_VERSION1;
                }
                Protocol::EnttecPro | Protocol::OpenDmx => {}
            }
            selected.push(pi as u32);
        }
        let Some(&last) = selected.last() else {
            return;
        };
        if *protocol == Protocol::Ddp {
            buf[packets[last as usize].off + DDP_FLAGS_OFFSET] |= DDP_FLAG_PUSH;
            *ddp_seq = ddp_next_sequence(*ddp_seq);
        }
        self.push_msgs();
        if let Some(sync) = &mut self.sync {
            if let Some(at) = sync.seq_at {
                self.buf[at] = sync.seq;
                sync.seq = sacn_next_sequence(sync.seq);
            }
            for &d in &sync.dests {
                self.msgs.push(Msg {
                    packet: sync.packet as u32,
                    dest: d,
                });
            }
        }
    }

    /// Datagrams for the `selected` packets: unicast destination by destination (each one's
    /// packets in order, contiguous), multicast packet by packet.
    fn push_msgs(&mut self) {
        match self.shared_dests {
            Some(n) => {
                for d in 0..n as u32 {
                    self.msgs
                        .extend(self.selected.iter().map(|&packet| Msg { packet, dest: d }));
                }
            }
            None => {
                for &p in &self.selected {
                    let dests = &self.dest_list[self.packets[p as usize].dests.clone()];
                    self.msgs
                        .extend(dests.iter().map(|&dest| Msg { packet: p, dest }));
                }
            }
        }
    }

    fn mark_dirty(packets: &mut [DataPacket], msg: Msg) {
        if let Some(p) = packets.get_mut(msg.packet as usize) {
            p.dirty = true;
        }
    }

    /// Hand `self.msgs` to the kernel in `sendmmsg` batches (paced if configured). Runs of
    /// equal-size datagrams to one destination go as one UDP GSO message each (the kernel
    /// cuts them into the same datagrams, for a fraction of the per-datagram cost). Never
    /// blocks unless `patient` (stop only), and then for at most [`TERMINATE_PATIENCE_NS`].
    fn transmit(&mut self, patient: bool) -> Outcome {
        let mut out = Outcome::default();
        let fd = self.fd.as_raw_fd();
        let give_up_at = patient.then(|| crate::timebase::monotonic_ns() + TERMINATE_PATIENCE_NS);
        let base = self.buf.as_ptr();
        let names = self.names.as_ptr();
        let namelen = std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t;
        let mut i = 0;
        let mut since_pause = 0;
        let mut consecutive_errors = 0;
        // GSO refused in this frame: retrying as single datagrams. If that works, GSO stays
        // off for this output; if it fails too, the error was the path's, not GSO's.
        let mut gso = self.gso;
        let mut gso_trial = false;
        while i < self.msgs.len() {
            let budget = if self.pace_every > 0 {
                if since_pause >= self.pace_every {
                    std::thread::sleep(self.pace);
                    since_pause = 0;
                }
                self.pace_every - since_pause
            } else {
                usize::MAX
            };
            let Scratch {
                hdrs,
                iovs,
                ctrl,
                units,
            } = &mut self.scratch;
            // Group the next messages into units and fill their iovecs.
            let (mut nunits, mut j, mut niov) = (0, i, 0);
            while nunits < MAX_BATCH && j < self.msgs.len() && j - i < budget && niov < MAX_IOVS {
                let first = self.msgs[j];
                let seg = self.spans[first.packet as usize].1;
                let mut count = 1;
                if gso {
                    let limit = GSO_MAX_SEGMENTS
                        .min(GSO_MAX_BYTES / seg.max(1))
                        .min(budget - (j - i))
                        .min(self.msgs.len() - j)
                        .min(MAX_IOVS - niov);
                    while count < limit {
                        let m = self.msgs[j + count];
                        let len = self.spans[m.packet as usize].1;
                        // Same destination; every segment `seg` long but the last.
                        if m.dest != first.dest || len > seg {
                            break;
                        }
                        count += 1;
                        if len < seg {
                            break;
                        }
                    }
                }
                for k in 0..count {
                    let (off, len) = self.spans[self.msgs[j + k].packet as usize];
                    // Points into `self.buf`, which lives and is not written during the call.
                    iovs[niov + k] = libc::iovec {
                        iov_base: base.wrapping_add(off) as *mut libc::c_void,
                        iov_len: len,
                    };
                }
                units[nunits] = Unit { start: niov, count };
                if count > 1 {
                    let c = &mut ctrl[nunits];
                    c.hdr.cmsg_len = GSO_CMSG_LEN as _;
                    c.hdr.cmsg_level = libc::SOL_UDP;
                    c.hdr.cmsg_type = libc::UDP_SEGMENT;
                    c.size = seg as u16;
                }
                niov += count;
                j += count;
                nunits += 1;
            }
            let iov_ptr = iovs.as_mut_ptr();
            let ctrl_ptr = ctrl.as_mut_ptr();
            for (k, (h, u)) in hdrs.iter_mut().zip(units.iter()).take(nunits).enumerate() {
                let dest = self.msgs[i + u.start].dest as usize;
                h.msg_hdr.msg_name = names.wrapping_add(dest) as *mut libc::c_void;
                h.msg_hdr.msg_namelen = namelen;
                h.msg_hdr.msg_iov = iov_ptr.wrapping_add(u.start);
                h.msg_hdr.msg_iovlen = u.count as _;
                if u.count > 1 {
                    h.msg_hdr.msg_control = ctrl_ptr.wrapping_add(k) as *mut libc::c_void;
                    h.msg_hdr.msg_controllen = GSO_CMSG_SPACE as _;
                } else {
                    h.msg_hdr.msg_control = std::ptr::null_mut();
                    h.msg_hdr.msg_controllen = 0;
                }
                h.msg_len = 0;
            }
            match socket::sendmmsg(fd, &mut hdrs[..nunits]) {
                Ok(k) => {
                    let done: usize = units[..k].iter().map(|u| u.count).sum();
                    out.sent += done as u64;
                    out.bytes += hdrs[..k].iter().map(|h| u64::from(h.msg_len)).sum::<u64>();
                    i += done;
                    since_pause += done;
                    consecutive_errors = 0;
                    if gso_trial {
                        self.gso = false;
                        gso_trial = false;
                    }
                }
                Err(e) => {
                    let errno = e.raw_os_error().unwrap_or(0);
                    let unit = units[0];
                    match errno {
                        libc::EINTR => {}
                        libc::EAGAIN | libc::ENOBUFS => {
                            if let Some(limit) = give_up_at {
                                if crate::timebase::monotonic_ns() < limit {
                                    socket::wait_writable(fd, 20);
                                    continue;
                                }
                            }
                            out.drops += (self.msgs.len() - i) as u64;
                            for &m in &self.msgs[i..] {
                                Self::mark_dirty(&mut self.packets, m);
                            }
                            break;
                        }
                        _ if unit.count > 1 && is_gso_refusal(errno) => {
                            gso = false;
                            gso_trial = true;
                        }
                        _ => {
                            gso_trial = false;
                            let failed = self.msgs[i];
                            out.first_error.get_or_insert((failed.dest, errno));
                            // The unit's datagrams, and the rest of the frame for that
                            // destination (it would fail the same way), are not sent.
                            let mut w = i;
                            // Not marked dirty: with `send_on_change` that would resend to
                            // every other destination each frame while one stays down; the
                            // keep-alive brings a recovered destination up to date.
                            for r in i..self.msgs.len() {
                                let m = self.msgs[r];
                                if r < i + unit.count || m.dest == failed.dest {
                                    out.errors += 1;
                                } else {
                                    self.msgs[w] = m;
                                    w += 1;
                                }
                            }
                            self.msgs.truncate(w);
                            consecutive_errors += 1;
                            if consecutive_errors >= GIVE_UP_AFTER_ERRORS {
                                out.errors += (self.msgs.len() - i) as u64;
                                break;
                            }
                        }
                    }
                }
            }
        }
        out
    }

    fn account(&self, out: &Outcome) {
        let s = &*self.shared;
        s.packets_sent.fetch_add(out.sent, Ordering::Relaxed);
        s.bytes_sent.fetch_add(out.bytes, Ordering::Relaxed);
        if out.errors > 0 {
            s.send_errors.fetch_add(out.errors, Ordering::Relaxed);
        }
        if out.drops > 0 {
            s.drops.fetch_add(out.drops, Ordering::Relaxed);
        }
    }

    fn error_text(&self, key: ErrorKey) -> String {
        match key {
            ErrorKey::Interface { errno } => {
                let name = self.interface.as_ref().map_or("", |i| i.name.as_str());
                format!(
                    "interface {name:?} unavailable: {}; retrying every second",
                    std::io::Error::from_raw_os_error(errno)
                )
            }
            ErrorKey::Send { dest, errno } => {
                let addr = self.addrs[dest as usize];
                let hint = match errno {
                    libc::EINVAL | libc::EADDRNOTAVAIL | libc::ENETUNREACH => self
                        .bind_address
                        .map(|a| format!(" (is bind_address {a} configured on this host?)"))
                        .unwrap_or_default(),
                    libc::EACCES if !self.broadcast => {
                        " (a broadcast address? only artnet with broadcast=True sends there)"
                            .to_owned()
                    }
                    _ => String::new(),
                };
                format!(
                    "send to {addr} failed: {}{hint}",
                    std::io::Error::from_raw_os_error(errno)
                )
            }
        }
    }

    /// Record the state after a frame: `Some(key)` failing, `None` healthy.
    fn set_state(&mut self, key: Option<ErrorKey>) {
        if key != self.error_key {
            self.error_key = key;
            let text = key.map(|k| self.error_text(k));
            self.pending.record(text);
        }
        self.publish_state();
    }

    fn publish_state(&mut self) {
        self.pending.publish(&self.shared.state);
    }

    /// The interface is usable (looking for it again once a second while it is missing).
    fn interface_ready(&mut self, t: u64) -> bool {
        let Some(iface) = &mut self.interface else {
            return true;
        };
        if iface.bound {
            return true;
        }
        if t >= iface.next_retry_ns {
            match socket::bind_interface(self.fd.as_raw_fd(), &iface.name, self.bind_address) {
                Ok(_) => {
                    iface.bound = true;
                    return true;
                }
                Err(e) => {
                    iface.last_errno = e.raw_os_error().unwrap_or(libc::ENODEV);
                    iface.next_retry_ns = t + INTERFACE_RETRY_NS;
                }
            }
        }
        false
    }

    /// One frame at frame time `t` (ns from the clock epoch), after the rate gate.
    fn send_at(&mut self, frame: &[u8], t: u64) {
        if !self.interface_ready(t) {
            let errno = self
                .interface
                .as_ref()
                .map_or(libc::ENODEV, |i| i.last_errno);
            self.shared
                .send_errors
                .fetch_add(self.packets_per_frame as u64, Ordering::Relaxed);
            self.set_state(Some(ErrorKey::Interface { errno }));
            return;
        }
        self.plan(frame, t);
        let attempted = !self.msgs.is_empty();
        let out = self.transmit(false);
        self.account(&out);
        if out.errors == 0 && out.drops == 0 {
            self.shared.frames_sent.fetch_add(1, Ordering::Relaxed);
        }
        if let Some((dest, errno)) = out.first_error {
            if errno == libc::ENODEV {
                // The interface went away under a bound socket: bind again on the next frame
                // (its index changes when it comes back).
                if let Some(iface) = &mut self.interface {
                    iface.bound = false;
                    iface.last_errno = errno;
                    iface.next_retry_ns = 0;
                }
            }
            self.set_state(Some(ErrorKey::Send { dest, errno }));
        } else if attempted && out.drops == 0 {
            self.set_state(None);
        } else {
            self.publish_state();
        }
    }
}

impl FrameSink for UdpOutput {
    fn send(&mut self, frame: &[u8], frame_number: u64) {
        if !self.gate.due(frame_number) {
            self.shared
                .frames_skipped_by_rate
                .fetch_add(1, Ordering::Relaxed);
            return;
        }
        let t = self.schedule.offset_ns(frame_number);
        self.send_at(frame, t);
    }

    /// sACN: three stream-terminated packets per universe (E1.31 §6.2.6), carrying the last
    /// frame, so receivers release the universe at once instead of after the 2.5 s timeout.
    /// Art-Net and DDP have no such packet.
    fn terminate(&mut self, frame: &[u8]) {
        self.send_terminated(frame);
    }

    fn sends_as_standby(&self) -> bool {
        self.protocol == Protocol::Sacn
    }

    /// sACN: rewrite the priority byte of every data template.
    fn set_standby(&mut self, standby: bool, offset: u8) {
        if self.protocol != Protocol::Sacn {
            return;
        }
        let priority = if standby {
            self.priority.saturating_sub(offset)
        } else {
            self.priority
        };
        for p in &self.packets {
            self.buf[p.off + SACN_PRIORITY_OFFSET] = priority;
        }
    }

    /// A handover: the termination packets, then the templates as they were (this source
    /// goes on as the standby, which receivers see as a new, lower-priority source).
    fn stream_terminated(&mut self, frame: &[u8]) {
        self.send_terminated(frame);
        for p in &self.packets {
            self.buf[p.off + SACN_OPTIONS_OFFSET] &= !SACN_OPTION_STREAM_TERMINATED;
        }
    }
}

impl UdpOutput {
    fn send_terminated(&mut self, frame: &[u8]) {
        if self.protocol != Protocol::Sacn || self.interface.as_ref().is_some_and(|i| !i.bound) {
            return;
        }
        for p in &self.packets {
            for c in &self.copies[p.copies.clone()] {
                self.buf[c.dst..c.dst + c.len].copy_from_slice(&frame[c.src..c.src + c.len]);
            }
            self.buf[p.off + SACN_OPTIONS_OFFSET] |= SACN_OPTION_STREAM_TERMINATED;
        }
        for _ in 0..TERMINATE_PACKETS {
            self.msgs.clear();
            self.selected.clear();
            for (pi, p) in self.packets.iter_mut().enumerate() {
                self.buf[p.off + self.seq_offset] = p.seq;
                p.seq = sacn_next_sequence(p.seq);
                self.selected.push(pi as u32);
            }
            self.push_msgs();
            let out = self.transmit(true);
            self.account(&out);
        }
    }
}

#[cfg(test)]
mod tests;
