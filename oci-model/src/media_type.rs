//! Media types of the manifests and artifacts the project handles.

pub const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
pub const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
pub const DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";
pub const DOCKER_MANIFEST_LIST: &str = "application/vnd.docker.distribution.manifest.list.v2+json";
/// The artifact manifest of the image-spec 1.1 release candidates.
pub const OCI_ARTIFACT_MANIFEST: &str = "application/vnd.oci.artifact.manifest.v1+json";
/// The ORAS artifact manifest of the prototype-2 era.
pub const ORAS_ARTIFACT_MANIFEST: &str = "application/vnd.cncf.oras.artifact.manifest.v1+json";
/// An image's configuration (image-spec `config.md`).
pub const OCI_IMAGE_CONFIG: &str = "application/vnd.oci.image.config.v1+json";
/// A gzip-compressed layer tar (image-spec `layer.md`).
pub const OCI_LAYER_GZIP: &str = "application/vnd.oci.image.layer.v1.tar+gzip";
pub const OCI_EMPTY: &str = "application/vnd.oci.empty.v1+json";
pub const NOTARY_SIGNATURE: &str = "application/vnd.cncf.notary.signature";

/// Every manifest media type the registry accepts.
pub const MANIFEST_TYPES: [&str; 6] = [
    OCI_MANIFEST,
    OCI_INDEX,
    DOCKER_MANIFEST,
    DOCKER_MANIFEST_LIST,
    OCI_ARTIFACT_MANIFEST,
    ORAS_ARTIFACT_MANIFEST,
];

/// Whether `media_type` is an index (its children are manifests, not blobs).
pub fn is_index(media_type: &str) -> bool {
    media_type == OCI_INDEX || media_type == DOCKER_MANIFEST_LIST
}
