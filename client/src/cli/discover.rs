//! `nv2 discover`: the referrers of an artifact, and theirs in turn (a signature of an SBoM
//! under the SBoM), as a tree, a table or oras's JSON (`referrers` nested).

use clap::Args;
use oci_model::Descriptor;
use serde_json::{json, Value};

use super::push::resolve_subject;
use super::remote::RemoteFlags;
use crate::remote::Repository;

#[derive(Debug, Args)]
pub struct DiscoverArgs {
    /// The artifact: REGISTRY/REPO:TAG or @DIGEST.
    pub reference: String,
    /// tree, table or json.
    #[arg(short = 'o', long = "format", alias = "output", default_value = "tree", value_parser = ["tree", "table", "json"])]
    pub format: String,
    /// Only referrers of this artifact type (at the first level).
    #[arg(long)]
    pub artifact_type: Option<String>,
    /// How many levels of referrers (default: all, up to 16).
    #[arg(long, default_value_t = 16)]
    pub depth: u32,
    #[command(flatten)]
    pub remote: RemoteFlags,
}

/// A referrer and its own referrers.
struct Node {
    descriptor: Descriptor,
    referrers: Vec<Node>,
}

async fn walk(
    repo: &Repository,
    subject: &Descriptor,
    artifact_type: Option<&str>,
    depth: u32,
) -> anyhow::Result<Vec<Node>> {
    if depth == 0 {
        return Ok(Vec::new());
    }
    let found = repo.referrers(&subject.digest, artifact_type).await?;
    let mut nodes = Vec::new();
    for d in found.descriptors {
        let referrers = Box::pin(walk(repo, &d, None, depth - 1)).await?;
        nodes.push(Node {
            descriptor: d,
            referrers,
        });
    }
    Ok(nodes)
}

fn to_json(nodes: &[Node]) -> Value {
    Value::Array(
        nodes
            .iter()
            .map(|n| {
                let mut v = json!(n.descriptor);
                if !n.referrers.is_empty() {
                    v["referrers"] = to_json(&n.referrers);
                }
                v
            })
            .collect(),
    )
}

fn print_tree(nodes: &[Node], prefix: &str) {
    for (i, n) in nodes.iter().enumerate() {
        let last = i + 1 == nodes.len();
        let (branch, next) = if last {
            ("└── ", "    ")
        } else {
            ("├── ", "│   ")
        };
        let kind = n
            .descriptor
            .artifact_type
            .as_deref()
            .unwrap_or(&n.descriptor.media_type);
        println!("{prefix}{branch}{kind}");
        let inner = format!("{prefix}{next}");
        let child_prefix = if n.referrers.is_empty() {
            "└── "
        } else {
            "├── "
        };
        println!("{inner}{child_prefix}{}", n.descriptor.digest);
        if !n.referrers.is_empty() {
            print_tree(&n.referrers, &format!("{inner}│   "));
        }
    }
}

fn print_table(nodes: &[Node], level: usize) {
    for n in nodes {
        println!(
            "{:indent$}{:<60} {}",
            "",
            n.descriptor
                .artifact_type
                .as_deref()
                .unwrap_or(&n.descriptor.media_type),
            n.descriptor.digest,
            indent = level * 2
        );
        print_table(&n.referrers, level + 1);
    }
}

pub fn run(args: DiscoverArgs) -> anyhow::Result<std::process::ExitCode> {
    let client = args.remote.client()?;
    super::remote::runtime()?.block_on(async {
        let (repo, subject) = resolve_subject(&client, &args.reference).await?;
        let nodes = walk(&repo, &subject, args.artifact_type.as_deref(), args.depth).await?;
        match args.format.as_str() {
            "json" => {
                let mut out = json!(subject);
                out["referrers"] = to_json(&nodes);
                println!("{}", serde_json::to_string_pretty(&out)?);
            }
            "table" => {
                println!("{:<60} DIGEST", "ARTIFACT TYPE");
                print_table(&nodes, 0);
            }
            _ => {
                println!("{}/{}@{}", repo.registry(), repo.name(), subject.digest);
                print_tree(&nodes, "");
            }
        }
        Ok(std::process::ExitCode::SUCCESS)
    })
}
