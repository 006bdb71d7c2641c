//! The emergency override, applied by the output thread itself.
//!
//! Python installs an *overlay* (a whole frame plus the byte ranges it replaces: the slots of
//! the canvases that have an emergency look) and, optionally, an *input* file (a sysfs GPIO
//! `value`, or any file) that the output thread reads at every deadline. While the latch is
//! set, every frame handed to the sinks is the published frame with the overlay's ranges
//! overwritten. The latch is set by [`Emergency::engage`] (the API) or by the input reading
//! asserted, and stays set until [`Emergency::release`], which is refused while the input
//! still asserts. So life-safety light reaches the wire on the next deadline even when Python
//! is wedged: nothing on this path needs the GIL or a lock Python may hold.
//!
//! Updates from Python (a new overlay or input) are published behind a generation counter;
//! the output thread picks them up with `try_lock`, so it never waits on the Python side: on
//! contention it keeps the previous overlay for one more frame.

use std::ffi::CString;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

/// A frame and the (start, end) byte ranges of it that replace the published frame.
#[derive(Debug)]
pub struct Overlay {
    frame: Vec<u8>,
    ranges: Vec<(usize, usize)>,
}

impl Overlay {
    /// Checks: `frame` has `frame_bytes` bytes; every range lies in it with start < end.
    /// Ranges are sorted and merged.
    pub fn new(
        frame: &[u8],
        ranges: &[(usize, usize)],
        frame_bytes: usize,
    ) -> Result<Self, String> {
        if frame.len() != frame_bytes {
            return Err(format!(
                "emergency frame has {} bytes but the clock was configured for frame_bytes={frame_bytes}",
                frame.len()
            ));
        }
        let mut sorted = ranges.to_vec();
        for &(start, end) in &sorted {
            if start >= end || end > frame_bytes {
                return Err(format!(
                    "emergency range ({start}, {end}) must have start < end <= {frame_bytes}"
                ));
            }
        }
        sorted.sort_unstable();
        let mut merged: Vec<(usize, usize)> = Vec::with_capacity(sorted.len());
        for (start, end) in sorted {
            match merged.last_mut() {
                Some(last) if start <= last.1 => last.1 = last.1.max(end),
                _ => merged.push((start, end)),
            }
        }
        Ok(Self {
            frame: frame.to_vec(),
            ranges: merged,
        })
    }

    /// Bytes the overlay replaces.
    pub fn covered(&self) -> usize {
        self.ranges.iter().map(|(s, e)| e - s).sum()
    }
}

#[derive(Debug)]
struct Input {
    path: CString,
    active_low: bool,
}

/// Shared between the clock handle (Python side) and the output thread.
#[derive(Debug, Default)]
pub struct Emergency {
    latched: AtomicBool,
    input_asserted: AtomicBool,
    engagements: AtomicU64,
    frames_sent: AtomicU64,
    latched_at_ns: AtomicU64,
    input_errors: AtomicU64,
    generation: AtomicU64,
    overlay: Mutex<Option<Arc<Overlay>>>,
    input: Mutex<Option<Arc<Input>>>,
    input_error: Mutex<Option<String>>,
}

/// A copy of the emergency counters.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct EmergencyStats {
    pub latched: bool,
    pub input_asserted: bool,
    /// Transitions to latched.
    pub engagements: u64,
    /// Frames sent with the overlay applied.
    pub frames_sent: u64,
    /// CLOCK_MONOTONIC ns of the last engagement, 0 if never.
    pub latched_at_ns: u64,
    /// Reads of the input that failed (missing or unreadable file), and the last reason.
    pub input_errors: u64,
    pub input_error: Option<String>,
    /// Bytes the installed overlay replaces (0: none installed).
    pub covered_bytes: usize,
}

impl Emergency {
    pub fn set_overlay(&self, overlay: Overlay) {
        *self.overlay.lock().unwrap_or_else(PoisonError::into_inner) = Some(Arc::new(overlay));
        self.generation.fetch_add(1, Ordering::Release);
    }

    pub fn set_input(&self, path: Option<&Path>, active_low: bool) -> Result<(), String> {
        let input = match path {
            None => None,
            Some(p) => {
                let c = CString::new(p.as_os_str().as_bytes())
                    .map_err(|_| format!("emergency input path {p:?} contains a NUL byte"))?;
                Some(Arc::new(Input {
                    path: c,
                    active_low,
                }))
            }
        };
        *self.input.lock().unwrap_or_else(PoisonError::into_inner) = input;
        self.generation.fetch_add(1, Ordering::Release);
        Ok(())
    }

    pub fn engage(&self) {
        self.latch();
    }

    fn latch(&self) {
        if !self.latched.swap(true, Ordering::AcqRel) {
            self.engagements.fetch_add(1, Ordering::Relaxed);
            self.latched_at_ns
                .store(crate::clock::monotonic_ns(), Ordering::Relaxed);
        }
    }

    /// Clear the latch; false (and still latched) while the input asserts.
    pub fn release(&self) -> bool {
        if self.input_asserted.load(Ordering::Acquire) {
            return false;
        }
        self.latched.store(false, Ordering::Release);
        true
    }

    pub fn is_latched(&self) -> bool {
        self.latched.load(Ordering::Acquire)
    }

    pub fn stats(&self) -> EmergencyStats {
        let covered = self
            .overlay
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .as_ref()
            .map_or(0, |o| o.covered());
        EmergencyStats {
            latched: self.latched.load(Ordering::Acquire),
            input_asserted: self.input_asserted.load(Ordering::Acquire),
            engagements: self.engagements.load(Ordering::Relaxed),
            frames_sent: self.frames_sent.load(Ordering::Relaxed),
            latched_at_ns: self.latched_at_ns.load(Ordering::Relaxed),
            input_errors: self.input_errors.load(Ordering::Relaxed),
            input_error: self
                .input_error
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .clone(),
            covered_bytes: covered,
        }
    }
}

/// Read the input file: Some(asserted) or Err(reason). open/read/close on a prebuilt C path:
/// no allocation on the output thread, and a file replaced by rename is seen at once.
fn read_input(input: &Input) -> Result<bool, std::io::Error> {
    // SAFETY: `path` is a valid NUL-terminated string that outlives the call.
    let fd = unsafe {
        libc::open(
            input.path.as_ptr(),
            libc::O_RDONLY | libc::O_NONBLOCK | libc::O_CLOEXEC,
        )
    };
    if fd < 0 {
        return Err(std::io::Error::last_os_error());
    }
    let mut buf = [0u8; 16];
    // SAFETY: fd is open; buf is writable for its full length.
    let n = unsafe { libc::read(fd, buf.as_mut_ptr().cast(), buf.len()) };
    let err = std::io::Error::last_os_error();
    // SAFETY: fd was opened above and is closed exactly once.
    unsafe { libc::close(fd) };
    if n < 0 {
        return Err(err);
    }
    let first = buf[..n as usize]
        .iter()
        .copied()
        .find(|b| !b.is_ascii_whitespace());
    let high = first == Some(b'1');
    Ok(high != input.active_low)
}

/// The output thread's side: its cached overlay and input, and the scratch frame.
#[derive(Debug)]
pub(crate) struct EmergencyWorker {
    generation: u64,
    overlay: Option<Arc<Overlay>>,
    input: Option<Arc<Input>>,
    scratch: Vec<u8>,
}

impl EmergencyWorker {
    pub(crate) fn new(frame_bytes: usize) -> Self {
        Self {
            generation: u64::MAX,
            overlay: None,
            input: None,
            scratch: vec![0; frame_bytes],
        }
    }

    fn refresh(&mut self, shared: &Emergency) {
        let generation = shared.generation.load(Ordering::Acquire);
        if generation == self.generation {
            return;
        }
        // try_lock: never wait on the Python side; on contention try again next frame.
        let (Ok(overlay), Ok(input)) = (shared.overlay.try_lock(), shared.input.try_lock()) else {
            return;
        };
        self.overlay = overlay.clone();
        self.input = input.clone();
        self.generation = generation;
    }

    /// Once per deadline: poll the input, latch if asserted.
    pub(crate) fn poll(&mut self, shared: &Emergency) {
        self.refresh(shared);
        let Some(input) = self.input.as_ref() else {
            shared.input_asserted.store(false, Ordering::Release);
            return;
        };
        match read_input(input) {
            Ok(asserted) => {
                shared.input_asserted.store(asserted, Ordering::Release);
                if asserted {
                    shared.latch();
                }
            }
            Err(e) => {
                shared.input_asserted.store(false, Ordering::Release);
                shared.input_errors.fetch_add(1, Ordering::Relaxed);
                if let Ok(mut last) = shared.input_error.try_lock() {
                    if last.is_none() {
                        // Allocates, but only on the first failure of a run of failures.
                        *last = Some(format!("{:?}: {e}", input.path));
                    }
                }
                return;
            }
        }
        if let Ok(mut last) = shared.input_error.try_lock() {
            *last = None;
        }
    }

    /// The frame to send: `front` itself, or `front` with the overlay applied while latched.
    pub(crate) fn apply<'a>(&'a mut self, front: &'a [u8], shared: &Emergency) -> &'a [u8] {
        if !shared.is_latched() {
            return front;
        }
        let Some(overlay) = self.overlay.as_ref() else {
            return front;
        };
        if self.scratch.len() != front.len() || overlay.frame.len() != front.len() {
            return front;
        }
        self.scratch.copy_from_slice(front);
        for &(start, end) in &overlay.ranges {
            self.scratch[start..end].copy_from_slice(&overlay.frame[start..end]);
        }
        shared.frames_sent.fetch_add(1, Ordering::Relaxed);
        &self.scratch
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn overlay_validates_and_merges_ranges() {
        assert!(Overlay::new(&[0; 4], &[(0, 1)], 5).is_err());
        assert!(Overlay::new(&[0; 4], &[(2, 2)], 4).is_err());
        assert!(Overlay::new(&[0; 4], &[(3, 5)], 4).is_err());
        let o = Overlay::new(&[0; 8], &[(4, 6), (0, 2), (1, 3)], 8).unwrap();
        assert_eq!(o.ranges, vec![(0, 3), (4, 6)]);
        assert_eq!(o.covered(), 5);
    }

    #[test]
    fn applies_only_while_latched_and_only_in_ranges() {
        let e = Emergency::default();
        e.set_overlay(Overlay::new(&[9; 6], &[(1, 3)], 6).unwrap());
        let mut w = EmergencyWorker::new(6);
        let front = [1u8, 2, 3, 4, 5, 6];
        w.poll(&e);
        assert_eq!(w.apply(&front, &e), &front);
        e.engage();
        assert_eq!(w.apply(&front, &e), &[1, 9, 9, 4, 5, 6]);
        assert!(e.release());
        assert_eq!(w.apply(&front, &e), &front);
        let s = e.stats();
        assert_eq!((s.engagements, s.frames_sent, s.covered_bytes), (1, 1, 2));
    }

    #[test]
    fn input_file_latches_and_holds_release_while_asserted() {
        let dir = std::env::temp_dir().join(format!("troc-em-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("value");
        std::fs::write(&path, "0\n").unwrap();
        let e = Emergency::default();
        e.set_input(Some(&path), false).unwrap();
        let mut w = EmergencyWorker::new(4);
        w.poll(&e);
        assert!(!e.is_latched());
        std::fs::write(&path, "1\n").unwrap();
        w.poll(&e);
        assert!(e.is_latched());
        assert!(!e.release(), "released while the input asserts");
        std::fs::write(&path, "0\n").unwrap();
        w.poll(&e);
        assert!(
            e.is_latched(),
            "latched: stays engaged after the input clears"
        );
        assert!(e.release());
        // Active low: '0' asserts.
        e.set_input(Some(&path), true).unwrap();
        w.poll(&e);
        assert!(e.is_latched());
        std::fs::write(&path, "1").unwrap();
        w.poll(&e);
        assert!(e.release());
        // A missing file is not asserted; the error is counted and kept.
        std::fs::remove_file(&path).unwrap();
        w.poll(&e);
        let s = e.stats();
        assert!(!s.input_asserted);
        assert_eq!(s.input_errors, 1);
        assert!(s.input_error.unwrap().contains("No such file"));
        let _ = std::fs::remove_dir_all(&dir);
    }
}
