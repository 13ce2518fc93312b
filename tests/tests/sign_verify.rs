//! `nv2 sign`, `nv2 verify REF`, `nv2 inspect`, `nv2 list`, `nv2 cert` and `nv2 policy`, driven
//! as a user would (the `nv2` binary, a configuration folder of its own per test), against both
//! registries the tests start on loopback: ours (referrers API) and CNCF distribution (none: the
//! referrers tag schema is written by `sign` and read by `verify`).

use std::path::{Path, PathBuf};
use std::process::Output;

use nv2_e2e::distribution::Distribution;
use nv2_e2e::nv2::{digest_line, Nv2};
use nv2_e2e::oci::Pusher;
use nv2_e2e::registry::LocalRegistry;
use nv2_e2e::require;
use serde_json::{json, Value};

fn text(out: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// `nv2 cert generate-test NAME --key-type KT --out keys`: the key and certificate paths.
fn generate(nv2: &Nv2, name: &str, key_type: &str) -> (PathBuf, PathBuf) {
    nv2.ok(&[
        "cert",
        "generate-test",
        name,
        "--key-type",
        key_type,
        "--out",
        "keys",
    ]);
    (
        nv2.path(&format!("keys/{name}.key")),
        nv2.path(&format!("keys/{name}.crt")),
    )
}

/// Signs `reference` with a key file pair; answers stdout.
fn sign(nv2: &Nv2, reference: &str, (key, cert): &(PathBuf, PathBuf), extra: &[&str]) -> String {
    let mut args = vec![
        "sign",
        reference,
        "--key",
        key.to_str().unwrap(),
        "--cert",
        cert.to_str().unwrap(),
    ];
    args.extend(extra);
    nv2.ok(&args)
}

/// A trust policy file with one statement.
fn policy_file(nv2: &Nv2, file: &str, level: &str, stores: &[&str], scopes: &[&str]) -> PathBuf {
    let doc = json!({"version": "1.0", "trustPolicies": [{
        "name": format!("{level}-policy"),
        "registryScopes": scopes,
        "signatureVerification": {"level": level},
        "trustStores": stores,
        "trustedIdentities": ["*"],
    }]});
    nv2.write(file, serde_json::to_string_pretty(&doc).unwrap().as_bytes())
}

/// A small image in `repo` tagged `tag`: (REGISTRY/REPO@DIGEST, descriptor).
fn image(pusher: &Pusher, host: &str, repo: &str, tag: &str) -> (String, Value) {
    let d = pusher.image(repo, tag);
    (
        format!("{host}/{repo}@{}", d["digest"].as_str().unwrap()),
        d,
    )
}

/// Sign then verify with each key type the issue names, and what `inspect`, `list` and the
/// manifest say.
fn sign_then_verify(host: &str, has_api: bool) {
    let Some(nv2) = Nv2::new() else { return };
    let pusher = Pusher::new(host);
    for (key_type, alg) in [
        ("rsa-2048", "RSASSA-PSS-SHA-256"),
        ("rsa-3072", "RSASSA-PSS-SHA-384"),
        ("ec-p256", "ECDSA-SHA-256"),
        ("ec-p384", "ECDSA-SHA-384"),
    ] {
        let name = format!("signer-{key_type}");
        let repo = format!("net/{key_type}");
        let keys = generate(&nv2, &name, key_type);
        nv2.ok(&[
            "cert",
            "add",
            "--type",
            "ca",
            "--store",
            &name,
            keys.1.to_str().unwrap(),
        ]);
        let policy = policy_file(
            &nv2,
            &format!("{name}.json"),
            "strict",
            &[&format!("ca:{name}")],
            &[&format!("{host}/{repo}")],
        );
        let (pinned, subject) = image(&pusher, host, &repo, "v1");
        let tagged = format!("{host}/{repo}:v1");

        let out = nv2.run(&[
            "sign",
            &tagged,
            "--key",
            keys.0.to_str().unwrap(),
            "--cert",
            keys.1.to_str().unwrap(),
        ]);
        let (stdout, stderr) = text(&out);
        assert!(out.status.success(), "{stdout}{stderr}");
        assert!(
            stdout.contains(&format!("Successfully signed {pinned}")),
            "{stdout}"
        );
        assert!(stderr.contains("tags are mutable"), "a tag warns: {stderr}");
        let signature = stdout
            .lines()
            .find_map(|l| l.strip_prefix("Signature manifest: "))
            .expect("the signature's digest")
            .to_string();

        // The manifest is notation's.
        let manifest: Value = serde_json::from_str(&nv2.ok(&[
            "manifest",
            "fetch",
            &format!("{host}/{repo}@{signature}"),
        ]))
        .unwrap();
        assert_eq!(
            manifest["artifactType"],
            "application/vnd.cncf.notary.signature"
        );
        assert_eq!(
            manifest["config"]["mediaType"],
            "application/vnd.oci.empty.v1+json"
        );
        assert_eq!(manifest["layers"][0]["mediaType"], "application/jose+json");
        assert_eq!(manifest["subject"], subject);
        if !has_api {
            let index = nv2.ok(&[
                "manifest",
                "fetch",
                &format!(
                    "{host}/{repo}:sha256-{}",
                    subject["digest"]
                        .as_str()
                        .unwrap()
                        .trim_start_matches("sha256:")
                ),
            ]);
            assert!(
                index.contains(&signature),
                "the tag schema lists it: {index}"
            );
        }

        let out = nv2.run(&[
            "verify",
            &pinned,
            "--trust-policy",
            policy.to_str().unwrap(),
        ]);
        let (stdout, stderr) = text(&out);
        assert_eq!(out.status.code(), Some(0), "{stdout}{stderr}");
        assert!(
            stdout.contains(&format!("Successfully verified signature for {pinned}")),
            "{stdout}"
        );
        assert!(
            stdout.contains(&format!("signature:    {signature}")),
            "{stdout}"
        );
        assert!(
            stdout.contains(&format!(
                "signed by:    CN={name},O=Notary,L=Seattle,ST=WA,C=US"
            )),
            "{stdout}"
        );
        assert!(
            stdout.contains("trust policy: strict-policy (level strict)"),
            "{stdout}"
        );
        let report: Value = serde_json::from_str(&nv2.ok(&[
            "verify",
            &tagged,
            "--trust-policy",
            policy.to_str().unwrap(),
            "-o",
            "json",
        ]))
        .unwrap();
        assert_eq!(report["verified"], true);
        assert_eq!(report["reference"], pinned);
        assert_eq!(report["signatures"][0]["manifest"], signature.as_str());

        let listed = nv2.ok(&["list", &tagged]);
        assert!(listed.contains(&signature), "{listed}");
        assert!(nv2.ok(&["ls", &pinned]).contains(&signature));
        let inspected = nv2.ok(&["inspect", &tagged]);
        assert!(
            inspected.contains(&format!("signature algorithm: {alg}")),
            "{inspected}"
        );
    }
}

#[test]
fn sign_then_verify_on_nv2_registry() {
    let reg = LocalRegistry::start();
    sign_then_verify(&reg.host(), true);
}

#[test]
fn sign_then_verify_on_distribution_with_the_tag_schema() {
    let Some(dist) = require(Distribution::start(), "docker-registry is not installed") else {
        return;
    };
    sign_then_verify(&dist.addr, false);
}

/// Runs `nv2 verify` that must exit 1; answers stdout and stderr together.
fn not_verified(nv2: &Nv2, args: &[&str]) -> String {
    let out = nv2.run(args);
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(1), "{stdout}{stderr}");
    assert!(stderr.contains("nv2: not verified:"), "{stderr}");
    format!("{stdout}{stderr}")
}

/// Every way a verification must fail names its reason.
fn failures_name_their_reason(host: &str) {
    let Some(nv2) = Nv2::new() else { return };
    let pusher = Pusher::new(host);
    let trusted = generate(&nv2, "trusted", "ec-p256");
    nv2.ok(&[
        "cert",
        "add",
        "--type",
        "ca",
        "--store",
        "trusted",
        trusted.1.to_str().unwrap(),
    ]);
    nv2.ok(&[
        "policy",
        "init",
        "--name",
        "apps",
        "--store",
        "ca:trusted",
        "--scope",
        &format!("{host}/apps"),
    ]);

    // Unsigned.
    let (unsigned, _) = image(&pusher, host, "apps", "unsigned");
    let out = not_verified(&nv2, &["verify", &unsigned]);
    assert!(out.contains("no signature is associated"), "{out}");
    assert!(out.contains("the artifact has no signature"), "{out}");

    // A tampered envelope, pushed under its own digest in a signature manifest.
    let (tampered_ref, tampered) = image(&pusher, host, "apps", "tampered");
    let subject_file = nv2.write("tampered.json", tampered.to_string().as_bytes());
    let envelope = nv2_sign_envelope(&nv2, &trusted, &subject_file);
    let mut jws: Value = serde_json::from_slice(&envelope).unwrap();
    let sig = jws["signature"].as_str().unwrap().to_string();
    // Flip one character of the signature (stays base64url).
    let flipped = if sig.starts_with('A') { "B" } else { "A" };
    jws["signature"] = json!(format!("{flipped}{}", &sig[1..]));
    pusher.signature("apps", &tampered, jws.to_string().as_bytes(), true);
    let out = not_verified(&nv2, &["verify", &tampered_ref]);
    // The flipped character makes the signature's bytes wrong (or, rarely, out of range).
    assert!(out.contains("integrity: signature"), "{out}");

    // A signature of another digest, linked to this one.
    let (other_ref, other) = image(&pusher, host, "apps", "other");
    let (_, signed) = image(&pusher, host, "apps", "signed");
    let signed_file = nv2.write("signed.json", signed.to_string().as_bytes());
    let envelope = nv2_sign_envelope(&nv2, &trusted, &signed_file);
    pusher.signature("apps", &other, &envelope, true);
    let out = not_verified(&nv2, &["verify", &other_ref]);
    assert!(
        out.contains("integrity: the signature is for another artifact"),
        "{out}"
    );

    // An untrusted certificate.
    let stranger = generate(&nv2, "stranger", "ec-p256");
    let (stranger_ref, _) = image(&pusher, host, "apps", "stranger");
    sign(&nv2, &stranger_ref, &stranger, &[]);
    let out = not_verified(&nv2, &["verify", &stranger_ref]);
    assert!(
        out.contains("authenticity: no certificate of the chain is in the policy's trust stores"),
        "{out}"
    );

    // An expired signature.
    let (expired_ref, _) = image(&pusher, host, "apps", "expired");
    sign(&nv2, &expired_ref, &trusted, &["--expiry", "1s"]);
    std::thread::sleep(std::time::Duration::from_millis(2100));
    let out = not_verified(&nv2, &["verify", &expired_ref]);
    assert!(out.contains("expiry: signature expired at"), "{out}");

    // A policy whose scope does not match.
    let (elsewhere, _) = image(&pusher, host, "elsewhere", "v1");
    sign(&nv2, &elsewhere, &trusted, &[]);
    let out = not_verified(&nv2, &["verify", &elsewhere]);
    assert!(
        out.contains(&format!("no trust policy applies to \"{host}/elsewhere\"")),
        "{out}"
    );
    // The same signature verifies under a policy for its scope: the refusal was the scope's.
    let scoped = policy_file(
        &nv2,
        "scoped.json",
        "strict",
        &["ca:trusted"],
        &[&format!("{host}/elsewhere")],
    );
    nv2.ok(&[
        "verify",
        &elsewhere,
        "--trust-policy",
        scoped.to_str().unwrap(),
    ]);

    // Permissive logs the expiry, audit logs authenticity: both verify and say what they logged.
    let permissive = policy_file(
        &nv2,
        "permissive.json",
        "permissive",
        &["ca:trusted"],
        &["*"],
    );
    let out = nv2.ok(&[
        "verify",
        &expired_ref,
        "--trust-policy",
        permissive.to_str().unwrap(),
    ]);
    assert!(
        out.contains("trust policy: permissive-policy (level permissive)"),
        "{out}"
    );
    assert!(
        out.contains("Warning: expiry: signature expired at"),
        "{out}"
    );
    assert_eq!(
        out.matches("signature expired at").count(),
        1,
        "once: {out}"
    );
    let audit = policy_file(&nv2, "audit.json", "audit", &["ca:trusted"], &["*"]);
    let out = nv2.ok(&[
        "verify",
        &stranger_ref,
        "--trust-policy",
        audit.to_str().unwrap(),
    ]);
    assert!(
        out.contains("trust policy: audit-policy (level audit)"),
        "{out}"
    );
    assert!(
        out.contains(
            "Warning: authenticity: no certificate of the chain is in the policy's trust stores"
        ),
        "{out}"
    );
    // Audit still enforces integrity.
    let out = not_verified(
        &nv2,
        &[
            "verify",
            &tampered_ref,
            "--trust-policy",
            audit.to_str().unwrap(),
        ],
    );
    assert!(out.contains("integrity:"), "{out}");
}

/// `nv2 sign-envelope` over a descriptor file; the envelope bytes.
fn nv2_sign_envelope(nv2: &Nv2, (key, cert): &(PathBuf, PathBuf), subject: &Path) -> Vec<u8> {
    let out = nv2.run(&[
        "sign-envelope",
        "--key",
        key.to_str().unwrap(),
        "--cert",
        cert.to_str().unwrap(),
        "--subject",
        subject.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{:?}", text(&out));
    out.stdout
}

#[test]
fn failures_name_their_reason_on_nv2_registry() {
    let reg = LocalRegistry::start();
    failures_name_their_reason(&reg.host());
}

#[test]
fn failures_name_their_reason_on_distribution() {
    let Some(dist) = require(Distribution::start(), "docker-registry is not installed") else {
        return;
    };
    failures_name_their_reason(&dist.addr);
}

/// `inspect` shows the chain; its thumbprint is OpenSSL's SHA-256 fingerprint of the
/// certificate and the manifest's thumbprint annotation.
#[test]
fn inspect_shows_the_chain_with_openssls_fingerprint() {
    let Some(nv2) = Nv2::new() else { return };
    let reg = LocalRegistry::start();
    let host = reg.host();
    let pusher = Pusher::new(&host);
    let keys = generate(&nv2, "inspected", "rsa-3072");
    let (pinned, _) = image(&pusher, &host, "app", "v1");
    let out = sign(
        &nv2,
        &pinned,
        &keys,
        &["--expiry", "24h", "-m", "team=blue"],
    );
    let signature = out
        .lines()
        .find_map(|l| l.strip_prefix("Signature manifest: "))
        .unwrap()
        .to_string();

    let Some(openssl) = require(
        nv2_e2e::peers::on_path("openssl"),
        "openssl is not installed",
    ) else {
        return;
    };
    let fp = std::process::Command::new(openssl)
        .args(["x509", "-noout", "-fingerprint", "-sha256", "-in"])
        .arg(&keys.1)
        .output()
        .unwrap();
    let fp = String::from_utf8_lossy(&fp.stdout);
    let fp = fp
        .trim()
        .split_once('=')
        .expect("sha256 Fingerprint=AA:BB:…")
        .1
        .replace(':', "")
        .to_lowercase();
    assert_eq!(fp.len(), 64);

    let tree = nv2.ok(&["inspect", &pinned]);
    assert!(
        tree.contains(&format!("SHA256 fingerprint: {fp}")),
        "{tree}"
    );
    assert!(
        tree.contains("issued to: CN=inspected,O=Notary,L=Seattle,ST=WA,C=US"),
        "{tree}"
    );
    assert!(
        tree.contains("signature algorithm: RSASSA-PSS-SHA-384"),
        "{tree}"
    );
    assert!(tree.contains("signingScheme: notary.x509"), "{tree}");
    assert!(tree.contains("team: blue"), "{tree}");
    assert!(tree.contains(&signature), "{tree}");

    let json: Value = serde_json::from_str(&nv2.ok(&["inspect", &pinned, "-o", "json"])).unwrap();
    let s = &json["signatures"][0];
    assert_eq!(s["certificates"][0]["sha256Thumbprint"], fp.as_str());
    assert_eq!(s["signingScheme"], "notary.x509");
    assert!(s["expiry"].is_string(), "the expiry is signed: {s}");
    assert_eq!(s["userDefinedAttributes"]["team"], "blue");
    let manifest: Value =
        serde_json::from_str(&nv2.ok(&["manifest", "fetch", &format!("{host}/app@{signature}")]))
            .unwrap();
    assert_eq!(
        manifest["annotations"]["io.cncf.notary.x509chain.thumbprint#S256"],
        format!("[\"{fp}\"]")
    );
}

/// A signed SBoM attached to a signed image: `discover` finds the SBoM's signature two levels
/// deep, and the SBoM verifies by digest.
fn sbom_signature_two_levels_deep(host: &str) {
    let Some(nv2) = Nv2::new() else { return };
    let pusher = Pusher::new(host);
    let keys = generate(&nv2, "builder", "ec-p384");
    nv2.ok(&[
        "cert",
        "add",
        "--type",
        "ca",
        "--store",
        "builder",
        keys.1.to_str().unwrap(),
    ]);
    nv2.ok(&[
        "policy",
        "init",
        "--name",
        "all",
        "--store",
        "ca:builder",
        "--scope",
        "*",
    ]);
    let (pinned, _) = image(&pusher, host, "shop/web", "v1");
    sign(&nv2, &pinned, &keys, &[]);
    let sbom = nv2.write("sbom.spdx.json", br#"{"spdxVersion":"SPDX-2.3"}"#);
    let out = nv2.ok(&[
        "attach",
        &pinned,
        &format!("{}:application/spdx+json", sbom.display()),
        "--artifact-type",
        "application/spdx+json",
    ]);
    let sbom_digest = digest_line(&out);
    let sbom_ref = format!("{host}/shop/web@{sbom_digest}");
    let out = sign(&nv2, &sbom_ref, &keys, &[]);
    let sbom_signature = out
        .lines()
        .find_map(|l| l.strip_prefix("Signature manifest: "))
        .unwrap()
        .to_string();

    let tree: Value = serde_json::from_str(&nv2.ok(&["discover", &pinned, "-o", "json"])).unwrap();
    let referrers = tree["referrers"].as_array().expect("referrers");
    let sbom_node = referrers
        .iter()
        .find(|r| r["digest"] == sbom_digest.as_str())
        .unwrap_or_else(|| panic!("the SBoM under the image: {tree}"));
    assert!(
        referrers
            .iter()
            .any(|r| r["artifactType"] == "application/vnd.cncf.notary.signature"),
        "the image's own signature: {tree}"
    );
    let nested = sbom_node["referrers"]
        .as_array()
        .expect("the SBoM's referrers");
    assert!(
        nested.iter().any(|r| r["digest"] == sbom_signature.as_str()
            && r["artifactType"] == "application/vnd.cncf.notary.signature"),
        "the SBoM's signature two levels deep: {tree}"
    );
    assert!(nv2
        .ok(&["verify", &sbom_ref])
        .contains("Successfully verified"));
    assert!(nv2
        .ok(&["verify", &pinned])
        .contains("Successfully verified"));
}

#[test]
fn sbom_signature_is_found_two_levels_deep_on_nv2_registry() {
    let reg = LocalRegistry::start();
    sbom_signature_two_levels_deep(&reg.host());
}

#[test]
fn sbom_signature_is_found_two_levels_deep_on_distribution() {
    let Some(dist) = require(Distribution::start(), "docker-registry is not installed") else {
        return;
    };
    sbom_signature_two_levels_deep(&dist.addr);
}

/// `--signature-manifest artifact`: the prototype's manifest, which our registry stores and
/// indexes, and which verifies; distribution refuses it with a message that says what to do.
#[test]
fn artifact_manifest_signatures_verify_on_nv2_registry() {
    let Some(nv2) = Nv2::new() else { return };
    let reg = LocalRegistry::start();
    let host = reg.host();
    let pusher = Pusher::new(&host);
    let keys = generate(&nv2, "proto", "ec-p256");
    nv2.ok(&[
        "cert",
        "add",
        "--type",
        "ca",
        "--store",
        "proto",
        keys.1.to_str().unwrap(),
    ]);
    nv2.ok(&[
        "policy", "init", "--name", "p", "--store", "ca:proto", "--scope", "*",
    ]);
    let (pinned, _) = image(&pusher, &host, "app", "v1");
    let out = sign(&nv2, &pinned, &keys, &["--signature-manifest", "artifact"]);
    let signature = out
        .lines()
        .find_map(|l| l.strip_prefix("Signature manifest: "))
        .unwrap()
        .to_string();
    let manifest: Value =
        serde_json::from_str(&nv2.ok(&["manifest", "fetch", &format!("{host}/app@{signature}")]))
            .unwrap();
    assert_eq!(
        manifest["mediaType"],
        "application/vnd.oci.artifact.manifest.v1+json"
    );
    assert_eq!(manifest["blobs"][0]["mediaType"], "application/jose+json");
    let out = nv2.ok(&["verify", &pinned]);
    assert!(out.contains(&format!("signature:    {signature}")), "{out}");

    if let Some(dist) = Distribution::start() {
        let pusher = Pusher::new(&dist.addr);
        let (pinned, _) = image(&pusher, &dist.addr, "app", "v1");
        let out = nv2.run(&[
            "sign",
            &pinned,
            "--key",
            keys.0.to_str().unwrap(),
            "--cert",
            keys.1.to_str().unwrap(),
            "--signature-manifest",
            "artifact",
        ]);
        let (_, stderr) = text(&out);
        assert_eq!(out.status.code(), Some(2), "{stderr}");
        assert!(stderr.contains("--signature-manifest image"), "{stderr}");
    }
}

fn vectors_dir() -> Option<PathBuf> {
    let dir = nv2_e2e::workspace_root()
        .join("../shared/vectors/notation/01-notation-e2e-valid-ps256-selfsigned");
    dir.is_dir().then_some(dir)
}

/// A real notation signature (subject manifest and signature manifest pushed as they are, with
/// their blobs) verifies with the vector's trust root, through `--trust-policy` and
/// `--trust-store`, and fails with another root.
fn notation_vector_verifies(host: &str, has_api: bool) {
    let Some(nv2) = Nv2::new() else { return };
    let Some(dir) = vectors_dir() else {
        println!("SKIPPED: ../shared/vectors/notation is absent; the notation vector was not run");
        return;
    };
    let read = |f: &str| std::fs::read(dir.join(f)).unwrap();
    let pusher = Pusher::new(host);
    pusher.blob("e2e", b"{}");
    // The subject's one layer: the file `e2e.txt` of notation's e2e layout
    // (sha256:6de5fe1f…, 17 bytes); the registry checks it against the manifest's digest.
    pusher.blob("e2e", b"awesome notation\n");
    let subject = pusher.manifest(
        "e2e",
        "v1",
        &read("subject-manifest.json"),
        nv2_e2e::oci::OCI_MANIFEST,
    );
    assert_eq!(
        subject,
        "sha256:b8479de3f88fb259a0a9ea82a5b2a052a1ef3c4ebbcfc61482d5ae4c831f8af9"
    );
    pusher.blob("e2e", &read("envelope.jws.json"));
    let signature_manifest = read("signature-manifest.json");
    let signature = nv2_e2e::oci::digest_of(&signature_manifest);
    pusher.manifest(
        "e2e",
        &signature,
        &signature_manifest,
        nv2_e2e::oci::OCI_MANIFEST,
    );
    if !has_api {
        // notation's own referrers tag-schema index, as notation pushed it.
        pusher.manifest(
            "e2e",
            &format!("sha256-{}", subject.trim_start_matches("sha256:")),
            &read("referrers-index.json"),
            nv2_e2e::oci::OCI_INDEX,
        );
    }
    nv2.write(
        "vector-store/x509/ca/e2e/e2e.crt",
        &read("truststore-ca-e2e.crt"),
    );
    nv2.write(
        "wrong-store/x509/ca/e2e/e2e.crt",
        &read("wrong-root-new_e2e.crt"),
    );
    let (store, wrong) = (nv2.path("vector-store"), nv2.path("wrong-store"));
    let policy = dir.join("trustpolicy.json");
    let pinned = format!("{host}/e2e@{subject}");
    let out = nv2.ok(&[
        "verify",
        &format!("{host}/e2e:v1"),
        "--trust-policy",
        policy.to_str().unwrap(),
        "--trust-store",
        store.to_str().unwrap(),
    ]);
    assert!(
        out.contains(&format!("Successfully verified signature for {pinned}")),
        "{out}"
    );
    assert!(out.contains(&format!("signature:    {signature}")), "{out}");
    assert!(out.contains("signed by:    CN=e2e"), "{out}");
    let out = not_verified(
        &nv2,
        &[
            "verify",
            &pinned,
            "--trust-policy",
            policy.to_str().unwrap(),
            "--trust-store",
            wrong.to_str().unwrap(),
        ],
    );
    assert!(out.contains("authenticity:"), "{out}");
}

#[test]
fn a_notation_signature_verifies_on_nv2_registry() {
    let reg = LocalRegistry::start();
    notation_vector_verifies(&reg.host(), true);
}

#[test]
fn a_notation_signature_verifies_on_distribution() {
    let Some(dist) = require(Distribution::start(), "docker-registry is not installed") else {
        return;
    };
    notation_vector_verifies(&dist.addr, false);
}

/// The configuration verbs: `cert add/ls/show/delete`, `policy import` refusing an invalid
/// policy and keeping the old one, missing pieces naming their fix, and `generate-test
/// --default` then `sign` without flags.
#[test]
fn configuration_verbs() {
    let Some(nv2) = Nv2::new() else { return };
    let reg = LocalRegistry::start();
    let host = reg.host();
    let pusher = Pusher::new(&host);
    let (pinned, _) = image(&pusher, &host, "app", "v1");

    // Missing policy, then missing store: each error names the command that fixes it.
    let err = nv2.fails(&["verify", &pinned], 2);
    assert!(err.contains("nv2 policy init"), "{err}");
    let good = policy_file(
        &nv2,
        "good.json",
        "strict",
        &["ca:team"],
        &[&format!("{host}/app")],
    );
    let out = nv2.ok(&["policy", "import", good.to_str().unwrap()]);
    assert!(out.contains("imported successfully"), "{out}");
    let err = nv2.fails(&["verify", &pinned], 2);
    assert!(err.contains("nv2 cert add --type ca --store team"), "{err}");

    // An invalid policy is refused and the good one stays.
    let shown = nv2.ok(&["policy", "show"]);
    let bad = nv2.write(
        "bad.json",
        br#"{"version": "1.0", "trustPolicies": [{"name": "x", "registryScopes": ["*"], "signatureVerification": {"level": "strict"}}]}"#,
    );
    nv2.fails(&["policy", "import", bad.to_str().unwrap()], 2);
    let not_json = nv2.write("not.json", b"{");
    nv2.fails(
        &["policy", "import", not_json.to_str().unwrap(), "--force"],
        2,
    );
    assert_eq!(nv2.ok(&["policy", "show"]), shown);
    assert!(shown.contains(&format!("{host}/app")), "{shown}");

    // cert add / ls / show / delete.
    let (_, a) = generate(&nv2, "a", "ec-p256");
    let (_, b) = generate(&nv2, "b", "ec-p256");
    nv2.ok(&[
        "cert",
        "add",
        "--type",
        "ca",
        "--store",
        "team",
        a.to_str().unwrap(),
        b.to_str().unwrap(),
    ]);
    nv2.fails(
        &[
            "cert",
            "add",
            "--type",
            "ca",
            "--store",
            "team",
            a.to_str().unwrap(),
        ],
        2,
    );
    nv2.fails(
        &[
            "cert",
            "add",
            "--type",
            "ca",
            "--store",
            "team",
            bad.to_str().unwrap(),
        ],
        2,
    );
    nv2.ok(&[
        "cert",
        "add",
        "--type",
        "signingAuthority",
        "--store",
        "sa",
        a.to_str().unwrap(),
    ]);
    assert_eq!(
        nv2.ok(&["cert", "ls"]),
        "ca/team/a.crt\nca/team/b.crt\nsigningAuthority/sa/a.crt\n"
    );
    assert_eq!(nv2.ok(&["cert", "ls", "--type", "ca"]).lines().count(), 2);
    let show = nv2.ok(&["cert", "show", "--type", "ca", "--store", "team", "a.crt"]);
    assert!(
        show.contains("Subject: CN=a,O=Notary,L=Seattle,ST=WA,C=US"),
        "{show}"
    );
    assert!(nv2
        .config_dir()
        .join("truststore/x509/ca/team/a.crt")
        .is_file());
    nv2.ok(&["cert", "delete", "--type", "ca", "--store", "team", "a.crt"]);
    assert_eq!(nv2.ok(&["cert", "ls", "--type", "ca"]), "ca/team/b.crt\n");
    nv2.fails(
        &["cert", "delete", "--type", "ca", "--store", "team", "a.crt"],
        2,
    );
    nv2.ok(&[
        "cert",
        "delete",
        "--type",
        "signingAuthority",
        "--store",
        "sa",
        "--all",
    ]);
    assert_eq!(nv2.ok(&["cert", "ls"]), "ca/team/b.crt\n");

    // generate-test --default, then sign and verify without key flags.
    let err = nv2.fails(&["sign", &pinned], 2);
    assert!(
        err.contains("nv2 cert generate-test NAME --default"),
        "{err}"
    );
    let out = nv2.ok(&["cert", "generate-test", "wabbit", "--default"]);
    assert!(out.contains("to named store wabbit of type ca"), "{out}");
    let keys: Value =
        serde_json::from_slice(&std::fs::read(nv2.config_dir().join("signingkeys.json")).unwrap())
            .unwrap();
    assert_eq!(keys["default"], "wabbit");
    assert_eq!(
        keys["keys"][0]["certPath"],
        nv2.config_dir()
            .join("localkeys/wabbit.crt")
            .canonicalize()
            .unwrap()
            .to_str()
            .unwrap()
    );
    let out = nv2.ok(&["sign", &pinned]);
    assert!(
        out.contains(&format!("Successfully signed {pinned}")),
        "{out}"
    );
    nv2.ok(&[
        "policy",
        "init",
        "--name",
        "w",
        "--store",
        "ca:wabbit",
        "--scope",
        &format!("{host}/app"),
        "--force",
    ]);
    let out = nv2.ok(&["verify", &pinned]);
    assert!(out.contains("signed by:    CN=wabbit"), "{out}");
    assert!(out.contains("trust policy: w (level strict)"), "{out}");
    // --time: verified as of then (the test certificate is valid for one year).
    let out = not_verified(&nv2, &["verify", &pinned, "--time", "2099-01-01T00:00:00Z"]);
    assert!(out.contains("authenticTimestamp:"), "{out}");
    nv2.fails(&["verify", &pinned, "--time", "yesterday"], 2);
    // The old forms of verify still parse (--request needs no REF).
    nv2.fails(&["verify", &pinned, "--request", "x.json"], 2);
}

/// A referrers index that lists another subject's signature (a tag schema anyone who may push
/// can write) does not count, and does not hide a good signature either.
#[test]
fn a_listed_signature_of_another_subject_is_skipped() {
    let Some(nv2) = Nv2::new() else { return };
    let Some(dist) = require(Distribution::start(), "docker-registry is not installed") else {
        return;
    };
    let host = dist.addr.clone();
    let pusher = Pusher::new(&host);
    let keys = generate(&nv2, "k", "ec-p256");
    nv2.ok(&[
        "cert",
        "add",
        "--type",
        "ca",
        "--store",
        "k",
        keys.1.to_str().unwrap(),
    ]);
    nv2.ok(&[
        "policy", "init", "--name", "p", "--store", "ca:k", "--scope", "*",
    ]);
    let (a, _) = image(&pusher, &host, "app", "a");
    let (b, b_desc) = image(&pusher, &host, "app", "b");
    let out = sign(&nv2, &a, &keys, &[]);
    let a_signature = out
        .lines()
        .find_map(|l| l.strip_prefix("Signature manifest: "))
        .unwrap()
        .to_string();
    let a_manifest = nv2.ok(&["manifest", "fetch", &format!("{host}/app@{a_signature}")]);
    let b_hex = b_desc["digest"]
        .as_str()
        .unwrap()
        .trim_start_matches("sha256:");
    let index = json!({"schemaVersion": 2, "mediaType": nv2_e2e::oci::OCI_INDEX, "manifests": [{
        "mediaType": nv2_e2e::oci::OCI_MANIFEST, "digest": a_signature, "size": a_manifest.len(),
        "artifactType": "application/vnd.cncf.notary.signature"}]});
    pusher.manifest(
        "app",
        &format!("sha256-{b_hex}"),
        index.to_string().as_bytes(),
        nv2_e2e::oci::OCI_INDEX,
    );

    let out = not_verified(&nv2, &["verify", &b]);
    assert!(out.contains(&format!("{a_signature} skipped")), "{out}");
    assert!(out.contains("its subject is"), "{out}");

    sign(&nv2, &b, &keys, &[]);
    let out = nv2.run(&["verify", &b]);
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(0), "{stdout}{stderr}");
    assert!(
        stderr.contains(&format!("skipped signature manifest {a_signature}")),
        "{stderr}"
    );
}

/// The prototype's ORAS artifact manifest (`application/vnd.cncf.oras.artifact.manifest.v1+json`,
/// the envelope in `blobs`) is the third generation of signature manifests: `verify` finds and
/// verifies it too.
#[test]
fn an_oras_artifact_manifest_signature_verifies_on_nv2_registry() {
    let Some(nv2) = Nv2::new() else { return };
    let reg = LocalRegistry::start();
    let host = reg.host();
    let pusher = Pusher::new(&host);
    let keys = generate(&nv2, "oras", "ec-p256");
    nv2.ok(&[
        "cert",
        "add",
        "--type",
        "ca",
        "--store",
        "oras",
        keys.1.to_str().unwrap(),
    ]);
    nv2.ok(&[
        "policy", "init", "--name", "p", "--store", "ca:oras", "--scope", "*",
    ]);
    let (pinned, subject) = image(&pusher, &host, "app", "v1");
    let subject_file = nv2.write("subject.json", subject.to_string().as_bytes());
    let envelope = nv2_sign_envelope(&nv2, &keys, &subject_file);
    let envelope_digest = pusher.blob("app", &envelope);
    let media = "application/vnd.cncf.oras.artifact.manifest.v1+json";
    let manifest = json!({
        "mediaType": media,
        "artifactType": "application/vnd.cncf.notary.signature",
        "blobs": [{"mediaType": "application/jose+json", "digest": envelope_digest, "size": envelope.len()}],
        "subject": subject,
    });
    let body = serde_json::to_vec(&manifest).unwrap();
    let digest = nv2_e2e::oci::digest_of(&body);
    pusher.manifest("app", &digest, &body, media);
    let out = nv2.ok(&["verify", &pinned]);
    assert!(out.contains(&format!("signature:    {digest}")), "{out}");
    assert!(nv2.ok(&["list", &pinned]).contains(&digest));
}
