//! Enttec DMX USB Pro output: one label-6 "Output Only Send DMX Packet" message per frame,
//! written to a serial device (`/dev/ttyUSB0`, or any tty) from the clock's output thread.
//!
//! The widget's own microcontroller makes break, MAB and refresh, so the host only writes
//! `7E 06 01 02 00 <512 slots> E7` (length 513 = start code + 512 slots, LSB first). The
//! device is opened `O_WRONLY | O_NOCTTY | O_NONBLOCK` and put in raw mode (`cfmakeraw`: the
//! widget ignores the line settings, but a tty line discipline would otherwise rewrite bytes,
//! e.g. LF → CR LF). A write never waits: a full tty buffer (EAGAIN) drops the frame
//! (`drops`), and a message the kernel took only in part is finished before the next one so
//! the widget never sees a torn message. Any other error (EIO, ENXIO, ENODEV after an unplug;
//! ENOENT while the device node is gone) closes the device, marks the output failing with the
//! error text and opens it again once a second; the first frame written after that makes it
//! healthy again. Nothing here can stop the clock or the other outputs.

use super::{OutputError, OutputHandle, PendingState, Protocol, RateGate, Shared, UNIVERSE_BYTES};
use crate::timebase::{monotonic_ns, ClockConfig, FrameSink, Schedule};
use std::ffi::CString;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::sync::atomic::Ordering;
use std::sync::Arc;

/// Widget message delimiters and the label of "Output Only Send DMX Packet Request".
pub const ENTTEC_START: u8 = 0x7E;
pub const ENTTEC_END: u8 = 0xE7;
pub const ENTTEC_LABEL_SEND_DMX: u8 = 6;
/// A full label-6 message: 4 header bytes, start code, 512 slots, end delimiter.
pub const ENTTEC_MESSAGE_BYTES: usize = 4 + 1 + UNIVERSE_BYTES + 1;
/// Interval between attempts to open a missing or failed device.
const REOPEN_INTERVAL_NS: u64 = 1_000_000_000;

/// Which serial protocol an output speaks through [`SerialOutput`] (Open DMX needs host-timed
/// breaks and has its own writer thread: [`super::OpenDmxSink`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SerialKind {
    EnttecPro,
}

impl SerialKind {
    pub fn parse(s: &str) -> Option<Self> {
        match s.to_ascii_lowercase().as_str() {
            "enttec-pro" | "enttec_pro" | "enttecpro" => Some(SerialKind::EnttecPro),
            _ => None,
        }
    }
}

/// Configuration of one serial output: which device, which 512-byte universe of the frame.
#[derive(Debug, Clone, PartialEq)]
pub struct SerialConfig {
    pub kind: SerialKind,
    /// Device path, e.g. "/dev/ttyUSB0" or "/dev/serial/by-id/usb-ENTTEC_…".
    pub device: String,
    /// Index of the universe in the clock's frame (bytes `index*512 .. index*512+512`).
    pub frame_index: usize,
    /// Maximum frames per second (None: the clock rate).
    pub rate_hz: Option<f64>,
}

impl SerialConfig {
    pub fn new(device: &str, frame_index: usize) -> Self {
        Self {
            kind: SerialKind::EnttecPro,
            device: device.to_owned(),
            frame_index,
            rate_hz: None,
        }
    }

    pub fn validate(&self, frame_bytes: usize) -> Result<(), OutputError> {
        if self.device.is_empty() || self.device.contains('\0') {
            return Err(OutputError::invalid(
                "device",
                format!(
                    "device must be a non-empty path without NUL bytes (got {:?})",
                    self.device
                ),
            ));
        }
        let end = self
            .frame_index
            .checked_mul(UNIVERSE_BYTES)
            .and_then(|s| s.checked_add(UNIVERSE_BYTES));
        if end.is_none_or(|end| end > frame_bytes) {
            return Err(OutputError::invalid(
                "universe_index",
                format!(
                    "universe_index {} is outside the frame ({frame_bytes} bytes = {} universes \
                     of 512)",
                    self.frame_index,
                    frame_bytes / UNIVERSE_BYTES
                ),
            ));
        }
        if let Some(rate) = self.rate_hz {
            if !(rate.is_finite() && rate >= 1.0) {
                return Err(OutputError::invalid(
                    "rate_hz",
                    format!("rate_hz must be None or at least 1 Hz (got {rate:?})"),
                ));
            }
        }
        Ok(())
    }
}

/// A label-6 message with start code 0 and all slots zero.
pub fn enttec_send_dmx_template() -> [u8; ENTTEC_MESSAGE_BYTES] {
    let mut m = [0u8; ENTTEC_MESSAGE_BYTES];
    let len = (1 + UNIVERSE_BYTES) as u16;
    m[0] = ENTTEC_START;
    m[1] = ENTTEC_LABEL_SEND_DMX;
    m[2..4].copy_from_slice(&len.to_le_bytes());
    m[4] = 0; // DMX start code (the most common label-6 mistake is leaving it out)
    m[ENTTEC_MESSAGE_BYTES - 1] = ENTTEC_END;
    m
}

fn last_errno() -> i32 {
    std::io::Error::last_os_error()
        .raw_os_error()
        .unwrap_or(libc::EIO)
}

/// Open `path` for non-blocking writes and set raw mode (not a tty, e.g. a FIFO: left as is).
pub(super) fn open_device(path: &CString) -> Result<OwnedFd, i32> {
    // SAFETY: `path` is a valid NUL-terminated string; open has no other preconditions.
    let fd = unsafe {
        libc::open(
            path.as_ptr(),
            libc::O_WRONLY | libc::O_NOCTTY | libc::O_NONBLOCK | libc::O_CLOEXEC,
        )
    };
    if fd < 0 {
        return Err(last_errno());
    }
    // SAFETY: `fd` was just returned by open and is owned by nobody else.
    let fd = unsafe { OwnedFd::from_raw_fd(fd) };
    // SAFETY: zeroed is a valid termios (plain integers); the pointers are valid for the calls.
    unsafe {
        let mut tio: libc::termios = std::mem::zeroed();
        if libc::tcgetattr(fd.as_raw_fd(), &mut tio) != 0 {
            let errno = last_errno();
            return if errno == libc::ENOTTY {
                Ok(fd)
            } else {
                Err(errno)
            };
        }
        libc::cfmakeraw(&mut tio);
        if libc::tcsetattr(fd.as_raw_fd(), libc::TCSANOW, &tio) != 0 {
            return Err(last_errno());
        }
    }
    Ok(fd)
}

/// The Enttec USB Pro sink; see the module docs.
pub struct SerialOutput {
    device: String,
    path: CString,
    frame_index: usize,
    msg: [u8; ENTTEC_MESSAGE_BYTES],
    fd: Option<OwnedFd>,
    /// Bytes of `msg` already written when the kernel took a message only in part.
    partial: Option<usize>,
    /// CLOCK_MONOTONIC ns of the next open attempt while `fd` is None.
    next_open_ns: u64,
    reopen_interval_ns: u64,
    /// errno of the last failure (open or write), and whether it was an open.
    error: Option<(bool, i32)>,
    gate: RateGate,
    shared: Arc<Shared>,
    /// A state change not yet published (the lock was held by a reader), and how many.
    pending: PendingState,
}

impl std::fmt::Debug for SerialOutput {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SerialOutput")
            .field("device", &self.device)
            .field("frame_index", &self.frame_index)
            .field("open", &self.fd.is_some())
            .finish_non_exhaustive()
    }
}

impl SerialOutput {
    /// Validate `config` against the clock and try to open the device now (a device that is
    /// missing is not an error: the output starts failing and keeps trying once a second).
    pub fn new(
        config: &SerialConfig,
        clock: &ClockConfig,
    ) -> Result<(Self, OutputHandle), OutputError> {
        config.validate(clock.frame_bytes)?;
        let path = CString::new(config.device.as_bytes()).map_err(|_| {
            OutputError::invalid("device", "device must not contain NUL bytes".into())
        })?;
        let shared = Arc::new(Shared::new(Protocol::EnttecPro, 1, 1));
        let mut output = Self {
            device: config.device.clone(),
            path,
            frame_index: config.frame_index,
            msg: enttec_send_dmx_template(),
            fd: None,
            partial: None,
            next_open_ns: 0,
            reopen_interval_ns: REOPEN_INTERVAL_NS,
            error: None,
            gate: RateGate::new(config.rate_hz, Schedule::new(clock.rate_hz)),
            shared: Arc::clone(&shared),
            pending: PendingState::default(),
        };
        output.try_open(monotonic_ns());
        output.publish_state();
        Ok((output, OutputHandle { shared }))
    }

    /// Shorten the reopen interval (tests).
    #[cfg(test)]
    pub(crate) fn set_reopen_interval_ns(&mut self, ns: u64) {
        self.reopen_interval_ns = ns;
        self.next_open_ns = 0;
    }

    fn try_open(&mut self, now: u64) -> bool {
        match open_device(&self.path) {
            Ok(fd) => {
                self.fd = Some(fd);
                self.partial = None;
                true
            }
            Err(errno) => {
                self.next_open_ns = now + self.reopen_interval_ns;
                self.set_state(Some((true, errno)));
                false
            }
        }
    }

    fn error_text(&self, (open, errno): (bool, i32)) -> String {
        format!(
            "{} {} failed: {}; retrying every second",
            if open { "open" } else { "write to" },
            self.device,
            std::io::Error::from_raw_os_error(errno)
        )
    }

    /// Record the state after a frame: `Some(error)` failing, `None` healthy.
    fn set_state(&mut self, error: Option<(bool, i32)>) {
        if error != self.error {
            self.error = error;
            let text = error.map(|e| self.error_text(e));
            self.pending.record(text);
        }
        self.publish_state();
    }

    fn publish_state(&mut self) {
        self.pending.publish(&self.shared.state);
    }

    /// Write `msg[from..]`: Ok(bytes written) or Err(errno).
    fn write_from(&self, from: usize) -> Result<usize, i32> {
        let fd = self.fd.as_ref().map_or(-1, AsRawFd::as_raw_fd);
        let rest = &self.msg[from..];
        // SAFETY: `rest` is a valid readable slice; `fd` is open (or -1: EBADF).
        let n = unsafe { libc::write(fd, rest.as_ptr().cast(), rest.len()) };
        if n < 0 {
            Err(last_errno())
        } else {
            Ok(n as usize)
        }
    }

    fn fail_write(&mut self, errno: i32, now: u64) {
        self.shared.send_errors.fetch_add(1, Ordering::Relaxed);
        self.fd = None;
        self.partial = None;
        self.next_open_ns = now + self.reopen_interval_ns;
        self.set_state(Some((false, errno)));
    }

    /// Finish a message the kernel took in part. True when nothing is left over.
    fn finish_partial(&mut self, now: u64) -> bool {
        let Some(done) = self.partial else {
            return true;
        };
        match self.write_from(done) {
            Ok(n) if done + n == ENTTEC_MESSAGE_BYTES => {
                self.partial = None;
                self.shared.packets_sent.fetch_add(1, Ordering::Relaxed);
                self.shared
                    .bytes_sent
                    .fetch_add(ENTTEC_MESSAGE_BYTES as u64, Ordering::Relaxed);
                true
            }
            Ok(n) => {
                self.partial = Some(done + n);
                false
            }
            Err(libc::EAGAIN | libc::EINTR) => false,
            Err(errno) => {
                self.fail_write(errno, now);
                false
            }
        }
    }

    fn send_now(&mut self, frame: &[u8]) {
        let now = monotonic_ns();
        if self.fd.is_none() && (now < self.next_open_ns || !self.try_open(now)) {
            self.shared.send_errors.fetch_add(1, Ordering::Relaxed);
            self.publish_state();
            return;
        }
        if !self.finish_partial(now) {
            if self.fd.is_some() {
                self.shared.drops.fetch_add(1, Ordering::Relaxed);
                self.publish_state();
            }
            return;
        }
        let start = self.frame_index * UNIVERSE_BYTES;
        self.msg[5..5 + UNIVERSE_BYTES].copy_from_slice(&frame[start..start + UNIVERSE_BYTES]);
        match self.write_from(0) {
            Ok(n) => {
                if n < ENTTEC_MESSAGE_BYTES {
                    // Finished before the next message (counted as sent then).
                    self.partial = Some(n);
                } else {
                    self.shared.packets_sent.fetch_add(1, Ordering::Relaxed);
                    self.shared
                        .bytes_sent
                        .fetch_add(ENTTEC_MESSAGE_BYTES as u64, Ordering::Relaxed);
                }
                self.shared.frames_sent.fetch_add(1, Ordering::Relaxed);
                self.set_state(None);
            }
            Err(libc::EAGAIN | libc::EINTR) => {
                self.shared.drops.fetch_add(1, Ordering::Relaxed);
                self.publish_state();
            }
            Err(errno) => self.fail_write(errno, now),
        }
    }
}

impl FrameSink for SerialOutput {
    fn send(&mut self, frame: &[u8], frame_number: u64) {
        if !self.gate.due(frame_number) {
            self.shared
                .frames_skipped_by_rate
                .fetch_add(1, Ordering::Relaxed);
            return;
        }
        self.send_now(frame);
    }
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;
    use crate::output::OutputState;
    use std::io::Read;
    use std::os::fd::{FromRawFd, OwnedFd};
    use std::os::unix::fs::OpenOptionsExt;

    pub(crate) fn openpty() -> (std::fs::File, OwnedFd, String) {
        let (mut master, mut slave) = (-1, -1);
        // SAFETY: valid out-pointers; name/termios/winsize may be null.
        let rc = unsafe {
            libc::openpty(
                &mut master,
                &mut slave,
                std::ptr::null_mut(),
                std::ptr::null(),
                std::ptr::null(),
            )
        };
        assert_eq!(rc, 0, "openpty: {}", std::io::Error::last_os_error());
        let mut name = [0 as libc::c_char; 128];
        // SAFETY: `name` is a writable buffer of the given length.
        let rc = unsafe { libc::ttyname_r(slave, name.as_mut_ptr(), name.len()) };
        assert_eq!(rc, 0);
        // SAFETY: ttyname_r wrote a NUL-terminated string.
        let path = unsafe { std::ffi::CStr::from_ptr(name.as_ptr()) }
            .to_string_lossy()
            .into_owned();
        // SAFETY: both fds were just created and are owned here.
        unsafe {
            (
                std::fs::File::from_raw_fd(master),
                OwnedFd::from_raw_fd(slave),
                path,
            )
        }
    }

    pub(crate) fn read_exact_timeout(f: &mut std::fs::File, n: usize) -> Vec<u8> {
        let mut out = vec![0u8; n];
        let mut got = 0;
        while got < n {
            let mut pfd = libc::pollfd {
                fd: f.as_raw_fd(),
                events: libc::POLLIN,
                revents: 0,
            };
            // SAFETY: one valid pollfd.
            let rc = unsafe { libc::poll(&mut pfd, 1, 2000) };
            assert!(rc > 0, "timed out after {got} of {n} bytes");
            got += f.read(&mut out[got..]).expect("read master");
        }
        out
    }

    fn clock(frame_bytes: usize) -> ClockConfig {
        ClockConfig::new(44.0, frame_bytes)
    }

    #[test]
    fn writes_exact_label6_messages_to_a_pty() {
        let (mut master, _slave, path) = openpty();
        let (mut out, handle) =
            SerialOutput::new(&SerialConfig::new(&path, 1), &clock(3 * 512)).unwrap();
        assert_eq!(handle.stats().state, OutputState::Healthy);
        let mut frame = vec![0u8; 3 * 512];
        for (i, b) in frame[512..1024].iter_mut().enumerate() {
            *b = (i * 7 + 10) as u8; // includes 0x0A, 0x0D, 0x7E, 0xE7, 0x11, 0x13 …
        }
        for n in 0..3 {
            out.send(&frame, n);
            let got = read_exact_timeout(&mut master, ENTTEC_MESSAGE_BYTES);
            assert_eq!(&got[..5], &[0x7E, 6, 0x01, 0x02, 0x00]);
            assert_eq!(&got[5..517], &frame[512..1024]);
            assert_eq!(got[517], 0xE7);
        }
        let s = handle.stats();
        assert_eq!(s.protocol.name(), "enttec-pro");
        assert_eq!((s.packets_sent, s.frames_sent), (3, 3));
        assert_eq!(s.bytes_sent, 3 * ENTTEC_MESSAGE_BYTES as u64);
        assert_eq!((s.send_errors, s.state_changes), (0, 0));
    }

    #[test]
    fn unplug_fails_and_a_reappearing_device_recovers() {
        let (master, _slave, path) = openpty();
        let (mut out, handle) =
            SerialOutput::new(&SerialConfig::new(&path, 0), &clock(512)).unwrap();
        out.set_reopen_interval_ns(0);
        drop(master); // hang-up: writes to the slave now fail with EIO
        let frame = vec![1u8; 512];
        out.send(&frame, 0);
        out.send(&frame, 1);
        let s = handle.stats();
        assert_eq!(s.state, OutputState::Failing);
        let err = s.last_error.unwrap();
        assert!(err.contains(&path), "{err}");
        assert!(s.send_errors >= 1);

        // A FIFO without a reader refuses O_NONBLOCK|O_WRONLY with ENXIO (like an unplugged
        // device); once a reader exists the output reopens it and is healthy again.
        let dir = std::env::temp_dir().join(format!("troc-serial-{}", std::process::id()));
        let _ = std::fs::create_dir(&dir);
        let fifo = dir.join("dmx");
        let _ = std::fs::remove_file(&fifo);
        let c = CString::new(fifo.to_str().unwrap()).unwrap();
        // SAFETY: valid path.
        assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
        let (mut out, handle) =
            SerialOutput::new(&SerialConfig::new(fifo.to_str().unwrap(), 0), &clock(512)).unwrap();
        out.set_reopen_interval_ns(0);
        out.send(&frame, 0);
        let s = handle.stats();
        assert_eq!(s.state, OutputState::Failing);
        assert!(s.last_error.unwrap().contains("No such device or address"));
        let mut reader = std::fs::OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_NONBLOCK)
            .open(&fifo)
            .unwrap();
        out.send(&frame, 1);
        let s = handle.stats();
        assert_eq!(s.state, OutputState::Healthy);
        assert_eq!(s.frames_sent, 1);
        assert!(s.state_changes >= 2);
        let mut got = vec![0u8; ENTTEC_MESSAGE_BYTES];
        reader.read_exact(&mut got).unwrap();
        assert_eq!(got[..5], [0x7E, 6, 1, 2, 0]);
        assert!(got[5..517].iter().all(|&b| b == 1));
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn full_buffer_drops_without_blocking_and_rate_gate_skips() {
        let (_master, _slave, path) = openpty();
        let mut cfg = SerialConfig::new(&path, 0);
        cfg.rate_hz = Some(22.0);
        let (mut out, handle) = SerialOutput::new(&cfg, &clock(512)).unwrap();
        let frame = vec![0u8; 512];
        // Nobody reads the master: the pty buffer fills and further frames are dropped.
        for n in 0..2000 {
            out.send(&frame, n);
        }
        let s = handle.stats();
        assert_eq!(s.frames_skipped_by_rate, 1000);
        assert!(s.drops > 0, "{s:?}");
        assert_eq!(s.state, OutputState::Healthy);
    }

    #[test]
    fn config_is_validated() {
        let c = clock(1024);
        assert!(SerialOutput::new(&SerialConfig::new("", 0), &c).is_err());
        let e = SerialOutput::new(&SerialConfig::new("/dev/null", 2), &c).unwrap_err();
        assert!(e.to_string().contains("universe_index 2"), "{e}");
        let mut cfg = SerialConfig::new("/dev/null", 1);
        cfg.rate_hz = Some(0.0);
        assert!(SerialOutput::new(&cfg, &c).is_err());
        // A missing device is not a configuration error: failing, retried on the thread.
        let (_, h) = SerialOutput::new(&SerialConfig::new("/nonexistent/ttyUSB9", 0), &c).unwrap();
        let s = h.stats();
        assert_eq!(s.state, OutputState::Failing);
        assert!(s.last_error.unwrap().contains("No such file"));
    }
}
