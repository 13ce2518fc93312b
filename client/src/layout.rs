//! OCI image layouts on disk (image-spec `image-layout.md`), read and written:
//!
//! ```text
//! DIR/
//! ├── oci-layout          {"imageLayoutVersion":"1.0.0"}
//! ├── index.json          an image index; tags are `org.opencontainers.image.ref.name` annotations
//! └── blobs/<alg>/<hex>   every blob and manifest, by digest
//! ```
//!
//! Every write is atomic (a temporary file beside the target, then a rename) and every blob is
//! checked against its digest and size before it is renamed into place, so a reader never sees a
//! half-written blob or `index.json`.
//!
//! Referrers: as oras-go's `oci.Store` does, a manifest copied as a referrer is listed in
//! `index.json` without a `ref.name` (an untagged entry, with its `artifactType`), and the
//! referrers of a digest are the listed manifests whose `subject` names it. skopeo and other
//! readers ignore untagged entries when they look up a tag, and oras finds them again.

use std::collections::HashMap;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use bytes::Bytes;
use oci_model::{media_type, Descriptor, Digest, Manifest};
use serde_json::{json, Value};
use sha2::Digest as _;

use crate::remote::{Error, Result};

/// The annotation that names a tag in `index.json`.
pub const REF_NAME: &str = "org.opencontainers.image.ref.name";
/// The layout version written (and the major version read).
pub const LAYOUT_VERSION: &str = "1.0.0";
/// The largest manifest read from a layout (the registry client's limit).
const MANIFEST_LIMIT: u64 = 4 * 1024 * 1024;

/// One OCI image layout directory.
#[derive(Debug)]
pub struct Layout {
    root: PathBuf,
    /// Serialises `index.json` read-modify-write cycles of this process.
    index_lock: Mutex<()>,
    /// subject digest → referrers, built once from `index.json` on first use.
    subjects: Mutex<Option<HashMap<Digest, Vec<Descriptor>>>>,
}

impl Layout {
    /// Opens an existing layout; refuses a folder without a valid `oci-layout` file.
    pub fn open(root: impl Into<PathBuf>) -> Result<Layout> {
        let root = root.into();
        let marker = root.join("oci-layout");
        let text = std::fs::read(&marker).map_err(|e| {
            if e.kind() == std::io::ErrorKind::NotFound {
                Error::Invalid(format!(
                    "{} is not an OCI image layout: {} is missing (check the path; `nv2 copy --to-oci-layout` writes one)",
                    root.display(),
                    marker.display()
                ))
            } else {
                Error::io(marker.display(), e)
            }
        })?;
        check_layout_version(&text)
            .map_err(|problem| Error::Invalid(format!("{}: {problem}", marker.display())))?;
        let layout = Layout::at(root);
        layout.read_index()?;
        Ok(layout)
    }

    /// Opens the layout at `root`, creating the folder, `oci-layout` and an empty `index.json`
    /// when they are missing.
    pub fn create(root: impl Into<PathBuf>) -> Result<Layout> {
        let root = root.into();
        let blobs = root.join("blobs");
        std::fs::create_dir_all(&blobs).map_err(|e| Error::io(blobs.display(), e))?;
        let marker = root.join("oci-layout");
        if !marker.exists() {
            let text = json!({ "imageLayoutVersion": LAYOUT_VERSION }).to_string();
            write_atomic(&marker, text.as_bytes())?;
        }
        let index = root.join("index.json");
        if !index.exists() {
            let empty = json!({
                "schemaVersion": 2,
                "mediaType": media_type::OCI_INDEX,
                "manifests": [],
            });
            write_atomic(&index, empty.to_string().as_bytes())?;
        }
        Layout::open(root)
    }

    fn at(root: PathBuf) -> Layout {
        Layout {
            root,
            index_lock: Mutex::new(()),
            subjects: Mutex::new(None),
        }
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// `blobs/<alg>/<hex>`: where the content of `digest` lives.
    pub fn blob_path(&self, digest: &Digest) -> PathBuf {
        self.root
            .join("blobs")
            .join(digest.algorithm().as_str())
            .join(digest.hex())
    }

    /// Whether the layout holds the blob (a file of the descriptor's size).
    pub fn has_blob(&self, descriptor: &Descriptor) -> bool {
        std::fs::metadata(self.blob_path(&descriptor.digest))
            .is_ok_and(|m| m.is_file() && m.len() == descriptor.size)
    }

    /// A manifest's bytes, checked against the descriptor's size and digest.
    pub fn read_manifest(&self, descriptor: &Descriptor) -> Result<Bytes> {
        let path = self.blob_path(&descriptor.digest);
        let what = format!(
            "read manifest {} from {}",
            descriptor.digest,
            self.root.display()
        );
        if descriptor.size > MANIFEST_LIMIT {
            return Err(Error::Invalid(format!(
                "{what}: {} bytes is more than a manifest may be ({MANIFEST_LIMIT})",
                descriptor.size
            )));
        }
        let bytes = std::fs::read(&path).map_err(|e| {
            if e.kind() == std::io::ErrorKind::NotFound {
                Error::Invalid(format!(
                    "{what}: {} is missing: the layout is incomplete",
                    path.display()
                ))
            } else {
                Error::io(path.display(), e)
            }
        })?;
        check_content(&what, descriptor, &bytes)?;
        Ok(Bytes::from(bytes))
    }

    /// Writes a blob held in memory (a manifest), checked first.
    pub fn write_blob_bytes(&self, descriptor: &Descriptor, bytes: &[u8]) -> Result<()> {
        let what = format!("write {} into {}", descriptor.digest, self.root.display());
        check_content(&what, descriptor, bytes)?;
        if self.has_blob(descriptor) {
            return Ok(());
        }
        let path = self.blob_path(&descriptor.digest);
        write_atomic(&path, bytes)
    }

    /// Copies the file at `from` in as the blob of `descriptor`, streamed and hashed on the way;
    /// nothing lands under `blobs/` unless size and digest match. Blocking: call it off the
    /// async workers.
    pub fn write_blob_file(&self, descriptor: &Descriptor, from: &Path) -> Result<()> {
        let path = self.blob_path(&descriptor.digest);
        let what = format!("copy {} into {}", from.display(), self.root.display());
        let dir = path.parent().expect("blobs/<alg>");
        std::fs::create_dir_all(dir).map_err(|e| Error::io(dir.display(), e))?;
        let mut input = std::fs::File::open(from).map_err(|e| Error::io(from.display(), e))?;
        let mut tmp =
            tempfile::NamedTempFile::new_in(dir).map_err(|e| Error::io(dir.display(), e))?;
        let mut hasher = sha2::Sha256::new();
        let mut size = 0u64;
        let mut buf = vec![0u8; 1 << 20];
        loop {
            let n = input
                .read(&mut buf)
                .map_err(|e| Error::io(from.display(), e))?;
            if n == 0 {
                break;
            }
            size += n as u64;
            if size > descriptor.size {
                break;
            }
            hasher.update(&buf[..n]);
            tmp.write_all(&buf[..n])
                .map_err(|e| Error::io(dir.display(), e))?;
        }
        if size != descriptor.size {
            return Err(Error::SizeMismatch {
                what,
                expected: descriptor.size,
                actual: size,
            });
        }
        let actual = Digest::from_sha256(hasher.finalize().into());
        if actual != descriptor.digest {
            return Err(Error::DigestMismatch {
                what,
                expected: descriptor.digest.to_string(),
                actual: actual.to_string(),
            });
        }
        tmp.as_file()
            .sync_all()
            .map_err(|e| Error::io(dir.display(), e))?;
        tmp.persist(&path)
            .map_err(|e| Error::io(path.display(), e.error))?;
        Ok(())
    }

    /// The entries of `index.json` (unknown fields dropped).
    pub fn entries(&self) -> Result<Vec<Descriptor>> {
        let index = self.read_index()?;
        let path = self.index_path();
        index["manifests"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|e| {
                serde_json::from_value(e.clone()).map_err(|err| {
                    Error::Invalid(format!("{}: a manifests entry: {err}", path.display()))
                })
            })
            .collect()
    }

    /// The tags (`ref.name` values) of `index.json`, in file order.
    pub fn tags(&self) -> Result<Vec<String>> {
        Ok(self
            .entries()?
            .iter()
            .filter_map(ref_name)
            .map(str::to_string)
            .collect())
    }

    /// The descriptor a tag or digest names. Without one (`None`), the only manifest of the
    /// index, as skopeo reads `oci:DIR`.
    pub fn resolve(&self, reference: Option<&str>) -> Result<Descriptor> {
        let entries = self.entries()?;
        let strip = |mut d: Descriptor| {
            d.annotations = None;
            d
        };
        match reference {
            None if entries.len() == 1 => Ok(strip(entries[0].clone())),
            None => Err(Error::Invalid(format!(
                "{}: index.json lists {} manifests: name one as DIR:TAG or DIR@DIGEST (tags: {})",
                self.root.display(),
                entries.len(),
                self.tags()?.join(", ")
            ))),
            Some(r) => {
                if let Ok(digest) = r.parse::<Digest>() {
                    if let Some(e) = entries.iter().find(|e| e.digest == digest) {
                        return Ok(strip(e.clone()));
                    }
                    return Err(Error::Invalid(format!(
                        "{}: no manifest {digest} in index.json (give a listed tag or digest)",
                        self.root.display()
                    )));
                }
                match entries.into_iter().find(|e| ref_name(e) == Some(r)) {
                    Some(e) => Ok(strip(e)),
                    None => Err(Error::Invalid(format!(
                        "{}: no tag {r:?} in index.json (tags: {})",
                        self.root.display(),
                        self.tags()?.join(", ")
                    ))),
                }
            }
        }
    }

    /// Points `tag` at `descriptor` (any entry with that tag is replaced; an untagged entry of
    /// the same digest becomes redundant and goes).
    pub fn tag(&self, descriptor: &Descriptor, tag: &str) -> Result<()> {
        oci_model::validate_tag(tag).map_err(|e| Error::Invalid(format!("tag {tag:?}: {e}")))?;
        let mut entry = plain(descriptor);
        entry
            .annotations
            .get_or_insert_with(Default::default)
            .insert(REF_NAME.into(), tag.into());
        let digest = descriptor.digest.to_string();
        self.edit_index(|manifests| {
            manifests.retain(|e| {
                let name = e["annotations"][REF_NAME].as_str();
                let same = e["digest"].as_str() == Some(digest.as_str());
                name != Some(tag) && !(same && name.is_none())
            });
            manifests.push(json!(entry));
        })
    }

    /// Lists `descriptor` in `index.json` without a tag (a referrer, or a root copied by
    /// digest), unless some entry already lists its digest.
    pub fn add_untagged(&self, descriptor: &Descriptor) -> Result<()> {
        let entry = plain(descriptor);
        let digest = descriptor.digest.to_string();
        self.edit_index(|manifests| {
            if !manifests
                .iter()
                .any(|e| e["digest"].as_str() == Some(&digest))
            {
                manifests.push(json!(entry));
            }
        })?;
        // A new referrer: the cached subject map must learn it.
        *self.subjects.lock().unwrap_or_else(|e| e.into_inner()) = None;
        Ok(())
    }

    /// The manifests listed in `index.json` whose `subject` is `subject`, with their artifact
    /// type and annotations, as the referrers API describes them.
    pub fn referrers(&self, subject: &Digest) -> Result<Vec<Descriptor>> {
        let mut cache = self.subjects.lock().unwrap_or_else(|e| e.into_inner());
        if cache.is_none() {
            let mut map: HashMap<Digest, Vec<Descriptor>> = HashMap::new();
            for entry in self.entries()? {
                let bytes = self.read_manifest(&entry)?;
                let Ok(m) = Manifest::parse(&bytes, Some(&entry.media_type)) else {
                    continue;
                };
                let Some(s) = &m.subject else { continue };
                let mut d =
                    Descriptor::new(entry.media_type.clone(), entry.digest.clone(), entry.size);
                d.artifact_type = m.effective_artifact_type().map(str::to_string);
                d.annotations = m.annotations.clone();
                let list = map.entry(s.digest.clone()).or_default();
                if !list.iter().any(|x| x.digest == d.digest) {
                    list.push(d);
                }
            }
            *cache = Some(map);
        }
        Ok(cache
            .as_ref()
            .and_then(|m| m.get(subject).cloned())
            .unwrap_or_default())
    }

    fn index_path(&self) -> PathBuf {
        self.root.join("index.json")
    }

    fn read_index(&self) -> Result<Value> {
        let path = self.index_path();
        let bytes = std::fs::read(&path).map_err(|e| {
            if e.kind() == std::io::ErrorKind::NotFound {
                Error::Invalid(format!(
                    "{} is not an OCI image layout: {} is missing",
                    self.root.display(),
                    path.display()
                ))
            } else {
                Error::io(path.display(), e)
            }
        })?;
        parse_index(&bytes)
            .map_err(|problem| Error::Invalid(format!("{}: {problem}", path.display())))
    }

    /// Read, change and atomically rewrite `index.json`; other fields are kept as they were.
    fn edit_index(&self, change: impl FnOnce(&mut Vec<Value>)) -> Result<()> {
        let _guard = self.index_lock.lock().unwrap_or_else(|e| e.into_inner());
        let mut index = self.read_index()?;
        let mut manifests = index["manifests"].as_array().cloned().unwrap_or_default();
        change(&mut manifests);
        index["manifests"] = Value::Array(manifests);
        let bytes = serde_json::to_vec(&index).expect("an index serialises");
        write_atomic(&self.index_path(), &bytes)
    }
}

/// The tag of an `index.json` entry.
pub fn ref_name(entry: &Descriptor) -> Option<&str> {
    entry
        .annotations
        .as_ref()?
        .get(REF_NAME)
        .map(String::as_str)
}

/// The entry written for a descriptor: media type, digest, size and artifact type.
fn plain(descriptor: &Descriptor) -> Descriptor {
    let mut d = Descriptor::new(
        descriptor.media_type.clone(),
        descriptor.digest.clone(),
        descriptor.size,
    );
    d.artifact_type = descriptor.artifact_type.clone();
    d.platform = descriptor.platform.clone();
    d
}

/// `{"imageLayoutVersion": "1.x.y"}`: the major version must be 1.
fn check_layout_version(bytes: &[u8]) -> std::result::Result<(), String> {
    let v: Value = serde_json::from_slice(bytes).map_err(|e| format!("not JSON: {e}"))?;
    match v["imageLayoutVersion"].as_str() {
        Some(version) if version.split('.').next() == Some("1") => Ok(()),
        Some(version) => Err(format!(
            "image layout version {version:?} is not supported (1.x is)"
        )),
        None => Err("no imageLayoutVersion".into()),
    }
}

/// An `index.json`: a JSON object whose `manifests` is an array of descriptors.
fn parse_index(bytes: &[u8]) -> std::result::Result<Value, String> {
    let v: Value = serde_json::from_slice(bytes).map_err(|e| format!("not JSON: {e}"))?;
    if !v.is_object() {
        return Err("not a JSON object (an image index)".into());
    }
    let Some(manifests) = v["manifests"].as_array() else {
        return Err("no \"manifests\" array: not an image index".into());
    };
    for (i, m) in manifests.iter().enumerate() {
        serde_json::from_value::<Descriptor>(m.clone())
            .map_err(|e| format!("manifests[{i}] is not a descriptor: {e}"))?;
    }
    Ok(v)
}

/// Size and digest of content against its descriptor.
fn check_content(what: &str, descriptor: &Descriptor, bytes: &[u8]) -> Result<()> {
    crate::remote::check_content(
        what,
        descriptor,
        bytes.len() as u64,
        &descriptor.digest.recompute(bytes),
    )
}

/// Writes `bytes` to a temporary file beside `path`, then renames it over `path`.
fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).map_err(|e| Error::io(dir.display(), e))?;
    let mut tmp = tempfile::NamedTempFile::new_in(dir).map_err(|e| Error::io(dir.display(), e))?;
    tmp.write_all(bytes)
        .and_then(|()| tmp.as_file().sync_all())
        .map_err(|e| Error::io(path.display(), e))?;
    tmp.persist(path)
        .map_err(|e| Error::io(path.display(), e.error))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn manifest(n: u8) -> (Descriptor, Vec<u8>) {
        let bytes = format!(
            r#"{{"schemaVersion":2,"mediaType":"{}","config":{{"mediaType":"{}","digest":"{}","size":2}},"layers":[],"annotations":{{"n":"{n}"}}}}"#,
            media_type::OCI_MANIFEST,
            media_type::OCI_EMPTY,
            Digest::sha256_of(b"{}")
        )
        .into_bytes();
        let d = Descriptor::new(
            media_type::OCI_MANIFEST,
            Digest::sha256_of(&bytes),
            bytes.len() as u64,
        );
        (d, bytes)
    }

    #[test]
    fn a_created_layout_is_the_spec_s_tree_and_reopens() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("new/layout");
        let layout = Layout::create(&root).unwrap();
        let marker: Value =
            serde_json::from_slice(&std::fs::read(root.join("oci-layout")).unwrap()).unwrap();
        assert_eq!(marker, json!({"imageLayoutVersion": "1.0.0"}));
        let index: Value =
            serde_json::from_slice(&std::fs::read(root.join("index.json")).unwrap()).unwrap();
        assert_eq!(index["schemaVersion"], 2);
        assert_eq!(index["manifests"], json!([]));
        let (d, bytes) = manifest(1);
        layout.write_blob_bytes(&d, &bytes).unwrap();
        assert_eq!(
            std::fs::read(root.join("blobs/sha256").join(d.digest.hex())).unwrap(),
            bytes
        );
        layout.tag(&d, "v1").unwrap();
        let again = Layout::open(&root).unwrap();
        assert_eq!(again.resolve(Some("v1")).unwrap().digest, d.digest);
        assert_eq!(again.read_manifest(&d).unwrap(), bytes);
        assert_eq!(again.tags().unwrap(), ["v1"]);
        // The only manifest is what the folder alone names.
        assert_eq!(again.resolve(None).unwrap().digest, d.digest);
        // No temporary files are left beside what was written.
        let leftovers: Vec<_> = std::fs::read_dir(&root)
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .filter(|n| n.starts_with('.'))
            .collect();
        assert!(leftovers.is_empty(), "{leftovers:?}");
    }

    #[test]
    fn tags_move_and_untagged_entries_are_listed_once() {
        let dir = tempfile::tempdir().unwrap();
        let layout = Layout::create(dir.path()).unwrap();
        let (a, a_bytes) = manifest(1);
        let (b, b_bytes) = manifest(2);
        layout.write_blob_bytes(&a, &a_bytes).unwrap();
        layout.write_blob_bytes(&b, &b_bytes).unwrap();
        layout.add_untagged(&a).unwrap();
        layout.add_untagged(&a).unwrap();
        assert_eq!(layout.entries().unwrap().len(), 1);
        layout.tag(&a, "v1").unwrap();
        layout.tag(&a, "latest").unwrap();
        // Tagged, the untagged entry of the same digest goes; each tag is one entry.
        let entries = layout.entries().unwrap();
        assert_eq!(entries.len(), 2, "{entries:?}");
        assert!(entries.iter().all(|e| ref_name(e).is_some()));
        layout.tag(&b, "v1").unwrap();
        assert_eq!(layout.resolve(Some("v1")).unwrap().digest, b.digest);
        assert_eq!(layout.resolve(Some("latest")).unwrap().digest, a.digest);
        assert_eq!(
            layout.resolve(Some(&a.digest.to_string())).unwrap().digest,
            a.digest
        );
        let e = layout.resolve(Some("nope")).unwrap_err().to_string();
        assert!(
            e.contains("no tag \"nope\"") && e.contains("latest") && e.contains("v1"),
            "{e}"
        );
        let e = layout.resolve(None).unwrap_err().to_string();
        assert!(e.contains("DIR:TAG"), "{e}");
        assert!(layout.tag(&a, "-bad").is_err());
    }

    #[test]
    fn bad_layouts_are_refused_with_the_file_and_the_problem() {
        let dir = tempfile::tempdir().unwrap();
        let e = Layout::open(dir.path()).unwrap_err().to_string();
        assert!(
            e.contains("not an OCI image layout") && e.contains("oci-layout"),
            "{e}"
        );
        std::fs::write(
            dir.path().join("oci-layout"),
            br#"{"imageLayoutVersion":"2.0.0"}"#,
        )
        .unwrap();
        let e = Layout::open(dir.path()).unwrap_err().to_string();
        assert!(e.contains("2.0.0"), "{e}");
        std::fs::write(
            dir.path().join("oci-layout"),
            br#"{"imageLayoutVersion":"1.0.0"}"#,
        )
        .unwrap();
        let e = Layout::open(dir.path()).unwrap_err().to_string();
        assert!(e.contains("index.json is missing"), "{e}");
        for (body, problem) in [
            (&b"{"[..], "not JSON"),
            (b"[]", "not a JSON object"),
            (br#"{"schemaVersion":2}"#, "no \"manifests\" array"),
            (
                br#"{"manifests":[{"mediaType":"x","digest":"sha256:12","size":1}]}"#,
                "manifests[0]",
            ),
        ] {
            std::fs::write(dir.path().join("index.json"), body).unwrap();
            let e = Layout::open(dir.path()).unwrap_err().to_string();
            assert!(
                e.contains("index.json") && e.contains(problem),
                "{problem}: {e}"
            );
        }
    }

    #[test]
    fn blobs_are_checked_before_they_land() {
        let dir = tempfile::tempdir().unwrap();
        let layout = Layout::create(dir.path().join("l")).unwrap();
        let (d, bytes) = manifest(1);
        let mut wrong = d.clone();
        wrong.size += 1;
        assert!(matches!(
            layout.write_blob_bytes(&wrong, &bytes),
            Err(Error::SizeMismatch { .. })
        ));
        let src = dir.path().join("blob");
        std::fs::write(&src, b"other bytes").unwrap();
        let mut lying = d.clone();
        lying.size = 11;
        assert!(matches!(
            layout.write_blob_file(&lying, &src),
            Err(Error::DigestMismatch { .. })
        ));
        assert!(!layout.has_blob(&lying));
        let alg_dir = dir.path().join("l/blobs/sha256");
        assert_eq!(
            std::fs::read_dir(&alg_dir).unwrap().count(),
            0,
            "no temporary file left"
        );
        std::fs::write(&src, &bytes).unwrap();
        layout.write_blob_file(&d, &src).unwrap();
        assert!(layout.has_blob(&d));
        // A manifest whose bytes were changed on disk is refused when read.
        std::fs::write(layout.blob_path(&d.digest), vec![b' '; bytes.len()]).unwrap();
        assert!(matches!(
            layout.read_manifest(&d),
            Err(Error::DigestMismatch { .. })
        ));
    }

    #[test]
    fn referrers_are_the_listed_manifests_whose_subject_names_a_digest() {
        let dir = tempfile::tempdir().unwrap();
        let layout = Layout::create(dir.path()).unwrap();
        let (subject, subject_bytes) = manifest(1);
        layout.write_blob_bytes(&subject, &subject_bytes).unwrap();
        layout.tag(&subject, "v1").unwrap();
        let sig = format!(
            r#"{{"schemaVersion":2,"mediaType":"{}","artifactType":"{}","config":{{"mediaType":"{}","digest":"{}","size":2}},"layers":[],"subject":{},"annotations":{{"k":"v"}}}}"#,
            media_type::OCI_MANIFEST,
            media_type::NOTARY_SIGNATURE,
            media_type::OCI_EMPTY,
            Digest::sha256_of(b"{}"),
            serde_json::to_string(&subject).unwrap()
        );
        let sig_d = Descriptor::new(
            media_type::OCI_MANIFEST,
            Digest::sha256_of(sig.as_bytes()),
            sig.len() as u64,
        );
        layout.write_blob_bytes(&sig_d, sig.as_bytes()).unwrap();
        assert!(layout.referrers(&subject.digest).unwrap().is_empty());
        layout.add_untagged(&sig_d).unwrap();
        let found = Layout::open(dir.path())
            .unwrap()
            .referrers(&subject.digest)
            .unwrap();
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].digest, sig_d.digest);
        assert_eq!(
            found[0].artifact_type.as_deref(),
            Some(media_type::NOTARY_SIGNATURE)
        );
        assert_eq!(found[0].annotations.as_ref().unwrap()["k"], "v");
        // The subject's own entry (tagged) is not a referrer of anything.
        assert!(layout.referrers(&sig_d.digest).unwrap().is_empty());
    }
}
