//! The OPA bundle (DESIGN.md, Contract 2): `dist/bundle/` and `dist/bundle.tar.gz` holding
//! `/.manifest`, `/policy.wasm` and the Rego files of `rego/notary/` (tests excluded).
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

/// The manifest: one root, and the wasm module answering `data.notary.verify`.
pub const MANIFEST: &str =
    r#"{"roots":["notary"],"wasm":[{"entrypoint":"notary/verify","module":"/policy.wasm"}]}"#;

/// One file of the bundle: its path inside the bundle (starting with `/`) and its bytes.
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
            path: format!("/notary/{name}"),
            bytes,
        });
    }
    Ok(entries)
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
            fs::write(dir.join(name), "package notary\n").unwrap();
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
        fs::write(dir.join("verify.rego"), "package notary\n").unwrap();
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
                    "/notary/verify.rego".to_string(),
                    b"package notary\n".to_vec()
                ),
            ]
        );
        // Deterministic: the same inputs give the same archive.
        assert_eq!(tarball(&entries).unwrap(), gz);
        let out = dir.join("bundle");
        write_dir(&out, &entries).unwrap();
        assert_eq!(
            fs::read(out.join("notary/verify.rego")).unwrap(),
            b"package notary\n"
        );
        assert_eq!(fs::read_to_string(out.join(".manifest")).unwrap(), MANIFEST);
        fs::remove_dir_all(&dir).unwrap();
    }
}
