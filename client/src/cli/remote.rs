//! The flags every remote verb takes (oras's names), the client they make, and transfer
//! progress on stderr: indicatif bars on a terminal, `Uploading <12 hex> <name>` lines otherwise,
//! nothing with `--quiet`.

use std::collections::HashMap;
use std::io::{IsTerminal, Read};
use std::path::PathBuf;
use std::sync::Mutex;

use anyhow::{bail, Context};
use clap::Args;
use indicatif::{MultiProgress, ProgressBar, ProgressStyle};
use oci_model::{Descriptor, Reference};

use crate::remote::{Client, ClientOptions, Credential, DockerConfig, Transfer};

#[derive(Debug, Clone, Args)]
pub struct RemoteFlags {
    /// Use HTTP, not HTTPS (localhost and 127.0.0.1 use HTTP anyway).
    #[arg(long, global = true)]
    pub plain_http: bool,
    /// Accept any TLS certificate of the registry.
    #[arg(long, global = true)]
    pub insecure: bool,
    /// A CA certificate (PEM) to trust for the registry's TLS.
    #[arg(long, global = true, value_name = "FILE")]
    pub ca_file: Option<PathBuf>,
    /// The registry user name (with -p or --password-stdin).
    #[arg(short = 'u', long, global = true)]
    pub username: Option<String>,
    /// The registry password or identity token.
    #[arg(short = 'p', long, global = true)]
    pub password: Option<String>,
    /// Read the password from standard input.
    #[arg(long, global = true)]
    pub password_stdin: bool,
    /// The docker configuration that holds logins (default $DOCKER_CONFIG/config.json or
    /// ~/.docker/config.json).
    #[arg(long, global = true, value_name = "FILE")]
    pub registry_config: Option<PathBuf>,
    /// Blobs transferred at once.
    #[arg(long, global = true, default_value_t = 3, value_parser = clap::value_parser!(u16).range(1..=64))]
    pub concurrency: u16,
    /// Print nothing but the result.
    #[arg(short = 'q', long, global = true)]
    pub quiet: bool,
    /// Print every request's outcome.
    #[arg(short = 'v', long, global = true)]
    pub verbose: bool,
}

impl RemoteFlags {
    pub fn docker_config(&self) -> DockerConfig {
        match &self.registry_config {
            Some(p) => DockerConfig::at(p),
            None => DockerConfig::default_location(),
        }
    }

    /// The password of -p or --password-stdin.
    pub fn password(&self) -> anyhow::Result<Option<String>> {
        match (&self.password, self.password_stdin) {
            (Some(_), true) => bail!("give -p/--password or --password-stdin, not both"),
            (Some(p), false) => Ok(Some(p.clone())),
            (None, true) => {
                let mut s = String::new();
                std::io::stdin()
                    .read_to_string(&mut s)
                    .context("reading the password from standard input")?;
                Ok(Some(s.trim_end_matches(['\n', '\r']).to_string()))
            }
            (None, false) => Ok(None),
        }
    }

    pub fn client(&self) -> anyhow::Result<Client> {
        let credential = match (&self.username, self.password()?) {
            (Some(u), Some(p)) => Some(Credential {
                username: u.clone(),
                password: p,
            }),
            (None, Some(p)) => Some(Credential {
                username: "<token>".into(),
                password: p,
            }),
            (Some(_), None) => bail!("-u needs a password: -p or --password-stdin"),
            (None, None) => None,
        };
        Ok(Client::new(ClientOptions {
            plain_http: self.plain_http,
            insecure: self.insecure,
            ca_file: self.ca_file.clone(),
            credential,
            docker_config: self.docker_config(),
            concurrency: self.concurrency as usize,
            ..ClientOptions::default()
        })?)
    }

    /// Progress for transfers, as the terminal allows.
    pub fn progress(&self) -> Box<dyn Transfer> {
        if self.quiet {
            Box::new(crate::remote::Silent)
        } else if std::io::stderr().is_terminal() {
            Box::new(Bars::default())
        } else {
            Box::new(Lines)
        }
    }

    /// A status line (on stdout, like oras), unless quiet.
    pub fn say(&self, line: impl AsRef<str>) {
        if !self.quiet {
            println!("{}", line.as_ref());
        }
    }
}

/// Parses a reference argument with a clear error.
pub fn parse_reference(s: &str) -> anyhow::Result<Reference> {
    Reference::parse(s).map_err(|e| anyhow::anyhow!("{s:?} is not a reference: {e}"))
}

/// The first 12 hex digits of a digest, as oras prints them.
pub fn short(d: &Descriptor) -> String {
    d.digest.hex().chars().take(12).collect()
}

/// Plain status lines.
struct Lines;

impl Transfer for Lines {
    fn begin(&self, d: &Descriptor, name: &str, verb: &str) {
        eprintln!("{verb} {} {name}", short(d));
    }
    fn advance(&self, _: &Descriptor, _: u64) {}
    fn end(&self, d: &Descriptor, name: &str, status: &str) {
        eprintln!("{status:<11} {} {name}", short(d));
    }
}

/// One indicatif bar per blob.
#[derive(Default)]
struct Bars {
    multi: MultiProgress,
    bars: Mutex<HashMap<String, ProgressBar>>,
}

impl Transfer for Bars {
    fn begin(&self, d: &Descriptor, name: &str, verb: &str) {
        let bar = self.multi.add(ProgressBar::new(d.size));
        bar.set_style(
            ProgressStyle::with_template("{msg} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec}")
                .expect("a valid template")
                .progress_chars("=> "),
        );
        bar.set_message(format!("{verb} {} {name}", short(d)));
        self.bars.lock().unwrap().insert(d.digest.to_string(), bar);
    }
    fn advance(&self, d: &Descriptor, bytes: u64) {
        if let Some(bar) = self.bars.lock().unwrap().get(&d.digest.to_string()) {
            bar.inc(bytes);
        }
    }
    fn end(&self, d: &Descriptor, name: &str, status: &str) {
        match self.bars.lock().unwrap().remove(&d.digest.to_string()) {
            Some(bar) => bar.finish_with_message(format!("{status} {} {name}", short(d))),
            None => {
                let _ = self
                    .multi
                    .println(format!("{status:<11} {} {name}", short(d)));
            }
        }
    }
}

/// A runtime for one command.
pub fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("starting the async runtime")
}
