//! OCI types shared by the nv2 crates: [`Digest`], [`Descriptor`], a permissive
//! [`Manifest`] view that covers every manifest kind the registry accepts, the
//! media-type constants, repository-name validation, and image [`Reference`]s
//! (`[registry/]repository[:tag][@digest]`, normalised as docker does) with
//! the [`ManifestRef`] a registry URL carries.
//!
//! Manifests are content-addressed by their exact bytes, so nothing here ever
//! re-serializes a manifest before hashing it: parse a view with
//! [`Manifest::parse`] and hash the original bytes with [`Digest::sha256_of`].

mod descriptor;
mod digest;
mod manifest;
pub mod media_type;
mod name;
mod reference;

pub use descriptor::Descriptor;
pub use digest::{Algorithm, Digest, DigestError};
pub use manifest::{Manifest, ManifestError};
pub use name::{validate_repository_name, validate_tag, NameError};
pub use reference::{ManifestRef, Reference, ReferenceError};
