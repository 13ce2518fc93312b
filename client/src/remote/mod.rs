//! The registry client of the project: the `nv2` verbs, the docker plug-in and the Gatekeeper
//! provider all talk to registries through it.
//!
//! ```text
//! Client::new(ClientOptions)            one HTTP pool, credentials, per-registry state
//!   .repository(&reference)             a Repository: registry + name
//!     .push_blob_file / fetch_blob_to   blob.rs: streamed, hashed, checked
//!     .fetch_manifest / push_manifest   manifest.rs: exact bytes, push by digest, then tag
//!     .referrers(digest, artifactType)  referrers.rs: the API, else the tag schema
//! ```
//!
//! Per registry the client probes `GET /v2/` once, learns the challenge (anonymous, basic or
//! bearer), and keeps tokens per scope. Requests are retried on 408/429/5xx and connection errors
//! with exponential backoff that honours `Retry-After`, a bounded number of times.

mod auth;
pub mod blob;
pub mod credentials;
mod error;
mod manifest;
mod referrers;
mod retry;
mod upload;

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use oci_model::{Digest, Reference};
use reqwest::header::{HeaderMap, AUTHORIZATION, WWW_AUTHENTICATE};
use reqwest::{Method, RequestBuilder, Response, StatusCode};

pub use auth::{parse_challenge, Challenge};
pub use blob::{digest_file, BlobPush, Silent, Transfer};
pub use credentials::{Credential, DockerConfig};
pub use error::{check_content, Error, RegistryMessage, Result};
pub use manifest::{FetchedManifest, PushedManifest, MANIFEST_ACCEPT};
pub use referrers::{Capability, Referrers, Source};

use auth::TokenCache;
use retry::{is_retryable, is_transient, retry_after, retry_delay};

/// How the client connects and authenticates.
#[derive(Debug, Clone)]
pub struct ClientOptions {
    /// HTTP instead of HTTPS for every registry (`--plain-http`); `localhost` and loopback
    /// addresses use HTTP anyway.
    pub plain_http: bool,
    /// Accept any TLS certificate (`--insecure`).
    pub insecure: bool,
    /// An extra CA certificate (PEM) to trust (`--ca-file`).
    pub ca_file: Option<PathBuf>,
    /// Credentials given on the command line; they win over the docker configuration.
    pub credential: Option<Credential>,
    /// Where stored logins are read.
    pub docker_config: DockerConfig,
    /// How many times a request is retried after a retryable failure.
    pub retries: u32,
    /// The first backoff; it doubles with every retry.
    pub backoff: Duration,
    /// Blobs transferred at once.
    pub concurrency: usize,
}

impl Default for ClientOptions {
    fn default() -> Self {
        ClientOptions {
            plain_http: false,
            insecure: false,
            ca_file: None,
            credential: None,
            docker_config: DockerConfig::default_location(),
            retries: 3,
            backoff: Duration::from_millis(200),
            concurrency: 3,
        }
    }
}

/// What the client learnt about one registry.
#[derive(Debug, Default)]
struct RegistryState {
    probed: bool,
    challenge: Option<Challenge>,
    tokens: TokenCache,
    referrers: Capability,
    /// The prototype-2 links endpoint (`/oras/artifacts/v1/…/referrers`), asked only where the
    /// referrers API is missing.
    links: Capability,
    /// Held while probing or fetching a token, so that concurrent transfers wait for the one
    /// probe or token instead of each making their own.
    gate: Arc<futures_util::lock::Mutex<()>>,
}

/// The registry client. Cheap to clone (shared state).
#[derive(Clone)]
pub struct Client {
    http: reqwest::Client,
    options: Arc<ClientOptions>,
    registries: Arc<Mutex<HashMap<String, RegistryState>>>,
}

/// Whether a registry host is this machine (HTTP is the default for it, as with docker).
pub fn is_loopback(registry: &str) -> bool {
    let host = registry
        .rsplit_once(':')
        .filter(|(_, port)| port.chars().all(|c| c.is_ascii_digit()))
        .map_or(registry, |(h, _)| h);
    host == "localhost" || host.starts_with("127.") || host == "[::1]"
}

impl Client {
    pub fn new(options: ClientOptions) -> Result<Client> {
        let mut builder = reqwest::Client::builder()
            .user_agent(concat!("nv2/", env!("CARGO_PKG_VERSION")))
            .connect_timeout(Duration::from_secs(10))
            .tcp_nodelay(true)
            .danger_accept_invalid_certs(options.insecure);
        if let Some(path) = &options.ca_file {
            let pem = std::fs::read(path).map_err(|e| Error::io(path.display(), e))?;
            let certs = reqwest::Certificate::from_pem_bundle(&pem).map_err(|e| {
                Error::Invalid(format!("{}: not a PEM certificate: {e}", path.display()))
            })?;
            for cert in certs {
                builder = builder.add_root_certificate(cert);
            }
        }
        let http = builder
            .build()
            .map_err(|e| Error::Invalid(format!("HTTP client: {e}")))?;
        Ok(Client {
            http,
            options: Arc::new(options),
            registries: Arc::default(),
        })
    }

    pub fn options(&self) -> &ClientOptions {
        &self.options
    }

    /// `http` or `https` for a registry.
    pub fn scheme(&self, registry: &str) -> &'static str {
        if self.options.plain_http || is_loopback(registry) {
            "http"
        } else {
            "https"
        }
    }

    /// `scheme://registry`.
    pub fn base_url(&self, registry: &str) -> String {
        format!("{}://{}", self.scheme(registry), registry)
    }

    /// A repository handle for the reference's registry and repository.
    pub fn repository(&self, reference: &Reference) -> Repository {
        Repository {
            client: self.clone(),
            registry: reference.registry().to_string(),
            name: reference.repository().to_string(),
        }
    }

    fn with_state<T>(&self, registry: &str, f: impl FnOnce(&mut RegistryState) -> T) -> T {
        let mut all = self.registries.lock().unwrap_or_else(|e| e.into_inner());
        f(all.entry(registry.to_string()).or_default())
    }

    fn credential(&self, registry: &str) -> Result<Option<Credential>> {
        match &self.options.credential {
            Some(c) => Ok(Some(c.clone())),
            None => self.options.docker_config.get(registry),
        }
    }

    /// `GET /v2/` once per registry: learns whether and how to authenticate.
    async fn probe(&self, registry: &str, what: &str) -> Result<()> {
        if self.with_state(registry, |s| s.probed) {
            return Ok(());
        }
        let gate = self.with_state(registry, |s| s.gate.clone());
        let _held = gate.lock().await;
        if self.with_state(registry, |s| s.probed) {
            return Ok(());
        }
        let url = format!("{}/v2/", self.base_url(registry));
        let response = self
            .send_with_retries(registry, what, || Ok(self.http.get(&url)))
            .await?;
        let challenge = challenge_of(response.headers());
        match response.status() {
            s if s.is_success() => {}
            StatusCode::UNAUTHORIZED if challenge.is_some() => {}
            StatusCode::UNAUTHORIZED => {
                return Err(Error::Protocol {
                    what: what.into(),
                    registry: registry.into(),
                    problem: "401 without a WWW-Authenticate challenge".into(),
                })
            }
            StatusCode::NOT_FOUND => {
                return Err(Error::Protocol {
                    what: what.into(),
                    registry: registry.into(),
                    problem: "GET /v2/ answered 404: this is not an OCI registry".into(),
                })
            }
            _ => return Err(status_error(what, registry, response).await),
        }
        self.with_state(registry, |s| {
            s.probed = true;
            s.challenge = challenge;
        });
        Ok(())
    }

    /// The `Authorization` value for `scopes` (fetching a token when needed), if any.
    async fn authorization(
        &self,
        registry: &str,
        scopes: &[String],
        what: &str,
    ) -> Result<Option<String>> {
        let challenge = self.with_state(registry, |s| s.challenge.clone());
        match challenge {
            None => Ok(None),
            Some(Challenge::Basic) => Ok(self.credential(registry)?.map(|c| basic(&c))),
            Some(Challenge::Bearer { realm, service, .. }) => {
                let key = scopes.join(" ");
                if let Some(token) = self.with_state(registry, |s| s.tokens.get(&key)) {
                    return Ok(Some(format!("Bearer {token}")));
                }
                let gate = self.with_state(registry, |s| s.gate.clone());
                let _held = gate.lock().await;
                // Another request may have fetched it while this one waited.
                if let Some(token) = self.with_state(registry, |s| s.tokens.get(&key)) {
                    return Ok(Some(format!("Bearer {token}")));
                }
                let mut query: Vec<(&str, &str)> = Vec::new();
                if let Some(service) = &service {
                    query.push(("service", service));
                }
                for scope in scopes {
                    query.push(("scope", scope));
                }
                let credential = self.credential(registry)?;
                let response = self
                    .send_with_retries(registry, what, || {
                        let request = self.http.get(&realm).query(&query);
                        Ok(match &credential {
                            Some(c) => request.header(AUTHORIZATION, basic(c)),
                            None => request,
                        })
                    })
                    .await?;
                if !response.status().is_success() {
                    return Err(status_error(
                        &format!("{what}: token from {realm}"),
                        registry,
                        response,
                    )
                    .await);
                }
                let body = response.bytes().await.map_err(|e| Error::Protocol {
                    what: what.into(),
                    registry: registry.into(),
                    problem: format!("token response: {e}"),
                })?;
                let (token, expires_in) =
                    auth::parse_token_response(&body).ok_or_else(|| Error::Protocol {
                        what: what.into(),
                        registry: registry.into(),
                        problem: format!("the token endpoint {realm} answered no token"),
                    })?;
                self.with_state(registry, |s| s.tokens.put(&key, token.clone(), expires_in));
                Ok(Some(format!("Bearer {token}")))
            }
        }
    }

    /// Sends an authenticated request built by `build` (called again for each retry and after a
    /// 401, so a body must be re-creatable). One refresh on 401: the cached token is dropped and
    /// the challenge read again.
    pub(crate) async fn send(
        &self,
        registry: &str,
        scopes: &[String],
        what: &str,
        build: impl Fn() -> Result<RequestBuilder>,
    ) -> Result<Response> {
        self.probe(registry, what).await?;
        let mut refreshed = false;
        loop {
            let authorization = self.authorization(registry, scopes, what).await?;
            let response = self
                .send_with_retries(registry, what, || {
                    let request = build()?;
                    Ok(match &authorization {
                        Some(a) => request.header(AUTHORIZATION, a),
                        None => request,
                    })
                })
                .await?;
            if response.status() == StatusCode::UNAUTHORIZED && !refreshed {
                refreshed = true;
                let challenge = challenge_of(response.headers());
                let key = scopes.join(" ");
                let used = authorization
                    .as_deref()
                    .and_then(|a| a.strip_prefix("Bearer "));
                self.with_state(registry, |s| {
                    // Only the token this request used: a concurrent one may already have
                    // replaced it with a fresh token.
                    if let Some(used) = used {
                        s.tokens.forget_if(&key, used);
                    }
                    if challenge.is_some() {
                        s.challenge = challenge;
                    }
                });
                if self.with_state(registry, |s| s.challenge.is_some()) {
                    continue;
                }
            }
            return Ok(response);
        }
    }

    /// Sends with retries on connection errors, 408, 429 and 5xx (honouring `Retry-After`), at
    /// most `options.retries` times.
    async fn send_with_retries(
        &self,
        registry: &str,
        what: &str,
        build: impl Fn() -> Result<RequestBuilder>,
    ) -> Result<Response> {
        let mut attempt = 0;
        loop {
            let outcome = build()?.send().await;
            let retry_in = match &outcome {
                Ok(r) if is_retryable(r.status()) => retry_after(r.headers(), SystemTime::now()),
                Err(e) if is_transient(e) => None,
                // A final answer, or an error that another try would not mend.
                _ => return outcome.map_err(|e| transport_error(what, registry, e, attempt)),
            };
            if attempt >= self.options.retries {
                return outcome.map_err(|e| transport_error(what, registry, e, attempt));
            }
            tokio::time::sleep(retry_delay(attempt, retry_in, self.options.backoff)).await;
            attempt += 1;
        }
    }
}

fn challenge_of(headers: &HeaderMap) -> Option<Challenge> {
    headers
        .get_all(WWW_AUTHENTICATE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find_map(parse_challenge)
}

fn basic(c: &Credential) -> String {
    use base64ct::{Base64, Encoding};
    format!(
        "Basic {}",
        Base64::encode_string(format!("{}:{}", c.username, c.password).as_bytes())
    )
}

/// The error of a request that got no answer after `retries` retries.
fn transport_error(what: &str, registry: &str, e: reqwest::Error, retries: u32) -> Error {
    let cause = causes(&e);
    if e.is_connect() {
        Error::Unreachable {
            what: what.into(),
            registry: registry.into(),
            cause,
        }
    } else {
        Error::Interrupted {
            what: what.into(),
            registry: registry.into(),
            cause,
            retries,
        }
    }
}

/// The error and its sources, each once.
fn causes(e: &reqwest::Error) -> String {
    let mut cause = e.to_string();
    let mut source = std::error::Error::source(&e);
    while let Some(s) = source {
        let text = s.to_string();
        if !cause.contains(&text) {
            cause = format!("{cause}: {text}");
        }
        source = s.source();
    }
    cause
}

/// The error of a response with an unexpected status, with the OCI error body.
pub(crate) async fn status_error(what: &str, registry: &str, response: Response) -> Error {
    let status = response.status().as_u16();
    let body = response.bytes().await.unwrap_or_default();
    Error::Status {
        what: what.into(),
        registry: registry.into(),
        status,
        messages: error::registry_messages(&body),
    }
}

/// One repository of one registry.
#[derive(Clone)]
pub struct Repository {
    client: Client,
    registry: String,
    name: String,
}

impl Repository {
    pub fn registry(&self) -> &str {
        &self.registry
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn client(&self) -> &Client {
        &self.client
    }

    /// `scheme://registry/v2/name/…`.
    fn url(&self, rest: &str) -> String {
        format!(
            "{}/v2/{}/{rest}",
            self.client.base_url(&self.registry),
            self.name
        )
    }

    fn scopes(&self, push: bool) -> Vec<String> {
        vec![auth::repository_scope(&self.name, push)]
    }

    async fn send(
        &self,
        push: bool,
        what: &str,
        build: impl Fn() -> Result<RequestBuilder>,
    ) -> Result<Response> {
        self.client
            .send(&self.registry, &self.scopes(push), what, build)
            .await
    }

    /// `DELETE /v2/<name>/<rest>` of a `kind` (blob, manifest) named by `digest`.
    async fn delete(&self, kind: &str, rest: &str, digest: &Digest) -> Result<()> {
        let what = format!(
            "delete {kind} {digest} from {}/{}",
            self.registry, self.name
        );
        let url = self.url(rest);
        let response = self
            .send(true, &what, || Ok(self.request(Method::DELETE, &url)))
            .await?;
        if !response.status().is_success() {
            return Err(status_error(&what, &self.registry, response).await);
        }
        Ok(())
    }

    fn request(&self, method: Method, url: &str) -> RequestBuilder {
        self.client.http.request(method, url)
    }

    /// The tags of the repository, every page (`GET /v2/<name>/tags/list`, `Link` followed).
    pub async fn tags(&self) -> Result<Vec<String>> {
        let what = format!("list tags of {}/{}", self.registry, self.name);
        self.client
            .paged_list(
                &self.registry,
                &self.scopes(false),
                &what,
                self.url("tags/list?n=1000"),
                "tags",
            )
            .await
    }
}

impl Client {
    /// A `Link` target made absolute against the registry.
    fn absolute(&self, registry: &str, link: &str) -> String {
        if link.starts_with("http://") || link.starts_with("https://") {
            link.to_string()
        } else {
            format!("{}{link}", self.base_url(registry))
        }
    }

    /// Checks that the registry accepts the configured credentials (`GET /v2/`, authenticated).
    pub async fn ping(&self, registry: &str) -> Result<()> {
        let what = format!("log in to {registry}");
        let url = format!("{}/v2/", self.base_url(registry));
        let response = self
            .send(registry, &[], &what, || Ok(self.http.get(&url)))
            .await?;
        if !response.status().is_success() {
            return Err(status_error(&what, registry, response).await);
        }
        Ok(())
    }

    /// The repositories of a registry (`GET /v2/_catalog`, every page).
    pub async fn catalog(&self, registry: &str) -> Result<Vec<String>> {
        let what = format!("list repositories of {registry}");
        let url = format!("{}/v2/_catalog?n=1000", self.base_url(registry));
        self.paged_list(
            registry,
            &["registry:catalog:*".to_string()],
            &what,
            url,
            "repositories",
        )
        .await
    }

    /// The strings of `field` over every page of a list endpoint, its `Link` headers followed.
    async fn paged_list(
        &self,
        registry: &str,
        scopes: &[String],
        what: &str,
        first: String,
        field: &str,
    ) -> Result<Vec<String>> {
        let mut url = first;
        let mut items = Vec::new();
        for _ in 0..10_000 {
            let response = self
                .send(registry, scopes, what, || Ok(self.http.get(&url)))
                .await?;
            if !response.status().is_success() {
                return Err(status_error(what, registry, response).await);
            }
            let next = next_link(response.headers()).map(|l| self.absolute(registry, &l));
            let body = json_body(response).await.map_err(|e| Error::Protocol {
                what: what.into(),
                registry: registry.into(),
                problem: format!("{field}: {e}"),
            })?;
            items.extend(
                body[field]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(|t| t.as_str().map(str::to_string)),
            );
            match next {
                Some(n) => url = n,
                None => return Ok(items),
            }
        }
        Err(Error::Protocol {
            what: what.into(),
            registry: registry.into(),
            problem: format!("more than 10000 pages of {field}"),
        })
    }
}

async fn json_body(response: Response) -> std::result::Result<serde_json::Value, String> {
    let bytes = response.bytes().await.map_err(|e| e.to_string())?;
    serde_json::from_slice(&bytes).map_err(|e| e.to_string())
}

/// The target of a `Link: <…>; rel="next"` header.
pub(crate) fn next_link(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(reqwest::header::LINK)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .find(|part| part.contains("rel=\"next\"") || part.contains("rel=next"))
        .and_then(|part| {
            let start = part.find('<')? + 1;
            let end = part[start..].find('>')? + start;
            Some(part[start..end].to_string())
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_registries_are_told_apart() {
        assert!(is_loopback("localhost"));
        assert!(is_loopback("localhost:5000"));
        assert!(is_loopback("127.0.0.1:5000"));
        assert!(is_loopback("[::1]:5000"));
        assert!(!is_loopback("registry.example:5000"));
        assert!(!is_loopback("localhost.example"));
    }

    #[test]
    fn next_links_are_found_among_others() {
        let mut h = HeaderMap::new();
        h.append(
            reqwest::header::LINK,
            "</v2/a/tags/list?n=2&last=b>; rel=\"next\""
                .parse()
                .unwrap(),
        );
        assert_eq!(next_link(&h).as_deref(), Some("/v2/a/tags/list?n=2&last=b"));
        let mut h = HeaderMap::new();
        h.append(reqwest::header::LINK, "<x>; rel=\"prev\"".parse().unwrap());
        assert_eq!(next_link(&h), None);
    }
}
