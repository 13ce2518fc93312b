//! The storage conformance suite: what any `Storage` backend must do,
//! written against the trait only. The filesystem backend runs it with and
//! without fsync; an object-store backend would add one line here.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures_util::StreamExt;
use nv2_registry::storage::{ByteStream, ManifestPut, StoredManifest};
use nv2_registry::{FsOptions, FsStorage, Storage, StorageError};
use oci_model::{Descriptor, Digest};

fn body(parts: &[&'static [u8]]) -> ByteStream {
    futures_util::stream::iter(
        parts
            .iter()
            .map(|p| Ok(Bytes::from_static(p)))
            .collect::<Vec<_>>(),
    )
    .boxed()
}

async fn read_all(s: ByteStream) -> Vec<u8> {
    let chunks: Vec<_> = s.collect().await;
    chunks
        .into_iter()
        .flat_map(|c| c.unwrap().to_vec())
        .collect()
}

async fn put_blob(store: &dyn Storage, repo: &str, data: &'static [u8]) -> Digest {
    let id = store.upload_create(repo).await.unwrap();
    store.upload_append(repo, &id, body(&[data])).await.unwrap();
    let d = Digest::sha256_of(data);
    store.upload_commit(repo, &id, &d).await.unwrap();
    d
}

async fn blobs(store: &dyn Storage) {
    // Chunked upload with status in between.
    let id = store.upload_create("r/a").await.unwrap();
    assert_eq!(store.upload_status("r/a", &id).await.unwrap().size, 0);
    store
        .upload_append("r/a", &id, body(&[b"hello ", b"wor"]))
        .await
        .unwrap();
    assert_eq!(
        store
            .upload_append("r/a", &id, body(&[b"ld"]))
            .await
            .unwrap()
            .size,
        11
    );
    // A wrong digest publishes nothing and keeps the session.
    let wrong = Digest::sha256_of(b"nope");
    assert!(matches!(
        store.upload_commit("r/a", &id, &wrong).await,
        Err(StorageError::DigestMismatch { .. })
    ));
    assert_eq!(store.blob_size("r/a", &wrong).await.unwrap(), None);
    let d = Digest::sha256_of(b"hello world");
    assert_eq!(store.upload_commit("r/a", &id, &d).await.unwrap(), 11);
    assert!(store.upload_status("r/a", &id).await.is_err());

    assert_eq!(store.blob_size("r/a", &d).await.unwrap(), Some(11));
    assert_eq!(
        read_all(store.blob_read("r/a", &d, None).await.unwrap()).await,
        b"hello world"
    );
    assert_eq!(
        read_all(store.blob_read("r/a", &d, Some(6..11)).await.unwrap()).await,
        b"world"
    );
    // Repositories see only what they hold; mount links it in.
    assert_eq!(store.blob_size("r/b", &d).await.unwrap(), None);
    assert!(matches!(
        store.blob_read("r/b", &d, None).await,
        Err(StorageError::BlobUnknown)
    ));
    assert!(!store.blob_mount("r/b", "r/nothing", &d).await.unwrap());
    assert!(store.blob_mount("r/b", "r/a", &d).await.unwrap());
    assert_eq!(store.blob_size("r/b", &d).await.unwrap(), Some(11));
    // Delete is per repository.
    assert!(store.blob_delete("r/a", &d).await.unwrap());
    assert!(!store.blob_delete("r/a", &d).await.unwrap());
    assert_eq!(store.blob_size("r/a", &d).await.unwrap(), None);
    assert_eq!(store.blob_size("r/b", &d).await.unwrap(), Some(11));
    // Sessions belong to their repository; cancel and expiry discard them.
    let id = store.upload_create("r/a").await.unwrap();
    assert!(store
        .upload_append("r/b", &id, body(&[b"x"]))
        .await
        .is_err());
    store.upload_cancel("r/a", &id).await.unwrap();
    assert!(store.upload_status("r/a", &id).await.is_err());
    let before = store.upload_count();
    let id = store.upload_create("r/a").await.unwrap();
    assert_eq!(store.upload_count(), before + 1);
    tokio::time::sleep(Duration::from_millis(20)).await;
    assert!(store.upload_expire(Duration::from_millis(5)).await.unwrap() >= 1);
    assert!(store.upload_status("r/a", &id).await.is_err());
}

async fn manifests_tags_referrers(store: &dyn Storage) {
    put_blob(store, "m", b"{}").await;
    let m = StoredManifest {
        media_type: "application/vnd.oci.image.manifest.v1+json".into(),
        bytes: Bytes::from_static(b"{\"a\":1}"),
    };
    let d = Digest::sha256_of(&m.bytes);
    store
        .manifest_put(
            "m",
            ManifestPut {
                digest: &d,
                manifest: &m,
                referrer: None,
                tag: Some("v1"),
            },
        )
        .await
        .unwrap();
    let got = store.manifest_read("m", &d).await.unwrap().unwrap();
    assert_eq!(
        (got.media_type.as_str(), &got.bytes[..]),
        (m.media_type.as_str(), &m.bytes[..])
    );
    assert_eq!(store.tag_read("m", "v1").await.unwrap(), Some(d.clone()));
    assert_eq!(store.tags("m").await.unwrap(), Some(vec!["v1".to_string()]));
    assert_eq!(store.tags("unknown").await.unwrap(), None);

    // Referrers: listed in digest order, removable, O(1) per subject.
    let subject = Digest::sha256_of(b"subject");
    let mut listed = Vec::new();
    for i in 0..5u8 {
        let bytes = Bytes::from(format!("{{\"r\":{i}}}"));
        let rd = Digest::sha256_of(&bytes);
        let rm = StoredManifest {
            media_type: m.media_type.clone(),
            bytes,
        };
        let mut desc = Descriptor::new(rm.media_type.clone(), rd.clone(), rm.bytes.len() as u64);
        desc.artifact_type = Some("application/x.sig".into());
        let put = ManifestPut {
            digest: &rd,
            manifest: &rm,
            referrer: Some((&subject, &desc)),
            tag: None,
        };
        store.manifest_put("m", put).await.unwrap();
        listed.push(rd);
        if i == 2 {
            // A listing in the middle must not hide later additions.
            assert_eq!(store.referrers("m", &subject).await.unwrap().len(), 3);
        }
    }
    listed.sort();
    let index = store.referrers("m", &subject).await.unwrap();
    assert_eq!(index.keys().cloned().collect::<Vec<_>>(), listed);
    assert_eq!(
        index[&listed[0]].artifact_type.as_deref(),
        Some("application/x.sig")
    );
    store
        .referrer_remove("m", &subject, &listed[0])
        .await
        .unwrap();
    assert_eq!(store.referrers("m", &subject).await.unwrap().len(), 4);
    assert!(store.referrers("other", &subject).await.unwrap().is_empty());

    assert!(store.tag_delete("m", "v1").await.unwrap());
    assert_eq!(store.tag_read("m", "v1").await.unwrap(), None);
    assert!(store.manifest_delete("m", &d).await.unwrap());
    assert!(!store.manifest_delete("m", &d).await.unwrap());
    assert!(store.manifest_read("m", &d).await.unwrap().is_none());

    let repos = store.repositories().await.unwrap();
    assert!(
        repos.contains(&"m".to_string()) && repos.windows(2).all(|w| w[0] < w[1]),
        "{repos:?}"
    );
}

async fn suite(store: Arc<dyn Storage>) {
    blobs(store.as_ref()).await;
    manifests_tags_referrers(store.as_ref()).await;
}

#[tokio::test]
async fn fs_backend_durable() {
    let dir = tempfile::tempdir().unwrap();
    suite(Arc::new(FsStorage::open(dir.path(), 0).unwrap())).await;
    // What was written survives a reopen (a restart).
    let again = FsStorage::open(dir.path(), 0).unwrap();
    assert_eq!(
        again
            .referrers("m", &Digest::sha256_of(b"subject"))
            .await
            .unwrap()
            .len(),
        4
    );
}

#[tokio::test]
async fn fs_backend_without_fsync() {
    let dir = tempfile::tempdir().unwrap();
    suite(Arc::new(
        FsStorage::open_with(
            dir.path(),
            FsOptions {
                max_blob_bytes: 0,
                fsync: false,
            },
        )
        .unwrap(),
    ))
    .await;
}
