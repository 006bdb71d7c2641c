//! Binding of `trocadero_core::mdvr`: one decoder object per connection, returning the frozen
//! dataclasses of `trocadero.protocols.mdvr`, and the server's message builders.
//!
//! The message classes are defined in Python (so the pure-Python reference parser produces the
//! very same types) and handed to [`MdvrSchema`] once; the field names the decoder fills are
//! listed in [`SCHEMA`] and checked against each dataclass there. Instances are made the way
//! `copy`/`pickle` make them, `object.__new__(cls)` then a generic attribute store per field:
//! a frozen dataclass's `__init__` goes through `object.__setattr__` for every field and costs
//! ~10x more than the parsing itself.
//!
//! The media decoder releases the GIL for bulk work: framing a large read (including copying
//! a frame that straddles reads) and copying payloads into their `bytes` objects, which are
//! allocated first, filled without the GIL, and only then published.

use std::ops::Range;

use pyo3::buffer::PyBuffer;
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyList, PyString, PyTuple, PyType};
use pyo3::{ffi, IntoPyObjectExt};

use trocadero_core::mdvr::builders::{self, BuildError, FileDownload, LiveVideo, Route};
use trocadero_core::mdvr::media::{MediaFramer, MediaScanner, MAX_MEDIA_PAYLOAD_LIMIT};
use trocadero_core::mdvr::signaling::{
    Alarm, DeviceStatus, Fields, MediaRegistration, RegistrationKind,
};
use trocadero_core::mdvr::{
    parse_message, Channel, Envelope, FrameKind, FramerStats, MediaBody, MediaPacket, Message,
    Position, SignalingFramer, StreamFramer, DEFAULT_MAX_MEDIA_PAYLOAD,
};

/// Reads at least this large are framed without the GIL, and payload copies of at least this
/// many bytes in one `feed` run without it (below, releasing costs more than it frees).
const DETACH_BYTES: usize = 64 << 10;

/// The classes the decoders build, in this order, with their fields in declaration order
/// (inherited fields first, as `dataclasses.fields` lists them).
#[rustfmt::skip]
pub const SCHEMA: &[(&str, &[&str])] = &[
    ("Position", &[
        "valid", "gps_state", "longitude", "latitude", "speed_kmh", "course_raw", "status",
        "status_mask", "device_temp_c", "engine_temp_c", "cabin_temp_c", "mileage_m", "fuel_l",
        "parking_s", "extension", "stop_flag", "passengers", "extra",
    ]),
    ("DeviceAck", &[
        "serial", "keyword", "device_id", "workstation", "time", "position", "src_keyword",
        "src_time", "answer_mode", "success", "details", "raw_details",
    ]),
    ("Registration", &[
        "serial", "keyword", "device_id", "workstation", "time", "position", "protocol_version",
        "device_type", "login_ip", "login_port", "power_ons_today", "connections", "plate",
        "net_type", "net_name", "audio_type", "disk_type", "factory_type", "factory_device_type",
        "imei", "host_version", "net_lib_version", "extra",
    ]),
    ("Heartbeat", &["serial", "keyword", "device_id", "workstation", "time", "extra"]),
    ("PositionReport", &[
        "serial", "keyword", "device_id", "workstation", "time", "position", "report_flag", "extra",
    ]),
    ("FileQuery", &["serial", "keyword", "device_id", "workstation", "time", "position", "extra"]),
    ("DeviceStatus", &[
        "serial", "keyword", "device_id", "workstation", "time", "position", "success",
        "reported_device_id", "device_type", "device_name", "software_version", "channel_count",
        "video_lost_mask", "record_mask", "disk_count", "disk_info", "cell_status", "cell_type",
        "cell_quality", "cell_ip", "wifi_status", "wifi_ap", "wifi_quality", "wifi_ip", "extra",
    ]),
    ("MediaRegistration", &[
        "serial", "keyword", "device_id", "workstation", "time", "position", "protocol_version",
        "device_type", "media_ip", "media_port", "session_id", "details",
    ]),
    ("LiveVideoRegistration", &[
        "serial", "keyword", "device_id", "workstation", "time", "position", "protocol_version",
        "device_type", "media_ip", "media_port", "session_id", "details", "command", "channel",
        "stream_type", "plate",
    ]),
    ("FileRegistration", &[
        "serial", "keyword", "device_id", "workstation", "time", "position", "protocol_version",
        "device_type", "media_ip", "media_port", "session_id", "details", "file_size", "file_name",
        "plate",
    ]),
    ("Alarm", &[
        "serial", "keyword", "device_id", "workstation", "time", "position", "alarm_time",
        "alarm_uid", "snapshot_taken", "snapshot_path", "recording_taken", "recording_path",
        "details", "channel_mask",
    ]),
    ("FileReady", &[
        "serial", "keyword", "device_id", "workstation", "time", "position", "alarm_time",
        "alarm_uid", "snapshot_taken", "snapshot_path", "recording_taken", "recording_path",
        "details", "channel_mask", "file_type", "file_path", "file_length", "record_type",
        "start_time", "duration_s", "channel",
    ]),
    ("CenterAck", &[
        "serial", "keyword", "device_id", "workstation", "time", "src_keyword", "src_time",
        "answer_mode", "content",
    ]),
    ("LiveVideoRequest", &[
        "serial", "keyword", "device_id", "workstation", "time", "session_id", "start", "channel",
        "stream_type", "connection_type", "media_ip", "media_port", "extra",
    ]),
    ("FileDownloadRequest", &[
        "serial", "keyword", "device_id", "workstation", "time", "session_id", "offset_mode",
        "start_offset", "end_offset", "media_ip", "media_port", "file_name", "extra",
    ]),
    ("Command", &["serial", "keyword", "device_id", "workstation", "time", "args", "raw_args"]),
    ("UnknownMessage", &[
        "serial", "keyword", "device_id", "workstation", "time", "fields", "raw_fields",
    ]),
    ("MalformedFrame", &["raw", "reason"]),
    ("RawMediaPacket", &["envelope", "opcode", "serial", "time", "payload"]),
    ("MediaFrame", &["envelope", "opcode", "serial", "time", "timestamp_us", "data"]),
    ("FileBlock", &["envelope", "opcode", "serial", "time", "offset", "length", "data"]),
];

/// Indices into [`SCHEMA`].
mod kind {
    pub const POSITION: usize = 0;
    pub const DEVICE_ACK: usize = 1;
    pub const REGISTRATION: usize = 2;
    pub const HEARTBEAT: usize = 3;
    pub const POSITION_REPORT: usize = 4;
    pub const FILE_QUERY: usize = 5;
    pub const DEVICE_STATUS: usize = 6;
    pub const MEDIA_REGISTRATION: usize = 7;
    pub const LIVE_VIDEO_REGISTRATION: usize = 8;
    pub const FILE_REGISTRATION: usize = 9;
    pub const ALARM: usize = 10;
    pub const FILE_READY: usize = 11;
    pub const CENTER_ACK: usize = 12;
    pub const LIVE_VIDEO_REQUEST: usize = 13;
    pub const FILE_DOWNLOAD_REQUEST: usize = 14;
    pub const COMMAND: usize = 15;
    pub const UNKNOWN: usize = 16;
    pub const MALFORMED: usize = 17;
    pub const RAW_MEDIA_PACKET: usize = 18;
    pub const MEDIA_FRAME: usize = 19;
    pub const FILE_BLOCK: usize = 20;
}

/// The message classes the decoders instantiate (validated against [`SCHEMA`]).
#[pyclass(frozen, module = "trocadero_rt")]
pub struct MdvrSchema {
    classes: Vec<Py<PyType>>,
    names: Vec<Vec<Py<PyString>>>,
    /// Per class: it allocates like `object` (`__new__` is `object.__new__` and `tp_alloc` is
    /// `PyType_GenericAlloc`), so an instance can be allocated without calling `__new__`.
    generic_alloc: Vec<bool>,
    /// Per class: the slot (member) descriptor of every field when all fields are slots,
    /// so a value is stored by the descriptor's `__set__` without an attribute lookup.
    slots: Vec<Option<Vec<Py<PyAny>>>>,
    member_set: Option<ffi::descrsetfunc>,
    object_new: Py<PyAny>,
}

#[pymethods]
impl MdvrSchema {
    #[new]
    fn new(py: Python<'_>, types: Vec<Bound<'_, PyType>>) -> PyResult<Self> {
        if types.len() != SCHEMA.len() {
            return Err(PyValueError::new_err(format!(
                "expected {} classes in MDVR_SCHEMA order, got {}",
                SCHEMA.len(),
                types.len()
            )));
        }
        let dataclasses = py.import("dataclasses")?;
        let object_new = py
            .import("builtins")?
            .getattr("object")?
            .getattr("__new__")?;
        let mut names = Vec::with_capacity(SCHEMA.len());
        let mut generic_alloc = Vec::with_capacity(SCHEMA.len());
        let mut slots = Vec::with_capacity(SCHEMA.len());
        let member_type = py.import("types")?.getattr("MemberDescriptorType")?;
        // SAFETY: `member_type` is a live type object; its `tp_descr_set` is a plain field.
        let member_set =
            unsafe { (*member_type.as_ptr().cast::<ffi::PyTypeObject>()).tp_descr_set };
        for (cls, (name, fields)) in types.iter().zip(SCHEMA) {
            let cls_name: String = cls.getattr("__name__")?.extract()?;
            let got: Vec<String> = dataclasses
                .call_method1("fields", (cls,))?
                .try_iter()?
                .map(|f| f?.getattr("name")?.extract())
                .collect::<PyResult<_>>()?;
            if cls_name != *name || got != *fields {
                return Err(PyValueError::new_err(format!(
                    "class {cls_name} with fields {got:?} does not match {name} {fields:?}"
                )));
            }
            names.push(
                fields
                    .iter()
                    .map(|f| PyString::intern(py, f).unbind())
                    .collect(),
            );
            // SAFETY: `cls` is a live type object; PyType_GetSlot reads one of its slots.
            let alloc = unsafe { ffi::PyType_GetSlot(cls.as_type_ptr(), ffi::Py_tp_alloc) };
            let generic = alloc == ffi::PyType_GenericAlloc as *mut std::ffi::c_void;
            generic_alloc.push(generic && cls.getattr("__new__")?.is(&object_new));
            slots.push(member_descriptors(cls, fields, &member_type)?);
        }
        Ok(Self {
            classes: types.into_iter().map(Bound::unbind).collect(),
            names,
            generic_alloc,
            slots,
            member_set,
            object_new: object_new.unbind(),
        })
    }
}

impl MdvrSchema {
    /// A `kind` instance with `values` in field order, bypassing the frozen `__init__`.
    fn make<'py>(
        &self,
        py: Python<'py>,
        kind: usize,
        values: &[Bound<'py, PyAny>],
    ) -> PyResult<Bound<'py, PyAny>> {
        let (Some(cls), Some(names)) = (self.classes.get(kind), self.names.get(kind)) else {
            return Err(PyValueError::new_err("unknown message kind"));
        };
        if names.len() != values.len() {
            return Err(PyValueError::new_err(format!(
                "{} values for {} fields",
                values.len(),
                names.len()
            )));
        }
        let obj = if self.generic_alloc.get(kind) == Some(&true) {
            // SAFETY: the class allocates with PyType_GenericAlloc and does not override
            // `__new__` (checked in `new`), so this is what `object.__new__(cls)` does; it
            // returns a new reference or NULL with an exception set.
            unsafe {
                Bound::from_owned_ptr_or_err(py, ffi::PyType_GenericAlloc(cls.as_ptr().cast(), 0))?
            }
        } else {
            self.object_new.bind(py).call1((cls.bind(py),))?
        };
        if let (Some(Some(descrs)), Some(set)) = (self.slots.get(kind), self.member_set) {
            for (descr, value) in descrs.iter().zip(values) {
                // SAFETY: `descr` is a member descriptor of `cls` (found in its MRO when the
                // schema was built), `obj` a fresh instance of `cls`, `value` a live object;
                // member_set stores it in the slot, returning -1 with an exception on error.
                if unsafe { set(descr.as_ptr(), obj.as_ptr(), value.as_ptr()) } != 0 {
                    return Err(PyErr::fetch(py));
                }
            }
            return Ok(obj);
        }
        for (name, value) in names.iter().zip(values) {
            // SAFETY: all three pointers are live references held by this frame, and we are
            // attached to the interpreter. PyObject_GenericSetAttr stores through the class's
            // slot descriptor (what `object.__setattr__` does) and returns -1 with an
            // exception set on failure.
            let rc = unsafe {
                ffi::PyObject_GenericSetAttr(obj.as_ptr(), name.as_ptr(), value.as_ptr())
            };
            if rc != 0 {
                return Err(PyErr::fetch(py));
            }
        }
        Ok(obj)
    }
}

/// The member (slot) descriptors of `fields` along `cls`'s MRO, or None if any field is not a
/// slot (then values are stored by generic attribute assignment).
fn member_descriptors(
    cls: &Bound<'_, PyType>,
    fields: &[&str],
    member_type: &Bound<'_, PyAny>,
) -> PyResult<Option<Vec<Py<PyAny>>>> {
    let mro = cls.getattr("__mro__")?;
    let mut found = Vec::with_capacity(fields.len());
    for field in fields {
        let mut descr = None;
        for klass in mro.try_iter()? {
            let d = klass?.getattr("__dict__")?.call_method1("get", (field,))?;
            if !d.is_none() {
                descr = Some(d);
                break;
            }
        }
        match descr {
            Some(d) if d.get_type().is(member_type) => found.push(d.unbind()),
            _ => return Ok(None),
        }
    }
    Ok(Some(found))
}

/// Python values from core types.
struct Conv<'a, 'py> {
    py: Python<'py>,
    schema: &'a MdvrSchema,
}

type Obj<'py> = Bound<'py, PyAny>;

impl<'py> Conv<'_, 'py> {
    /// A text field: UTF-8, else GBK with replacement (§2.2: device strings may be GBK).
    fn text(&self, raw: &[u8]) -> PyResult<Obj<'py>> {
        let len = ffi::Py_ssize_t::try_from(raw.len())
            .map_err(|_| PyValueError::new_err("field too long"))?;
        // SAFETY: `raw` is `len` readable bytes; with a NULL error handler ("strict") CPython
        // returns a new str, or NULL with UnicodeDecodeError set. CPython validates the UTF-8
        // itself, so it is not checked twice.
        let decoded = unsafe {
            Bound::from_owned_ptr_or_err(
                self.py,
                ffi::PyUnicode_DecodeUTF8(raw.as_ptr().cast(), len, std::ptr::null()),
            )
        };
        match decoded {
            Ok(s) => Ok(s),
            Err(_) => {
                let b = PyBytes::new(self.py, raw);
                Ok(PyString::from_encoded_object(&b, Some(c"gbk"), Some(c"replace"))?.into_any())
            }
        }
    }

    fn opt_text(&self, raw: Option<&[u8]>) -> PyResult<Obj<'py>> {
        match raw {
            Some(r) => self.text(r),
            None => Ok(self.py.None().into_bound(self.py)),
        }
    }

    fn value<T: IntoPyObjectExt<'py>>(&self, v: T) -> PyResult<Obj<'py>> {
        v.into_bound_py_any(self.py)
    }

    fn bytes(&self, raw: &[u8]) -> PyResult<Obj<'py>> {
        Ok(PyBytes::new(self.py, raw).into_any())
    }

    fn flags(&self, v: Option<[u8; 8]>) -> PyResult<Obj<'py>> {
        match v {
            Some(b) => self.bytes(&b),
            None => Ok(self.py.None().into_bound(self.py)),
        }
    }

    fn split(&self, raw: Option<&[u8]>, sep: u8) -> PyResult<Obj<'py>> {
        let items = match raw {
            Some(r) => r
                .split(|&b| b == sep)
                .map(|f| self.text(f))
                .collect::<PyResult<Vec<_>>>()?,
            None => Vec::new(),
        };
        Ok(PyTuple::new(self.py, items)?.into_any())
    }

    fn tuple(&self, f: Fields<'_>) -> PyResult<Obj<'py>> {
        self.split(f.raw(), b',')
    }

    fn raw(&self, f: Fields<'_>) -> PyResult<Obj<'py>> {
        self.bytes(f.raw().unwrap_or_default())
    }

    fn header(&self, m: &Message<'_>) -> PyResult<Vec<Obj<'py>>> {
        // Room for the longest message (DeviceStatus, 25 fields) without regrowing.
        let mut v = Vec::with_capacity(25);
        if let Some(h) = m.header() {
            v.extend([
                self.text(h.serial)?,
                self.text(h.keyword)?,
                self.text(h.device_id)?,
                self.text(h.workstation)?,
                self.text(h.time)?,
            ]);
        }
        Ok(v)
    }

    fn position(&self, p: Option<Position<'_>>) -> PyResult<Obj<'py>> {
        let Some(p) = p else {
            return Ok(self.py.None().into_bound(self.py));
        };
        let values = [
            self.value(p.valid)?,
            self.text(p.gps_state)?,
            self.value(p.longitude)?,
            self.value(p.latitude)?,
            self.value(p.speed_kmh)?,
            self.value(p.course_raw)?,
            self.flags(p.status)?,
            self.flags(p.status_mask)?,
            self.value(p.device_temp_c)?,
            self.value(p.engine_temp_c)?,
            self.value(p.cabin_temp_c)?,
            self.value(p.mileage_m)?,
            self.value(p.fuel_l)?,
            self.value(p.parking_s)?,
            self.split(p.extension, b'|')?,
            self.value(p.stop_flag)?,
            self.value(p.passengers)?,
            self.opt_text(p.extra)?,
        ];
        self.schema.make(self.py, kind::POSITION, &values)
    }

    fn message(&self, m: &Message<'_>) -> PyResult<Obj<'py>> {
        let mut v = self.header(m)?;
        let kind = match m {
            Message::DeviceAck(a) => {
                v.extend([
                    self.position(a.position)?,
                    self.text(a.src_keyword)?,
                    self.text(a.src_time)?,
                    self.value(a.answer_mode)?,
                    self.value(a.success)?,
                    self.tuple(a.details)?,
                    self.raw(a.details)?,
                ]);
                kind::DEVICE_ACK
            }
            Message::Registration(r) => {
                v.extend([
                    self.position(r.position)?,
                    self.text(r.protocol_version)?,
                    self.value(r.device_type)?,
                    self.text(r.login_ip)?,
                    self.value(r.login_port)?,
                    self.value(r.power_ons_today)?,
                    self.value(r.connections)?,
                    self.text(r.plate)?,
                    self.value(r.net_type)?,
                    self.text(r.net_name)?,
                    self.value(r.audio_type)?,
                    self.value(r.disk_type)?,
                    self.text(r.factory_type)?,
                    self.text(r.factory_device_type)?,
                    self.text(r.imei)?,
                    self.text(r.host_version)?,
                    self.text(r.net_lib_version)?,
                    self.tuple(r.extra)?,
                ]);
                kind::REGISTRATION
            }
            Message::Heartbeat { extra, .. } => {
                v.push(self.tuple(*extra)?);
                kind::HEARTBEAT
            }
            Message::PositionReport(r) => {
                v.extend([
                    self.position(r.position)?,
                    self.value(r.report_flag)?,
                    self.tuple(r.extra)?,
                ]);
                kind::POSITION_REPORT
            }
            Message::FileQuery {
                position, extra, ..
            } => {
                v.extend([self.position(*position)?, self.tuple(*extra)?]);
                kind::FILE_QUERY
            }
            Message::DeviceStatus(s) => {
                self.device_status(&mut v, s)?;
                kind::DEVICE_STATUS
            }
            Message::MediaRegistration(r) => self.media_registration(&mut v, r)?,
            Message::Alarm(a) => self.alarm(&mut v, a)?,
            Message::CenterAck(a) => {
                v.extend([
                    self.text(a.src_keyword)?,
                    self.text(a.src_time)?,
                    self.value(a.answer_mode)?,
                    self.tuple(a.content)?,
                ]);
                kind::CENTER_ACK
            }
            Message::LiveVideoRequest(r) => {
                v.extend([
                    self.text(r.session_id)?,
                    self.value(r.start)?,
                    self.value(r.channel)?,
                    self.value(r.stream_type)?,
                    self.value(r.connection_type)?,
                    self.text(r.media_ip)?,
                    self.value(r.media_port)?,
                    self.tuple(r.extra)?,
                ]);
                kind::LIVE_VIDEO_REQUEST
            }
            Message::FileDownloadRequest(r) => {
                v.extend([
                    self.text(r.session_id)?,
                    self.value(r.offset_mode)?,
                    self.value(r.start_offset)?,
                    self.value(r.end_offset)?,
                    self.text(r.media_ip)?,
                    self.value(r.media_port)?,
                    self.text(r.file_name)?,
                    self.tuple(r.extra)?,
                ]);
                kind::FILE_DOWNLOAD_REQUEST
            }
            Message::Command { args, .. } => {
                v.extend([self.tuple(*args)?, self.raw(*args)?]);
                kind::COMMAND
            }
            Message::Unknown { fields, .. } => {
                v.extend([self.tuple(*fields)?, self.raw(*fields)?]);
                kind::UNKNOWN
            }
            Message::Malformed { frame, reason } => {
                v.extend([
                    self.bytes(frame)?,
                    PyString::new(self.py, reason).into_any(),
                ]);
                kind::MALFORMED
            }
        };
        self.schema.make(self.py, kind, &v)
    }

    fn device_status(&self, v: &mut Vec<Obj<'py>>, s: &DeviceStatus<'_>) -> PyResult<()> {
        v.extend([
            self.position(s.position)?,
            self.value(s.success)?,
            self.text(s.reported_device_id)?,
            self.value(s.device_type)?,
            self.text(s.device_name)?,
            self.text(s.software_version)?,
            self.value(s.channel_count)?,
            self.value(s.video_lost_mask)?,
            self.value(s.record_mask)?,
            self.value(s.disk_count)?,
            self.text(s.disk_info)?,
            self.value(s.cell_status)?,
            self.value(s.cell_type)?,
            self.value(s.cell_quality)?,
            self.text(s.cell_ip)?,
            self.value(s.wifi_status)?,
            self.text(s.wifi_ap)?,
            self.value(s.wifi_quality)?,
            self.text(s.wifi_ip)?,
            self.tuple(s.extra)?,
        ]);
        Ok(())
    }

    fn media_registration(
        &self,
        v: &mut Vec<Obj<'py>>,
        r: &MediaRegistration<'_>,
    ) -> PyResult<usize> {
        v.extend([
            self.position(r.position)?,
            self.text(r.protocol_version)?,
            self.value(r.device_type)?,
            self.text(r.media_ip)?,
            self.value(r.media_port)?,
            self.text(r.session_id)?,
            self.tuple(r.details)?,
        ]);
        Ok(match r.kind {
            RegistrationKind::Live {
                command,
                channel,
                stream_type,
                plate,
            } => {
                v.extend([
                    self.text(command)?,
                    self.value(channel)?,
                    self.value(stream_type)?,
                    self.text(plate)?,
                ]);
                kind::LIVE_VIDEO_REGISTRATION
            }
            RegistrationKind::File {
                file_size,
                file_name,
                plate,
            } => {
                v.extend([
                    self.value(file_size)?,
                    self.text(file_name)?,
                    self.text(plate)?,
                ]);
                kind::FILE_REGISTRATION
            }
            RegistrationKind::Other => kind::MEDIA_REGISTRATION,
        })
    }

    fn alarm(&self, v: &mut Vec<Obj<'py>>, a: &Alarm<'_>) -> PyResult<usize> {
        v.extend([
            self.position(a.position)?,
            self.text(a.alarm_time)?,
            self.text(a.alarm_uid)?,
            self.value(a.snapshot_taken)?,
            self.text(a.snapshot_path)?,
            self.value(a.recording_taken)?,
            self.text(a.recording_path)?,
            self.tuple(a.details)?,
            self.value(a.channel_mask)?,
        ]);
        let Some(file) = a.file else {
            return Ok(kind::ALARM);
        };
        v.extend([
            self.value(file.file_type)?,
            self.text(file.file_path)?,
            self.value(file.file_length)?,
            self.value(file.record_type)?,
            self.text(file.start_time)?,
            self.value(file.duration_s)?,
            self.value(file.channel)?,
        ]);
        Ok(kind::FILE_READY)
    }
}

/// The bytes of `data`: borrowed from a `bytes` object, copied from any other buffer.
enum Input<'py> {
    Bytes(Bound<'py, PyBytes>),
    Owned(Vec<u8>),
}

impl<'py> Input<'py> {
    fn new(data: &Bound<'py, PyAny>) -> PyResult<Self> {
        if let Ok(b) = data.cast::<PyBytes>() {
            return Ok(Input::Bytes(b.clone()));
        }
        // A mutable buffer (bytearray, memoryview) is copied once, so the decoder never reads
        // memory another thread may be writing.
        Ok(Input::Owned(PyBuffer::<u8>::get(data)?.to_vec(data.py())?))
    }

    fn as_slice(&self) -> &[u8] {
        match self {
            Input::Bytes(b) => b.as_bytes(),
            Input::Owned(v) => v,
        }
    }
}

fn stats_getters(stats: FramerStats, buffered: usize) -> [(&'static str, u64); 7] {
    [
        ("frames", stats.frames),
        ("frame_bytes", stats.frame_bytes),
        ("skipped_bytes", stats.skipped_bytes),
        ("rejected_frames", stats.rejected_frames),
        ("skipped_since_frame", stats.skipped_since_frame),
        ("rejected_since_frame", stats.rejected_since_frame),
        ("buffered_bytes", buffered as u64),
    ]
}

fn stats_repr(name: &str, stats: FramerStats, buffered: usize) -> String {
    let fields: Vec<String> = stats_getters(stats, buffered)
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect();
    format!("{name}({})", fields.join(", "))
}

/// Per-connection decoder of the signaling stream: `feed(bytes)` returns the messages
/// completed by those bytes, in order.
#[pyclass(module = "trocadero_rt")]
pub struct MdvrSignalingDecoder {
    schema: Py<MdvrSchema>,
    framer: SignalingFramer,
}

#[pymethods]
impl MdvrSignalingDecoder {
    #[new]
    fn new(schema: Py<MdvrSchema>) -> Self {
        Self {
            schema,
            framer: SignalingFramer::signaling(),
        }
    }

    fn feed<'py>(
        &mut self,
        py: Python<'py>,
        data: &Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, PyList>> {
        let input = Input::new(data)?;
        let conv = Conv {
            py,
            schema: self.schema.get(),
        };
        let mut out = Vec::new();
        let mut error = None;
        self.framer.feed(input.as_slice(), |_, frame| {
            if error.is_none() {
                match conv.message(&parse_message(frame, Channel::Signaling)) {
                    Ok(obj) => out.push(obj),
                    Err(e) => error = Some(e),
                }
            }
        });
        match error {
            Some(e) => Err(e),
            None => PyList::new(py, out),
        }
    }

    #[getter]
    fn frames(&self) -> u64 {
        self.framer.stats().frames
    }
    #[getter]
    fn frame_bytes(&self) -> u64 {
        self.framer.stats().frame_bytes
    }
    #[getter]
    fn skipped_bytes(&self) -> u64 {
        self.framer.stats().skipped_bytes
    }
    #[getter]
    fn rejected_frames(&self) -> u64 {
        self.framer.stats().rejected_frames
    }
    #[getter]
    fn skipped_since_frame(&self) -> u64 {
        self.framer.stats().skipped_since_frame
    }
    #[getter]
    fn rejected_since_frame(&self) -> u64 {
        self.framer.stats().rejected_since_frame
    }
    #[getter]
    fn buffered_bytes(&self) -> usize {
        self.framer.buffered()
    }

    fn __repr__(&self) -> String {
        stats_repr(
            "MdvrSignalingDecoder",
            self.framer.stats(),
            self.framer.buffered(),
        )
    }
}

/// Where a frame's bytes are after framing: a range of the fed read, or a copy of a frame
/// that straddled reads (completed in the framer's carry, which the next feed reuses).
enum Src {
    Input(Range<usize>),
    Owned(Vec<u8>),
}

/// Frame a whole read; runs without the GIL for large reads.
fn frame_read(framer: &mut MediaFramer, data: &[u8]) -> Vec<(FrameKind, Src)> {
    let base = data.as_ptr() as usize;
    let end = base + data.len();
    let mut frames = Vec::new();
    framer.feed(data, |kind, frame| {
        let at = frame.as_ptr() as usize;
        let src = if at >= base && at + frame.len() <= end {
            Src::Input(at - base..at - base + frame.len())
        } else {
            Src::Owned(frame.to_vec())
        };
        frames.push((kind, src));
    });
    frames
}

/// A payload copy into a freshly allocated, not yet published `bytes` object.
struct CopyJob<'a> {
    dst: *mut u8,
    src: &'a [u8],
}

// SAFETY: `dst` points into a bytes object only this `feed` call references until every copy
// is done (it is published afterwards), so moving the job to the GIL-free section shares
// nothing with another thread.
unsafe impl Send for CopyJob<'_> {}

fn run_copies(jobs: Vec<CopyJob<'_>>) {
    for job in jobs {
        // SAFETY: `dst` has exactly `src.len()` writable bytes (allocated for this payload)
        // and lies in a different allocation than `src`.
        unsafe { std::ptr::copy_nonoverlapping(job.src.as_ptr(), job.dst, job.src.len()) };
    }
}

/// A new `bytes` object of `len` uninitialised bytes and a pointer to them.
fn uninit_bytes(py: Python<'_>, len: usize) -> PyResult<(Bound<'_, PyBytes>, *mut u8)> {
    let n =
        ffi::Py_ssize_t::try_from(len).map_err(|_| PyValueError::new_err("payload too large"))?;
    // SAFETY: a NULL source asks CPython for a new bytes object of `n` bytes whose contents
    // the caller fills; the result is a new reference, or NULL with an exception set.
    let obj = unsafe {
        Bound::from_owned_ptr_or_err(py, ffi::PyBytes_FromStringAndSize(std::ptr::null(), n))?
    };
    // SAFETY: `obj` is the bytes object just created, so this returns its buffer.
    let buf = unsafe { ffi::PyBytes_AsString(obj.as_ptr()) }.cast::<u8>();
    // SAFETY: PyBytes_FromStringAndSize returns a `bytes` instance.
    Ok((unsafe { obj.cast_into_unchecked::<PyBytes>() }, buf))
}

/// A media item waiting for its payload bytes to be filled.
enum Pending<'py> {
    Ready(Obj<'py>),
    Packet {
        kind: usize,
        head: Vec<Obj<'py>>,
        payload: Bound<'py, PyBytes>,
    },
}

/// Per-connection decoder of a media connection: the text registration(s) come out as
/// messages, binary packets as `MediaFrame` / `FileBlock` / `RawMediaPacket`.
#[pyclass(module = "trocadero_rt")]
pub struct MdvrMediaDecoder {
    schema: Py<MdvrSchema>,
    framer: MediaFramer,
    envelope: Option<Envelope>,
    text_prefixed: Option<bool>,
}

#[pymethods]
impl MdvrMediaDecoder {
    #[new]
    #[pyo3(signature = (schema, *, max_payload = DEFAULT_MAX_MEDIA_PAYLOAD as i64))]
    fn new(schema: Py<MdvrSchema>, max_payload: i64) -> PyResult<Self> {
        let scanner = usize::try_from(max_payload)
            .ok()
            .and_then(MediaScanner::new)
            .ok_or_else(|| {
                PyValueError::new_err(format!(
                    "max_payload must be between 0 and {MAX_MEDIA_PAYLOAD_LIMIT} \
                     (got {max_payload})"
                ))
            })?;
        Ok(Self {
            schema,
            framer: StreamFramer::new(scanner),
            envelope: None,
            text_prefixed: None,
        })
    }

    fn feed<'py>(
        &mut self,
        py: Python<'py>,
        data: &Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, PyList>> {
        let input = Input::new(data)?;
        let bytes = input.as_slice();
        let framer = &mut self.framer;
        let frames = if bytes.len() >= DETACH_BYTES {
            py.detach(|| frame_read(framer, bytes))
        } else {
            frame_read(framer, bytes)
        };
        let conv = Conv {
            py,
            schema: self.schema.get(),
        };
        let mut pending = Vec::with_capacity(frames.len());
        let mut jobs = Vec::new();
        let mut copy_bytes = 0usize;
        for (kind, src) in &frames {
            let frame = match src {
                Src::Input(r) => bytes.get(r.clone()).unwrap_or_default(),
                Src::Owned(v) => v.as_slice(),
            };
            let env = match *kind {
                FrameKind::Text { prefixed } => {
                    self.text_prefixed = Some(prefixed);
                    let msg = parse_message(frame, Channel::Media);
                    pending.push(Pending::Ready(conv.message(&msg)?));
                    continue;
                }
                FrameKind::Binary(env) => env,
            };
            self.envelope = Some(env);
            let Some(p) = MediaPacket::parse(env, frame) else {
                // The scanner only accepts frames this parses; kept for robustness.
                let msg = Message::Malformed {
                    frame,
                    reason: "inconsistent media packet",
                };
                pending.push(Pending::Ready(conv.message(&msg)?));
                continue;
            };
            let mut head = vec![
                conv.value(env.name())?,
                conv.value(p.opcode)?,
                conv.value(p.serial)?,
                conv.value(p.time)?,
            ];
            let (kind, payload) = match p.body() {
                MediaBody::Frame { timestamp_us, data } => {
                    head.push(conv.value(timestamp_us)?);
                    (kind::MEDIA_FRAME, data)
                }
                MediaBody::FileBlock {
                    offset,
                    length,
                    data,
                } => {
                    head.extend([conv.value(offset)?, conv.value(length)?]);
                    (kind::FILE_BLOCK, data)
                }
                MediaBody::Raw => (kind::RAW_MEDIA_PACKET, p.payload),
            };
            let (obj, dst) = uninit_bytes(py, payload.len())?;
            jobs.push(CopyJob { dst, src: payload });
            copy_bytes += payload.len();
            pending.push(Pending::Packet {
                kind,
                head,
                payload: obj,
            });
        }
        if copy_bytes >= DETACH_BYTES {
            py.detach(move || run_copies(jobs));
        } else {
            run_copies(jobs);
        }
        let mut out = Vec::with_capacity(pending.len());
        for item in pending {
            out.push(match item {
                Pending::Ready(obj) => obj,
                Pending::Packet {
                    kind,
                    mut head,
                    payload,
                } => {
                    head.push(payload.into_any());
                    self.schema.get().make(py, kind, &head)?
                }
            });
        }
        PyList::new(py, out)
    }

    #[getter]
    fn frames(&self) -> u64 {
        self.framer.stats().frames
    }
    #[getter]
    fn frame_bytes(&self) -> u64 {
        self.framer.stats().frame_bytes
    }
    #[getter]
    fn skipped_bytes(&self) -> u64 {
        self.framer.stats().skipped_bytes
    }
    #[getter]
    fn rejected_frames(&self) -> u64 {
        self.framer.stats().rejected_frames
    }
    #[getter]
    fn skipped_since_frame(&self) -> u64 {
        self.framer.stats().skipped_since_frame
    }
    #[getter]
    fn rejected_since_frame(&self) -> u64 {
        self.framer.stats().rejected_since_frame
    }
    #[getter]
    fn buffered_bytes(&self) -> usize {
        self.framer.buffered()
    }
    /// Envelope of the last binary packet ("M1" / "M2"), None before the first.
    #[getter]
    fn envelope(&self) -> Option<&'static str> {
        self.envelope.map(Envelope::name)
    }
    /// Whether the last text frame had the `@@` prefix, None before the first.
    #[getter]
    fn text_prefixed(&self) -> Option<bool> {
        self.text_prefixed
    }
    #[getter]
    fn max_payload(&self) -> usize {
        self.framer.scanner().max_payload()
    }

    fn __repr__(&self) -> String {
        stats_repr(
            "MdvrMediaDecoder",
            self.framer.stats(),
            self.framer.buffered(),
        )
    }
}

fn build_err(e: BuildError) -> PyErr {
    PyValueError::new_err(e.to_string())
}

fn bytes_out(py: Python<'_>, r: Result<Vec<u8>, BuildError>) -> PyResult<Bound<'_, PyBytes>> {
    r.map(|v| PyBytes::new(py, &v)).map_err(build_err)
}

/// An integer argument in `lo..=hi`, or ValueError naming it (never OverflowError).
fn arg_in<T: TryFrom<i64>>(name: &str, value: i64, lo: i64, hi: i64) -> PyResult<T> {
    if (lo..=hi).contains(&value) {
        if let Ok(v) = T::try_from(value) {
            return Ok(v);
        }
    }
    Err(PyValueError::new_err(format!(
        "{name} must be between {lo} and {hi} (got {value})"
    )))
}

const U32_MAX: i64 = u32::MAX as i64;

fn envelope_arg(name: &str) -> PyResult<Envelope> {
    Envelope::parse(name).ok_or_else(|| {
        PyValueError::new_err(format!("envelope must be 'M1' or 'M2' (got {name:?})"))
    })
}

/// Text or bytes argument as bytes.
fn field_bytes(value: &Bound<'_, PyAny>) -> PyResult<Vec<u8>> {
    if let Ok(s) = value.cast::<PyString>() {
        return Ok(s.to_str()?.as_bytes().to_vec());
    }
    PyBuffer::<u8>::get(value)?.to_vec(value.py())
}

/// A text frame (`$$dc…#`): header fields, plain `fields` (no `,` or `#`), and an optional
/// final `raw` field that may contain anything (length-prefixed data).
#[pyfunction]
#[pyo3(signature = (*, serial, keyword, device_id, time, fields, workstation = "", raw = None))]
#[allow(clippy::too_many_arguments)]
pub fn mdvr_build_frame<'py>(
    py: Python<'py>,
    serial: &str,
    keyword: &str,
    device_id: &str,
    time: &str,
    fields: Vec<Bound<'py, PyAny>>,
    workstation: &str,
    raw: Option<Vec<u8>>,
) -> PyResult<Bound<'py, PyBytes>> {
    let owned: Vec<Vec<u8>> = fields.iter().map(field_bytes).collect::<PyResult<_>>()?;
    let refs: Vec<&[u8]> = owned.iter().map(Vec::as_slice).collect();
    let route = Route {
        serial: serial.as_bytes(),
        device_id: device_id.as_bytes(),
        time: time.as_bytes(),
        workstation: workstation.as_bytes(),
    };
    bytes_out(
        py,
        builders::frame(&route, keyword.as_bytes(), &refs, raw.as_deref()),
    )
}

fn route<'a>(serial: &'a str, device_id: &'a str, time: &'a str) -> Route<'a> {
    Route::new(serial.as_bytes(), device_id.as_bytes(), time.as_bytes())
}

/// C100 with explicit content fields.
#[pyfunction]
#[pyo3(signature = (*, serial, device_id, time, src_keyword, src_time, answer_mode, content))]
#[allow(clippy::too_many_arguments)]
pub fn mdvr_build_c100<'py>(
    py: Python<'py>,
    serial: &str,
    device_id: &str,
    time: &str,
    src_keyword: &str,
    src_time: &str,
    answer_mode: i64,
    content: Vec<String>,
) -> PyResult<Bound<'py, PyBytes>> {
    let mode = arg_in("answer_mode", answer_mode, 0, U32_MAX)?;
    let refs: Vec<&[u8]> = content.iter().map(|s| s.as_bytes()).collect();
    bytes_out(
        py,
        builders::c100(
            &route(serial, device_id, time),
            src_keyword.as_bytes(),
            src_time.as_bytes(),
            mode,
            &refs,
        ),
    )
}

/// C100 to a V101: success (`0,1,1,`), or failure `0,0,<reason>` when `reason` is given.
#[pyfunction]
#[pyo3(signature = (*, serial, device_id, time, src_time, reason = None))]
pub fn mdvr_build_c100_registration<'py>(
    py: Python<'py>,
    serial: &str,
    device_id: &str,
    time: &str,
    src_time: &str,
    reason: Option<i64>,
) -> PyResult<Bound<'py, PyBytes>> {
    let r = route(serial, device_id, time);
    let built = match reason {
        None => builders::c100_registration_ok(&r, src_time.as_bytes()),
        Some(reason) => builders::c100_registration_failed(
            &r,
            src_time.as_bytes(),
            arg_in("reason", reason, 0, U32_MAX)?,
        ),
    };
    bytes_out(py, built)
}

/// C100 to a V142 (`0,`).
#[pyfunction]
#[pyo3(signature = (*, serial, device_id, time, src_time))]
pub fn mdvr_build_c100_status<'py>(
    py: Python<'py>,
    serial: &str,
    device_id: &str,
    time: &str,
    src_time: &str,
) -> PyResult<Bound<'py, PyBytes>> {
    bytes_out(
        py,
        builders::c100_status(&route(serial, device_id, time), src_time.as_bytes()),
    )
}

/// C100 to a V141, "no file" (`0,0,0,0,,,0,,0,,`).
#[pyfunction]
#[pyo3(signature = (*, serial, device_id, time, src_time))]
pub fn mdvr_build_c100_no_file<'py>(
    py: Python<'py>,
    serial: &str,
    device_id: &str,
    time: &str,
    src_time: &str,
) -> PyResult<Bound<'py, PyBytes>> {
    bytes_out(
        py,
        builders::c100_no_file(&route(serial, device_id, time), src_time.as_bytes()),
    )
}

/// C100 to an alarm (`0,<uid>`).
#[pyfunction]
#[pyo3(signature = (*, serial, device_id, time, src_keyword, src_time, alarm_uid))]
pub fn mdvr_build_c100_alarm<'py>(
    py: Python<'py>,
    serial: &str,
    device_id: &str,
    time: &str,
    src_keyword: &str,
    src_time: &str,
    alarm_uid: &str,
) -> PyResult<Bound<'py, PyBytes>> {
    bytes_out(
        py,
        builders::c100_alarm(
            &route(serial, device_id, time),
            src_keyword.as_bytes(),
            src_time.as_bytes(),
            alarm_uid.as_bytes(),
        ),
    )
}

/// C501 (center heartbeat) or C500 (not registered): `keyword` picks which.
#[pyfunction]
#[pyo3(signature = (*, keyword, serial, device_id, time))]
pub fn mdvr_build_bare<'py>(
    py: Python<'py>,
    keyword: &str,
    serial: &str,
    device_id: &str,
    time: &str,
) -> PyResult<Bound<'py, PyBytes>> {
    let r = route(serial, device_id, time);
    let built = match keyword {
        "C501" => builders::c501(&r),
        "C500" => builders::c500(&r),
        _ => {
            return Err(PyValueError::new_err(format!(
                "keyword must be 'C500' or 'C501' (got {keyword:?})"
            )))
        }
    };
    bytes_out(py, built)
}

/// C508 start/stop live video.
#[pyfunction]
#[pyo3(signature = (
    *, serial, device_id, time, session_id, start, channel, stream_type, connection_type,
    media_ip, media_port
))]
#[allow(clippy::too_many_arguments)]
pub fn mdvr_build_c508<'py>(
    py: Python<'py>,
    serial: &str,
    device_id: &str,
    time: &str,
    session_id: &str,
    start: bool,
    channel: i64,
    stream_type: i64,
    connection_type: i64,
    media_ip: &str,
    media_port: i64,
) -> PyResult<Bound<'py, PyBytes>> {
    let v = LiveVideo {
        session_id: session_id.as_bytes(),
        start,
        channel: arg_in("channel", channel, -1, 255)?,
        stream_type: arg_in("stream_type", stream_type, 0, 255)?,
        connection_type: arg_in("connection_type", connection_type, 0, 255)?,
        media_ip: media_ip.as_bytes(),
        media_port: arg_in("media_port", media_port, 0, 65535)?,
    };
    bytes_out(py, builders::c508(&route(serial, device_id, time), &v))
}

/// C702 file download.
#[pyfunction]
#[pyo3(signature = (
    *, serial, device_id, time, session_id, offset_mode, start_offset, end_offset, media_ip,
    media_port, file_name
))]
#[allow(clippy::too_many_arguments)]
pub fn mdvr_build_c702<'py>(
    py: Python<'py>,
    serial: &str,
    device_id: &str,
    time: &str,
    session_id: &str,
    offset_mode: i64,
    start_offset: i64,
    end_offset: i64,
    media_ip: &str,
    media_port: i64,
    file_name: &str,
) -> PyResult<Bound<'py, PyBytes>> {
    let d = FileDownload {
        session_id: session_id.as_bytes(),
        offset_mode: arg_in("offset_mode", offset_mode, 0, 2)?,
        start_offset: arg_in("start_offset", start_offset, 0, i64::MAX)?,
        end_offset: arg_in("end_offset", end_offset, 0, i64::MAX)?,
        media_ip: media_ip.as_bytes(),
        media_port: arg_in("media_port", media_port, 0, 65535)?,
        file_name: file_name.as_bytes(),
    };
    bytes_out(py, builders::c702(&route(serial, device_id, time), &d))
}

/// C505 position reporting interval.
#[pyfunction]
#[pyo3(signature = (*, serial, device_id, time, enable, distance, interval_s, combo_mask))]
#[allow(clippy::too_many_arguments)]
pub fn mdvr_build_c505<'py>(
    py: Python<'py>,
    serial: &str,
    device_id: &str,
    time: &str,
    enable: i64,
    distance: i64,
    interval_s: i64,
    combo_mask: i64,
) -> PyResult<Bound<'py, PyBytes>> {
    bytes_out(
        py,
        builders::c505(
            &route(serial, device_id, time),
            arg_in("enable", enable, 0, 2)?,
            arg_in("distance", distance, 0, 65535)?,
            arg_in("interval_s", interval_s, 0, 65535)?,
            arg_in("combo_mask", combo_mask, 0, 0xFFFF)?,
        ),
    )
}

/// C150 control command.
#[pyfunction]
#[pyo3(signature = (*, serial, device_id, time, control, user, password))]
pub fn mdvr_build_c150<'py>(
    py: Python<'py>,
    serial: &str,
    device_id: &str,
    time: &str,
    control: i64,
    user: &str,
    password: &str,
) -> PyResult<Bound<'py, PyBytes>> {
    bytes_out(
        py,
        builders::c150(
            &route(serial, device_id, time),
            arg_in("control", control, 0, U32_MAX)?,
            user.as_bytes(),
            password.as_bytes(),
        ),
    )
}

/// C517 parameters (length-prefixed data).
#[pyfunction]
#[pyo3(signature = (*, serial, device_id, time, param_type, data))]
pub fn mdvr_build_c517<'py>(
    py: Python<'py>,
    serial: &str,
    device_id: &str,
    time: &str,
    param_type: i64,
    data: &Bound<'py, PyAny>,
) -> PyResult<Bound<'py, PyBytes>> {
    let data = field_bytes(data)?;
    bytes_out(
        py,
        builders::c517(
            &route(serial, device_id, time),
            arg_in("param_type", param_type, 0, U32_MAX)?,
            &data,
        ),
    )
}

/// A binary media packet.
#[pyfunction]
#[pyo3(signature = (*, envelope, opcode, serial, time, payload))]
pub fn mdvr_build_media_packet<'py>(
    py: Python<'py>,
    envelope: &str,
    opcode: i64,
    serial: i64,
    time: i64,
    payload: &Bound<'py, PyAny>,
) -> PyResult<Bound<'py, PyBytes>> {
    let payload = field_bytes(payload)?;
    bytes_out(
        py,
        builders::media_packet(
            envelope_arg(envelope)?,
            arg_in("opcode", opcode, 0, 0xFFFF)?,
            arg_in("serial", serial, 0, 0xFFFF)?,
            arg_in("time", time, 0, U32_MAX)?,
            &payload,
        ),
    )
}

/// 0x6000 registration feedback.
#[pyfunction]
#[pyo3(signature = (*, envelope, serial, time, ok, reason))]
pub fn mdvr_build_media_feedback<'py>(
    py: Python<'py>,
    envelope: &str,
    serial: i64,
    time: i64,
    ok: bool,
    reason: i64,
) -> PyResult<Bound<'py, PyBytes>> {
    bytes_out(
        py,
        builders::media_feedback(
            envelope_arg(envelope)?,
            arg_in("serial", serial, 0, 0xFFFF)?,
            arg_in("time", time, 0, U32_MAX)?,
            ok,
            arg_in("reason", reason, 0, U32_MAX)?,
        ),
    )
}

/// Register the MDVR classes and functions on the module (called from the module init).
pub fn register(m: &Bound<'_, pyo3::types::PyModule>) -> PyResult<()> {
    let py = m.py();
    m.add_class::<MdvrSchema>()?;
    m.add_class::<MdvrSignalingDecoder>()?;
    m.add_class::<MdvrMediaDecoder>()?;
    m.add_function(wrap_pyfunction!(mdvr_build_frame, m)?)?;
    m.add_function(wrap_pyfunction!(mdvr_build_c100, m)?)?;
    m.add_function(wrap_pyfunction!(mdvr_build_c100_registration, m)?)?;
    m.add_function(wrap_pyfunction!(mdvr_build_c100_status, m)?)?;
    m.add_function(wrap_pyfunction!(mdvr_build_c100_no_file, m)?)?;
    m.add_function(wrap_pyfunction!(mdvr_build_c100_alarm, m)?)?;
    m.add_function(wrap_pyfunction!(mdvr_build_bare, m)?)?;
    m.add_function(wrap_pyfunction!(mdvr_build_c508, m)?)?;
    m.add_function(wrap_pyfunction!(mdvr_build_c702, m)?)?;
    m.add_function(wrap_pyfunction!(mdvr_build_c505, m)?)?;
    m.add_function(wrap_pyfunction!(mdvr_build_c150, m)?)?;
    m.add_function(wrap_pyfunction!(mdvr_build_c517, m)?)?;
    m.add_function(wrap_pyfunction!(mdvr_build_media_packet, m)?)?;
    m.add_function(wrap_pyfunction!(mdvr_build_media_feedback, m)?)?;
    let schema = pyo3::types::PyDict::new(py);
    for (name, fields) in SCHEMA {
        schema.set_item(name, PyTuple::new(py, fields.iter())?)?;
    }
    m.add("MDVR_SCHEMA", schema)?;
    m.add("MDVR_DEFAULT_MAX_PAYLOAD", DEFAULT_MAX_MEDIA_PAYLOAD)?;
    m.add("MDVR_MAX_PAYLOAD_LIMIT", MAX_MEDIA_PAYLOAD_LIMIT)?;
    Ok(())
}
