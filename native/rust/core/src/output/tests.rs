//! Output tests over real loopback UDP: what arrives at 127.0.0.1 receivers is compared byte
//! for byte with packets built from the templates and patched independently here.

use super::*;
use crate::timebase::ClockConfig;
use std::net::UdpSocket;
use std::os::fd::AsRawFd;
use std::time::{Duration, Instant};

const CID: [u8; 16] = *b"trocadero-cid-01";

/// A loopback receiver with a large buffer (the sender never waits for it).
struct Receiver {
    sock: UdpSocket,
    addr: SocketAddrV4,
}

impl Receiver {
    fn new() -> Self {
        let sock = UdpSocket::bind("127.0.0.1:0").unwrap();
        let size: libc::c_int = 8 << 20;
        for opt in [libc::SO_RCVBUFFORCE, libc::SO_RCVBUF] {
            // SAFETY: valid fd and a c_int option value of the size passed.
            let rc = unsafe {
                libc::setsockopt(
                    sock.as_raw_fd(),
                    libc::SOL_SOCKET,
                    opt,
                    (&size as *const libc::c_int).cast(),
                    std::mem::size_of::<libc::c_int>() as libc::socklen_t,
                )
            };
            if rc == 0 {
                break;
            }
        }
        sock.set_read_timeout(Some(Duration::from_millis(200)))
            .unwrap();
        let addr = match sock.local_addr().unwrap() {
            std::net::SocketAddr::V4(a) => a,
            other => panic!("not IPv4: {other}"),
        };
        Self { sock, addr }
    }

    /// Every datagram that arrives until the socket has been quiet for 50 ms.
    fn drain(&self) -> Vec<Vec<u8>> {
        let mut out = Vec::new();
        let mut buf = [0u8; 2048];
        self.sock
            .set_read_timeout(Some(Duration::from_millis(200)))
            .unwrap();
        while let Ok(n) = self.sock.recv(&mut buf) {
            out.push(buf[..n].to_vec());
            self.sock
                .set_read_timeout(Some(Duration::from_millis(50)))
                .unwrap();
        }
        out
    }
}

fn clock(frame_universes: usize) -> ClockConfig {
    ClockConfig::new(44.0, frame_universes * UNIVERSE_BYTES)
}

fn frame(frame_universes: usize, salt: u8) -> Vec<u8> {
    (0..frame_universes * UNIVERSE_BYTES)
        .map(|i| {
            (i as u8)
                .wrapping_mul(31)
                .wrapping_add((i / 512) as u8 ^ salt)
        })
        .collect()
}

fn maps(pairs: &[(usize, u32)]) -> Vec<UniverseMap> {
    pairs
        .iter()
        .map(|&(frame_index, wire)| UniverseMap { frame_index, wire })
        .collect()
}

fn sacn_config(pairs: &[(usize, u32)], dests: &[SocketAddrV4]) -> OutputConfig {
    let mut cfg = OutputConfig::new(Protocol::Sacn, maps(pairs));
    cfg.destinations = dests.to_vec();
    cfg.cid = CID;
    cfg.source_name = "Loopback test".into();
    cfg.priority = 150;
    cfg
}

fn expected_sacn(cfg: &OutputConfig, wire: u32, seq: u8, data: &[u8]) -> Vec<u8> {
    let source = SacnSource {
        cid: &cfg.cid,
        source_name: &cfg.source_name,
        priority: cfg.priority,
        sync_address: cfg.sync_address,
    };
    let mut p = sacn_data_template(&source, wire as u16, data.len());
    p[SACN_SEQUENCE_OFFSET] = seq;
    p[SACN_DATA_OFFSET..].copy_from_slice(data);
    p
}

fn slice(frame: &[u8], index: usize, slots: usize) -> &[u8] {
    &frame[index * UNIVERSE_BYTES..index * UNIVERSE_BYTES + slots]
}

#[test]
fn sacn_unicast_packets_are_exact_and_sync_comes_last() {
    let rx = Receiver::new();
    let pairs = [(0, 1), (2, 256), (1, 63999)];
    let mut cfg = sacn_config(&pairs, &[rx.addr]);
    cfg.sync_address = 7;
    let (mut out, handle) = UdpOutput::new(&cfg, &clock(3)).unwrap();
    let frames = [frame(3, 1), frame(3, 2)];
    for (n, f) in frames.iter().enumerate() {
        out.send(f, n as u64);
    }
    let got = rx.drain();
    assert_eq!(got.len(), 8);
    for (k, f) in frames.iter().enumerate() {
        let batch = &got[k * 4..k * 4 + 4];
        for (j, &(index, wire)) in pairs.iter().enumerate() {
            assert_eq!(
                batch[j],
                expected_sacn(&cfg, wire, k as u8, slice(f, index, 512)),
                "frame {k} universe {wire}"
            );
        }
        let mut sync = sacn_sync_template(&CID, 7);
        sync[SACN_SYNC_SEQUENCE_OFFSET] = k as u8;
        assert_eq!(batch[3], sync, "sync packet last in frame {k}");
    }
    let s = handle.stats();
    assert_eq!(
        (s.packets_sent, s.bytes_sent, s.frames_sent),
        (8, 2 * (3 * 638 + 49), 2)
    );
    assert_eq!((s.send_errors, s.drops, s.state_changes), (0, 0, 0));
    assert_eq!(s.state, OutputState::Healthy);
    assert_eq!(s.packets_per_frame, 4);
}

#[test]
fn sacn_sequence_wraps_255_to_0_per_universe() {
    let rx = Receiver::new();
    let cfg = sacn_config(&[(0, 5), (1, 6)], &[rx.addr]);
    let (mut out, _) = UdpOutput::new(&cfg, &clock(2)).unwrap();
    let f = frame(2, 0);
    for n in 0..258 {
        out.send(&f, n);
    }
    let got = rx.drain();
    assert_eq!(got.len(), 516);
    for (u, wire) in [(0usize, 5u16), (1, 6)] {
        let seqs: Vec<u8> = got
            .iter()
            .filter(|p| p[113..115] == wire.to_be_bytes())
            .map(|p| p[SACN_SEQUENCE_OFFSET])
            .collect();
        let expected: Vec<u8> = (0..258u32).map(|n| n as u8).collect();
        assert_eq!(seqs, expected, "universe index {u}");
    }
}

#[test]
fn artnet_packets_are_exact_and_sequence_wraps_to_1() {
    let rx = Receiver::new();
    let mut cfg = OutputConfig::new(Protocol::ArtNet, maps(&[(1, 0x0123), (0, 0x7FFF)]));
    cfg.destinations = vec![rx.addr];
    cfg.slots = 511; // odd: padded to 512 with a zero
    cfg.sync_address = 1; // ArtSync after the frame's ArtDmx
    let (mut out, _) = UdpOutput::new(&cfg, &clock(2)).unwrap();
    let f = frame(2, 9);
    for n in 0..257 {
        out.send(&f, n);
    }
    let got = rx.drain();
    assert_eq!(got.len(), 257 * 3);
    let mut seqs = Vec::new();
    for (k, batch) in got.chunks(3).enumerate() {
        let seq = artnet_next_sequence_n(k);
        for (j, &(index, pa)) in [(1usize, 0x0123u16), (0, 0x7FFF)].iter().enumerate() {
            let mut p = artnet_dmx_template(pa, 511);
            p[ARTNET_SEQUENCE_OFFSET] = seq;
            p[ARTNET_DATA_OFFSET..ARTNET_DATA_OFFSET + 511].copy_from_slice(slice(&f, index, 511));
            assert_eq!(batch[j], p, "frame {k} port-address {pa:#x}");
        }
        assert_eq!(batch[2], artnet_sync_packet(), "ArtSync last");
        seqs.push(batch[0][ARTNET_SEQUENCE_OFFSET]);
    }
    assert_eq!(&seqs[..3], &[1, 2, 3]);
    assert_eq!(&seqs[253..257], &[254, 255, 1, 2]);
    assert!(!seqs.contains(&0));
}

/// Art-Net sequence of the k-th packet of a universe: 1, 2, …, 255, 1, …
fn artnet_next_sequence_n(k: usize) -> u8 {
    (k % 255 + 1) as u8
}

#[test]
fn ddp_chunks_carry_the_device_buffer_with_push_on_the_last() {
    let rx = Receiver::new();
    let mut cfg = OutputConfig::new(
        Protocol::Ddp,
        maps(&[(2, 1020), (0, 0), (1, 510), (3, 4000)]),
    );
    cfg.destinations = vec![rx.addr];
    cfg.slots = 510;
    let (mut out, handle) = UdpOutput::new(&cfg, &clock(4)).unwrap();
    assert_eq!(handle.stats().packets_per_frame, 3);
    let f = frame(4, 3);
    for n in 0..16 {
        out.send(&f, n);
    }
    let got = rx.drain();
    assert_eq!(got.len(), 48);
    for (k, batch) in got.chunks(3).enumerate() {
        let seq = (k % 15 + 1) as u8;
        let summary: Vec<(u8, u8, u32, u16)> = batch
            .iter()
            .map(|p| {
                (
                    p[0],
                    p[1],
                    u32::from_be_bytes([p[4], p[5], p[6], p[7]]),
                    u16::from_be_bytes([p[8], p[9]]),
                )
            })
            .collect();
        assert_eq!(
            summary,
            vec![
                (0x40, seq, 0, 1440),
                (0x40, seq, 1440, 90),
                (0x41, seq, 4000, 510)
            ]
        );
        let mut device = vec![0u8; 4510];
        for p in batch {
            assert_eq!(p[2..4], [DDP_DATA_TYPE_RGB8, DDP_DESTINATION_DISPLAY]);
            let off = u32::from_be_bytes([p[4], p[5], p[6], p[7]]) as usize;
            device[off..off + p.len() - 10].copy_from_slice(&p[10..]);
        }
        assert_eq!(&device[..510], slice(&f, 0, 510));
        assert_eq!(&device[510..1020], slice(&f, 1, 510));
        assert_eq!(&device[1020..1530], slice(&f, 2, 510));
        assert_eq!(&device[4000..4510], slice(&f, 3, 510));
    }
}

#[test]
fn rate_gate_follows_the_absolute_schedule() {
    let clock44 = Schedule::new(44.0);
    let sent = |rate: Option<f64>, frames: std::ops::Range<u64>| -> Vec<u64> {
        let mut g = RateGate::new(rate, clock44);
        frames.filter(|&n| g.due(n)).collect()
    };
    assert_eq!(sent(Some(22.0), 0..10), vec![0, 2, 4, 6, 8]);
    assert_eq!(sent(None, 0..4), vec![0, 1, 2, 3]);
    assert_eq!(sent(Some(60.0), 0..4), vec![0, 1, 2, 3]); // above the clock: every frame
                                                          // 30 Hz on a 44 Hz clock: exactly 30 per 44 frames, every hour, no drift.
    let hour = 44 * 3600;
    assert_eq!(sent(Some(30.0), 0..hour).len(), 30 * 3600);
    assert_eq!(
        sent(Some(30.0), 0..44),
        vec![
            0, 2, 3, 5, 6, 8, 9, 11, 12, 14, 15, 17, 18, 20, 21, 22, 24, 25, 27, 28, 30, 31, 33,
            34, 36, 37, 39, 40, 42, 43
        ]
    );
    // Missed clock deadlines (gaps in n) do not shift the pattern: after a jump the gate
    // sends the first frame of each new output tick.
    let mut g = RateGate::new(Some(22.0), clock44);
    let got: Vec<u64> = [0u64, 1, 5, 6, 7, 8, 100, 101]
        .into_iter()
        .filter(|&n| g.due(n))
        .collect();
    assert_eq!(got, vec![0, 5, 6, 8, 100]);
    assert_eq!(RateGate::new(Some(30.0), clock44).max_gap_frames(), 2);
    assert_eq!(RateGate::new(None, clock44).max_gap_frames(), 1);
}

#[test]
fn rate_limited_output_counts_skipped_frames() {
    let rx = Receiver::new();
    let mut cfg = sacn_config(&[(0, 1)], &[rx.addr]);
    cfg.rate_hz = Some(22.0);
    let (mut out, handle) = UdpOutput::new(&cfg, &clock(1)).unwrap();
    let f = frame(1, 0);
    for n in 0..44 {
        out.send(&f, n);
    }
    let s = handle.stats();
    assert_eq!(
        (s.frames_sent, s.frames_skipped_by_rate, s.packets_sent),
        (22, 22, 22)
    );
    let seqs: Vec<u8> = rx.drain().iter().map(|p| p[SACN_SEQUENCE_OFFSET]).collect();
    assert_eq!(seqs, (0..22).collect::<Vec<u8>>());
}

#[test]
fn send_on_change_repeats_three_times_then_keeps_alive_each_second() {
    let rx = Receiver::new();
    let mut cfg = sacn_config(&[(0, 1), (1, 2)], &[rx.addr]);
    cfg.send_on_change = true;
    let (mut out, handle) = UdpOutput::new(&cfg, &clock(2)).unwrap();
    let mut f = frame(2, 0);
    // Packets sent per frame number, with the frame time injected through n.
    let mut per_frame = Vec::new();
    let mut last = 0;
    for n in 0..140u64 {
        if n == 60 {
            f[512 + 10] ^= 0xFF; // universe 2 changes; universe 1 does not
        }
        out.send(&f, n);
        let now = handle.stats().packets_sent;
        per_frame.push((n, now - last));
        last = now;
    }
    let sends = |count: u64| -> Vec<u64> {
        per_frame
            .iter()
            .filter(|&&(_, c)| c == count)
            .map(|&(n, _)| n)
            .collect()
    };
    // Both universes: first frame + 3 repeats, then one keep-alive 44 frames (1.000 s) later.
    // Universe 2 changes at 60: it is sent at 60..63, then keeps alive from there.
    assert_eq!(sends(2), vec![0, 1, 2, 3, 47]);
    assert_eq!(sends(1), vec![60, 61, 62, 63, 91, 107, 135]);
    let s = handle.stats();
    assert_eq!(s.frames_sent, 140);
    // Keep-alives carry the same data, with the sequence moving on.
    let got = rx.drain();
    assert_eq!(got.len() as u64, s.packets_sent);
    let u2: Vec<&Vec<u8>> = got.iter().filter(|p| p[114] == 2).collect();
    let seqs: Vec<u8> = u2.iter().map(|p| p[SACN_SEQUENCE_OFFSET]).collect();
    assert_eq!(seqs, (0..seqs.len() as u8).collect::<Vec<u8>>());
    assert_eq!(&u2.last().unwrap()[SACN_DATA_OFFSET..], slice(&f, 1, 512));
}

#[test]
fn keepalive_never_exceeds_the_interval_at_a_reduced_rate() {
    let rx = Receiver::new();
    let mut cfg = sacn_config(&[(0, 1)], &[rx.addr]);
    cfg.send_on_change = true;
    cfg.rate_hz = Some(30.0);
    cfg.keepalive_s = 0.5;
    let (mut out, handle) = UdpOutput::new(&cfg, &clock(1)).unwrap();
    let f = frame(1, 0);
    let sched = Schedule::new(44.0);
    let mut last = 0;
    let mut times = Vec::new();
    for n in 0..440u64 {
        out.send(&f, n);
        let now = handle.stats().packets_sent;
        if now > last {
            times.push(sched.offset_ns(n));
        }
        last = now;
    }
    let gaps: Vec<u64> = times.windows(2).map(|w| w[1] - w[0]).collect();
    assert!(gaps.len() > 10);
    assert!(gaps.iter().all(|&g| g <= 500_000_000), "{gaps:?}");
    assert!(gaps[4..].iter().all(|&g| g >= 450_000_000), "{gaps:?}");
}

#[test]
fn terminate_sends_three_stream_terminated_packets_per_universe_and_destination() {
    let (rx1, rx2) = (Receiver::new(), Receiver::new());
    let pairs = [(0, 10), (1, 300)];
    let cfg = sacn_config(&pairs, &[rx1.addr, rx2.addr]);
    let (mut out, _) = UdpOutput::new(&cfg, &clock(2)).unwrap();
    let f = frame(2, 4);
    out.send(&f, 0);
    out.send(&f, 1);
    let last = frame(2, 5);
    out.terminate(&last);
    for rx in [&rx1, &rx2] {
        let got = rx.drain();
        assert_eq!(got.len(), 4 + 6);
        let terminated: Vec<&Vec<u8>> = got
            .iter()
            .filter(|p| p[SACN_OPTIONS_OFFSET] & SACN_OPTION_STREAM_TERMINATED != 0)
            .collect();
        assert_eq!(terminated.len(), 6);
        for (k, p) in terminated.iter().enumerate() {
            let (index, wire) = pairs[k % 2];
            let mut expected =
                expected_sacn(&cfg, wire, 2 + (k / 2) as u8, slice(&last, index, 512));
            expected[SACN_OPTIONS_OFFSET] = SACN_OPTION_STREAM_TERMINATED;
            assert_eq!(**p, expected, "terminated packet {k}");
        }
    }
}

#[test]
fn standby_lowers_sacn_priority_and_a_handover_terminates_then_goes_on() {
    let rx = Receiver::new();
    let mut cfg = sacn_config(&[(0, 10)], &[rx.addr]);
    cfg.priority = 120;
    let (mut out, _) = UdpOutput::new(&cfg, &clock(1)).unwrap();
    assert!(out.sends_as_standby());
    let f = frame(1, 7);
    out.send(&f, 0); // seq 0, priority 120
    out.set_standby(true, 1);
    out.send(&f, 1); // seq 1, priority 119
    out.stream_terminated(&f); // seq 2, 3, 4 terminated
    out.set_standby(false, 1);
    out.send(&f, 2); // seq 5, priority 120, options clear
    let got = rx.drain();
    let fields: Vec<(u8, u8, u8)> = got
        .iter()
        .map(|p| {
            (
                p[SACN_PRIORITY_OFFSET],
                p[SACN_SEQUENCE_OFFSET],
                p[SACN_OPTIONS_OFFSET],
            )
        })
        .collect();
    let t = SACN_OPTION_STREAM_TERMINATED;
    assert_eq!(
        fields,
        vec![
            (120, 0, 0),
            (119, 1, 0),
            (119, 2, t),
            (119, 3, t),
            (119, 4, t),
            (120, 5, 0)
        ]
    );
}

#[test]
fn artnet_and_ddp_do_not_send_as_standby() {
    let mut cfg = OutputConfig::new(Protocol::ArtNet, maps(&[(0, 1)]));
    cfg.destinations = vec![Receiver::new().addr];
    let (out, _) = UdpOutput::new(&cfg, &clock(1)).unwrap();
    assert!(!out.sends_as_standby());
    cfg.protocol = Protocol::Ddp;
    let (ddp, _) = UdpOutput::new(&cfg, &clock(1)).unwrap();
    assert!(!ddp.sends_as_standby());
}

#[test]
fn artnet_and_ddp_terminate_sends_nothing() {
    let rx = Receiver::new();
    let mut cfg = OutputConfig::new(Protocol::ArtNet, maps(&[(0, 1)]));
    cfg.destinations = vec![rx.addr];
    let (mut out, handle) = UdpOutput::new(&cfg, &clock(1)).unwrap();
    out.terminate(&frame(1, 0));
    cfg.protocol = Protocol::Ddp;
    let (mut ddp, ddp_handle) = UdpOutput::new(&cfg, &clock(1)).unwrap();
    ddp.terminate(&frame(1, 0));
    assert_eq!(
        handle.stats().packets_sent + ddp_handle.stats().packets_sent,
        0
    );
    assert!(rx.drain().is_empty());
}

#[test]
fn unreachable_source_address_fails_without_stopping_and_logs_once() {
    let rx = Receiver::new();
    let mut cfg = sacn_config(&[(0, 1), (1, 2)], &[rx.addr]);
    cfg.bind_address = Some("198.51.100.7".parse().unwrap()); // TEST-NET-2: not on this host
    let (mut out, handle) = UdpOutput::new(&cfg, &clock(2)).unwrap();
    let f = frame(2, 0);
    for n in 0..5 {
        out.send(&f, n);
    }
    let s = handle.stats();
    assert_eq!(s.state, OutputState::Failing);
    let text = s.last_error.unwrap();
    assert!(
        text.starts_with(&format!("send to {} failed: ", rx.addr)),
        "{text}"
    );
    assert!(text.contains("bind_address 198.51.100.7"), "{text}");
    assert_eq!(
        s.state_changes, 1,
        "one state change for five failing frames"
    );
    assert_eq!((s.send_errors, s.packets_sent, s.frames_sent), (10, 0, 0));
    assert!(rx.drain().is_empty());
}

#[test]
fn one_failing_destination_does_not_stop_the_others() {
    let rx = Receiver::new();
    // 255.255.255.255 without SO_BROADCAST: EACCES, deterministically and without traffic.
    let blocked: SocketAddrV4 = "255.255.255.255:9".parse().unwrap();
    let cfg = sacn_config(&[(0, 1), (1, 2), (2, 3)], &[blocked, rx.addr]);
    let (mut out, handle) = UdpOutput::new(&cfg, &clock(3)).unwrap();
    let f = frame(3, 0);
    for n in 0..4 {
        out.send(&f, n);
    }
    let s = handle.stats();
    assert_eq!(
        rx.drain().len(),
        12,
        "the good destination got every packet"
    );
    assert_eq!((s.packets_sent, s.send_errors), (12, 12));
    assert_eq!(s.state, OutputState::Failing);
    let text = s.last_error.unwrap();
    assert!(
        text.starts_with("send to 255.255.255.255:9 failed: Permission denied"),
        "{text}"
    );
    assert!(text.contains("broadcast=True"), "{text}");
    assert_eq!(s.state_changes, 1);
}

#[test]
fn missing_interface_is_reported_retried_and_recovers() {
    let rx = Receiver::new();
    let mut cfg = sacn_config(&[(0, 1)], &[rx.addr]);
    cfg.interface = Some("trocnone0".into());
    let (mut out, handle) = UdpOutput::new(&cfg, &clock(1)).unwrap();
    let f = frame(1, 0);
    for n in 0..10 {
        out.send(&f, n);
    }
    let s = handle.stats();
    assert_eq!(s.state, OutputState::Failing);
    assert_eq!(
        s.last_error.as_deref(),
        Some("interface \"trocnone0\" unavailable: No such device (os error 19); retrying every second")
    );
    assert_eq!((s.packets_sent, s.send_errors, s.state_changes), (0, 10, 1));
    assert!(
        rx.drain().is_empty(),
        "nothing goes out of another interface meanwhile"
    );
    // The interface "appears" (the loopback one, so the test needs no privileges to create
    // one): found again at the next once-a-second retry, and the output recovers.
    out.interface.as_mut().unwrap().name = "lo".into();
    for n in 10..44 {
        out.send(&f, n); // retried at frame 0, so not again before t = 1 s (frame 44)
    }
    assert_eq!(handle.stats().packets_sent, 0);
    out.send(&f, 44);
    let s = handle.stats();
    assert_eq!(
        (s.state, s.packets_sent, s.state_changes),
        (OutputState::Healthy, 1, 2)
    );
    assert!(
        s.last_error.unwrap().contains("trocnone0"),
        "last error kept"
    );
    assert_eq!(rx.drain().len(), 1);
}

#[test]
fn sacn_multicast_destinations_are_the_universe_groups() {
    let mut cfg = sacn_config(&[(0, 1), (1, 256), (2, 63999)], &[]);
    cfg.sync_address = 64;
    let (out, handle) = UdpOutput::new(&cfg, &clock(3)).unwrap();
    let groups: Vec<String> = out.addrs.iter().map(|a| a.to_string()).collect();
    assert_eq!(
        groups,
        [
            "239.255.0.1:5568",
            "239.255.1.0:5568",
            "239.255.249.255:5568",
            "239.255.0.64:5568"
        ]
    );
    assert_eq!(handle.stats().packets_per_frame, 4);
}

#[test]
fn pacing_pauses_between_bursts() {
    let rx = Receiver::new();
    let pairs: Vec<(usize, u32)> = (0..6).map(|i| (i, i as u32 + 1)).collect();
    let mut cfg = sacn_config(&pairs, &[rx.addr]);
    cfg.pace_every = 2;
    cfg.pace_us = 2_000;
    let (mut out, handle) = UdpOutput::new(&cfg, &clock(6)).unwrap();
    let start = Instant::now();
    out.send(&frame(6, 0), 0);
    let took = start.elapsed();
    assert!(
        took >= Duration::from_millis(4),
        "two pauses of 2 ms, took {took:?}"
    );
    assert_eq!(handle.stats().packets_sent, 6);
    assert_eq!(rx.drain().len(), 6);
}

#[test]
fn socket_gets_a_send_buffer_for_whole_frames() {
    let pairs: Vec<(usize, u32)> = (0..200).map(|i| (i, i as u32 + 1)).collect();
    let cfg = sacn_config(&pairs, &["127.0.0.1:9".parse().unwrap()]);
    let (out, _) = UdpOutput::new(&cfg, &clock(200)).unwrap();
    let size = socket::send_buffer_size(out.fd.as_raw_fd()).unwrap();
    assert!(size >= 200 * 1024, "SO_SNDBUF {size}");
}

#[test]
fn gso_runs_arrive_as_single_datagrams_in_order() {
    let rx = Receiver::new();
    let n = 150; // GSO units of 64 + 64 + 22 datagrams
    let pairs: Vec<(usize, u32)> = (0..n).map(|i| (i, i as u32 + 1)).collect();
    let mut cfg = sacn_config(&pairs, &[rx.addr]);
    cfg.sync_address = 9;
    let (mut out, handle) = UdpOutput::new(&cfg, &clock(n)).unwrap();
    assert!(out.gso, "this kernel does UDP GSO");
    let f = frame(n, 6);
    out.send(&f, 0);
    let got = rx.drain();
    assert_eq!(got.len(), n + 1);
    for (i, p) in got[..n].iter().enumerate() {
        assert_eq!(*p, expected_sacn(&cfg, i as u32 + 1, 0, slice(&f, i, 512)));
    }
    assert_eq!(got[n].len(), SACN_SYNC_PACKET_SIZE);
    let s = handle.stats();
    assert_eq!(s.packets_sent, n as u64 + 1);
    assert_eq!(s.bytes_sent, (n * 638 + 49) as u64);
}

#[test]
fn gso_refused_by_the_kernel_falls_back_to_single_datagrams() {
    let rx = Receiver::new();
    let pairs: Vec<(usize, u32)> = (0..5).map(|i| (i, i as u32 + 1)).collect();
    let cfg = sacn_config(&pairs, &[rx.addr]);
    let (mut out, handle) = UdpOutput::new(&cfg, &clock(5)).unwrap();
    // Without UDP checksums the kernel refuses GSO sends (EINVAL).
    let one: libc::c_int = 1;
    // SAFETY: valid fd and c_int option.
    let rc = unsafe {
        libc::setsockopt(
            out.fd.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_NO_CHECK,
            (&one as *const libc::c_int).cast(),
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        )
    };
    assert_eq!(rc, 0);
    let f = frame(5, 1);
    out.send(&f, 0);
    assert!(!out.gso, "GSO turned off after the refusal");
    out.send(&f, 1);
    let s = handle.stats();
    assert_eq!(
        (s.packets_sent, s.send_errors, s.state),
        (10, 0, OutputState::Healthy)
    );
    let got = rx.drain();
    assert_eq!(got.len(), 10);
    for (k, p) in got.iter().enumerate() {
        let (i, seq) = (k % 5, (k / 5) as u8);
        assert_eq!(
            *p,
            expected_sacn(&cfg, i as u32 + 1, seq, slice(&f, i, 512))
        );
    }
}

#[test]
fn a_failing_destination_does_not_defeat_send_on_change_for_the_others() {
    let rx = Receiver::new();
    let blocked: SocketAddrV4 = "255.255.255.255:9".parse().unwrap();
    let mut cfg = sacn_config(&[(0, 1)], &[blocked, rx.addr]);
    cfg.send_on_change = true;
    let (mut out, handle) = UdpOutput::new(&cfg, &clock(1)).unwrap();
    let f = frame(1, 0);
    for n in 0..50 {
        out.send(&f, n);
    }
    // Change + 3 repeats at 0..3, one keep-alive at 47: not one per frame.
    assert_eq!(rx.drain().len(), 5);
    let s = handle.stats();
    assert_eq!(
        (s.packets_sent, s.send_errors, s.state),
        (5, 5, OutputState::Failing)
    );
}
