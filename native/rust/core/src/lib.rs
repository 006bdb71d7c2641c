//! Trocadero's native output path, without any Python: the frame clock that puts frames on
//! the wire at absolute deadlines, the network senders it drives (sACN, Art-Net, DDP; see
//! [`output`]; the Enttec Pro serial writer too), the triple buffer the renderers publish
//! into, and the lock-free lateness histogram the control plane reads. [`emergency`] is the
//! latch the output thread applies itself, [`render`] the native render plan (the thread
//! that draws every frame without Python), [`mdvr`] the MDVR gateway's protocol core
//! (framing, messages, builders). `trocadero-py` wraps this crate.

pub mod clock;
pub mod emergency;
pub mod histogram;
pub mod mdvr;
pub mod output;
pub mod render;
pub mod timebase;
pub mod triple_buffer;
pub mod wire_gate;

pub use clock::{FrameClock, Stats};
pub use emergency::EmergencyStats;
pub use histogram::Histogram;
pub use output::{OpenDmxConfig, OpenDmxSink, SerialConfig, SerialKind, SerialOutput};
pub use output::{
    OutputConfig, OutputError, OutputHandle, OutputState, OutputStats, Protocol, UdpOutput,
    UniverseMap,
};
pub use timebase::{ClockConfig, FrameSink};
pub use triple_buffer::{triple_buffer, Consumer, Producer};
pub use wire_gate::{WireGate, WireGateStats, WireRole};

use std::fmt;

/// Lowest and highest frame rates the clock accepts. Below 1 Hz a receiver's data-loss timeout
/// (sACN: 2.5 s) would trip; above 1 kHz the period nears scheduler granularity.
pub const MIN_RATE_HZ: f64 = 1.0;
pub const MAX_RATE_HZ: f64 = 1000.0;
/// Upper bound on `frame_bytes` (3 slots are allocated): 64 MiB is > 130 000 DMX universes, so
/// anything larger is a units mistake, better reported than turned into a 3×N allocation.
pub const MAX_FRAME_BYTES: usize = 64 << 20;
/// SCHED_FIFO priorities on Linux are 1..=99; 0 means "don't ask for real-time scheduling".
pub const MAX_REALTIME_PRIORITY: i32 = 99;

/// Everything the clock API can refuse. Messages name the offending value so they can be
/// surfaced to an operator unchanged (the Python binding maps them to ValueError/RuntimeError).
#[derive(Debug)]
pub enum Error {
    /// Rate not finite or outside [`MIN_RATE_HZ`]..=[`MAX_RATE_HZ`].
    InvalidRate(f64),
    /// `frame_bytes` is 0 or above [`MAX_FRAME_BYTES`].
    InvalidFrameBytes(usize),
    /// `realtime_priority` outside 0..=[`MAX_REALTIME_PRIORITY`].
    InvalidPriority(i32),
    /// A published frame does not have the configured length.
    FrameLength { expected: usize, got: usize },
    /// `start()` on a clock that was already started (a clock runs at most once).
    AlreadyStarted,
    /// `add_sink()` after `start()`: the sinks belong to the output thread by then.
    SinkAfterStart,
    /// The OS refused to create the output thread.
    Spawn(std::io::Error),
    /// An emergency overlay frame does not have the configured length.
    EmergencyFrameLength { expected: usize, got: usize },
    /// Emergency overlay range number `index` is not `0 <= start < end <= frame_bytes`
    /// (i128: the binding reports negative Python ints with the same message).
    EmergencyRange {
        index: usize,
        start: i128,
        end: i128,
        frame_bytes: usize,
    },
    /// An emergency input path containing a NUL byte (cannot be opened).
    EmergencyInputPath(std::path::PathBuf),
}

impl Error {
    /// True for errors caused by a bad argument value (the binding raises ValueError for
    /// these and RuntimeError for the rest).
    pub fn is_invalid_argument(&self) -> bool {
        matches!(
            self,
            Error::InvalidRate(_)
                | Error::InvalidFrameBytes(_)
                | Error::InvalidPriority(_)
                | Error::FrameLength { .. }
                | Error::EmergencyFrameLength { .. }
                | Error::EmergencyRange { .. }
                | Error::EmergencyInputPath(_)
        )
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            // Bounds via Display ("1", "1000"); the value via Debug so 0.0 prints as "0.0"
            // like Python's repr (Display would print "0").
            Error::InvalidRate(r) => write!(
                f,
                "rate_hz must be between {MIN_RATE_HZ} and {MAX_RATE_HZ} Hz (got {r:?})"
            ),
            Error::InvalidFrameBytes(n) => write!(
                f,
                "frame_bytes must be between 1 and {MAX_FRAME_BYTES} (got {n})"
            ),
            Error::InvalidPriority(p) => write!(
                f,
                "realtime_priority must be 0 (no SCHED_FIFO) or 1..={MAX_REALTIME_PRIORITY} (got {p})"
            ),
            Error::FrameLength { expected, got } => write!(
                f,
                "frame has {got} bytes but the clock was configured for frame_bytes={expected}"
            ),
            Error::AlreadyStarted => {
                f.write_str("clock already started (a FrameClock can be started only once)")
            }
            Error::SinkAfterStart => f.write_str("sinks must be added before start()"),
            Error::Spawn(e) => write!(f, "could not spawn the output thread: {e}"),
            Error::EmergencyFrameLength { expected, got } => write!(
                f,
                "emergency frame has {got} bytes but the clock was configured for \
                 frame_bytes={expected}"
            ),
            Error::EmergencyRange {
                index,
                start,
                end,
                frame_bytes,
            } => write!(
                f,
                "emergency ranges[{index}] = ({start}, {end}) must satisfy \
                 0 <= start < end <= frame_bytes ({frame_bytes})"
            ),
            Error::EmergencyInputPath(p) => {
                write!(f, "emergency input path {p:?} contains a NUL byte")
            }
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Spawn(e) => Some(e),
            _ => None,
        }
    }
}
