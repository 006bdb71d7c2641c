//! Every test vector of `shared/reference/mdvr-protocol.md` (§4, §5.2, §6) through the framers,
//! the parser and the builders. Vectors marked "synthesised" follow a variant the reference
//! describes in prose (old firmware, LSZ `A0010`, hex masks, V232…) without a capture.

use trocadero_core::mdvr::builders::{self, FileDownload, LiveVideo, Route};
use trocadero_core::mdvr::signaling::RegistrationKind;
use trocadero_core::mdvr::{
    parse_message, Channel, Envelope, FrameKind, MediaBody, MediaFramer, MediaPacket, Message,
    Position, SignalingFramer,
};

const V101: &[u8] = b"$$dc0234,2,V101,00967,,170915 105007,A0000,18,49,159000000,-34,5,24180000,0.00,28600,FFF7000000307783,0000000000000000,0.00,0.00,0.00,0,0.00,0,0|0.00|0|0|0|0|0|0|0,,V1.0.0.1,4108,,0,0,0,00967,0,8888,3,2,14,16,,T16120701,V6.1.45 20160604,,0,8,#";
const C100_V101: &[u8] = b"$$dc0054,2,C100,00967,,170915 104951,V101,170915 105007,0,1,1,#";
const V142: &[u8] = b"$$dc0266,3,V142,00967,,170915 105008,A0000,18,49,159000000,-34,5,24180000,0.00,28600,FFF7000000307783,0000000000000000,0.00,0.00,0.00,0,0.00,0,0|0.00|0|0|0|0|0|0|0,,1,00967,4108,00967,T16120701,8,247,255,2,953256_1256_29933_533,0,2,14,0.0.0.0,0,8888,0,0.0.0.0,0,2,8,0,0,,0,,#";
const C100_V142: &[u8] = b"$$dc0050,3,C100,00967,,170915 104952,V142,170915 105008,0,#";
const V141: &[u8] = b"$$dc0156,5,V141,00967,,170915 105008,A0000,18,49,159000000,-34,5,24180000,0.00,28600,FFF7000000307783,0000000000000000,0.00,0.00,0.00,0,0.00,0,0|0.00|0|0|0|0|0|0|0,#";
const C100_V141: &[u8] =
    b"$$dc0064,5,C100,00967,,170915 104953,V141,170915 105008,0,0,0,0,,,0,,0,,#";
const V114: &[u8] = b"$$dc0157,6,V114,00967,,170915 105051,A0000,18,49,159000000,-34,5,24180000,0.00,28600,FFF7000000307783,0000000000000000,0.00,0.00,0.00,0,0.00,0,0|0.00|0|0|0|0|0|0|0,1#";
const V109: &[u8] = b"$$dc0028,7,V109,00967,,170915 105108#";
const C501: &[u8] = b"$$dc0029,51,C501,00967,,170915 105255#";
const V204: &[u8] = b"$$dc0194,1,V204,00967,,170915 104622,A0000,18,49,159000000,-34,5,24180000,0.00,3500,00F700000030D783,0000000000000000,0.00,0.00,0.00,0,0.00,0,0|0.00|0|0|0|0|0|0|0,,170915 104622,852D679B0155CB02,0,,0,,1#";
const C100_V204: &[u8] =
    b"$$dc0066,1,C100,00967,,170915 104953,V204,170915 104622,0,852D679B0155CB02#";
const V254: &[u8] = b"$$dc0195,9,V254,00967,,170915 105204,A0000,18,49,158819999,-34,5,24539999,0.00,19800,FFFB000000307783,0000000000000000,0.00,0.00,0.00,0,0.00,0,0|0.00|0|0|0|0|0|0|0,,170915 105204,85329EFD0156820A,0,,0,,4#";
const C508_START: &[u8] =
    b"$$dc0067,52,C508,00967,,170915 105351,288644776,1,0,1,0,129.232.134.18,6602#";
const V100: &[u8] = b"$$dc0185,52,V100,00967,,170915 105412,A0000,18,49,158819999,-34,5,24539999,0.00,19800,FFFB000000309783,0000000000000000,0.00,0.00,0.00,0,0.00,0,0|0.00|0|0|0|0|0|0|0,,C508,170915 105351,0,1,1,,0#";
const C508_STOP: &[u8] = b"$$dc0051,112,C508,00967,,170915 110418,281696776,0,4,1,0,,0#";
const C150: &[u8] = b"$$dc0066,175,C150,00967,,170915 113121,5,,670B14728AD9902AECBA32E22FA4F6BD#";
const C517: &[u8] = b"$$dc0127,165,C517,00967,,170915 112817,0,91,<Param_RecordSet><MESSAGE_ID>0</MESSAGE_ID><MESSAGE_TYPE>1</MESSAGE_TYPE></Param_RecordSet>#";
/// E8 (CMSV6 test server).
const C510: &[u8] = b"$$dc0057,34,C510,0150008,,200228 164339,50930120,0,127.0.0.1,6602#";
const C701: &[u8] =
    b"$$dc0080,33,C701,0150008,,200228 164336,46214296,200228 000000,235959,3,0,127.0.0.1,6602#";
/// E4 (old firmware, real device): 19-field block, `A`, signed degrees, serial `1d`.
const V102_OLD: &[u8] = b"$$dc0180,1d,V102,34561,,170429 133652,A,+28,59,102539064,+41,3,32226562,0,0,0001000000105780,0000000000000000,0.00,0.00,0.00,,-1,0,0,0,V0.00.01,2,176.240.208.9,6602,26636840,C508,0,1,00000#";

/// The whole E2 exchange in capture order, both directions.
const E2_STREAM: [&[u8]; 16] = [
    V101, C100_V101, V142, C100_V142, V141, C100_V141, V114, V109, C501, V204, C100_V204, V254,
    C508_START, V100, C508_STOP, C150,
];

fn frame(text: &[u8]) -> Vec<u8> {
    // Synthesised vectors: compute LLLL from the body (between "$$dcLLLL" and "#").
    let body = &text[8..text.len() - 1];
    let mut out = format!("$$dc{:04}", body.len()).into_bytes();
    out.extend_from_slice(body);
    out.push(b'#');
    out
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() < 1e-6
}

fn position<'a>(m: &Message<'a>) -> Position<'a> {
    let p = match m {
        Message::DeviceAck(m) => m.position,
        Message::Registration(m) => m.position,
        Message::PositionReport(m) => m.position,
        Message::FileQuery { position, .. } => *position,
        Message::DeviceStatus(m) => m.position,
        Message::MediaRegistration(m) => m.position,
        Message::Alarm(m) => m.position,
        other => panic!("no position in {other:?}"),
    };
    p.expect("position parses")
}

fn sig(frame: &[u8]) -> Message<'_> {
    parse_message(frame, Channel::Signaling)
}

fn collect_signaling(chunks: &[&[u8]]) -> (Vec<Vec<u8>>, SignalingFramer) {
    let mut framer = SignalingFramer::signaling();
    let mut out = Vec::new();
    for chunk in chunks {
        framer.feed(chunk, |kind, f| {
            assert_eq!(kind, FrameKind::Text { prefixed: false });
            out.push(f.to_vec());
        });
    }
    (out, framer)
}

#[test]
fn every_length_field_is_verified() {
    for f in E2_STREAM.iter().chain(&[C517, C510, C701, V102_OLD]) {
        let (frames, framer) = collect_signaling(&[f]);
        assert_eq!(frames, vec![f.to_vec()], "{}", String::from_utf8_lossy(f));
        assert_eq!(framer.stats().skipped_bytes, 0);
    }
}

#[test]
fn stream_whole_bytewise_and_at_every_split() {
    let garbage: &[&[u8]] = &[b"\r\n", b"$$", b"#$$dc", b"noise$", b"$$dc12,"];
    let mut data = garbage[0].to_vec();
    for (i, f) in E2_STREAM.iter().enumerate() {
        data.extend_from_slice(f);
        data.extend_from_slice(garbage[i % garbage.len()]);
    }
    data.extend_from_slice(b"trailing garbage");
    let (whole, wf) = collect_signaling(&[&data]);
    let expected: Vec<Vec<u8>> = E2_STREAM.iter().map(|f| f.to_vec()).collect();
    assert_eq!(whole, expected);
    let s = wf.stats();
    assert_eq!(s.frames, E2_STREAM.len() as u64);
    assert!(s.skipped_bytes > 0 && s.rejected_frames > 0);
    assert_eq!(
        s.frame_bytes + s.skipped_bytes + wf.buffered() as u64,
        data.len() as u64
    );

    let bytes: Vec<&[u8]> = data.chunks(1).collect();
    let (bytewise, bf) = collect_signaling(&bytes);
    assert_eq!(bytewise, expected);
    assert_eq!(bf.stats(), s);

    for cut in 0..=data.len() {
        let (got, f) = collect_signaling(&[&data[..cut], &data[cut..]]);
        assert_eq!(got, expected, "cut {cut}");
        assert_eq!(f.stats(), s, "cut {cut}");
    }
    // Three-way splits around every frame boundary region.
    for a in (0..data.len()).step_by(7) {
        for b in (a..data.len()).step_by(13) {
            let (got, _) = collect_signaling(&[&data[..a], &data[a..b], &data[b..]]);
            assert_eq!(got, expected, "cuts {a} {b}");
        }
    }
}

#[test]
fn fragmentation_vector_dollar_then_rest() {
    // E2: one read delivered `$`, the next the rest of a C508 and more.
    let c508 =
        frame(b"$$dc0000,97,C508,00967,,170915 105351,288644776,1,0,1,0,129.232.134.18,6602#");
    let (got, f) = collect_signaling(&[&c508[..1], &[&c508[1..], V109].concat()]);
    assert_eq!(got, vec![c508.clone(), V109.to_vec()]);
    assert_eq!(f.stats().skipped_bytes, 0);
}

#[test]
fn overlong_length_never_buffers_more_than_one_frame() {
    // A bogus 9999 length followed by megabytes without `#` at the right place.
    let mut framer = SignalingFramer::signaling();
    framer.feed(b"$$dc9999,", |_, _| panic!("no frame"));
    let chunk = vec![b'x'; 4096];
    for _ in 0..1024 {
        framer.feed(&chunk, |_, _| panic!("no frame"));
        assert!(framer.buffered() <= 10_008);
    }
    let mut got = Vec::new();
    framer.feed(V109, |_, f| got.push(f.to_vec()));
    assert_eq!(got, vec![V109.to_vec()]);
    assert_eq!(framer.stats().rejected_frames, 1);
}

#[test]
fn v114_decodes_to_the_stated_values() {
    let Message::PositionReport(m) = sig(V114) else {
        panic!("V114")
    };
    assert_eq!(m.header.serial, b"6");
    assert_eq!(m.header.device_id, b"00967");
    assert_eq!(m.header.workstation, b"");
    assert_eq!(m.header.time, b"170915 105051");
    let p = m.position.expect("position");
    assert!(p.valid);
    assert_eq!(p.gps_state, b"A0000");
    assert!(close(p.longitude, 18.821_083), "{}", p.longitude);
    assert!(close(p.latitude, -34.084_005), "{}", p.latitude);
    assert_eq!(p.speed_kmh, Some(0.0));
    assert_eq!(p.course_raw, Some(28600));
    let status = p.status.expect("status");
    assert_eq!(status[1], 0xF7, "video lost ch 1-3, 5-8");
    assert_eq!(status, [0xFF, 0xF7, 0, 0, 0, 0x30, 0x77, 0x83]);
    assert_eq!(p.status_mask, Some([0; 8]));
    assert_eq!(
        (p.device_temp_c, p.engine_temp_c, p.cabin_temp_c),
        (Some(0.0), Some(0.0), Some(0.0))
    );
    assert_eq!(
        (p.mileage_m, p.fuel_l, p.parking_s),
        (Some(0), Some(0.0), Some(0))
    );
    assert_eq!(p.extension, Some(&b"0|0.00|0|0|0|0|0|0|0"[..]));
    assert_eq!((p.stop_flag, p.passengers, p.extra), (None, None, None));
    assert_eq!(m.report_flag, Some(1));
    assert!(m.extra.is_empty());
}

#[test]
fn v101_registration() {
    let Message::Registration(m) = sig(V101) else {
        panic!("V101")
    };
    let p = position(&sig(V101));
    assert_eq!(p.extra, Some(&b""[..]), "new firmware: 18 + 1");
    assert_eq!(m.protocol_version, b"V1.0.0.1");
    assert_eq!(m.device_type, Some(4108));
    assert_eq!((m.login_ip, m.login_port), (&b""[..], Some(0)));
    assert_eq!((m.power_ons_today, m.connections), (Some(0), Some(0)));
    assert_eq!(m.plate, b"00967");
    assert_eq!((m.net_type, m.net_name), (Some(0), &b"8888"[..]));
    assert_eq!((m.audio_type, m.disk_type), (Some(3), Some(2)));
    assert_eq!(
        (m.factory_type, m.factory_device_type),
        (&b"14"[..], &b"16"[..])
    );
    assert_eq!(m.imei, b"");
    assert_eq!(m.host_version, b"T16120701");
    assert_eq!(m.net_lib_version, b"V6.1.45 20160604");
    assert_eq!(m.extra.collect::<Vec<_>>(), vec![&b""[..], b"0", b"8", b""]);
}

#[test]
fn v101_old_firmware_synthesised() {
    // E4's old V101 tail after the E4 V102's 19-field block (synthesised whole frame).
    let f = frame(b"$$dc0000,1,V101,34561,,170429 133652,A,+28,59,102539064,+41,3,32226562,0,0,0001000000105780,0000000000000000,0.00,0.00,0.00,,-1,0,0,0,V0.00.01,2,52.170.27.175,6608,,,00000#");
    let Message::Registration(m) = sig(&f) else {
        panic!("V101")
    };
    let p = m.position.expect("position");
    assert!(close(p.longitude, 28.986_182) && close(p.latitude, 41.050_895));
    assert_eq!(
        (p.stop_flag, p.passengers, p.extension),
        (Some(0), Some(0), None)
    );
    assert_eq!((p.mileage_m, p.fuel_l), (None, None));
    assert_eq!(m.protocol_version, b"V0.00.01");
    assert_eq!(
        (m.device_type, m.login_ip, m.login_port),
        (Some(2), &b"52.170.27.175"[..], Some(6608))
    );
    assert_eq!(
        (m.power_ons_today, m.connections, m.plate),
        (None, None, &b"00000"[..])
    );
    assert_eq!((m.net_type, m.net_lib_version), (None, &b""[..]));
    assert!(m.extra.is_empty());
}

#[test]
fn v142_status() {
    let Message::DeviceStatus(m) = sig(V142) else {
        panic!("V142")
    };
    assert!(m.success);
    assert_eq!(
        (m.reported_device_id, m.device_type),
        (&b"00967"[..], Some(4108))
    );
    assert_eq!(
        (m.device_name, m.software_version),
        (&b"00967"[..], &b"T16120701"[..])
    );
    assert_eq!(m.channel_count, Some(8));
    assert_eq!((m.video_lost_mask, m.record_mask), (Some(247), Some(255)));
    assert_eq!(
        (m.disk_count, m.disk_info),
        (Some(2), &b"953256_1256_29933_533"[..])
    );
    assert_eq!(
        (m.cell_status, m.cell_type, m.cell_quality),
        (Some(0), Some(2), Some(14))
    );
    assert_eq!(m.cell_ip, b"0.0.0.0");
    assert_eq!(
        (m.wifi_status, m.wifi_ap, m.wifi_quality),
        (Some(0), &b"8888"[..], Some(0))
    );
    assert_eq!(m.wifi_ip, b"0.0.0.0");
    assert_eq!(m.extra.raw(), Some(&b"0,2,8,0,0,,0,,"[..]));
}

#[test]
fn v141_and_v109() {
    let Message::FileQuery {
        position, extra, ..
    } = sig(V141)
    else {
        panic!("V141")
    };
    assert_eq!(position.expect("position").extra, Some(&b""[..]));
    assert!(extra.is_empty());
    let Message::Heartbeat { header, extra } = sig(V109) else {
        panic!("V109")
    };
    assert_eq!(
        (header.serial, header.time),
        (&b"7"[..], &b"170915 105108"[..])
    );
    assert!(extra.is_empty());
}

#[test]
fn alarms_v204_v254() {
    let Message::Alarm(a) = sig(V204) else {
        panic!("V204")
    };
    assert_eq!(a.alarm_time, b"170915 104622");
    assert_eq!(a.alarm_uid, b"852D679B0155CB02");
    assert!(!a.snapshot_taken && !a.recording_taken);
    assert_eq!((a.snapshot_path, a.recording_path), (&b""[..], &b""[..]));
    assert_eq!(a.channel_mask, Some(1));
    assert_eq!(a.details.raw(), Some(&b"1"[..]));
    assert_eq!(position(&sig(V204)).course_raw, Some(3500));
    let Message::Alarm(a) = sig(V254) else {
        panic!("V254")
    };
    assert_eq!(
        (a.alarm_uid, a.channel_mask),
        (&b"85329EFD0156820A"[..], Some(4))
    );
    let p = position(&sig(V254));
    assert!(close(p.longitude, 18.821_078) && close(p.latitude, -34.084_015));
}

#[test]
fn alarm_variants_synthesised() {
    // Hex mask (doc format), V201 custom alarm (E4's `1,input1,input1`), V232 file ready.
    let hex = frame(b"$$dc0000,1,V205,00967,,170915 104622,A0010,114,3,341826000,22,40,236220000,12.50,1521000,0F0EE331000D7383,0000000000000000,,,,,-1,67,0|0.00|0|0|0|0|0|0|0|0|0|0,,170915 104622,UID1,1,/snap/a.jpg,0,,000A#");
    let Message::Alarm(a) = sig(&hex) else {
        panic!("V205")
    };
    assert_eq!(a.channel_mask, Some(10));
    assert!(a.snapshot_taken);
    assert_eq!(a.snapshot_path, b"/snap/a.jpg");
    let p = a.position.expect("position");
    assert_eq!(p.gps_state, b"A0010");
    assert!(close(p.longitude, 114.059_495) && close(p.latitude, 22.673_228));
    assert_eq!((p.speed_kmh, p.course_raw), (Some(12.5), Some(1_521_000)));
    assert_eq!(
        (p.device_temp_c, p.mileage_m, p.fuel_l, p.parking_s),
        (None, None, None, Some(67))
    );
    let v201 = frame(b"$$dc0000,3,V201,00967,,170915 104622,V0000,-0,0,0,-0,0,0,0.00,0,0000000000000000,0000000000000000,0.00,0.00,0.00,0,0.00,0,0|0.00|0|0|0|0|0|0|0,,170915 104622,UID2,0,,0,,1,input1,input1#");
    let Message::Alarm(a) = sig(&v201) else {
        panic!("V201")
    };
    let p = a.position.expect("position");
    assert!(!p.valid);
    assert!(p.longitude == 0.0 && p.longitude.is_sign_negative());
    assert_eq!(a.channel_mask, None);
    assert_eq!(
        a.details.collect::<Vec<_>>(),
        vec![&b"1"[..], b"input1", b"input1"]
    );
    let v232 = frame(b"$$dc0000,4,V232,00967,,170915 104622,A0000,18,49,159000000,-34,5,24180000,0.00,0,FFF7000000307783,0000000000000000,0.00,0.00,0.00,0,0.00,0,0|0.00|0|0|0|0|0|0|0,,170915 104622,UID3,0,,1,,2,/mnt/sd/alarm/ch1.264,1048576,2,20170915104600,30,0,#");
    let Message::Alarm(a) = sig(&v232) else {
        panic!("V232")
    };
    let file = a.file.expect("V232 file info");
    assert_eq!(
        (file.file_type, file.file_path),
        (Some(2), &b"/mnt/sd/alarm/ch1.264"[..])
    );
    assert_eq!(
        (file.file_length, file.record_type),
        (Some(1_048_576), Some(2))
    );
    assert_eq!(
        (file.start_time, file.duration_s, file.channel),
        (&b"20170915104600"[..], Some(30), Some(0))
    );
}

#[test]
fn device_ack_v100() {
    let Message::DeviceAck(m) = sig(V100) else {
        panic!("V100")
    };
    assert_eq!(
        (m.src_keyword, m.src_time),
        (&b"C508"[..], &b"170915 105351"[..])
    );
    assert_eq!((m.answer_mode, m.success), (Some(0), true));
    assert_eq!(m.details.raw(), Some(&b"1,,0"[..]));
    // Failure (doc) and a C517 answer carrying XML with commas and CRLF (synthesised).
    let fail = frame(b"$$dc0000,9,V100,00967,,170915 105412,A0000,18,49,159000000,-34,5,24180000,0.00,0,FFF7000000307783,0000000000000000,0.00,0.00,0.00,0,0.00,0,0|0.00|0|0|0|0|0|0|0,,C702,170915 105351,0,0,FFFFFF0A,no such file#");
    let Message::DeviceAck(m) = sig(&fail) else {
        panic!("V100")
    };
    assert!(!m.success);
    assert_eq!(
        m.details.collect::<Vec<_>>(),
        vec![&b"FFFFFF0A"[..], b"no such file"]
    );
    let xml = frame(b"$$dc0000,165,V100,00967,,170915 112818,A0000,18,49,159000000,-34,5,24180000,0.00,0,FFF7000000307783,0000000000000000,0.00,0.00,0.00,0,0.00,0,0|0.00|0|0|0|0|0|0|0,,C517,170915 112817,0,1,22,<a>1,2</a>\r\n<b>#</b>#");
    let Message::DeviceAck(m) = sig(&xml) else {
        panic!("V100")
    };
    assert_eq!(m.details.raw(), Some(&b"22,<a>1,2</a>\r\n<b>#</b>"[..]));
}

#[test]
fn media_registration_old_firmware_v102() {
    let Message::MediaRegistration(m) = parse_message(V102_OLD, Channel::Media) else {
        panic!("V102")
    };
    assert_eq!(m.header.serial, b"1d");
    let p = m.position.expect("position");
    assert!(p.valid);
    assert_eq!(p.gps_state, b"A");
    assert!(close(p.longitude, 28.986_182), "{}", p.longitude);
    assert!(close(p.latitude, 41.050_895), "{}", p.latitude);
    assert_eq!((p.speed_kmh, p.course_raw), (Some(0.0), Some(0)));
    assert_eq!(p.status, Some([0, 1, 0, 0, 0, 0x10, 0x57, 0x80]));
    assert_eq!((p.mileage_m, p.fuel_l, p.parking_s), (None, None, Some(0)));
    assert_eq!(
        (p.stop_flag, p.passengers, p.extension, p.extra),
        (Some(0), Some(0), None, None)
    );
    assert_eq!(m.protocol_version, b"V0.00.01");
    assert_eq!(
        (m.device_type, m.media_ip, m.media_port),
        (Some(2), &b"176.240.208.9"[..], Some(6602))
    );
    assert_eq!(m.session_id, b"26636840");
    assert_eq!(
        m.kind,
        RegistrationKind::Live {
            command: b"C508",
            channel: Some(0),
            stream_type: Some(1),
            plate: b"00000"
        }
    );
    // The same frame on the signaling channel parses the same way.
    assert_eq!(
        parse_message(V102_OLD, Channel::Signaling),
        Message::MediaRegistration(m)
    );
}

#[test]
fn media_registration_v103_synthesised() {
    let f = frame(b"$$dc0000,2,V103,00967,,170915 105412,A0000,18,49,159000000,-34,5,24180000,0.00,0,FFF7000000307783,0000000000000000,0.00,0.00,0.00,0,0.00,0,0|0.00|0|0|0|0|0|0|0,,V1.0.0.1,4108,129.232.134.18,6602,777,1048576,/mnt/sd/alarm/ch1.264|CA 123-456#");
    let Message::MediaRegistration(m) = parse_message(&f, Channel::Media) else {
        panic!("V103")
    };
    assert_eq!(m.session_id, b"777");
    assert_eq!(
        m.kind,
        RegistrationKind::File {
            file_size: Some(1_048_576),
            file_name: b"/mnt/sd/alarm/ch1.264",
            plate: b"CA 123-456"
        }
    );
}

#[test]
fn center_messages() {
    let Message::CenterAck(a) = sig(C100_V141) else {
        panic!("C100")
    };
    assert_eq!(
        (a.src_keyword, a.src_time, a.answer_mode),
        (&b"V141"[..], &b"170915 105008"[..], Some(0))
    );
    assert_eq!(a.content.raw(), Some(&b"0,0,0,,,0,,0,,"[..]));
    let Message::LiveVideoRequest(r) = sig(C508_START) else {
        panic!("C508")
    };
    assert_eq!(
        (r.session_id, r.start, r.channel, r.stream_type),
        (&b"288644776"[..], true, Some(0), Some(1))
    );
    assert_eq!(
        (r.connection_type, r.media_ip, r.media_port),
        (Some(0), &b"129.232.134.18"[..], Some(6602))
    );
    let Message::LiveVideoRequest(r) = sig(C508_STOP) else {
        panic!("C508")
    };
    assert_eq!(
        (r.start, r.channel, r.media_ip, r.media_port),
        (false, Some(4), &b""[..], Some(0))
    );
    for (f, kw) in [
        (C501, &b"C501"[..]),
        (C150, b"C150"),
        (C517, b"C517"),
        (C510, b"C510"),
        (C701, b"C701"),
    ] {
        let Message::Command { header, args } = sig(f) else {
            panic!("command")
        };
        assert_eq!(header.keyword, kw);
        if kw == b"C517" {
            assert_eq!(args.raw().map(<[u8]>::len), Some(1 + 1 + 2 + 1 + 91));
        }
    }
    let unknown = frame(b"$$dc0000,5,V130,00967,,170915 105108,x,y#");
    let Message::Unknown { header, fields } = sig(&unknown) else {
        panic!("unknown")
    };
    assert_eq!(header.keyword, b"V130");
    assert_eq!(fields.collect::<Vec<_>>(), vec![&b"x"[..], b"y"]);
}

#[test]
fn garbage_inside_a_position_block_is_absent_not_fatal() {
    let f = frame(b"$$dc0000,6,V114,00967,,170915 105051,A0000,18,49,1.5e9,-34,5,24180000,fast,north,XYZ,0000000000000000,0.00,0.00,0.00,0,0.00,0,0|0.00|0|0|0|0|0|0|0,1#");
    let Message::PositionReport(m) = sig(&f) else {
        panic!("V114")
    };
    assert_eq!(m.position, None, "bad longitude seconds");
    assert_eq!(m.report_flag, Some(1), "block consumed by count");
    let f = frame(
        b"$$dc0000,6,V114,00967,,170915 105051,A0000,18,49,0,-34,5,0,fast,north,XYZ,,,,,,,,0|0,1#",
    );
    let p = position(&sig(&f));
    assert_eq!((p.speed_kmh, p.course_raw, p.status), (None, None, None));
    let short = frame(b"$$dc0000,6,V114,00967,,170915 105051,A0000,18,49#");
    let Message::PositionReport(m) = sig(&short) else {
        panic!("V114")
    };
    assert_eq!((m.position, m.report_flag), (None, None));
}

#[test]
fn builders_are_byte_exact() {
    let r = |serial: &'static [u8], time: &'static [u8]| Route::new(serial, b"00967", time);
    assert_eq!(
        builders::c100_registration_ok(&r(b"2", b"170915 104951"), b"170915 105007").unwrap(),
        C100_V101
    );
    assert_eq!(
        builders::c100_status(&r(b"3", b"170915 104952"), b"170915 105008").unwrap(),
        C100_V142
    );
    assert_eq!(
        builders::c100_no_file(&r(b"5", b"170915 104953"), b"170915 105008").unwrap(),
        C100_V141
    );
    assert_eq!(
        builders::c100_alarm(
            &r(b"1", b"170915 104953"),
            b"V204",
            b"170915 104622",
            b"852D679B0155CB02"
        )
        .unwrap(),
        C100_V204
    );
    assert_eq!(builders::c501(&r(b"51", b"170915 105255")).unwrap(), C501);
    let start = LiveVideo {
        session_id: b"288644776",
        start: true,
        channel: 0,
        stream_type: 1,
        connection_type: 0,
        media_ip: b"129.232.134.18",
        media_port: 6602,
    };
    assert_eq!(
        builders::c508(&r(b"52", b"170915 105351"), &start).unwrap(),
        C508_START
    );
    let stop = LiveVideo {
        session_id: b"281696776",
        start: false,
        channel: 4,
        media_ip: b"",
        media_port: 0,
        ..start
    };
    assert_eq!(
        builders::c508(&r(b"112", b"170915 110418"), &stop).unwrap(),
        C508_STOP
    );
    assert_eq!(
        builders::c150(
            &r(b"175", b"170915 113121"),
            5,
            b"",
            b"670B14728AD9902AECBA32E22FA4F6BD"
        )
        .unwrap(),
        C150
    );
    let xml = b"<Param_RecordSet><MESSAGE_ID>0</MESSAGE_ID><MESSAGE_TYPE>1</MESSAGE_TYPE></Param_RecordSet>";
    assert_eq!(
        builders::c517(&r(b"165", b"170915 112817"), 0, xml).unwrap(),
        C517
    );
    // C505: the doc's example tail `…,C505,T0001,,100101 123456,1,50,10,0300#`.
    let c505 = builders::c505(
        &Route::new(b"1", b"T0001", b"100101 123456"),
        1,
        50,
        10,
        0x0300,
    )
    .unwrap();
    assert!(c505.ends_with(b",C505,T0001,,100101 123456,1,50,10,0300#"));
    // Generic frames reproduce E8's C510 / C701.
    let e8 = Route::new(b"34", b"0150008", b"200228 164339");
    let c510 = builders::frame(
        &e8,
        b"C510",
        &[b"50930120", b"0", b"127.0.0.1", b"6602"],
        None,
    );
    assert_eq!(c510.unwrap(), C510);
    let e8 = Route::new(b"33", b"0150008", b"200228 164336");
    let args: [&[u8]; 7] = [
        b"46214296",
        b"200228 000000",
        b"235959",
        b"3",
        b"0",
        b"127.0.0.1",
        b"6602",
    ];
    assert_eq!(builders::frame(&e8, b"C701", &args, None).unwrap(), C701);
    // C702 round-trips through the parser.
    let d = FileDownload {
        session_id: b"99",
        offset_mode: 0,
        start_offset: 0,
        end_offset: 0,
        media_ip: b"10.0.0.1",
        media_port: 6602,
        file_name: b"/mnt/sd/alarm/ch1.264",
    };
    let c702 = builders::c702(&r(b"7", b"170915 105351"), &d).unwrap();
    assert_eq!(
        c702,
        frame(
            b"$$dc0000,7,C702,00967,,170915 105351,99,0,0,0,10.0.0.1,6602,/mnt/sd/alarm/ch1.264#"
        )
    );
    let Message::FileDownloadRequest(m) = sig(&c702) else {
        panic!("C702")
    };
    assert_eq!(
        (m.session_id, m.file_name, m.media_port),
        (&b"99"[..], &b"/mnt/sd/alarm/ch1.264"[..], Some(6602))
    );
    let failed =
        builders::c100_registration_failed(&r(b"2", b"170915 104951"), b"170915 105007", 2)
            .unwrap();
    assert_eq!(
        failed,
        frame(b"$$dc0000,2,C100,00967,,170915 104951,V101,170915 105007,0,0,2#")
    );
    assert_eq!(
        builders::c500(&r(b"8", b"170915 104951")).unwrap(),
        b"$$dc0028,8,C500,00967,,170915 104951#".as_slice()
    );
}

#[test]
fn media_builders_are_byte_exact() {
    // §5.2: M1 0x6000 success feedback, serial 0, time 0.
    let feedback = [
        0x24, 0x24, 0x24, 0x24, 0x24, 0x24, 0x64, 0x63, 0x10, 0, 0, 0, 0x00, 0x60, 0, 0, 0, 0, 0,
        0, 1, 0, 0, 0, 0, 0, 0, 0, 0x23, 0x23, 0x23, 0x23,
    ];
    assert_eq!(
        builders::media_feedback(Envelope::M1, 0, 0, true, 0).unwrap(),
        feedback
    );
    let refused = builders::media_feedback(Envelope::M2, 1, 2, false, 0x1002).unwrap();
    assert_eq!(
        refused,
        [
            &b"@@$$dc"[..],
            &[0x10, 0, 0, 0, 0x00, 0x60, 1, 0, 2, 0, 0, 0],
            &[0, 0, 0, 0, 0x02, 0x10, 0, 0],
            b"####"
        ]
        .concat()
    );
    let iframe = builders::request_iframe(Envelope::M1, 3, 4).unwrap();
    assert_eq!(
        iframe,
        [
            &b"$$$$$$dc"[..],
            &[8, 0, 0, 0, 0x02, 0x60, 3, 0, 4, 0, 0, 0],
            b"####"
        ]
        .concat()
    );
    let hb = builders::media_heartbeat(Envelope::M2, 0, 0).unwrap();
    assert_eq!(
        hb,
        [
            &b"@@$$dc"[..],
            &[8, 0, 0, 0, 0x05, 0x60, 0, 0, 0, 0, 0, 0],
            b"####"
        ]
        .concat()
    );
}

#[test]
fn media_session_registration_then_frames_in_one_read() {
    // Since SDK 6.1.0.17 media follows the registration `#` in the same read (§5.1).
    let au = [
        &[0u8, 0, 0, 1, 0x67, 0x42, 0, 0x1e][..],
        &[0, 0, 0, 1, 0x68, 0xce],
        &[0, 0, 0, 1, 0x65, 0x88, 0x84],
    ]
    .concat();
    let mut payload = 0x559381a25ca0cu64.to_le_bytes().to_vec();
    payload.extend_from_slice(&au);
    let iframe = builders::media_packet(Envelope::M1, 0x6011, 1, 37575, &payload).unwrap();
    let mut block = 0u32.to_le_bytes().to_vec();
    block.extend_from_slice(&4u32.to_le_bytes());
    block.extend_from_slice(b"DATA");
    let file = builders::media_packet(Envelope::M1, 0x6102, 2, 0, &block).unwrap();
    let data = [V102_OLD, &iframe, &file].concat();
    let base = data.as_ptr_range();
    let mut framer = MediaFramer::media();
    let mut kinds = Vec::new();
    framer.feed(&data, |kind, f| {
        assert!(base.contains(&f.as_ptr()));
        kinds.push(kind);
        match kind {
            FrameKind::Text { .. } => {
                assert!(matches!(
                    parse_message(f, Channel::Media),
                    Message::MediaRegistration(_)
                ));
            }
            FrameKind::Binary(env) => {
                let p = MediaPacket::parse(env, f).expect("packet");
                match p.body() {
                    MediaBody::Frame { timestamp_us, data } => {
                        assert_eq!(p.opcode, 0x6011);
                        assert_eq!(timestamp_us, 0x559381a25ca0c);
                        assert_eq!(data, &au[..]);
                        assert!(
                            base.contains(&data.as_ptr()),
                            "payload is a slice of the read"
                        );
                    }
                    MediaBody::FileBlock {
                        offset,
                        length,
                        data,
                    } => {
                        assert_eq!((offset, length, data), (0, 4, &b"DATA"[..]));
                    }
                    MediaBody::Raw => panic!("raw"),
                }
            }
        }
    });
    assert_eq!(kinds.len(), 3);
    assert_eq!(framer.stats().skipped_bytes, 0);
}

/// xorshift64*: a dependency-free generator for the mutation test below.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

fn mutate(rng: &mut Rng, data: &mut Vec<u8>) {
    const SPECIAL: [&[u8]; 8] = [b"$", b"@@", b"#", b",", b"$$dc", b"$$$$$$dc", b"####", b"9"];
    for _ in 0..=rng.below(4) {
        let at = rng.below(data.len() + 1);
        match rng.below(5) {
            0 if !data.is_empty() => {
                let i = rng.below(data.len());
                data[i] ^= 1 << rng.below(8);
            }
            1 => {
                let tok = SPECIAL[rng.below(SPECIAL.len())];
                data.splice(at..at, tok.iter().copied());
            }
            2 => {
                let end = (at + rng.below(32)).min(data.len());
                data.drain(at..end);
            }
            3 => {
                let n = rng.below(8);
                data.splice(at..at, (0..n).map(|_| rng.next() as u8));
            }
            _ => data.truncate(at),
        }
    }
}

#[test]
fn mutated_streams_never_panic_and_do_not_depend_on_reads() {
    // Time-boxed (the debug build is slow); the full run is the cargo-fuzz target
    // `mdvr_decode` and the differential test in tests/protocols/test_mdvr_fuzz.py.
    let seeds: Vec<Vec<u8>> = E2_STREAM
        .iter()
        .chain(&[C517, C510, C701, V102_OLD])
        .map(|f| f.to_vec())
        .chain([
            builders::media_feedback(Envelope::M2, 1, 2, true, 0).unwrap(),
            builders::media_packet(Envelope::M1, 0x6011, 1, 2, &[0; 20]).unwrap(),
        ])
        .collect();
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let start = std::time::Instant::now();
    let mut runs = 0;
    while start.elapsed().as_millis() < 1500 {
        let mut data = seeds[rng.below(seeds.len())].clone();
        data.extend_from_slice(&seeds[rng.below(seeds.len())]);
        mutate(&mut rng, &mut data);
        let read = 1 + rng.below(64);
        let cap = 16 << rng.below(8);
        let run = |read: usize| {
            let mut sig = SignalingFramer::signaling();
            let mut media = MediaFramer::new(trocadero_core::mdvr::MediaScanner::new(cap).unwrap());
            let (mut out, mut media_out) = (Vec::new(), Vec::new());
            for chunk in data.chunks(read) {
                sig.feed(chunk, |k, f| {
                    let _ = parse_message(f, Channel::Signaling);
                    out.push((k, f.to_vec()));
                });
                media.feed(chunk, |k, f| {
                    if let FrameKind::Binary(env) = k {
                        let p = MediaPacket::parse(env, f).expect("accepted frame parses");
                        assert!(p.payload.len() <= cap);
                        let _ = p.body();
                    } else {
                        let _ = parse_message(f, Channel::Media);
                    }
                    media_out.push((k, f.to_vec()));
                });
            }
            for s in [
                (sig.stats(), sig.buffered()),
                (media.stats(), media.buffered()),
            ] {
                assert_eq!(
                    s.0.frame_bytes + s.0.skipped_bytes + s.1 as u64,
                    data.len() as u64
                );
            }
            (out, media_out, sig.stats(), media.stats())
        };
        assert_eq!(run(data.len().max(1)), run(read), "input {data:?}");
        runs += 1;
    }
    assert!(runs > 100, "{runs} runs");
}
