//! The machine's floor for sending sACN: the same datagrams the output thread sends (N full
//! 638-byte E1.31 data packets a frame, to one unicast destination), from a loop that does
//! nothing else — no clock bookkeeping, no frame, no templating, no sequence patching: the
//! `mmsghdr` array is built once and handed to `sendmmsg` every frame.
//!
//! ```sh
//! cargo run --release --example sendmmsg_floor -- --universes 4000 --dest 127.0.0.1:5568 \
//!     [--rate 44] [--seconds 5] [--warmup 1] [--gso 64]
//! ```
//!
//! `--gso K` sends runs of K datagrams as one UDP GSO message (UDP_SEGMENT), as the output
//! does; `--gso 0` (default) one `mmsghdr` per datagram.
//!
//! Frames are paced like the output thread's (absolute deadlines at `--rate`; `--rate 0`
//! sends back to back). After `--warmup` seconds it measures for `--seconds` and prints one
//! JSON line: packets sent, the thread's CPU time (CLOCK_THREAD_CPUTIME_ID, the same measure
//! as the clock's `thread_cpu_ns`), wall time, `cpu_ns_per_packet`, and packets the kernel
//! refused (EAGAIN/ENOBUFS).

use std::net::{SocketAddrV4, UdpSocket};
use std::os::fd::AsRawFd;
use trocadero_core::output::packets::{sacn_data_template, SacnSource};
use trocadero_core::timebase::{monotonic_ns, thread_cpu_ns};

struct Args {
    universes: usize,
    dest: SocketAddrV4,
    rate: f64,
    seconds: f64,
    warmup: f64,
    gso: usize,
}

fn parse_args() -> Args {
    let mut args = Args {
        universes: 100,
        dest: "127.0.0.1:5568".parse().unwrap(),
        rate: 44.0,
        seconds: 5.0,
        warmup: 1.0,
        gso: 0,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let value = it.next().unwrap_or_else(|| panic!("{flag} needs a value"));
        match flag.as_str() {
            "--universes" => args.universes = value.parse().expect("--universes N"),
            "--dest" => args.dest = value.parse().expect("--dest a.b.c.d:port"),
            "--rate" => args.rate = value.parse().expect("--rate HZ"),
            "--seconds" => args.seconds = value.parse().expect("--seconds S"),
            "--warmup" => args.warmup = value.parse().expect("--warmup S"),
            "--gso" => args.gso = value.parse().expect("--gso K"),
            other => panic!("unknown argument {other}"),
        }
    }
    args
}

fn sleep_until(t_ns: u64) {
    let ts = libc::timespec {
        tv_sec: (t_ns / 1_000_000_000) as libc::time_t,
        tv_nsec: (t_ns % 1_000_000_000) as libc::c_long,
    };
    // SAFETY: valid timespec; a null remain pointer is allowed with TIMER_ABSTIME.
    unsafe {
        libc::clock_nanosleep(
            libc::CLOCK_MONOTONIC,
            libc::TIMER_ABSTIME,
            &ts,
            std::ptr::null_mut(),
        )
    };
}

fn main() {
    let args = parse_args();
    let sock = UdpSocket::bind("0.0.0.0:0").expect("socket");
    sock.set_nonblocking(true).expect("non-blocking");
    let fd = sock.as_raw_fd();
    let size: libc::c_int = 64 << 20;
    // SAFETY: valid fd and a c_int option value (best effort, as the output does).
    unsafe {
        libc::setsockopt(
            fd,
            libc::SOL_SOCKET,
            libc::SO_SNDBUFFORCE,
            (&size as *const libc::c_int).cast(),
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        )
    };

    let cid = [7u8; 16];
    let source = SacnSource {
        cid: &cid,
        source_name: "floor",
        priority: 100,
        sync_address: 0,
    };
    let packets: Vec<Vec<u8>> = (0..args.universes)
        .map(|u| sacn_data_template(&source, (u + 1) as u16, 512))
        .collect();
    // SAFETY: sockaddr_in is plain integers.
    let mut name: libc::sockaddr_in = unsafe { std::mem::zeroed() };
    name.sin_family = libc::AF_INET as libc::sa_family_t;
    name.sin_port = args.dest.port().to_be();
    name.sin_addr.s_addr = u32::from_ne_bytes(args.dest.ip().octets());
    let mut iovs: Vec<libc::iovec> = packets
        .iter()
        .map(|p| libc::iovec {
            iov_base: p.as_ptr() as *mut libc::c_void,
            iov_len: p.len(),
        })
        .collect();
    // One mmsghdr per datagram, or per run of `gso` datagrams with a UDP_SEGMENT cmsg.
    let per = args.gso.max(1);
    let runs = iovs.len().div_ceil(per);
    #[repr(C)]
    #[derive(Clone, Copy)]
    struct Ctrl {
        hdr: libc::cmsghdr,
        size: u16,
        _pad: [u8; 6],
    }
    // SAFETY: all-zero cmsghdr is valid; fields set below.
    let mut ctrl: Vec<Ctrl> = vec![unsafe { std::mem::zeroed() }; runs];
    let mut hdrs: Vec<libc::mmsghdr> = (0..runs)
        .map(|r| {
            let count = per.min(iovs.len() - r * per);
            // SAFETY: all-zero mmsghdr is valid; the fields used are set below.
            let mut h: libc::mmsghdr = unsafe { std::mem::zeroed() };
            h.msg_hdr.msg_name = (&mut name as *mut libc::sockaddr_in).cast();
            h.msg_hdr.msg_namelen = std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t;
            h.msg_hdr.msg_iov = iovs[r * per..].as_mut_ptr();
            h.msg_hdr.msg_iovlen = count as _;
            if args.gso > 1 && count > 1 {
                let c = &mut ctrl[r];
                // SAFETY: CMSG_LEN/CMSG_SPACE are pure arithmetic.
                let (len, space) = unsafe { (libc::CMSG_LEN(2), libc::CMSG_SPACE(2)) };
                c.hdr.cmsg_len = len as _;
                c.hdr.cmsg_level = libc::SOL_UDP;
                c.hdr.cmsg_type = libc::UDP_SEGMENT;
                c.size = packets[0].len() as u16;
                h.msg_hdr.msg_control = (c as *mut Ctrl).cast();
                h.msg_hdr.msg_controllen = space as _;
            }
            h
        })
        .collect();
    let segments: Vec<u64> = (0..runs)
        .map(|r| per.min(iovs.len() - r * per) as u64)
        .collect();

    let period_ns = if args.rate > 0.0 {
        (1e9 / args.rate) as u64
    } else {
        0
    };
    let start = monotonic_ns();
    let measure_from = start + (args.warmup * 1e9) as u64;
    let end = measure_from + (args.seconds * 1e9) as u64;
    let (mut sent, mut refused) = (0u64, 0u64);
    let (mut cpu0, mut wall0, mut measuring) = (0u64, 0u64, false);
    let mut n: u64 = 0;
    loop {
        if period_ns > 0 {
            sleep_until(start + n * period_ns);
        }
        let now = monotonic_ns();
        if now >= end {
            break;
        }
        if !measuring && now >= measure_from {
            measuring = true;
            cpu0 = thread_cpu_ns();
            wall0 = now;
            sent = 0;
            refused = 0;
        }
        let mut i = 0;
        while i < hdrs.len() {
            let batch = (hdrs.len() - i).min(1024);
            // SAFETY: the headers point at `name`, `iovs` and `packets`, all alive and
            // unmoved for the whole loop.
            let rc =
                unsafe { libc::sendmmsg(fd, hdrs[i..].as_mut_ptr(), batch as libc::c_uint, 0) };
            if rc > 0 {
                sent += segments[i..i + rc as usize].iter().sum::<u64>();
                i += rc as usize;
            } else {
                refused += segments[i..].iter().sum::<u64>();
                break;
            }
        }
        n += 1;
    }
    let cpu = thread_cpu_ns() - cpu0;
    let wall = monotonic_ns() - wall0;
    println!(
        "{{\"universes\": {}, \"gso\": {}, \"packets\": {sent}, \"refused\": {refused}, \"cpu_ns\": {cpu}, \
         \"wall_ns\": {wall}, \"cpu_ns_per_packet\": {:.1}}}",
        args.universes,
        args.gso,
        cpu as f64 / sent.max(1) as f64
    );
}
