//! Open DMX output (a plain FTDI cable, no microcontroller): the host makes the DMX timing.
//!
//! Two halves, so that the output thread never waits on a serial line:
//!
//! * [`OpenDmxSink`], a [`FrameSink`] on the clock's output thread, copies this output's 512
//!   slots out of every frame the clock sends (the emergency overlay already applied, like
//!   every other output) into a [triple buffer](crate::triple_buffer): a `memcpy` and an
//!   atomic swap, nothing else;
//! * a writer thread per output ("trocadero-dmx") takes the newest slots for every DMX frame on
//!   its own absolute schedule at `rate_hz` (≤ 44): raises the line break (`TIOCSBRK`), sleeps
//!   `break_us`, releases it (`TIOCCBRK`), sleeps `mab_us`, writes start code + 512 slots at
//!   250 kbaud 8N2 and waits until the tty's output queue is empty (`TIOCOUTQ`), so the next
//!   break never cuts a frame short. Its sleeps are `clock_nanosleep`s on absolute times; only
//!   the minimums (break ≥ 92 µs, MAB ≥ 12 µs) matter. A late writer skips frames
//!   (`late_frames`) instead of bursting.
//!
//! Neither half touches Python, so the emergency look reaches an Open DMX port within a frame
//! even while the GIL is held. Nothing is sent before the first frame was published (the clock
//! sends placeholder zeros until then, which this sink ignores): a receiver holds its last look
//! through a missing signal, but 512 zero slots would flash it to black. Once started the
//! writer refreshes the newest slots at its rate for as long as the output lives (DMX needs a
//! continuous signal), also while the clock is stalled.
//!
//! Errors (device unplugged or missing, a write that cannot finish within a second) close the
//! device, mark the output failing with the error text, and it is opened again once a second;
//! the first frame written after that makes it healthy again. Some ttys refuse `TIOCSBRK`: that
//! is counted in `break_errors` and the frame is still written.

use super::serial::open_device;
use super::{OutputError, OutputHandle, PendingState, Protocol, Shared, UNIVERSE_BYTES};
use crate::timebase::{monotonic_ns, sleep_until_abs, sleep_until_or_stop, FrameSink};
use crate::triple_buffer::{triple_buffer, Consumer, Producer};
use std::ffi::CString;
use std::os::fd::{AsRawFd, OwnedFd};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;

/// DMX512 line rate.
pub const OPEN_DMX_BAUD: u32 = 250_000;
/// Highest refresh rate: a full frame (break, MAB, 513 slots) takes ~22.7 ms.
pub const OPEN_DMX_MAX_RATE_HZ: f64 = 44.0;
pub const MIN_BREAK_US: u32 = 92;
pub const MIN_MAB_US: u32 = 12;
pub const DEFAULT_BREAK_US: u32 = 110;
pub const DEFAULT_MAB_US: u32 = 16;
pub const DEFAULT_RATE_HZ: f64 = 40.0;
/// One slot on the wire: 11 bits (start, 8 data, 2 stop) at 250 kbit/s.
const SLOT_TIME_US: u64 = 44;
/// Start code + 512 slots.
pub const OPEN_DMX_FRAME_BYTES: usize = 1 + UNIVERSE_BYTES;
/// Name of the writer threads (≤ 15 bytes).
pub const WRITER_THREAD_NAME: &str = "trocadero-dmx";
const REOPEN_INTERVAL_NS: u64 = 1_000_000_000;
/// Longest wait for a write to be taken, or for the output queue to drain.
const WRITE_PATIENCE_NS: u64 = 1_000_000_000;

/// One Open DMX port: which device, which universe of the frame, and its line timing.
#[derive(Debug, Clone, PartialEq)]
pub struct OpenDmxConfig {
    pub device: String,
    /// Index of the universe in the clock's frame (bytes `index*512 .. index*512+512`).
    pub frame_index: usize,
    /// DMX frames per second, 1..=44 (independent of the clock's rate).
    pub rate_hz: f64,
    pub break_us: u32,
    pub mab_us: u32,
}

impl OpenDmxConfig {
    pub fn new(device: &str, frame_index: usize) -> Self {
        Self {
            device: device.to_owned(),
            frame_index,
            rate_hz: DEFAULT_RATE_HZ,
            break_us: DEFAULT_BREAK_US,
            mab_us: DEFAULT_MAB_US,
        }
    }

    pub fn validate(&self, frame_bytes: usize) -> Result<(), OutputError> {
        super::SerialConfig::new(&self.device, self.frame_index).validate(frame_bytes)?;
        if !(self.rate_hz.is_finite() && (1.0..=OPEN_DMX_MAX_RATE_HZ).contains(&self.rate_hz)) {
            return Err(OutputError::invalid(
                "rate_hz",
                format!(
                    "rate_hz must be between 1 and {OPEN_DMX_MAX_RATE_HZ} Hz for open-dmx (got {:?})",
                    self.rate_hz
                ),
            ));
        }
        for (arg, value, min) in [
            ("break_us", self.break_us, MIN_BREAK_US),
            ("mab_us", self.mab_us, MIN_MAB_US),
        ] {
            if !(min..=1_000_000).contains(&value) {
                return Err(OutputError::invalid(
                    arg,
                    format!("{arg} must be between {min} and 1000000 (got {value})"),
                ));
            }
        }
        Ok(())
    }

    /// Time between frame starts in ns: the rate's period, never shorter than a full frame.
    pub fn period_ns(&self) -> u64 {
        let frame_us = u64::from(self.break_us)
            + u64::from(self.mab_us)
            + OPEN_DMX_FRAME_BYTES as u64 * SLOT_TIME_US;
        let rate_us = (1e6 / self.rate_hz).round() as u64;
        frame_us.max(rate_us) * 1000
    }
}

/// The output thread's half; see the module docs. Dropping it stops and joins the writer.
pub struct OpenDmxSink {
    frame_index: usize,
    producer: Producer,
    stop: Arc<AtomicBool>,
    /// Hot standby: the writer keeps the line silent (another node drives it).
    silent: Arc<AtomicBool>,
    writer: Option<JoinHandle<()>>,
}

impl std::fmt::Debug for OpenDmxSink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OpenDmxSink")
            .field("frame_index", &self.frame_index)
            .finish_non_exhaustive()
    }
}

impl OpenDmxSink {
    /// Validate `config` against a frame of `frame_bytes` and start the writer thread (which
    /// waits for the first frame). A device that cannot be opened is not an error: the output
    /// reports failing and retries once a second.
    pub fn new(
        config: &OpenDmxConfig,
        frame_bytes: usize,
    ) -> Result<(Self, OutputHandle), OutputError> {
        config.validate(frame_bytes)?;
        let path = CString::new(config.device.as_bytes()).map_err(|_| {
            OutputError::invalid("device", "device must not contain NUL bytes".into())
        })?;
        let shared = Arc::new(Shared::new(Protocol::OpenDmx, 1, 1));
        let (producer, consumer) = triple_buffer(UNIVERSE_BYTES);
        let stop = Arc::new(AtomicBool::new(false));
        let silent = Arc::new(AtomicBool::new(false));
        let mut msg = [0u8; OPEN_DMX_FRAME_BYTES];
        msg[0] = 0; // DMX start code
        let writer = Writer {
            device: config.device.clone(),
            path,
            break_ns: u64::from(config.break_us) * 1000,
            mab_ns: u64::from(config.mab_us) * 1000,
            period_ns: config.period_ns(),
            reopen_interval_ns: REOPEN_INTERVAL_NS,
            consumer,
            msg,
            fd: None,
            error: None,
            shared: Arc::clone(&shared),
            pending: PendingState::default(),
            stop: Arc::clone(&stop),
            silent: Arc::clone(&silent),
        };
        let handle = std::thread::Builder::new()
            .name(WRITER_THREAD_NAME.to_owned())
            .spawn(move || writer.run())
            .map_err(|source| OutputError::Socket {
                what: "could not spawn the Open DMX writer thread".to_owned(),
                source,
            })?;
        let sink = Self {
            frame_index: config.frame_index,
            producer,
            stop,
            silent,
            writer: Some(handle),
        };
        Ok((sink, OutputHandle { shared }))
    }
}

impl FrameSink for OpenDmxSink {
    fn send(&mut self, frame: &[u8], _frame_number: u64) {
        let start = self.frame_index * UNIVERSE_BYTES;
        self.producer
            .back_mut()
            .copy_from_slice(&frame[start..start + UNIVERSE_BYTES]);
        self.producer.publish();
    }

    /// Nothing before the first frame: the writer stays silent until then.
    fn send_placeholder(&mut self, _frame: &[u8], _frame_number: u64) {}

    /// The writer repeats the last slots by itself: as a standby it must stop writing
    /// (only the leader drives a DMX line), and it resumes with the newest slots.
    fn set_standby(&mut self, standby: bool, _offset: u8) {
        self.silent.store(standby, Ordering::Release);
    }
}

impl Drop for OpenDmxSink {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Release);
        if let Some(handle) = self.writer.take() {
            // A panicked writer has nothing left to undo.
            let _ = handle.join();
        }
    }
}

fn last_errno() -> i32 {
    std::io::Error::last_os_error()
        .raw_os_error()
        .unwrap_or(libc::EIO)
}

/// Open `path` like the Enttec output does (non-blocking, raw) and set 250 kbaud 8N2 (a
/// non-tty such as a FIFO is left as it is).
fn open_line(path: &CString) -> Result<OwnedFd, i32> {
    let fd = open_device(path)?;
    // SAFETY: zeroed is a valid termios2 (plain integers); the pointer is valid for the calls.
    unsafe {
        let mut tio: libc::termios2 = std::mem::zeroed();
        if libc::ioctl(fd.as_raw_fd(), libc::TCGETS2, &mut tio) != 0 {
            let errno = last_errno();
            return if errno == libc::ENOTTY || errno == libc::EINVAL {
                Ok(fd)
            } else {
                Err(errno)
            };
        }
        tio.c_cflag &= !(libc::CBAUD | libc::CSIZE | libc::PARENB);
        tio.c_cflag |= libc::BOTHER | libc::CS8 | libc::CSTOPB | libc::CLOCAL | libc::CREAD;
        tio.c_ispeed = OPEN_DMX_BAUD;
        tio.c_ospeed = OPEN_DMX_BAUD;
        if libc::ioctl(fd.as_raw_fd(), libc::TCSETS2, &tio) != 0 {
            return Err(last_errno());
        }
    }
    Ok(fd)
}

/// The writer thread's state.
struct Writer {
    device: String,
    path: CString,
    break_ns: u64,
    mab_ns: u64,
    period_ns: u64,
    reopen_interval_ns: u64,
    consumer: Consumer,
    msg: [u8; OPEN_DMX_FRAME_BYTES],
    fd: Option<OwnedFd>,
    /// errno of the last failure, and whether it was an open.
    error: Option<(bool, i32)>,
    shared: Arc<Shared>,
    pending: PendingState,
    stop: Arc<AtomicBool>,
    silent: Arc<AtomicBool>,
}

impl Writer {
    fn stopped(&self) -> bool {
        self.stop.load(Ordering::Acquire)
    }

    fn run(mut self) {
        // Silent until the first frame arrives.
        let mut wake = monotonic_ns();
        while !self.consumer.take() {
            wake += self.period_ns.min(crate::timebase::STOP_POLL_NS);
            if !sleep_until_or_stop(wake, &self.stop) {
                return;
            }
        }
        let epoch = monotonic_ns();
        let mut next_open = 0;
        let mut n: u64 = 0;
        while !self.stopped() {
            let now = monotonic_ns();
            if self.fd.is_none() && now >= next_open {
                match open_line(&self.path) {
                    Ok(fd) => self.fd = Some(fd),
                    Err(errno) => {
                        self.shared.send_errors.fetch_add(1, Ordering::Relaxed);
                        self.set_state(Some((true, errno)));
                    }
                }
                next_open = now + self.reopen_interval_ns;
            }
            if self.fd.is_some() && !self.silent.load(Ordering::Acquire) {
                match self.frame() {
                    Ok(()) => self.set_state(None),
                    Err(errno) => {
                        self.shared.send_errors.fetch_add(1, Ordering::Relaxed);
                        self.fd = None;
                        next_open = monotonic_ns() + self.reopen_interval_ns;
                        self.set_state(Some((false, errno)));
                    }
                }
            }
            self.pending.publish(&self.shared.state);
            // Absolute schedule: frame n at epoch + n·period; a late writer skips ahead.
            n += 1;
            let now = monotonic_ns();
            let mut target = epoch + n * self.period_ns;
            if now > target + self.period_ns {
                let skipped = (now - target) / self.period_ns;
                self.shared
                    .late_frames
                    .fetch_add(skipped, Ordering::Relaxed);
                n += skipped;
                target = epoch + n * self.period_ns;
            }
            if !sleep_until_or_stop(target, &self.stop) {
                break;
            }
        }
    }

    /// Break, MAB, start code + newest slots, drain. Err(errno) on a device error.
    fn frame(&mut self) -> Result<(), i32> {
        let fd = self.fd.as_ref().map_or(-1, AsRawFd::as_raw_fd);
        self.consumer.take();
        self.msg[1..].copy_from_slice(self.consumer.front());
        // SAFETY: plain ioctls on an open fd (TIOCSBRK/TIOCCBRK take no argument).
        if unsafe { libc::ioctl(fd, libc::TIOCSBRK) } == 0 {
            sleep_until_abs(monotonic_ns() + self.break_ns);
            // SAFETY: as above.
            if unsafe { libc::ioctl(fd, libc::TIOCCBRK) } != 0 {
                self.shared.break_errors.fetch_add(1, Ordering::Relaxed);
            }
        } else {
            // The tty refused the break: count it and still send the slots.
            self.shared.break_errors.fetch_add(1, Ordering::Relaxed);
        }
        sleep_until_abs(monotonic_ns() + self.mab_ns);
        self.write_all(fd)?;
        self.drain(fd)?;
        self.shared.packets_sent.fetch_add(1, Ordering::Relaxed);
        self.shared.frames_sent.fetch_add(1, Ordering::Relaxed);
        self.shared
            .bytes_sent
            .fetch_add(OPEN_DMX_FRAME_BYTES as u64, Ordering::Relaxed);
        Ok(())
    }

    /// Write the whole message, waiting for room at most [`WRITE_PATIENCE_NS`].
    fn write_all(&self, fd: i32) -> Result<(), i32> {
        let give_up = monotonic_ns() + WRITE_PATIENCE_NS;
        let mut done = 0;
        while done < self.msg.len() {
            let rest = &self.msg[done..];
            // SAFETY: `rest` is a valid readable slice; `fd` is open.
            let n = unsafe { libc::write(fd, rest.as_ptr().cast(), rest.len()) };
            if n >= 0 {
                done += n as usize;
                continue;
            }
            match last_errno() {
                libc::EINTR => {}
                libc::EAGAIN => {
                    let now = monotonic_ns();
                    if now >= give_up || self.stopped() {
                        return Err(libc::ETIMEDOUT);
                    }
                    let mut pfd = libc::pollfd {
                        fd,
                        events: libc::POLLOUT,
                        revents: 0,
                    };
                    let ms = ((give_up - now) / 1_000_000).clamp(1, 50) as i32;
                    // SAFETY: one valid pollfd.
                    unsafe { libc::poll(&mut pfd, 1, ms) };
                }
                errno => return Err(errno),
            }
        }
        Ok(())
    }

    /// Wait until the tty has sent everything (a non-tty has no queue: done at once).
    fn drain(&self, fd: i32) -> Result<(), i32> {
        let give_up = monotonic_ns() + WRITE_PATIENCE_NS;
        loop {
            let mut queued: libc::c_int = 0;
            // SAFETY: TIOCOUTQ writes one int through a valid pointer.
            if unsafe { libc::ioctl(fd, libc::TIOCOUTQ, &mut queued) } != 0 || queued <= 0 {
                return Ok(());
            }
            let now = monotonic_ns();
            if now >= give_up || self.stopped() {
                return Err(libc::ETIMEDOUT);
            }
            // Bytes left × 44 µs, at least 100 µs.
            let wait = (queued as u64 * SLOT_TIME_US * 1000).max(100_000);
            sleep_until_abs(now + wait.min(give_up - now));
        }
    }

    fn set_state(&mut self, error: Option<(bool, i32)>) {
        if error != self.error {
            self.error = error;
            let text = error.map(|(open, errno)| {
                format!(
                    "{} {} failed: {}; retrying every second",
                    if open { "open" } else { "write to" },
                    self.device,
                    std::io::Error::from_raw_os_error(errno)
                )
            });
            self.pending.record(text);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::output::serial::tests::{openpty, read_exact_timeout};
    use crate::output::OutputState;
    use crate::timebase::ClockConfig;
    use crate::FrameClock;

    fn wait_for(what: &str, mut pred: impl FnMut() -> bool) {
        let give_up = monotonic_ns() + 3_000_000_000;
        while !pred() {
            assert!(monotonic_ns() < give_up, "timed out waiting for {what}");
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
    }

    fn readable(f: &std::fs::File, ms: i32) -> bool {
        let mut pfd = libc::pollfd {
            fd: f.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        };
        // SAFETY: one valid pollfd.
        unsafe { libc::poll(&mut pfd, 1, ms) > 0 }
    }

    #[test]
    fn silent_until_the_first_frame_then_start_code_and_slots() {
        let (mut master, _slave, path) = openpty();
        let (mut sink, handle) = OpenDmxSink::new(&OpenDmxConfig::new(&path, 1), 3 * 512).unwrap();
        let zeros = vec![0u8; 3 * 512];
        for n in 0..5 {
            sink.send_placeholder(&zeros, n);
        }
        assert!(!readable(&master, 200), "bytes before the first frame");
        assert_eq!(handle.stats().frames_sent, 0);
        let mut frame = vec![0u8; 3 * 512];
        for (i, b) in frame[512..1024].iter_mut().enumerate() {
            *b = (i * 7 + 10) as u8; // LF, CR, XON/XOFF included: raw mode keeps them
        }
        sink.send(&frame, 5);
        for _ in 0..3 {
            let got = read_exact_timeout(&mut master, OPEN_DMX_FRAME_BYTES);
            assert_eq!(got[0], 0);
            assert_eq!(&got[1..], &frame[512..1024]);
        }
        frame[512..1024].fill(0x11);
        sink.send(&frame, 6);
        wait_for("the new slots", || {
            read_exact_timeout(&mut master, OPEN_DMX_FRAME_BYTES)[1..] == [0x11; 512]
        });
        let s = handle.stats();
        assert_eq!(s.protocol.name(), "open-dmx");
        assert_eq!(s.state, OutputState::Healthy);
        assert_eq!(s.bytes_sent, s.frames_sent * OPEN_DMX_FRAME_BYTES as u64);
        assert_eq!(s.break_errors, 0, "a pty accepts the break ioctls");
        drop(sink); // stops and joins the writer
    }

    #[test]
    fn the_emergency_overlay_reaches_the_port_without_any_publish() {
        let (mut master, _slave, path) = openpty();
        let clock = FrameClock::new(ClockConfig::new(44.0, 1024)).unwrap();
        let mut cfg = OpenDmxConfig::new(&path, 1);
        cfg.rate_hz = 44.0;
        let id = clock.add_opendmx_output(&cfg).unwrap();
        let mut overlay = vec![0u8; 1024];
        overlay[512..515].copy_from_slice(&[255, 0, 0]);
        clock
            .set_emergency_overlay(&overlay, &[(512, 1024)])
            .unwrap();
        clock.start().unwrap();
        assert!(!readable(&master, 150), "placeholder zeros went out");
        clock.engage_emergency();
        let got = read_exact_timeout(&mut master, OPEN_DMX_FRAME_BYTES);
        assert_eq!(&got[..4], &[0, 255, 0, 0]);
        clock.stop();
        assert!(clock.output_stats(id).unwrap().frames_sent >= 1);
    }

    #[test]
    fn a_standby_keeps_the_line_silent_and_resumes_with_the_newest_slots() {
        let (mut master, _slave, path) = openpty();
        let (mut sink, handle) = OpenDmxSink::new(&OpenDmxConfig::new(&path, 0), 512).unwrap();
        sink.send(&[3u8; 512], 0);
        read_exact_timeout(&mut master, OPEN_DMX_FRAME_BYTES);
        sink.set_standby(true, 1);
        std::thread::sleep(std::time::Duration::from_millis(60)); // a frame in flight ends
        let mut scratch = [0u8; 4096];
        while readable(&master, 0) {
            let _ = std::io::Read::read(&mut master, &mut scratch);
        }
        let sent = handle.stats().frames_sent;
        sink.send(&[9u8; 512], 1); // the clock does not send to it as standby; even so
        assert!(!readable(&master, 150), "bytes while standing by");
        assert_eq!(handle.stats().frames_sent, sent);
        sink.set_standby(false, 1);
        let got = read_exact_timeout(&mut master, OPEN_DMX_FRAME_BYTES);
        assert_eq!(&got[1..4], &[9, 9, 9]);
        drop(sink);
    }

    #[test]
    fn unplug_fails_once_and_keeps_retrying() {
        let (mut master, _slave, path) = openpty();
        let (mut sink, handle) = OpenDmxSink::new(&OpenDmxConfig::new(&path, 0), 512).unwrap();
        sink.send(&[3u8; 512], 0);
        read_exact_timeout(&mut master, OPEN_DMX_FRAME_BYTES);
        drop(master); // hang-up: EIO on write
        wait_for("failing", || handle.stats().state == OutputState::Failing);
        let s = handle.stats();
        assert!(s.last_error.unwrap().contains(&path));
        assert!(s.send_errors >= 1);
        assert!(s.state_changes <= 2);
        drop(sink);
    }

    #[test]
    fn config_is_validated() {
        assert!(OpenDmxSink::new(&OpenDmxConfig::new("", 0), 512).is_err());
        let e = OpenDmxSink::new(&OpenDmxConfig::new("/dev/null", 1), 512).unwrap_err();
        assert!(e.to_string().contains("universe_index 1"), "{e}");
        let mut cfg = OpenDmxConfig::new("/dev/null", 0);
        cfg.rate_hz = 60.0;
        assert!(OpenDmxSink::new(&cfg, 512)
            .unwrap_err()
            .to_string()
            .contains("44"));
        let mut cfg = OpenDmxConfig::new("/dev/null", 0);
        cfg.break_us = 50;
        assert!(OpenDmxSink::new(&cfg, 512).is_err());
        // 44 Hz asks for 22.727 ms, a full frame takes 110 + 16 + 513 × 44 µs = 22.698 ms.
        let mut cfg = OpenDmxConfig::new("/dev/null", 0);
        cfg.rate_hz = 44.0;
        assert_eq!(cfg.period_ns(), 22_727_000);
        cfg.break_us = 1000;
        assert_eq!(cfg.period_ns(), (1000 + 16 + 513 * 44) * 1000);
    }
}
