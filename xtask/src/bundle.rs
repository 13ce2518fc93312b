//! The OPA bundle (DESIGN.md, Contract 2): `dist/bundle/` and `dist/bundle.tar.gz` holding
//! `/.manifest`, `/policy.wasm` and the Rego files of `rego/notary/` (tests excluded) under
//! `/notary/policy/`; and the optional configuration bundle, whose one root is `notary/config`.
//!
//! A bundle owns its roots: when OPA activates it, every document under a root that the bundle
//! does not carry is erased, and two bundles may not share or nest roots. So the policy bundle's
//! roots are exactly `notary/policy` (the Rego) and `notary/verify` (the module's entrypoint),
//! leaving `notary/config` to the user's `-d`, the Data API or the configuration bundle;
//! [`check_roots`] holds the packed files to that, as `opa build` and bundle activation do.
//!
//! Tarball entry names start with `/`, as `opa build` writes them: OPA resolves the manifest's
//! `"module": "/policy.wasm"` against the archive's entry names. The archive is deterministic
//! (sorted entries, zero timestamps and owners), so rebuilding the same inputs gives the same
//! bytes.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use flate2::write::GzEncoder;
use flate2::Compression;

/// The policy bundle's roots: its Rego package and the wasm entrypoint, nothing else.
pub const ROOTS: [&str; 2] = ["notary/policy", "notary/verify"];

/// Where the configuration lives: beside the roots, never under one.
pub const CONFIG_ROOT: &str = "notary/config";

/// The manifest: the two roots, and the wasm module answering `data.notary.verify`.
pub const MANIFEST: &str = r#"{"roots":["notary/policy","notary/verify"],"wasm":[{"entrypoint":"notary/verify","module":"/policy.wasm"}]}"#;

/// The configuration bundle's manifest.
pub const CONFIG_MANIFEST: &str = r#"{"roots":["notary/config"]}"#;

/// One file of the bundle: its path inside the bundle (starting with `/`) and its bytes.
#[derive(Debug)]
pub struct Entry {
    pub path: String,
    pub bytes: Vec<u8>,
}

/// The bundle's files: manifest, module, then the Rego files in name order.
pub fn entries(policy_wasm: Vec<u8>, rego_dir: &Path) -> Result<Vec<Entry>, String> {
    let mut entries = vec![
        Entry {
            path: "/.manifest".into(),
            bytes: MANIFEST.as_bytes().to_vec(),
        },
        Entry {
            path: "/policy.wasm".into(),
            bytes: policy_wasm,
        },
    ];
    for path in rego_files(rego_dir)? {
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .ok_or_else(|| format!("{}: not a UTF-8 name", path.display()))?;
        let bytes = fs::read(&path).map_err(|e| format!("{}: {e}", path.display()))?;
        entries.push(Entry {
            path: format!("/notary/policy/{name}"),
            bytes,
        });
    }
    check_roots(&entries)?;
    Ok(entries)
}

/// Whether `path` (slash-separated) is `root` or lies under it.
fn under(path: &str, root: &str) -> bool {
    path == root || path.starts_with(&format!("{root}/"))
}

/// The rules OPA applies to a bundle, for ours: the roots neither nest nor reach the
/// configuration, the entrypoint is under a root, and every Rego file's package is under one
/// (OPA refuses to activate a bundle with a package outside its roots).
pub fn check_roots(entries: &[Entry]) -> Result<(), String> {
    let mut problems = Vec::new();
    for (i, a) in ROOTS.iter().enumerate() {
        for b in &ROOTS[i + 1..] {
            if under(a, b) || under(b, a) {
                problems.push(format!("roots {a} and {b} overlap"));
            }
        }
        if under(CONFIG_ROOT, a) || under(a, CONFIG_ROOT) {
            problems.push(format!(
                "root {a} would own {CONFIG_ROOT}: OPA would erase the user's configuration"
            ));
        }
    }
    if !ROOTS.iter().any(|r| under("notary/verify", r)) {
        problems.push("the entrypoint notary/verify is under no root".into());
    }
    for entry in entries.iter().filter(|e| e.path.ends_with(".rego")) {
        let text = String::from_utf8_lossy(&entry.bytes);
        match rego_package(&text) {
            None => problems.push(format!("{}: no package declaration", entry.path)),
            Some(package) => {
                let path = package.replace('.', "/");
                if !ROOTS.iter().any(|r| under(&path, r)) {
                    problems.push(format!(
                        "{}: package {package} is outside the bundle's roots {ROOTS:?}",
                        entry.path
                    ));
                }
            }
        }
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(problems.join("; "))
    }
}

/// The `package a.b` of a Rego file (the first such line; comments before it are fine).
fn rego_package(text: &str) -> Option<String> {
    text.lines()
        .map(str::trim)
        .find_map(|l| l.strip_prefix("package "))
        .map(|p| p.trim().to_string())
}

/// The configuration bundle for `config`: either the `-d` document
/// (`{"notary": {"config": {…}}}`) or the bare configuration (`{"trustPolicy": …}`), written as
/// `/notary/config/data.json` under the one root `notary/config`.
pub fn config_entries(config: &[u8]) -> Result<Vec<Entry>, String> {
    let document: serde_json::Value = serde_json::from_slice(config)
        .map_err(|e| format!("the configuration is not JSON: {e}"))?;
    let config = match document.pointer("/notary/config") {
        Some(inner) => inner,
        None if document.get("notary").is_some() => {
            return Err("the document has `notary` but no `notary.config`".into())
        }
        None => &document,
    };
    let Some(fields) = config.as_object() else {
        return Err("the configuration must be a JSON object".into());
    };
    if !fields.contains_key("trustPolicy") {
        return Err(
            "the configuration has no trustPolicy: the policy would deny every image".into(),
        );
    }
    let mut data = serde_json::to_vec_pretty(config).map_err(|e| e.to_string())?;
    data.push(b'\n');
    Ok(vec![
        Entry {
            path: "/.manifest".into(),
            bytes: CONFIG_MANIFEST.as_bytes().to_vec(),
        },
        Entry {
            path: "/notary/config/data.json".into(),
            bytes: data,
        },
    ])
}

/// `rego/notary/*.rego` without the `*_test.rego` unit tests; none (or no folder) is fine.
pub fn rego_files(dir: &Path) -> Result<Vec<PathBuf>, String> {
    if !dir.is_dir() {
        return Ok(Vec::new());
    }
    let mut files: Vec<PathBuf> = fs::read_dir(dir)
        .map_err(|e| format!("{}: {e}", dir.display()))?
        .map(|e| e.map(|e| e.path()).map_err(|e| e.to_string()))
        .collect::<Result<Vec<_>, _>>()?
        .into_iter()
        .filter(|p| {
            let name = p.file_name().and_then(|n| n.to_str()).unwrap_or("");
            p.is_file() && name.ends_with(".rego") && !name.ends_with("_test.rego")
        })
        .collect();
    files.sort();
    Ok(files)
}

/// Writes the unpacked tree: `dir` is emptied first, so files removed from `rego/notary/`
/// do not linger.
pub fn write_dir(dir: &Path, entries: &[Entry]) -> Result<(), String> {
    if dir.exists() {
        fs::remove_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    }
    for entry in entries {
        let path = dir.join(entry.path.trim_start_matches('/'));
        if let Some(parent) = path.parent() {
            fs::create_dir_all(parent).map_err(|e| format!("{}: {e}", parent.display()))?;
        }
        fs::write(&path, &entry.bytes).map_err(|e| format!("{}: {e}", path.display()))?;
    }
    Ok(())
}

/// The gzipped tarball of the entries, names as given (with their leading `/`).
pub fn tarball(entries: &[Entry]) -> Result<Vec<u8>, String> {
    let mut builder = tar::Builder::new(GzEncoder::new(Vec::new(), Compression::best()));
    for entry in entries {
        let mut header = tar::Header::new_ustar();
        // The tar crate refuses absolute names in `set_path`, so the name goes into the header
        // field directly; ours are short, the ustar name field holds 100 bytes.
        let name = entry.path.as_bytes();
        if name.len() >= 100 {
            return Err(format!("{}: name too long for a ustar header", entry.path));
        }
        header.as_ustar_mut().expect("a ustar header").name[..name.len()].copy_from_slice(name);
        header.set_entry_type(tar::EntryType::Regular);
        header.set_size(entry.bytes.len() as u64);
        header.set_mode(0o644);
        header.set_mtime(0);
        header.set_uid(0);
        header.set_gid(0);
        header.set_cksum();
        builder
            .append(&header, entry.bytes.as_slice())
            .map_err(|e| format!("tar {}: {e}", entry.path))?;
    }
    let gz = builder.into_inner().map_err(|e| format!("tar: {e}"))?;
    let mut bytes = gz.finish().map_err(|e| format!("gzip: {e}"))?;
    bytes.flush().map_err(|e| e.to_string())?;
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    fn temp_dir(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("xtask-{name}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[test]
    fn rego_tests_are_left_out_and_files_sorted() {
        let dir = temp_dir("rego");
        for name in ["b.rego", "a.rego", "a_test.rego", "notes.md"] {
            fs::write(dir.join(name), "package notary.policy\n").unwrap();
        }
        let names: Vec<String> = rego_files(&dir)
            .unwrap()
            .iter()
            .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
            .collect();
        assert_eq!(names, ["a.rego", "b.rego"]);
        assert!(rego_files(&dir.join("missing")).unwrap().is_empty());
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn tarball_names_start_with_a_slash_and_hold_the_bytes() {
        let dir = temp_dir("tar");
        fs::write(dir.join("policy.rego"), "package notary.policy\n").unwrap();
        let entries = entries(b"\0asm".to_vec(), &dir).unwrap();
        let gz = tarball(&entries).unwrap();
        let mut archive = tar::Archive::new(flate2::read::GzDecoder::new(gz.as_slice()));
        let mut seen = Vec::new();
        for entry in archive.entries().unwrap() {
            let mut entry = entry.unwrap();
            let name = String::from_utf8(entry.path_bytes().into_owned()).unwrap();
            let mut bytes = Vec::new();
            entry.read_to_end(&mut bytes).unwrap();
            seen.push((name, bytes));
        }
        assert_eq!(
            seen,
            vec![
                ("/.manifest".to_string(), MANIFEST.as_bytes().to_vec()),
                ("/policy.wasm".to_string(), b"\0asm".to_vec()),
                (
                    "/notary/policy/policy.rego".to_string(),
                    b"package notary.policy\n".to_vec()
                ),
            ]
        );
        // Deterministic: the same inputs give the same archive.
        assert_eq!(tarball(&entries).unwrap(), gz);
        let out = dir.join("bundle");
        write_dir(&out, &entries).unwrap();
        assert_eq!(
            fs::read(out.join("notary/policy/policy.rego")).unwrap(),
            b"package notary.policy\n"
        );
        assert_eq!(fs::read_to_string(out.join(".manifest")).unwrap(), MANIFEST);
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn the_manifest_names_exactly_the_roots() {
        let manifest: serde_json::Value = serde_json::from_str(MANIFEST).unwrap();
        assert_eq!(manifest["roots"], serde_json::json!(ROOTS));
        assert_eq!(manifest["wasm"][0]["entrypoint"], "notary/verify");
        let config: serde_json::Value = serde_json::from_str(CONFIG_MANIFEST).unwrap();
        assert_eq!(config["roots"], serde_json::json!([CONFIG_ROOT]));
    }

    #[test]
    fn a_package_outside_the_roots_is_refused() {
        for (package, ok) in [
            ("notary.policy", true),
            ("notary.policy.helpers", true),
            ("notary", false),
            ("notary.config", false),
            ("notary.policyx", false),
        ] {
            let dir = temp_dir(&format!("roots-{package}"));
            fs::write(
                dir.join("p.rego"),
                format!("# header\npackage {package}\n\nimport rego.v1\n"),
            )
            .unwrap();
            let result = entries(Vec::new(), &dir);
            assert_eq!(result.is_ok(), ok, "{package}");
            if let Err(e) = result {
                assert!(
                    e.contains("/notary/policy/p.rego") && e.contains(package),
                    "{e}"
                );
            }
            fs::remove_dir_all(&dir).unwrap();
        }
        let no_package = [Entry {
            path: "/notary/policy/x.rego".into(),
            bytes: b"allow := true\n".to_vec(),
        }];
        assert!(check_roots(&no_package)
            .unwrap_err()
            .contains("no package declaration"));
    }

    #[test]
    fn the_config_bundle_takes_either_form_and_refuses_a_useless_one() {
        let bare = br#"{"trustPolicy": {"version": "1.0"}, "trustStores": {}}"#;
        let wrapped =
            br#"{"notary": {"config": {"trustPolicy": {"version": "1.0"}, "trustStores": {}}}}"#;
        let a = config_entries(bare).unwrap();
        let b = config_entries(wrapped).unwrap();
        assert_eq!(a[0].path, "/.manifest");
        assert_eq!(a[1].path, "/notary/config/data.json");
        assert_eq!(a[1].bytes, b[1].bytes);
        let data: serde_json::Value = serde_json::from_slice(&a[1].bytes).unwrap();
        assert_eq!(data["trustPolicy"]["version"], "1.0");
        for (bad, message) in [
            (&b"{ nope"[..], "not JSON"),
            (b"[1]", "must be a JSON object"),
            (br#"{"notary": {"policy": {}}}"#, "no `notary.config`"),
            (br#"{"trustStores": {}}"#, "no trustPolicy"),
        ] {
            let e = config_entries(bad).unwrap_err();
            assert!(e.contains(message), "{e}");
        }
    }
}
