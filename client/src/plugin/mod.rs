//! `docker-generate`, the docker CLI plug-in: `docker generate manifest SRC` and
//! `docker generate push SRC REF`, with no Docker engine needed (see [`crate::image`]).
//!
//! The plug-in protocol (docker/cli `cli-plugins`): docker finds `docker-generate` in a
//! `cli-plugins` folder of its configuration, asks `docker-generate docker-cli-plugin-metadata`
//! for a JSON description, and runs a command as `docker-generate [docker's global flags]
//! generate ARGS…`, i.e. with the global flags the user gave before `generate`. Those flags are
//! accepted here; `--config` is honoured (stored logins), `-H` names the engine for reading a
//! local image by name, the others matter only to the engine and are ignored.
//!
//! Exit status: 0 success, 2 on any failure (bad input, unreachable registry, a failed step).

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};

mod push;

/// The plug-in protocol version this binary speaks.
pub const SCHEMA_VERSION: &str = "0.1.0";
/// Every failure.
pub const EXIT_ERROR: u8 = 2;

/// Push a container image by digest, sign it, attach and sign its SBoM, and only then move the
/// tag (a docker CLI plug-in: `docker generate …`).
#[derive(Debug, Parser)]
#[command(name = "docker-generate", bin_name = "docker", version, about, long_about = None)]
pub struct Cli {
    #[command(flatten)]
    pub docker: DockerFlags,
    #[command(subcommand)]
    pub command: Top,
}

/// docker's global flags, which docker passes on in front of `generate`.
#[derive(Debug, Clone, Args)]
pub struct DockerFlags {
    /// Location of the docker client configuration (logins are read from DIR/config.json).
    #[arg(long, global = true, value_name = "DIR")]
    pub config: Option<PathBuf>,
    /// docker context (accepted; not used).
    #[arg(short = 'c', long, global = true, value_name = "NAME")]
    pub context: Option<String>,
    /// docker debug mode (accepted; not used).
    #[arg(short = 'D', long, global = true)]
    pub debug: bool,
    /// docker log level (accepted; not used).
    #[arg(short = 'l', long, global = true, value_name = "LEVEL")]
    pub log_level: Option<String>,
    /// The Docker engine, for reading a local image by name (default: DOCKER_HOST, else
    /// unix:///var/run/docker.sock).
    #[arg(short = 'H', long, global = true, value_name = "HOST")]
    pub host: Vec<String>,
    /// docker TLS flags (accepted; not used: the engine is only asked to `docker save`).
    #[arg(long, global = true, num_args = 0..=1, require_equals = true, default_missing_value = "true", value_name = "BOOL")]
    pub tls: Option<bool>,
    #[arg(long, global = true, num_args = 0..=1, require_equals = true, default_missing_value = "true", value_name = "BOOL", hide = true)]
    pub tlsverify: Option<bool>,
    #[arg(long, global = true, value_name = "FILE", hide = true)]
    pub tlscacert: Option<PathBuf>,
    #[arg(long, global = true, value_name = "FILE", hide = true)]
    pub tlscert: Option<PathBuf>,
    #[arg(long, global = true, value_name = "FILE", hide = true)]
    pub tlskey: Option<PathBuf>,
}

// Parsed once per process: the size of a variant does not matter.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Subcommand)]
pub enum Top {
    /// The plug-in's description for the docker CLI (JSON).
    #[command(name = "docker-cli-plugin-metadata", hide = true)]
    Metadata,
    /// Push an image by digest, sign it, attach its SBoM, then move the tag.
    #[command(subcommand)]
    Generate(Verb),
}

#[allow(clippy::large_enum_variant)]
#[derive(Debug, Subcommand)]
pub enum Verb {
    /// Print the image manifest that `push` would push, and its digest.
    Manifest(push::ManifestArgs),
    /// Upload the blobs, push the manifest by digest, sign it, attach and sign the SBoM, then
    /// move the tag; on a failure the tag is not moved.
    Push(push::PushArgs),
}

/// The metadata docker reads (`docker-cli-plugin-metadata`).
pub fn metadata() -> serde_json::Value {
    serde_json::json!({
        "SchemaVersion": SCHEMA_VERSION,
        "Vendor": "nv2",
        "Version": env!("CARGO_PKG_VERSION"),
        "ShortDescription": "Push an image by digest, sign it, attach its SBoM, then tag it",
    })
}

/// Parses the process arguments, runs the command and maps the outcome to an exit status.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("docker-generate: error: {e:#}");
            ExitCode::from(EXIT_ERROR)
        }
    }
}

/// Runs one parsed command line.
pub fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Top::Metadata => {
            println!("{}", metadata());
            Ok(ExitCode::SUCCESS)
        }
        Top::Generate(Verb::Manifest(a)) => push::run_manifest(&cli.docker, a),
        Top::Generate(Verb::Push(a)) => push::run_push(&cli.docker, a),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn cli_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn docker_s_global_flags_are_taken_before_the_plugin_name() {
        let cli = Cli::try_parse_from([
            "docker-generate",
            "--config",
            "/tmp/d",
            "-c",
            "default",
            "-D",
            "-l",
            "debug",
            "-H",
            "unix:///x.sock",
            "--tls",
            "--tlsverify",
            "--tlscacert",
            "ca.pem",
            "--tlscert",
            "c.pem",
            "--tlskey",
            "k.pem",
            "generate",
            "manifest",
            "image.tar",
        ])
        .unwrap();
        assert_eq!(cli.docker.config, Some(PathBuf::from("/tmp/d")));
        assert_eq!(cli.docker.host, ["unix:///x.sock"]);
        assert!(cli.docker.debug);
        assert!(matches!(cli.command, Top::Generate(Verb::Manifest(_))));
    }

    #[test]
    fn metadata_is_the_protocol_s_object() {
        let m = metadata();
        assert_eq!(m["SchemaVersion"], "0.1.0");
        assert_eq!(m["Vendor"], "nv2");
        assert!(m["ShortDescription"]
            .as_str()
            .is_some_and(|s| !s.is_empty()));
    }
}
