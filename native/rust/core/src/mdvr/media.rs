//! The media channel (§5): a new TCP connection per session that starts with a `$$dc` text
//! registration (V102 live, V103 download, …) and then carries binary packets.
//!
//! Two candidate binary envelopes are accepted, both little-endian (§5.2):
//!
//! ```text
//! M1: "$$$$$$dc" | u32 L | u16 opcode | u16 serial | u32 time | payload (L - 8) | "####"
//! M2: "@@$$dc"   | u32 L | u16 opcode | u16 serial | u32 time | payload (L - 8) | "####"
//! ```
//!
//! `L` counts the 8-byte sub-header and the payload. Text frames are accepted at any time, bare
//! (`$$dc0180,…#`) or with the `@@` prefix some firmware may use (`@@$$dc0180,…#`): after
//! `@@$$dc`, four ASCII digits and a comma mean text, anything else is an M2 length (four digit
//! bytes as a little-endian length would be ≥ 0x30303030, far above any payload cap, so the two
//! readings never both validate). A packet is checked as soon as its bytes arrive: `8 ≤ L ≤
//! cap + 8`, opcode in 0x6000..=0x66FF, and the `####` tail; any failure is a rejection and the
//! scan resumes one byte after the marker.

use super::framer::{find_start, text_step, FrameKind, Scanner, Step, StreamFramer};
use super::{
    opcode, DEFAULT_MAX_MEDIA_PAYLOAD, M1_MAGIC, M2_MAGIC, MEDIA_OPCODES, MEDIA_SUBHEADER,
    MEDIA_TAIL, TEXT_MAGIC,
};

/// Hard ceiling for a configured payload cap. It keeps every accepted M2 length below
/// 0x30303030 (see the module docs) and a frame's size within `u32`.
pub const MAX_MEDIA_PAYLOAD_LIMIT: usize = 256 << 20;

/// The binary envelope a packet arrived in (reply in the style the device used, §5.2).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Envelope {
    /// `$$$$$$dc` + u32 length (documented; E4's media server).
    M1,
    /// `@@$$dc` + u32 length ("new media format" of 2013; LSZ captures).
    M2,
}

impl Envelope {
    pub fn magic(self) -> &'static [u8] {
        match self {
            Envelope::M1 => M1_MAGIC,
            Envelope::M2 => M2_MAGIC,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Envelope::M1 => "M1",
            Envelope::M2 => "M2",
        }
    }

    pub fn parse(name: &str) -> Option<Self> {
        match name {
            "M1" => Some(Envelope::M1),
            "M2" => Some(Envelope::M2),
            _ => None,
        }
    }
}

/// Scanner of the media channel; `max_payload` is the per-packet payload cap.
#[derive(Clone, Copy, Debug)]
pub struct MediaScanner {
    max_payload: usize,
}

impl Default for MediaScanner {
    fn default() -> Self {
        Self {
            max_payload: DEFAULT_MAX_MEDIA_PAYLOAD,
        }
    }
}

impl MediaScanner {
    /// `None` if `max_payload` exceeds [`MAX_MEDIA_PAYLOAD_LIMIT`].
    pub fn new(max_payload: usize) -> Option<Self> {
        (max_payload <= MAX_MEDIA_PAYLOAD_LIMIT).then_some(Self { max_payload })
    }

    pub fn max_payload(&self) -> usize {
        self.max_payload
    }

    fn binary_step(&self, buf: &[u8], envelope: Envelope) -> Step {
        let m = envelope.magic().len();
        let Some(length) = read_u32(buf, m) else {
            return Step::Need(m + 4);
        };
        let length = length as usize;
        if length < MEDIA_SUBHEADER || length - MEDIA_SUBHEADER > self.max_payload {
            return Step::Reject;
        }
        let Some(op) = read_u16(buf, m + 4) else {
            return Step::Need(m + 6);
        };
        if !MEDIA_OPCODES.contains(&op) {
            return Step::Reject;
        }
        let total = m + 4 + length + MEDIA_TAIL.len();
        match buf.get(total - MEDIA_TAIL.len()..total) {
            None => Step::Need(total),
            Some(tail) if tail == MEDIA_TAIL => Step::Frame {
                len: total,
                kind: FrameKind::Binary(envelope),
            },
            Some(_) => Step::Reject,
        }
    }
}

impl Scanner for MediaScanner {
    fn step(&self, buf: &[u8]) -> Step {
        if buf.is_empty() {
            return Step::Need(1);
        }
        let start = find_start(buf, b"$@", &[M1_MAGIC, TEXT_MAGIC, M2_MAGIC]);
        if start > 0 {
            return Step::Skip(start);
        }
        if buf.starts_with(M1_MAGIC) {
            return self.binary_step(buf, Envelope::M1);
        }
        if buf.starts_with(TEXT_MAGIC) {
            return text_step(buf, 0, false);
        }
        if buf.starts_with(M2_MAGIC) {
            let m = M2_MAGIC.len();
            let looks_text = (0..5).all(|i| match buf.get(m + i) {
                Some(b) if i < 4 => b.is_ascii_digit(),
                Some(b) => *b == b',',
                None => true,
            });
            if !looks_text {
                return self.binary_step(buf, Envelope::M2);
            }
            if buf.len() < m + 5 {
                return Step::Need(m + 5);
            }
            return text_step(buf, 2, true);
        }
        Step::Need(buf.len() + 1)
    }
}

/// The media-channel framer.
pub type MediaFramer = StreamFramer<MediaScanner>;

impl MediaFramer {
    /// A framer with the default 8 MiB payload cap.
    pub fn media() -> Self {
        Self::new(MediaScanner::default())
    }
}

fn read_u16(buf: &[u8], at: usize) -> Option<u16> {
    let bytes = buf.get(at..at.checked_add(2)?)?;
    Some(u16::from_le_bytes(bytes.try_into().ok()?))
}

fn read_u32(buf: &[u8], at: usize) -> Option<u32> {
    let bytes = buf.get(at..at.checked_add(4)?)?;
    Some(u32::from_le_bytes(bytes.try_into().ok()?))
}

fn read_u64(buf: &[u8], at: usize) -> Option<u64> {
    let bytes = buf.get(at..at.checked_add(8)?)?;
    Some(u64::from_le_bytes(bytes.try_into().ok()?))
}

/// One binary packet; `payload` borrows the frame it was parsed from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MediaPacket<'a> {
    pub envelope: Envelope,
    pub opcode: u16,
    pub serial: u16,
    pub time: u32,
    pub payload: &'a [u8],
}

/// The typed view of a packet's payload (§5.3) for the opcodes the gateway consumes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MediaBody<'a> {
    /// 0x6011 I-frame, 0x6012 P-frame, 0x6013 audio, 0x6014 info: u64 timestamp (µs since the
    /// Unix epoch, UTC) then the frame (Annex-B H.264/H.265 for video).
    Frame { timestamp_us: u64, data: &'a [u8] },
    /// 0x6102 file data: u32 offset, u32 length, then the data (the end is `length == 0` at
    /// `offset == file size`). `data` is everything after the two fields; `length` is as sent.
    FileBlock {
        offset: u32,
        length: u32,
        data: &'a [u8],
    },
    /// Any other opcode, or a payload too short for its opcode's fields.
    Raw,
}

impl<'a> MediaPacket<'a> {
    /// Parse a frame the [`MediaScanner`] accepted (`FrameKind::Binary`); `None` for anything
    /// else (too short, wrong marker, inconsistent length).
    pub fn parse(envelope: Envelope, frame: &'a [u8]) -> Option<Self> {
        let m = envelope.magic().len();
        if !frame.starts_with(envelope.magic()) || !frame.ends_with(MEDIA_TAIL) {
            return None;
        }
        let length = read_u32(frame, m)? as usize;
        let payload_len = length.checked_sub(MEDIA_SUBHEADER)?;
        let payload_start = m + 4 + MEDIA_SUBHEADER;
        if frame.len() != payload_start.checked_add(payload_len)? + MEDIA_TAIL.len() {
            return None;
        }
        Some(Self {
            envelope,
            opcode: read_u16(frame, m + 4)?,
            serial: read_u16(frame, m + 6)?,
            time: read_u32(frame, m + 8)?,
            payload: frame.get(payload_start..payload_start + payload_len)?,
        })
    }

    pub fn body(&self) -> MediaBody<'a> {
        let payload = self.payload;
        match self.opcode {
            opcode::I_FRAME | opcode::P_FRAME | opcode::AUDIO_FRAME | opcode::INFO_FRAME => {
                match (read_u64(payload, 0), payload.get(8..)) {
                    (Some(timestamp_us), Some(data)) => MediaBody::Frame { timestamp_us, data },
                    _ => MediaBody::Raw,
                }
            }
            opcode::FILE_DATA => {
                match (read_u32(payload, 0), read_u32(payload, 4), payload.get(8..)) {
                    (Some(offset), Some(length), Some(data)) => MediaBody::FileBlock {
                        offset,
                        length,
                        data,
                    },
                    _ => MediaBody::Raw,
                }
            }
            _ => MediaBody::Raw,
        }
    }
}

/// Video codec of an Annex-B access unit, sniffed from its first NAL header (§5.3: H.265 is
/// not signalled in V101/V102). `None` when no start code or no recognisable NAL type.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum VideoCodec {
    H264,
    H265,
}

impl VideoCodec {
    pub fn name(self) -> &'static str {
        match self {
            VideoCodec::H264 => "h264",
            VideoCodec::H265 => "h265",
        }
    }

    /// Look at the first NAL after a `00 00 01` start code. An H.265 header is two bytes with
    /// layer id 0 and (for a base-layer first NAL) temporal id 0, so its second byte is `01`;
    /// it is taken as H.265 when the type is one a stream starts an access unit with (slices,
    /// IRAP pictures, parameter sets, AUD, SEI; TSA/STSA types 2–5 cannot have temporal id 0).
    /// That also keeps the common H.264 starts (`06 01` = SEI pic-timing, `67`, `65`, `41`,
    /// `09`) on the H.264 side.
    pub fn sniff(data: &[u8]) -> Option<Self> {
        let at = data.windows(3).position(|w| w == [0, 0, 1])? + 3;
        let b0 = *data.get(at)?;
        if b0 & 0x80 != 0 {
            return None;
        }
        if b0 & 1 == 0 && data.get(at + 1) == Some(&1) {
            let hevc_type = b0 >> 1;
            if matches!(hevc_type, 0 | 1 | 6..=9 | 16..=21 | 32..=40) {
                return Some(VideoCodec::H265);
            }
        }
        match b0 & 0x1F {
            1 | 5 | 6 | 7 | 8 | 9 => Some(VideoCodec::H264),
            _ => None,
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing, clippy::panic)]
mod tests {
    use super::*;
    use crate::mdvr::builders::media_packet;

    fn collect(framer: &mut MediaFramer, chunks: &[&[u8]]) -> Vec<(FrameKind, Vec<u8>)> {
        let mut out = Vec::new();
        for c in chunks {
            framer.feed(c, |k, f| out.push((k, f.to_vec())));
        }
        out
    }

    #[test]
    fn feedback_example_is_one_m1_packet() {
        // §5.2 byte-exact 0x6000 success feedback.
        let bytes = [
            0x24, 0x24, 0x24, 0x24, 0x24, 0x24, 0x64, 0x63, 0x10, 0, 0, 0, 0x00, 0x60, 0, 0, 0, 0,
            0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0x23, 0x23, 0x23, 0x23,
        ];
        let mut f = MediaFramer::media();
        let got = collect(&mut f, &[&bytes]);
        assert_eq!(got.len(), 1);
        let p = MediaPacket::parse(Envelope::M1, &got[0].1).unwrap();
        assert_eq!((p.opcode, p.serial, p.time), (0x6000, 0, 0));
        assert_eq!(p.payload, [1, 0, 0, 0, 0, 0, 0, 0]);
    }

    #[test]
    fn registration_then_binary_in_one_read_and_split_everywhere() {
        let reg: &[u8] = b"$$dc0028,7,V102,00967,,170915 105108#";
        let mut frame = 1_505_472_375_278_000u64.to_le_bytes().to_vec();
        frame.extend_from_slice(&[0, 0, 0, 1, 0x67, 0x42, 0, 0, 0, 1, 0x65, 0x88]);
        let i = media_packet(Envelope::M1, opcode::I_FRAME, 3, 9, &frame).unwrap();
        let m2 = media_packet(Envelope::M2, opcode::HEARTBEAT, 4, 9, &[]).unwrap();
        let prefixed = [&b"@@"[..], reg].concat();
        let data = [&b"junk@"[..], reg, &i, b"$$$", &m2, &prefixed, b"@@$$dc12"].concat();
        let mut whole = MediaFramer::media();
        let expected = collect(&mut whole, &[&data]);
        let kinds: Vec<FrameKind> = expected.iter().map(|(k, _)| *k).collect();
        assert_eq!(
            kinds,
            [
                FrameKind::Text { prefixed: false },
                FrameKind::Binary(Envelope::M1),
                FrameKind::Binary(Envelope::M2),
                FrameKind::Text { prefixed: true },
            ]
        );
        assert_eq!(
            whole.buffered(),
            8,
            "a possible prefixed header stays pending"
        );
        let p = MediaPacket::parse(Envelope::M1, &expected[1].1).unwrap();
        match p.body() {
            MediaBody::Frame { timestamp_us, data } => {
                assert_eq!(timestamp_us, 1_505_472_375_278_000);
                assert_eq!(VideoCodec::sniff(data), Some(VideoCodec::H264));
            }
            other => panic!("{other:?}"),
        }
        for cut in 0..=data.len() {
            let mut f = MediaFramer::media();
            assert_eq!(
                collect(&mut f, &[&data[..cut], &data[cut..]]),
                expected,
                "cut {cut}"
            );
            assert_eq!(f.stats(), whole.stats(), "cut {cut}");
        }
    }

    #[test]
    fn overlong_length_is_rejected_without_buffering() {
        let mut f = MediaFramer::new(MediaScanner::new(1024).unwrap());
        let mut bad = M1_MAGIC.to_vec();
        bad.extend_from_slice(&(1024u32 + 9).to_le_bytes());
        collect(&mut f, &[&bad]);
        // The M1 marker, then the `$$dc` inside it (not followed by digits): two rejections.
        // Skipping only one byte matters: `$$$$` glued to a text frame reads as an M1 header.
        assert_eq!(f.stats().rejected_frames, 2);
        assert_eq!(f.buffered(), 0);
        let ok = media_packet(Envelope::M1, opcode::HEARTBEAT, 0, 0, &[7; 1024]).unwrap();
        assert_eq!(collect(&mut f, &[&ok]).len(), 1);
        let too_big = media_packet(Envelope::M2, opcode::HEARTBEAT, 0, 0, &[7; 1025]).unwrap();
        assert!(collect(&mut f, &[&too_big[..16]]).is_empty());
        assert_eq!(f.stats().rejected_frames, 4);
        assert_eq!(f.buffered(), 0);
        // `$$$$` garbage right before a text frame looks like an M1 header with an absurd length.
        let glued = [&b"$$$$"[..], b"$$dc0028,7,V102,00967,,170915 105108#"].concat();
        let got = collect(&mut f, &[&glued]);
        assert_eq!(
            got,
            vec![(FrameKind::Text { prefixed: false }, glued[4..].to_vec())]
        );
    }

    #[test]
    fn unknown_opcode_and_bad_tail_resync() {
        let good = media_packet(Envelope::M1, opcode::P_FRAME, 1, 2, &[0; 12]).unwrap();
        let mut bad_op = good.clone();
        bad_op[12..14].copy_from_slice(&0x7000u16.to_le_bytes());
        let mut bad_tail = good.clone();
        let n = bad_tail.len();
        bad_tail[n - 1] = b'x';
        let data = [&bad_op[..], &bad_tail, &good].concat();
        let mut f = MediaFramer::media();
        let got = collect(&mut f, &[&data]);
        assert_eq!(got, vec![(FrameKind::Binary(Envelope::M1), good.clone())]);
        // Each bad marker also exposes the `$$dc` inside `$$$$$$dc` (no digits: rejected).
        assert_eq!(f.stats().rejected_frames, 4);
        assert_eq!(
            f.stats().skipped_bytes,
            (bad_op.len() + bad_tail.len()) as u64
        );
    }

    #[test]
    fn codec_sniffing() {
        assert_eq!(
            VideoCodec::sniff(&[0, 0, 0, 1, 0x67, 0x64]),
            Some(VideoCodec::H264)
        );
        assert_eq!(
            VideoCodec::sniff(&[0, 0, 1, 0x41, 0x9a]),
            Some(VideoCodec::H264)
        );
        assert_eq!(
            VideoCodec::sniff(&[0, 0, 0, 1, 0x40, 0x01, 0x0c]),
            Some(VideoCodec::H265)
        );
        assert_eq!(
            VideoCodec::sniff(&[0, 0, 0, 1, 0x02, 0x01]),
            Some(VideoCodec::H265)
        );
        assert_eq!(
            VideoCodec::sniff(&[0, 0, 1, 0x06, 0x01]),
            Some(VideoCodec::H264)
        );
        assert_eq!(VideoCodec::sniff(&[1, 2, 3]), None);
    }
}
