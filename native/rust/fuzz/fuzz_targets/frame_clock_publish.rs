//! Fuzz the triple buffer's publish/take protocol with arbitrary frame sizes and contents.
//!
//! Input layout: byte 0 picks `frame_bytes` (1..=256); the rest is a stream of operations.
//! Each op byte: low bit 0 → publish, 1 → take. A publish reads a length byte (so wrong
//! lengths are exercised too) and that many payload bytes. Invariants checked against a model:
//! wrong-length writes are rejected without side effects, a take yields exactly the newest
//! complete frame published so far (or repeats the previous one), and a frame is never a mix of
//! two publishes. `FrameClock::publish` (not started) must accept and reject the same frames.
#![no_main]

use libfuzzer_sys::fuzz_target;
use trocadero_core::triple_buffer::{triple_buffer, LengthMismatch};
use trocadero_core::{ClockConfig, Error, FrameClock};

fuzz_target!(|data: &[u8]| {
    let Some((&size, mut ops)) = data.split_first() else {
        return;
    };
    let frame_bytes = usize::from(size) + 1;
    let (mut producer, mut consumer) = triple_buffer(frame_bytes);
    // The clock's own publish path (length check + producer mutex), never started: no thread.
    let clock = FrameClock::new(ClockConfig::new(44.0, frame_bytes)).expect("valid config");
    let mut clock_published = 0u64;

    // Model: the newest published frame, whether the consumer has taken it, and what the
    // consumer currently shows.
    let mut newest: Option<Vec<u8>> = None;
    let mut pending = false;
    let mut shown = vec![0u8; frame_bytes];

    while let Some((&op, rest)) = ops.split_first() {
        ops = rest;
        if op & 1 == 0 {
            let Some((&len, rest)) = ops.split_first() else {
                break;
            };
            // Mostly the right size, sometimes any size, to hit the error path.
            let len = if op & 2 == 0 {
                frame_bytes
            } else {
                usize::from(len)
            };
            let available = rest.len().min(len);
            let mut frame = rest[..available].to_vec();
            ops = &rest[available..];
            // Pad with a per-op byte so short inputs still produce full frames.
            frame.resize(len, op);
            match clock.publish(&frame) {
                Ok(()) => clock_published += 1,
                Err(Error::FrameLength { expected, got }) => {
                    assert_eq!((expected, got), (frame_bytes, len));
                }
                Err(e) => panic!("unexpected publish error: {e}"),
            }
            match producer.write(&frame) {
                Ok(()) => {
                    assert_eq!(len, frame_bytes);
                    newest = Some(frame);
                    pending = true;
                }
                Err(LengthMismatch { expected, got }) => {
                    assert_ne!(len, frame_bytes);
                    assert_eq!((expected, got), (frame_bytes, len));
                }
            }
        } else {
            let fresh = consumer.take();
            assert_eq!(
                fresh, pending,
                "take reported a new frame iff one was published"
            );
            if fresh {
                shown = newest.clone().expect("pending implies a published frame");
                pending = false;
            }
            assert_eq!(
                consumer.front(),
                &shown[..],
                "consumer saw a frame never published whole"
            );
        }
        assert_eq!(consumer.has_new(), pending);
    }
    assert_eq!(clock.stats().frames_published, clock_published);
});
