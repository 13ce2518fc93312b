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
    if bytes.len() as u64 != descriptor.size {
        return Err(Error::SizeMismatch {
            what: what.into(),
            expected: descriptor.size,
            actual: bytes.len() as u64,
        });
    }
    let actual = descriptor.digest.recompute(bytes);
    if actual != descriptor.digest {
        return Err(Error::DigestMismatch {
            what: what.into(),
            expected: descriptor.digest.to_string(),
            actual: actual.to_string(),
        });
    }
    Ok(())
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
