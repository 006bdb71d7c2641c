//! The CMSV6 "$$dc" MDVR protocol (vehicle camera recorders): framing, typed messages and the
//! server's messages. The wire format and every rule here come from
//! `shared/reference/mdvr-protocol.md` (§ numbers below refer to it). Sans-IO: bytes in,
//! frames and messages out; parameters in, bytes out. No sockets, no clock, no Python.
//!
//! * [`framer`]: the incremental stream engine (carry buffer, garbage and rejection counters)
//!   and the signaling scanner (`$$dc` + 4 ASCII digits + … + `#`, §2.2).
//! * [`media`]: the media-channel scanner (text registrations, then the binary `$$$$$$dc` "M1"
//!   or `@@$$dc` "M2" envelopes, §5.2) and the typed view of a binary packet (§5.3). Frames and
//!   payloads are slices of the bytes fed in, never copies, unless a frame straddles two feeds.
//! * [`signaling`]: typed parsing of a text frame (header, `[Position and Status]` block in
//!   both firmware variants, every message of §4); unknown keywords pass through raw.
//! * [`fields`]: the token grammar (numbers, coordinates, hex flags, channel masks) that the
//!   Python reference parser implements identically, so the two can be compared exactly.
//! * [`builders`]: the server's messages (C100 variants, C500, C501, C505, C508, C517, C702,
//!   C150 and the binary 0x6000 / 0x6002 / 0x6005), byte-exact with the reference's captures.
//!
//! Robustness rules (§9 "Malformed input"): nothing here panics on any input (input-derived
//! indexing goes through `get`, lengths through checked arithmetic; the lints below enforce
//! it), a bad frame is counted and resynchronised past, never buffered without bound, and a
//! field that does not parse becomes "absent" instead of failing the message.
#![deny(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::unreachable,
    clippy::todo
)]

pub mod builders;
pub mod fields;
pub mod framer;
pub mod media;
pub mod signaling;

pub use builders::{BuildError, Route};
pub use framer::{FrameKind, FramerStats, SignalingFramer, SignalingScanner, StreamFramer};
pub use media::{Envelope, MediaBody, MediaFramer, MediaPacket, MediaScanner, VideoCodec};
pub use signaling::{parse_message, Channel, Fields, Header, Message, Position};

/// Start marker of every text frame (both directions, both channels).
pub const TEXT_MAGIC: &[u8; 4] = b"$$dc";
/// Start marker of a binary "M1" media packet (§5.2).
pub const M1_MAGIC: &[u8; 8] = b"$$$$$$dc";
/// Start marker of an "M2" media packet, and of a prefixed text frame on the media channel.
pub const M2_MAGIC: &[u8; 6] = b"@@$$dc";
/// End marker of a binary media packet.
pub const MEDIA_TAIL: &[u8; 4] = b"####";
/// End marker of a text frame.
pub const TEXT_TAIL: u8 = b'#';
/// Largest text frame: `$$dc` + 4 digits (≤ 9999) + body + `#` (§2.2 item 6).
pub const MAX_TEXT_FRAME: usize = 9999 + 9;
/// Default cap on a binary packet's payload (§5.3: I-frames reach hundreds of KB; the SDK's
/// largest frame buffer is 19.2 MB, but 8 MiB is the documented cap for one packet).
pub const DEFAULT_MAX_MEDIA_PAYLOAD: usize = 8 << 20;
/// Binary sub-header after the length: u16 opcode, u16 serial, u32 time (little-endian).
pub const MEDIA_SUBHEADER: usize = 8;
/// Opcodes accepted in a binary packet (§5.2: "validate the opcode is in the 0x60xx–0x66xx
/// set"); anything else is a framing error, which is what resynchronises on a false magic.
pub const MEDIA_OPCODES: std::ops::RangeInclusive<u16> = 0x6000..=0x66FF;

/// Media opcodes the server sends or the gateway interprets (§5.3).
pub mod opcode {
    /// Registration feedback (C→D): u32 result, u32 reason.
    pub const FEEDBACK: u16 = 0x6000;
    /// Old-style real-time frame (D→C).
    pub const LEGACY_FRAME: u16 = 0x6001;
    /// Request an I-frame now (C→D, empty).
    pub const REQUEST_IFRAME: u16 = 0x6002;
    /// Heartbeat (both directions, empty).
    pub const HEARTBEAT: u16 = 0x6005;
    /// Video I-frame: u64 timestamp (µs) + Annex-B access unit.
    pub const I_FRAME: u16 = 0x6011;
    /// Video P-frame.
    pub const P_FRAME: u16 = 0x6012;
    /// Audio frame.
    pub const AUDIO_FRAME: u16 = 0x6013;
    /// Info frame (TTX state block).
    pub const INFO_FRAME: u16 = 0x6014;
    /// Record search result.
    pub const SEARCH_RESULT: u16 = 0x6101;
    /// File data block: u32 offset, u32 length, data.
    pub const FILE_DATA: u16 = 0x6102;
    /// Download control.
    pub const DOWNLOAD_CONTROL: u16 = 0x6103;
    /// File receive report.
    pub const FILE_REPORT: u16 = 0x6104;
    /// Session end (empty).
    pub const SESSION_END: u16 = 0x6105;
}

/// Reasons of a failed 0x6000 registration feedback (§5.1 item 4).
pub mod feedback_reason {
    /// The center does not respond.
    pub const CENTER_NOT_RESPONDING: u32 = 0x1001;
    /// Unknown device ID (or session): used to refuse unsolicited media connections (§9).
    pub const BAD_DEVICE_ID: u32 = 0x1002;
}

/// Reasons of a failed V101 registration in a C100 reply (§4.1).
pub mod registration_failure {
    pub const BAD_FORMAT: u32 = 1;
    pub const UNKNOWN_DEVICE: u32 = 2;
    pub const SERVER_ADDRESS_MISMATCH: u32 = 3;
    pub const DEVICE_TYPE_UNSUPPORTED: u32 = 4;
    pub const PROTOCOL_VERSION_INCOMPATIBLE: u32 = 5;
}
