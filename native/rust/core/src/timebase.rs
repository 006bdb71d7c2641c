//! The vocabulary the frame clock, its sinks and the emergency overlay share: clock
//! parameters ([`ClockConfig`]), the [`FrameSink`] trait, deadline arithmetic ([`Schedule`])
//! and the monotonic time and sleep helpers. It depends on nothing in the crate but the
//! crate's limits and [`Error`], so [`crate::clock`], [`crate::emergency`] and
//! [`crate::output`] all import it and none of them needs to import another the other way
//! (`clock` → `emergency`, `output` → `timebase`).

use crate::{Error, MAX_FRAME_BYTES, MAX_RATE_HZ, MAX_REALTIME_PRIORITY, MIN_RATE_HZ};
use std::sync::atomic::{AtomicBool, Ordering};

/// Longest single sleep of a deadline thread (output thread, Open DMX writers): bounds how long `stop()` waits on slow clocks.
pub const STOP_POLL_NS: u64 = 50_000_000;

pub(crate) const NS_PER_S: u64 = 1_000_000_000;

/// Receives every frame the clock sends. Runs on the output thread: `send` must not block
/// (no locks Python may hold, no blocking I/O) or it delays the next deadline.
pub trait FrameSink: Send {
    /// Put `frame` on the wire. `frame_number` is the index `n` of the deadline
    /// (`epoch + offset(n)`) the frame was sent for: consecutive while the clock keeps up,
    /// with gaps for missed deadlines and while stalled.
    fn send(&mut self, frame: &[u8], frame_number: u64);

    /// Called instead of `send` at the deadlines before anything was published, when `frame`
    /// is a placeholder of zeros (no emergency overlay applies). By default it is sent like any
    /// frame (network receivers keep their data-loss timers fed); Open DMX sends nothing
    /// until the first real frame.
    fn send_placeholder(&mut self, frame: &[u8], frame_number: u64) {
        self.send(frame, frame_number);
    }

    /// Called once from the output thread when the clock stops, with the last frame sent
    /// (all zeros if none), e.g. to send stream-termination packets.
    fn terminate(&mut self, frame: &[u8]) {
        let _ = frame;
    }

    /// Hot standby ([`crate::wire_gate`]): whether this sink keeps sending while its node
    /// does not lead (sACN does, at a lower priority; protocols without priority do not).
    fn sends_as_standby(&self) -> bool {
        false
    }

    /// The node's role changed: e.g. sACN rewrites its priority (configured − `offset` while
    /// standby).
    fn set_standby(&mut self, standby: bool, offset: u8) {
        let _ = (standby, offset);
    }

    /// Planned handover: send stream-termination packets carrying `frame`, then go on
    /// sending as before (the receivers drop this source at once and follow the new leader).
    fn stream_terminated(&mut self, frame: &[u8]) {
        let _ = frame;
    }
}

/// Clock parameters, validated by [`FrameClock::new`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ClockConfig {
    /// Frames per second, finite, [`MIN_RATE_HZ`]..=[`MAX_RATE_HZ`]. Resolved to 0.001 Hz.
    pub rate_hz: f64,
    /// Length of every frame in bytes (> 0).
    pub frame_bytes: usize,
    /// SCHED_FIFO priority for the output thread (1..=99), or 0 to not ask for it.
    pub realtime_priority: i32,
}

impl ClockConfig {
    pub fn new(rate_hz: f64, frame_bytes: usize) -> Self {
        Self {
            rate_hz,
            frame_bytes,
            realtime_priority: 0,
        }
    }

    pub fn with_realtime_priority(mut self, priority: i32) -> Self {
        self.realtime_priority = priority;
        self
    }

    pub fn validate(&self) -> Result<(), Error> {
        if !(self.rate_hz.is_finite() && (MIN_RATE_HZ..=MAX_RATE_HZ).contains(&self.rate_hz)) {
            return Err(Error::InvalidRate(self.rate_hz));
        }
        if self.frame_bytes == 0 || self.frame_bytes > MAX_FRAME_BYTES {
            return Err(Error::InvalidFrameBytes(self.frame_bytes));
        }
        if !(0..=MAX_REALTIME_PRIORITY).contains(&self.realtime_priority) {
            return Err(Error::InvalidPriority(self.realtime_priority));
        }
        Ok(())
    }
}

/// CLOCK_MONOTONIC in nanoseconds (same clock as Python's `time.monotonic_ns()` on Linux).
pub fn monotonic_ns() -> u64 {
    // SAFETY: zeroed is a valid timespec (plain integers, possibly with padding).
    let mut ts: libc::timespec = unsafe { std::mem::zeroed() };
    // SAFETY: valid clock id and a valid out-pointer; CLOCK_MONOTONIC cannot fail on Linux.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    ts.tv_sec as u64 * NS_PER_S + ts.tv_nsec as u64
}

/// CPU time consumed by the calling thread (CLOCK_THREAD_CPUTIME_ID), in nanoseconds.
pub fn thread_cpu_ns() -> u64 {
    // SAFETY: zeroed is a valid timespec.
    let mut ts: libc::timespec = unsafe { std::mem::zeroed() };
    // SAFETY: valid clock id and a valid out-pointer.
    unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    ts.tv_sec as u64 * NS_PER_S + ts.tv_nsec as u64
}

/// Sleep until the absolute CLOCK_MONOTONIC time `target_ns` (returns at once if it passed).
pub(crate) fn sleep_until_abs(target_ns: u64) {
    // SAFETY: zeroed is a valid timespec.
    let mut ts: libc::timespec = unsafe { std::mem::zeroed() };
    ts.tv_sec = (target_ns / NS_PER_S) as libc::time_t;
    ts.tv_nsec = (target_ns % NS_PER_S) as libc::c_long;
    loop {
        // SAFETY: valid timespec; the remain pointer may be null with TIMER_ABSTIME.
        let rc = unsafe {
            libc::clock_nanosleep(
                libc::CLOCK_MONOTONIC,
                libc::TIMER_ABSTIME,
                &ts,
                std::ptr::null_mut(),
            )
        };
        // A signal handler interrupted us: the deadline is absolute, so just sleep again.
        if rc != libc::EINTR {
            debug_assert_eq!(rc, 0, "clock_nanosleep failed");
            return;
        }
    }
}

/// Deadline arithmetic. The rate is kept in millihertz so common rates (44, 29.97, 30 Hz)
/// are represented exactly and `offset(n)` is exact to the nanosecond for any `n`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Schedule {
    rate_mhz: u64,
}

impl Schedule {
    const NS_PER_S_MHZ: u128 = 1_000_000_000_000; // ns per second × mHz per Hz

    pub(crate) fn new(rate_hz: f64) -> Self {
        Self {
            rate_mhz: (rate_hz * 1000.0).round() as u64,
        }
    }

    /// The rate in millihertz (e.g. 44 000 for 44 Hz).
    pub(crate) fn rate_mhz(self) -> u64 {
        self.rate_mhz
    }

    /// Nanoseconds from the epoch to deadline `n`: ⌊n · 10¹² / rate_mHz⌋. u128 so that
    /// `n · 10¹²` cannot overflow; the result fits u64 for ~584 years.
    pub(crate) fn offset_ns(self, n: u64) -> u64 {
        (u128::from(n) * Self::NS_PER_S_MHZ / u128::from(self.rate_mhz)) as u64
    }

    /// Largest `n` with `offset_ns(n) <= elapsed_ns`.
    pub(crate) fn last_index_at(self, elapsed_ns: u64) -> u64 {
        // Floor of the exact inverse is never too large; at most one step up fixes rounding.
        let mut n =
            (u128::from(elapsed_ns) * u128::from(self.rate_mhz) / Self::NS_PER_S_MHZ) as u64;
        while self.offset_ns(n + 1) <= elapsed_ns {
            n += 1;
        }
        n
    }
}

/// Ask for SCHED_FIFO at `priority` for the calling thread. Ok(false) if not asked.
pub(crate) fn request_realtime(priority: i32) -> Result<bool, String> {
    if priority == 0 {
        return Ok(false);
    }
    // SAFETY: sched_param is plain integers; zeroed covers platform-specific extra fields.
    let mut param: libc::sched_param = unsafe { std::mem::zeroed() };
    param.sched_priority = priority;
    // SAFETY: pthread_self() is always valid for the calling thread; param is initialised.
    let rc = unsafe { libc::pthread_setschedparam(libc::pthread_self(), libc::SCHED_FIFO, &param) };
    if rc == 0 {
        Ok(true)
    } else {
        // pthread functions return the error number instead of setting errno.
        Err(format!(
            "SCHED_FIFO priority {priority} refused by pthread_setschedparam: {}",
            std::io::Error::from_raw_os_error(rc)
        ))
    }
}

/// Sleep until `deadline_ns` in slices of at most [`STOP_POLL_NS`], each to an absolute time.
/// Returns false (early) if `stop` was raised.
pub(crate) fn sleep_until_or_stop(deadline_ns: u64, stop: &AtomicBool) -> bool {
    loop {
        if stop.load(Ordering::Acquire) {
            return false;
        }
        let now = monotonic_ns();
        if now >= deadline_ns {
            return true;
        }
        let target = deadline_ns.min(now + STOP_POLL_NS);
        sleep_until_abs(target);
        if target == deadline_ns {
            return !stop.load(Ordering::Acquire);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schedule_is_exact_for_integer_and_ntsc_rates() {
        let s = Schedule::new(44.0);
        assert_eq!(s.offset_ns(1), 22_727_272);
        assert_eq!(s.offset_ns(44), NS_PER_S);
        assert_eq!(s.offset_ns(44 * 3600), 3600 * NS_PER_S);
        let ntsc = Schedule::new(29.97);
        assert_eq!(ntsc.offset_ns(2997), 100 * NS_PER_S);
        // No drift over a year of frames at 1 kHz.
        let k = Schedule::new(1000.0);
        assert_eq!(k.offset_ns(31_536_000_000), 31_536_000 * NS_PER_S);
    }

    #[test]
    fn last_index_at_inverts_offset() {
        for rate in [1.0, 29.97, 44.0, 200.0, 999.999, 1000.0] {
            let s = Schedule::new(rate);
            for n in [0u64, 1, 2, 3, 43, 44, 45, 1_000, 123_456_789] {
                let t = s.offset_ns(n);
                assert_eq!(s.last_index_at(t), n, "rate {rate} n {n} at deadline");
                assert_eq!(
                    s.last_index_at(s.offset_ns(n + 1) - 1),
                    n,
                    "rate {rate} n {n} just before next"
                );
            }
        }
    }

    #[test]
    fn config_validation() {
        let ok = |r: f64, b: usize, p: i32| {
            ClockConfig::new(r, b)
                .with_realtime_priority(p)
                .validate()
                .is_ok()
        };
        assert!(ok(1.0, 1, 0));
        assert!(ok(44.0, 2048, 50));
        assert!(ok(1000.0, MAX_FRAME_BYTES, 99));
        for r in [
            0.0,
            0.999,
            1000.001,
            -44.0,
            f64::NAN,
            f64::INFINITY,
            f64::NEG_INFINITY,
        ] {
            assert!(!ok(r, 512, 0), "rate {r} accepted");
        }
        assert!(!ok(44.0, 0, 0));
        assert!(!ok(44.0, MAX_FRAME_BYTES + 1, 0));
        assert!(!ok(44.0, 512, -1));
        assert!(!ok(44.0, 512, 100));
    }

    #[test]
    fn rate_error_message() {
        let e = ClockConfig::new(0.0, 512).validate().unwrap_err();
        assert_eq!(
            e.to_string(),
            "rate_hz must be between 1 and 1000 Hz (got 0.0)"
        );
        assert!(e.is_invalid_argument());
    }
}
