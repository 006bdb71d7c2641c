//! Lock-free log-linear histogram of durations in nanoseconds.
//!
//! The output thread records one lateness sample per deadline; the control plane reads
//! percentiles from another thread at any time. Everything is a relaxed atomic: a reader racing
//! a writer may see a sample in `count` but not yet in its bucket (or vice versa), which only
//! shifts a percentile by one sample; no lock is ever taken on the recording path.
//!
//! Buckets (HDR-histogram style, 32 sub-buckets per power of two):
//!
//! * values `0..64` each get their own bucket (exact);
//! * a value `v >= 64` with highest set bit `m` (so `2^m <= v < 2^(m+1)`) is split by its top
//!   six bits: `shift = m - 5`, `top = v >> shift` (32..=63), bucket
//!   `64 + (shift - 1) * 32 + (top - 32)`. The bucket covers `[top << shift, (top+1) << shift)`,
//!   whose width is at most 1/32 of its lower bound.
//!
//! Percentiles report the bucket midpoint, so the relative error is at most 1/64 (≈ 1.6 %)
//! over the whole `u64` range, including the 1 µs .. 10 s range that matters here. The
//! maximum is tracked exactly. 1920 buckets × 8 bytes = 15 KiB.

use std::sync::atomic::{AtomicU64, Ordering};

/// log2 of the number of sub-buckets per power of two.
const SUB_BITS: u32 = 5;
const SUB_COUNT: u64 = 1 << SUB_BITS; // 32
/// Values below this get one bucket each.
const LINEAR_LIMIT: u64 = SUB_COUNT * 2; // 64
/// Number of `shift` values needed to cover up to `u64::MAX` (m = 63 → shift = 58).
const SHIFTS: usize = (64 - SUB_BITS - 1) as usize; // 58
pub(crate) const BUCKETS: usize = LINEAR_LIMIT as usize + SHIFTS * SUB_COUNT as usize;

/// Lock-free histogram; see the module docs. `Sync`: share it by reference or `Arc`.
pub struct Histogram {
    buckets: Box<[AtomicU64]>,
    count: AtomicU64,
    max: AtomicU64,
}

impl Default for Histogram {
    fn default() -> Self {
        Self::new()
    }
}

impl std::fmt::Debug for Histogram {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Histogram")
            .field("count", &self.count())
            .field("max", &self.max())
            .finish_non_exhaustive()
    }
}

/// Bucket holding `value`.
pub(crate) fn bucket_index(value: u64) -> usize {
    if value < LINEAR_LIMIT {
        return value as usize;
    }
    let msb = 63 - value.leading_zeros(); // >= 6
    let shift = msb - SUB_BITS; // >= 1
    let top = value >> shift; // 32..=63
    LINEAR_LIMIT as usize + (shift as usize - 1) * SUB_COUNT as usize + (top - SUB_COUNT) as usize
}

/// Inclusive `(low, high)` value range of a bucket.
pub(crate) fn bucket_bounds(index: usize) -> (u64, u64) {
    if index < LINEAR_LIMIT as usize {
        return (index as u64, index as u64);
    }
    let j = (index - LINEAR_LIMIT as usize) as u64;
    let shift = j / SUB_COUNT + 1;
    let top = SUB_COUNT + j % SUB_COUNT;
    let low = top << shift;
    // (top + 1) << shift overflows only for the very last bucket; compute high without it.
    let high = low + ((1u64 << shift) - 1);
    (low, high)
}

impl Histogram {
    pub fn new() -> Self {
        Self {
            buckets: (0..BUCKETS).map(|_| AtomicU64::new(0)).collect(),
            count: AtomicU64::new(0),
            max: AtomicU64::new(0),
        }
    }

    /// Record one sample (wait-free: three relaxed atomic RMWs).
    pub fn record(&self, value_ns: u64) {
        self.buckets[bucket_index(value_ns)].fetch_add(1, Ordering::Relaxed);
        self.count.fetch_add(1, Ordering::Relaxed);
        self.max.fetch_max(value_ns, Ordering::Relaxed);
    }

    /// Number of samples recorded since creation or the last [`reset`](Self::reset).
    pub fn count(&self) -> u64 {
        self.count.load(Ordering::Relaxed)
    }

    /// Exact largest sample (0 if empty).
    pub fn max(&self) -> u64 {
        self.max.load(Ordering::Relaxed)
    }

    /// Forget all samples. Samples recorded concurrently with a reset may survive it partly
    /// (e.g. in `count` but not in a bucket); percentiles tolerate that.
    pub fn reset(&self) {
        for bucket in self.buckets.iter() {
            bucket.store(0, Ordering::Relaxed);
        }
        self.count.store(0, Ordering::Relaxed);
        self.max.store(0, Ordering::Relaxed);
    }

    /// Prometheus-style cumulative counts: for each of `bounds_ns` (ascending), the samples
    /// at or below it, at bucket resolution (a bucket counts when its midpoint is at or below
    /// the bound, as percentiles report midpoints: ≤ 1/64 relative error). Also the total and
    /// the sum of the samples estimated from bucket midpoints (the exact sum is not kept, so
    /// that recording stays three RMWs). Read from another thread; never blocks the writer.
    pub fn cumulative(&self, bounds_ns: &[u64]) -> (Vec<u64>, u64, u64) {
        let mut below = vec![0u64; bounds_ns.len()];
        let (mut total, mut sum) = (0u64, 0u64);
        for (index, bucket) in self.buckets.iter().enumerate() {
            let n = bucket.load(Ordering::Relaxed);
            if n == 0 {
                continue;
            }
            let (low, high) = bucket_bounds(index);
            let mid = low + (high - low) / 2;
            total += n;
            sum = sum.saturating_add(mid.saturating_mul(n));
            for (slot, &bound) in below.iter_mut().zip(bounds_ns) {
                if mid <= bound {
                    *slot += n;
                }
            }
        }
        (below, total, sum)
    }

    /// Nearest-rank percentile: the value below or at which a fraction `q` of the samples lie
    /// (`q` in `0.0..=1.0`, clamped; NaN counts as 0). Reported as the midpoint of the bucket
    /// holding that sample (≤ 1/64 relative error), never above the exact max; `q = 1.0`
    /// returns the exact max. 0 when empty.
    pub fn percentile(&self, q: f64) -> u64 {
        let q = if q.is_nan() { 0.0 } else { q.clamp(0.0, 1.0) };
        // Total from the buckets themselves so the walk below is consistent with them even
        // while a writer is running.
        let counts: Vec<u64> = self
            .buckets
            .iter()
            .map(|b| b.load(Ordering::Relaxed))
            .collect();
        let total: u64 = counts.iter().sum();
        if total == 0 {
            return 0;
        }
        let max = self.max();
        let rank = ((q * total as f64).ceil() as u64).clamp(1, total);
        if rank == total && max > 0 {
            return max;
        }
        let mut seen = 0u64;
        for (index, &n) in counts.iter().enumerate() {
            seen += n;
            if seen >= rank {
                let (low, high) = bucket_bounds(index);
                let mid = low + (high - low) / 2;
                // A concurrent reset can zero `max` while buckets still count: then `mid`.
                return if max >= low { mid.min(max) } else { mid };
            }
        }
        max
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Small deterministic PRNG (xorshift64*) so tests need no extra crates.
    struct Rng(u64);
    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 >> 12;
            self.0 ^= self.0 << 25;
            self.0 ^= self.0 >> 27;
            self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
        }
        /// Log-uniform in [lo, hi).
        fn log_uniform(&mut self, lo: f64, hi: f64) -> u64 {
            let u = (self.next() >> 11) as f64 / (1u64 << 53) as f64;
            (lo * (hi / lo).powf(u)) as u64
        }
    }

    fn oracle(sorted: &[u64], q: f64) -> u64 {
        let rank = ((q * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
        sorted[rank - 1]
    }

    #[test]
    fn buckets_are_contiguous_and_monotonic() {
        let mut expected_low = 0u64;
        for i in 0..BUCKETS {
            let (low, high) = bucket_bounds(i);
            assert_eq!(low, expected_low, "gap before bucket {i}");
            assert!(high >= low);
            assert_eq!(bucket_index(low), i);
            assert_eq!(bucket_index(high), i);
            if i + 1 < BUCKETS {
                expected_low = high + 1;
            } else {
                assert_eq!(high, u64::MAX);
            }
        }
    }

    #[test]
    fn bucket_width_bounds_relative_error() {
        for i in LINEAR_LIMIT as usize..BUCKETS {
            let (low, high) = bucket_bounds(i);
            let half_width = (high - low) as f64 / 2.0;
            assert!(half_width / low as f64 <= 1.0 / 64.0 + 1e-12, "bucket {i}");
        }
    }

    #[test]
    fn empty_histogram() {
        let h = Histogram::new();
        assert_eq!(h.count(), 0);
        assert_eq!(h.max(), 0);
        assert_eq!(h.percentile(0.5), 0);
        assert_eq!(h.percentile(1.0), 0);
    }

    #[test]
    fn small_values_are_exact() {
        let h = Histogram::new();
        for v in [0, 1, 5, 63] {
            h.record(v);
        }
        assert_eq!(h.percentile(0.0), 0);
        assert_eq!(h.percentile(0.25), 0);
        assert_eq!(h.percentile(0.5), 1);
        assert_eq!(h.percentile(0.75), 5);
        assert_eq!(h.percentile(1.0), 63);
    }

    #[test]
    fn percentiles_match_sorted_oracle_within_relative_error() {
        let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
        for round in 0..20 {
            let h = Histogram::new();
            let n = 1 + (rng.next() % 5000) as usize;
            // 1 µs .. 10 s, log-uniform, like lateness on a good and a very bad day.
            let mut values: Vec<u64> = (0..n).map(|_| rng.log_uniform(1e3, 1e10)).collect();
            for &v in &values {
                h.record(v);
            }
            values.sort_unstable();
            assert_eq!(h.count(), n as u64);
            assert_eq!(h.max(), *values.last().unwrap(), "max must be exact");
            for q in [0.0, 0.01, 0.1, 0.5, 0.9, 0.99, 0.999, 1.0] {
                let want = oracle(&values, q) as f64;
                let got = h.percentile(q) as f64;
                let rel = (got - want).abs() / want;
                assert!(
                    rel <= 0.03,
                    "round {round} n {n} q {q}: got {got} want {want} (rel {rel:.4})"
                );
                assert!(rel <= 1.0 / 64.0 + 1e-9, "tighter bound: q {q} rel {rel}");
            }
        }
    }

    #[test]
    fn q_is_clamped_and_nan_safe() {
        let h = Histogram::new();
        for v in [1_000, 2_000, 3_000] {
            h.record(v);
        }
        assert_eq!(h.percentile(-1.0), h.percentile(0.0));
        assert_eq!(h.percentile(7.0), 3_000);
        assert_eq!(h.percentile(f64::NAN), h.percentile(0.0));
    }

    #[test]
    fn cumulative_counts_at_or_below_each_bound() {
        let h = Histogram::new();
        for v in [10u64, 20_000, 30_000, 1_000_000] {
            h.record(v);
        }
        let (below, total, sum) = h.cumulative(&[25_000, 50_000, 2_000_000]);
        assert_eq!(below, vec![2, 3, 4]);
        assert_eq!(total, 4);
        let exact = 10 + 20_000 + 30_000 + 1_000_000;
        assert!((sum as f64 - exact as f64).abs() < exact as f64 / 64.0);
    }

    #[test]
    fn reset_clears_everything() {
        let h = Histogram::new();
        h.record(123_456);
        h.record(u64::MAX);
        assert_eq!(h.max(), u64::MAX);
        h.reset();
        assert_eq!(h.count(), 0);
        assert_eq!(h.max(), 0);
        assert_eq!(h.percentile(0.99), 0);
        h.record(10);
        assert_eq!(h.percentile(0.5), 10);
    }

    #[test]
    fn concurrent_record_and_read() {
        use std::sync::Arc;
        let h = Arc::new(Histogram::new());
        let writer = {
            let h = Arc::clone(&h);
            std::thread::spawn(move || {
                for i in 0..200_000u64 {
                    h.record(1_000 + i % 1_000);
                }
            })
        };
        while !writer.is_finished() {
            let p = h.percentile(0.99);
            assert!(p == 0 || (950..=2_050).contains(&p), "p99 {p}");
        }
        writer.join().unwrap();
        assert_eq!(h.count(), 200_000);
        assert_eq!(h.max(), 1_999);
    }
}
