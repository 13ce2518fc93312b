//! The external-data provider: Gatekeeper's keys (image references) in, Contract 3 items out.
//!
//! ```text
//! Provider::validate(keys)                 each key concurrently (bounded), under one deadline:
//!   "[ns]registry/repo:tag"                namespace → DIR/<ns>.json, else the default policy
//!   → resolve tag → digest                 cached (TTL), singleflight
//!   → signatures + envelopes               nv2_client::signature::fetch_signatures
//!   → Contract 1 request → policy.wasm     (or the native core), cached by digest
//!   → item {key, value: report, error}
//! Provider::mutate(keys)                   → item {key, value: "registry/repo@sha256:…"}
//! ```
//!
//! Registries are reached only through `nv2_client::remote` (referrers API, tag fallback,
//! auth from a docker `config.json`, retries). A key's failure is that item's `error`; a
//! request that cannot be answered at all (no valid trust configuration) is a `systemError`.

mod args;
mod cache;
mod trust;

use std::future::Future;
use std::path::PathBuf;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant, SystemTime};

use nv2_client::remote::{Client, ClientOptions, DockerConfig, Repository};
use nv2_client::signature::{fetch_signatures, Fetched};
use oci_model::{Descriptor, Reference};
use serde_json::Value;
use tokio::sync::Semaphore;
use verifier_core::sign::{format_rfc3339, system_time_to_unix};
use verifier_core::{Request, SignatureEntry};

use crate::metrics::Metrics;
use crate::protocol::{Item, ProviderResponse};

pub use args::ProviderArgs;
pub use cache::{Lookup, TtlCache};
pub use trust::{Engine, Trust, TrustSources};

/// How the provider reaches registries and bounds its work.
#[derive(Clone, Debug)]
pub struct ProviderOptions {
    pub sources: TrustSources,
    /// The folder of a docker `config.json` with registry credentials; none: anonymous.
    pub docker_config: Option<PathBuf>,
    /// Registries (`HOST[:PORT]`) reached over plain HTTP (loopback ones always are).
    pub plain_http: Vec<String>,
    /// How long resolved digests and verification reports are kept.
    pub cache_ttl: Duration,
    /// How many of each are kept at most.
    pub cache_size: usize,
    /// The deadline of a whole request (below Gatekeeper's 3 s webhook timeout).
    pub timeout: Duration,
    /// The limit of one registry step (a resolve, or listing and fetching the signatures).
    pub registry_timeout: Duration,
    /// Keys worked on at once.
    pub concurrency: usize,
    /// Retries of a failed registry call (the deadline is short: few).
    pub retries: u32,
}

impl ProviderOptions {
    /// Defaults for everything but where the trust configuration is.
    pub fn new(sources: TrustSources) -> Self {
        ProviderOptions {
            sources,
            docker_config: None,
            plain_http: Vec::new(),
            cache_ttl: Duration::from_secs(30),
            cache_size: 4096,
            timeout: Duration::from_millis(2500),
            registry_timeout: Duration::from_millis(1500),
            concurrency: 16,
            retries: 1,
        }
    }
}

/// The provider; cheap to clone (shared state). `admit` calls it in process, `serve` over HTTPS.
#[derive(Clone)]
pub struct Provider {
    inner: Arc<Inner>,
}

struct Inner {
    options: ProviderOptions,
    /// For registries named by `--plain-http`, and for every other one.
    plain: Client,
    tls: Client,
    trust: RwLock<Loaded>,
    digests: TtlCache<String, Descriptor>,
    reports: TtlCache<(Option<String>, String), Value>,
    limit: Semaphore,
    metrics: Arc<Metrics>,
}

/// The configuration in use, and why the last load failed if it did.
struct Loaded {
    trust: Option<Arc<Trust>>,
    fingerprint: Vec<(PathBuf, Option<SystemTime>, u64)>,
    error: Option<String>,
    /// Whether a load was tried for `fingerprint` (a failed one is not retried until it changes).
    attempted: bool,
}

impl Provider {
    /// A provider over `options`. The trust configuration is loaded now; if it fails to load the
    /// provider still starts, not ready (see [`Provider::ready`]), and answers `systemError`.
    pub fn new(options: ProviderOptions) -> anyhow::Result<Provider> {
        let client = |plain_http| {
            Client::new(ClientOptions {
                plain_http,
                docker_config: match &options.docker_config {
                    Some(dir) => DockerConfig::at(dir.join("config.json")),
                    None => DockerConfig::default_location(),
                },
                retries: options.retries,
                backoff: Duration::from_millis(50),
                ..ClientOptions::default()
            })
        };
        let inner = Inner {
            plain: client(true)?,
            tls: client(false)?,
            trust: RwLock::new(Loaded {
                trust: None,
                fingerprint: Vec::new(),
                error: Some("not loaded yet".into()),
                attempted: false,
            }),
            digests: TtlCache::new(options.cache_ttl, options.cache_size),
            reports: TtlCache::new(options.cache_ttl, options.cache_size),
            limit: Semaphore::new(options.concurrency.max(1)),
            metrics: Arc::default(),
            options,
        };
        let provider = Provider {
            inner: Arc::new(inner),
        };
        provider.reload_if_changed();
        Ok(provider)
    }

    /// The metrics the provider keeps.
    pub fn metrics(&self) -> &Arc<Metrics> {
        &self.inner.metrics
    }

    /// `Ok` when a valid trust configuration (and, for the wasm engine, the bundle) is loaded;
    /// else why not.
    pub fn ready(&self) -> Result<(), String> {
        let loaded = self.inner.trust.read().unwrap_or_else(|e| e.into_inner());
        match (&loaded.trust, &loaded.error) {
            (Some(_), _) => Ok(()),
            (None, e) => Err(e.clone().unwrap_or_else(|| "not loaded".into())),
        }
    }

    /// Reloads the trust configuration and bundle if any of their files changed. A new one that
    /// fails its checks is refused and the old one kept. Answers whether something was
    /// swapped in.
    pub fn reload_if_changed(&self) -> bool {
        let sources = &self.inner.options.sources;
        let fingerprint = sources.fingerprint();
        {
            let loaded = self.inner.trust.read().unwrap_or_else(|e| e.into_inner());
            if loaded.attempted && loaded.fingerprint == fingerprint {
                return false;
            }
        }
        let result = sources.load();
        let mut loaded = self.inner.trust.write().unwrap_or_else(|e| e.into_inner());
        loaded.fingerprint = fingerprint;
        loaded.attempted = true;
        match result {
            Ok(trust) => {
                tracing::info!(policy = %sources.trust_policy.display(), namespaces = trust.namespaces.len(), engine = ?sources.engine, "trust configuration loaded");
                loaded.trust = Some(trust);
                loaded.error = None;
                drop(loaded);
                // Reports made under the old configuration no longer hold.
                self.inner.reports.clear();
                true
            }
            Err(e) => {
                match loaded.trust {
                    Some(_) => {
                        tracing::warn!(error = %e, "new trust configuration refused; keeping the one in use")
                    }
                    None => tracing::error!(error = %e, "trust configuration cannot be loaded"),
                }
                loaded.error = Some(e);
                false
            }
        }
    }

    fn trust(&self) -> Result<Arc<Trust>, String> {
        let loaded = self.inner.trust.read().unwrap_or_else(|e| e.into_inner());
        loaded.trust.clone().ok_or_else(|| {
            format!(
                "no valid trust configuration: {}",
                loaded.error.as_deref().unwrap_or("not loaded")
            )
        })
    }

    /// `/validate`: the verification report of each key.
    pub async fn validate(&self, keys: &[String]) -> ProviderResponse {
        let trust = match self.trust() {
            Ok(t) => t,
            Err(e) => return ProviderResponse::system_error(e),
        };
        self.each_key(keys, move |p, key| {
            let trust = trust.clone();
            async move { p.validate_key(&trust, &key).await }
        })
        .await
    }

    /// `/mutate`: each key pinned to its digest (`registry/repo@sha256:…`); a digest the key
    /// already has is kept as it is.
    pub async fn mutate(&self, keys: &[String]) -> ProviderResponse {
        self.each_key(keys, |p, key| async move { p.mutate_key(&key).await })
            .await
    }

    /// Runs `answer` for every key, at most `concurrency` at once, each bounded by the request's
    /// deadline; the items keep the order of the keys.
    async fn each_key<F, Fut>(&self, keys: &[String], answer: F) -> ProviderResponse
    where
        F: Fn(Provider, String) -> Fut,
        Fut: Future<Output = Result<Value, String>> + Send + 'static,
    {
        let deadline = tokio::time::Instant::now() + self.inner.options.timeout;
        let mut tasks = Vec::with_capacity(keys.len());
        for key in keys {
            let work = answer(self.clone(), key.clone());
            let this = self.clone();
            let timeout = self.inner.options.timeout;
            tasks.push(tokio::spawn(async move {
                let bounded = async {
                    let _permit = this
                        .inner
                        .limit
                        .acquire()
                        .await
                        .map_err(|e| e.to_string())?;
                    work.await
                };
                match tokio::time::timeout_at(deadline, bounded).await {
                    Ok(result) => result,
                    Err(_) => Err(format!(
                        "not answered within the request's deadline of {timeout:?}"
                    )),
                }
            }));
        }
        let mut items = Vec::with_capacity(keys.len());
        for (key, task) in keys.iter().zip(tasks) {
            let item = match task.await {
                Ok(Ok(value)) => Item::value(key, value),
                Ok(Err(e)) => Item::error(key, e),
                Err(e) => Item::error(key, format!("internal error: {e}")),
            };
            items.push(item);
        }
        ProviderResponse::items(items)
    }

    fn repository(&self, reference: &Reference) -> Repository {
        let plain = self
            .inner
            .options
            .plain_http
            .iter()
            .any(|h| h == reference.registry());
        if plain {
            &self.inner.plain
        } else {
            &self.inner.tls
        }
        .repository(reference)
    }

    /// A registry step under the per-call timeout, timed into the registry histogram.
    async fn registry_step<T, E: std::fmt::Display>(
        &self,
        what: &str,
        step: impl Future<Output = Result<T, E>>,
    ) -> Result<T, String> {
        let started = Instant::now();
        let limit = self.inner.options.registry_timeout;
        let result = tokio::time::timeout(limit, step).await;
        self.inner.metrics.registry_latency(started.elapsed());
        match result {
            Ok(Ok(v)) => Ok(v),
            Ok(Err(e)) => Err(format!("{what}: {e}")),
            Err(_) => Err(format!("{what}: no answer within {limit:?}")),
        }
    }

    /// The subject descriptor of `reference` (its tag or digest resolved), cached.
    async fn resolve(&self, reference: &Reference) -> Result<Descriptor, String> {
        let key = reference.to_string();
        let (result, lookup) = self
            .inner
            .digests
            .get_or_compute(key.clone(), || async {
                let repo = self.repository(reference);
                self.registry_step(
                    &format!("resolving {key}"),
                    repo.resolve(&reference.manifest_ref()),
                )
                .await
            })
            .await;
        self.inner.metrics.cache("digest", lookup == Lookup::Hit);
        result
    }

    async fn mutate_key(&self, key: &str) -> Result<Value, String> {
        let (_, reference) = parse_key(key)?;
        let pinned = match reference.digest() {
            Some(digest) => pinned(&reference, &digest.to_string()),
            None => pinned(
                &reference,
                &self.resolve(&reference).await?.digest.to_string(),
            ),
        };
        Ok(Value::String(pinned))
    }

    async fn validate_key(&self, trust: &Arc<Trust>, key: &str) -> Result<Value, String> {
        let (namespace, reference) = parse_key(key)?;
        let subject = self.resolve(&reference).await?;
        let pinned = pinned(&reference, &subject.digest.to_string());
        let cache_key = (namespace.clone(), pinned.clone());
        let (result, lookup) = self
            .inner
            .reports
            .get_or_compute(cache_key, || {
                self.verify(trust, namespace.as_deref(), &reference, &subject, &pinned)
            })
            .await;
        self.inner
            .metrics
            .cache("verification", lookup == Lookup::Hit);
        result
    }

    /// Fetches the signatures of `subject` and verifies them: the report, with `reference`
    /// (the digest-pinned reference that was verified) added.
    async fn verify(
        &self,
        trust: &Arc<Trust>,
        namespace: Option<&str>,
        reference: &Reference,
        subject: &Descriptor,
        pinned: &str,
    ) -> Result<Value, String> {
        let repo = self.repository(reference);
        let Fetched { signatures, .. } = self
            .registry_step(
                &format!("fetching the signatures of {pinned}"),
                fetch_signatures(&repo, subject),
            )
            .await?;
        let policy = trust.policy_for(namespace).clone();
        let repository = format!("{}/{}", reference.registry(), reference.repository());
        let stores = trust
            .stores
            .load_for(&policy, &repository)
            .map_err(|e| e.to_string())?;
        let time = system_time_to_unix(SystemTime::now())
            .and_then(format_rfc3339)
            .map_err(|e| e.to_string())?;
        let mut request = Request::new(
            pinned,
            verifier_core::Descriptor::new(
                subject.media_type.as_str(),
                subject.digest.to_string(),
                subject.size,
            ),
            policy,
            stores,
            time,
        );
        for s in &signatures {
            request = request.signature(SignatureEntry::from_envelope(
                s.envelope.media_type.as_str(),
                &s.bytes,
            ));
        }
        let bytes = serde_json::to_vec(&request).map_err(|e| e.to_string())?;
        let verifier = trust.verifier.clone();
        let started = Instant::now();
        // The wasm host is CPU-bound and synchronous: off the async workers.
        let report = tokio::task::spawn_blocking(move || verifier.verify(&bytes))
            .await
            .map_err(|e| format!("verifying {pinned}: {e}"))?
            .map_err(|e| format!("verifying {pinned}: {e:#}"))?;
        self.inner.metrics.verify_latency(started.elapsed());
        let mut report = report;
        if let Value::Object(map) = &mut report {
            map.insert("reference".into(), Value::String(pinned.to_string()));
        }
        Ok(report)
    }
}

/// `registry/repo@digest`.
fn pinned(reference: &Reference, digest: &str) -> String {
    format!(
        "{}/{}@{digest}",
        reference.registry(),
        reference.repository()
    )
}

/// A key: an optional `[namespace]` prefix (Ratify's convention), then an image reference.
pub fn parse_key(key: &str) -> Result<(Option<String>, Reference), String> {
    let (namespace, image) = match key.strip_prefix('[') {
        Some(rest) => {
            let (ns, image) = rest
                .split_once(']')
                .ok_or_else(|| format!("{key:?}: a `[namespace]` prefix without its `]`"))?;
            // A Kubernetes namespace is a DNS label; anything else could name a file elsewhere.
            let label = !ns.is_empty()
                && ns.len() <= 63
                && ns
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
            if !label {
                return Err(format!("{key:?}: {ns:?} is not a namespace name"));
            }
            (Some(ns.to_string()), image)
        }
        None => (None, key),
    };
    let reference =
        Reference::parse(image).map_err(|e| format!("{image:?} is not an image reference: {e}"))?;
    Ok((namespace, reference))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_take_an_optional_namespace() {
        let (ns, r) = parse_key("[team-a]r.io/app:1").unwrap();
        assert_eq!(
            (ns.as_deref(), r.registry(), r.repository()),
            (Some("team-a"), "r.io", "app")
        );
        let (ns, r) = parse_key(
            "r.io/app@sha256:4f53cda18c2baa0c0354bb5f9a3ecbe5ed12ab4d8e11ba873c2f11161202b945",
        )
        .unwrap();
        assert!(ns.is_none() && r.digest().is_some());
        assert_eq!(
            pinned(&r, &r.digest().unwrap().to_string()),
            "r.io/app@sha256:4f53cda18c2baa0c0354bb5f9a3ecbe5ed12ab4d8e11ba873c2f11161202b945"
        );
        for bad in [
            "[../x]r.io/a:1",
            "[]r.io/a:1",
            "[ns r.io/a:1",
            "r.io/UPPER:1",
            "::",
        ] {
            assert!(parse_key(bad).is_err(), "{bad} accepted");
        }
    }
}
