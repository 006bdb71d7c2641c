//! `trocadero_rt`: thin Python binding of `trocadero-core`: the frame clock and its outputs
//! (`FrameClock`, here), the native render plan (`render`) and the MDVR codec (`mdvr`).
//!
//! All logic lives in `trocadero-core`; this crate only converts arguments, maps errors to
//! Python exceptions, and releases the GIL around anything that can wait (joining the output
//! thread, copying a frame). The output thread itself never touches Python.

mod mdvr;
mod render;

use pyo3::buffer::PyUntypedBuffer;
use pyo3::exceptions::{PyBufferError, PyOSError, PyRuntimeError, PyValueError};
use pyo3::prelude::*;
use std::net::Ipv4Addr;
use trocadero_core::output::{parse_destination, OutputStats as CoreOutputStats};
use trocadero_core::output::{OpenDmxConfig, SerialConfig, SerialKind};
use trocadero_core::{
    ClockConfig, Error, FrameClock as CoreClock, OutputConfig, OutputError, Protocol, Stats,
    UniverseMap, MAX_FRAME_BYTES, MAX_REALTIME_PRIORITY,
};

fn to_py_err(e: Error) -> PyErr {
    if e.is_invalid_argument() {
        PyValueError::new_err(e.to_string())
    } else {
        PyRuntimeError::new_err(e.to_string())
    }
}

fn output_err(e: OutputError) -> PyErr {
    match &e {
        OutputError::Invalid { .. } => PyValueError::new_err(e.to_string()),
        OutputError::Socket { source, .. } => match source.raw_os_error() {
            Some(errno) => PyOSError::new_err((errno, e.to_string())),
            None => PyOSError::new_err(e.to_string()),
        },
        OutputError::AfterStart => PyRuntimeError::new_err(e.to_string()),
    }
}

/// An integer argument in `lo..=hi`, or ValueError naming it (never OverflowError).
fn int_in<T: TryFrom<i64>>(arg: &str, value: i64, lo: i64, hi: i64) -> PyResult<T> {
    if (lo..=hi).contains(&value) {
        if let Ok(v) = T::try_from(value) {
            return Ok(v);
        }
    }
    Err(PyValueError::new_err(format!(
        "{arg} must be between {lo} and {hi} (got {value})"
    )))
}

/// Frame clock: a native output thread that sends the newest published frame at fixed,
/// absolute deadlines (CLOCK_MONOTONIC), repeating the previous frame when a render is late.
#[pyclass(frozen, module = "trocadero_rt")]
struct FrameClock {
    inner: std::sync::Arc<CoreClock>,
}

#[pymethods]
impl FrameClock {
    #[new]
    #[pyo3(signature = (rate_hz, frame_bytes, *, realtime_priority = 0))]
    fn new(rate_hz: f64, frame_bytes: i64, realtime_priority: i64) -> PyResult<Self> {
        // Convert from i64 here so that e.g. -1 gets the same ValueError as any other bad
        // value instead of pyo3's OverflowError for a negative usize.
        let frame_bytes = usize::try_from(frame_bytes).map_err(|_| {
            PyValueError::new_err(format!(
                "frame_bytes must be between 1 and {MAX_FRAME_BYTES} (got {frame_bytes})"
            ))
        })?;
        let realtime_priority = i32::try_from(realtime_priority).map_err(|_| {
            PyValueError::new_err(format!(
                "realtime_priority must be 0 (no SCHED_FIFO) or 1..={MAX_REALTIME_PRIORITY} \
                 (got {realtime_priority})"
            ))
        })?;
        let config =
            ClockConfig::new(rate_hz, frame_bytes).with_realtime_priority(realtime_priority);
        CoreClock::new(config)
            .map(|inner| Self {
                inner: std::sync::Arc::new(inner),
            })
            .map_err(to_py_err)
    }

    /// Start the output thread. Raises RuntimeError if the clock was already started.
    fn start(&self) -> PyResult<()> {
        self.inner.start().map_err(to_py_err)
    }

    /// Stop and join the output thread (idempotent). Releases the GIL while waiting.
    fn stop(&self, py: Python<'_>) {
        py.detach(|| self.inner.stop());
    }

    /// Publish a frame: any C-contiguous bytes-like object of exactly `frame_bytes` bytes
    /// (bytes, bytearray, memoryview, numpy uint8 array). The copy runs without the GIL.
    fn publish(&self, py: Python<'_>, frame: &Bound<'_, PyAny>) -> PyResult<()> {
        let buffer = PyUntypedBuffer::get(frame)?;
        if !buffer.is_c_contiguous() {
            return Err(PyBufferError::new_err(
                "frame must be a C-contiguous buffer",
            ));
        }
        let expected = self.inner.frame_bytes();
        let got = buffer.len_bytes();
        if got != expected {
            return Err(to_py_err(Error::FrameLength { expected, got }));
        }
        // Copy without the GIL: the export keeps the memory alive and fixed in place (e.g. a
        // bytearray cannot resize while exported) until `buffer` drops after this call. Copy
        // with a raw memcpy rather than through a `&[u8]`, since another Python thread may
        // legally write to a bytearray meanwhile (it would only tear *its own* input frame).
        let buffer = &buffer;
        py.detach(|| {
            self.inner.publish_with(|back| {
                // SAFETY: `buf_ptr` points at `expected` readable bytes (checked above, C
                // contiguous), `back` is a distinct allocation of the same length.
                unsafe {
                    std::ptr::copy_nonoverlapping(
                        buffer.buf_ptr() as *const u8,
                        back.as_mut_ptr(),
                        expected,
                    );
                }
            });
        });
        Ok(())
    }

    /// Snapshot of the counters and lateness percentiles. Without the GIL: it takes the
    /// (briefly held) mutex of the emergency input's error text.
    fn stats(&self, py: Python<'_>) -> ClockStats {
        ClockStats::from(py.detach(|| self.inner.stats()))
    }

    /// The deadline lateness histogram for /metrics: samples at or below each of `bounds_ns`
    /// (ascending), the number of samples and their estimated sum (ns). Without the GIL.
    fn lateness_histogram(&self, py: Python<'_>, bounds_ns: Vec<u64>) -> (Vec<u64>, u64, u64) {
        py.detach(|| self.inner.lateness_cumulative(&bounds_ns))
    }

    /// Start a fresh lateness measurement window.
    fn reset_lateness(&self) {
        self.inner.reset_lateness();
    }

    /// Fault injection: while stalled, the clock keeps its schedule but sends nothing.
    fn set_stalled(&self, stalled: bool) {
        self.inner.set_stalled(stalled);
    }

    /// Install the emergency frame: `frame` (C-contiguous bytes-like, `frame_bytes` long)
    /// replaces the published frame in `ranges` ((start, end) byte offsets) while the latch is
    /// set. ValueError naming the bad length or range; the copy runs without the GIL.
    fn set_emergency_overlay(
        &self,
        py: Python<'_>,
        frame: &Bound<'_, PyAny>,
        ranges: Vec<(i64, i64)>,
    ) -> PyResult<()> {
        let buffer = PyUntypedBuffer::get(frame)?;
        if !buffer.is_c_contiguous() {
            return Err(PyBufferError::new_err(
                "frame must be a C-contiguous buffer",
            ));
        }
        let frame_bytes = self.inner.frame_bytes();
        let mut checked = Vec::with_capacity(ranges.len());
        for (index, &(start, end)) in ranges.iter().enumerate() {
            match (usize::try_from(start), usize::try_from(end)) {
                (Ok(s), Ok(e)) => checked.push((s, e)),
                // Same error as the core's for any other bad range, not an OverflowError.
                _ => {
                    return Err(to_py_err(Error::EmergencyRange {
                        index,
                        start: start.into(),
                        end: end.into(),
                        frame_bytes,
                    }))
                }
            }
        }
        let len = buffer.len_bytes();
        let buffer = &buffer;
        py.detach(|| {
            // Copied with a raw memcpy, as in `publish`: a bytearray may be written by another
            // Python thread meanwhile, so no `&[u8]` over Python's memory.
            let mut copy = vec![0u8; len];
            // SAFETY: `buf_ptr` points at `len` readable bytes (C contiguous), kept alive and
            // in place by the export until `buffer` drops; `copy` is a new allocation.
            unsafe {
                std::ptr::copy_nonoverlapping(
                    buffer.buf_ptr() as *const u8,
                    copy.as_mut_ptr(),
                    len,
                );
            }
            self.inner.set_emergency_overlay(&copy, &checked)
        })
        .map_err(to_py_err)
    }

    /// The file or sysfs GPIO `value` the output thread reads at every deadline: `1` (`0`
    /// with `active_low`) latches the emergency. None: no input.
    #[pyo3(signature = (path, active_low = false))]
    fn set_emergency_input(
        &self,
        py: Python<'_>,
        path: Option<std::path::PathBuf>,
        active_low: bool,
    ) -> PyResult<()> {
        py.detach(|| self.inner.set_emergency_input(path.as_deref(), active_low))
            .map_err(to_py_err)
    }

    /// Latch the emergency (idempotent): the output thread sends the overlay from its next
    /// deadline. Atomics only: nothing to wait for.
    fn engage_emergency(&self) {
        self.inner.engage_emergency();
    }

    /// Clear the latch; False (and still latched) if the input asserts. Reads the input file,
    /// so without the GIL.
    fn release_emergency(&self, py: Python<'_>) -> bool {
        py.detach(|| self.inner.release_emergency())
    }

    /// Hot standby: from now on this node leads only while a lease is set
    /// (`set_lease_until`); otherwise Art-Net, DDP and DMX are withheld and sACN goes out at
    /// priority − `standby_offset`. Atomics only; any time.
    fn enable_wire_gate(&self, standby_offset: i64) -> PyResult<()> {
        let offset = int_in("standby_offset", standby_offset, 0, 200)?;
        self.inner.enable_wire_gate(offset);
        Ok(())
    }

    /// Lead until CLOCK_MONOTONIC `until_ns` (0: stand by from the next deadline).
    fn set_lease_until(&self, until_ns: u64) {
        self.inner.set_lease_until(until_ns);
    }

    /// Three Stream_Terminated packets per sACN universe at the next deadline.
    fn request_stream_terminated(&self) {
        self.inner.request_stream_terminated();
    }

    /// (enabled, leading, lease_until_ns, withheld_frames, terminated_rounds).
    fn wire_gate(&self) -> (bool, bool, u64, u64, u64) {
        let g = self.inner.wire_gate_stats();
        (
            g.enabled,
            g.leading,
            g.lease_until_ns,
            g.withheld_frames,
            g.terminated_rounds,
        )
    }

    #[getter]
    fn rate_hz(&self) -> f64 {
        self.inner.rate_hz()
    }

    #[getter]
    fn frame_bytes(&self) -> usize {
        self.inner.frame_bytes()
    }

    #[getter]
    fn running(&self) -> bool {
        self.inner.is_running()
    }

    /// CLOCK_MONOTONIC ns of deadline 0, or None before start().
    #[getter]
    fn epoch_ns(&self) -> Option<u64> {
        self.inner.epoch_ns()
    }

    #[getter]
    fn period_ns(&self) -> u64 {
        self.inner.period_ns()
    }

    /// The first deadline strictly after CLOCK_MONOTONIC time `t_ns`, as (index, ns);
    /// None before start().
    fn deadline_after(&self, t_ns: u64) -> Option<(u64, u64)> {
        self.inner.deadline_after(t_ns)
    }

    /// Add a network output (sACN, Art-Net or DDP) sent from the output thread; returns its
    /// id for `output_stats`. Only before start(). ValueError names any invalid argument;
    /// OSError if the socket cannot be set up.
    #[pyo3(signature = (
        *,
        protocol,
        universes,
        cid,
        destinations = Vec::new(),
        bind_address = None,
        interface = None,
        multicast_ttl = 1,
        broadcast = false,
        priority = 100,
        source_name = "Trocadero",
        sync_address = 0,
        rate_hz = None,
        send_on_change = false,
        keepalive_s = 1.0,
        pace_every = 0,
        pace_us = 0,
        slots = 512,
    ))]
    #[allow(clippy::too_many_arguments)]
    fn add_output(
        &self,
        py: Python<'_>,
        protocol: &str,
        universes: Vec<(i64, i64)>,
        cid: &[u8],
        destinations: Vec<String>,
        bind_address: Option<&str>,
        interface: Option<String>,
        multicast_ttl: i64,
        broadcast: bool,
        priority: i64,
        source_name: &str,
        sync_address: i64,
        rate_hz: Option<f64>,
        send_on_change: bool,
        keepalive_s: f64,
        pace_every: i64,
        pace_us: i64,
        slots: i64,
    ) -> PyResult<usize> {
        let protocol = Protocol::parse(protocol).ok_or_else(|| {
            PyValueError::new_err(format!(
                "protocol must be 'sacn', 'artnet' or 'ddp' (got {protocol:?})"
            ))
        })?;
        let mut maps = Vec::with_capacity(universes.len());
        for (i, &(frame_index, wire)) in universes.iter().enumerate() {
            let frame_index = usize::try_from(frame_index).map_err(|_| {
                PyValueError::new_err(format!(
                    "universes[{i}]: frame index must not be negative (got {frame_index})"
                ))
            })?;
            let wire = u32::try_from(wire).map_err(|_| {
                PyValueError::new_err(format!(
                    "universes[{i}]: wire universe {wire} out of range for {protocol}"
                ))
            })?;
            maps.push(UniverseMap { frame_index, wire });
        }
        let cid: [u8; 16] = cid.try_into().map_err(|_| {
            PyValueError::new_err(format!("cid must be 16 bytes (got {})", cid.len()))
        })?;
        let mut config = OutputConfig::new(protocol, maps);
        config.cid = cid;
        config.destinations = destinations
            .iter()
            .enumerate()
            .map(|(i, d)| {
                parse_destination(&format!("destinations[{i}]"), d, protocol.default_port())
            })
            .collect::<Result<_, _>>()
            .map_err(output_err)?;
        config.bind_address = bind_address
            .map(|a| {
                a.parse::<Ipv4Addr>().map_err(|_| {
                    PyValueError::new_err(format!(
                        "bind_address must be an IPv4 address (got {a:?})"
                    ))
                })
            })
            .transpose()?;
        config.interface = interface;
        config.multicast_ttl = int_in("multicast_ttl", multicast_ttl, 0, 255)?;
        config.broadcast = broadcast;
        config.priority = int_in("priority", priority, 0, 200)?;
        config.source_name = source_name.to_owned();
        config.sync_address = int_in("sync_address", sync_address, 0, 63999)?;
        config.rate_hz = rate_hz;
        config.send_on_change = send_on_change;
        config.keepalive_s = keepalive_s;
        config.pace_every = int_in("pace_every", pace_every, 0, 1 << 20)?;
        config.pace_us = int_in("pace_us", pace_us, 0, 100_000)?;
        config.slots = int_in("slots", slots, 1, 512)?;
        py.detach(|| self.inner.add_output(&config))
            .map_err(output_err)
    }

    /// Add an Enttec DMX USB Pro output: one label-6 message per frame with universe
    /// `universe_index` of the frame (512 bytes), written from the output thread to `device`
    /// without ever blocking it. Returns its id for `output_stats` (ids shared with
    /// add_output). Only before start(). A device that cannot be opened is not an error: the
    /// output reports failing and retries once a second.
    #[pyo3(signature = (*, device, universe_index, kind = "enttec-pro", rate_hz = None))]
    fn add_serial_output(
        &self,
        py: Python<'_>,
        device: &str,
        universe_index: i64,
        kind: &str,
        rate_hz: Option<f64>,
    ) -> PyResult<usize> {
        let kind = SerialKind::parse(kind).ok_or_else(|| {
            PyValueError::new_err(format!("kind must be 'enttec-pro' (got {kind:?})"))
        })?;
        let frame_index = usize::try_from(universe_index).map_err(|_| {
            PyValueError::new_err(format!(
                "universe_index must not be negative (got {universe_index})"
            ))
        })?;
        let mut config = SerialConfig::new(device, frame_index);
        config.kind = kind;
        config.rate_hz = rate_hz;
        py.detach(|| self.inner.add_serial_output(&config))
            .map_err(output_err)
    }

    /// Add an Open DMX output (plain FTDI): universe `universe_index` of every frame the
    /// output thread sends (emergency overlay applied) goes to a native writer thread that
    /// makes break, MAB and the 513-byte frame on `device` at `rate_hz` (≤ 44). Nothing is
    /// sent before the first frame. Returns its id for `output_stats`. Only before start().
    #[pyo3(signature = (*, device, universe_index, rate_hz = 40.0, break_us = 110, mab_us = 16))]
    fn add_opendmx_output(
        &self,
        py: Python<'_>,
        device: &str,
        universe_index: i64,
        rate_hz: f64,
        break_us: i64,
        mab_us: i64,
    ) -> PyResult<usize> {
        let frame_index = usize::try_from(universe_index).map_err(|_| {
            PyValueError::new_err(format!(
                "universe_index must not be negative (got {universe_index})"
            ))
        })?;
        let mut config = OpenDmxConfig::new(device, frame_index);
        config.rate_hz = rate_hz;
        config.break_us = int_in("break_us", break_us, 0, 1_000_000)?;
        config.mab_us = int_in("mab_us", mab_us, 0, 1_000_000)?;
        py.detach(|| self.inner.add_opendmx_output(&config))
            .map_err(output_err)
    }

    /// Counters and state of output `output_id` (from add_output), readable while running.
    fn output_stats(&self, output_id: i64) -> PyResult<OutputStats> {
        usize::try_from(output_id)
            .ok()
            .and_then(|id| self.inner.output_stats(id).map(|s| OutputStats::new(id, s)))
            .ok_or_else(|| {
                PyValueError::new_err(format!(
                    "output_id {output_id} is not an output of this clock ({} added)",
                    self.inner.output_count()
                ))
            })
    }

    fn __repr__(&self) -> String {
        format!(
            "FrameClock(rate_hz={:?}, frame_bytes={}, running={})",
            self.inner.rate_hz(),
            self.inner.frame_bytes(),
            if self.inner.is_running() {
                "True"
            } else {
                "False"
            }
        )
    }
}

/// Immutable snapshot returned by `FrameClock.stats()`. Times are nanoseconds;
/// `last_frame_ns` is CLOCK_MONOTONIC, comparable with `time.monotonic_ns()`.
#[pyclass(frozen, get_all, module = "trocadero_rt")]
struct ClockStats {
    frames_sent: u64,
    frames_published: u64,
    late_renders: u64,
    missed_deadlines: u64,
    last_frame_ns: u64,
    thread_cpu_ns: u64,
    lateness_p50_ns: u64,
    lateness_p99_ns: u64,
    lateness_max_ns: u64,
    lateness_samples: u64,
    realtime: bool,
    realtime_error: Option<String>,
    running: bool,
    rate_hz: f64,
    frame_bytes: usize,
    emergency_latched: bool,
    emergency_input_asserted: bool,
    emergency_engagements: u64,
    emergency_frames_sent: u64,
    emergency_latched_at_ns: u64,
    emergency_input_errors: u64,
    emergency_input_error: Option<String>,
    emergency_covered_bytes: usize,
}

impl From<Stats> for ClockStats {
    fn from(s: Stats) -> Self {
        Self {
            frames_sent: s.frames_sent,
            frames_published: s.frames_published,
            late_renders: s.late_renders,
            missed_deadlines: s.missed_deadlines,
            last_frame_ns: s.last_frame_ns,
            thread_cpu_ns: s.thread_cpu_ns,
            lateness_p50_ns: s.lateness_p50_ns,
            lateness_p99_ns: s.lateness_p99_ns,
            lateness_max_ns: s.lateness_max_ns,
            lateness_samples: s.lateness_samples,
            realtime: s.realtime,
            realtime_error: s.realtime_error,
            running: s.running,
            rate_hz: s.rate_hz,
            frame_bytes: s.frame_bytes,
            emergency_latched: s.emergency.latched,
            emergency_input_asserted: s.emergency.input_asserted,
            emergency_engagements: s.emergency.engagements,
            emergency_frames_sent: s.emergency.frames_sent,
            emergency_latched_at_ns: s.emergency.latched_at_ns,
            emergency_input_errors: s.emergency.input_errors,
            emergency_input_error: s.emergency.input_error,
            emergency_covered_bytes: s.emergency.covered_bytes,
        }
    }
}

#[pymethods]
impl ClockStats {
    fn __repr__(&self) -> String {
        let py_bool = |b: bool| if b { "True" } else { "False" };
        format!(
            "ClockStats(frames_sent={}, frames_published={}, late_renders={}, \
             missed_deadlines={}, last_frame_ns={}, thread_cpu_ns={}, lateness_p50_ns={}, \
             lateness_p99_ns={}, lateness_max_ns={}, lateness_samples={}, realtime={}, \
             realtime_error={}, \
             running={}, rate_hz={:?}, frame_bytes={}, emergency_latched={}, \
             emergency_engagements={})",
            self.frames_sent,
            self.frames_published,
            self.late_renders,
            self.missed_deadlines,
            self.last_frame_ns,
            self.thread_cpu_ns,
            self.lateness_p50_ns,
            self.lateness_p99_ns,
            self.lateness_max_ns,
            self.lateness_samples,
            py_bool(self.realtime),
            match &self.realtime_error {
                Some(e) => format!("{e:?}"),
                None => "None".to_owned(),
            },
            py_bool(self.running),
            self.rate_hz,
            self.frame_bytes,
            py_bool(self.emergency_latched),
            self.emergency_engagements,
        )
    }
}

/// Immutable snapshot returned by `FrameClock.output_stats()`.
#[pyclass(frozen, get_all, module = "trocadero_rt")]
struct OutputStats {
    output_id: usize,
    protocol: &'static str,
    universes: usize,
    packets_per_frame: usize,
    packets_sent: u64,
    bytes_sent: u64,
    frames_sent: u64,
    frames_skipped_by_rate: u64,
    send_errors: u64,
    drops: u64,
    state: &'static str,
    last_error: Option<String>,
    state_changes: u64,
    break_errors: u64,
    late_frames: u64,
}

impl OutputStats {
    fn new(output_id: usize, s: CoreOutputStats) -> Self {
        Self {
            output_id,
            protocol: s.protocol.name(),
            universes: s.universes,
            packets_per_frame: s.packets_per_frame,
            packets_sent: s.packets_sent,
            bytes_sent: s.bytes_sent,
            frames_sent: s.frames_sent,
            frames_skipped_by_rate: s.frames_skipped_by_rate,
            send_errors: s.send_errors,
            drops: s.drops,
            state: s.state.name(),
            last_error: s.last_error,
            state_changes: s.state_changes,
            break_errors: s.break_errors,
            late_frames: s.late_frames,
        }
    }
}

#[pymethods]
impl OutputStats {
    #[getter]
    fn healthy(&self) -> bool {
        self.state == "healthy"
    }

    fn __repr__(&self) -> String {
        format!(
            "OutputStats(output_id={}, protocol={:?}, universes={}, packets_per_frame={}, \
             packets_sent={}, bytes_sent={}, frames_sent={}, frames_skipped_by_rate={}, \
             send_errors={}, drops={}, state={:?}, last_error={}, state_changes={}, \
             break_errors={}, late_frames={})",
            self.output_id,
            self.protocol,
            self.universes,
            self.packets_per_frame,
            self.packets_sent,
            self.bytes_sent,
            self.frames_sent,
            self.frames_skipped_by_rate,
            self.send_errors,
            self.drops,
            self.state,
            match &self.last_error {
                Some(e) => format!("{e:?}"),
                None => "None".to_owned(),
            },
            self.state_changes,
            self.break_errors,
            self.late_frames,
        )
    }
}

/// Native real-time output for Trocadero (frame clock and network outputs).
#[pymodule(gil_used = false)]
mod trocadero_rt {
    #[pymodule_export]
    use super::{ClockStats, FrameClock, OutputStats};
    use pyo3::prelude::*;

    #[pymodule_init]
    fn init(m: &Bound<'_, PyModule>) -> PyResult<()> {
        m.add("__version__", env!("CARGO_PKG_VERSION"))?;
        m.add(
            "BUILD_PROFILE",
            if cfg!(debug_assertions) {
                "debug"
            } else {
                "release"
            },
        )?;
        m.add(
            "BUILD_INFO",
            concat!(
                "rustc-profile=",
                env!("TROCADERO_BUILD_PROFILE"),
                " opt-level=",
                env!("TROCADERO_BUILD_OPT_LEVEL"),
                " target=",
                env!("TROCADERO_BUILD_TARGET"),
            ),
        )?;
        // A Rust panic reaches Python as this BaseException (not an Exception): exported so
        // connection handlers can contain it like any other session failure.
        m.add(
            "PanicException",
            m.py().get_type::<pyo3::panic::PanicException>(),
        )?;
        super::mdvr::register(m)?;
        super::render::register(m)?;
        Ok(())
    }
}
