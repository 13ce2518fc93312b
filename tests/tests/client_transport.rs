//! The registry client's transport against misbehaving and token-protected registries: a test
//! front (`nv2_e2e::front`) before nv2-registry or distribution demands bearer tokens, fails
//! chosen requests, cuts connections, corrupts blobs, and logs every request, so that each test
//! can check the shape of what `nv2` (or the `nv2_client::remote` library) sent.

use std::path::{Path, PathBuf};

use axum::http::Method;
use nv2_client::remote::{
    digest_file, BlobPush, Client, ClientOptions, Credential, DockerConfig, Silent,
};
use nv2_e2e::distribution::Distribution;
use nv2_e2e::front::{Fault, FaultKind, Front, Seen, SERVICE};
use nv2_e2e::nv2::{digest_line, Nv2};
use nv2_e2e::registry::LocalRegistry;
use nv2_e2e::require;
use sha2::{Digest as _, Sha256};

const MIB: usize = 1024 * 1024;

/// `len` bytes that do not repeat in any chunk-sized pattern (a counter through SHA-256).
fn noise(len: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(len + 32);
    let mut i = 0u64;
    while out.len() < len {
        out.extend_from_slice(&Sha256::digest(i.to_le_bytes()));
        i += 1;
    }
    out.truncate(len);
    out
}

fn sha256(bytes: &[u8]) -> String {
    format!("sha256:{}", hex::encode(Sha256::digest(bytes)))
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Runtime::new().expect("runtime")
}

/// A library client with no stored logins (and `credential` if given).
fn library_client(dir: &Path, credential: Option<(&str, &str)>) -> Client {
    Client::new(ClientOptions {
        docker_config: DockerConfig::at(dir.join("no-config.json")),
        credential: credential.map(|(u, p)| Credential {
            username: u.into(),
            password: p.into(),
        }),
        ..ClientOptions::default()
    })
    .expect("client")
}

/// The requests of `log` with `method` whose path contains `part`.
fn matching<'a>(log: &'a [Seen], method: &str, part: &str) -> Vec<&'a Seen> {
    log.iter()
        .filter(|s| s.method == method && s.path.contains(part))
        .collect()
}

/// The upload of `digest` as the log shows it, from its `POST` to its closing `PUT`, each step
/// found at exactly the `Location` the previous answer gave; panics if the chain breaks.
fn upload_chain<'a>(log: &'a [Seen], digest: &str) -> Vec<&'a Seen> {
    let put = log
        .iter()
        .find(|s| s.method == "PUT" && s.path.contains(&format!("digest={digest}")))
        .unwrap_or_else(|| panic!("no PUT of {digest} in {log:#?}"));
    // Walk back from the PUT: each step's path is the Location of the step before it.
    let mut chain = vec![put];
    loop {
        let head = chain[0];
        if head.method == "POST" {
            return chain;
        }
        let previous = log
            .iter()
            .find(|s| {
                s.location.as_deref().is_some_and(|l| {
                    head.path == l || head.path.starts_with(&format!("{l}&digest="))
                })
            })
            .unwrap_or_else(|| {
                panic!(
                    "{} {} does not follow any Location answered: {log:#?}",
                    head.method, head.path
                )
            });
        chain.insert(0, previous);
    }
}

fn files_in(dir: &Path) -> Vec<PathBuf> {
    match std::fs::read_dir(dir) {
        Ok(entries) => entries.map(|e| e.unwrap().path()).collect(),
        Err(_) => Vec::new(),
    }
}

#[test]
fn bearer_tokens_are_asked_per_scope_reused_and_refreshed_once() {
    let reg = LocalRegistry::start();
    let front = Front::with_tokens(&reg.host(), "alice", "wonder", 300);
    let Some(nv2) = Nv2::new() else { return };
    let host = front.host();
    let image = format!("{host}/apps/signed");
    let creds = ["-u", "alice", "-p", "wonder"];
    let a = nv2.write("in/a.txt", b"alpha");
    let b = nv2.write("in/b.txt", b"beta");
    let c = nv2.write("in/c.txt", b"gamma");

    // push: three layers at once, yet one probe and tokens shared between the requests.
    let mut push = vec!["push".to_string(), format!("{image}:v1")];
    push.extend([&a, &b, &c].map(|p| p.display().to_string()));
    push.extend(creds.map(String::from));
    let digest = digest_line(&nv2.ok(&push));
    let log = front.seen();
    assert_eq!(
        matching(&log, "GET", "/v2/")
            .iter()
            .filter(|s| s.path == "/v2/")
            .count(),
        1,
        "one probe: {log:#?}"
    );
    let tokens = front.token_requests();
    assert!(
        tokens
            .iter()
            .all(|t| t.granted && t.service.as_deref() == Some(SERVICE)),
        "{tokens:#?}"
    );
    assert!(
        tokens
            .iter()
            .any(|t| t.scopes == ["repository:apps/signed:pull,push"]),
        "a push asks for pull,push: {tokens:#?}"
    );
    assert!(
        tokens.len() <= 2,
        "tokens are reused across a push: {tokens:#?}"
    );

    // discover and pull ask for pull only, and get what was pushed.
    let sbom = nv2.write("sbom.json", b"{}");
    let mut attach = vec![
        "attach".to_string(),
        format!("{image}:v1"),
        format!("{}:application/spdx+json", sbom.display()),
    ];
    attach.extend(["--artifact-type", "application/spdx+json"].map(String::from));
    attach.extend(creds.map(String::from));
    let sbom_digest = digest_line(&nv2.ok(&attach));
    front.clear();
    let mut discover = vec![
        "discover".to_string(),
        format!("{image}:v1"),
        "-o".into(),
        "json".into(),
    ];
    discover.extend(creds.map(String::from));
    let tree: serde_json::Value = serde_json::from_str(&nv2.ok(&discover)).unwrap();
    assert_eq!(tree["referrers"][0]["digest"], sbom_digest, "{tree}");
    let out = nv2.path("out");
    let mut pull = vec![
        "pull".to_string(),
        format!("{image}:v1"),
        "-o".into(),
        out.display().to_string(),
    ];
    pull.extend(creds.map(String::from));
    assert_eq!(digest_line(&nv2.ok(&pull)), digest);
    assert_eq!(std::fs::read(out.join("b.txt")).unwrap(), b"beta");
    let tokens = front.token_requests();
    assert!(!tokens.is_empty());
    assert!(
        tokens
            .iter()
            .all(|t| t.scopes == ["repository:apps/signed:pull"]),
        "reading asks for pull only: {tokens:#?}"
    );

    // A wrong password: the token endpoint refuses, and the error says where and what to do.
    let mut bad = vec![
        "pull".to_string(),
        format!("{image}:v1"),
        "-o".into(),
        out.display().to_string(),
    ];
    bad.extend(["-u", "alice", "-p", "nope"].map(String::from));
    let err = nv2.fails(&bad, 2);
    assert!(
        err.contains(&host) && err.contains("401") && err.contains(&format!("nv2 login {host}")),
        "{err}"
    );

    // An expired token: exactly one 401, one new token, and the request goes through.
    let client = library_client(nv2.dir.path(), Some(("alice", "wonder")));
    let repo = client.repository(&image.parse().unwrap());
    let layer = digest_file(&a).unwrap().0;
    let rt = runtime();
    assert!(rt.block_on(repo.blob_exists(&layer)).unwrap());
    front.expire_tokens();
    front.clear();
    assert!(rt.block_on(repo.blob_exists(&layer)).unwrap());
    let heads = matching(&front.seen(), "HEAD", &layer.to_string())
        .into_iter()
        .map(|s| s.status)
        .collect::<Vec<_>>();
    assert_eq!(heads, [401, 200], "one refresh");
    assert_eq!(
        front.token_requests().len(),
        1,
        "{:#?}",
        front.token_requests()
    );
}

/// A file of two and a half chunks goes up in chunks, each at the `Location` the last answer
/// gave; a small one in one `PUT`; both come back byte for byte.
fn chunked_and_monolithic_uploads(upstream: &str) {
    let front = Front::start(upstream);
    let Some(nv2) = Nv2::new() else { return };
    let host = front.host();
    let chunk = nv2_client::remote::blob::CHUNK as usize;
    let big_bytes = noise(2 * chunk + chunk / 2);
    let big = nv2.write("in/big.bin", &big_bytes);
    let small = nv2.write("in/small.txt", b"small");
    let image = format!("{host}/apps/big");
    nv2.ok(&[
        "push",
        &format!("{image}:v1"),
        big.to_str().unwrap(),
        small.to_str().unwrap(),
    ]);
    let log = front.seen();

    let chain = upload_chain(&log, &sha256(&big_bytes));
    let methods: Vec<&str> = chain.iter().map(|s| s.method.as_str()).collect();
    // Two whole chunks in PATCHes, the last half chunk with the closing PUT.
    assert_eq!(methods, ["POST", "PATCH", "PATCH", "PUT"], "{chain:#?}");
    assert!(chain[1..].iter().all(|s| s.path.contains("front_seq=")));
    let chain = upload_chain(&log, &sha256(b"small"));
    let methods: Vec<&str> = chain.iter().map(|s| s.method.as_str()).collect();
    assert_eq!(methods, ["POST", "PUT"], "one monolithic PUT: {chain:#?}");
    assert_eq!(
        matching(&log, "PATCH", "").len(),
        2,
        "no PATCH but the big file's: {log:#?}"
    );

    // Again, under another tag: the large file's upload starts while it is hashed, and is
    // cancelled once the digest shows the registry has the blob; the small one is a HEAD.
    front.clear();
    let again = nv2.run(&[
        "push",
        &format!("{image}:v2"),
        big.to_str().unwrap(),
        small.to_str().unwrap(),
    ]);
    let status = String::from_utf8_lossy(&again.stderr);
    assert!(again.status.success(), "{status}");
    assert_eq!(status.matches("Exists").count(), 2, "{status}");
    let log = front.seen();
    let head = format!("/blobs/{}", sha256(&big_bytes));
    assert_eq!(matching(&log, "HEAD", &head).len(), 1, "{log:#?}");
    assert_eq!(
        matching(&log, "POST", "/blobs/uploads/").len(),
        1,
        "{log:#?}"
    );
    assert_eq!(
        matching(&log, "DELETE", "/blobs/uploads/").len(),
        1,
        "the speculative upload is cancelled: {log:#?}"
    );
    assert!(
        matching(&log, "PUT", "/blobs/uploads/").is_empty(),
        "no upload finished: {log:#?}"
    );

    let out = nv2.path("out");
    nv2.ok(&["pull", &format!("{image}:v1"), "-o", out.to_str().unwrap()]);
    let pulled = std::fs::read(out.join("big.bin")).unwrap();
    assert!(pulled == big_bytes, "the pulled file differs");
    assert_eq!(std::fs::read(out.join("small.txt")).unwrap(), b"small");
}

#[test]
fn large_blobs_are_chunked_through_nv2_registry() {
    let reg = LocalRegistry::start();
    chunked_and_monolithic_uploads(&reg.host());
}

#[test]
fn large_blobs_are_chunked_through_distribution() {
    let Some(dist) = require(
        Distribution::start(),
        "docker-registry (CNCF distribution) is not installed",
    ) else {
        return;
    };
    chunked_and_monolithic_uploads(&dist.addr);
}

#[test]
fn blobs_of_the_same_registry_are_mounted_and_present_ones_skipped() {
    let reg = LocalRegistry::start();
    let front = Front::with_tokens(&reg.host(), "alice", "wonder", 300);
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("layer.bin");
    std::fs::write(&file, noise(3000)).unwrap();
    let (digest, size) = digest_file(&file).unwrap();
    let descriptor = serde_json::from_value(serde_json::json!({
        "mediaType": "application/octet-stream", "digest": digest.to_string(), "size": size,
    }))
    .unwrap();
    let client = library_client(dir.path(), Some(("alice", "wonder")));
    let a = client.repository(&format!("{}/apps/a", front.host()).parse().unwrap());
    let b = client.repository(&format!("{}/apps/b", front.host()).parse().unwrap());
    let rt = runtime();
    let push = |repo: &nv2_client::remote::Repository, from: Option<&str>| {
        rt.block_on(repo.push_blob_file(&descriptor, &file, "layer.bin", from, &Silent))
            .unwrap()
    };
    assert_eq!(push(&a, None), BlobPush::Uploaded);

    front.clear();
    assert_eq!(push(&b, Some("apps/a")), BlobPush::Mounted);
    let log = front.seen();
    let posts = matching(&log, "POST", "/v2/apps/b/blobs/uploads/");
    assert_eq!(posts.len(), 1, "{log:#?}");
    assert!(
        posts[0].path.contains(&format!("mount={digest}")) && posts[0].path.contains("from=apps/a"),
        "{log:#?}"
    );
    assert_eq!(posts[0].status, 201);
    assert!(
        matching(&log, "PATCH", "").is_empty() && matching(&log, "PUT", "").is_empty(),
        "no bytes sent for a mount: {log:#?}"
    );
    assert!(
        front
            .token_requests()
            .iter()
            .any(|t| t.scopes.iter().any(|s| s == "repository:apps/a:pull")),
        "the mount's token also reads the source: {:#?}",
        front.token_requests()
    );

    front.clear();
    assert_eq!(push(&a, None), BlobPush::Exists);
    let log = front.seen();
    assert_eq!(
        matching(&log, "HEAD", &digest.to_string()).len(),
        1,
        "{log:#?}"
    );
    assert!(matching(&log, "POST", "").is_empty(), "{log:#?}");
}

#[test]
fn throttled_and_failing_requests_are_retried_a_bounded_number_of_times() {
    let reg = LocalRegistry::start();
    let front = Front::start(&reg.host());
    let Some(nv2) = Nv2::new() else { return };
    let host = front.host();
    let body = b"retry me".to_vec();
    let file = nv2.write("retry.txt", &body);
    let blob = format!("/blobs/{}", sha256(&body));
    let unavailable = |retry_after| FaultKind::Status {
        status: 503,
        retry_after,
    };

    // One 503 on the blob's HEAD, one 429 on its PUT: both retried, the push succeeds.
    front.fail(Fault::nth(Method::HEAD, &blob, 1, 1, unavailable(Some(1))));
    let throttled = FaultKind::Status {
        status: 429,
        retry_after: Some(1),
    };
    front.fail(Fault::nth(Method::PUT, "/blobs/uploads/", 1, 1, throttled));
    nv2.ok(&["push", &format!("{host}/apps/r:v1"), file.to_str().unwrap()]);
    let log = front.seen();
    let statuses =
        |m: &str, p: &str| -> Vec<u16> { matching(&log, m, p).iter().map(|s| s.status).collect() };
    assert_eq!(statuses("HEAD", &blob), [503, 404], "{log:#?}");
    let puts = statuses("PUT", &format!("digest={}", sha256(&body)));
    assert_eq!(puts, [429, 201], "{log:#?}");

    // A registry that stays unavailable: four tries (one and three retries), then a clear error.
    front.heal();
    front.clear();
    let other = nv2.write("other.txt", b"never stored");
    let blob = format!("/blobs/{}", sha256(b"never stored"));
    front.fail(Fault::always(Method::HEAD, &blob, unavailable(None)));
    let err = nv2.fails(
        &[
            "push",
            &format!("{host}/apps/r:v2"),
            other.to_str().unwrap(),
        ],
        2,
    );
    assert!(err.contains("503") && err.contains(&host), "{err}");
    let log = front.seen();
    assert_eq!(matching(&log, "HEAD", &blob).len(), 4, "bounded: {log:#?}");
    assert_eq!(
        log.len(),
        5,
        "a probe and the four tries, nothing else: {log:#?}"
    );

    // A connection cut once mid-upload is retried too.
    front.heal();
    front.clear();
    let cut = nv2.write("cut.txt", b"cut once");
    front.fail(Fault::nth(
        Method::PUT,
        "/blobs/uploads/",
        1,
        1,
        FaultKind::Cut,
    ));
    nv2.ok(&["push", &format!("{host}/apps/r:v3"), cut.to_str().unwrap()]);
    let log = front.seen();
    let puts: Vec<u16> = matching(&log, "PUT", &format!("digest={}", sha256(b"cut once")))
        .iter()
        .map(|s| s.status)
        .collect();
    assert_eq!(puts, [0, 201], "cut, then retried: {log:#?}");
}

#[test]
fn corrupted_downloads_are_refused_and_leave_no_file() {
    let reg = LocalRegistry::start();
    let front = Front::start(&reg.host());
    let Some(nv2) = Nv2::new() else { return };
    let host = front.host();
    let body = noise(100_000);
    let file = nv2.write("in/payload.bin", &body);
    let image = format!("{host}/apps/corrupt");
    nv2.ok(&["push", &format!("{image}:v1"), file.to_str().unwrap()]);
    let digest = sha256(&body);
    front.fail(Fault::always(
        Method::GET,
        &format!("/blobs/{digest}"),
        FaultKind::Corrupt,
    ));

    let out = nv2.path("pulled");
    let err = nv2.fails(
        &["pull", &format!("{image}:v1"), "-o", out.to_str().unwrap()],
        2,
    );
    assert!(
        err.contains(&digest) && err.contains("does not match"),
        "{err}"
    );
    assert!(
        files_in(&out).is_empty(),
        "left behind: {:?}",
        files_in(&out)
    );

    let fetched = nv2.path("fetched/payload.bin");
    let err = nv2.fails(
        &[
            "blob",
            "fetch",
            &format!("{image}@{digest}"),
            "-o",
            fetched.to_str().unwrap(),
        ],
        2,
    );
    assert!(
        err.contains(&digest) && err.contains("does not match"),
        "{err}"
    );
    let dir = nv2.path("fetched");
    assert!(
        files_in(&dir).is_empty(),
        "left behind: {:?}",
        files_in(&dir)
    );
}

#[test]
fn an_interrupted_upload_fails_the_push_and_tags_nothing() {
    let reg = LocalRegistry::start();
    let front = Front::start(&reg.host());
    let Some(nv2) = Nv2::new() else { return };
    let file = nv2.write("in/layer.bin", &noise(MIB));
    front.fail(Fault::always(
        Method::PUT,
        "/blobs/uploads/",
        FaultKind::Cut,
    ));
    let err = nv2.fails(
        &[
            "push",
            &format!("{}/apps/cut:v1", front.host()),
            file.to_str().unwrap(),
        ],
        2,
    );
    assert!(
        err.contains(&front.host()) && err.contains("layer.bin") && err.contains("broke off"),
        "{err}"
    );
    let log = front.seen();
    let puts: Vec<u16> = matching(&log, "PUT", "/blobs/uploads/")
        .iter()
        .map(|s| s.status)
        .collect();
    assert_eq!(
        puts,
        [0, 0, 0, 0],
        "cut every time, bounded retries: {log:#?}"
    );
    assert!(matching(&log, "PUT", "/manifests/").is_empty(), "{log:#?}");

    // Straight at the registry: no such tag.
    let client = library_client(nv2.dir.path(), None);
    let repo = client.repository(&format!("{}/apps/cut", reg.host()).parse().unwrap());
    let missing = runtime().block_on(repo.resolve("v1")).unwrap_err();
    assert!(missing.is_not_found(), "{missing}");
}

#[test]
fn a_manifest_over_the_registry_limit_is_a_clear_error_and_tags_nothing() {
    let reg = LocalRegistry::with_config(nv2_registry::Config {
        max_manifest_bytes: 2048,
        ..nv2_registry::Config::default()
    });
    let Some(nv2) = Nv2::new() else { return };
    let host = reg.host();
    let file = nv2.write("f.txt", b"fits");
    let long = format!("org.example.note={}", "n".repeat(4096));
    let err = nv2.fails(
        &[
            "push",
            &format!("{host}/apps/huge:v1"),
            file.to_str().unwrap(),
            "-a",
            &long,
        ],
        2,
    );
    assert!(err.contains("413") && err.contains("manifest"), "{err}");
    assert!(err.contains("smaller"), "says what to do: {err}");
    let client = library_client(nv2.dir.path(), None);
    let repo = client.repository(&format!("{host}/apps/huge").parse().unwrap());
    let missing = runtime().block_on(repo.resolve("v1")).unwrap_err();
    assert!(missing.is_not_found(), "{missing}");
}

/// A prototype-2 registry: no referrers API, but the ORAS links endpoint. `discover` lists an ORAS
/// artifact manifest linked by its `subject` from there.
#[test]
fn prototype_2_links_are_read_where_the_referrers_api_is_missing() {
    let reg = LocalRegistry::start();
    let front = Front::start(&reg.host());
    let Some(nv2) = Nv2::new() else { return };
    front.fail(Fault::always(
        Method::GET,
        "/referrers/",
        FaultKind::Status {
            status: 404,
            retry_after: None,
        },
    ));
    let push = nv2_e2e::oci::Pusher::new(&reg.host());
    let subject = push.image("apps/p2", "v1");
    let envelope = push.blob("apps/p2", b"a prototype-2 signature");
    let oras = serde_json::to_vec(&serde_json::json!({
        "mediaType": "application/vnd.cncf.oras.artifact.manifest.v1+json",
        "artifactType": "application/vnd.cncf.notary.signature",
        "blobs": [{"mediaType": "application/jose+json", "digest": envelope, "size": 23}],
        "subject": subject,
    }))
    .unwrap();
    let oras_digest = sha256(&oras);
    push.manifest(
        "apps/p2",
        &oras_digest,
        &oras,
        "application/vnd.cncf.oras.artifact.manifest.v1+json",
    );

    let tree: serde_json::Value = serde_json::from_str(&nv2.ok(&[
        "discover",
        &format!("{}/apps/p2:v1", front.host()),
        "-o",
        "json",
    ]))
    .unwrap();
    let found = tree["referrers"].as_array().expect("referrers");
    assert_eq!(found.len(), 1, "{tree:#}");
    assert_eq!(found[0]["digest"], oras_digest.as_str());
    assert_eq!(
        found[0]["mediaType"],
        "application/vnd.cncf.oras.artifact.manifest.v1+json"
    );
    assert_eq!(
        found[0]["artifactType"],
        "application/vnd.cncf.notary.signature"
    );
    let log = front.seen();
    let api: Vec<u16> = matching(&log, "GET", "/referrers/sha256:")
        .iter()
        .filter(|s| s.path.starts_with("/v2/"))
        .map(|s| s.status)
        .collect();
    assert!(api.iter().all(|s| *s == 404), "{log:#?}");
    assert!(
        !matching(&log, "GET", "/oras/artifacts/v1/apps/p2/manifests/").is_empty(),
        "the links endpoint was asked: {log:#?}"
    );
}

/// `nv2 sign` uploads its envelope with one monolithic `POST ?digest=` where the registry takes
/// it (nv2-registry answers 201), and closes the session with a `PUT` where the registry only
/// opens one (distribution answers 202).
#[test]
fn a_signature_envelope_goes_up_in_one_request_where_the_registry_takes_it() {
    let reg = LocalRegistry::start();
    let dist = require(
        Distribution::start(),
        "docker-registry (CNCF distribution) is not installed",
    );
    let mut upstreams = vec![(reg.host(), true)];
    if let Some(dist) = &dist {
        upstreams.push((dist.addr.clone(), false));
    }
    for (upstream, takes_post) in upstreams {
        let front = Front::start(&upstream);
        let Some(nv2) = Nv2::new() else { return };
        let keys = nv2.path("keys");
        nv2.ok(&[
            "cert",
            "generate-test",
            "t",
            "--key-type",
            "ec-p256",
            "--out",
            keys.to_str().unwrap(),
        ]);
        let file = nv2.write("f.txt", b"signed");
        let image = format!("{}/apps/signed", front.host());
        let digest =
            digest_line(&nv2.ok(&["push", &format!("{image}:v1"), file.to_str().unwrap()]));
        front.clear();
        nv2.ok(&[
            "sign",
            &format!("{image}@{digest}"),
            "--key",
            keys.join("t.key").to_str().unwrap(),
            "--cert",
            keys.join("t.crt").to_str().unwrap(),
        ]);
        let log = front.seen();
        let posts: Vec<u16> = matching(&log, "POST", "/blobs/uploads/?digest=")
            .iter()
            .map(|s| s.status)
            .collect();
        let closing = matching(&log, "PUT", "/blobs/uploads/").len();
        if takes_post {
            assert_eq!((posts, closing), (vec![201], 0), "{upstream}: {log:#?}");
        } else {
            assert_eq!((posts, closing), (vec![202], 1), "{upstream}: {log:#?}");
        }
        assert!(
            matching(&log, "HEAD", "/blobs/").len() <= 1,
            "only the empty config is asked for: {log:#?}"
        );
    }
}
