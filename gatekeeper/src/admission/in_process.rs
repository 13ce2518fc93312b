//! `external_data` answered by the provider in this process: `admit` without `--provider`.
//!
//! The same [`Provider`] that `serve` puts behind HTTPS, driven from regorus's synchronous
//! extension callback by blocking on a runtime this type owns; its answer goes through the same
//! conversion as [`super::HttpsProvider`]'s, so both forms feed the template identical input.

use anyhow::Result;

use super::{system_error, ExternalData, ProviderResponse};
use crate::provider::{Provider, ProviderOptions};

/// A [`Provider`] with its own runtime.
pub struct InProcessProvider {
    provider: Provider,
    // Multi-threaded: the provider spawns a task per key and verifies on blocking threads.
    runtime: tokio::runtime::Runtime,
}

impl InProcessProvider {
    /// A provider over `options`, its trust configuration loaded now. A configuration that does
    /// not load is an error here (a misconfigured `admit` exits 2), not a denial of everything.
    pub fn new(options: ProviderOptions) -> Result<Self> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()?;
        let provider = {
            let _entered = runtime.enter();
            Provider::new(options)?
        };
        provider
            .ready()
            .map_err(|e| anyhow::anyhow!("the provider is not ready: {e}"))?;
        Ok(InProcessProvider { provider, runtime })
    }

    /// The provider, e.g. for its metrics.
    pub fn provider(&self) -> &Provider {
        &self.provider
    }
}

impl ExternalData for InProcessProvider {
    /// Must not be called from inside a tokio runtime (blocking on one there panics); `admit`
    /// and [`super::Admission::review`] are synchronous.
    fn call(&self, _provider: &str, keys: &[String]) -> serde_json::Value {
        let response = self.runtime.block_on(self.provider.validate(keys));
        // Through the wire form: what Gatekeeper would read from `serve` is what Rego sees here.
        let converted =
            serde_json::to_value(&response).and_then(serde_json::from_value::<ProviderResponse>);
        match converted {
            Ok(r) => r.into_rego(200),
            Err(e) => system_error(0, format!("the provider's answer: {e}")),
        }
    }
}
