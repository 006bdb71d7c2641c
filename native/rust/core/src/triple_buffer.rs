//! Lock-free single-producer / single-consumer triple buffer of fixed-size byte frames.
//!
//! # Theory of operation
//!
//! Three slots of `frame_bytes` each. At any instant every slot has exactly one role:
//!
//! * **back**: owned by the producer, which renders/copies the next frame into it;
//! * **front**: owned by the consumer (the output thread), which reads the frame it sends;
//! * **middle**: owned by nobody; it holds the newest complete frame in transit.
//!
//! The back and front indices live in the [`Producer`] and [`Consumer`] handles (plain fields,
//! each touched by one thread only). The middle index and a *dirty* bit ("the middle slot holds
//! a frame the consumer has not taken yet") share one `AtomicU8`, so that both change in a
//! single atomic swap:
//!
//! * **publish** (producer): `state.swap(back | DIRTY)`. The finished back slot becomes the
//!   middle; the old middle becomes the producer's new back slot.
//! * **take** (consumer): if the dirty bit is set, `state.swap(front)` (dirty cleared). The
//!   newest frame becomes the front; the old front goes back to the middle for reuse.
//!
//! Neither side ever waits for the other: a publish never blocks the consumer and vice versa,
//! and a slot is only written by its current owner, so the consumer never sees a torn frame.
//! If the producer publishes several times between two takes, the intermediate frames are
//! simply overwritten (the consumer always gets the newest complete one).
//!
//! # Memory ordering
//!
//! Both swaps are `AcqRel`:
//!
//! * publish needs **Release** so the bytes written into the back slot happen-before the
//!   consumer's Acquire swap that picks the slot up as its front;
//! * take needs **Acquire** for the same edge, seen from the reader's side;
//! * publish also needs Acquire and take also needs Release, because slots are recycled: the
//!   slot the producer receives may be the consumer's former front, and the consumer's reads of
//!   it must happen-before the producer overwrites it (the consumer Releases it in its swap,
//!   the producer Acquires it in its own).
//!
//! The consumer's preliminary "is it dirty?" check is a Relaxed load: it only decides whether
//! to swap, and the swap itself provides the synchronisation. Only the consumer clears the dirty
//! bit, so once it has been seen set it stays set until that swap.

use std::cell::UnsafeCell;
use std::fmt;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::Arc;

/// Bits 0–1 of the state: index (0..=2) of the middle slot.
const INDEX_MASK: u8 = 0b011;
/// Bit 2 of the state: the middle slot holds a frame the consumer has not taken yet.
const DIRTY: u8 = 0b100;

/// Error from [`Producer::write`]: the frame does not have the buffer's fixed length.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LengthMismatch {
    pub expected: usize,
    pub got: usize,
}

impl fmt::Display for LengthMismatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "frame has {} bytes, expected {}",
            self.got, self.expected
        )
    }
}

impl std::error::Error for LengthMismatch {}

struct Shared {
    slots: [UnsafeCell<Box<[u8]>>; 3],
    state: AtomicU8,
    frame_bytes: usize,
}

// SAFETY: the slots are only accessed through the role protocol described in the module docs:
// a slot is read or written only by the single handle that currently owns it, and ownership
// moves between threads only through AcqRel swaps of `state`, which order the accesses.
unsafe impl Sync for Shared {}

impl Shared {
    /// Pointer to a slot's bytes; callers must own the slot (see the module docs).
    fn slot(&self, index: u8) -> *mut Box<[u8]> {
        self.slots[usize::from(index)].get()
    }
}

/// Create a triple buffer of `frame_bytes`-byte frames. All slots start zeroed and nothing is
/// pending, so the consumer reads an all-zero frame until the first publish.
///
/// # Panics
/// If `frame_bytes` is 0 (a zero-length frame cannot carry anything; callers validate first).
pub fn triple_buffer(frame_bytes: usize) -> (Producer, Consumer) {
    assert!(frame_bytes > 0, "triple buffer frame_bytes must be > 0");
    let slot = || UnsafeCell::new(vec![0u8; frame_bytes].into_boxed_slice());
    let shared = Arc::new(Shared {
        slots: [slot(), slot(), slot()],
        // Initial roles: front 0, middle 1 (clean), back 2.
        state: AtomicU8::new(1),
        frame_bytes,
    });
    (
        Producer {
            shared: Arc::clone(&shared),
            back: 2,
        },
        Consumer { shared, front: 0 },
    )
}

/// The writing end. `Send` but not `Sync`/`Clone`: there is exactly one producer.
pub struct Producer {
    shared: Arc<Shared>,
    back: u8,
}

impl Producer {
    pub fn frame_bytes(&self) -> usize {
        self.shared.frame_bytes
    }

    /// The back slot, to render into in place. Its previous contents are unspecified (an older
    /// frame), so the caller must overwrite every byte before [`publish`](Self::publish).
    pub fn back_mut(&mut self) -> &mut [u8] {
        // SAFETY: the producer owns the back slot until it publishes it, and `&mut self`
        // guarantees this is the only live reference into it.
        unsafe { &mut *self.shared.slot(self.back) }
    }

    /// Make the back slot the newest complete frame and take over the old middle slot.
    pub fn publish(&mut self) {
        let previous = self.shared.state.swap(self.back | DIRTY, Ordering::AcqRel);
        self.back = previous & INDEX_MASK;
    }

    /// Copy `frame` into the back slot and publish it.
    pub fn write(&mut self, frame: &[u8]) -> Result<(), LengthMismatch> {
        let expected = self.frame_bytes();
        if frame.len() != expected {
            return Err(LengthMismatch {
                expected,
                got: frame.len(),
            });
        }
        self.back_mut().copy_from_slice(frame);
        self.publish();
        Ok(())
    }
}

/// The reading end. `Send` but not `Sync`/`Clone`: there is exactly one consumer.
pub struct Consumer {
    shared: Arc<Shared>,
    front: u8,
}

impl Consumer {
    pub fn frame_bytes(&self) -> usize {
        self.shared.frame_bytes
    }

    /// True if a frame was published since the last [`take`](Self::take).
    pub fn has_new(&self) -> bool {
        self.shared.state.load(Ordering::Relaxed) & DIRTY != 0
    }

    /// Move the newest published frame (if any is pending) to the front. Returns whether the
    /// front changed; if not, the front still holds the previously taken frame. Never blocks.
    pub fn take(&mut self) -> bool {
        if !self.has_new() {
            return false;
        }
        let previous = self.shared.state.swap(self.front, Ordering::AcqRel);
        debug_assert!(
            previous & DIRTY != 0,
            "only the consumer clears the dirty bit"
        );
        self.front = previous & INDEX_MASK;
        true
    }

    /// The front frame: the last one taken (all zeros before the first take of a published
    /// frame).
    pub fn front(&self) -> &[u8] {
        // SAFETY: the consumer owns the front slot until its next `take`, which needs
        // `&mut self` and so cannot overlap with this shared borrow.
        unsafe { &*self.shared.slot(self.front) }
    }
}

impl fmt::Debug for Producer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Producer")
            .field("frame_bytes", &self.frame_bytes())
            .finish_non_exhaustive()
    }
}

impl fmt::Debug for Consumer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Consumer")
            .field("frame_bytes", &self.frame_bytes())
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::thread;

    #[test]
    fn starts_zeroed_and_clean() {
        let (_p, mut c) = triple_buffer(4);
        assert!(!c.has_new());
        assert!(!c.take());
        assert_eq!(c.front(), &[0, 0, 0, 0]);
    }

    #[test]
    fn take_returns_newest_and_repeats_without_publish() {
        let (mut p, mut c) = triple_buffer(3);
        p.write(&[1, 1, 1]).unwrap();
        p.write(&[2, 2, 2]).unwrap();
        assert!(c.take());
        assert_eq!(c.front(), &[2, 2, 2]);
        assert!(!c.take());
        assert_eq!(c.front(), &[2, 2, 2]);
        p.write(&[3, 3, 3]).unwrap();
        assert!(c.take());
        assert_eq!(c.front(), &[3, 3, 3]);
    }

    #[test]
    fn back_mut_publish_in_place() {
        let (mut p, mut c) = triple_buffer(2);
        p.back_mut().copy_from_slice(&[7, 8]);
        p.publish();
        assert!(c.take());
        assert_eq!(c.front(), &[7, 8]);
    }

    #[test]
    fn slots_stay_distinct_roles() {
        // After any interleaving the three roles must name three different slots.
        let (mut p, mut c) = triple_buffer(1);
        for i in 0..100u8 {
            if i % 3 != 0 {
                p.write(&[i]).unwrap();
            }
            if i % 2 == 0 {
                c.take();
            }
            let middle = p.shared.state.load(Ordering::Relaxed) & INDEX_MASK;
            let mut roles = [p.back, c.front, middle];
            roles.sort_unstable();
            assert_eq!(roles, [0, 1, 2]);
        }
    }

    #[test]
    fn wrong_length_is_rejected() {
        let (mut p, c) = triple_buffer(4);
        assert_eq!(
            p.write(&[1, 2, 3]),
            Err(LengthMismatch {
                expected: 4,
                got: 3
            })
        );
        assert!(!c.has_new());
    }

    /// Producer writes frames whose every byte equals a counter (mod 256); the consumer checks
    /// that each frame it sees is uniform (not torn). Ordering is checked exactly by the u64
    /// test below (a u8 counter cannot tell "256 frames later" from "the same frame").
    #[test]
    fn stress_uniform_byte_frames() {
        const FRAMES: u32 = 200_000;
        const BYTES: usize = 4096;
        let (mut p, mut c) = triple_buffer(BYTES);
        let producer = thread::spawn(move || {
            for n in 1..=FRAMES {
                p.back_mut().fill(n as u8);
                p.publish();
            }
        });
        let mut last = 0u8;
        let mut check = |c: &Consumer| {
            let frame = c.front();
            let b = frame[0];
            assert!(frame.iter().all(|&x| x == b), "torn frame");
            last = b;
        };
        while !producer.is_finished() {
            if c.take() {
                check(&c);
            }
        }
        // `join` orders the producer's last publish before this final take.
        producer.join().unwrap();
        if c.take() {
            check(&c);
        }
        assert_eq!(last, FRAMES as u8, "the final frame must be delivered");
    }

    /// Same check with a u64 counter in every 8-byte word, so a regression is detected exactly
    /// even when the consumer falls more than 255 frames behind.
    #[test]
    fn stress_counter_in_frame_is_monotonic() {
        const FRAMES: u64 = 100_000;
        const BYTES: usize = 1024;
        let (mut p, mut c) = triple_buffer(BYTES);
        let producer = thread::spawn(move || {
            for n in 1..=FRAMES {
                for word in p.back_mut().chunks_exact_mut(8) {
                    word.copy_from_slice(&n.to_le_bytes());
                }
                p.publish();
            }
        });
        let mut last = 0u64;
        let mut seen = 0u64;
        let mut check = |c: &Consumer| {
            let frame = c.front();
            let word = |w: &[u8]| u64::from_le_bytes(w.try_into().unwrap());
            let first = word(&frame[..8]);
            assert!(
                frame.chunks_exact(8).all(|w| word(w) == first),
                "torn frame"
            );
            assert!(first > last, "counter went backwards: {first} after {last}");
            last = first;
            seen += 1;
        };
        while !producer.is_finished() {
            if c.take() {
                check(&c);
            }
        }
        producer.join().unwrap();
        if c.take() {
            check(&c);
        }
        assert_eq!(last, FRAMES);
        assert!(seen > 0);
    }
}
