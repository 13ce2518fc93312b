//! `nv2-gatekeeper serve`, the external-data provider, against our registry on loopback with
//! images signed by `nv2_client::signature::sign`: the reports of `/validate` (signed, unsigned,
//! untrusted, bad reference, registry down, namespace policies), `/mutate`'s pinned digests, the
//! cache, and the wire over raw HTTPS (TLS 1.3 only, mTLS, certificate reload).

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use gatekeeper::certs::Certs;
use gatekeeper::protocol::ProviderRequest;
use gatekeeper::provider::{Engine, Provider, ProviderOptions, TrustSources};
use gatekeeper::server;
use nv2_client::remote::{Client, ClientOptions, DockerConfig};
use nv2_client::signature::{sign, SignatureOptions};
use nv2_e2e::oci::Pusher;
use nv2_e2e::registry::LocalRegistry;
use nv2_e2e::signer::Signer;
use nv2_e2e::workspace_root;
use oci_model::{Descriptor, Reference};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use serde_json::{json, Value};

/// A registry with four images in `app` (`signed` by A, `unsigned`, `untrusted` signed by C,
/// `team` signed by B), and trust configuration: the default policy trusts A, the `team-b`
/// namespace policy trusts B.
struct World {
    rt: tokio::runtime::Runtime,
    registry: LocalRegistry,
    host: String,
    dir: tempfile::TempDir,
    digests: std::collections::BTreeMap<&'static str, String>,
}

fn policy(stores: &[&str]) -> Value {
    json!({"version": "1.0", "trustPolicies": [{
        "name": "provider-test",
        "registryScopes": ["*"],
        "signatureVerification": {"level": "strict"},
        "trustStores": stores,
        "trustedIdentities": ["*"],
    }]})
}

fn write(path: &Path, bytes: impl AsRef<[u8]>) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, bytes).unwrap();
}

impl World {
    fn new() -> World {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let registry = LocalRegistry::start();
        let host = registry.host();
        let pusher = Pusher::new(&host);
        let (a, b, c) = (Signer::new("A"), Signer::new("B"), Signer::new("C"));
        let client = Client::new(ClientOptions {
            docker_config: DockerConfig::at("/nonexistent/config.json"),
            ..ClientOptions::default()
        })
        .unwrap();
        let mut digests = std::collections::BTreeMap::new();
        for (tag, signer) in [
            ("signed", Some(&a)),
            ("unsigned", None),
            ("untrusted", Some(&c)),
            ("team", Some(&b)),
        ] {
            let d = pusher.image("app", tag);
            let subject: Descriptor = serde_json::from_value(d.clone()).unwrap();
            if let Some(s) = signer {
                let reference = Reference::parse(&format!("{host}/app:{tag}")).unwrap();
                let repo = client.repository(&reference);
                rt.block_on(sign(
                    &repo,
                    &subject,
                    &s.key,
                    &s.chain,
                    &SignatureOptions::default(),
                ))
                .unwrap();
            }
            digests.insert(tag, d["digest"].as_str().unwrap().to_string());
        }
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        write(
            &root.join("trustpolicy.json"),
            policy(&["ca:a"]).to_string(),
        );
        write(&root.join("ns/team-b.json"), policy(&["ca:b"]).to_string());
        write(&root.join("truststore/x509/ca/a/a.crt"), &a.cert_pem);
        write(&root.join("truststore/x509/ca/b/b.crt"), &b.cert_pem);
        World {
            rt,
            registry,
            host,
            dir,
            digests,
        }
    }

    fn root(&self) -> &Path {
        self.dir.path()
    }

    /// The wasm engine when the bundle is built (`make bundle`), else the native core.
    fn options(&self) -> ProviderOptions {
        let bundle = workspace_root().join("dist/bundle.tar.gz");
        let engine = if bundle.is_file() {
            Engine::Wasm
        } else {
            println!("NOTE: dist/bundle.tar.gz is missing (run `make bundle`): verifying natively");
            Engine::Native
        };
        let mut options = ProviderOptions::new(TrustSources {
            trust_policy: self.root().join("trustpolicy.json"),
            trust_store: self.root().join("truststore"),
            namespace_policies: Some(self.root().join("ns")),
            bundle,
            engine,
        });
        options.docker_config = Some(self.root().join("docker"));
        options.registry_timeout = Duration::from_millis(800);
        options
    }

    fn provider(&self) -> Provider {
        let _guard = self.rt.enter();
        Provider::new(self.options()).unwrap()
    }

    fn key(&self, tag: &str) -> String {
        format!("{}/app:{tag}", self.host)
    }

    fn pinned(&self, tag: &str) -> String {
        format!("{}/app@{}", self.host, self.digests[tag])
    }

    fn validate(&self, p: &Provider, keys: &[String]) -> Vec<(Value, String)> {
        let response = self.rt.block_on(p.validate(keys));
        assert_eq!(response.response.system_error, "");
        assert_eq!(response.response.items.len(), keys.len());
        response
            .response
            .items
            .into_iter()
            .zip(keys)
            .map(|(item, key)| {
                assert_eq!(&item.key, key, "items keep the order of the keys");
                (item.value, item.error)
            })
            .collect()
    }
}

#[test]
fn validate_answers_a_report_per_key() {
    let w = World::new();
    let p = w.provider();
    assert_eq!(p.ready(), Ok(()));
    let keys = vec![
        w.key("signed"),
        w.key("unsigned"),
        w.key("untrusted"),
        "Not A Reference!".to_string(),
        "127.0.0.1:1/app:gone".to_string(),
        format!("[team-b]{}", w.key("team")),
        w.key("team"),
        format!("[team-b]{}", w.key("signed")),
        // A namespace without its own policy falls back to the default.
        format!("[elsewhere]{}", w.key("signed")),
    ];
    let items = w.validate(&p, &keys);
    let verified = |i: usize| {
        let (value, error) = &items[i];
        assert_eq!(error, "", "{}", keys[i]);
        value["verified"].as_bool().unwrap()
    };
    assert!(verified(0));
    assert_eq!(items[0].0["reference"], json!(w.pinned("signed")));
    assert_eq!(items[0].0["signatures"].as_array().unwrap().len(), 1);
    assert!(!verified(1));
    assert!(items[1].0["signatures"].as_array().unwrap().is_empty());
    assert!(!verified(2), "a signer outside the trust store");
    assert!(items[2].0["signatures"][0]["error"].is_string());
    assert!(
        items[3].1.contains("not an image reference"),
        "{}",
        items[3].1
    );
    assert!(items[3].0.is_null());
    assert!(items[4].1.contains("127.0.0.1:1"), "{}", items[4].1);
    assert!(verified(5), "team-b's policy trusts B");
    assert!(!verified(6), "the default policy does not trust B");
    assert!(!verified(7), "team-b's policy does not trust A");
    assert!(verified(8));
}

#[test]
fn mutate_pins_the_digest_and_keeps_one_given() {
    let w = World::new();
    let p = w.provider();
    let with_digest = format!("[team-b]{}", w.pinned("unsigned"));
    let keys = vec![w.key("signed"), with_digest, w.key("missing")];
    let response = w.rt.block_on(p.mutate(&keys));
    let items = &response.response.items;
    assert_eq!(items[0].value, json!(w.pinned("signed")));
    assert_eq!(items[0].error, "");
    assert_eq!(items[1].value, json!(w.pinned("unsigned")));
    assert!(items[2].error.contains("missing"), "{}", items[2].error);
}

#[test]
fn a_second_request_is_answered_from_the_cache() {
    let w = World::new();
    let p = w.provider();
    let keys = vec![w.key("signed"), w.key("signed"), w.key("unsigned")];
    let first = w.validate(&p, &keys);
    let calls = w.registry.requests();
    let second = w.validate(&p, &keys);
    assert_eq!(first, second);
    assert_eq!(
        w.registry.requests(),
        calls,
        "the second request reached the registry"
    );
    let m = p.metrics();
    // Six digest and six verification lookups; misses only for the two distinct images.
    assert_eq!(m.cache_count("digest", "miss"), 2);
    assert_eq!(m.cache_count("digest", "hit"), 4);
    assert_eq!(m.cache_count("verification", "miss"), 2);
    assert_eq!(m.cache_count("verification", "hit"), 4);
}

#[test]
fn a_broken_reload_keeps_the_old_configuration() {
    let w = World::new();
    let p = w.provider();
    let signed = vec![w.key("signed")];
    assert_eq!(w.validate(&p, &signed)[0].0["verified"], json!(true));
    write(&w.root().join("trustpolicy.json"), "{not json");
    assert!(!p.reload_if_changed());
    assert_eq!(p.ready(), Ok(()), "the old configuration stays in service");
    assert_eq!(w.validate(&p, &signed)[0].0["verified"], json!(true));
    // A valid change is taken, and the cached verdict is dropped with the old policy.
    write(
        &w.root().join("trustpolicy.json"),
        policy(&["ca:b"]).to_string(),
    );
    assert!(p.reload_if_changed());
    assert_eq!(w.validate(&p, &signed)[0].0["verified"], json!(false));

    // A provider that never had a valid configuration is not ready and says so per request.
    write(&w.root().join("trustpolicy.json"), "{not json");
    let broken = w.provider();
    assert!(broken.ready().is_err());
    let response = w.rt.block_on(broken.validate(&signed));
    assert!(response.response.items.is_empty());
    assert!(response
        .response
        .system_error
        .contains("no valid trust configuration"));
}

// ---- over HTTPS ----

/// A server on loopback for `p`, with certificates in `dir` (and a client CA when given).
fn start_server(w: &World, p: Provider, dir: &Path, client_ca: Option<&Path>) -> SocketAddr {
    let _guard = w.rt.enter();
    let tls = server::tls_config(&dir.join("tls.crt"), &dir.join("tls.key"), client_ca).unwrap();
    let listener =
        w.rt.block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
            .unwrap();
    let addr = listener.local_addr().unwrap();
    w.rt.spawn(server::serve(listener, tls, server::app(p)));
    addr
}

fn certs_in(dir: &Path) -> Certs {
    let certs = Certs::generate(&["nv2-provider.test".into()], &[]).unwrap();
    certs.write(dir).unwrap();
    certs
}

/// One HTTP/1.1 request over TLS with only `versions` offered, trusting `ca_pem`, with an
/// optional client certificate (cert PEM, key PEM): the status and the body, or why the
/// connection failed.
fn https(
    addr: SocketAddr,
    ca_pem: &str,
    versions: &[&'static rustls::SupportedProtocolVersion],
    client: Option<(&str, &str)>,
    method: &str,
    path: &str,
    body: &str,
) -> Result<(u16, String), String> {
    let mut roots = rustls::RootCertStore::empty();
    for c in CertificateDer::pem_slice_iter(ca_pem.as_bytes()) {
        roots.add(c.unwrap()).unwrap();
    }
    let builder = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_protocol_versions(versions)
    .unwrap()
    .with_root_certificates(roots);
    let config = match client {
        Some((cert, key)) => builder
            .with_client_auth_cert(
                CertificateDer::pem_slice_iter(cert.as_bytes())
                    .map(Result::unwrap)
                    .collect(),
                PrivateKeyDer::from_pem_slice(key.as_bytes()).unwrap(),
            )
            .unwrap(),
        None => builder.with_no_client_auth(),
    };
    let name = ServerName::try_from("nv2-provider.test").unwrap();
    let conn = rustls::ClientConnection::new(Arc::new(config), name).unwrap();
    let tcp = TcpStream::connect(addr).unwrap();
    tcp.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut tls = rustls::StreamOwned::new(conn, tcp);
    let request = format!(
        "{method} {path} HTTP/1.1\r\nHost: nv2-provider.test\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    tls.write_all(request.as_bytes())
        .map_err(|e| e.to_string())?;
    let mut raw = Vec::new();
    tls.read_to_end(&mut raw).map_err(|e| e.to_string())?;
    // Only what was offered can have been agreed.
    assert_eq!(tls.conn.protocol_version(), Some(versions[0].version));
    let text = String::from_utf8(raw).map_err(|e| e.to_string())?;
    let (head, body) = text.split_once("\r\n\r\n").ok_or("no HTTP head")?;
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or("no status")?;
    Ok((status, body.to_string()))
}

const TLS13: &[&rustls::SupportedProtocolVersion] = &[&rustls::version::TLS13];

fn keys_of(v: &Value) -> Vec<&str> {
    let mut k: Vec<&str> = v.as_object().unwrap().keys().map(String::as_str).collect();
    k.sort();
    k
}

#[test]
fn https_speaks_contract_3_over_tls_1_3_only() {
    let w = World::new();
    let certs_dir = w.root().join("certs");
    let certs = certs_in(&certs_dir);
    let p = w.provider();
    let addr = start_server(&w, p.clone(), &certs_dir, None);
    let body =
        serde_json::to_string(&ProviderRequest::new([w.key("signed"), "bad ref".into()])).unwrap();
    let (status, text) =
        https(addr, &certs.ca_pem, TLS13, None, "POST", "/validate", &body).unwrap();
    assert_eq!(status, 200, "{text}");
    let v: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(keys_of(&v), ["apiVersion", "kind", "response"]);
    assert_eq!(v["apiVersion"], "externaldata.gatekeeper.sh/v1beta1");
    assert_eq!(v["kind"], "ProviderResponse");
    assert_eq!(
        keys_of(&v["response"]),
        ["idempotent", "items", "systemError"]
    );
    assert_eq!(v["response"]["idempotent"], true);
    assert_eq!(v["response"]["systemError"], "");
    let items = v["response"]["items"].as_array().unwrap();
    assert_eq!(items.len(), 2);
    for item in items {
        assert_eq!(keys_of(item), ["error", "key", "value"]);
    }
    assert_eq!(items[0]["key"], json!(w.key("signed")));
    assert_eq!(items[0]["error"], "");
    assert_eq!(items[0]["value"]["verified"], true);
    assert_eq!(items[1]["key"], "bad ref");
    assert_ne!(items[1]["error"], "");

    let (status, text) = https(addr, &certs.ca_pem, TLS13, None, "POST", "/mutate", &body).unwrap();
    assert_eq!(status, 200);
    let v: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(
        v["response"]["items"][0]["value"],
        json!(w.pinned("signed"))
    );

    let (status, text) =
        https(addr, &certs.ca_pem, TLS13, None, "POST", "/validate", "{}").unwrap();
    assert_eq!(status, 400);
    assert!(
        serde_json::from_str::<Value>(&text).unwrap()["response"]["systemError"]
            .as_str()
            .unwrap()
            .contains("ProviderRequest")
    );

    for (path, want) in [("/healthz", "ok"), ("/readyz", "ready")] {
        let (status, text) = https(addr, &certs.ca_pem, TLS13, None, "GET", path, "").unwrap();
        assert_eq!((status, text.as_str()), (200, want));
    }
    // /mutate found the digest that /validate had resolved in the cache.
    let (status, text) = https(addr, &certs.ca_pem, TLS13, None, "GET", "/metrics", "").unwrap();
    assert_eq!(status, 200);
    assert!(
        text.contains("nv2_provider_cache_lookups_total{cache=\"digest\",result=\"hit\"} 1"),
        "{text}"
    );
    assert!(
        text.contains(
            "nv2_provider_requests_total{endpoint=\"validate\",outcome=\"item_error\"} 1"
        ),
        "{text}"
    );
    assert!(
        text.contains("nv2_provider_verify_seconds_count 1"),
        "{text}"
    );

    let tls12 = https(
        addr,
        &certs.ca_pem,
        &[&rustls::version::TLS12],
        None,
        "GET",
        "/healthz",
        "",
    );
    assert!(tls12.is_err(), "a TLS 1.2 client was served: {tls12:?}");
}

#[test]
fn with_a_client_ca_a_client_needs_a_certificate_it_issued() {
    let w = World::new();
    let server_dir = w.root().join("server");
    let server = certs_in(&server_dir);
    let clients_dir = w.root().join("clients");
    let client = certs_in(&clients_dir);
    let stranger = Certs::generate(&["stranger".into()], &[]).unwrap();
    let addr = start_server(
        &w,
        w.provider(),
        &server_dir,
        Some(&clients_dir.join("ca.crt")),
    );
    let get = |cert: Option<(&str, &str)>| {
        https(addr, &server.ca_pem, TLS13, cert, "GET", "/healthz", "")
    };
    assert!(
        get(None).is_err(),
        "a client without a certificate was served"
    );
    assert!(
        get(Some((&stranger.cert_pem, &stranger.key_pem))).is_err(),
        "a certificate of another CA was accepted"
    );
    assert_eq!(
        get(Some((&client.cert_pem, &client.key_pem))),
        Ok((200, "ok".to_string()))
    );
}

#[test]
fn rewritten_certificate_files_are_served_at_the_next_handshake() {
    let w = World::new();
    let dir: PathBuf = w.root().join("certs");
    let first = certs_in(&dir);
    let addr = start_server(&w, w.provider(), &dir, None);
    let get = |ca: &str| https(addr, ca, TLS13, None, "GET", "/healthz", "");
    assert!(get(&first.ca_pem).is_ok());
    let second = certs_in(&dir);
    assert!(
        get(&second.ca_pem).is_ok(),
        "the new certificate is not served"
    );
    assert!(
        get(&first.ca_pem).is_err(),
        "the old certificate is still served"
    );

    // A key that does not match the certificate is refused: the working pair stays.
    let third = Certs::generate(&["nv2-provider.test".into()], &[]).unwrap();
    std::fs::write(dir.join("tls.crt"), &third.cert_pem).unwrap();
    assert!(get(&second.ca_pem).is_ok());
}

#[test]
fn a_registry_that_hangs_costs_its_own_key_within_the_limits() {
    let w = World::new();
    // Accepts connections (the kernel does) and never answers.
    let hang = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let hung_key = format!("{}/app:1", hang.local_addr().unwrap());

    let mut options = w.options();
    options.registry_timeout = Duration::from_millis(300);
    let p = {
        let _g = w.rt.enter();
        Provider::new(options).unwrap()
    };
    let started = std::time::Instant::now();
    let items = w.validate(&p, &[hung_key.clone(), w.key("signed")]);
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
    assert!(
        items[0].1.contains("no answer within 300ms"),
        "{}",
        items[0].1
    );
    assert_eq!(items[1].0["verified"], json!(true), "{}", items[1].1);

    // The request's deadline bounds every key, whatever the per-call limit.
    let mut options = w.options();
    options.registry_timeout = Duration::from_secs(30);
    options.timeout = Duration::from_millis(400);
    let p = {
        let _g = w.rt.enter();
        Provider::new(options).unwrap()
    };
    let started = std::time::Instant::now();
    let items = w.validate(&p, &[hung_key]);
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
    assert!(items[0].1.contains("deadline"), "{}", items[0].1);
    drop(hang);
}

#[test]
fn the_native_engine_gives_the_same_verdicts_as_policy_wasm() {
    let w = World::new();
    let wasm = w.options();
    if wasm.sources.engine != Engine::Wasm {
        println!("SKIPPED: dist/bundle.tar.gz is missing, nothing to compare with");
        return;
    }
    let mut native = w.options();
    native.sources.engine = Engine::Native;
    let keys: Vec<String> = ["signed", "unsigned", "untrusted", "team"]
        .iter()
        .map(|t| w.key(t))
        .collect();
    let provider = |o| {
        let _g = w.rt.enter();
        Provider::new(o).unwrap()
    };
    let a = w.validate(&provider(wasm), &keys);
    let b = w.validate(&provider(native), &keys);
    let verdicts = |items: &[(Value, String)]| -> Vec<(Value, usize)> {
        items
            .iter()
            .map(|(v, _)| {
                (
                    v["verified"].clone(),
                    v["signatures"].as_array().unwrap().len(),
                )
            })
            .collect()
    };
    assert_eq!(verdicts(&a), verdicts(&b));
    assert_eq!(
        verdicts(&a)
            .iter()
            .map(|(v, _)| v.clone())
            .collect::<Vec<_>>(),
        [json!(true), json!(false), json!(false), json!(false)]
    );
}
