//! The trust and registry flags of the provider, shared by `serve` and `admit` (which calls the
//! provider in process) so that both read the same configuration the same way.

use std::path::PathBuf;
use std::time::Duration;

use nv2_client::trust::ConfigDir;

use super::{Engine, ProviderOptions, TrustSources};

/// `--trust-policy`, `--trust-store`, `--namespace-policies`, `--bundle`, `--engine`, and the
/// registry, cache and time limits.
#[derive(Clone, Debug, clap::Args)]
pub struct ProviderArgs {
    /// The default trust policy (default: nv2's configuration, `$NV2_CONFIG_DIR/trustpolicy.json`).
    #[arg(long)]
    pub trust_policy: Option<PathBuf>,
    /// The trust store folder in notation's layout (default: `$NV2_CONFIG_DIR/truststore`).
    #[arg(long)]
    pub trust_store: Option<PathBuf>,
    /// A folder of `<namespace>.json` trust policies, chosen by a key's `[namespace]` prefix.
    #[arg(long)]
    pub namespace_policies: Option<PathBuf>,
    /// The OPA bundle whose policy.wasm verifies (with --engine wasm).
    #[arg(long, default_value = "dist/bundle.tar.gz")]
    pub bundle: PathBuf,
    /// `wasm`: policy.wasm under wasmtime; `native`: the verifier core directly.
    #[arg(long, value_enum, default_value_t = Engine::Wasm)]
    pub engine: Engine,
    /// The folder of a docker `config.json` with registry credentials.
    #[arg(long)]
    pub docker_config: Option<PathBuf>,
    /// A registry (`HOST[:PORT]`) reached over plain HTTP; repeatable.
    #[arg(long = "plain-http", value_name = "HOST[:PORT]")]
    pub plain_http: Vec<String>,
    /// How long digests and reports are cached, in milliseconds.
    #[arg(long, value_name = "MS", default_value_t = 30_000)]
    pub cache_ttl: u64,
    /// How many digests and reports are cached at most.
    #[arg(long, default_value_t = 4096)]
    pub cache_size: usize,
    /// The deadline of a whole request, in milliseconds (below Gatekeeper's 3 s).
    #[arg(long, value_name = "MS", default_value_t = 2500)]
    pub timeout: u64,
    /// The limit of one registry step, in milliseconds.
    #[arg(long, value_name = "MS", default_value_t = 1500)]
    pub registry_timeout: u64,
    /// Keys worked on at once.
    #[arg(long, default_value_t = 16)]
    pub concurrency: usize,
}

impl ProviderArgs {
    /// The provider's options from these flags.
    pub fn options(&self) -> anyhow::Result<ProviderOptions> {
        let config = || ConfigDir::from_env().map_err(|e| anyhow::anyhow!("{e}"));
        let trust_policy = match &self.trust_policy {
            Some(p) => p.clone(),
            None => config()?.trust_policy(),
        };
        let trust_store = match &self.trust_store {
            Some(p) => p.clone(),
            None => config()?.trust_store().root().to_path_buf(),
        };
        let mut options = ProviderOptions::new(TrustSources {
            trust_policy,
            trust_store,
            namespace_policies: self.namespace_policies.clone(),
            bundle: self.bundle.clone(),
            engine: self.engine,
        });
        options.docker_config = self.docker_config.clone();
        options.plain_http = self.plain_http.clone();
        options.cache_ttl = Duration::from_millis(self.cache_ttl);
        options.cache_size = self.cache_size;
        options.timeout = Duration::from_millis(self.timeout);
        options.registry_timeout = Duration::from_millis(self.registry_timeout);
        options.concurrency = self.concurrency;
        Ok(options)
    }
}
