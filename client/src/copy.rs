//! Copying an artifact's graph from one [`Target`] to another: registry ↔ registry, registry ↔
//! OCI image layout, layout ↔ layout, through one routine (as oras-go's `oras.Copy` and
//! `ExtendedCopy` do over their `Target` interfaces; ours is a two-variant enum, because the
//! cross-repository mount and the streaming path depend on which two places meet).
//!
//! ```text
//! plan:  walk the source from the root: index → child manifests, manifest → config, layers,
//!        blobs; with `recursive`, every walked manifest's referrers (and theirs). A manifest the
//!        destination already has is not descended into. The order of manifests is children
//!        before parents, subjects before referrers.
//! blobs: every blob not in the destination (HEAD), `concurrency` at a time: mounted when source
//!        and destination are repositories of one registry, else streamed (through a temporary
//!        file between registries, never held in memory).
//! push:  manifests by digest, as their exact bytes, in plan order; a manifest with a `subject`
//!        is indexed in the referrers tag schema where the registry does not do it itself (and
//!        listed untagged in a layout's index.json).
//! tag:   the destination tags last, so an interrupted copy leaves nothing tagged.
//! ```

use std::collections::{BTreeMap, HashSet};
use std::path::Path;
use std::sync::Arc;

use bytes::Bytes;
use futures_util::{StreamExt, TryStreamExt};
use oci_model::{Descriptor, Digest, Manifest};

use crate::layout::Layout;
use crate::remote::{Error, PushedManifest, Repository, Result, Silent, Transfer};

/// The most manifests one copy walks (a hostile referrers graph cannot make it run forever).
pub const MAX_MANIFESTS: usize = 10_000;

/// A place that holds manifests and blobs.
#[derive(Clone)]
pub enum Target {
    Registry(Repository),
    Layout(Arc<Layout>),
}

/// How to copy.
#[derive(Debug, Clone)]
pub struct CopyOptions {
    /// Also copy the referrers of every copied manifest, recursively.
    pub recursive: bool,
    /// Blobs transferred at once.
    pub concurrency: usize,
}

impl Default for CopyOptions {
    fn default() -> Self {
        CopyOptions {
            recursive: false,
            concurrency: 3,
        }
    }
}

/// One manifest of a plan.
#[derive(Debug, Clone)]
pub struct Step {
    pub descriptor: Descriptor,
    /// Its exact bytes (absent for a manifest the destination has and nothing needs to read).
    pub bytes: Option<Bytes>,
    /// The destination has it already.
    pub exists: bool,
    /// Its `subject`, when it refers to another manifest.
    pub subject: Option<Digest>,
    pub artifact_type: Option<String>,
    pub annotations: Option<BTreeMap<String, String>>,
}

/// What a copy will do: the root, the manifests in push order and the blobs to transfer.
#[derive(Debug, Clone)]
pub struct Plan {
    pub root: Descriptor,
    pub root_bytes: Bytes,
    pub manifests: Vec<Step>,
    /// Blobs of manifests the destination lacks, each once, with the name to show.
    pub blobs: Vec<(Descriptor, String)>,
}

/// What a copy did.
#[derive(Debug, Clone)]
pub struct Copied {
    pub root: Descriptor,
    /// Manifests pushed (existing ones not counted).
    pub manifests: usize,
    /// Blobs uploaded, written or mounted.
    pub blobs: usize,
}

impl Target {
    /// `[registry] host/repo` or `[oci-layout] DIR`, as oras shows them.
    pub fn describe(&self) -> String {
        match self {
            Target::Registry(r) => format!("[registry] {}/{}", r.registry(), r.name()),
            Target::Layout(l) => format!("[oci-layout] {}", l.root().display()),
        }
    }

    /// The root manifest a tag or digest names, with its bytes.
    pub async fn fetch_root(&self, reference: Option<&str>) -> Result<(Descriptor, Bytes)> {
        match self {
            Target::Registry(r) => {
                let m = r.fetch_manifest(reference.unwrap_or("latest")).await?;
                Ok((m.descriptor, m.bytes))
            }
            Target::Layout(l) => {
                let d = l.resolve(reference)?;
                let bytes = l.read_manifest(&d)?;
                Ok((d, bytes))
            }
        }
    }

    /// A manifest's bytes, checked against the descriptor's digest and size.
    pub async fn fetch_manifest(&self, descriptor: &Descriptor) -> Result<Bytes> {
        match self {
            Target::Registry(r) => {
                let m = r.fetch_manifest(&descriptor.digest.to_string()).await?;
                if m.bytes.len() as u64 != descriptor.size {
                    return Err(Error::SizeMismatch {
                        what: format!(
                            "fetch manifest {}/{}@{}",
                            r.registry(),
                            r.name(),
                            descriptor.digest
                        ),
                        expected: descriptor.size,
                        actual: m.bytes.len() as u64,
                    });
                }
                Ok(m.bytes)
            }
            Target::Layout(l) => l.read_manifest(descriptor),
        }
    }

    /// Whether the manifest (by digest) is here.
    pub async fn has_manifest(&self, descriptor: &Descriptor) -> Result<bool> {
        match self {
            Target::Registry(r) => match r.resolve(&descriptor.digest.to_string()).await {
                Ok(_) => Ok(true),
                Err(e) if e.is_not_found() => Ok(false),
                Err(e) => Err(e),
            },
            Target::Layout(l) => Ok(l.has_blob(descriptor)),
        }
    }

    /// The referrers of a manifest (the registry's API or tag schema; a layout's index.json).
    pub async fn referrers(&self, subject: &Digest) -> Result<Vec<Descriptor>> {
        match self {
            Target::Registry(r) => Ok(r.referrers(subject, None).await?.descriptors),
            Target::Layout(l) => l.referrers(subject),
        }
    }

    /// Stores a manifest by digest; one with a subject is made findable as a referrer.
    async fn push_manifest(&self, step: &Step, bytes: &Bytes) -> Result<()> {
        let d = &step.descriptor;
        match self {
            Target::Registry(r) => {
                let pushed: PushedManifest = r
                    .push_manifest(&d.media_type, bytes.clone(), &d.digest.to_string())
                    .await?;
                if let Some(subject) = &step.subject {
                    r.index_referrer(
                        subject,
                        &pushed,
                        step.artifact_type.as_deref(),
                        step.annotations.as_ref(),
                    )
                    .await?;
                }
            }
            Target::Layout(l) => {
                l.write_blob_bytes(d, bytes)?;
                if step.subject.is_some() {
                    let mut entry = d.clone();
                    entry.artifact_type = step.artifact_type.clone();
                    l.add_untagged(&entry)?;
                }
            }
        }
        Ok(())
    }

    /// Points `tag` at the root (pushed already).
    async fn tag(&self, root: &Descriptor, bytes: &Bytes, tag: &str) -> Result<()> {
        match self {
            Target::Registry(r) => {
                r.push_manifest(&root.media_type, bytes.clone(), tag)
                    .await?;
            }
            Target::Layout(l) => l.tag(root, tag)?,
        }
        Ok(())
    }
}

/// The name shown for a blob: its title, else its media type.
fn display_name(d: &Descriptor) -> String {
    d.annotations
        .as_ref()
        .and_then(|a| a.get("org.opencontainers.image.title"))
        .cloned()
        .unwrap_or_else(|| d.media_type.clone())
}

/// Walks the source from `root` (as [`Target::fetch_root`] found it) into a [`Plan`]: reads the
/// source and asks the destination what it has; writes nothing.
pub async fn plan(
    src: &Target,
    (root, root_bytes): (Descriptor, Bytes),
    dst: &Target,
    recursive: bool,
    progress: &dyn Transfer,
) -> Result<Plan> {
    let mut walk = Walk {
        src,
        dst,
        recursive,
        progress,
        seen: HashSet::new(),
        blob_seen: HashSet::new(),
        manifests: Vec::new(),
        blobs: Vec::new(),
    };
    walk.visit(root.clone(), Some(root_bytes.clone()), false)
        .await?;
    Ok(Plan {
        root,
        root_bytes,
        manifests: walk.manifests,
        blobs: walk.blobs,
    })
}

struct Walk<'a> {
    src: &'a Target,
    dst: &'a Target,
    recursive: bool,
    progress: &'a dyn Transfer,
    seen: HashSet<Digest>,
    blob_seen: HashSet<Digest>,
    manifests: Vec<Step>,
    blobs: Vec<(Descriptor, String)>,
}

impl Walk<'_> {
    async fn visit(
        &mut self,
        descriptor: Descriptor,
        bytes: Option<Bytes>,
        as_referrer: bool,
    ) -> Result<()> {
        if !self.seen.insert(descriptor.digest.clone()) {
            return Ok(());
        }
        if self.seen.len() > MAX_MANIFESTS {
            return Err(Error::Invalid(format!(
                "{}: more than {MAX_MANIFESTS} manifests to copy; refusing the graph",
                self.src.describe()
            )));
        }
        let exists = self.dst.has_manifest(&descriptor).await?;
        // An existing manifest is read only when something below it must be walked, or when a
        // referrer must be pushed again so that the destination indexes it.
        let needed = !exists || self.recursive || as_referrer || bytes.is_some();
        let bytes = match bytes {
            Some(b) => Some(b),
            None if needed => Some(self.src.fetch_manifest(&descriptor).await?),
            None => None,
        };
        let parsed = match &bytes {
            Some(b) => Some(
                Manifest::parse(b, Some(&descriptor.media_type)).map_err(|e| {
                    Error::Invalid(format!(
                        "{}: manifest {}: {e}",
                        self.src.describe(),
                        descriptor.digest
                    ))
                })?,
            ),
            None => None,
        };
        if let Some(m) = &parsed {
            if !exists || self.recursive {
                for child in m.referenced_manifests() {
                    Box::pin(self.visit(child.clone(), None, false)).await?;
                }
            }
            if !exists {
                self.add_blobs(m);
            }
        }
        let digest = descriptor.digest.clone();
        self.manifests.push(Step {
            subject: parsed
                .as_ref()
                .and_then(|m| m.subject.as_ref())
                .map(|s| s.digest.clone()),
            artifact_type: parsed
                .as_ref()
                .and_then(|m| m.effective_artifact_type())
                .map(str::to_string)
                .or_else(|| descriptor.artifact_type.clone()),
            annotations: parsed.as_ref().and_then(|m| m.annotations.clone()),
            descriptor,
            bytes,
            exists,
        });
        if self.recursive {
            for r in self.src.referrers(&digest).await? {
                Box::pin(self.visit(r, None, true)).await?;
            }
        }
        Ok(())
    }

    fn add_blobs(&mut self, m: &Manifest) {
        let all = m
            .config
            .iter()
            .chain(m.layers.iter().flatten())
            .chain(m.blobs.iter().flatten());
        for d in all {
            if d.urls.as_ref().is_some_and(|u| !u.is_empty()) {
                // A non-distributable layer lives at its URLs, not in registries.
                self.progress.end(d, &display_name(d), "Skipped");
                continue;
            }
            if self.blob_seen.insert(d.digest.clone()) {
                self.blobs.push((d.clone(), display_name(d)));
            }
        }
    }
}

/// Copies the graph rooted at `reference` in `src` to `dst`, then sets `tags` there.
pub async fn copy(
    src: &Target,
    reference: Option<&str>,
    dst: &Target,
    tags: &[String],
    options: &CopyOptions,
    progress: &dyn Transfer,
) -> Result<Copied> {
    let root = src.fetch_root(reference).await?;
    let plan = plan(src, root, dst, options.recursive, progress).await?;
    execute(src, dst, &plan, tags, options, progress).await
}

/// Carries out a [`Plan`]: blobs, then manifests in order, then the tags.
pub async fn execute(
    src: &Target,
    dst: &Target,
    plan: &Plan,
    tags: &[String],
    options: &CopyOptions,
    progress: &dyn Transfer,
) -> Result<Copied> {
    let scratch = match (src, dst) {
        (Target::Registry(_), Target::Registry(_)) if !plan.blobs.is_empty() => Some(
            tempfile::Builder::new()
                .prefix("nv2-copy-")
                .tempdir()
                .map_err(|e| Error::io("a temporary folder", e))?,
        ),
        _ => None,
    };
    let scratch = scratch.as_ref().map(|s| s.path());
    let transferred = futures_util::stream::iter(
        plan.blobs
            .iter()
            .map(|(d, name)| copy_blob(src, dst, d, name, scratch, progress)),
    )
    .buffer_unordered(options.concurrency.max(1))
    .try_collect::<Vec<bool>>()
    .await?;
    let mut pushed = 0;
    for step in &plan.manifests {
        let name = step.descriptor.media_type.clone();
        match (&step.bytes, step.exists) {
            // The registry may not have indexed it (an earlier copy broke off): push it again,
            // which changes nothing else, so that it is listed as a referrer.
            (Some(bytes), true) if step.subject.is_some() => {
                dst.push_manifest(step, bytes).await?;
                progress.end(&step.descriptor, &name, "Exists");
            }
            (_, true) => progress.end(&step.descriptor, &name, "Exists"),
            (Some(bytes), false) => {
                progress.begin(&step.descriptor, &name, "Copying");
                dst.push_manifest(step, bytes).await?;
                progress.end(&step.descriptor, &name, "Copied");
                pushed += 1;
            }
            (None, false) => unreachable!("a manifest to push is always read"),
        }
    }
    for tag in tags {
        dst.tag(&plan.root, &plan.root_bytes, tag).await?;
    }
    if tags.is_empty() {
        if let Target::Layout(l) = dst {
            // Untagged, the root must still be listed, or nothing in the layout leads to it.
            l.add_untagged(&plan.root)?;
        }
    }
    Ok(Copied {
        root: plan.root.clone(),
        manifests: pushed,
        blobs: transferred.into_iter().filter(|t| *t).count(),
    })
}

/// Forwards byte counts only: the copy reports its own begin and end lines.
struct BytesOnly<'a>(&'a dyn Transfer);

impl Transfer for BytesOnly<'_> {
    fn begin(&self, _: &Descriptor, _: &str, _: &str) {}
    fn advance(&self, d: &Descriptor, bytes: u64) {
        self.0.advance(d, bytes)
    }
    fn end(&self, _: &Descriptor, _: &str, _: &str) {}
}

/// One blob into the destination: `Ok(false)` when it was there already.
async fn copy_blob(
    src: &Target,
    dst: &Target,
    d: &Descriptor,
    name: &str,
    scratch: Option<&Path>,
    progress: &dyn Transfer,
) -> Result<bool> {
    let bytes_only = BytesOnly(progress);
    match dst {
        Target::Registry(to) => {
            if to.blob_exists(&d.digest).await? {
                progress.end(d, name, "Exists");
                return Ok(false);
            }
            if let Target::Registry(from) = src {
                if from.registry() == to.registry()
                    && from.name() != to.name()
                    && to.mount_blob(&d.digest, from.name()).await?
                {
                    progress.end(d, name, "Mounted");
                    return Ok(true);
                }
            }
            progress.begin(d, name, "Copying");
            match src {
                Target::Layout(l) => {
                    let path = l.blob_path(&d.digest);
                    check_layout_blob(l, d, &path)?;
                    to.push_blob_file(d, &path, name, None, &bytes_only).await?;
                }
                Target::Registry(from) => {
                    let dir = scratch.expect("a scratch folder between registries");
                    let tmp = dir.join(d.digest.hex());
                    from.fetch_blob_to(d, &tmp, name, &Silent).await?;
                    let outcome = to.push_blob_file(d, &tmp, name, None, &bytes_only).await;
                    let _ = std::fs::remove_file(&tmp);
                    outcome?;
                }
            }
        }
        Target::Layout(to) => {
            if to.has_blob(d) {
                progress.end(d, name, "Exists");
                return Ok(false);
            }
            progress.begin(d, name, "Copying");
            match src {
                Target::Registry(from) => {
                    from.fetch_blob_to(d, &to.blob_path(&d.digest), name, &bytes_only)
                        .await?
                }
                Target::Layout(from) => {
                    let path = from.blob_path(&d.digest);
                    check_layout_blob(from, d, &path)?;
                    let (to, d2) = (to.clone(), d.clone());
                    tokio::task::spawn_blocking(move || to.write_blob_file(&d2, &path))
                        .await
                        .map_err(|e| Error::Invalid(format!("copying {}: {e}", d.digest)))??;
                    progress.advance(d, d.size);
                }
            }
        }
    }
    progress.end(d, name, "Copied");
    Ok(true)
}

/// A source layout's blob must be there with its descriptor's size (the digest is checked
/// while it streams).
fn check_layout_blob(l: &Layout, d: &Descriptor, path: &Path) -> Result<()> {
    match std::fs::metadata(path) {
        Ok(m) if m.len() == d.size => Ok(()),
        Ok(m) => Err(Error::SizeMismatch {
            what: format!("{} in {}", path.display(), l.root().display()),
            expected: d.size,
            actual: m.len(),
        }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Err(Error::Invalid(format!(
            "{}: blob {} ({}) is missing: the layout is incomplete",
            l.root().display(),
            d.digest,
            display_name(d)
        ))),
        Err(e) => Err(Error::io(path.display(), e)),
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use oci_model::media_type;
    use serde_json::json;

    use super::*;

    /// Records every end line: (status, digest).
    #[derive(Default)]
    struct Record(Mutex<Vec<(String, Digest)>>);

    impl Transfer for Record {
        fn begin(&self, _: &Descriptor, _: &str, _: &str) {}
        fn advance(&self, _: &Descriptor, _: u64) {}
        fn end(&self, d: &Descriptor, _: &str, status: &str) {
            self.0
                .lock()
                .unwrap()
                .push((status.into(), d.digest.clone()));
        }
    }

    fn blob(layout: &Layout, media: &str, bytes: &[u8]) -> Descriptor {
        let d = Descriptor::new(media, Digest::sha256_of(bytes), bytes.len() as u64);
        layout.write_blob_bytes(&d, bytes).unwrap();
        d
    }

    fn put(layout: &Layout, value: serde_json::Value) -> Descriptor {
        let media = value["mediaType"].as_str().unwrap().to_string();
        blob(layout, &media, &serde_json::to_vec(&value).unwrap())
    }

    fn image(
        layout: &Layout,
        config: &Descriptor,
        layer: &Descriptor,
        subject: Option<&Descriptor>,
    ) -> Descriptor {
        let mut m = json!({
            "schemaVersion": 2, "mediaType": media_type::OCI_MANIFEST,
            "config": config, "layers": [layer],
        });
        if let Some(s) = subject {
            m["subject"] = json!(s);
            m["artifactType"] = json!(layer.media_type);
        }
        put(layout, m)
    }

    struct Fixture {
        _dir: tempfile::TempDir,
        src: Target,
        dst: Target,
        dst_layout: Arc<Layout>,
        a: Descriptor,
        b: Descriptor,
        index: Descriptor,
        sbom: Descriptor,
        sig: Descriptor,
        l2: Descriptor,
    }

    /// An index of two images tagged `v1`, an SBoM referring to the index and a signature
    /// referring to the SBoM (both listed untagged).
    fn fixture() -> Fixture {
        let dir = tempfile::tempdir().unwrap();
        let src = Layout::create(dir.path().join("src")).unwrap();
        let config = blob(&src, media_type::OCI_EMPTY, b"{}");
        let l1 = blob(&src, "text/plain", b"one");
        let l2 = blob(&src, "text/plain", b"two");
        let a = image(&src, &config, &l1, None);
        let b = image(&src, &config, &l2, None);
        let index = put(
            &src,
            json!({"schemaVersion": 2, "mediaType": media_type::OCI_INDEX, "manifests": [a, b]}),
        );
        src.tag(&index, "v1").unwrap();
        let sbom_blob = blob(&src, "application/spdx+json", b"{\"spdx\":1}");
        let sbom = image(&src, &config, &sbom_blob, Some(&index));
        src.add_untagged(&sbom).unwrap();
        let sig_blob = blob(&src, media_type::NOTARY_SIGNATURE, b"sig");
        let sig = image(&src, &config, &sig_blob, Some(&sbom));
        src.add_untagged(&sig).unwrap();
        let dst_layout = Arc::new(Layout::create(dir.path().join("dst")).unwrap());
        Fixture {
            _dir: dir,
            src: Target::Layout(Arc::new(src)),
            dst: Target::Layout(dst_layout.clone()),
            dst_layout,
            a,
            b,
            index,
            sbom,
            sig,
            l2,
        }
    }

    fn digests(steps: &[Step]) -> Vec<Digest> {
        steps.iter().map(|s| s.descriptor.digest.clone()).collect()
    }

    #[tokio::test]
    async fn the_walk_puts_children_before_parents_and_subjects_before_referrers() {
        let f = fixture();
        let root = f.src.fetch_root(Some("v1")).await.unwrap();
        let plan = plan(&f.src, root.clone(), &f.dst, true, &Silent)
            .await
            .unwrap();
        assert_eq!(
            digests(&plan.manifests),
            [&f.a, &f.b, &f.index, &f.sbom, &f.sig].map(|d| d.digest.clone())
        );
        // The shared empty config once; one layer per image and artifact.
        assert_eq!(plan.blobs.len(), 5, "{:?}", plan.blobs);
        assert_eq!(plan.manifests[3].subject.as_ref(), Some(&f.index.digest));
        assert_eq!(
            plan.manifests[3].artifact_type.as_deref(),
            Some("application/spdx+json")
        );
        let plan = super::plan(&f.src, root, &f.dst, false, &Silent)
            .await
            .unwrap();
        assert_eq!(
            digests(&plan.manifests),
            [&f.a, &f.b, &f.index].map(|d| d.digest.clone())
        );
    }

    #[tokio::test]
    async fn a_recursive_copy_keeps_digests_tags_and_referrers_and_a_second_one_finds_it_done() {
        let f = fixture();
        let options = CopyOptions {
            recursive: true,
            concurrency: 2,
        };
        let tags = ["v1".to_string(), "stable".to_string()];
        let record = Record::default();
        let copied = copy(&f.src, Some("v1"), &f.dst, &tags, &options, &record)
            .await
            .unwrap();
        assert_eq!(copied.root.digest, f.index.digest);
        assert_eq!((copied.manifests, copied.blobs), (5, 5));
        let ends = record.0.lock().unwrap().clone();
        let manifest_order: Vec<Digest> = ends
            .iter()
            .filter(|(_, d)| {
                [&f.a, &f.b, &f.index, &f.sbom, &f.sig]
                    .iter()
                    .any(|m| &m.digest == d)
            })
            .map(|(_, d)| d.clone())
            .collect();
        assert_eq!(
            manifest_order,
            [&f.a, &f.b, &f.index, &f.sbom, &f.sig].map(|d| d.digest.clone())
        );
        let dst = &f.dst_layout;
        for tag in &tags {
            assert_eq!(dst.resolve(Some(tag)).unwrap().digest, f.index.digest);
        }
        let fresh = Layout::open(dst.root()).unwrap();
        let sboms = fresh.referrers(&f.index.digest).unwrap();
        assert_eq!(
            sboms.iter().map(|d| &d.digest).collect::<Vec<_>>(),
            [&f.sbom.digest]
        );
        assert_eq!(
            sboms[0].artifact_type.as_deref(),
            Some("application/spdx+json")
        );
        let sigs = fresh.referrers(&f.sbom.digest).unwrap();
        assert_eq!(
            sigs.iter().map(|d| &d.digest).collect::<Vec<_>>(),
            [&f.sig.digest]
        );

        let record = Record::default();
        let again = copy(&f.src, Some("v1"), &f.dst, &tags, &options, &record)
            .await
            .unwrap();
        assert_eq!((again.manifests, again.blobs), (0, 0));
        assert!(record.0.lock().unwrap().iter().all(|(s, _)| s == "Exists"));
        // Tags and referrer entries are not duplicated: two tags, two referrers.
        assert_eq!(fresh.entries().unwrap().len(), 4, "{:?}", fresh.entries());
    }

    #[tokio::test]
    async fn a_copy_that_breaks_off_tags_nothing() {
        let f = fixture();
        let Target::Layout(src) = &f.src else {
            unreachable!()
        };
        std::fs::remove_file(src.blob_path(&f.l2.digest)).unwrap();
        let tags = ["v1".to_string()];
        let e = copy(
            &f.src,
            Some("v1"),
            &f.dst,
            &tags,
            &CopyOptions::default(),
            &Silent,
        )
        .await
        .unwrap_err()
        .to_string();
        assert!(
            e.contains("is missing") && e.contains(&f.l2.digest.to_string()),
            "{e}"
        );
        assert!(f.dst_layout.tags().unwrap().is_empty());
        assert!(!f.dst_layout.has_blob(&f.index));
    }
}
