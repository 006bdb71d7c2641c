//! The hot-standby gate: which outputs this node may transmit on, read by the output thread
//! at every deadline (atomics only, like the emergency latch).
//!
//! Off by default (a single node transmits everything). Once enabled, the node leads only
//! while `CLOCK_MONOTONIC < lease_until_ns`: the control plane extends that deadline each
//! time the PostgreSQL lease is confirmed. A node whose Python side is wedged, stopped
//! (SIGSTOP) or cut from the database therefore fences itself at the first deadline after
//! the lease runs out, without any help from Python: protocols without priority (Art-Net,
//! DDP, DMX) stop, sACN goes on at its priority minus the standby offset.
//!
//! A planned handover asks for Stream_Terminated packets (three per sACN universe, E1.31
//! §6.2.6) with `request_stream_terminated`: the output thread sends them at its next deadline.

use std::sync::atomic::{AtomicBool, AtomicU64, AtomicU8, Ordering};

/// What the output thread decided for one deadline.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WireRole {
    /// Leader: every output transmits at its configured priority.
    pub leading: bool,
    /// Subtracted from sACN priority while not leading.
    pub standby_offset: u8,
}

#[derive(Debug, Default)]
pub struct WireGate {
    enabled: AtomicBool,
    lease_until_ns: AtomicU64,
    standby_offset: AtomicU8,
    terminate_requests: AtomicU64,
    /// Deadlines at which leader-only outputs were withheld.
    withheld_frames: AtomicU64,
    /// Stream_Terminated rounds sent (one per request).
    terminated_rounds: AtomicU64,
    /// 1 while the last deadline was served as leader.
    leading: AtomicBool,
}

/// A point-in-time copy of the gate (each field read atomically).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WireGateStats {
    pub enabled: bool,
    pub leading: bool,
    pub lease_until_ns: u64,
    pub standby_offset: u8,
    pub withheld_frames: u64,
    pub terminated_rounds: u64,
}

impl WireGate {
    /// Turn the gate on (the node starts as standby until a lease is set).
    pub fn enable(&self, standby_offset: u8) {
        self.standby_offset.store(standby_offset, Ordering::Relaxed);
        self.enabled.store(true, Ordering::Release);
    }

    /// Lead until CLOCK_MONOTONIC `until_ns` (0: stand by now).
    pub fn set_lease_until(&self, until_ns: u64) {
        self.lease_until_ns.store(until_ns, Ordering::Release);
    }

    pub fn request_stream_terminated(&self) {
        self.terminate_requests.fetch_add(1, Ordering::AcqRel);
    }

    /// The role for a deadline served at `now_ns` (recorded for the stats).
    pub fn role_at(&self, now_ns: u64) -> WireRole {
        let leading = !self.enabled.load(Ordering::Acquire)
            || now_ns < self.lease_until_ns.load(Ordering::Acquire);
        self.leading.store(leading, Ordering::Relaxed);
        WireRole {
            leading,
            standby_offset: self.standby_offset.load(Ordering::Relaxed),
        }
    }

    /// Requests made so far (the output thread compares with what it served).
    pub fn terminate_requests(&self) -> u64 {
        self.terminate_requests.load(Ordering::Acquire)
    }

    pub fn count_withheld(&self) {
        self.withheld_frames.fetch_add(1, Ordering::Relaxed);
    }

    pub fn count_terminated(&self) {
        self.terminated_rounds.fetch_add(1, Ordering::Relaxed);
    }

    pub fn stats(&self) -> WireGateStats {
        WireGateStats {
            enabled: self.enabled.load(Ordering::Acquire),
            leading: self.leading.load(Ordering::Relaxed),
            lease_until_ns: self.lease_until_ns.load(Ordering::Acquire),
            standby_offset: self.standby_offset.load(Ordering::Relaxed),
            withheld_frames: self.withheld_frames.load(Ordering::Relaxed),
            terminated_rounds: self.terminated_rounds.load(Ordering::Relaxed),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn off_means_leading() {
        let g = WireGate::default();
        assert!(g.role_at(u64::MAX - 1).leading);
    }

    #[test]
    fn leads_only_before_the_lease_runs_out() {
        let g = WireGate::default();
        g.enable(1);
        assert!(!g.role_at(10).leading, "enabled without a lease: standby");
        g.set_lease_until(100);
        assert!(g.role_at(99).leading);
        assert!(!g.role_at(100).leading);
        assert_eq!(g.role_at(100).standby_offset, 1);
        g.set_lease_until(0);
        assert!(!g.role_at(0).leading);
        assert!(!g.stats().leading);
    }
}
