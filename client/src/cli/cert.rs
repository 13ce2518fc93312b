//! `nv2 cert generate-test`: a key and a self-signed code-signing certificate, as
//! `notation cert generate-test` makes them (see `verifier_core::sign::generate_test_certificate`).
//! Unlike notation, nothing is added to a configuration or trust store: the files are written to
//! a directory and the caller decides where they go.

use std::fs::{self, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::SystemTime;

use anyhow::{bail, Context};
use clap::{Args, Subcommand, ValueEnum};
use verifier_core::sign::{generate_test_certificate, KeyType};

#[derive(Debug, Subcommand)]
pub enum CertCommand {
    /// Generate a test key and a self-signed code-signing certificate, valid for one year, with
    /// subject C=US, ST=WA, L=Seattle, O=Notary, CN=NAME. Writes DIR/NAME.key (PKCS#8 PEM, mode
    /// 0600) and DIR/NAME.crt (PEM).
    GenerateTest(GenerateTestArgs),
}

#[derive(Debug, Args)]
pub struct GenerateTestArgs {
    /// Common name of the certificate, also the base name of the files
    /// (letters, digits, '.', '_' and '-').
    pub name: String,
    /// Key type: the signing algorithm follows from it (rsa-3072 signs PS384, ec-p256 ES256,
    /// ec-p384 ES384).
    #[arg(long, value_enum, default_value_t = KeyTypeArg::Rsa3072)]
    pub key_type: KeyTypeArg,
    /// Directory to write NAME.key and NAME.crt into (created when missing).
    #[arg(long, value_name = "DIR", default_value = ".")]
    pub out: PathBuf,
    /// Overwrite NAME.key and NAME.crt when they exist (by default an existing key is never
    /// replaced).
    #[arg(long)]
    pub force: bool,
}

/// The key types `generate-test` offers.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum KeyTypeArg {
    #[value(name = "rsa-3072")]
    Rsa3072,
    #[value(name = "ec-p256")]
    EcP256,
    #[value(name = "ec-p384")]
    EcP384,
}

impl From<KeyTypeArg> for KeyType {
    fn from(k: KeyTypeArg) -> Self {
        match k {
            KeyTypeArg::Rsa3072 => KeyType::Rsa3072,
            KeyTypeArg::EcP256 => KeyType::EcP256,
            KeyTypeArg::EcP384 => KeyType::EcP384,
        }
    }
}

pub fn run(command: CertCommand) -> anyhow::Result<ExitCode> {
    match command {
        CertCommand::GenerateTest(args) => generate_test(args),
    }
}

fn generate_test(args: GenerateTestArgs) -> anyhow::Result<ExitCode> {
    // The name becomes a file name: keep it to notation's safe alphabet.
    if args.name.is_empty()
        || !args
            .name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b))
        || args.name.starts_with('.')
    {
        bail!(
            "name {:?} must match [a-zA-Z0-9_.-]+ and not start with '.'",
            args.name
        );
    }
    let key_type = KeyType::from(args.key_type);
    println!("generating {} key", key_type.name());
    let (key_pem, cert_pem) = generate_test_certificate(&args.name, key_type, SystemTime::now())
        .context("generating the test certificate")?;

    fs::create_dir_all(&args.out)
        .with_context(|| format!("creating directory {}", args.out.display()))?;
    let key_path = args.out.join(format!("{}.key", args.name));
    let cert_path = args.out.join(format!("{}.crt", args.name));
    write_file(&key_path, key_pem.as_bytes(), 0o600, args.force)?;
    println!("wrote key: {}", key_path.display());
    write_file(&cert_path, cert_pem.as_bytes(), 0o644, args.force)?;
    println!("wrote certificate: {}", cert_path.display());
    Ok(ExitCode::SUCCESS)
}

/// Writes `bytes` to a new file created with `mode` (so a private key is never readable by
/// others, not even for a moment); with `force`, an existing file is replaced.
fn write_file(path: &Path, bytes: &[u8], mode: u32, force: bool) -> anyhow::Result<()> {
    if force && path.exists() {
        fs::remove_file(path).with_context(|| format!("removing {}", path.display()))?;
    }
    let mut options = OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(mode);
    }
    #[cfg(not(unix))]
    let _ = mode;
    let mut file = options.open(path).with_context(|| {
        if path.exists() {
            format!("{} exists (use --force to replace it)", path.display())
        } else {
            format!("creating {}", path.display())
        }
    })?;
    file.write_all(bytes)
        .with_context(|| format!("writing {}", path.display()))?;
    Ok(())
}
