//! `nv2 inspect REF` and `nv2 list REF`: an artifact's signatures, as `notation inspect` and
//! `notation list` show them (a tree; `inspect -o json` for scripts).

use std::process::ExitCode;

use clap::Args;
use serde_json::{json, Value};

use super::remote::{parse_reference, runtime, RemoteFlags};
use crate::signature::{self, Inspected, ARTIFACT_TYPE};

#[derive(Debug, Args)]
pub struct InspectArgs {
    /// The artifact: REGISTRY/REPO:TAG or REGISTRY/REPO@DIGEST.
    pub reference: String,
    /// tree or json.
    #[arg(short = 'o', long = "output", default_value = "tree", value_parser = ["tree", "json"])]
    pub output: String,
    #[command(flatten)]
    pub remote: RemoteFlags,
}

#[derive(Debug, Args)]
pub struct ListArgs {
    /// The artifact: REGISTRY/REPO:TAG or REGISTRY/REPO@DIGEST.
    pub reference: String,
    #[command(flatten)]
    pub remote: RemoteFlags,
}

/// A labelled tree, printed with box-drawing branches as notation does.
struct Node {
    label: String,
    children: Vec<Node>,
}

impl Node {
    fn new(label: impl Into<String>) -> Node {
        Node {
            label: label.into(),
            children: Vec::new(),
        }
    }

    fn child(&mut self, label: impl Into<String>) -> &mut Node {
        self.children.push(Node::new(label));
        self.children.last_mut().expect("just pushed")
    }

    fn render(&self) -> String {
        let mut out = format!("{}\n", self.label);
        self.render_children("", &mut out);
        out
    }

    fn render_children(&self, prefix: &str, out: &mut String) {
        for (i, c) in self.children.iter().enumerate() {
            let last = i + 1 == self.children.len();
            out.push_str(&format!(
                "{prefix}{}{}\n",
                if last { "└── " } else { "├── " },
                c.label
            ));
            c.render_children(
                &format!("{prefix}{}", if last { "    " } else { "│   " }),
                out,
            );
        }
    }
}

/// A JSON value as one line (strings without quotes).
fn plain(v: &Value) -> String {
    v.as_str().map_or_else(|| v.to_string(), str::to_string)
}

/// `io.cncf.notary.signingTime` → `signingTime`, as notation shows header names.
fn short_name(k: &str) -> &str {
    k.strip_prefix("io.cncf.notary.").unwrap_or(k)
}

fn signature_node(parent: &mut Node, s: &Inspected) {
    let node = parent.child(s.digest.to_string());
    node.child(format!("media type: {}", s.envelope.media_type));
    if let Some(a) = &s.signature_algorithm {
        node.child(format!("signature algorithm: {a}"));
    }
    let signed = node.child("signed attributes");
    for (k, v) in &s.signed_attributes {
        signed.child(format!("{}: {}", short_name(k), plain(v)));
    }
    let user = node.child("user defined attributes");
    if s.user_defined_attributes.is_empty() {
        user.child("(empty)");
    }
    for (k, v) in &s.user_defined_attributes {
        user.child(format!("{k}: {v}"));
    }
    let unsigned = node.child("unsigned attributes");
    for (k, v) in &s.unsigned_attributes {
        unsigned.child(format!("{}: {}", short_name(k), plain(v)));
    }
    let certs = node.child("certificates");
    for c in &s.certificates {
        let cert = certs.child(format!("SHA256 fingerprint: {}", c.sha256_thumbprint));
        cert.child(format!("issued to: {}", c.subject));
        cert.child(format!("issued by: {}", c.issuer));
        cert.child(format!("valid from: {}", c.not_before));
        cert.child(format!("expiry: {}", c.not_after));
    }
    if let Some(target) = &s.signed_artifact {
        let artifact = node.child("signed artifact");
        for k in ["mediaType", "digest", "size"] {
            artifact.child(format!("{k}: {}", plain(&target[k])));
        }
    }
    for e in &s.errors {
        node.child(format!("error: {e}"));
    }
}

pub fn inspect(args: InspectArgs) -> anyhow::Result<ExitCode> {
    let reference = parse_reference(&args.reference)?;
    let client = args.remote.client()?;
    let repo = client.repository(&reference);
    let (subject, found) = runtime()?.block_on(async {
        let subject = repo.resolve(&reference.manifest_ref()).await?;
        let found = signature::fetch_signatures(&repo, &subject).await?;
        anyhow::Ok((subject, found))
    })?;
    let pinned = format!("{}/{}@{}", repo.registry(), repo.name(), subject.digest);
    let inspected: Vec<Inspected> = found.signatures.iter().map(signature::inspect).collect();
    for s in &found.skipped {
        eprintln!(
            "Warning: skipped signature manifest {}: {}",
            s.manifest, s.reason
        );
    }
    if args.output == "json" {
        let out =
            json!({"reference": pinned, "mediaType": subject.media_type, "signatures": inspected});
        println!("{}", serde_json::to_string_pretty(&out)?);
        return Ok(ExitCode::SUCCESS);
    }
    if inspected.is_empty() {
        println!("{pinned} has no associated signature");
        return Ok(ExitCode::SUCCESS);
    }
    let mut root = Node::new(pinned.as_str());
    let kind = root.child(ARTIFACT_TYPE);
    for s in &inspected {
        signature_node(kind, s);
    }
    print!("{}", root.render());
    Ok(ExitCode::SUCCESS)
}

pub fn list(args: ListArgs) -> anyhow::Result<ExitCode> {
    let reference = parse_reference(&args.reference)?;
    let client = args.remote.client()?;
    let repo = client.repository(&reference);
    let (subject, found) = runtime()?.block_on(async {
        let subject = repo.resolve(&reference.manifest_ref()).await?;
        let found = signature::discover(&repo, &subject.digest).await?;
        anyhow::Ok((subject, found))
    })?;
    let pinned = format!("{}/{}@{}", repo.registry(), repo.name(), subject.digest);
    if found.is_empty() {
        println!("{pinned} has no associated signature");
        return Ok(ExitCode::SUCCESS);
    }
    let mut root = Node::new(pinned);
    let kind = root.child(ARTIFACT_TYPE);
    for d in &found {
        kind.child(d.digest.to_string());
    }
    print!("{}", root.render());
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trees_draw_as_notation_draws_them() {
        let mut root = Node::new("r");
        let a = root.child("a");
        a.child("a1").child("a1x");
        a.child("a2");
        root.child("b");
        assert_eq!(
            root.render(),
            "r\n├── a\n│   ├── a1\n│   │   └── a1x\n│   └── a2\n└── b\n"
        );
    }
}
