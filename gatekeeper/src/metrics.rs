//! The provider's metrics in Prometheus' text format (version 0.0.4): requests by endpoint and
//! outcome, cache hits and misses, and latency histograms of registry calls and verifications.
//! Few series, so plain mutex-guarded maps are enough; no client library needed.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::Mutex;
use std::time::Duration;

/// Histogram bucket bounds in seconds: loopback registries answer in well under a millisecond,
/// Gatekeeper gives up at 3 s.
const BUCKETS: [f64; 12] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
];

#[derive(Default, Clone)]
struct Histogram {
    counts: [u64; BUCKETS.len()],
    sum: f64,
    count: u64,
}

impl Histogram {
    fn observe(&mut self, seconds: f64) {
        for (bound, count) in BUCKETS.iter().zip(self.counts.iter_mut()) {
            if seconds <= *bound {
                *count += 1;
            }
        }
        self.sum += seconds;
        self.count += 1;
    }
}

#[derive(Default)]
struct Inner {
    requests: BTreeMap<(String, String), u64>,
    cache: BTreeMap<(String, String), u64>,
    registry: Histogram,
    verify: Histogram,
}

/// The provider's counters and histograms; share behind an `Arc`.
#[derive(Default)]
pub struct Metrics {
    inner: Mutex<Inner>,
}

impl Metrics {
    fn with<T>(&self, f: impl FnOnce(&mut Inner) -> T) -> T {
        f(&mut self.inner.lock().unwrap_or_else(|e| e.into_inner()))
    }

    /// One request to `endpoint` (`validate`, `mutate`) ended with `outcome` (`ok`, `error`).
    pub fn request(&self, endpoint: &str, outcome: &str) {
        self.with(|m| {
            *m.requests
                .entry((endpoint.into(), outcome.into()))
                .or_default() += 1
        });
    }

    /// A lookup in `cache` (`digest`, `verification`) was a hit or a miss.
    pub fn cache(&self, cache: &str, hit: bool) {
        let result = if hit { "hit" } else { "miss" };
        self.with(|m| *m.cache.entry((cache.into(), result.into())).or_default() += 1);
    }

    /// How long a registry step took.
    pub fn registry_latency(&self, d: Duration) {
        self.with(|m| m.registry.observe(d.as_secs_f64()));
    }

    /// How long one verification took.
    pub fn verify_latency(&self, d: Duration) {
        self.with(|m| m.verify.observe(d.as_secs_f64()));
    }

    /// Count of cache lookups of `cache` with `result` (`hit` or `miss`).
    pub fn cache_count(&self, cache: &str, result: &str) -> u64 {
        self.with(|m| {
            m.cache
                .get(&(cache.to_string(), result.to_string()))
                .copied()
                .unwrap_or(0)
        })
    }

    /// Everything, in Prometheus' text format.
    pub fn render(&self) -> String {
        self.with(|m| {
            let mut out = String::new();
            out.push_str("# HELP nv2_provider_requests_total Provider requests by endpoint and outcome.\n# TYPE nv2_provider_requests_total counter\n");
            for ((endpoint, outcome), n) in &m.requests {
                let _ = writeln!(
                    out,
                    "nv2_provider_requests_total{{endpoint=\"{endpoint}\",outcome=\"{outcome}\"}} {n}"
                );
            }
            out.push_str("# HELP nv2_provider_cache_lookups_total Cache lookups by cache and result.\n# TYPE nv2_provider_cache_lookups_total counter\n");
            for ((cache, result), n) in &m.cache {
                let _ = writeln!(
                    out,
                    "nv2_provider_cache_lookups_total{{cache=\"{cache}\",result=\"{result}\"}} {n}"
                );
            }
            histogram(
                &mut out,
                "nv2_provider_registry_seconds",
                "Registry steps (resolve, signatures) by duration.",
                &m.registry,
            );
            histogram(
                &mut out,
                "nv2_provider_verify_seconds",
                "Verifications by duration.",
                &m.verify,
            );
            out
        })
    }
}

fn histogram(out: &mut String, name: &str, help: &str, h: &Histogram) {
    let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} histogram");
    for (bound, count) in BUCKETS.iter().zip(h.counts.iter()) {
        let _ = writeln!(out, "{name}_bucket{{le=\"{bound}\"}} {count}");
    }
    let _ = writeln!(out, "{name}_bucket{{le=\"+Inf\"}} {}", h.count);
    let _ = writeln!(out, "{name}_sum {}", h.sum);
    let _ = writeln!(out, "{name}_count {}", h.count);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_text_format_has_every_series() {
        let m = Metrics::default();
        m.request("validate", "ok");
        m.request("validate", "ok");
        m.cache("verification", true);
        m.registry_latency(Duration::from_millis(2));
        let text = m.render();
        assert!(
            text.contains("nv2_provider_requests_total{endpoint=\"validate\",outcome=\"ok\"} 2\n")
        );
        assert!(text.contains(
            "nv2_provider_cache_lookups_total{cache=\"verification\",result=\"hit\"} 1\n"
        ));
        assert!(text.contains("nv2_provider_registry_seconds_bucket{le=\"0.001\"} 0\n"));
        assert!(text.contains("nv2_provider_registry_seconds_bucket{le=\"0.0025\"} 1\n"));
        assert!(text.contains("nv2_provider_verify_seconds_count 0\n"));
    }
}
