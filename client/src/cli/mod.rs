//! The `nv2` command line: argument parsing (clap derive) and dispatch, one module per
//! subcommand. Exit status: 0 success (for `verify`: verified), 1 `verify` ran and the artifact is
//! not verified, 2 usage, input or I/O error.

use std::process::ExitCode;

use clap::{Parser, Subcommand};

pub mod cert;
pub mod content;
pub mod copy;
pub mod discover;
pub mod inspect;
pub mod policy;
pub mod pull;
pub mod push;
pub mod remote;
pub mod sign;
pub mod sign_envelope;
pub mod verify;
pub mod verify_ref;

/// `verify` completed and the artifact is not verified.
pub const EXIT_NOT_VERIFIED: u8 = 1;
/// Bad usage, unreadable or invalid input, I/O failure (clap uses 2 for usage errors too).
pub const EXIT_ERROR: u8 = 2;

/// Push, attach, discover and pull artifacts in OCI registries (oras's verbs and flags), and sign
/// and verify them in the Notary Project signature format.
#[derive(Debug, Parser)]
#[command(name = "nv2", version, about, long_about = None)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Trust store certificates (add, ls, show, delete) and test certificates (generate-test).
    #[command(subcommand)]
    Cert(cert::CertCommand),
    /// The trust policy (import, show, init).
    #[command(subcommand)]
    Policy(policy::PolicyCommand),
    /// Sign an artifact in a registry and push the signature (as `notation sign`).
    ///
    /// Where nv2 differs from notation: --key takes a key file (with --cert) as well as a key
    /// name of signingkeys.json; --annotation/-m is notation's --user-metadata; the signature is
    /// always a JWS envelope; --signature-manifest artifact writes the prototype's OCI artifact
    /// manifest; there are no plug-ins and no timestamping (--timestamp-url). Besides notation's
    /// `Successfully signed …` line, the signature manifest's digest is printed.
    Sign(sign::SignArgs),
    /// Verify an artifact's signatures in its registry (REF), or a request (--request,
    /// --envelope), against a trust policy. Exit 0 verified, 1 not verified, 2 error.
    ///
    /// Where nv2 differs from notation: --trust-policy and --trust-store name a policy file and
    /// a truststore folder instead of the configuration's; --time sets the verification time;
    /// revocation is not checked (reported as a warning); -o json prints the Contract 1 report.
    /// The --request and --envelope forms verify local files, for scripts.
    Verify(verify::VerifyArgs),
    /// Show every signature of an artifact: times, scheme, chain, signed attributes (as
    /// `notation inspect`; -o tree or json).
    Inspect(inspect::InspectArgs),
    /// List the signature digests of an artifact.
    #[command(visible_alias = "ls")]
    List(inspect::ListArgs),
    /// Sign a subject descriptor: write a Notary Project JWS envelope to stdout.
    SignEnvelope(sign_envelope::SignEnvelopeArgs),
    /// Push files as an artifact (pushed by digest, then tagged).
    Push(push::PushArgs),
    /// Attach files to an artifact as a new artifact that refers to it.
    Attach(push::AttachArgs),
    /// Show the artifacts that refer to an artifact, and theirs (tree, table, json).
    Discover(discover::DiscoverArgs),
    /// Pull an artifact's files into a folder.
    Pull(pull::PullArgs),
    /// Copy an artifact (-r: with its referrers) between registries and OCI image layouts.
    #[command(visible_alias = "cp")]
    Copy(copy::CopyArgs),
    /// Give an artifact more tags.
    Tag(content::TagArgs),
    /// Log in to a registry (stored in docker's config.json).
    Login(content::LoginArgs),
    /// Remove a registry's stored login.
    Logout(content::LogoutArgs),
    /// Fetch, push or delete manifests.
    #[command(subcommand)]
    Manifest(content::ManifestCommand),
    /// Fetch, push or delete blobs.
    #[command(subcommand)]
    Blob(content::BlobCommand),
    /// List repositories and tags.
    #[command(subcommand)]
    Repo(content::RepoCommand),
}

/// Parses the process arguments, runs the command and maps the outcome to an exit status.
pub fn main() -> ExitCode {
    // clap prints usage errors itself and exits with status 2 (0 for --help/--version).
    let cli = Cli::parse();
    match run(cli) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("nv2: error: {e:#}");
            ExitCode::from(EXIT_ERROR)
        }
    }
}

/// Runs one parsed command line.
pub fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Cert(c) => cert::run(c),
        Command::Policy(c) => policy::run(c),
        Command::Sign(a) => sign::run(a),
        Command::Verify(a) => verify::run(a),
        Command::Inspect(a) => inspect::inspect(a),
        Command::List(a) => inspect::list(a),
        Command::SignEnvelope(a) => sign_envelope::run(a),
        Command::Push(a) => push::run_push(a),
        Command::Attach(a) => push::run_attach(a),
        Command::Discover(a) => discover::run(a),
        Command::Pull(a) => pull::run(a),
        Command::Copy(a) => copy::run(a),
        Command::Tag(a) => content::tag(a),
        Command::Login(a) => content::login(a),
        Command::Logout(a) => content::logout(a),
        Command::Manifest(c) => content::manifest(c),
        Command::Blob(c) => content::blob(c),
        Command::Repo(c) => content::repo(c),
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
}
