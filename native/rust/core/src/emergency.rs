//! The emergency override, applied by the output thread itself.
//!
//! Python installs an *overlay* (a whole frame plus the byte ranges it replaces: the slots of
//! the canvases that have an emergency look) and, optionally, an *input* file (a sysfs GPIO
//! `value`, or any file) that the output thread reads at every deadline. While the latch is
//! set, every frame handed to the sinks is the published frame with the overlay's ranges
//! overwritten; outside the ranges the published frame keeps going out. The latch is set by
//! [`Emergency::engage`] (the API) or by the input reading asserted, and stays set until
//! [`Emergency::release`], which is refused while the input asserts. So life-safety light
//! reaches the wire on the next deadline even when Python is wedged: nothing on this path
//! needs the GIL or a lock Python may hold.
//!
//! # Why a generation counter and `try_lock`
//!
//! The overlay and the input change rarely (show load, config reload) and are read every
//! frame. Each lives in a `Mutex<Option<Arc<_>>>` that the Python side locks only to swap the
//! `Arc`, then bumps `generation`. The output thread keeps its own clone of both `Arc`s and
//! looks at the mutexes only when `generation` moved, and then with `try_lock`: on contention
//! it keeps the previous overlay for one more frame and retries at the next deadline. So it
//! never waits for a thread that might be descheduled (or holding the GIL) mid-swap. An
//! `AtomicPtr` swap would avoid even the `try_lock`, but freeing the old overlay safely would
//! then need hazard pointers or epochs; not worth it for a value set a few times per run.
//! (When the thread drops its clone of a replaced overlay it may free it: one `free`, no
//! waiting on Python.)

use crate::Error;
use std::ffi::CString;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

/// Longest input read: "0\n"/"1\n" from sysfs, with room for surrounding whitespace.
const INPUT_READ_BYTES: usize = 16;

/// A frame and the (start, end) byte ranges of it that replace the published frame.
#[derive(Debug)]
pub struct Overlay {
    frame: Vec<u8>,
    /// Sorted, non-overlapping, non-adjacent (merged), each `start < end <= frame.len()`.
    ranges: Vec<(usize, usize)>,
}

impl Overlay {
    /// Checks that `frame` has `frame_bytes` bytes and that every range lies in it with
    /// start < end (in any order; overlaps allowed). Ranges are sorted and merged.
    pub fn new(frame: &[u8], ranges: &[(usize, usize)], frame_bytes: usize) -> Result<Self, Error> {
        if frame.len() != frame_bytes {
            return Err(Error::EmergencyFrameLength {
                expected: frame_bytes,
                got: frame.len(),
            });
        }
        for (index, &(start, end)) in ranges.iter().enumerate() {
            if start >= end || end > frame_bytes {
                return Err(Error::EmergencyRange {
                    index,
                    start: start as i128,
                    end: end as i128,
                    frame_bytes,
                });
            }
        }
        let mut sorted = ranges.to_vec();
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

    /// The merged ranges, sorted.
    pub fn ranges(&self) -> &[(usize, usize)] {
        &self.ranges
    }
}

#[derive(Debug)]
struct Input {
    /// Built once here so that the output thread's `open` needs no allocation.
    path: CString,
    /// For error texts.
    display: String,
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
    covered_bytes: AtomicUsize,
    /// Bumped after every change of `overlay` or `input` (see the module docs).
    generation: AtomicU64,
    overlay: Mutex<Option<Arc<Overlay>>>,
    input: Mutex<Option<Arc<Input>>>,
    input_error: Mutex<Option<String>>,
}

/// A copy of the emergency counters (each read atomically, not all at once).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct EmergencyStats {
    pub latched: bool,
    /// The input read asserted at the last deadline (false without an input).
    pub input_asserted: bool,
    /// Transitions to latched.
    pub engagements: u64,
    /// Frames sent with the overlay applied (termination packets not counted).
    pub frames_sent: u64,
    /// CLOCK_MONOTONIC ns of the last engagement, 0 if never.
    pub latched_at_ns: u64,
    /// Reads of the input that failed (missing or unreadable file): not asserted.
    pub input_errors: u64,
    /// The most recent such failure (kept after the input reads again).
    pub input_error: Option<String>,
    /// Bytes the installed overlay replaces (0: none installed).
    pub covered_bytes: usize,
}

/// Lock ignoring poisoning: every critical section here is a plain assignment.
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Emergency {
    pub fn set_overlay(&self, overlay: Overlay) {
        let covered = overlay.covered();
        let old = lock(&self.overlay).replace(Arc::new(overlay));
        self.covered_bytes.store(covered, Ordering::Relaxed);
        self.generation.fetch_add(1, Ordering::Release);
        drop(old); // outside the lock
    }

    /// The file to poll (None: no input). Errors only for a path containing a NUL byte.
    pub fn set_input(&self, path: Option<&Path>, active_low: bool) -> Result<(), Error> {
        let input = match path {
            None => None,
            Some(p) => {
                let c = CString::new(p.as_os_str().as_bytes())
                    .map_err(|_| Error::EmergencyInputPath(p.to_path_buf()))?;
                Some(Arc::new(Input {
                    path: c,
                    display: p.display().to_string(),
                    active_low,
                }))
            }
        };
        let old = std::mem::replace(&mut *lock(&self.input), input);
        self.generation.fetch_add(1, Ordering::Release);
        drop(old);
        Ok(())
    }

    /// Set the latch (idempotent).
    pub fn engage(&self) {
        if !self.latched.swap(true, Ordering::AcqRel) {
            self.engagements.fetch_add(1, Ordering::Relaxed);
            self.latched_at_ns
                .store(crate::timebase::monotonic_ns(), Ordering::Relaxed);
        }
    }

    /// Clear the latch; false (and still latched) while the input asserts. The input is read
    /// here, on the caller's thread: the output thread's last reading may be a period old, or
    /// missing altogether before `start()`. (If the input asserts just after this read, the
    /// output thread still composes that frame and latches again at its next deadline.)
    pub fn release(&self) -> bool {
        let input = lock(&self.input).clone();
        if input.is_some_and(|i| read_input(&i).unwrap_or(false)) {
            return false;
        }
        self.latched.store(false, Ordering::Release);
        true
    }

    pub fn is_latched(&self) -> bool {
        self.latched.load(Ordering::Acquire)
    }

    pub(crate) fn count_frame_sent(&self) {
        self.frames_sent.fetch_add(1, Ordering::Relaxed);
    }

    pub fn stats(&self) -> EmergencyStats {
        EmergencyStats {
            latched: self.latched.load(Ordering::Acquire),
            input_asserted: self.input_asserted.load(Ordering::Acquire),
            engagements: self.engagements.load(Ordering::Relaxed),
            frames_sent: self.frames_sent.load(Ordering::Relaxed),
            latched_at_ns: self.latched_at_ns.load(Ordering::Relaxed),
            input_errors: self.input_errors.load(Ordering::Relaxed),
            input_error: lock(&self.input_error).clone(),
            covered_bytes: self.covered_bytes.load(Ordering::Relaxed),
        }
    }
}

/// Read the input: Ok(asserted) or the OS error. open/read/close every time (a sysfs GPIO
/// `value` must be re-read from offset 0, and a file replaced by rename is seen at once) on a
/// prebuilt C path: no allocation. Asserted: the first non-whitespace byte is `1`, inverted
/// by `active_low`; an empty file is `0`.
fn read_input(input: &Input) -> Result<bool, std::io::Error> {
    // SAFETY: `path` is a valid NUL-terminated string that outlives the call. O_NONBLOCK: a
    // FIFO put there by mistake must not block the output thread.
    let fd = unsafe {
        libc::open(
            input.path.as_ptr(),
            libc::O_RDONLY | libc::O_NONBLOCK | libc::O_CLOEXEC,
        )
    };
    if fd < 0 {
        return Err(std::io::Error::last_os_error());
    }
    let mut buf = [0u8; INPUT_READ_BYTES];
    // SAFETY: fd is open; buf is writable for its full length.
    let n = unsafe { libc::read(fd, buf.as_mut_ptr().cast(), buf.len()) };
    // Taken before close(), which may overwrite errno.
    let err = std::io::Error::last_os_error();
    // SAFETY: fd was opened above and is closed exactly once.
    unsafe { libc::close(fd) };
    let Ok(n) = usize::try_from(n) else {
        return Err(err);
    };
    let first = buf[..n].iter().copied().find(|b| !b.is_ascii_whitespace());
    Ok((first == Some(b'1')) != input.active_low)
}

/// The output thread's side: its cached overlay and input, and the scratch frame allocated
/// once when the thread starts.
#[derive(Debug)]
pub(crate) struct EmergencyWorker {
    generation: u64,
    overlay: Option<Arc<Overlay>>,
    input: Option<Arc<Input>>,
    /// The input read asserted at this deadline: composes even if a `release()` raced with
    /// the latch (the next poll latches again).
    asserted: bool,
    /// errno whose text is in `Emergency::input_error`: a persistent error is formatted once,
    /// not every frame.
    recorded_errno: Option<i32>,
    scratch: Vec<u8>,
}

impl EmergencyWorker {
    pub(crate) fn new(frame_bytes: usize) -> Self {
        Self {
            generation: u64::MAX,
            overlay: None,
            input: None,
            asserted: false,
            recorded_errno: None,
            scratch: vec![0; frame_bytes],
        }
    }

    fn refresh(&mut self, shared: &Emergency) {
        let generation = shared.generation.load(Ordering::Acquire);
        if generation == self.generation {
            return;
        }
        // Never wait on the Python side: on contention keep the cached pair, retry next frame.
        let (Ok(overlay), Ok(input)) = (shared.overlay.try_lock(), shared.input.try_lock()) else {
            return;
        };
        let changed_input = match (&*input, &self.input) {
            (Some(a), Some(b)) => !Arc::ptr_eq(a, b),
            (a, b) => a.is_some() != b.is_some(),
        };
        if changed_input {
            self.recorded_errno = None;
        }
        self.overlay.clone_from(&overlay);
        self.input.clone_from(&input);
        self.generation = generation;
    }

    /// Once per deadline: pick up a new overlay/input, read the input, latch if asserted.
    pub(crate) fn poll(&mut self, shared: &Emergency) {
        self.refresh(shared);
        self.asserted = false;
        if let Some(input) = self.input.as_deref() {
            match read_input(input) {
                Ok(asserted) => {
                    self.asserted = asserted;
                    if asserted {
                        shared.engage();
                    }
                }
                Err(e) => {
                    shared.input_errors.fetch_add(1, Ordering::Relaxed);
                    let errno = e.raw_os_error().unwrap_or(-1);
                    if self.recorded_errno != Some(errno) {
                        // Python may be reading stats: skip, and try again next frame.
                        if let Ok(mut last) = shared.input_error.try_lock() {
                            *last = Some(format!("emergency input {}: {e}", input.display));
                            self.recorded_errno = Some(errno);
                        }
                    }
                }
            }
        }
        shared
            .input_asserted
            .store(self.asserted, Ordering::Release);
    }

    /// The frame to send instead of `front` while latched (or while the input asserts at
    /// this deadline): `front` with the overlay's ranges overwritten, in the scratch buffer.
    /// None: send `front` as it is.
    pub(crate) fn compose(&mut self, front: &[u8], shared: &Emergency) -> Option<&[u8]> {
        if !(self.asserted || shared.is_latched()) {
            return None;
        }
        let overlay = self.overlay.as_deref()?;
        // Both were sized from the clock's frame_bytes; never a partial overlay.
        if overlay.frame.len() != front.len() || self.scratch.len() != front.len() {
            return None;
        }
        self.scratch.copy_from_slice(front);
        for &(start, end) in &overlay.ranges {
            self.scratch[start..end].copy_from_slice(&overlay.frame[start..end]);
        }
        Some(&self.scratch)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn overlay_validates_and_merges_ranges() {
        assert!(matches!(
            Overlay::new(&[0; 4], &[(0, 1)], 5),
            Err(Error::EmergencyFrameLength {
                expected: 5,
                got: 4
            })
        ));
        assert!(matches!(
            Overlay::new(&[0; 4], &[(0, 1), (2, 2)], 4),
            Err(Error::EmergencyRange { index: 1, .. })
        ));
        assert!(Overlay::new(&[0; 4], &[(3, 5)], 4).is_err());
        assert!(Overlay::new(&[0; 4], &[(3, 1)], 4).is_err());
        let o = Overlay::new(&[0; 8], &[(4, 6), (0, 2), (1, 3), (6, 7)], 8).unwrap();
        assert_eq!(o.ranges(), &[(0, 3), (4, 7)]);
        assert_eq!(o.covered(), 6);
        assert_eq!(Overlay::new(&[0; 4], &[], 4).unwrap().covered(), 0);
    }

    #[test]
    fn composes_only_while_latched_and_only_in_ranges() {
        let e = Emergency::default();
        e.set_overlay(Overlay::new(&[9; 6], &[(1, 3)], 6).unwrap());
        let mut w = EmergencyWorker::new(6);
        let front = [1u8, 2, 3, 4, 5, 6];
        w.poll(&e);
        assert_eq!(w.compose(&front, &e), None);
        e.engage();
        e.engage();
        assert_eq!(w.compose(&front, &e), Some(&[1, 9, 9, 4, 5, 6][..]));
        assert!(e.release());
        assert_eq!(w.compose(&front, &e), None);
        let s = e.stats();
        assert_eq!((s.engagements, s.covered_bytes), (1, 2));
        assert!(s.latched_at_ns > 0);
    }

    #[test]
    fn input_errors_are_counted_and_the_last_text_kept() {
        let dir = std::env::temp_dir().join(format!("troc-em-unit-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("value");
        let e = Emergency::default();
        e.set_input(Some(&path), true).unwrap();
        let mut w = EmergencyWorker::new(1);
        w.poll(&e);
        w.poll(&e);
        // Missing: not asserted, even active-low.
        let s = e.stats();
        assert!(!s.input_asserted && !s.latched);
        assert_eq!(s.input_errors, 2);
        let text = s.input_error.unwrap();
        assert!(
            text.contains("No such file") && text.contains("value"),
            "{text}"
        );
        std::fs::write(&path, "1\n").unwrap();
        w.poll(&e);
        let s = e.stats();
        assert_eq!(s.input_errors, 2);
        assert!(s.input_error.is_some(), "kept after the input reads again");
        assert!(matches!(
            e.set_input(Some(Path::new("a\0b")), false),
            Err(Error::EmergencyInputPath(_))
        ));
        let _ = std::fs::remove_dir_all(&dir);
    }
}
