//! What the benchmark binaries share: the median, 99th percentile, minimum and maximum of
//! repeated runs.

use std::time::{Duration, Instant};

/// Wall times of repeated runs of one case.
#[derive(Debug, Clone, Copy)]
pub struct Stats {
    pub median: Duration,
    /// The nearest-rank 99th percentile: with fewer than 100 samples, the largest but
    /// `len / 100` of them (so the maximum below 100).
    pub p99: Duration,
    pub min: Duration,
    pub max: Duration,
}

impl Stats {
    /// Of a non-empty set of samples.
    pub fn of(mut samples: Vec<Duration>) -> Stats {
        assert!(!samples.is_empty(), "no samples");
        samples.sort();
        Stats {
            median: samples[samples.len() / 2],
            p99: samples[(samples.len() * 99).div_ceil(100) - 1],
            min: samples[0],
            max: samples[samples.len() - 1],
        }
    }

    /// Times `runs` calls of `f`, after one untimed warm-up call (connection pools, compiled
    /// queries, instantiated modules).
    pub fn measure(runs: usize, mut f: impl FnMut()) -> Stats {
        f();
        Stats::of(
            (0..runs)
                .map(|_| {
                    let start = Instant::now();
                    f();
                    start.elapsed()
                })
                .collect(),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn median_min_and_max() {
        let ms = |v: &[u64]| v.iter().map(|&m| Duration::from_millis(m)).collect();
        let s = Stats::of(ms(&[5, 1, 9, 3, 7]));
        assert_eq!(
            (s.median, s.min, s.max),
            (
                Duration::from_millis(5),
                Duration::from_millis(1),
                Duration::from_millis(9)
            )
        );
        assert_eq!(Stats::of(ms(&[4, 2])).median, Duration::from_millis(4));
        assert_eq!(s.p99, Duration::from_millis(9));
        let hundred = Stats::of((1..=200).map(Duration::from_millis).collect());
        assert_eq!(hundred.p99, Duration::from_millis(198));
    }
}
