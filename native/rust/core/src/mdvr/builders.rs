//! The server's messages, byte-exact with the captures in §6 of the reference.
//!
//! A text frame is `"$$dc" + "%04d" % len(body) + body + "#"` with
//! `body = "," serial "," KEYWORD "," deviceId "," workstation "," time ("," field)*` (§2.3).
//! Arguments are validated instead of escaped (the protocol has no escaping): header fields and
//! ordinary fields may not contain `,` or `#`, and only C517's length-prefixed data may carry
//! anything. Times are passed in, already formatted (`yymmdd hhmmss`, UTC): this layer has no
//! clock.

use std::fmt;
use std::io::Write as _;

use super::media::{Envelope, MAX_MEDIA_PAYLOAD_LIMIT};
use super::{opcode, MEDIA_SUBHEADER, MEDIA_TAIL, TEXT_MAGIC, TEXT_TAIL};

/// Longest text body (`LLLL` is four digits).
pub const MAX_TEXT_BODY: usize = 9999;
/// Longest device id / workstation accepted by the builders (the doc: ≤ 20; some margin).
pub const MAX_ID_LEN: usize = 32;
/// Longest serial accepted (an opaque counter).
pub const MAX_SERIAL_LEN: usize = 16;
/// Longest session id (§4.4: "an opaque token ≤ 40 chars without commas").
pub const MAX_SESSION_LEN: usize = 40;

/// Why a message could not be built; the Python binding turns it into ValueError.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum BuildError {
    /// An argument the frame cannot carry; `name` is the argument, `reason` what is wrong.
    InvalidField {
        name: &'static str,
        reason: &'static str,
    },
    /// An argument longer than `max` bytes.
    FieldTooLong { name: &'static str, max: usize },
    /// The frame body would exceed 9999 bytes.
    TooLong(usize),
    /// A media payload above [`MAX_MEDIA_PAYLOAD_LIMIT`].
    PayloadTooLarge(usize),
}

impl fmt::Display for BuildError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BuildError::InvalidField { name, reason } => write!(f, "{name} {reason}"),
            BuildError::FieldTooLong { name, max } => {
                write!(f, "{name} must be at most {max} bytes")
            }
            BuildError::TooLong(n) => write!(
                f,
                "frame body would be {n} bytes; the 4-digit length allows at most {MAX_TEXT_BODY}"
            ),
            BuildError::PayloadTooLarge(n) => write!(
                f,
                "media payload of {n} bytes exceeds the limit of {MAX_MEDIA_PAYLOAD_LIMIT}"
            ),
        }
    }
}

impl std::error::Error for BuildError {}

fn invalid(name: &'static str, reason: &'static str) -> BuildError {
    BuildError::InvalidField { name, reason }
}

/// Where a server message goes and when: the header fields other than the keyword.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Route<'a> {
    /// The device's serial for replies (C100), the server's own counter for commands.
    pub serial: &'a [u8],
    pub device_id: &'a [u8],
    /// `yymmdd hhmmss`, UTC.
    pub time: &'a [u8],
    /// Normally empty (§2.1).
    pub workstation: &'a [u8],
}

impl<'a> Route<'a> {
    pub fn new(serial: &'a [u8], device_id: &'a [u8], time: &'a [u8]) -> Self {
        Self {
            serial,
            device_id,
            time,
            workstation: b"",
        }
    }
}

fn check_plain(name: &'static str, value: &[u8]) -> Result<(), BuildError> {
    if value.iter().any(|&b| b == b',' || b == b'#') {
        return Err(invalid(name, "must not contain ',' or '#'"));
    }
    Ok(())
}

fn check_id(
    name: &'static str,
    value: &[u8],
    required: bool,
    max: usize,
) -> Result<(), BuildError> {
    if required && value.is_empty() {
        return Err(invalid(name, "must not be empty"));
    }
    if value.len() > max {
        return Err(BuildError::FieldTooLong { name, max });
    }
    if value.iter().any(|&b| b < 0x20 || b == 0x7F) {
        return Err(invalid(name, "must not contain control characters"));
    }
    check_plain(name, value)
}

/// `V`/`C` + 3 or 4 digits.
pub fn check_keyword(keyword: &[u8]) -> Result<(), BuildError> {
    match keyword.split_first() {
        Some((b'V' | b'C', digits))
            if (3..=4).contains(&digits.len()) && digits.iter().all(u8::is_ascii_digit) =>
        {
            Ok(())
        }
        _ => Err(invalid(
            "keyword",
            "must be V or C followed by 3 or 4 digits",
        )),
    }
}

/// `yymmdd hhmmss`.
pub fn check_time(name: &'static str, time: &[u8]) -> Result<(), BuildError> {
    let ok = time.len() == 13
        && time.iter().enumerate().all(|(i, b)| {
            if i == 6 {
                *b == b' '
            } else {
                b.is_ascii_digit()
            }
        });
    if ok {
        Ok(())
    } else {
        Err(invalid(name, "must be 'yymmdd hhmmss'"))
    }
}

fn check_route(route: &Route<'_>) -> Result<(), BuildError> {
    check_id("serial", route.serial, true, MAX_SERIAL_LEN)?;
    check_id("device_id", route.device_id, true, MAX_ID_LEN)?;
    check_id("workstation", route.workstation, false, MAX_ID_LEN)?;
    check_time("time", route.time)
}

/// A text frame with `keyword`, the plain `fields` (no `,` or `#` in them) and optionally a
/// final `raw` field that may contain anything (length-prefixed data: C517).
pub fn frame(
    route: &Route<'_>,
    keyword: &[u8],
    fields: &[&[u8]],
    raw: Option<&[u8]>,
) -> Result<Vec<u8>, BuildError> {
    check_route(route)?;
    check_keyword(keyword)?;
    for field in fields {
        check_plain("field", field)?;
    }
    let header = [
        route.serial,
        keyword,
        route.device_id,
        route.workstation,
        route.time,
    ];
    let body_len: usize = header
        .iter()
        .chain(fields)
        .chain(raw.as_ref())
        .map(|f| f.len() + 1)
        .sum();
    if body_len > MAX_TEXT_BODY {
        return Err(BuildError::TooLong(body_len));
    }
    let mut out = Vec::with_capacity(body_len + 9);
    out.extend_from_slice(TEXT_MAGIC);
    // Writing to a Vec cannot fail.
    let _ = write!(out, "{body_len:04}");
    for field in header.iter().chain(fields).chain(raw.as_ref()) {
        out.push(b',');
        out.extend_from_slice(field);
    }
    out.push(TEXT_TAIL);
    Ok(out)
}

fn num(v: impl fmt::Display) -> Vec<u8> {
    v.to_string().into_bytes()
}

/// C100: acknowledge a device message (§4.1): echo its keyword and time (`route.serial` must
/// be the message's serial), answer mode (0 automatic), then the content fields.
pub fn c100(
    route: &Route<'_>,
    src_keyword: &[u8],
    src_time: &[u8],
    answer_mode: u32,
    content: &[&[u8]],
) -> Result<Vec<u8>, BuildError> {
    check_keyword(src_keyword).map_err(|_| invalid("src_keyword", "must be a keyword"))?;
    check_time("src_time", src_time)?;
    let mode = num(answer_mode);
    let mut fields: Vec<&[u8]> = vec![src_keyword, src_time, &mode];
    fields.extend_from_slice(content);
    frame(route, b"C100", &fields, None)
}

/// C100 to a V101: registered (`0,1,1,`, what CMSV6 sends).
pub fn c100_registration_ok(route: &Route<'_>, src_time: &[u8]) -> Result<Vec<u8>, BuildError> {
    c100(route, b"V101", src_time, 0, &[b"1", b"1", b""])
}

/// C100 to a V101: refused with `reason` (1 bad format, 2 unknown device ID, 3 server address
/// mismatch, 4 device type unsupported, 5 protocol version incompatible); then close.
pub fn c100_registration_failed(
    route: &Route<'_>,
    src_time: &[u8],
    reason: u32,
) -> Result<Vec<u8>, BuildError> {
    let reason = num(reason);
    c100(route, b"V101", src_time, 0, &[b"0", &reason])
}

/// C100 to a V142 status report (`0,`).
pub fn c100_status(route: &Route<'_>, src_time: &[u8]) -> Result<Vec<u8>, BuildError> {
    c100(route, b"V142", src_time, 0, &[b""])
}

/// C100 to a V141: "no file for you" (`0,0,0,0,,,0,,0,,`).
pub fn c100_no_file(route: &Route<'_>, src_time: &[u8]) -> Result<Vec<u8>, BuildError> {
    c100(
        route,
        b"V141",
        src_time,
        0,
        &[b"0", b"0", b"0", b"", b"", b"0", b"", b"0", b"", b""],
    )
}

/// C100 to an alarm: `0,<alarmUID>` with no trailing comma.
pub fn c100_alarm(
    route: &Route<'_>,
    src_keyword: &[u8],
    src_time: &[u8],
    alarm_uid: &[u8],
) -> Result<Vec<u8>, BuildError> {
    check_plain("alarm_uid", alarm_uid)?;
    c100(route, src_keyword, src_time, 0, &[alarm_uid])
}

/// C501: the center's heartbeat (send every ≤ 45 s; the device drops the link after 90 s).
pub fn c501(route: &Route<'_>) -> Result<Vec<u8>, BuildError> {
    frame(route, b"C501", &[], None)
}

/// C500: "device not registered", re-send V101.
pub fn c500(route: &Route<'_>) -> Result<Vec<u8>, BuildError> {
    frame(route, b"C500", &[], None)
}

/// C508 arguments (§4.4).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LiveVideo<'a> {
    pub session_id: &'a [u8],
    pub start: bool,
    /// 0-based; 99 = mosaic; 98 or -1 = all (stop only).
    pub channel: i32,
    /// 0 main, 1 sub.
    pub stream_type: u32,
    /// 0 TCP.
    pub connection_type: u32,
    /// Empty (and port 0) to stop.
    pub media_ip: &'a [u8],
    pub media_port: u16,
}

/// C508: start or stop live video on one channel.
pub fn c508(route: &Route<'_>, v: &LiveVideo<'_>) -> Result<Vec<u8>, BuildError> {
    check_id("session_id", v.session_id, true, MAX_SESSION_LEN)?;
    check_plain("media_ip", v.media_ip)?;
    let (channel, stream, conn, port) = (
        num(v.channel),
        num(v.stream_type),
        num(v.connection_type),
        num(v.media_port),
    );
    let start: &[u8] = if v.start { b"1" } else { b"0" };
    frame(
        route,
        b"C508",
        &[
            v.session_id,
            start,
            &channel,
            &stream,
            &conn,
            v.media_ip,
            &port,
        ],
        None,
    )
}

/// C702 arguments (§4.6).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FileDownload<'a> {
    pub session_id: &'a [u8],
    /// 0 whole file, 1 byte range, 2 time range.
    pub offset_mode: u32,
    pub start_offset: u64,
    /// 0 = end of file.
    pub end_offset: u64,
    pub media_ip: &'a [u8],
    pub media_port: u16,
    /// The device path from V232 / 0x6101.
    pub file_name: &'a [u8],
}

/// C702: fetch a file over a V103 media session.
pub fn c702(route: &Route<'_>, d: &FileDownload<'_>) -> Result<Vec<u8>, BuildError> {
    check_id("session_id", d.session_id, true, MAX_SESSION_LEN)?;
    check_plain("media_ip", d.media_ip)?;
    check_plain("file_name", d.file_name)?;
    let (mode, start, end, port) = (
        num(d.offset_mode),
        num(d.start_offset),
        num(d.end_offset),
        num(d.media_port),
    );
    frame(
        route,
        b"C702",
        &[
            d.session_id,
            &mode,
            &start,
            &end,
            d.media_ip,
            &port,
            d.file_name,
        ],
        None,
    )
}

/// C505: position reporting interval (enable 0 off / 1 use these / 2 use stored; distance in
/// units of 10 m; time in seconds; `combo_mask` bit 0 by distance, bit 1 by time, sent as 4
/// uppercase hex digits).
pub fn c505(
    route: &Route<'_>,
    enable: u32,
    distance: u32,
    interval_s: u32,
    combo_mask: u16,
) -> Result<Vec<u8>, BuildError> {
    let (e, d, t, m) = (
        num(enable),
        num(distance),
        num(interval_s),
        format!("{combo_mask:04X}").into_bytes(),
    );
    frame(route, b"C505", &[&e, &d, &t, &m], None)
}

/// C150: vehicle/device control (1 cut fuel, 2 restore fuel, 3 cut power, 4 restore power,
/// 5 reboot, 6 factory reset) with the user and password MD5s (may be empty).
pub fn c150(
    route: &Route<'_>,
    control: u32,
    user: &[u8],
    password: &[u8],
) -> Result<Vec<u8>, BuildError> {
    check_plain("user", user)?;
    check_plain("password", password)?;
    let control = num(control);
    frame(route, b"C150", &[&control, user, password], None)
}

/// C517: send parameters: type, the data length, then the data itself (XML, may contain
/// commas, `#` or binary; the device reads it by length).
pub fn c517(route: &Route<'_>, param_type: u32, data: &[u8]) -> Result<Vec<u8>, BuildError> {
    let (t, n) = (num(param_type), num(data.len()));
    frame(route, b"C517", &[&t, &n], Some(data))
}

/// A binary media packet (§5.2): magic, u32 LE length (sub-header + payload), u16 opcode,
/// u16 serial, u32 time, payload, `####`.
pub fn media_packet(
    envelope: Envelope,
    opcode: u16,
    serial: u16,
    time: u32,
    payload: &[u8],
) -> Result<Vec<u8>, BuildError> {
    if payload.len() > MAX_MEDIA_PAYLOAD_LIMIT {
        return Err(BuildError::PayloadTooLarge(payload.len()));
    }
    let length = u32::try_from(payload.len() + MEDIA_SUBHEADER)
        .map_err(|_| BuildError::PayloadTooLarge(payload.len()))?;
    let magic = envelope.magic();
    let mut out = Vec::with_capacity(magic.len() + 4 + length as usize + MEDIA_TAIL.len());
    out.extend_from_slice(magic);
    out.extend_from_slice(&length.to_le_bytes());
    out.extend_from_slice(&opcode.to_le_bytes());
    out.extend_from_slice(&serial.to_le_bytes());
    out.extend_from_slice(&time.to_le_bytes());
    out.extend_from_slice(payload);
    out.extend_from_slice(MEDIA_TAIL);
    Ok(out)
}

/// 0x6000 registration feedback: u32 result (1 ok / 0 fail), u32 reason (0, 0x1001, 0x1002).
pub fn media_feedback(
    envelope: Envelope,
    serial: u16,
    time: u32,
    ok: bool,
    reason: u32,
) -> Result<Vec<u8>, BuildError> {
    let mut payload = [0u8; 8];
    let (result, rest) = payload.split_at_mut(4);
    result.copy_from_slice(&u32::from(ok).to_le_bytes());
    rest.copy_from_slice(&reason.to_le_bytes());
    media_packet(envelope, opcode::FEEDBACK, serial, time, &payload)
}

/// 0x6002: ask the device for an I-frame now.
pub fn request_iframe(envelope: Envelope, serial: u16, time: u32) -> Result<Vec<u8>, BuildError> {
    media_packet(envelope, opcode::REQUEST_IFRAME, serial, time, &[])
}

/// 0x6005: media-channel heartbeat.
pub fn media_heartbeat(envelope: Envelope, serial: u16, time: u32) -> Result<Vec<u8>, BuildError> {
    media_packet(envelope, opcode::HEARTBEAT, serial, time, &[])
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;

    #[test]
    fn doc_check_example() {
        // §2.3: `$$dc0029,51,C501,00967,,170915 105255#`.
        let route = Route::new(b"51", b"00967", b"170915 105255");
        assert_eq!(
            c501(&route).unwrap(),
            b"$$dc0029,51,C501,00967,,170915 105255#"
        );
        assert_eq!(
            c500(&route).unwrap(),
            b"$$dc0029,51,C500,00967,,170915 105255#"
        );
    }

    #[test]
    fn validation() {
        let good = Route::new(b"1", b"00967", b"170915 105255");
        let bad_time = Route::new(b"1", b"00967", b"17091510525");
        assert!(matches!(
            c501(&bad_time),
            Err(BuildError::InvalidField { name: "time", .. })
        ));
        let bad_id = Route::new(b"1", b"009,67", b"170915 105255");
        assert!(matches!(
            c501(&bad_id),
            Err(BuildError::InvalidField {
                name: "device_id",
                ..
            })
        ));
        let long = vec![b'x'; 10_000];
        assert!(matches!(c517(&good, 0, &long), Err(BuildError::TooLong(_))));
        assert!(frame(&good, b"X100", &[], None).is_err());
        assert!(frame(&good, b"C10", &[], None).is_err());
        assert!(frame(&good, b"C100", &[b"a#b"], None).is_err());
    }

    #[test]
    fn body_limit_is_inclusive() {
        let route = Route::new(b"1", b"1", b"170915 105255");
        // Header ",1,C517,1,,170915 105255" is 24 bytes, ",0" 2, ",<n>" 5 for n = 4 digits.
        let data = vec![b'x'; MAX_TEXT_BODY - 24 - 2 - 5 - 1];
        let f = c517(&route, 0, &data).unwrap();
        assert_eq!(&f[4..8], b"9999");
        assert_eq!(f.len(), MAX_TEXT_BODY + 9);
        let data = vec![b'x'; data.len() + 1];
        assert_eq!(c517(&route, 0, &data), Err(BuildError::TooLong(10_000)));
    }
}
