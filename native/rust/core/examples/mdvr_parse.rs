//! Pure-Rust floor for `benches/mdvr_parse.py`: the same streams, framed and parsed by
//! `trocadero_core::mdvr` with no Python in the loop.
//!
//! ```sh
//! cargo run --release --example mdvr_parse -- [--seconds 1] [--chunk 4096] [--media-chunk 65536]
//! ```
//!
//! Signaling: the real E2 device messages (V101, V142, V141, V114 ×12, V109, V204, V254, V100)
//! repeated, fed in `--chunk`-byte reads, every frame parsed into a typed message. Media: a
//! 25 fps H.264-like stream (a 60 KB I-frame every 25 frames, 4 KB P-frames, a 320-byte audio
//! frame per video frame) in M1 envelopes, fed in `--media-chunk`-byte reads, every packet
//! parsed down to its payload slice. Prints one JSON line.

use std::hint::black_box;
use std::time::Instant;
use trocadero_core::mdvr::builders::media_packet;
use trocadero_core::mdvr::{
    parse_message, Channel, Envelope, FrameKind, MediaFramer, MediaPacket, Message, SignalingFramer,
};

const V101: &[u8] = b"$$dc0234,2,V101,00967,,170915 105007,A0000,18,49,159000000,-34,5,24180000,0.00,28600,FFF7000000307783,0000000000000000,0.00,0.00,0.00,0,0.00,0,0|0.00|0|0|0|0|0|0|0,,V1.0.0.1,4108,,0,0,0,00967,0,8888,3,2,14,16,,T16120701,V6.1.45 20160604,,0,8,#";
const V142: &[u8] = b"$$dc0266,3,V142,00967,,170915 105008,A0000,18,49,159000000,-34,5,24180000,0.00,28600,FFF7000000307783,0000000000000000,0.00,0.00,0.00,0,0.00,0,0|0.00|0|0|0|0|0|0|0,,1,00967,4108,00967,T16120701,8,247,255,2,953256_1256_29933_533,0,2,14,0.0.0.0,0,8888,0,0.0.0.0,0,2,8,0,0,,0,,#";
const V141: &[u8] = b"$$dc0156,5,V141,00967,,170915 105008,A0000,18,49,159000000,-34,5,24180000,0.00,28600,FFF7000000307783,0000000000000000,0.00,0.00,0.00,0,0.00,0,0|0.00|0|0|0|0|0|0|0,#";
const V114: &[u8] = b"$$dc0157,6,V114,00967,,170915 105051,A0000,18,49,159000000,-34,5,24180000,0.00,28600,FFF7000000307783,0000000000000000,0.00,0.00,0.00,0,0.00,0,0|0.00|0|0|0|0|0|0|0,1#";
const V109: &[u8] = b"$$dc0028,7,V109,00967,,170915 105108#";
const V204: &[u8] = b"$$dc0194,1,V204,00967,,170915 104622,A0000,18,49,159000000,-34,5,24180000,0.00,3500,00F700000030D783,0000000000000000,0.00,0.00,0.00,0,0.00,0,0|0.00|0|0|0|0|0|0|0,,170915 104622,852D679B0155CB02,0,,0,,1#";
const V254: &[u8] = b"$$dc0195,9,V254,00967,,170915 105204,A0000,18,49,158819999,-34,5,24539999,0.00,19800,FFFB000000307783,0000000000000000,0.00,0.00,0.00,0,0.00,0,0|0.00|0|0|0|0|0|0|0,,170915 105204,85329EFD0156820A,0,,0,,4#";
const V100: &[u8] = b"$$dc0185,52,V100,00967,,170915 105412,A0000,18,49,158819999,-34,5,24539999,0.00,19800,FFFB000000309783,0000000000000000,0.00,0.00,0.00,0,0.00,0,0|0.00|0|0|0|0|0|0|0,,C508,170915 105351,0,1,1,,0#";

fn arg(name: &str, default: f64) -> f64 {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn signaling_stream(target: usize) -> (Vec<u8>, usize) {
    let mut cycle: Vec<&[u8]> = vec![V101, V142, V141, V109, V204, V254, V100];
    cycle.extend(std::iter::repeat_n(V114, 12));
    let mut out = Vec::new();
    let mut n = 0;
    while out.len() < target {
        for f in &cycle {
            out.extend_from_slice(f);
            n += 1;
        }
    }
    (out, n)
}

fn media_stream(frames: usize) -> Result<(Vec<u8>, usize), Box<dyn std::error::Error>> {
    let mut out = Vec::new();
    let mut packets = 0;
    for i in 0..frames {
        let (op, size) = if i % 25 == 0 {
            (0x6011, 60_000)
        } else {
            (0x6012, 4_000)
        };
        let ts = 1_505_472_375_278_000u64 + i as u64 * 40_000;
        let mut payload = ts.to_le_bytes().to_vec();
        payload.extend_from_slice(&[0, 0, 0, 1, 0x65]);
        payload.resize(8 + size, (i % 251) as u8);
        let serial = (i % 65536) as u16;
        out.extend(media_packet(Envelope::M1, op, serial, 0, &payload)?);
        let mut audio = ts.to_le_bytes().to_vec();
        audio.resize(8 + 320, 0x55);
        out.extend(media_packet(Envelope::M1, 0x6013, serial, 0, &audio)?);
        packets += 2;
    }
    Ok((out, packets))
}

/// Run `f` over the stream repeatedly for about `seconds`; returns (passes, elapsed s).
fn timed(seconds: f64, mut f: impl FnMut()) -> (u64, f64) {
    f(); // warm-up
    let start = Instant::now();
    let mut passes = 0u64;
    while start.elapsed().as_secs_f64() < seconds {
        f();
        passes += 1;
    }
    (passes, start.elapsed().as_secs_f64())
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let seconds = arg("--seconds", 1.0);
    let chunk = arg("--chunk", 4096.0) as usize;
    let media_chunk = arg("--media-chunk", 65536.0) as usize;

    let (sig, messages) = signaling_stream(1 << 20);
    let (passes, elapsed) = timed(seconds, || {
        let mut framer = SignalingFramer::signaling();
        let mut typed = 0usize;
        for read in sig.chunks(chunk) {
            framer.feed(read, |_, frame| {
                if !matches!(
                    parse_message(frame, Channel::Signaling),
                    Message::Malformed { .. }
                ) {
                    typed += 1;
                }
            });
        }
        assert_eq!(typed, messages);
        black_box(typed);
    });
    let msgs_per_s = passes as f64 * messages as f64 / elapsed;
    let sig_bytes_per_s = passes as f64 * sig.len() as f64 / elapsed;

    let (media, packets) = media_stream(250)?;
    let (mpasses, melapsed) = timed(seconds, || {
        let mut framer = MediaFramer::media();
        let mut payload_bytes = 0usize;
        for read in media.chunks(media_chunk) {
            framer.feed(read, |kind, frame| {
                if let FrameKind::Binary(env) = kind {
                    if let Some(p) = MediaPacket::parse(env, frame) {
                        payload_bytes += p.payload.len();
                    }
                }
            });
        }
        black_box(payload_bytes);
    });
    let media_bytes_per_s = mpasses as f64 * media.len() as f64 / melapsed;
    let packets_per_s = mpasses as f64 * packets as f64 / melapsed;
    println!(
        "{{\"signaling_messages_per_s\": {msgs_per_s:.0}, \"signaling_bytes_per_s\": \
         {sig_bytes_per_s:.0}, \"media_bytes_per_s\": {media_bytes_per_s:.0}, \
         \"media_packets_per_s\": {packets_per_s:.0}, \"chunk\": {chunk}, \"media_chunk\": \
         {media_chunk}}}"
    );
    Ok(())
}
