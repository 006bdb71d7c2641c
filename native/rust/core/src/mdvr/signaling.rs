//! Typed parsing of one text frame (§2.1, §3, §4).
//!
//! ```text
//! "$$dc" LLLL "," serial "," KEYWORD "," deviceId "," workstation "," "yymmdd hhmmss" ["," field]* "#"
//! ```
//!
//! Parsing never fails as a whole once the header's five fields are there: a field that is
//! missing or outside its grammar ([`super::fields`]) becomes absent (`None` / empty), a
//! `[Position and Status]` block whose fix, longitude or latitude does not parse becomes `None`
//! (its fields are still consumed by count, so the message's own fields keep their places), and
//! every field after the ones a message defines is kept raw. Keywords not listed in §4 come out
//! as [`Message::Unknown`] / [`Message::Command`] with their raw fields. Only a frame with fewer
//! than five header fields is [`Message::Malformed`].

use super::fields::{channel_mask, coordinate, decimal, flag_one, flags as hex_flags, integer};
use super::{M2_MAGIC, TEXT_MAGIC, TEXT_TAIL};

/// Which connection a frame came from: `V109` is the heartbeat on the signaling channel but a
/// (config-file) media registration on the media channel (§4.2).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Channel {
    Signaling,
    Media,
}

/// The comma-separated fields after some point of a frame body, parsed lazily. `None` means no
/// field at all; `Some(b"")` is one empty field (the body ended with a comma).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct Fields<'a> {
    rest: Option<&'a [u8]>,
}

impl<'a> Fields<'a> {
    /// The fields of `raw` (at least one, possibly empty).
    pub fn new(raw: &'a [u8]) -> Self {
        Self { rest: Some(raw) }
    }

    pub fn empty() -> Self {
        Self { rest: None }
    }

    /// The unparsed remainder, commas included (`None` when no field is left).
    pub fn raw(&self) -> Option<&'a [u8]> {
        self.rest
    }

    pub fn is_empty(&self) -> bool {
        self.rest.is_none()
    }

    /// The next field, or `None` when there is none.
    pub fn next_field(&mut self) -> Option<&'a [u8]> {
        let rest = self.rest?;
        match rest.iter().position(|&b| b == b',') {
            Some(i) => {
                self.rest = rest.get(i + 1..);
                rest.get(..i)
            }
            None => {
                self.rest = None;
                Some(rest)
            }
        }
    }

    /// The next field, or an empty one when there is none.
    pub fn text(&mut self) -> &'a [u8] {
        self.next_field().unwrap_or_default()
    }

    /// The next field as an [`integer`](super::fields::integer).
    pub fn int(&mut self) -> Option<i64> {
        self.next_field().and_then(integer)
    }
}

impl<'a> Iterator for Fields<'a> {
    type Item = &'a [u8];

    fn next(&mut self) -> Option<&'a [u8]> {
        self.next_field()
    }
}

/// The six header fields every frame starts with (§2.1; `LLLL` is the framer's business).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Header<'a> {
    /// The sender's counter, an opaque token (`1d` was seen); a reply echoes it.
    pub serial: &'a [u8],
    pub keyword: &'a [u8],
    pub device_id: &'a [u8],
    /// Routes replies to a CMS client; usually empty.
    pub workstation: &'a [u8],
    /// `yymmdd hhmmss`, UTC, kept verbatim (replies echo it as the source time).
    pub time: &'a [u8],
}

/// The `[Position and Status]` block (§3), old (19 fields) or new (18 + 1) firmware.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Position<'a> {
    /// The GPS state starts with `A` (valid fix), not `V`.
    pub valid: bool,
    /// The GPS state token as sent: `A`, `A0000`, `A0010`, `V0000`.
    pub gps_state: &'a [u8],
    /// Decimal degrees, East positive.
    pub longitude: f64,
    /// Decimal degrees, North positive.
    pub latitude: f64,
    pub speed_kmh: Option<f64>,
    /// As sent (unit uncertain, §3 field 9).
    pub course_raw: Option<i64>,
    /// 8 status bytes, byte 1 first.
    pub status: Option<[u8; 8]>,
    /// 8 mask bytes (all zero on every real device; not to be gated on).
    pub status_mask: Option<[u8; 8]>,
    pub device_temp_c: Option<f64>,
    pub engine_temp_c: Option<f64>,
    pub cabin_temp_c: Option<f64>,
    pub mileage_m: Option<i64>,
    /// `None` also for a negative value (`-1` = no sensor).
    pub fuel_l: Option<f64>,
    pub parking_s: Option<i64>,
    /// New firmware: the raw `|`-separated extension block (field 18).
    pub extension: Option<&'a [u8]>,
    /// Old firmware: field 18, the stop flag.
    pub stop_flag: Option<i64>,
    /// Old firmware: field 19, the passenger count.
    pub passengers: Option<i64>,
    /// New firmware, messages other than V114: the one extra field after the block.
    pub extra: Option<&'a [u8]>,
}

/// Number of fields of the block before the firmware-dependent 19th.
pub const POSITION_FIELDS: usize = 18;

/// Consume a position block from `f` (18 fields, then one more unless it is a new-firmware
/// V114) and parse it; `None` if the block is short or its fix/coordinates do not parse.
pub fn parse_position<'a>(f: &mut Fields<'a>, v114: bool) -> Option<Position<'a>> {
    let mut t: [&[u8]; POSITION_FIELDS] = [&[]; POSITION_FIELDS];
    for slot in t.iter_mut() {
        *slot = f.next_field()?;
    }
    let [gps, lon_d, lon_m, lon_s, lat_d, lat_m, lat_s, speed, course, status, mask, temp_device, temp_engine, temp_cabin, mileage, fuel, parking, field18] =
        t;
    let new_firmware = field18.contains(&b'|');
    let (extension, stop_flag, passengers, extra) = if new_firmware {
        let extra = if v114 { None } else { f.next_field() };
        (Some(field18), None, None, extra)
    } else {
        (
            None,
            integer(field18),
            f.next_field().and_then(integer),
            None,
        )
    };
    let valid = match gps.first() {
        Some(b'A') => true,
        Some(b'V') => false,
        _ => return None,
    };
    Some(Position {
        valid,
        gps_state: gps,
        longitude: coordinate(lon_d, lon_m, lon_s)?,
        latitude: coordinate(lat_d, lat_m, lat_s)?,
        speed_kmh: decimal(speed),
        course_raw: integer(course),
        status: hex_flags(status),
        status_mask: hex_flags(mask),
        device_temp_c: decimal(temp_device),
        engine_temp_c: decimal(temp_engine),
        cabin_temp_c: decimal(temp_cabin),
        mileage_m: integer(mileage),
        fuel_l: decimal(fuel).filter(|v| *v >= 0.0),
        parking_s: integer(parking),
        extension,
        stop_flag,
        passengers,
        extra,
    })
}

/// V100: the device's answer to a C-command (§4.1).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct DeviceAck<'a> {
    pub header: Header<'a>,
    pub position: Option<Position<'a>>,
    pub src_keyword: &'a [u8],
    pub src_time: &'a [u8],
    pub answer_mode: Option<i64>,
    pub success: bool,
    /// Everything after the success flag (error code, reason, or a length-prefixed payload
    /// such as C517's XML, which may itself contain commas: use `raw()`).
    pub details: Fields<'a>,
}

/// V101: registration (§4.2).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Registration<'a> {
    pub header: Header<'a>,
    pub position: Option<Position<'a>>,
    pub protocol_version: &'a [u8],
    pub device_type: Option<i64>,
    pub login_ip: &'a [u8],
    pub login_port: Option<i64>,
    pub power_ons_today: Option<i64>,
    pub connections: Option<i64>,
    pub plate: &'a [u8],
    pub net_type: Option<i64>,
    pub net_name: &'a [u8],
    pub audio_type: Option<i64>,
    pub disk_type: Option<i64>,
    pub factory_type: &'a [u8],
    pub factory_device_type: &'a [u8],
    pub imei: &'a [u8],
    pub host_version: &'a [u8],
    pub net_lib_version: &'a [u8],
    pub extra: Fields<'a>,
}

/// V114: position report (§4.3).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct PositionReport<'a> {
    pub header: Header<'a>,
    pub position: Option<Position<'a>>,
    pub report_flag: Option<i64>,
    pub extra: Fields<'a>,
}

/// V142: hardware status (§4.2).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct DeviceStatus<'a> {
    pub header: Header<'a>,
    pub position: Option<Position<'a>>,
    pub success: bool,
    pub reported_device_id: &'a [u8],
    pub device_type: Option<i64>,
    pub device_name: &'a [u8],
    pub software_version: &'a [u8],
    pub channel_count: Option<i64>,
    pub video_lost_mask: Option<i64>,
    pub record_mask: Option<i64>,
    pub disk_count: Option<i64>,
    /// `total_free` MB per disk joined by `_`.
    pub disk_info: &'a [u8],
    pub cell_status: Option<i64>,
    pub cell_type: Option<i64>,
    pub cell_quality: Option<i64>,
    pub cell_ip: &'a [u8],
    pub wifi_status: Option<i64>,
    pub wifi_ap: &'a [u8],
    pub wifi_quality: Option<i64>,
    pub wifi_ip: &'a [u8],
    pub extra: Fields<'a>,
}

/// The keyword-specific part of a media registration.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RegistrationKind<'a> {
    /// V102 live video: initiating command (`C508`), channel, stream type, plate.
    Live {
        command: &'a [u8],
        channel: Option<i64>,
        stream_type: Option<i64>,
        plate: &'a [u8],
    },
    /// V103 file download: file size and name (`name|plate` splits at the last `|`).
    File {
        file_size: Option<i64>,
        file_name: &'a [u8],
        plate: &'a [u8],
    },
    /// V105–V111 (and V109 on the media channel): only the common fields are typed.
    Other,
}

/// V102/V103/V105–V111: the registration that opens a media connection (§5.1 item 3).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct MediaRegistration<'a> {
    pub header: Header<'a>,
    pub position: Option<Position<'a>>,
    pub protocol_version: &'a [u8],
    pub device_type: Option<i64>,
    pub media_ip: &'a [u8],
    pub media_port: Option<i64>,
    /// The token from our C508/C702…: authorise the connection against it (§9).
    pub session_id: &'a [u8],
    /// Every field after the session id, raw.
    pub details: Fields<'a>,
    pub kind: RegistrationKind<'a>,
}

/// V232 "alarm file ready" specifics (§4.5).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FileInfo<'a> {
    pub file_type: Option<i64>,
    pub file_path: &'a [u8],
    pub file_length: Option<i64>,
    pub record_type: Option<i64>,
    /// `YYYYMMDDhhmmss` as sent.
    pub start_time: &'a [u8],
    pub duration_s: Option<i64>,
    pub channel: Option<i64>,
}

/// V2xx (start), V25x (end), V3xx alarms and events (§4.5).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Alarm<'a> {
    pub header: Header<'a>,
    pub position: Option<Position<'a>>,
    pub alarm_time: &'a [u8],
    /// Constant across retransmits, new per event: acknowledge and deduplicate on it.
    pub alarm_uid: &'a [u8],
    pub snapshot_taken: bool,
    pub snapshot_path: &'a [u8],
    pub recording_taken: bool,
    pub recording_path: &'a [u8],
    /// The alarm-specific fields, raw.
    pub details: Fields<'a>,
    /// Video loss / camera covered / motion (V204, V205, V217, V254, V255): the first detail
    /// as a [`channel_mask`](super::fields::channel_mask).
    pub channel_mask: Option<i64>,
    /// V232 only.
    pub file: Option<FileInfo<'a>>,
}

/// Keywords whose first alarm-specific field is a channel mask.
pub const CHANNEL_MASK_ALARMS: [&[u8]; 5] = [b"V204", b"V205", b"V217", b"V254", b"V255"];
/// The "alarm/event file ready for upload" keyword.
pub const FILE_READY: &[u8] = b"V232";

/// C100: the center's acknowledgement (§4.1), as the device sees it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CenterAck<'a> {
    pub header: Header<'a>,
    pub src_keyword: &'a [u8],
    pub src_time: &'a [u8],
    pub answer_mode: Option<i64>,
    pub content: Fields<'a>,
}

/// C508: start/stop live video (§4.4).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LiveVideoRequest<'a> {
    pub header: Header<'a>,
    pub session_id: &'a [u8],
    pub start: bool,
    pub channel: Option<i64>,
    pub stream_type: Option<i64>,
    pub connection_type: Option<i64>,
    pub media_ip: &'a [u8],
    pub media_port: Option<i64>,
    pub extra: Fields<'a>,
}

/// C702: download a file over a V103 media session (§4.6).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FileDownloadRequest<'a> {
    pub header: Header<'a>,
    pub session_id: &'a [u8],
    pub offset_mode: Option<i64>,
    pub start_offset: Option<i64>,
    pub end_offset: Option<i64>,
    pub media_ip: &'a [u8],
    pub media_port: Option<i64>,
    pub file_name: &'a [u8],
    pub extra: Fields<'a>,
}

/// One decoded text frame.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Message<'a> {
    /// V100.
    DeviceAck(DeviceAck<'a>),
    /// V101.
    Registration(Registration<'a>),
    /// V109 on the signaling channel; `extra` holds any (unexpected) fields.
    Heartbeat {
        header: Header<'a>,
        extra: Fields<'a>,
    },
    /// V114.
    PositionReport(PositionReport<'a>),
    /// V141 ("is there a file for me?").
    FileQuery {
        header: Header<'a>,
        position: Option<Position<'a>>,
        extra: Fields<'a>,
    },
    /// V142.
    DeviceStatus(DeviceStatus<'a>),
    /// V102, V103, V105–V111 (V109 on the media channel).
    MediaRegistration(MediaRegistration<'a>),
    /// V2xx, V3xx.
    Alarm(Alarm<'a>),
    /// C100.
    CenterAck(CenterAck<'a>),
    /// C508.
    LiveVideoRequest(LiveVideoRequest<'a>),
    /// C702.
    FileDownloadRequest(FileDownloadRequest<'a>),
    /// Any other `C` + digits keyword (C500, C501, C505, C510, C517, C701, C150, …).
    Command {
        header: Header<'a>,
        args: Fields<'a>,
    },
    /// Any other keyword (unknown V-messages such as a logout, §4.2): harmless, log it.
    Unknown {
        header: Header<'a>,
        fields: Fields<'a>,
    },
    /// A frame without the five header fields.
    Malformed {
        frame: &'a [u8],
        reason: &'static str,
    },
}

impl<'a> Message<'a> {
    pub fn header(&self) -> Option<&Header<'a>> {
        match self {
            Message::DeviceAck(m) => Some(&m.header),
            Message::Registration(m) => Some(&m.header),
            Message::Heartbeat { header, .. }
            | Message::FileQuery { header, .. }
            | Message::Command { header, .. }
            | Message::Unknown { header, .. } => Some(header),
            Message::PositionReport(m) => Some(&m.header),
            Message::DeviceStatus(m) => Some(&m.header),
            Message::MediaRegistration(m) => Some(&m.header),
            Message::Alarm(m) => Some(&m.header),
            Message::CenterAck(m) => Some(&m.header),
            Message::LiveVideoRequest(m) => Some(&m.header),
            Message::FileDownloadRequest(m) => Some(&m.header),
            Message::Malformed { .. } => None,
        }
    }
}

/// Reason of [`Message::Malformed`] for a frame that is not `[@@]$$dc` + digits + … + `#`.
pub const NOT_A_FRAME: &str = "not a $$dc text frame";
/// Reason of [`Message::Malformed`] for a body with fewer than five header fields.
pub const SHORT_HEADER: &str = "header needs serial, keyword, device id, workstation and time";

/// The comma-led body of a text frame (between `LLLL` and `#`), with or without the media
/// channel's `@@` prefix; `None` if `frame` is not shaped like one.
pub fn frame_body(frame: &[u8]) -> Option<&[u8]> {
    let p = if frame.starts_with(M2_MAGIC) { 2 } else { 0 };
    let rest = frame.get(p..)?;
    if !rest.starts_with(TEXT_MAGIC) || rest.last() != Some(&TEXT_TAIL) {
        return None;
    }
    let length = rest.get(4..8)?;
    if !length.iter().all(u8::is_ascii_digit) {
        return None;
    }
    rest.get(8..rest.len() - 1)
}

fn is_media_registration(keyword: &[u8], channel: Channel) -> bool {
    match keyword {
        b"V102" | b"V103" | b"V105" | b"V106" | b"V107" | b"V108" | b"V110" | b"V111" => true,
        b"V109" => channel == Channel::Media,
        _ => false,
    }
}

fn is_alarm(keyword: &[u8]) -> bool {
    matches!(keyword, [b'V', b'2' | b'3', a, b] if a.is_ascii_digit() && b.is_ascii_digit())
}

fn is_command(keyword: &[u8]) -> bool {
    matches!(keyword.split_first(), Some((b'C', digits)) if !digits.is_empty() && digits.iter().all(u8::is_ascii_digit))
}

/// Parse one text frame as the framer delivered it (`$$dc…#` or `@@$$dc…#`).
pub fn parse_message(frame: &[u8], channel: Channel) -> Message<'_> {
    let Some(body) = frame_body(frame) else {
        return Message::Malformed {
            frame,
            reason: NOT_A_FRAME,
        };
    };
    // The framer guarantees the leading comma; a hand-made frame may lack it.
    let Some((b',', region)) = body.split_first() else {
        return Message::Malformed {
            frame,
            reason: NOT_A_FRAME,
        };
    };
    let mut f = Fields::new(region);
    let (Some(serial), Some(keyword), Some(device_id), Some(workstation), Some(time)) = (
        f.next_field(),
        f.next_field(),
        f.next_field(),
        f.next_field(),
        f.next_field(),
    ) else {
        return Message::Malformed {
            frame,
            reason: SHORT_HEADER,
        };
    };
    let header = Header {
        serial,
        keyword,
        device_id,
        workstation,
        time,
    };
    match keyword {
        b"V100" => Message::DeviceAck(DeviceAck {
            header,
            position: parse_position(&mut f, false),
            src_keyword: f.text(),
            src_time: f.text(),
            answer_mode: f.int(),
            success: flag_one(f.text()),
            details: f,
        }),
        b"V101" => Message::Registration(Registration {
            header,
            position: parse_position(&mut f, false),
            protocol_version: f.text(),
            device_type: f.int(),
            login_ip: f.text(),
            login_port: f.int(),
            power_ons_today: f.int(),
            connections: f.int(),
            plate: f.text(),
            net_type: f.int(),
            net_name: f.text(),
            audio_type: f.int(),
            disk_type: f.int(),
            factory_type: f.text(),
            factory_device_type: f.text(),
            imei: f.text(),
            host_version: f.text(),
            net_lib_version: f.text(),
            extra: f,
        }),
        b"V109" if channel == Channel::Signaling => Message::Heartbeat { header, extra: f },
        b"V114" => Message::PositionReport(PositionReport {
            header,
            position: parse_position(&mut f, true),
            report_flag: f.int(),
            extra: f,
        }),
        b"V141" => Message::FileQuery {
            header,
            position: parse_position(&mut f, false),
            extra: f,
        },
        b"V142" => Message::DeviceStatus(DeviceStatus {
            header,
            position: parse_position(&mut f, false),
            success: flag_one(f.text()),
            reported_device_id: f.text(),
            device_type: f.int(),
            device_name: f.text(),
            software_version: f.text(),
            channel_count: f.int(),
            video_lost_mask: f.next_field().and_then(channel_mask),
            record_mask: f.next_field().and_then(channel_mask),
            disk_count: f.int(),
            disk_info: f.text(),
            cell_status: f.int(),
            cell_type: f.int(),
            cell_quality: f.int(),
            cell_ip: f.text(),
            wifi_status: f.int(),
            wifi_ap: f.text(),
            wifi_quality: f.int(),
            wifi_ip: f.text(),
            extra: f,
        }),
        k if is_media_registration(k, channel) => {
            Message::MediaRegistration(parse_media_registration(header, f))
        }
        k if is_alarm(k) => Message::Alarm(parse_alarm(header, f)),
        b"C100" => Message::CenterAck(CenterAck {
            header,
            src_keyword: f.text(),
            src_time: f.text(),
            answer_mode: f.int(),
            content: f,
        }),
        b"C508" => Message::LiveVideoRequest(LiveVideoRequest {
            header,
            session_id: f.text(),
            start: flag_one(f.text()),
            channel: f.int(),
            stream_type: f.int(),
            connection_type: f.int(),
            media_ip: f.text(),
            media_port: f.int(),
            extra: f,
        }),
        b"C702" => Message::FileDownloadRequest(FileDownloadRequest {
            header,
            session_id: f.text(),
            offset_mode: f.int(),
            start_offset: f.int(),
            end_offset: f.int(),
            media_ip: f.text(),
            media_port: f.int(),
            file_name: f.text(),
            extra: f,
        }),
        k if is_command(k) => Message::Command { header, args: f },
        _ => Message::Unknown { header, fields: f },
    }
}

fn parse_media_registration<'a>(header: Header<'a>, mut f: Fields<'a>) -> MediaRegistration<'a> {
    let position = parse_position(&mut f, false);
    let protocol_version = f.text();
    let device_type = f.int();
    let media_ip = f.text();
    let media_port = f.int();
    let session_id = f.text();
    let details = f;
    let kind = match header.keyword {
        b"V102" => RegistrationKind::Live {
            command: f.text(),
            channel: f.int(),
            stream_type: f.int(),
            plate: f.text(),
        },
        b"V103" => {
            let file_size = f.int();
            let name = f.text();
            let (file_name, plate) = match name.iter().rposition(|&b| b == b'|') {
                Some(bar) => (
                    name.get(..bar).unwrap_or_default(),
                    name.get(bar + 1..).unwrap_or_default(),
                ),
                None => (name, &b""[..]),
            };
            RegistrationKind::File {
                file_size,
                file_name,
                plate,
            }
        }
        _ => RegistrationKind::Other,
    };
    MediaRegistration {
        header,
        position,
        protocol_version,
        device_type,
        media_ip,
        media_port,
        session_id,
        details,
        kind,
    }
}

fn parse_alarm<'a>(header: Header<'a>, mut f: Fields<'a>) -> Alarm<'a> {
    let position = parse_position(&mut f, false);
    let alarm_time = f.text();
    let alarm_uid = f.text();
    let snapshot_taken = flag_one(f.text());
    let snapshot_path = f.text();
    let recording_taken = flag_one(f.text());
    let recording_path = f.text();
    let details = f;
    let mut d = f;
    let channel_mask = if CHANNEL_MASK_ALARMS.contains(&header.keyword) {
        d.next_field().and_then(channel_mask)
    } else {
        None
    };
    let file = (header.keyword == FILE_READY).then(|| FileInfo {
        file_type: d.int(),
        file_path: d.text(),
        file_length: d.int(),
        record_type: d.int(),
        start_time: d.text(),
        duration_s: d.int(),
        channel: d.int(),
    });
    Alarm {
        header,
        position,
        alarm_time,
        alarm_uid,
        snapshot_taken,
        snapshot_path,
        recording_taken,
        recording_path,
        details,
        channel_mask,
        file,
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing, clippy::panic)]
mod tests {
    use super::*;

    #[test]
    fn fields_cursor() {
        let mut f = Fields::new(b"a,,b,");
        assert_eq!(f.next_field(), Some(&b"a"[..]));
        assert_eq!(f.raw(), Some(&b",b,"[..]));
        assert_eq!(f.collect::<Vec<_>>(), vec![&b""[..], b"b", b""]);
        assert_eq!(Fields::empty().count(), 0);
        assert_eq!(Fields::new(b"").count(), 1);
    }

    #[test]
    fn short_header_is_malformed() {
        let m = parse_message(b"$$dc0007,1,V109#", Channel::Signaling);
        assert!(matches!(m, Message::Malformed { reason, .. } if reason == SHORT_HEADER));
        let m = parse_message(b"garbage", Channel::Signaling);
        assert!(matches!(m, Message::Malformed { reason, .. } if reason == NOT_A_FRAME));
    }

    #[test]
    fn v109_depends_on_the_channel() {
        let frame = b"$$dc0028,7,V109,00967,,170915 105108#";
        assert!(matches!(
            parse_message(frame, Channel::Signaling),
            Message::Heartbeat { .. }
        ));
        assert!(matches!(
            parse_message(frame, Channel::Media),
            Message::MediaRegistration(MediaRegistration { position: None, .. })
        ));
    }
}
