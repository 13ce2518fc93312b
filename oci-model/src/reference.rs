//! Image references (`[registry/]repository[:tag][@digest]`) as docker and
//! the distribution project read them, and [`ManifestRef`], the tag-or-digest
//! that follows `/manifests/` in a registry URL.
//!
//! The grammar is distribution's (`github.com/distribution/reference`):
//!
//! ```text
//! reference  := name [ ":" tag ] [ "@" digest ]
//! name       := [registry "/"] repository          at most 255 characters
//! registry   := host [ ":" port ]
//! host       := domain-component ("." domain-component)* | "[" ipv6 "]"
//! domain-component := [a-zA-Z0-9] | [a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9]
//! port       := [0-9]+
//! repository := path-component ("/" path-component)*
//! path-component := [a-z0-9]+ ((\.|_|__|-+) [a-z0-9]+)*
//! tag        := [\w][\w.-]{0,127}
//! digest     := a registered OCI digest (see [`Digest`])
//! ```
//!
//! and the normalisation is docker's: the first path component is a registry
//! only if it contains `.` or `:` or is `localhost`; otherwise the registry
//! is `docker.io`. `index.docker.io` is `docker.io`, and a one-component
//! repository on `docker.io` lives under `library/`. So `ubuntu` is
//! `docker.io/library/ubuntu:latest` and `localhost:5000/app` is a registry on
//! a port. (Newer docker releases also take a first component with an
//! uppercase letter for a registry; here `Foo/bar` is a repository on
//! `docker.io` and refused for its uppercase.)

use std::fmt;
use std::hash::{Hash, Hasher};
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::name::{valid_component, MAX_NAME};
use crate::{validate_tag, Digest, DigestError};

/// The registry a reference without one names.
const DOCKER_HUB: &str = "docker.io";
/// The legacy name of [`DOCKER_HUB`], normalised to it.
const DOCKER_HUB_LEGACY: &str = "index.docker.io";
/// Where docker keeps one-component repositories of [`DOCKER_HUB`].
const OFFICIAL_PREFIX: &str = "library/";
/// The tag a reference without tag or digest stands for.
const DEFAULT_TAG: &str = "latest";

/// Why a string is not an image reference (or a [`ManifestRef`]).
///
/// Every variant but [`Empty`](ReferenceError::Empty) carries the whole input
/// and the part that failed.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ReferenceError {
    /// The input is empty.
    Empty,
    /// The registry part is no `host[:port]`.
    InvalidRegistry { input: String, registry: String },
    /// A path component of the repository breaks the grammar (an empty one
    /// for `a//b`, a trailing `/` or a missing repository).
    InvalidRepository { input: String, component: String },
    /// The repository has an uppercase letter.
    Uppercase { input: String, repository: String },
    /// The tag breaks `[\w][\w.-]{0,127}`.
    InvalidTag { input: String, tag: String },
    /// The digest does not parse.
    InvalidDigest {
        input: String,
        digest: String,
        source: DigestError,
    },
    /// `registry/repository` is longer than 255 characters.
    TooLong { input: String, len: usize },
}

impl fmt::Display for ReferenceError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use ReferenceError::*;
        match self {
            Empty => f.write_str("empty image reference"),
            InvalidRegistry { input, registry } => write!(
                f,
                "invalid reference {input:?}: registry {registry:?} is not host[:port]"
            ),
            InvalidRepository { input, component } if component.is_empty() => write!(
                f,
                "invalid reference {input:?}: repository name has an empty path component"
            ),
            InvalidRepository { input, component } => write!(
                f,
                "invalid reference {input:?}: repository path component {component:?} is not \
                 lowercase letters and digits joined by '.', '_', '__' or dashes"
            ),
            Uppercase { input, repository } => write!(
                f,
                "invalid reference {input:?}: repository name must be lowercase ({repository:?})"
            ),
            InvalidTag { input, tag } => write!(
                f,
                "invalid reference {input:?}: tag {tag:?} is not 1 to 128 letters, digits, \
                 '_', '.' or '-' starting with a letter, digit or '_'"
            ),
            InvalidDigest {
                input,
                digest,
                source,
            } => write!(
                f,
                "invalid reference {input:?}: digest {digest:?}: {source}"
            ),
            TooLong { input, len } => write!(
                f,
                "invalid reference {input:?}: the name is {len} characters, more than {MAX_NAME}"
            ),
        }
    }
}

impl std::error::Error for ReferenceError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            ReferenceError::InvalidDigest { source, .. } => Some(source),
            _ => None,
        }
    }
}

/// A fully qualified image reference: registry, repository, and the tag
/// and/or digest the input gave.
///
/// Without tag and digest a reference means `:latest`: [`manifest_ref`]
/// and [`Display`](fmt::Display) say so, while [`tag`] still answers `None`
/// so that callers can tell whether a tag was given. Equality (and hashing)
/// is by what the reference names, so `ubuntu` equals `ubuntu:latest` and
/// `Reference::parse(&r.to_string()) == r` holds for every reference.
///
/// [`manifest_ref`]: Reference::manifest_ref
/// [`tag`]: Reference::tag
///
/// ```
/// use oci_model::Reference;
///
/// let r = Reference::parse("ubuntu").unwrap();
/// assert_eq!((r.registry(), r.repository(), r.tag()), ("docker.io", "library/ubuntu", None));
/// assert_eq!(r.manifest_ref(), "latest");
/// assert_eq!(r.to_string(), "docker.io/library/ubuntu:latest");
///
/// let r: Reference = "localhost:5000/net-monitor:v1".parse().unwrap();
/// assert_eq!((r.registry(), r.repository(), r.tag()), ("localhost:5000", "net-monitor", Some("v1")));
/// ```
#[derive(Clone, Debug)]
pub struct Reference {
    registry: String,
    repository: String,
    tag: Option<String>,
    digest: Option<Digest>,
}

impl Reference {
    /// Parses and normalises `[registry/]repository[:tag][@digest]`.
    pub fn parse(s: &str) -> Result<Reference, ReferenceError> {
        if s.is_empty() {
            return Err(ReferenceError::Empty);
        }
        let input = || s.to_string();
        let (rest, digest) = match s.split_once('@') {
            Some((rest, d)) => (rest, Some(d)),
            None => (s, None),
        };
        // A tag's `:` comes after the last `/` (a registry's port before it).
        let last_segment = rest.rfind('/').map_or(0, |i| i + 1);
        let (name, tag) = match rest[last_segment..].find(':') {
            Some(i) => (
                &rest[..last_segment + i],
                Some(&rest[last_segment + i + 1..]),
            ),
            None => (rest, None),
        };
        let (registry, repository) = split_registry(name);
        if !valid_registry(registry) {
            return Err(ReferenceError::InvalidRegistry {
                input: input(),
                registry: registry.to_string(),
            });
        }
        if repository.bytes().any(|b| b.is_ascii_uppercase()) {
            return Err(ReferenceError::Uppercase {
                input: input(),
                repository: repository.to_string(),
            });
        }
        if let Some(bad) = repository.split('/').find(|c| !valid_component(c)) {
            return Err(ReferenceError::InvalidRepository {
                input: input(),
                component: bad.to_string(),
            });
        }
        if let Some(t) = tag {
            if validate_tag(t).is_err() {
                return Err(ReferenceError::InvalidTag {
                    input: input(),
                    tag: t.to_string(),
                });
            }
        }
        let digest = match digest {
            Some(d) => {
                Some(
                    d.parse::<Digest>()
                        .map_err(|source| ReferenceError::InvalidDigest {
                            input: input(),
                            digest: d.to_string(),
                            source,
                        })?,
                )
            }
            None => None,
        };
        let registry = if registry == DOCKER_HUB_LEGACY {
            DOCKER_HUB
        } else {
            registry
        };
        let repository = if registry == DOCKER_HUB && !repository.contains('/') {
            format!("{OFFICIAL_PREFIX}{repository}")
        } else {
            repository.to_string()
        };
        let len = registry.len() + 1 + repository.len();
        if len > MAX_NAME {
            return Err(ReferenceError::TooLong {
                input: input(),
                len,
            });
        }
        Ok(Reference {
            registry: registry.to_string(),
            repository,
            tag: tag.map(str::to_string),
            digest,
        })
    }

    /// The registry's `host[:port]`, `docker.io` when the input named none.
    pub fn registry(&self) -> &str {
        &self.registry
    }

    /// The repository inside the registry (`library/ubuntu` for `ubuntu`).
    pub fn repository(&self) -> &str {
        &self.repository
    }

    /// `registry/repository`, without tag or digest: what trust policies'
    /// `registryScopes` list.
    pub fn name(&self) -> String {
        format!("{}/{}", self.registry, self.repository)
    }

    /// The tag the input gave, if any (`None` for `ubuntu`, which means
    /// `latest`).
    pub fn tag(&self) -> Option<&str> {
        self.tag.as_deref()
    }

    /// The digest the input gave, if any.
    pub fn digest(&self) -> Option<&Digest> {
        self.digest.as_ref()
    }

    /// What goes into `/v2/<repository>/manifests/<here>`: the digest if
    /// there is one, else the tag, else `latest`.
    pub fn manifest_ref(&self) -> String {
        match (&self.digest, &self.tag) {
            (Some(d), _) => d.to_string(),
            (None, Some(t)) => t.clone(),
            (None, None) => DEFAULT_TAG.to_string(),
        }
    }

    /// The same reference pinned to `digest` (a tag, if any, is kept).
    pub fn with_digest(&self, digest: Digest) -> Reference {
        Reference {
            digest: Some(digest),
            ..self.clone()
        }
    }

    /// The same reference with `tag` instead of its tag (a digest, if any, is
    /// kept).
    pub fn with_tag(&self, tag: &str) -> Result<Reference, ReferenceError> {
        if validate_tag(tag).is_err() {
            return Err(ReferenceError::InvalidTag {
                input: format!("{}:{tag}", self.name()),
                tag: tag.to_string(),
            });
        }
        Ok(Reference {
            tag: Some(tag.to_string()),
            ..self.clone()
        })
    }

    /// The repository alone (which, as a reference, means `:latest`).
    pub fn without_tag_or_digest(&self) -> Reference {
        Reference {
            tag: None,
            digest: None,
            ..self.clone()
        }
    }

    /// The tag equality and hashing see: `latest` when neither tag nor digest
    /// was given.
    fn named_tag(&self) -> Option<&str> {
        match (&self.tag, &self.digest) {
            (None, None) => Some(DEFAULT_TAG),
            (t, _) => t.as_deref(),
        }
    }
}

/// Splits off the registry: the first component, if it contains `.` or `:`
/// or is `localhost` and a repository follows; `docker.io` otherwise.
fn split_registry(name: &str) -> (&str, &str) {
    match name.split_once('/') {
        Some((first, rest)) if first.contains(['.', ':']) || first == "localhost" => (first, rest),
        _ => (DOCKER_HUB, name),
    }
}

/// `host[:port]` with a domain name, an IPv4 address or a bracketed IPv6
/// address as the host.
fn valid_registry(r: &str) -> bool {
    let (host_ok, port) = match r.strip_prefix('[') {
        Some(rest) => {
            let Some((v6, after)) = rest.split_once(']') else {
                return false;
            };
            let port = match after {
                "" => None,
                a => match a.strip_prefix(':') {
                    Some(p) => Some(p),
                    None => return false,
                },
            };
            let v6_ok = !v6.is_empty() && v6.bytes().all(|b| b.is_ascii_hexdigit() || b == b':');
            (v6_ok, port)
        }
        None => match r.split_once(':') {
            Some((host, port)) => (valid_domain(host), Some(port)),
            None => (valid_domain(r), None),
        },
    };
    host_ok && port.is_none_or(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()))
}

/// Dot-separated components of letters, digits and inner dashes.
fn valid_domain(host: &str) -> bool {
    host.split('.').all(|c| {
        let b = c.as_bytes();
        !b.is_empty()
            && b[0].is_ascii_alphanumeric()
            && b[b.len() - 1].is_ascii_alphanumeric()
            && b.iter().all(|&x| x.is_ascii_alphanumeric() || x == b'-')
    })
}

impl PartialEq for Reference {
    fn eq(&self, other: &Reference) -> bool {
        self.registry == other.registry
            && self.repository == other.repository
            && self.named_tag() == other.named_tag()
            && self.digest == other.digest
    }
}

impl Eq for Reference {}

impl Hash for Reference {
    fn hash<H: Hasher>(&self, h: &mut H) {
        self.registry.hash(h);
        self.repository.hash(h);
        self.named_tag().hash(h);
        self.digest.hash(h);
    }
}

impl FromStr for Reference {
    type Err = ReferenceError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Reference::parse(s)
    }
}

/// The fully qualified form: `registry/repository[:tag][@digest]`, with
/// `:latest` when the reference has neither tag nor digest.
impl fmt::Display for Reference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.registry, self.repository)?;
        if let Some(t) = self.named_tag() {
            write!(f, ":{t}")?;
        }
        if let Some(d) = &self.digest {
            write!(f, "@{d}")?;
        }
        Ok(())
    }
}

impl Serialize for Reference {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Reference {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// What follows `/v2/<name>/manifests/` in a registry URL: a tag or a digest.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum ManifestRef {
    Tag(String),
    Digest(Digest),
}

impl ManifestRef {
    /// One with a `:` must be a digest ([`ReferenceError::InvalidDigest`]),
    /// any other a valid tag ([`ReferenceError::InvalidTag`]).
    pub fn parse(s: &str) -> Result<ManifestRef, ReferenceError> {
        if s.contains(':') {
            return s.parse().map(ManifestRef::Digest).map_err(|source| {
                ReferenceError::InvalidDigest {
                    input: s.to_string(),
                    digest: s.to_string(),
                    source,
                }
            });
        }
        match validate_tag(s) {
            Ok(()) => Ok(ManifestRef::Tag(s.to_string())),
            Err(_) => Err(ReferenceError::InvalidTag {
                input: s.to_string(),
                tag: s.to_string(),
            }),
        }
    }

    pub fn as_tag(&self) -> Option<&str> {
        match self {
            ManifestRef::Tag(t) => Some(t),
            ManifestRef::Digest(_) => None,
        }
    }

    pub fn as_digest(&self) -> Option<&Digest> {
        match self {
            ManifestRef::Tag(_) => None,
            ManifestRef::Digest(d) => Some(d),
        }
    }
}

impl From<Digest> for ManifestRef {
    fn from(d: Digest) -> ManifestRef {
        ManifestRef::Digest(d)
    }
}

impl FromStr for ManifestRef {
    type Err = ReferenceError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        ManifestRef::parse(s)
    }
}

impl fmt::Display for ManifestRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ManifestRef::Tag(t) => f.write_str(t),
            ManifestRef::Digest(d) => fmt::Display::fmt(d, f),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Algorithm;

    fn dg() -> Digest {
        Digest::sha256_of(b"x")
    }

    fn p(s: &str) -> Reference {
        Reference::parse(s).unwrap_or_else(|e| panic!("{s}: {e}"))
    }

    /// (registry, repository, tag, digest) of a parsed reference.
    fn parts(s: &str) -> (String, String, Option<String>, Option<Digest>) {
        let r = p(s);
        (
            r.registry().to_string(),
            r.repository().to_string(),
            r.tag().map(str::to_string),
            r.digest().cloned(),
        )
    }

    fn q(reg: &str, repo: &str, tag: Option<&str>, digest: Option<Digest>) -> Parts {
        (
            reg.to_string(),
            repo.to_string(),
            tag.map(str::to_string),
            digest,
        )
    }

    type Parts = (String, String, Option<String>, Option<Digest>);

    fn err(s: &str) -> ReferenceError {
        match Reference::parse(s) {
            Ok(r) => panic!("{s:?} parsed as {r}"),
            Err(e) => e,
        }
    }

    #[test]
    fn docker_normalisation() {
        let d = dg();
        let cases: Vec<(&str, Parts)> = vec![
            ("ubuntu", q("docker.io", "library/ubuntu", None, None)),
            (
                "ubuntu:22.04",
                q("docker.io", "library/ubuntu", Some("22.04"), None),
            ),
            ("user/app", q("docker.io", "user/app", None, None)),
            (
                "docker.io/ubuntu",
                q("docker.io", "library/ubuntu", None, None),
            ),
            (
                "index.docker.io/ubuntu",
                q("docker.io", "library/ubuntu", None, None),
            ),
            (
                "index.docker.io/user/app:v1",
                q("docker.io", "user/app", Some("v1"), None),
            ),
            (
                "docker.io/library/ubuntu",
                q("docker.io", "library/ubuntu", None, None),
            ),
            ("a/b/c", q("docker.io", "a/b/c", None, None)),
            // One component with a dot but no `/` after it is a repository.
            (
                "registry.example",
                q("docker.io", "library/registry.example", None, None),
            ),
            // `localhost:5000` without a path is repository `localhost`, tag `5000`.
            (
                "localhost:5000",
                q("docker.io", "library/localhost", Some("5000"), None),
            ),
            ("localhost", q("docker.io", "library/localhost", None, None)),
            ("localhost/x", q("localhost", "x", None, None)),
            ("localhost:5000/x", q("localhost:5000", "x", None, None)),
            (
                "127.0.0.1:5000/x:v1",
                q("127.0.0.1:5000", "x", Some("v1"), None),
            ),
            ("[::1]:5000/x", q("[::1]:5000", "x", None, None)),
            ("[fe80::1]/x", q("[fe80::1]", "x", None, None)),
            (
                "registry.example/a/b",
                q("registry.example", "a/b", None, None),
            ),
            ("Registry.Example/a", q("Registry.Example", "a", None, None)),
            (
                "my-host.example:443/a",
                q("my-host.example:443", "a", None, None),
            ),
        ];
        for (input, want) in cases {
            assert_eq!(parts(input), want, "{input}");
        }
        assert_eq!(
            parts(&format!("repo@{d}")),
            q("docker.io", "library/repo", None, Some(d.clone()))
        );
        assert_eq!(
            parts(&format!("registry.example:5000/a/b:v1@{d}")),
            q("registry.example:5000", "a/b", Some("v1"), Some(d.clone()))
        );
    }

    #[test]
    fn path_component_grammar() {
        for ok in [
            "a_b",
            "a__b",
            "a-b",
            "a--b",
            "a---b",
            "a.b",
            "a.b_c__d-e--f",
            "0",
        ] {
            assert_eq!(p(ok).repository(), format!("library/{ok}"), "{ok}");
            let nested = format!("registry.example/{ok}/{ok}");
            assert_eq!(p(&nested).repository(), format!("{ok}/{ok}"), "{nested}");
        }
        for (bad, component) in [
            ("a___b", "a___b"),
            ("a..b", "a..b"),
            ("a._b", "a._b"),
            ("-a", "-a"),
            ("a-", "a-"),
            ("a_", "a_"),
            (".a", ".a"),
            ("x/..", ".."),
            ("x/../y", ".."),
            ("a//b", ""),
            ("a/", ""),
            ("registry.example/", ""),
            ("registry.example//a", ""),
            ("a b", "a b"),
            ("a%2fb", "a%2fb"),
            ("a/b:c/d", "b:c"),
            ("@sha256:00", ""),
            (":tag", ""),
        ] {
            assert_eq!(
                err(bad),
                ReferenceError::InvalidRepository {
                    input: bad.to_string(),
                    component: component.to_string()
                },
                "{bad}"
            );
        }
    }

    #[test]
    fn registry_grammar() {
        for bad in [
            "-bad.example/a",
            "bad-.example/a",
            "a..example/a",
            ".example/a",
            "registry.example:/a",
            "registry.example:50a/a",
            "registry.example:1:2/a",
            "reg_istry.example/a",
            "[::1/a",
            "[]:5000/a",
            "[::1]x/a",
            "[::g]/a",
            ":5000/a",
        ] {
            let registry = bad.split('/').next().unwrap();
            assert_eq!(
                err(bad),
                ReferenceError::InvalidRegistry {
                    input: bad.to_string(),
                    registry: registry.to_string()
                },
                "{bad}"
            );
        }
    }

    #[test]
    fn tags() {
        let t128 = "t".repeat(128);
        assert_eq!(p(&format!("a:{t128}")).tag(), Some(t128.as_str()));
        assert_eq!(p("a:_x").tag(), Some("_x"));
        assert_eq!(p("a:V1.0-rc_1").tag(), Some("V1.0-rc_1"));
        let t129 = "t".repeat(129);
        for (input, tag) in [
            (format!("a:{t129}"), t129.as_str()),
            ("a:".to_string(), ""),
            ("a:.x".to_string(), ".x"),
            ("a:-x".to_string(), "-x"),
            ("a:x+y".to_string(), "x+y"),
            ("localhost:5000/a:b:c".to_string(), "b:c"),
        ] {
            assert_eq!(
                err(&input),
                ReferenceError::InvalidTag {
                    input: input.clone(),
                    tag: tag.to_string()
                },
                "{input}"
            );
        }
    }

    #[test]
    fn digests() {
        let d = dg();
        let r = p(&format!("registry.example/app@{d}"));
        assert_eq!((r.tag(), r.digest()), (None, Some(&d)));
        let long = Digest::from_str(&format!("sha512:{}", "0".repeat(128))).unwrap();
        assert_eq!(
            p(&format!("a@{long}")).digest().unwrap().algorithm(),
            Algorithm::Sha512
        );
        for (input, source) in [
            ("a@", DigestError::MissingAlgorithm),
            ("a@sha256", DigestError::MissingAlgorithm),
            ("a@sha256:zz", DigestError::BadEncoding),
            (
                "a@md5:d41d8cd98f00b204e9800998ecf8427e",
                DigestError::UnsupportedAlgorithm("md5".into()),
            ),
            ("a@sha256:0@sha256:0", DigestError::BadEncoding),
        ] {
            let digest = input.split_once('@').unwrap().1;
            assert_eq!(
                err(input),
                ReferenceError::InvalidDigest {
                    input: input.to_string(),
                    digest: digest.to_string(),
                    source
                },
                "{input}"
            );
        }
    }

    #[test]
    fn uppercase_and_empty() {
        for (input, repository) in [
            ("Ubuntu", "Ubuntu"),
            ("user/App:v1", "user/App"),
            ("Foo/bar", "Foo/bar"),
            ("registry.example/A/b", "A/b"),
        ] {
            let e = err(input);
            assert_eq!(
                e,
                ReferenceError::Uppercase {
                    input: input.to_string(),
                    repository: repository.to_string()
                }
            );
            assert!(
                e.to_string().contains("repository name must be lowercase"),
                "{e}"
            );
        }
        assert_eq!(err(""), ReferenceError::Empty);
    }

    #[test]
    fn name_length() {
        // 255 counts the registry, the `/` and the repository as normalised.
        let reg = "registry.example/"; // 17
        assert!(Reference::parse(&format!("{reg}{}", "a".repeat(238))).is_ok());
        let input = format!("{reg}{}", "a".repeat(239));
        assert_eq!(
            err(&input),
            ReferenceError::TooLong {
                input: input.clone(),
                len: 256
            }
        );
        // docker.io/library/ is 18 characters.
        assert!(Reference::parse(&"a".repeat(237)).is_ok());
        assert!(matches!(
            err(&"a".repeat(238)),
            ReferenceError::TooLong { len: 256, .. }
        ));
        // A long tag or digest does not count.
        let t = "t".repeat(128);
        assert!(Reference::parse(&format!("{}:{t}@{}", "a".repeat(237), dg())).is_ok());
    }

    #[test]
    fn display_round_trips() {
        let d = dg();
        let inputs = [
            "ubuntu".to_string(),
            "ubuntu:latest".to_string(),
            "ubuntu:22.04".to_string(),
            "user/app".to_string(),
            "index.docker.io/user/app:v1".to_string(),
            "localhost/x".to_string(),
            "localhost:5000/x".to_string(),
            "localhost:5000".to_string(),
            "127.0.0.1:5000/a/b/c:v1".to_string(),
            "[::1]:5000/x:t".to_string(),
            "Registry.Example/a__b/c--d.e_f".to_string(),
            format!("repo@{d}"),
            format!("registry:5000/repo:tag@{d}"),
            format!("registry.example/app:v1@{d}"),
            format!("{}:{}", "a".repeat(237), "t".repeat(128)),
        ];
        for input in &inputs {
            let r = p(input);
            let s = r.to_string();
            assert_eq!(p(&s), r, "{input} -> {s}");
            assert_eq!(p(&s).to_string(), s, "{input} -> {s}");
        }
        assert_eq!(p("ubuntu").to_string(), "docker.io/library/ubuntu:latest");
        assert_eq!(
            p(&format!("registry:5000/repo:tag@{d}")).to_string(),
            format!("registry:5000/repo:tag@{d}")
        );
        assert_eq!(
            p(&format!("repo@{d}")).to_string(),
            format!("docker.io/library/repo@{d}")
        );
    }

    #[test]
    fn equality_reads_a_missing_tag_as_latest() {
        use std::collections::HashSet;
        let (bare, latest) = (p("ubuntu"), p("docker.io/library/ubuntu:latest"));
        assert_eq!(bare, latest);
        assert_eq!((bare.tag(), latest.tag()), (None, Some("latest")));
        let set: HashSet<_> = [bare, latest].into_iter().collect();
        assert_eq!(set.len(), 1);
        assert_ne!(p("ubuntu"), p("ubuntu:22.04"));
        assert_ne!(
            p(&format!("ubuntu@{}", dg())),
            p(&format!("ubuntu:latest@{}", dg()))
        );
        assert_ne!(p(&format!("ubuntu@{}", dg())), p("ubuntu"));
    }

    #[test]
    fn manifest_ref_and_builders() {
        let d = dg();
        assert_eq!(p("a").manifest_ref(), "latest");
        assert_eq!(p("a:v1").manifest_ref(), "v1");
        assert_eq!(p(&format!("a:v1@{d}")).manifest_ref(), d.to_string());

        let pinned = p("registry.example/app:v1").with_digest(d.clone());
        assert_eq!((pinned.tag(), pinned.digest()), (Some("v1"), Some(&d)));
        assert_eq!(pinned.to_string(), format!("registry.example/app:v1@{d}"));

        let retagged = pinned.with_tag("v2").unwrap();
        assert_eq!((retagged.tag(), retagged.digest()), (Some("v2"), Some(&d)));
        assert_eq!(
            pinned.with_tag("bad tag").unwrap_err(),
            ReferenceError::InvalidTag {
                input: "registry.example/app:bad tag".into(),
                tag: "bad tag".into()
            }
        );

        let bare = pinned.without_tag_or_digest();
        assert_eq!((bare.tag(), bare.digest()), (None, None));
        assert_eq!(bare.name(), "registry.example/app");
        assert_eq!(bare.to_string(), "registry.example/app:latest");
    }

    #[test]
    fn serde_as_string() {
        let r = p("registry.example/app:v1");
        let j = serde_json::to_string(&r).unwrap();
        assert_eq!(j, "\"registry.example/app:v1\"");
        assert_eq!(serde_json::from_str::<Reference>(&j).unwrap(), r);
        assert!(serde_json::from_str::<Reference>("\"A\"").is_err());
    }

    #[test]
    fn error_messages_quote_the_input() {
        let d = dg();
        let cases = [
            ("".to_string(), "empty image reference".to_string()),
            (
                "bad_host.example/a".to_string(),
                r#"invalid reference "bad_host.example/a": registry "bad_host.example" is not host[:port]"#.to_string(),
            ),
            (
                "a//b".to_string(),
                r#"invalid reference "a//b": repository name has an empty path component"#.to_string(),
            ),
            (
                "a..b".to_string(),
                r#"invalid reference "a..b": repository path component "a..b" is not lowercase letters and digits joined by '.', '_', '__' or dashes"#.to_string(),
            ),
            (
                "User/app".to_string(),
                r#"invalid reference "User/app": repository name must be lowercase ("User/app")"#.to_string(),
            ),
            (
                "a:.x".to_string(),
                r#"invalid reference "a:.x": tag ".x" is not 1 to 128 letters, digits, '_', '.' or '-' starting with a letter, digit or '_'"#.to_string(),
            ),
            (
                "a@sha256:zz".to_string(),
                r#"invalid reference "a@sha256:zz": digest "sha256:zz": digest encoding is not lowercase hex of the right length"#.to_string(),
            ),
            (
                "a".repeat(238),
                format!(r#"invalid reference "{}": the name is 256 characters, more than 255"#, "a".repeat(238)),
            ),
        ];
        for (input, msg) in cases {
            assert_eq!(err(&input).to_string(), msg);
        }
        let e = err(&format!("a@md5:{}", d.hex()));
        assert!(std::error::Error::source(&e).is_some());
    }

    #[test]
    fn manifest_refs() {
        let d = dg();
        assert_eq!(
            ManifestRef::parse("v1.0"),
            Ok(ManifestRef::Tag("v1.0".into()))
        );
        assert_eq!(
            ManifestRef::parse(&d.to_string()),
            Ok(ManifestRef::Digest(d.clone()))
        );
        assert_eq!(ManifestRef::from(d.clone()).as_digest(), Some(&d));
        assert_eq!(ManifestRef::Tag("t".into()).as_tag(), Some("t"));
        for s in ["v1".to_string(), d.to_string()] {
            assert_eq!(s.parse::<ManifestRef>().unwrap().to_string(), s);
        }
        for (bad, is_digest) in [
            ("sha256:zz", true),
            ("md5:00", true),
            (":", true),
            ("", false),
            (".x", false),
            ("a/b", false),
        ] {
            let e = ManifestRef::parse(bad).unwrap_err();
            assert_eq!(
                matches!(e, ReferenceError::InvalidDigest { .. }),
                is_digest,
                "{bad}: {e}"
            );
            assert_eq!(
                matches!(e, ReferenceError::InvalidTag { .. }),
                !is_digest,
                "{bad}: {e}"
            );
        }
        assert!(ManifestRef::parse(&"a".repeat(128)).is_ok());
        assert!(ManifestRef::parse(&"a".repeat(129)).is_err());
    }
}
