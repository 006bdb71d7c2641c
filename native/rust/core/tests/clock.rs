//! Behavioural tests of the frame clock through its public API, with a recording sink.
//!
//! Timing assertions are deliberately generous (these machines are shared and noisy): they
//! check structure (absolute deadlines, no drift, no bursts), not scheduler quality.

use std::sync::{Arc, Mutex};
use std::thread::sleep;
use std::time::{Duration, Instant};
use trocadero_core::timebase::monotonic_ns;
use trocadero_core::{ClockConfig, Error, FrameClock, FrameSink};

#[derive(Debug, Clone)]
struct Sent {
    frame_number: u64,
    at_ns: u64,
    frame: Vec<u8>,
}

#[derive(Debug, Default)]
struct Log {
    sent: Vec<Sent>,
    terminated: Vec<Vec<u8>>,
}

/// Records every send/terminate into a shared log. Optionally sleeps inside one `send` to
/// simulate an overrun.
#[derive(Clone, Default)]
struct Recorder {
    log: Arc<Mutex<Log>>,
    stall_on_frame: Option<(u64, Duration)>,
}

impl Recorder {
    fn sent(&self) -> Vec<Sent> {
        self.log.lock().unwrap().sent.clone()
    }
    fn terminated(&self) -> Vec<Vec<u8>> {
        self.log.lock().unwrap().terminated.clone()
    }
}

impl FrameSink for Recorder {
    fn send(&mut self, frame: &[u8], frame_number: u64) {
        let at_ns = monotonic_ns();
        self.log.lock().unwrap().sent.push(Sent {
            frame_number,
            at_ns,
            frame: frame.to_vec(),
        });
        if let Some((n, d)) = self.stall_on_frame {
            if frame_number == n {
                sleep(d);
            }
        }
    }
    fn terminate(&mut self, frame: &[u8]) {
        self.log.lock().unwrap().terminated.push(frame.to_vec());
    }
}

fn clock_with_recorder(rate_hz: f64, frame_bytes: usize) -> (FrameClock, Recorder) {
    let clock = FrameClock::new(ClockConfig::new(rate_hz, frame_bytes)).unwrap();
    let rec = Recorder::default();
    clock.add_sink(Box::new(rec.clone())).unwrap();
    (clock, rec)
}

/// Poll `cond` every millisecond for up to `timeout`.
fn wait_for(timeout: Duration, mut cond: impl FnMut() -> bool) -> bool {
    let t0 = Instant::now();
    while t0.elapsed() < timeout {
        if cond() {
            return true;
        }
        sleep(Duration::from_millis(1));
    }
    cond()
}

fn mean(xs: &[i64]) -> f64 {
    xs.iter().map(|&x| x as f64).sum::<f64>() / xs.len() as f64
}

#[test]
fn deadlines_are_absolute_and_do_not_drift() {
    let (clock, rec) = clock_with_recorder(200.0, 8);
    clock.start().unwrap();
    sleep(Duration::from_millis(1600));
    clock.stop();
    let epoch = clock.epoch_ns().expect("epoch set once started");
    let sent = rec.sent();
    assert!(
        sent.len() >= 200,
        "only {} frames in 1.6 s at 200 Hz",
        sent.len()
    );

    let mut lateness = Vec::with_capacity(sent.len());
    for pair in sent.windows(2) {
        assert!(
            pair[1].frame_number > pair[0].frame_number,
            "frame numbers must increase"
        );
    }
    for s in &sent {
        let deadline = epoch + clock.deadline_offset_ns(s.frame_number);
        // An absolute-deadline sleep never returns early.
        assert!(
            s.at_ns >= deadline,
            "frame {} sent before its deadline",
            s.frame_number
        );
        lateness.push((s.at_ns - deadline) as i64);
    }
    // The n-th send happens close to epoch + n·period (typically tens of µs late).
    let mut sorted = lateness.clone();
    sorted.sort_unstable();
    let median = sorted[sorted.len() / 2];
    let p90 = sorted[sorted.len() * 9 / 10];
    assert!(median < 3_000_000, "median lateness {median} ns");
    assert!(p90 < 10_000_000, "p90 lateness {p90} ns");

    // No drift: a clock that sleeps "one period" per loop accumulates its overhead, so the
    // mean lateness of the last quarter would exceed the first quarter's by milliseconds.
    let q = lateness.len() / 4;
    let first = mean(&lateness[..q]);
    let last = mean(&lateness[lateness.len() - q..]);
    assert!(
        last - first < 2_000_000.0,
        "lateness grew from {first:.0} ns to {last:.0} ns"
    );

    // Every deadline up to the last one is accounted for: sent or counted as missed.
    let stats = clock.stats();
    let last_n = sent.last().unwrap().frame_number;
    assert_eq!(stats.frames_sent, sent.len() as u64);
    assert_eq!(stats.frames_sent + stats.missed_deadlines, last_n + 1);
    assert_eq!(stats.lateness_samples, stats.frames_sent);
    assert!(stats.lateness_p50_ns <= stats.lateness_p99_ns);
    assert!(stats.lateness_p99_ns <= stats.lateness_max_ns);
}

#[test]
fn before_first_publish_sends_zero_frames_without_late_renders() {
    let (clock, rec) = clock_with_recorder(200.0, 16);
    clock.start().unwrap();
    assert!(wait_for(Duration::from_secs(5), || clock
        .stats()
        .frames_sent
        >= 10));
    let stats = clock.stats();
    assert_eq!(stats.late_renders, 0);
    assert_eq!(stats.frames_published, 0);
    assert!(rec.sent().iter().all(|s| s.frame == vec![0u8; 16]));
    clock.stop();
}

#[test]
fn late_render_repeats_the_previous_frame_and_is_counted() {
    let (clock, rec) = clock_with_recorder(100.0, 8);
    clock.publish(&[1; 8]).unwrap();
    clock.start().unwrap();
    assert!(wait_for(Duration::from_secs(5), || !rec.sent().is_empty()));
    let before = clock.stats().late_renders;
    // Publish nothing for ~300 ms: ~30 deadlines repeat frame [1; 8].
    sleep(Duration::from_millis(300));
    let during = clock.stats().late_renders - before;
    assert!(
        during >= 10,
        "only {during} late renders in 300 ms at 100 Hz"
    );
    assert!(rec.sent().iter().all(|s| s.frame == vec![1u8; 8]));

    clock.publish(&[2; 8]).unwrap();
    assert!(wait_for(Duration::from_secs(5), || rec
        .sent()
        .last()
        .is_some_and(|s| s.frame == vec![2u8; 8])));
    clock.stop();
    let stats = clock.stats();
    assert_eq!(stats.frames_published, 2);
    // Exactly two sends carried fresh frames; every other send was a counted repeat.
    assert_eq!(stats.late_renders, stats.frames_sent - 2);
    assert!(stats.last_frame_ns > 0 && stats.last_frame_ns <= monotonic_ns());
}

#[test]
fn stalled_clock_sends_nothing_and_resumes() {
    let (clock, rec) = clock_with_recorder(200.0, 4);
    clock.start().unwrap();
    assert!(wait_for(Duration::from_secs(5), || clock
        .stats()
        .frames_sent
        >= 5));
    clock.set_stalled(true);
    // Let a send that was already past the stalled check finish.
    sleep(Duration::from_millis(30));
    let frozen = clock.stats();
    let frozen_log = rec.sent().len();
    sleep(Duration::from_millis(200));
    let later = clock.stats();
    assert_eq!(later.frames_sent, frozen.frames_sent);
    assert_eq!(later.last_frame_ns, frozen.last_frame_ns);
    assert_eq!(rec.sent().len(), frozen_log);
    assert!(later.running);
    // The thread keeps waking on its deadlines while stalled.
    assert!(later.lateness_samples > frozen.lateness_samples);

    clock.set_stalled(false);
    assert!(wait_for(Duration::from_secs(5), || clock
        .stats()
        .frames_sent
        > frozen.frames_sent + 5));
    clock.stop();
}

#[test]
fn stop_terminates_each_sink_once_and_joins_quickly() {
    // 1 Hz: a naive implementation would take up to a second to notice stop().
    let clock = FrameClock::new(ClockConfig::new(1.0, 4)).unwrap();
    let a = Recorder::default();
    let b = Recorder::default();
    clock.add_sink(Box::new(a.clone())).unwrap();
    clock.add_sink(Box::new(b.clone())).unwrap();
    clock.publish(&[9, 9, 9, 9]).unwrap();
    clock.start().unwrap();
    assert!(clock.is_running());
    sleep(Duration::from_millis(100));

    let t0 = Instant::now();
    clock.stop();
    let took = t0.elapsed();
    assert!(took < Duration::from_millis(500), "stop took {took:?}");
    assert!(!clock.is_running());
    assert!(!clock.stats().running);
    // No deadline was reached, so terminate() gets the all-zero front frame.
    assert_eq!(a.terminated(), vec![vec![0u8; 4]]);
    assert_eq!(b.terminated(), vec![vec![0u8; 4]]);

    clock.stop();
    assert_eq!(a.terminated().len(), 1, "stop() must be idempotent");
    assert!(matches!(clock.start(), Err(Error::AlreadyStarted)));
}

#[test]
fn terminate_receives_the_last_frame_sent() {
    let (clock, rec) = clock_with_recorder(200.0, 3);
    clock.publish(&[4, 5, 6]).unwrap();
    clock.start().unwrap();
    assert!(wait_for(Duration::from_secs(5), || !rec.sent().is_empty()));
    clock.stop();
    assert_eq!(rec.terminated(), vec![vec![4, 5, 6]]);
}

#[test]
fn dropping_a_running_clock_stops_it() {
    let (clock, rec) = clock_with_recorder(100.0, 2);
    clock.start().unwrap();
    assert!(wait_for(Duration::from_secs(5), || !rec.sent().is_empty()));
    drop(clock);
    assert_eq!(rec.terminated().len(), 1);
    let n = rec.sent().len();
    sleep(Duration::from_millis(50));
    assert_eq!(rec.sent().len(), n, "thread kept sending after drop");
}

#[test]
fn overrun_skips_deadlines_instead_of_bursting() {
    // The sink blocks for ~3.5 periods on frame 5: the clock must skip the passed deadlines,
    // count them, and resume on the original grid.
    let clock = FrameClock::new(ClockConfig::new(100.0, 2)).unwrap();
    let rec = Recorder {
        stall_on_frame: Some((5, Duration::from_millis(35))),
        ..Recorder::default()
    };
    clock.add_sink(Box::new(rec.clone())).unwrap();
    clock.start().unwrap();
    assert!(wait_for(Duration::from_secs(5), || rec
        .sent()
        .iter()
        .any(|s| s.frame_number >= 15)));
    clock.stop();
    let stats = clock.stats();
    assert!(
        stats.missed_deadlines >= 2,
        "missed {}",
        stats.missed_deadlines
    );
    let sent = rec.sent();
    let i = sent.iter().position(|s| s.frame_number == 5).unwrap();
    let after = &sent[i + 1];
    assert!(after.frame_number >= 8, "resumed at {}", after.frame_number);
    // No burst: at most one catch-up send right after the overrun, then back on the grid.
    let epoch = clock.epoch_ns().unwrap();
    let next = &sent[i + 2];
    assert_eq!(next.frame_number, after.frame_number + 1);
    assert!(next.at_ns >= epoch + clock.deadline_offset_ns(next.frame_number));
}

#[test]
fn publish_rejects_wrong_length() {
    let clock = FrameClock::new(ClockConfig::new(44.0, 2048)).unwrap();
    let err = clock.publish(&[0; 512]).unwrap_err();
    assert!(matches!(
        err,
        Error::FrameLength {
            expected: 2048,
            got: 512
        }
    ));
    let msg = err.to_string();
    assert!(msg.contains("2048") && msg.contains("512"), "{msg}");
    assert_eq!(clock.stats().frames_published, 0);
}

#[test]
fn invalid_configs_are_rejected() {
    for rate in [0.0, 0.5, 1000.5, f64::NAN, f64::INFINITY, -1.0] {
        let err = FrameClock::new(ClockConfig::new(rate, 512)).unwrap_err();
        assert!(matches!(err, Error::InvalidRate(_)), "{rate}: {err}");
    }
    assert!(matches!(
        FrameClock::new(ClockConfig::new(44.0, 0)),
        Err(Error::InvalidFrameBytes(0))
    ));
    assert!(matches!(
        FrameClock::new(ClockConfig::new(44.0, 512).with_realtime_priority(-5)),
        Err(Error::InvalidPriority(-5))
    ));
    for rate in [1.0, 44.0, 1000.0] {
        assert!(FrameClock::new(ClockConfig::new(rate, 512)).is_ok());
    }
}

#[test]
fn sinks_only_before_start_and_start_only_once() {
    let (clock, _rec) = clock_with_recorder(50.0, 1);
    clock.start().unwrap();
    assert!(matches!(clock.start(), Err(Error::AlreadyStarted)));
    assert!(matches!(
        clock.add_sink(Box::new(Recorder::default())),
        Err(Error::SinkAfterStart)
    ));
    clock.stop();
}

#[test]
fn realtime_request_outcome_is_reported_not_printed() {
    let clock = FrameClock::new(ClockConfig::new(100.0, 1).with_realtime_priority(10)).unwrap();
    clock.start().unwrap();
    assert!(wait_for(Duration::from_secs(5), || {
        let s = clock.stats();
        s.realtime || s.realtime_error.is_some()
    }));
    let s = clock.stats();
    // Granted (CAP_SYS_NICE / rtprio limit) or refused with the reason; never both.
    assert_ne!(s.realtime, s.realtime_error.is_some());
    if let Some(e) = &s.realtime_error {
        assert!(e.contains("SCHED_FIFO"), "{e}");
    }
    clock.stop();

    let plain = FrameClock::new(ClockConfig::new(100.0, 1)).unwrap();
    plain.start().unwrap();
    assert!(wait_for(Duration::from_secs(5), || plain
        .stats()
        .frames_sent
        > 0));
    let s = plain.stats();
    assert!(!s.realtime && s.realtime_error.is_none());
}

#[test]
fn stats_report_configuration_and_reset_lateness() {
    let (clock, _rec) = clock_with_recorder(250.0, 7);
    let s = clock.stats();
    assert_eq!((s.rate_hz, s.frame_bytes, s.running), (250.0, 7, false));
    assert_eq!(s.last_frame_ns, 0);
    clock.start().unwrap();
    assert!(wait_for(Duration::from_secs(5), || clock
        .stats()
        .lateness_samples
        >= 5));
    clock.reset_lateness();
    let s = clock.stats();
    assert!(
        s.lateness_samples <= 2,
        "{} samples after reset",
        s.lateness_samples
    );
    assert!(s.running);
    clock.stop();
}

#[test]
fn deadline_after_matches_the_schedule() {
    let clock = FrameClock::new(ClockConfig::new(50.0, 4)).unwrap();
    assert_eq!(clock.deadline_after(0), None);
    clock.start().unwrap();
    let epoch = clock.epoch_ns().expect("epoch is set once start() returns");
    let period = clock.period_ns();
    assert_eq!(clock.deadline_after(epoch - 1), Some((0, epoch)));
    assert_eq!(clock.deadline_after(epoch), Some((1, epoch + period)));
    assert_eq!(
        clock.deadline_after(epoch + 3 * period + 1),
        Some((4, epoch + 4 * period))
    );
    clock.stop();
}

/// A sink that burns CPU in every `send`.
struct Busy;

impl FrameSink for Busy {
    fn send(&mut self, _frame: &[u8], _frame_number: u64) {
        let until = trocadero_core::timebase::thread_cpu_ns() + 2_000_000;
        while trocadero_core::timebase::thread_cpu_ns() < until {
            std::hint::spin_loop();
        }
    }
}

#[test]
fn thread_cpu_time_counts_the_sinks_work() {
    let clock = FrameClock::new(ClockConfig::new(100.0, 1)).unwrap();
    clock.add_sink(Box::new(Busy)).unwrap();
    assert_eq!(clock.stats().thread_cpu_ns, 0);
    clock.start().unwrap();
    assert!(wait_for(Duration::from_secs(10), || clock
        .stats()
        .frames_sent
        >= 10));
    clock.stop();
    let s = clock.stats();
    // 2 ms of CPU per frame in the sink: at least that much per frame sent.
    assert!(
        s.thread_cpu_ns >= s.frames_sent * 2_000_000,
        "{} ns for {} frames",
        s.thread_cpu_ns,
        s.frames_sent
    );
}

#[test]
fn outputs_send_frames_terminate_on_stop_and_report_stats() {
    use std::net::UdpSocket;
    use trocadero_core::output::packets::{SACN_OPTIONS_OFFSET, SACN_OPTION_STREAM_TERMINATED};
    use trocadero_core::{OutputConfig, OutputError, OutputState, Protocol, UniverseMap};

    let rx = UdpSocket::bind("127.0.0.1:0").unwrap();
    let std::net::SocketAddr::V4(addr) = rx.local_addr().unwrap() else {
        panic!("IPv4 expected")
    };
    let clock = FrameClock::new(ClockConfig::new(100.0, 2 * 512)).unwrap();
    let mut cfg = OutputConfig::new(
        Protocol::Sacn,
        vec![
            UniverseMap {
                frame_index: 1,
                wire: 1000,
            },
            UniverseMap {
                frame_index: 0,
                wire: 1,
            },
        ],
    );
    cfg.destinations = vec![addr];
    let id = clock.add_output(&cfg).unwrap();
    assert_eq!((id, clock.output_count()), (0, 1));
    let mut bad = cfg.clone();
    bad.universes[0].frame_index = 2;
    match clock.add_output(&bad) {
        Err(e @ OutputError::Invalid { .. }) => assert!(e.to_string().starts_with("universes[0]")),
        other => panic!("{other:?}"),
    }
    let frame: Vec<u8> = (0..1024).map(|i| (i % 251) as u8).collect();
    clock.publish(&frame).unwrap();
    clock.start().unwrap();
    assert!(matches!(
        clock.add_output(&cfg),
        Err(OutputError::AfterStart)
    ));
    assert!(wait_for(Duration::from_secs(10), || clock
        .output_stats(id)
        .unwrap()
        .frames_sent
        >= 5));
    clock.stop();
    let s = clock.output_stats(id).unwrap();
    assert_eq!(s.state, OutputState::Healthy);
    assert_eq!(
        s.packets_sent,
        2 * s.frames_sent + 6,
        "data + 3 terminated × 2"
    );
    assert!(clock.output_stats(1).is_none());

    rx.set_read_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    let mut buf = [0u8; 1024];
    let mut got = Vec::new();
    while let Ok(n) = rx.recv(&mut buf) {
        got.push(buf[..n].to_vec());
    }
    assert_eq!(got.len() as u64, s.packets_sent);
    let (data, terminated) = got.split_at(got.len() - 6);
    assert!(data
        .iter()
        .all(|p| p[SACN_OPTIONS_OFFSET] & SACN_OPTION_STREAM_TERMINATED == 0));
    assert!(terminated
        .iter()
        .all(|p| p[SACN_OPTIONS_OFFSET] & SACN_OPTION_STREAM_TERMINATED != 0));
    // Universe 1000 carries frame universe 1, universe 1 carries frame universe 0.
    let last = &data[data.len() - 2..];
    assert_eq!(last[0][113..115], 1000u16.to_be_bytes());
    assert_eq!(&last[0][126..], &frame[512..]);
    assert_eq!(&last[1][126..], &frame[..512]);
}

// --- Emergency override -------------------------------------------------------------------
//
// "The next frame" is checked by counting sends, not time: a frame the sink had not received
// when a call returned may already have been composed, but the one after it must reflect the
// call (the thread reads the latch, the overlay and the input after handing over a frame).

/// A private directory for an input file, removed on drop.
struct TempDir(std::path::PathBuf);

impl TempDir {
    fn new(name: &str) -> Self {
        let dir =
            std::env::temp_dir().join(format!("trocadero-emergency-{}-{name}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        Self(dir)
    }

    /// Replace `name` by rename, as a watchdog script would (readers see old or new).
    fn replace(&self, name: &str, text: &str) -> std::path::PathBuf {
        let path = self.0.join(name);
        let tmp = self.0.join(format!(".{name}.tmp"));
        std::fs::write(&tmp, text).unwrap();
        std::fs::rename(&tmp, &path).unwrap();
        path
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

const PUBLISHED: [u8; 8] = [1, 2, 3, 4, 5, 6, 7, 8];
const OVERLAY: [u8; 8] = [0xE0, 0xE1, 0xE2, 0xE3, 0xE4, 0xE5, 0xE6, 0xE7];
/// Unsorted on purpose; bytes 0..2 and 5..7 are the "emergency canvases".
const RANGES: [(usize, usize); 2] = [(5, 7), (0, 2)];
const COMPOSED: [u8; 8] = [0xE0, 0xE1, 3, 4, 5, 0xE5, 0xE6, 8];

fn emergency_clock() -> (FrameClock, Recorder) {
    let (clock, rec) = clock_with_recorder(200.0, 8);
    clock.set_emergency_overlay(&OVERLAY, &RANGES).unwrap();
    clock.publish(&PUBLISHED).unwrap();
    (clock, rec)
}

fn frames(rec: &Recorder) -> Vec<Vec<u8>> {
    rec.sent().into_iter().map(|s| s.frame).collect()
}

/// Wait until the sink has received `more` frames beyond those it has now.
fn wait_frames(rec: &Recorder, more: usize) {
    let target = rec.sent().len() + more;
    assert!(
        wait_for(Duration::from_secs(10), || rec.sent().len() >= target),
        "the clock stopped sending"
    );
}

#[test]
fn engaged_emergency_overwrites_only_its_ranges_from_the_next_frame_until_released() {
    let (clock, rec) = emergency_clock();
    clock.start().unwrap();
    wait_frames(&rec, 3);
    let before = rec.sent().len();
    clock.engage_emergency();
    clock.engage_emergency(); // idempotent
    let after = rec.sent().len();
    wait_frames(&rec, 5);
    let s = clock.stats().emergency;
    assert!(s.latched);
    assert_eq!(s.engagements, 1);
    assert!(s.latched_at_ns > 0 && s.latched_at_ns <= monotonic_ns());
    assert_eq!(s.covered_bytes, 4);

    let held = rec.sent().len();
    assert!(
        clock.release_emergency(),
        "no input: release always succeeds"
    );
    let released = rec.sent().len();
    wait_frames(&rec, 5);
    clock.stop();

    let sent = frames(&rec);
    assert!(sent[..before].iter().all(|f| f == &PUBLISHED));
    let first = sent.iter().position(|f| f == &COMPOSED).unwrap();
    assert!(
        (before..=after + 1).contains(&first),
        "first emergency frame #{first}, engaged between #{before} and #{after}"
    );
    assert!(sent[first..held].iter().all(|f| f == &COMPOSED));
    assert!(sent[released + 1..].iter().all(|f| f == &PUBLISHED));
    let composed = sent.iter().filter(|f| *f == &COMPOSED).count() as u64;
    let s = clock.stats().emergency;
    assert!(!s.latched);
    assert_eq!(s.frames_sent, composed);
    // Released: the termination frame is the published one.
    assert_eq!(rec.terminated(), vec![PUBLISHED.to_vec()]);
}

#[test]
fn emergency_engaged_before_start_is_on_the_first_frame_and_in_termination() {
    let (clock, rec) = emergency_clock();
    clock.engage_emergency();
    clock.start().unwrap();
    wait_frames(&rec, 3);
    clock.stop();
    assert!(frames(&rec).iter().all(|f| f == &COMPOSED));
    assert_eq!(rec.terminated(), vec![COMPOSED.to_vec()]);
}

#[test]
fn asserted_input_latches_within_one_deadline_and_holds_until_released() {
    let dir = TempDir::new("latch");
    let path = dir.replace("value", "0\n");
    let (clock, rec) = emergency_clock();
    clock.set_emergency_input(Some(&path), false).unwrap();
    clock.start().unwrap();
    wait_frames(&rec, 3);
    assert!(!clock.stats().emergency.latched);

    let before = rec.sent().len();
    let t_write = monotonic_ns();
    dir.replace("value", " 1\n");
    let after = rec.sent().len();
    wait_frames(&rec, 3);
    let s = clock.stats().emergency;
    assert!(s.latched && s.input_asserted);
    assert_eq!(s.engagements, 1);
    assert!(s.latched_at_ns >= t_write);
    assert_eq!(s.input_errors, 0);
    let sent = frames(&rec);
    assert!(sent[..before].iter().all(|f| f == &PUBLISHED));
    assert!(
        sent[after + 1..].iter().all(|f| f == &COMPOSED),
        "not composed from the deadline after the input asserted"
    );

    assert!(
        !clock.release_emergency(),
        "released while the input asserts"
    );
    assert!(clock.stats().emergency.latched);

    // The input clears: still latched (the emergency is latched, not momentary).
    dir.replace("value", "0\n");
    wait_frames(&rec, 3);
    let s = clock.stats().emergency;
    assert!(s.latched && !s.input_asserted);
    assert!(frames(&rec).last().unwrap() == &COMPOSED);

    assert!(clock.release_emergency());
    let released = rec.sent().len();
    wait_frames(&rec, 3);
    clock.stop();
    assert!(frames(&rec)[released + 1..].iter().all(|f| f == &PUBLISHED));
    assert_eq!(clock.stats().emergency.engagements, 1);
}

#[test]
fn release_reads_the_input_itself_even_before_start() {
    let dir = TempDir::new("release");
    let path = dir.replace("value", "1");
    let (clock, _rec) = emergency_clock();
    clock.engage_emergency();
    clock.set_emergency_input(Some(&path), false).unwrap();
    assert!(!clock.release_emergency());
    dir.replace("value", "0");
    assert!(clock.release_emergency());
    assert!(!clock.stats().emergency.latched);
}

#[test]
fn active_low_input_asserts_on_zero_and_a_missing_file_never_asserts() {
    let dir = TempDir::new("active-low");
    let path = dir.replace("value", "1\n");
    let (clock, rec) = emergency_clock();
    clock.set_emergency_input(Some(&path), true).unwrap();
    clock.start().unwrap();
    wait_frames(&rec, 3);
    assert!(
        !clock.stats().emergency.latched,
        "'1' is idle when active low"
    );
    dir.replace("value", "0\n");
    let after = rec.sent().len();
    wait_frames(&rec, 2);
    assert!(frames(&rec)[after + 1..].iter().all(|f| f == &COMPOSED));
    assert!(!clock.release_emergency());

    // A missing file is not asserted (not even active low): counted, the reason kept.
    std::fs::remove_file(&path).unwrap();
    wait_frames(&rec, 2);
    let s = clock.stats().emergency;
    assert!(!s.input_asserted && s.latched);
    assert!(s.input_errors >= 1);
    let error = s.input_error.expect("the error text is kept");
    assert!(
        error.contains("No such file") && error.contains("value"),
        "{error}"
    );
    assert!(clock.release_emergency());
    let released = rec.sent().len();
    wait_frames(&rec, 2);
    clock.stop();
    assert!(frames(&rec)[released + 1..].iter().all(|f| f == &PUBLISHED));
}

#[test]
fn emergency_overlay_can_be_replaced_while_running() {
    let (clock, rec) = emergency_clock();
    clock.engage_emergency();
    clock.start().unwrap();
    wait_frames(&rec, 2);
    let other = [0x55u8; 8];
    clock.set_emergency_overlay(&other, &[(3, 4)]).unwrap();
    let after = rec.sent().len();
    wait_frames(&rec, 3);
    clock.stop();
    let sent = frames(&rec);
    let replaced = [1u8, 2, 3, 0x55, 5, 6, 7, 8];
    assert!(sent[..2].iter().all(|f| f == &COMPOSED));
    assert!(sent[after + 1..].iter().all(|f| f == &replaced));
    assert_eq!(clock.stats().emergency.covered_bytes, 1);
    assert_eq!(rec.terminated(), vec![replaced.to_vec()]);
}

#[test]
fn invalid_emergency_overlays_and_inputs_are_rejected() {
    let clock = FrameClock::new(ClockConfig::new(44.0, 8)).unwrap();
    let err = clock.set_emergency_overlay(&[0; 7], &[(0, 1)]).unwrap_err();
    assert!(matches!(
        err,
        Error::EmergencyFrameLength {
            expected: 8,
            got: 7
        }
    ));
    assert!(err.is_invalid_argument());
    for bad in [(0, 9), (3, 3), (5, 2), (8, 9)] {
        let err = clock
            .set_emergency_overlay(&[0; 8], &[(0, 1), bad])
            .unwrap_err();
        assert!(
            matches!(err, Error::EmergencyRange { index: 1, .. }),
            "{bad:?}: {err}"
        );
        assert!(
            err.to_string().starts_with("emergency ranges[1] = "),
            "{err}"
        );
    }
    assert_eq!(
        clock.stats().emergency.covered_bytes,
        0,
        "nothing installed"
    );
    // Overlapping ranges and the whole frame are fine.
    clock
        .set_emergency_overlay(&[0; 8], &[(0, 8), (2, 4)])
        .unwrap();
    assert_eq!(clock.stats().emergency.covered_bytes, 8);
    let nul = std::path::Path::new("/tmp/a\0b");
    assert!(matches!(
        clock.set_emergency_input(Some(nul), false),
        Err(Error::EmergencyInputPath(_))
    ));
    clock.set_emergency_input(None, false).unwrap();
}
