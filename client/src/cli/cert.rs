//! `nv2 cert`: the trust stores of the configuration (`add`, `ls`, `show`, `delete`, as
//! `notation cert` does), and `generate-test`: a key and a self-signed code-signing certificate,
//! as `notation cert generate-test` makes them (see
//! `verifier_core::sign::generate_test_certificate`). Without `--default` the files are only
//! written to a folder; with it, as notation does, the certificate also goes into trust store
//! NAME (type ca) and the key becomes the default signing key.

use std::fs::{self, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::SystemTime;

use anyhow::{bail, Context};
use clap::{Args, Subcommand, ValueEnum};
use verifier_core::sign::{generate_test_certificate, pem_decode_certificates, KeyType};

use crate::signature::CertificateInfo;
use crate::trust::{ConfigDir, KeyEntry, SigningKeys, StoreType};

#[derive(Debug, Args)]
pub struct AddArgs {
    /// The trust store type: ca, signingAuthority (or tsa).
    #[arg(short = 't', long = "type", value_name = "TYPE")]
    pub kind: String,
    /// The store's name, as trust policies name it (TYPE:NAME).
    #[arg(short = 's', long, value_name = "NAME")]
    pub store: String,
    /// PEM certificate files.
    #[arg(required = true, value_name = "FILE")]
    pub files: Vec<PathBuf>,
}

#[derive(Debug, Args)]
pub struct LsArgs {
    /// Only stores of this type.
    #[arg(short = 't', long = "type", value_name = "TYPE")]
    pub kind: Option<String>,
    /// Only the store of this name.
    #[arg(short = 's', long, value_name = "NAME")]
    pub store: Option<String>,
}

#[derive(Debug, Args)]
pub struct ShowArgs {
    #[arg(short = 't', long = "type", value_name = "TYPE")]
    pub kind: String,
    #[arg(short = 's', long, value_name = "NAME")]
    pub store: String,
    /// The certificate's file name in the store.
    pub file: String,
}

#[derive(Debug, Args)]
pub struct DeleteArgs {
    #[arg(short = 't', long = "type", value_name = "TYPE")]
    pub kind: String,
    #[arg(short = 's', long, value_name = "NAME")]
    pub store: String,
    /// The certificate's file name in the store.
    #[arg(required_unless_present = "all", conflicts_with = "all")]
    pub file: Option<String>,
    /// Delete every certificate of the store.
    #[arg(long)]
    pub all: bool,
}

fn add(args: AddArgs) -> anyhow::Result<ExitCode> {
    let kind: StoreType = args.kind.parse()?;
    let stores = ConfigDir::from_env()?.trust_store();
    for path in stores.add(kind, &args.store, &args.files)? {
        println!(
            "Successfully added {} to named store {} of type {}",
            path.display(),
            args.store,
            kind.as_str()
        );
    }
    Ok(ExitCode::SUCCESS)
}

fn ls(args: LsArgs) -> anyhow::Result<ExitCode> {
    let kind: Option<StoreType> = args.kind.as_deref().map(str::parse).transpose()?;
    let stores = ConfigDir::from_env()?.trust_store();
    for e in stores.list()? {
        if kind.is_some_and(|k| k != e.kind) || args.store.as_ref().is_some_and(|s| s != &e.store) {
            continue;
        }
        let file = e.path.file_name().unwrap_or_default().to_string_lossy();
        println!("{}/{}/{file}", e.kind.as_str(), e.store);
    }
    Ok(ExitCode::SUCCESS)
}

fn show(args: ShowArgs) -> anyhow::Result<ExitCode> {
    let kind: StoreType = args.kind.parse()?;
    let stores = ConfigDir::from_env()?.trust_store();
    let path = stores.certificate(kind, &args.store, &args.file)?;
    let pem = fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
    let ders =
        pem_decode_certificates(&pem).with_context(|| format!("reading {}", path.display()))?;
    for der in ders {
        let c = CertificateInfo::from_der(&der)
            .map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
        println!("Issuer: {}", c.issuer);
        println!("Subject: {}", c.subject);
        println!("Valid from: {}", c.not_before);
        println!("Valid to: {}", c.not_after);
        println!("SHA256 fingerprint: {}", c.sha256_thumbprint);
    }
    Ok(ExitCode::SUCCESS)
}

fn delete(args: DeleteArgs) -> anyhow::Result<ExitCode> {
    let kind: StoreType = args.kind.parse()?;
    let stores = ConfigDir::from_env()?.trust_store();
    for path in stores.delete(kind, &args.store, args.file.as_deref())? {
        println!(
            "Successfully deleted {} from trust store {}:{}",
            path.file_name().unwrap_or_default().to_string_lossy(),
            kind.as_str(),
            args.store
        );
    }
    Ok(ExitCode::SUCCESS)
}

#[derive(Debug, Subcommand)]
pub enum CertCommand {
    /// Add certificates (PEM) to a trust store of the configuration:
    /// truststore/x509/TYPE/STORE/FILE.
    Add(AddArgs),
    /// List the certificates of the trust stores (TYPE/STORE/FILE per line).
    #[command(visible_alias = "list")]
    Ls(LsArgs),
    /// Show a certificate of a trust store: subject, issuer, validity, SHA-256 fingerprint.
    Show(ShowArgs),
    /// Delete a certificate of a trust store, or with --all the whole store (no prompt, unlike
    /// notation's -y).
    Delete(DeleteArgs),
    /// Generate a test key and a self-signed code-signing certificate, valid for one year, with
    /// subject C=US, ST=WA, L=Seattle, O=Notary, CN=NAME. Writes DIR/NAME.key (PKCS#8 PEM, mode
    /// 0600) and DIR/NAME.crt (PEM); with --default (DIR defaults to the configuration's
    /// localkeys) it also adds the certificate to trust store ca:NAME and makes the key the
    /// default signing key in signingkeys.json.
    GenerateTest(GenerateTestArgs),
}

#[derive(Debug, Args)]
pub struct GenerateTestArgs {
    /// Common name of the certificate, also the base name of the files
    /// (letters, digits, '.', '_' and '-').
    pub name: String,
    /// Key type: the signing algorithm follows from it (rsa-2048 signs PS256, rsa-3072 PS384,
    /// rsa-4096 PS512, ec-p256 ES256, ec-p384 ES384, ec-p521 ES512).
    #[arg(long, value_enum, default_value_t = KeyTypeArg::Rsa3072)]
    pub key_type: KeyTypeArg,
    /// Directory to write NAME.key and NAME.crt into (created when missing; default: the
    /// current folder, or with --default the configuration's localkeys).
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// Also add the certificate to trust store NAME (type ca) and make the key the default
    /// signing key (signingkeys.json), as notation does.
    #[arg(long)]
    pub default: bool,
    /// Overwrite NAME.key and NAME.crt when they exist (by default an existing key is never
    /// replaced).
    #[arg(long)]
    pub force: bool,
}

/// The key types `generate-test` offers.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum KeyTypeArg {
    #[value(name = "rsa-2048")]
    Rsa2048,
    #[value(name = "rsa-3072")]
    Rsa3072,
    #[value(name = "rsa-4096")]
    Rsa4096,
    #[value(name = "ec-p256")]
    EcP256,
    #[value(name = "ec-p384")]
    EcP384,
    #[value(name = "ec-p521")]
    EcP521,
}

impl From<KeyTypeArg> for KeyType {
    fn from(k: KeyTypeArg) -> Self {
        match k {
            KeyTypeArg::Rsa2048 => KeyType::Rsa2048,
            KeyTypeArg::Rsa3072 => KeyType::Rsa3072,
            KeyTypeArg::Rsa4096 => KeyType::Rsa4096,
            KeyTypeArg::EcP256 => KeyType::EcP256,
            KeyTypeArg::EcP384 => KeyType::EcP384,
            KeyTypeArg::EcP521 => KeyType::EcP521,
        }
    }
}

pub fn run(command: CertCommand) -> anyhow::Result<ExitCode> {
    match command {
        CertCommand::GenerateTest(args) => generate_test(args),
        CertCommand::Add(args) => add(args),
        CertCommand::Ls(args) => ls(args),
        CertCommand::Show(args) => show(args),
        CertCommand::Delete(args) => delete(args),
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

    let config = if args.default {
        Some(ConfigDir::from_env()?)
    } else {
        None
    };
    let out = match (&args.out, &config) {
        (Some(dir), _) => dir.clone(),
        (None, Some(config)) => config.local_keys(),
        (None, None) => PathBuf::from("."),
    };
    fs::create_dir_all(&out).with_context(|| format!("creating directory {}", out.display()))?;
    let key_path = out.join(format!("{}.key", args.name));
    let cert_path = out.join(format!("{}.crt", args.name));
    if let Some(config) = &config {
        // Fail before writing anything when the key name is taken.
        let keys_path = config.signing_keys();
        let keys = SigningKeys::load(&keys_path)?;
        if keys.keys.iter().any(|k| k.name == args.name) {
            bail!(
                "a signing key named {:?} exists in {}",
                args.name,
                keys_path.display()
            );
        }
    }
    write_file(&key_path, key_pem.as_bytes(), 0o600, args.force)?;
    println!("wrote key: {}", key_path.display());
    write_file(&cert_path, cert_pem.as_bytes(), 0o644, args.force)?;
    println!("wrote certificate: {}", cert_path.display());
    if let Some(config) = &config {
        let added = config.trust_store().add(
            StoreType::Ca,
            &args.name,
            std::slice::from_ref(&cert_path),
        )?;
        println!(
            "Successfully added {} to named store {} of type ca",
            added[0].display(),
            args.name
        );
        let keys_path = config.signing_keys();
        let mut keys = SigningKeys::load(&keys_path)?;
        // Absolute, as signingkeys.json is read from anywhere.
        let absolute = |p: &Path| {
            p.canonicalize()
                .with_context(|| format!("resolving {}", p.display()))
        };
        keys.add(
            KeyEntry {
                name: args.name.clone(),
                key_path: absolute(&key_path)?,
                cert_path: absolute(&cert_path)?,
            },
            true,
            &keys_path,
        )?;
        keys.save(&keys_path)?;
        println!("{}: now the default signing key", args.name);
    }
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
