//! The UDP socket of one output: creation and options (libc, non-blocking), interface binding,
//! and the `sendmmsg` call.

use std::ffi::CString;
use std::io;
use std::net::{Ipv4Addr, SocketAddrV4};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};

/// `IP_UNICAST_IF` (Linux ≥ 3.4; not in every libc crate version).
const IP_UNICAST_IF: libc::c_int = 50;

/// Most messages one `sendmmsg` call takes (the kernel's UIO_MAXIOV).
pub(crate) const MAX_BATCH: usize = 1024;

fn cvt(rc: libc::c_int) -> io::Result<libc::c_int> {
    if rc < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(rc)
    }
}

fn setsockopt<T>(fd: RawFd, level: libc::c_int, name: libc::c_int, value: &T) -> io::Result<()> {
    // SAFETY: `value` points at a live `T` of exactly the size passed.
    let rc = unsafe {
        libc::setsockopt(
            fd,
            level,
            name,
            (value as *const T).cast(),
            std::mem::size_of::<T>() as libc::socklen_t,
        )
    };
    cvt(rc).map(drop)
}

fn getsockopt_int(fd: RawFd, level: libc::c_int, name: libc::c_int) -> io::Result<libc::c_int> {
    let mut value: libc::c_int = 0;
    let mut len = std::mem::size_of::<libc::c_int>() as libc::socklen_t;
    // SAFETY: valid out-pointers of the sizes passed.
    let rc = unsafe {
        libc::getsockopt(
            fd,
            level,
            name,
            (&mut value as *mut libc::c_int).cast(),
            &mut len,
        )
    };
    cvt(rc).map(|_| value)
}

pub(crate) fn sockaddr(addr: SocketAddrV4) -> libc::sockaddr_in {
    // SAFETY: sockaddr_in is plain integers; zero is a valid value for every field.
    let mut sa: libc::sockaddr_in = unsafe { std::mem::zeroed() };
    sa.sin_family = libc::AF_INET as libc::sa_family_t;
    sa.sin_port = addr.port().to_be();
    sa.sin_addr = libc::in_addr {
        s_addr: u32::from_ne_bytes(addr.ip().octets()),
    };
    sa
}

/// Socket options of an output, applied once at creation.
pub(crate) struct SocketOptions {
    pub bind_address: Option<Ipv4Addr>,
    pub broadcast: bool,
    pub multicast_ttl: u8,
    pub unicast_ttl: Option<u8>,
    /// Requested send buffer (bytes); forced past `wmem_max` when the process may.
    pub send_buffer: usize,
}

/// Context for an error at creation: which call failed.
pub(crate) struct SetupError {
    pub what: String,
    pub source: io::Error,
}

fn ctx<T>(what: &str, r: io::Result<T>) -> Result<T, SetupError> {
    r.map_err(|source| SetupError {
        what: what.to_owned(),
        source,
    })
}

/// Open a non-blocking UDP socket with `opts` applied.
pub(crate) fn open(opts: &SocketOptions) -> Result<OwnedFd, SetupError> {
    // SAFETY: plain socket(2) call.
    let raw = ctx(
        "socket(AF_INET, SOCK_DGRAM)",
        cvt(unsafe {
            libc::socket(
                libc::AF_INET,
                libc::SOCK_DGRAM | libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC,
                0,
            )
        }),
    )?;
    // SAFETY: `raw` is a fresh descriptor that nothing else owns.
    let fd = unsafe { OwnedFd::from_raw_fd(raw) };
    let s = fd.as_raw_fd();
    let size = libc::c_int::try_from(opts.send_buffer).unwrap_or(libc::c_int::MAX);
    // SO_SNDBUFFORCE ignores net.core.wmem_max but needs CAP_NET_ADMIN; fall back silently.
    if setsockopt(s, libc::SOL_SOCKET, libc::SO_SNDBUFFORCE, &size).is_err() {
        ctx(
            "setsockopt(SO_SNDBUF)",
            setsockopt(s, libc::SOL_SOCKET, libc::SO_SNDBUF, &size),
        )?;
    }
    if opts.broadcast {
        ctx(
            "setsockopt(SO_BROADCAST)",
            setsockopt(s, libc::SOL_SOCKET, libc::SO_BROADCAST, &1 as &libc::c_int),
        )?;
    }
    let ttl = libc::c_int::from(opts.multicast_ttl);
    ctx(
        "setsockopt(IP_MULTICAST_TTL)",
        setsockopt(s, libc::IPPROTO_IP, libc::IP_MULTICAST_TTL, &ttl),
    )?;
    if let Some(ttl) = opts.unicast_ttl {
        let ttl = libc::c_int::from(ttl);
        ctx(
            "setsockopt(IP_TTL)",
            setsockopt(s, libc::IPPROTO_IP, libc::IP_TTL, &ttl),
        )?;
    }
    if let Some(ip) = opts.bind_address {
        // IP_FREEBIND: the address may not be up yet (boot, DHCP, cable); sends then fail
        // (and are retried) instead of the whole configuration being refused.
        ctx(
            "setsockopt(IP_FREEBIND)",
            setsockopt(s, libc::IPPROTO_IP, libc::IP_FREEBIND, &1 as &libc::c_int),
        )?;
        let sa = sockaddr(SocketAddrV4::new(ip, 0));
        // SAFETY: `sa` is a valid sockaddr_in of the size passed.
        let rc = unsafe {
            libc::bind(
                s,
                (&sa as *const libc::sockaddr_in).cast(),
                std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t,
            )
        };
        ctx(&format!("bind({ip})"), cvt(rc))?;
        let mreq = libc::ip_mreqn {
            imr_multiaddr: libc::in_addr { s_addr: 0 },
            imr_address: libc::in_addr {
                s_addr: u32::from_ne_bytes(ip.octets()),
            },
            imr_ifindex: 0,
        };
        // Multicast goes out of the interface that has this address. EADDRNOTAVAIL: the
        // address is not up yet; the kernel then still picks the interface owning the bound
        // source address once it appears, so this option is only made explicit when possible.
        match setsockopt(s, libc::IPPROTO_IP, libc::IP_MULTICAST_IF, &mreq) {
            Err(e) if e.raw_os_error() == Some(libc::EADDRNOTAVAIL) => {}
            r => ctx(&format!("setsockopt(IP_MULTICAST_IF, {ip})"), r)?,
        }
    }
    Ok(fd)
}

/// How the socket was tied to an interface.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum InterfaceMode {
    /// SO_BINDTODEVICE.
    Device,
    /// IP_UNICAST_IF + IP_MULTICAST_IF by index (SO_BINDTODEVICE was not permitted).
    ByIndex,
}

/// Tie the socket to interface `name`. `Err` with ENODEV when the interface does not exist
/// (the caller retries later); EPERM from SO_BINDTODEVICE falls back to [`InterfaceMode::ByIndex`].
pub(crate) fn bind_interface(
    fd: RawFd,
    name: &str,
    bind_address: Option<Ipv4Addr>,
) -> io::Result<InterfaceMode> {
    let cname = CString::new(name).map_err(|_| io::Error::from_raw_os_error(libc::EINVAL))?;
    let index = interface_index(&cname)?;
    let bytes = cname.as_bytes_with_nul();
    // SAFETY: `bytes` is a live NUL-terminated buffer of the length passed.
    let rc = unsafe {
        libc::setsockopt(
            fd,
            libc::SOL_SOCKET,
            libc::SO_BINDTODEVICE,
            bytes.as_ptr().cast(),
            bytes.len() as libc::socklen_t,
        )
    };
    match cvt(rc) {
        Ok(_) => {
            // Multicast follows the bound device anyway; set it explicitly for clarity.
            set_multicast_interface(fd, index, bind_address)?;
            Ok(InterfaceMode::Device)
        }
        Err(e) if e.raw_os_error() == Some(libc::EPERM) => {
            let be_index = (index as u32).to_be();
            setsockopt(fd, libc::IPPROTO_IP, IP_UNICAST_IF, &be_index)?;
            set_multicast_interface(fd, index, bind_address)?;
            Ok(InterfaceMode::ByIndex)
        }
        Err(e) => Err(e),
    }
}

fn interface_index(name: &CString) -> io::Result<libc::c_int> {
    // SAFETY: `name` is a valid C string.
    let index = unsafe { libc::if_nametoindex(name.as_ptr()) };
    if index == 0 {
        Err(io::Error::from_raw_os_error(libc::ENODEV))
    } else {
        Ok(index as libc::c_int)
    }
}

fn set_multicast_interface(
    fd: RawFd,
    index: libc::c_int,
    bind_address: Option<Ipv4Addr>,
) -> io::Result<()> {
    let mreq = libc::ip_mreqn {
        imr_multiaddr: libc::in_addr { s_addr: 0 },
        imr_address: libc::in_addr {
            s_addr: bind_address.map_or(0, |ip| u32::from_ne_bytes(ip.octets())),
        },
        imr_ifindex: index,
    };
    setsockopt(fd, libc::IPPROTO_IP, libc::IP_MULTICAST_IF, &mreq)
}

/// Whether the kernel does UDP GSO (UDP_SEGMENT, Linux ≥ 4.18) on this socket.
pub(crate) fn supports_gso(fd: RawFd) -> bool {
    let off: libc::c_int = 0;
    setsockopt(fd, libc::SOL_UDP, libc::UDP_SEGMENT, &off).is_ok()
}

/// The effective send buffer size (for diagnostics and tests).
#[allow(dead_code)]
pub(crate) fn send_buffer_size(fd: RawFd) -> io::Result<usize> {
    getsockopt_int(fd, libc::SOL_SOCKET, libc::SO_SNDBUF).map(|v| v as usize)
}

/// `sendmmsg(fd, hdrs)`: the number of messages sent (≥ 1), or the error of the first one.
pub(crate) fn sendmmsg(fd: RawFd, hdrs: &mut [libc::mmsghdr]) -> io::Result<usize> {
    debug_assert!(!hdrs.is_empty() && hdrs.len() <= MAX_BATCH);
    // SAFETY: `hdrs` is a live array of initialized headers whose name/iov pointers the caller
    // keeps valid for the duration of the call (they point into the output's own buffers).
    let rc = unsafe { libc::sendmmsg(fd, hdrs.as_mut_ptr(), hdrs.len() as libc::c_uint, 0) };
    cvt(rc).map(|n| n as usize)
}

/// Wait up to `timeout_ms` for the socket to become writable (only used when stopping).
pub(crate) fn wait_writable(fd: RawFd, timeout_ms: i32) {
    let mut pfd = libc::pollfd {
        fd,
        events: libc::POLLOUT,
        revents: 0,
    };
    // SAFETY: one valid pollfd.
    unsafe { libc::poll(&mut pfd, 1, timeout_ms) };
}
