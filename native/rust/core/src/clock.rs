//! The output frame clock: a native thread that hands the newest complete frame to the sinks
//! at fixed, absolute deadlines, whatever the Python side is doing.
//!
//! # Theory of operation
//!
//! Python renders frame N+1 and [`FrameClock::publish`]es it into the producer end of a
//! [triple buffer](mod@crate::triple_buffer). The output thread ("trocadero-out", SCHED_FIFO when
//! the OS allows it) owns the consumer end and the sinks and loops:
//!
//! 1. sleep until `deadline_n = epoch + offset(n)` with
//!    `clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME)`. `offset(n)` is computed from `n` in
//!    integer nanoseconds (`n · 10¹² / rate_mHz`), never by adding periods, so rounding error
//!    cannot accumulate: the 1000th deadline is as exact as the first;
//! 2. record the lateness `now − deadline_n` in a lock-free histogram;
//! 3. if it woke after later deadlines had already passed, jump to the latest passed one and
//!    count the skipped ones as `missed_deadlines`: a late clock never bursts to catch up;
//! 4. take the newest complete frame. If nothing was published since the previous deadline the
//!    previous frame goes out again and `late_renders` grows (a late render repeats a frame, it
//!    never delays the wire). Before the first publish an all-zero frame is sent and not
//!    counted as late;
//! 5. hand the frame to each sink (before the first publish, as a placeholder:
//!    [`FrameSink::send_placeholder`], which Open DMX does not send), bump `frames_sent`, store `last_frame_ns` and the thread's
//!    CPU time so far (`thread_cpu_ns`, CLOCK_THREAD_CPUTIME_ID).
//!
//! Between 3 and 4 it reads the emergency input file, if one is set, and while the emergency
//! is latched step 5 sends the frame with the emergency overlay's ranges overwritten (in a
//! scratch buffer allocated once): see [`crate::emergency`].
//!
//! The output thread takes no lock on this path: the triple buffer and all counters are
//! atomics, so a Python thread holding the GIL or the producer mutex can never delay it.
//! While `stalled` is set (fault injection for the systemd watchdog test) it keeps waking on
//! deadlines but sends nothing. `stop()` raises a flag that the thread checks on every wake;
//! sleeps longer than [`STOP_POLL_NS`](crate::timebase::STOP_POLL_NS) are cut into absolute slices so that even a 1 Hz clock
//! stops promptly. On the way out the thread calls every sink's `terminate()` once.

use crate::emergency::{Emergency, EmergencyStats, EmergencyWorker, Overlay};
use crate::histogram::Histogram;
use crate::output::{OpenDmxConfig, OpenDmxSink, SerialConfig, SerialOutput};
use crate::output::{OutputConfig, OutputError, OutputHandle, OutputStats, UdpOutput};
use crate::timebase::{
    monotonic_ns, request_realtime, sleep_until_or_stop, thread_cpu_ns, ClockConfig, FrameSink,
    Schedule,
};
use crate::triple_buffer::{triple_buffer, Consumer, Producer};
use crate::wire_gate::{WireGate, WireGateStats};
use crate::Error;
use std::fmt;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock, PoisonError};
use std::thread::JoinHandle;

/// Name of the output thread (≤ 15 bytes, the Linux limit), as shown by `top -H` / `ps -L`.
pub const THREAD_NAME: &str = "trocadero-out";

/// A point-in-time copy of the clock's counters (each read atomically, not all at once).
#[derive(Debug, Clone, PartialEq)]
pub struct Stats {
    /// Deadlines at which a frame was handed to the sinks.
    pub frames_sent: u64,
    /// Successful `publish` calls.
    pub frames_published: u64,
    /// Deadlines that repeated the previous frame because nothing new had been published.
    pub late_renders: u64,
    /// Deadlines skipped because the thread woke after they had passed.
    pub missed_deadlines: u64,
    /// CLOCK_MONOTONIC time (ns) of the last send, 0 if none.
    pub last_frame_ns: u64,
    /// CPU time (ns, CLOCK_THREAD_CPUTIME_ID) the output thread has used so far, sinks
    /// included; updated after every frame. Divide a delta by a `frames_sent` delta for the
    /// CPU cost of a frame.
    pub thread_cpu_ns: u64,
    pub lateness_p50_ns: u64,
    pub lateness_p99_ns: u64,
    pub lateness_max_ns: u64,
    pub lateness_samples: u64,
    /// SCHED_FIFO was requested and granted.
    pub realtime: bool,
    /// Why SCHED_FIFO was refused (e.g. "... Operation not permitted (os error 1)").
    pub realtime_error: Option<String>,
    pub running: bool,
    pub rate_hz: f64,
    pub frame_bytes: usize,
    /// The emergency latch, its input and overlay (the binding flattens these into
    /// `emergency_*` fields).
    pub emergency: EmergencyStats,
}

/// State shared between the handle and the output thread. Only atomics (and a `OnceLock`
/// written once), so the output thread never takes a lock.
struct Shared {
    stop: AtomicBool,
    stalled: AtomicBool,
    running: AtomicBool,
    frames_sent: AtomicU64,
    frames_published: AtomicU64,
    late_renders: AtomicU64,
    missed_deadlines: AtomicU64,
    last_frame_ns: AtomicU64,
    thread_cpu_ns: AtomicU64,
    /// CLOCK_MONOTONIC ns of deadline 0; 0 until the thread has started.
    epoch_ns: AtomicU64,
    lateness: Histogram,
    /// Outcome of the SCHED_FIFO request: Ok(true) granted, Ok(false) not requested.
    realtime: OnceLock<Result<bool, String>>,
    /// The emergency latch, overlay and input (see [`crate::emergency`]).
    emergency: Emergency,
    /// Hot standby: leader-only outputs and sACN priority (see [`crate::wire_gate`]).
    gate: WireGate,
}

/// Everything the output thread takes ownership of at `start()`.
struct Idle {
    consumer: Consumer,
    sinks: Vec<Box<dyn FrameSink>>,
}

/// The frame clock; see the module docs. All methods take `&self` and the type is `Sync`, so
/// it can be shared (e.g. by a Python object) without outer locking.
pub struct FrameClock {
    config: ClockConfig,
    schedule: Schedule,
    shared: Arc<Shared>,
    /// Producer side; a mutex is fine here (one uncontended Python producer) because the output
    /// thread never touches it.
    producer: Mutex<Producer>,
    /// Consumer + sinks until `start()` moves them to the output thread.
    idle: Mutex<Option<Idle>>,
    thread: Mutex<Option<JoinHandle<()>>>,
    /// Stats handles of the outputs added with `add_output`, by id (never touched by the
    /// output thread).
    outputs: Mutex<Vec<OutputHandle>>,
}

/// Lock ignoring poisoning: every critical section here leaves its data consistent.
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl fmt::Debug for FrameClock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FrameClock")
            .field("config", &self.config)
            .field("running", &self.is_running())
            .finish_non_exhaustive()
    }
}

impl FrameClock {
    pub fn new(config: ClockConfig) -> Result<Self, Error> {
        config.validate()?;
        let (producer, consumer) = triple_buffer(config.frame_bytes);
        Ok(Self {
            config,
            schedule: Schedule::new(config.rate_hz),
            shared: Arc::new(Shared {
                stop: AtomicBool::new(false),
                stalled: AtomicBool::new(false),
                running: AtomicBool::new(false),
                frames_sent: AtomicU64::new(0),
                frames_published: AtomicU64::new(0),
                late_renders: AtomicU64::new(0),
                missed_deadlines: AtomicU64::new(0),
                last_frame_ns: AtomicU64::new(0),
                thread_cpu_ns: AtomicU64::new(0),
                epoch_ns: AtomicU64::new(0),
                lateness: Histogram::new(),
                realtime: OnceLock::new(),
                emergency: Emergency::default(),
                gate: WireGate::default(),
            }),
            producer: Mutex::new(producer),
            idle: Mutex::new(Some(Idle {
                consumer,
                sinks: Vec::new(),
            })),
            thread: Mutex::new(None),
            outputs: Mutex::new(Vec::new()),
        })
    }

    pub fn config(&self) -> ClockConfig {
        self.config
    }

    pub fn rate_hz(&self) -> f64 {
        self.config.rate_hz
    }

    pub fn frame_bytes(&self) -> usize {
        self.config.frame_bytes
    }

    /// Nominal period (the actual gaps alternate by ≤ 1 ns so that no error accumulates).
    pub fn period_ns(&self) -> u64 {
        self.schedule.offset_ns(1)
    }

    /// Offset of deadline `n` from the epoch, exactly as the output thread computes it.
    pub fn deadline_offset_ns(&self, n: u64) -> u64 {
        self.schedule.offset_ns(n)
    }

    /// CLOCK_MONOTONIC ns of deadline 0 (one period after the thread started); `None` before.
    pub fn epoch_ns(&self) -> Option<u64> {
        match self.shared.epoch_ns.load(Ordering::Acquire) {
            0 => None,
            t => Some(t),
        }
    }

    /// The first deadline strictly after CLOCK_MONOTONIC time `t_ns`: (index, time in ns).
    /// `None` before `start()`. Lets the producer render exactly for the frame it will hit.
    pub fn deadline_after(&self, t_ns: u64) -> Option<(u64, u64)> {
        let epoch = self.epoch_ns()?;
        let n = if t_ns < epoch {
            0
        } else {
            self.schedule.last_index_at(t_ns - epoch) + 1
        };
        Some((n, epoch + self.schedule.offset_ns(n)))
    }

    /// Register a sink. Only before `start()`: afterwards the sinks belong to the thread.
    pub fn add_sink(&self, sink: Box<dyn FrameSink>) -> Result<(), Error> {
        match lock(&self.idle).as_mut() {
            Some(idle) => {
                idle.sinks.push(sink);
                Ok(())
            }
            None => Err(Error::SinkAfterStart),
        }
    }

    /// Create a network output ([`UdpOutput`]: validates `config` against this clock, builds
    /// its packets, opens its socket) and add it as a sink. Only before `start()`. Returns the
    /// output's id for [`FrameClock::output_stats`].
    pub fn add_output(&self, config: &OutputConfig) -> Result<usize, OutputError> {
        let mut idle = lock(&self.idle);
        let Some(idle) = idle.as_mut() else {
            return Err(OutputError::AfterStart);
        };
        let (output, handle) = UdpOutput::new(config, &self.config)?;
        idle.sinks.push(Box::new(output));
        let mut outputs = lock(&self.outputs);
        outputs.push(handle);
        Ok(outputs.len() - 1)
    }

    /// Create a serial output ([`SerialOutput`]: Enttec DMX USB Pro, one universe of the
    /// frame) and add it as a sink. Only before `start()`. Ids are shared with
    /// [`FrameClock::add_output`]; a device that cannot be opened yet is not an error (the
    /// output reports failing and retries once a second).
    pub fn add_serial_output(&self, config: &SerialConfig) -> Result<usize, OutputError> {
        let mut idle = lock(&self.idle);
        let Some(idle) = idle.as_mut() else {
            return Err(OutputError::AfterStart);
        };
        let (output, handle) = SerialOutput::new(config, &self.config)?;
        idle.sinks.push(Box::new(output));
        let mut outputs = lock(&self.outputs);
        outputs.push(handle);
        Ok(outputs.len() - 1)
    }

    /// Create an Open DMX output ([`OpenDmxSink`]: one universe of the frame, sent by its own
    /// native writer thread with host-timed break and MAB) and add it as a sink. Only before
    /// `start()`. Ids are shared with [`FrameClock::add_output`]. The writer sends nothing
    /// before the first published (or emergency) frame; a device that cannot be opened is not
    /// an error (the output reports failing and retries once a second).
    pub fn add_opendmx_output(&self, config: &OpenDmxConfig) -> Result<usize, OutputError> {
        let mut idle = lock(&self.idle);
        let Some(idle) = idle.as_mut() else {
            return Err(OutputError::AfterStart);
        };
        let (output, handle) = OpenDmxSink::new(config, self.config.frame_bytes)?;
        idle.sinks.push(Box::new(output));
        let mut outputs = lock(&self.outputs);
        outputs.push(handle);
        Ok(outputs.len() - 1)
    }

    /// Statistics of output `id` (from [`FrameClock::add_output`]), `None` for an unknown id.
    pub fn output_stats(&self, id: usize) -> Option<OutputStats> {
        let handle = lock(&self.outputs).get(id).cloned();
        handle.map(|h| h.stats())
    }

    /// Number of outputs added with [`FrameClock::add_output`].
    pub fn output_count(&self) -> usize {
        lock(&self.outputs).len()
    }

    /// Spawn the output thread. A clock runs at most once: a second call (even after
    /// `stop()`) returns [`Error::AlreadyStarted`].
    pub fn start(&self) -> Result<(), Error> {
        // Held across the spawn so a concurrent stop() sees either no thread or the handle.
        let mut thread = lock(&self.thread);
        let idle = lock(&self.idle).take().ok_or(Error::AlreadyStarted)?;
        self.shared.running.store(true, Ordering::Release);
        let shared = Arc::clone(&self.shared);
        let schedule = self.schedule;
        let priority = self.config.realtime_priority;
        // start() returns once the thread has asked for SCHED_FIFO, so the caller's first
        // stats() already says whether it was granted (and can log a refusal once).
        let (ready_tx, ready_rx) = std::sync::mpsc::sync_channel::<()>(1);
        let spawned = std::thread::Builder::new()
            .name(THREAD_NAME.to_owned())
            .spawn(move || output_thread(&shared, schedule, priority, idle, &ready_tx));
        match spawned {
            Ok(handle) => {
                // Err only if the thread died first; stats() then reports it not running.
                let _ = ready_rx.recv();
                *thread = Some(handle);
                Ok(())
            }
            Err(e) => {
                self.shared.running.store(false, Ordering::Release);
                Err(Error::Spawn(e))
            }
        }
    }

    /// Stop the output thread and wait for it (at most one period, or [`STOP_POLL_NS`](crate::timebase::STOP_POLL_NS) for
    /// slow clocks, plus the sinks' `terminate()`). Idempotent; a no-op before `start()`.
    pub fn stop(&self) {
        // Holding the lock while joining makes a concurrent second stop() wait for the first.
        let mut thread = lock(&self.thread);
        if let Some(handle) = thread.take() {
            self.shared.stop.store(true, Ordering::Release);
            // A panicking sink has already ended the thread; there is nothing left to undo.
            let _ = handle.join();
        }
    }

    pub fn is_running(&self) -> bool {
        self.shared.running.load(Ordering::Acquire)
    }

    /// Copy `frame` into the back buffer and publish it as the newest complete frame.
    pub fn publish(&self, frame: &[u8]) -> Result<(), Error> {
        let expected = self.config.frame_bytes;
        if frame.len() != expected {
            return Err(Error::FrameLength {
                expected,
                got: frame.len(),
            });
        }
        self.publish_with(|back| back.copy_from_slice(frame));
        Ok(())
    }

    /// Render straight into the back buffer, then publish. `render` must overwrite the whole
    /// slice: it holds an older frame.
    pub fn publish_with(&self, render: impl FnOnce(&mut [u8])) {
        let mut producer = lock(&self.producer);
        render(producer.back_mut());
        producer.publish();
        self.shared.frames_published.fetch_add(1, Ordering::Relaxed);
    }

    /// Fault injection: while set, the thread keeps its schedule but sends nothing.
    pub fn set_stalled(&self, stalled: bool) {
        self.shared.stalled.store(stalled, Ordering::Relaxed);
    }

    pub fn is_stalled(&self) -> bool {
        self.shared.stalled.load(Ordering::Relaxed)
    }

    /// The lateness histogram as cumulative counts at `bounds_ns` (see
    /// [`Histogram::cumulative`]): (counts, total, estimated sum in ns).
    pub fn lateness_cumulative(&self, bounds_ns: &[u64]) -> (Vec<u64>, u64, u64) {
        self.shared.lateness.cumulative(bounds_ns)
    }

    /// Start a fresh lateness measurement window.
    pub fn reset_lateness(&self) {
        self.shared.lateness.reset();
    }

    pub fn stats(&self) -> Stats {
        let s = &*self.shared;
        let realtime = s.realtime.get();
        Stats {
            frames_sent: s.frames_sent.load(Ordering::Relaxed),
            frames_published: s.frames_published.load(Ordering::Relaxed),
            late_renders: s.late_renders.load(Ordering::Relaxed),
            missed_deadlines: s.missed_deadlines.load(Ordering::Relaxed),
            last_frame_ns: s.last_frame_ns.load(Ordering::Relaxed),
            thread_cpu_ns: s.thread_cpu_ns.load(Ordering::Relaxed),
            lateness_p50_ns: s.lateness.percentile(0.50),
            lateness_p99_ns: s.lateness.percentile(0.99),
            lateness_max_ns: s.lateness.max(),
            lateness_samples: s.lateness.count(),
            realtime: matches!(realtime, Some(Ok(true))),
            realtime_error: realtime.and_then(|r| r.as_ref().err().cloned()),
            running: s.running.load(Ordering::Acquire),
            rate_hz: self.config.rate_hz,
            frame_bytes: self.config.frame_bytes,
            emergency: s.emergency.stats(),
        }
    }

    /// Install (or replace) the emergency frame: `frame` (`frame_bytes` long) replaces the
    /// published frame in `ranges` ((start, end) byte offsets, any order, overlaps allowed)
    /// while the latch is set; outside them the published frame goes out. Before or after
    /// `start()`; the output thread picks it up at a following deadline without ever waiting
    /// on this call.
    pub fn set_emergency_overlay(
        &self,
        frame: &[u8],
        ranges: &[(usize, usize)],
    ) -> Result<(), Error> {
        let overlay = Overlay::new(frame, ranges, self.config.frame_bytes)?;
        self.shared.emergency.set_overlay(overlay);
        Ok(())
    }

    /// The file (or sysfs GPIO `value`) the output thread reads at every deadline (open,
    /// read, close): a first non-whitespace byte `1` (anything else with `active_low`)
    /// latches the emergency; a missing or unreadable file does not (it is counted in the
    /// stats). None: no input. Errors only for a path with a NUL byte.
    pub fn set_emergency_input(
        &self,
        path: Option<&std::path::Path>,
        active_low: bool,
    ) -> Result<(), Error> {
        self.shared.emergency.set_input(path, active_low)
    }

    /// Latch the emergency (idempotent): the next deadline sends the overlay.
    pub fn engage_emergency(&self) {
        self.shared.emergency.engage();
    }

    /// Clear the latch, unless the input asserts right now (read by this call): then false,
    /// still latched.
    pub fn release_emergency(&self) -> bool {
        self.shared.emergency.release()
    }

    /// Hot standby: from now on the node leads only while a lease is set
    /// ([`FrameClock::set_lease_until`]); until then and after it runs out, leader-only
    /// outputs are withheld and sACN goes out at priority − `standby_offset`.
    pub fn enable_wire_gate(&self, standby_offset: u8) {
        self.shared.gate.enable(standby_offset);
    }

    /// Lead until CLOCK_MONOTONIC `until_ns` (0: stand by from the next deadline).
    pub fn set_lease_until(&self, until_ns: u64) {
        self.shared.gate.set_lease_until(until_ns);
    }

    /// Send three Stream_Terminated packets per sACN universe at the next deadline.
    pub fn request_stream_terminated(&self) {
        self.shared.gate.request_stream_terminated();
    }

    pub fn wire_gate_stats(&self) -> WireGateStats {
        self.shared.gate.stats()
    }
}

impl Drop for FrameClock {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Clears `running` when the output thread exits, including by a sink's panic.
struct RunningGuard<'a>(&'a Shared);

impl Drop for RunningGuard<'_> {
    fn drop(&mut self) {
        self.0.running.store(false, Ordering::Release);
    }
}

fn output_thread(
    shared: &Shared,
    schedule: Schedule,
    priority: i32,
    idle: Idle,
    ready: &std::sync::mpsc::SyncSender<()>,
) {
    let _running = RunningGuard(shared);
    let Idle {
        mut consumer,
        mut sinks,
    } = idle;
    // Only this thread sets it, once, so `set` cannot fail.
    let _ = shared.realtime.set(request_realtime(priority));

    // Deadline 0 is one period out: the producer gets a period to publish a first frame.
    let epoch = monotonic_ns() + schedule.offset_ns(1);
    shared.epoch_ns.store(epoch, Ordering::Release);
    let _ = ready.send(());

    let mut n: u64 = 0;
    let mut have_frame = false;
    let mut emergency = EmergencyWorker::new(consumer.front().len());
    let mut leading = true; // what the sinks were last told (they start as leaders)
    let mut terminations_served = shared.gate.terminate_requests();
    loop {
        let deadline = epoch + schedule.offset_ns(n);
        if !sleep_until_or_stop(deadline, &shared.stop) {
            break;
        }
        let woke = monotonic_ns();
        // Saturating only as a guard: an absolute clock_nanosleep never returns early.
        shared.lateness.record(woke.saturating_sub(deadline));

        // Woke after later deadlines too: serve only the newest passed one, count the rest.
        let current = schedule.last_index_at(woke.saturating_sub(epoch)).max(n);
        if current > n {
            shared
                .missed_deadlines
                .fetch_add(current - n, Ordering::Relaxed);
        }

        emergency.poll(&shared.emergency);
        if !shared.stalled.load(Ordering::Relaxed) {
            if consumer.take() {
                have_frame = true;
            } else if have_frame {
                shared.late_renders.fetch_add(1, Ordering::Relaxed);
            }
            let role = shared.gate.role_at(woke);
            if role.leading != leading {
                leading = role.leading;
                for sink in sinks.iter_mut() {
                    sink.set_standby(!leading, role.standby_offset);
                }
            }
            if !leading {
                shared.gate.count_withheld();
            }
            let front = consumer.front();
            let requests = shared.gate.terminate_requests();
            if requests != terminations_served {
                // Sent before this deadline's data: whoever asked has handed over already.
                terminations_served = requests;
                let frame = emergency.compose(front, &shared.emergency).unwrap_or(front);
                for sink in sinks.iter_mut() {
                    sink.stream_terminated(frame);
                }
                shared.gate.count_terminated();
            }
            let allowed = |sink: &&mut Box<dyn FrameSink>| leading || sink.sends_as_standby();
            match emergency.compose(front, &shared.emergency) {
                Some(composed) => {
                    shared.emergency.count_frame_sent();
                    for sink in sinks.iter_mut().filter(allowed) {
                        sink.send(composed, current);
                    }
                }
                None if have_frame => {
                    for sink in sinks.iter_mut().filter(allowed) {
                        sink.send(front, current);
                    }
                }
                None => {
                    for sink in sinks.iter_mut().filter(allowed) {
                        sink.send_placeholder(front, current);
                    }
                }
            }
            shared.frames_sent.fetch_add(1, Ordering::Relaxed);
            shared
                .last_frame_ns
                .store(monotonic_ns(), Ordering::Relaxed);
        }
        shared
            .thread_cpu_ns
            .store(thread_cpu_ns(), Ordering::Relaxed);
        n = current + 1;
    }

    // Termination packets carry what the last frame carried: the emergency if latched.
    let front = consumer.front();
    let frame = emergency.compose(front, &shared.emergency).unwrap_or(front);
    for sink in sinks.iter_mut() {
        sink.terminate(frame);
    }
    shared
        .thread_cpu_ns
        .store(thread_cpu_ns(), Ordering::Relaxed);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn monotonic_ns_matches_std_monotonic_rate() {
        let a = monotonic_ns();
        let i = std::time::Instant::now();
        std::thread::sleep(std::time::Duration::from_millis(20));
        let b = monotonic_ns();
        let dt = i.elapsed().as_nanos() as i128;
        assert!(((b - a) as i128 - dt).abs() < 5_000_000);
    }
}
