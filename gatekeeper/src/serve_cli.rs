//! The `serve` and `certs` verbs: flags, logging, and the runtime around `gatekeeper::server`.

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use gatekeeper::certs::Certs;
use gatekeeper::provider::{Provider, ProviderArgs};
use gatekeeper::server;

#[derive(Clone, Copy, Debug, clap::ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

#[derive(clap::Args)]
pub struct ServeArgs {
    /// Where to listen.
    #[arg(long, default_value = "0.0.0.0:8443")]
    addr: SocketAddr,
    /// The serving certificate (PEM chain), reloaded when it changes.
    #[arg(long)]
    tls_cert: PathBuf,
    /// Its private key (PEM), reloaded when it changes.
    #[arg(long)]
    tls_key: PathBuf,
    /// Require client certificates issued by this CA (PEM): Gatekeeper's mTLS.
    #[arg(long)]
    client_ca: Option<PathBuf>,
    /// Log lines on stderr: `text` (colour only on a terminal) or `json` (one object per line,
    /// for log collectors). Levels come from RUST_LOG (default `info`).
    #[arg(long, value_enum, default_value_t = LogFormat::Text)]
    log_format: LogFormat,
    /// How often the trust configuration and bundle are checked for changes, in milliseconds.
    #[arg(long, value_name = "MS", default_value_t = 2000)]
    reload_interval: u64,
    #[command(flatten)]
    provider: ProviderArgs,
}

#[derive(clap::Args)]
pub struct CertsArgs {
    /// The folder to write ca.crt, tls.crt and tls.key into.
    #[arg(long)]
    out: PathBuf,
    /// A DNS name of the service (e.g. nv2-provider.gatekeeper-system.svc); repeatable.
    #[arg(long, required = true)]
    dns: Vec<String>,
    /// An IP address of the service; repeatable.
    #[arg(long)]
    ip: Vec<IpAddr>,
}

fn init_logging(format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        // Escape sequences only where a person reads them, not in a log file or collector.
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()));
    match format {
        LogFormat::Json => builder.json().init(),
        LogFormat::Text => builder.init(),
    }
}

pub fn serve(args: ServeArgs) -> anyhow::Result<ExitCode> {
    init_logging(args.log_format);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async move {
        let tls = server::tls_config(&args.tls_cert, &args.tls_key, args.client_ca.as_deref())?;
        let options = args.provider.options()?;
        let listener = tokio::net::TcpListener::bind(args.addr).await?;
        // The first log line says where it listens; what the provider loads follows it.
        let addr = listener.local_addr()?;
        tracing::info!(%addr, "serving on https://{addr}");
        let provider = Provider::new(options)?;
        if let Err(e) = provider.ready() {
            tracing::error!(error = %e, "starting not ready");
        }
        server::spawn_reloader(
            provider.clone(),
            Duration::from_millis(args.reload_interval.max(100)),
        );
        tokio::select! {
            r = server::serve(listener, tls, server::app(provider)) => r?,
            _ = tokio::signal::ctrl_c() => tracing::info!("stopping"),
        }
        Ok(ExitCode::SUCCESS)
    })
}

pub fn certs(args: CertsArgs) -> anyhow::Result<ExitCode> {
    let certs = Certs::generate(&args.dns, &args.ip)?;
    certs.write(&args.out)?;
    eprintln!(
        "wrote {}/ca.crt, tls.crt and tls.key; the Provider's caBundle:",
        args.out.display()
    );
    println!("{}", certs.ca_bundle());
    Ok(ExitCode::SUCCESS)
}
