//! Fuzz the MDVR framers and parsers (`trocadero_core::mdvr`) with arbitrary streams.
//!
//! Input layout: byte 0 picks the media payload cap (`64 << (b % 16)` bytes, so overlong
//! lengths are common) and byte 1 a read size (1..=256); the rest is the stream. Invariants:
//! nothing panics; every text frame parses on both channels and every binary frame parses as
//! a media packet with a payload inside the cap; bytes fed = frame bytes + skipped + buffered;
//! the buffer never holds more than one maximal frame; and the frames and counters are the
//! same whether the stream arrives whole or in reads of that size (the framing decisions only
//! depend on bytes already present). The differential run against the Python reference is
//! `tests/protocols/test_mdvr_fuzz.py` (stable, time-boxed, in CI).
#![no_main]

use libfuzzer_sys::fuzz_target;
use trocadero_core::mdvr::{
    parse_message, Channel, FrameKind, FramerStats, MediaFramer, MediaPacket, MediaScanner,
    Message, SignalingFramer, MAX_TEXT_FRAME,
};

type Frames = Vec<(FrameKind, Vec<u8>)>;

fn run_signaling(data: &[u8], read: usize) -> (Frames, FramerStats, usize) {
    let mut framer = SignalingFramer::signaling();
    let mut frames = Vec::new();
    for chunk in data.chunks(read) {
        framer.feed(chunk, |kind, frame| {
            let msg = parse_message(frame, Channel::Signaling);
            assert!(!matches!(msg, Message::Malformed { reason, .. }
                if reason == trocadero_core::mdvr::signaling::NOT_A_FRAME));
            frames.push((kind, frame.to_vec()));
        });
        assert!(framer.buffered() < MAX_TEXT_FRAME);
    }
    (frames, framer.stats(), framer.buffered())
}

fn run_media(data: &[u8], read: usize, cap: usize) -> (Frames, FramerStats, usize) {
    let mut framer = MediaFramer::new(MediaScanner::new(cap).expect("cap within limit"));
    let mut frames = Vec::new();
    for chunk in data.chunks(read) {
        framer.feed(chunk, |kind, frame| {
            match kind {
                FrameKind::Text { .. } => {
                    let _ = parse_message(frame, Channel::Media);
                }
                FrameKind::Binary(env) => {
                    let packet = MediaPacket::parse(env, frame).expect("accepted frame parses");
                    assert!(packet.payload.len() <= cap);
                    let _ = packet.body();
                }
            }
            frames.push((kind, frame.to_vec()));
        });
        assert!(framer.buffered() < (cap + 24).max(MAX_TEXT_FRAME + 2));
    }
    (frames, framer.stats(), framer.buffered())
}

fuzz_target!(|input: &[u8]| {
    let [cap_byte, read_byte, data @ ..] = input else {
        return;
    };
    let cap = 64usize << (cap_byte % 16);
    let read = usize::from(*read_byte) + 1;

    let whole = run_signaling(data, data.len().max(1));
    let split = run_signaling(data, read);
    assert_eq!(whole, split);
    let (_, stats, buffered) = whole;
    assert_eq!(
        stats.frame_bytes + stats.skipped_bytes + buffered as u64,
        data.len() as u64
    );

    let whole = run_media(data, data.len().max(1), cap);
    let split = run_media(data, read, cap);
    assert_eq!(whole, split);
    let (_, stats, buffered) = whole;
    assert_eq!(
        stats.frame_bytes + stats.skipped_bytes + buffered as u64,
        data.len() as u64
    );
});
