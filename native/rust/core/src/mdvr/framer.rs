//! Incremental framing of a byte stream into protocol frames, with resynchronisation.
//!
//! A [`Scanner`] looks at the bytes at hand and says what starts there: a complete frame, some
//! garbage to skip, a start marker whose header/length/tail is wrong ([`Step::Reject`]: drop its
//! first byte and look again, §2.2 steps 2–3), or "cannot tell before N bytes". The
//! [`StreamFramer`] drives a scanner over the successive reads of one connection:
//!
//! * frames that lie wholly inside a read are handed out as slices of that read (zero-copy);
//! * only the unfinished tail of a read is copied into the carry buffer, and a pending frame is
//!   completed by copying just the bytes it still needs from the next read;
//! * the carry never holds more than one frame (≤ [`MAX_TEXT_FRAME`](super::MAX_TEXT_FRAME) on
//!   the signaling channel, ≤ the payload cap + 24 on the media channel): a length outside the
//!   limits is rejected as soon as it is visible, never waited for, and garbage is counted and
//!   dropped, never buffered.
//!
//! Every decision depends only on bytes already present, and a visible violation always ends in
//! the same rejection, so frames and counters do not depend on how the stream was split into
//! reads. Accounting invariant: bytes fed = `frame_bytes + skipped_bytes + buffered()`.

use super::{TEXT_MAGIC, TEXT_TAIL};

/// What kind of frame a scanner found.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum FrameKind {
    /// A `$$dc` text frame; `prefixed` when it came with the media channel's `@@` prefix
    /// (the frame slice then starts at the `@@`).
    Text { prefixed: bool },
    /// A binary media packet in the given envelope.
    Binary(super::Envelope),
}

/// A scanner's verdict on the bytes at the start of a buffer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Step {
    /// A complete, valid frame of `len` bytes starts at offset 0.
    Frame { len: usize, kind: FrameKind },
    /// The first `n` (≥ 1) bytes cannot start a frame.
    Skip(usize),
    /// A start marker at offset 0 with an invalid header, length or tail: skip one byte.
    Reject,
    /// Undecidable until at least `n` bytes (more than the buffer holds) are available.
    Need(usize),
}

/// Classifies the bytes at the start of a buffer. Must return `Need(n)` only with `n` greater
/// than the buffer length and at most the largest frame it accepts.
pub trait Scanner {
    fn step(&self, buf: &[u8]) -> Step;
}

/// Counters of one framer (one connection).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct FramerStats {
    /// Frames handed out.
    pub frames: u64,
    /// Bytes of those frames.
    pub frame_bytes: u64,
    /// Bytes dropped: garbage plus the first byte of every rejected start marker.
    pub skipped_bytes: u64,
    /// Start markers rejected (bad digits, length, opcode or tail).
    pub rejected_frames: u64,
    /// `skipped_bytes` since the last good frame (a "close on N KiB of garbage" policy).
    pub skipped_since_frame: u64,
    /// `rejected_frames` since the last good frame (a "close after N errors" policy).
    pub rejected_since_frame: u64,
}

impl FramerStats {
    fn frame(&mut self, len: usize) {
        self.frames += 1;
        self.frame_bytes += len as u64;
        self.skipped_since_frame = 0;
        self.rejected_since_frame = 0;
    }

    fn skip(&mut self, n: usize) {
        self.skipped_bytes += n as u64;
        self.skipped_since_frame += n as u64;
    }

    fn reject(&mut self) {
        self.rejected_frames += 1;
        self.rejected_since_frame += 1;
        self.skip(1);
    }
}

/// Offset of the first byte from which `buf` starts with one of `magics`, or is a proper prefix
/// of one (a marker cut by the end of the read); `buf.len()` if there is none.
pub(crate) fn find_start(buf: &[u8], first_bytes: &[u8], magics: &[&[u8]]) -> usize {
    let mut k = 0;
    while let Some(rest) = buf.get(k..) {
        let Some(off) = rest.iter().position(|b| first_bytes.contains(b)) else {
            break;
        };
        k += off;
        let rest = buf.get(k..).unwrap_or_default();
        let starts = magics.iter().any(|magic| {
            let n = rest.len().min(magic.len());
            rest.get(..n) == magic.get(..n)
        });
        if starts {
            return k;
        }
        k += 1;
    }
    buf.len()
}

/// A `$$dc` text frame at offset `p` of `buf` (`p` = 2 after an `@@` prefix): 4 ASCII digits
/// `LLLL`, a comma, and `#` at `p + LLLL + 8` (total `p + LLLL + 9` bytes, §2.1). The comma is
/// required (§5.2 tells text from binary by "4 digits followed by `,`"; every real frame has
/// it), which also rejects `LLLL = 0`.
pub(crate) fn text_step(buf: &[u8], p: usize, prefixed: bool) -> Step {
    let mut length = 0usize;
    for i in 0..4 {
        match buf.get(p + 4 + i) {
            Some(d) if d.is_ascii_digit() => length = length * 10 + usize::from(d - b'0'),
            Some(_) => return Step::Reject,
            None => return Step::Need(p + 9),
        }
    }
    match buf.get(p + 8) {
        Some(b',') => {}
        Some(_) => return Step::Reject,
        None => return Step::Need(p + 9),
    }
    let total = p + 9 + length;
    match buf.get(total - 1) {
        None => Step::Need(total),
        Some(&TEXT_TAIL) => Step::Frame {
            len: total,
            kind: FrameKind::Text { prefixed },
        },
        Some(_) => Step::Reject,
    }
}

/// The signaling channel: `$$dc` text frames only (§2.2).
#[derive(Clone, Copy, Debug, Default)]
pub struct SignalingScanner;

impl Scanner for SignalingScanner {
    fn step(&self, buf: &[u8]) -> Step {
        if buf.is_empty() {
            return Step::Need(1);
        }
        let start = find_start(buf, b"$", &[TEXT_MAGIC]);
        if start > 0 {
            return Step::Skip(start);
        }
        if buf.starts_with(TEXT_MAGIC) {
            text_step(buf, 0, false)
        } else {
            Step::Need(buf.len() + 1)
        }
    }
}

/// Drives a [`Scanner`] over the reads of one connection; see the module docs.
#[derive(Debug, Default)]
pub struct StreamFramer<S> {
    scanner: S,
    carry: Vec<u8>,
    /// Bytes at the front of `carry` already consumed (compacted lazily, so that skipping
    /// through a carried frame is not quadratic).
    start: usize,
    stats: FramerStats,
}

impl<S: Scanner> StreamFramer<S> {
    pub fn new(scanner: S) -> Self {
        Self {
            scanner,
            carry: Vec::new(),
            start: 0,
            stats: FramerStats::default(),
        }
    }

    pub fn scanner(&self) -> &S {
        &self.scanner
    }

    pub fn stats(&self) -> FramerStats {
        self.stats
    }

    /// Bytes held back waiting for the rest of a frame (or of a start marker).
    pub fn buffered(&self) -> usize {
        self.carry.len().saturating_sub(self.start)
    }

    /// Drop any partial frame (e.g. after the caller decided to resynchronise); counters stay.
    pub fn clear(&mut self) {
        self.carry.clear();
        self.start = 0;
    }

    /// Consume one read: calls `emit` for every complete frame, in stream order. Frames wholly
    /// inside `data` are slices of `data`; a frame completed from the carry is a slice of it.
    pub fn feed(&mut self, mut data: &[u8], mut emit: impl FnMut(FrameKind, &[u8])) {
        let Self {
            scanner,
            carry,
            start,
            stats,
        } = self;
        // Phase 1: finish whatever the previous reads left, pulling in only the bytes needed.
        while *start < carry.len() {
            let pending = carry.get(*start..).unwrap_or_default();
            match scanner.step(pending) {
                Step::Need(n) => {
                    if data.is_empty() {
                        break;
                    }
                    let take = n.saturating_sub(pending.len()).clamp(1, data.len());
                    let (head, tail) = data.split_at(take);
                    carry.drain(..*start);
                    *start = 0;
                    carry.extend_from_slice(head);
                    data = tail;
                }
                Step::Frame { len, kind } => match pending.get(..len) {
                    Some(frame) if len > 0 => {
                        emit(kind, frame);
                        stats.frame(len);
                        *start += len;
                    }
                    _ => {
                        stats.reject();
                        *start += 1;
                    }
                },
                Step::Skip(n) => {
                    let n = n.clamp(1, pending.len());
                    stats.skip(n);
                    *start += n;
                }
                Step::Reject => {
                    stats.reject();
                    *start += 1;
                }
            }
        }
        if *start >= carry.len() {
            carry.clear();
            *start = 0;
        } else {
            // Out of data with a partial frame still pending.
            return;
        }
        // Phase 2: zero-copy over the rest of this read.
        while !data.is_empty() {
            match scanner.step(data) {
                Step::Need(_) => {
                    carry.extend_from_slice(data);
                    return;
                }
                Step::Frame { len, kind } => match (data.get(..len), data.get(len..)) {
                    (Some(frame), Some(rest)) if len > 0 => {
                        emit(kind, frame);
                        stats.frame(len);
                        data = rest;
                    }
                    _ => {
                        stats.reject();
                        data = data.get(1..).unwrap_or_default();
                    }
                },
                Step::Skip(n) => {
                    let n = n.clamp(1, data.len());
                    stats.skip(n);
                    data = data.get(n..).unwrap_or_default();
                }
                Step::Reject => {
                    stats.reject();
                    data = data.get(1..).unwrap_or_default();
                }
            }
        }
    }
}

/// The signaling-channel framer.
pub type SignalingFramer = StreamFramer<SignalingScanner>;

impl SignalingFramer {
    pub fn signaling() -> Self {
        Self::new(SignalingScanner)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing, clippy::panic)]
mod tests {
    use super::*;

    const V109: &[u8] = b"$$dc0028,7,V109,00967,,170915 105108#";
    const C501: &[u8] = b"$$dc0029,51,C501,00967,,170915 105255#";

    fn frames(framer: &mut SignalingFramer, chunks: &[&[u8]]) -> Vec<Vec<u8>> {
        let mut out = Vec::new();
        for chunk in chunks {
            framer.feed(chunk, |_, f| out.push(f.to_vec()));
        }
        out
    }

    #[test]
    fn whole_frames_are_slices_of_the_read() {
        let mut framer = SignalingFramer::signaling();
        let data = [V109, C501].concat();
        let base = data.as_ptr_range();
        let mut seen = 0;
        framer.feed(&data, |kind, f| {
            assert_eq!(kind, FrameKind::Text { prefixed: false });
            assert!(base.contains(&f.as_ptr()), "frame was copied");
            seen += 1;
        });
        assert_eq!(seen, 2);
        assert_eq!(framer.buffered(), 0);
    }

    #[test]
    fn every_split_gives_the_same_frames_and_counters() {
        let data = [&b"xx$"[..], V109, b"$$dc00", C501, b"##$$"].concat();
        let mut whole = SignalingFramer::signaling();
        let expected = frames(&mut whole, &[&data]);
        assert_eq!(expected, vec![V109.to_vec(), C501.to_vec()]);
        for cut in 0..=data.len() {
            let mut f = SignalingFramer::signaling();
            let got = frames(&mut f, &[&data[..cut], &data[cut..]]);
            assert_eq!(got, expected, "cut at {cut}");
            assert_eq!(f.stats(), whole.stats(), "cut at {cut}");
            assert_eq!(f.buffered(), whole.buffered(), "cut at {cut}");
        }
        let mut f = SignalingFramer::signaling();
        let bytes: Vec<&[u8]> = data.chunks(1).collect();
        assert_eq!(frames(&mut f, &bytes), expected);
        assert_eq!(f.stats(), whole.stats());
        let s = whole.stats();
        assert_eq!(
            s.frame_bytes + s.skipped_bytes + whole.buffered() as u64,
            data.len() as u64
        );
    }

    #[test]
    fn bad_length_is_rejected_and_resynced() {
        let mut f = SignalingFramer::signaling();
        // Length 0030 points one byte past the real `#`: rejected once the `#` is missing.
        let mut bad = V109.to_vec();
        bad[7] = b'9';
        let data = [&bad[..], V109].concat();
        let got = frames(&mut f, &[&data]);
        assert_eq!(got, vec![V109.to_vec()]);
        assert_eq!(f.stats().rejected_frames, 1);
        assert_eq!(f.stats().skipped_bytes, bad.len() as u64);
        // Non-digit length and missing comma are rejected without waiting.
        let mut f = SignalingFramer::signaling();
        assert!(frames(&mut f, &[b"$$dc00x"]).is_empty());
        assert_eq!((f.stats().rejected_frames, f.buffered()), (1, 0));
        let mut f = SignalingFramer::signaling();
        assert!(frames(&mut f, &[b"$$dc0028;"]).is_empty());
        assert_eq!((f.stats().rejected_frames, f.buffered()), (1, 0));
    }

    #[test]
    fn carry_is_bounded_by_one_frame() {
        let mut f = SignalingFramer::signaling();
        f.feed(b"$$dc9999,", |_, _| panic!("no frame"));
        for _ in 0..100 {
            f.feed(&[b'a'; 1000], |_, _| {});
            assert!(f.buffered() <= crate::mdvr::MAX_TEXT_FRAME);
        }
        assert_eq!(f.stats().rejected_frames, 1);
    }
}
