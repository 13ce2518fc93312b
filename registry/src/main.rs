//! `nv2-registry`: the command line. `serve` runs the registry; `htpasswd`
//! prints a bcrypt entry for an htpasswd file.

use std::io::{BufRead, IsTerminal, Write};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use axum::serve::ListenerExt;
use clap::{Parser, Subcommand};
use nv2_registry::{app, AppState, Config, FsOptions, FsStorage, Htpasswd, Storage};

#[derive(Parser)]
#[command(
    name = "nv2-registry",
    version,
    about = "OCI distribution v1.1 registry with the referrers API"
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    /// Log lines on stderr: `text` (colour only on a terminal) or `json` (one object per line,
    /// for log collectors). Levels come from RUST_LOG (default `info`).
    #[arg(long, global = true, env = "NV2_LOG_FORMAT", value_enum, default_value_t = LogFormat::Text)]
    log_format: LogFormat,
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum LogFormat {
    Text,
    Json,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the registry (the default when no command is given).
    Serve(ServeArgs),
    /// Print an htpasswd line for USER, reading the password from stdin.
    Htpasswd {
        user: String,
        /// bcrypt cost.
        #[arg(long, default_value_t = 10)]
        cost: u32,
    },
}

#[derive(clap::Args)]
struct ServeArgs {
    /// Storage root directory (created if missing).
    #[arg(long, env = "NV2_REGISTRY_ROOT", default_value = "./nv2-registry-data")]
    root: PathBuf,
    /// Address to listen on, HOST:PORT (a name such as localhost is resolved); port 0 picks a
    /// free port (printed on stdout).
    #[arg(long, env = "NV2_REGISTRY_ADDR", default_value = "127.0.0.1:5000")]
    addr: String,
    /// htpasswd file with bcrypt entries: enables basic authentication.
    #[arg(long)]
    htpasswd: Option<PathBuf>,
    /// With --htpasswd: allow GET and HEAD without credentials.
    #[arg(long)]
    anonymous_read: bool,
    /// PEM certificate chain: serve HTTPS (needs --tls-key).
    #[arg(long, requires = "tls_key")]
    tls_cert: Option<PathBuf>,
    /// PEM private key for --tls-cert.
    #[arg(long, requires = "tls_cert")]
    tls_key: Option<PathBuf>,
    /// Largest blob accepted, in bytes (0: no limit).
    #[arg(long, default_value_t = 0)]
    max_blob_size: u64,
    /// Most upload sessions open at once (more get 429).
    #[arg(long, default_value_t = 256)]
    max_uploads: usize,
    /// Seconds an idle upload session is kept.
    #[arg(long, default_value_t = 3600)]
    upload_ttl: u64,
    /// Most descriptors on one referrers page.
    #[arg(long, default_value_t = 500)]
    referrers_page_size: usize,
    /// Deleting a manifest also deletes its referrers, recursively. Without
    /// it, referrers stay and are listed again if the subject is re-pushed.
    #[arg(long)]
    delete_referrers_with_subject: bool,
    /// Refuse DELETE requests (405 UNSUPPORTED).
    #[arg(long)]
    disable_delete: bool,
    /// Refuse all writes (403 DENIED).
    #[arg(long)]
    read_only: bool,
    /// Do not fsync before acknowledging writes. A killed process still never
    /// exposes partial files, but a power loss may lose acknowledged writes.
    /// For benchmarks and throwaway registries only.
    #[arg(long)]
    unsafe_no_fsync: bool,
}

impl Default for ServeArgs {
    fn default() -> ServeArgs {
        // Parsing no flags yields the documented defaults.
        #[derive(Parser)]
        struct Only {
            #[command(flatten)]
            args: ServeArgs,
        }
        Only::parse_from(["serve"]).args
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let cli = Cli::parse();
    init_logging(cli.log_format);
    match cli.command.unwrap_or(Command::Serve(ServeArgs::default())) {
        Command::Htpasswd { user, cost } => {
            let mut pw = String::new();
            std::io::stdin().lock().read_line(&mut pw)?;
            let hash = bcrypt::hash(pw.trim_end_matches(['\r', '\n']), cost)?;
            println!("{user}:{hash}");
            Ok(())
        }
        Command::Serve(args) => tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()?
            .block_on(serve(args)),
    }
}

/// Escape sequences only where a person reads them: a log file or collector gets plain text.
fn init_logging(format: LogFormat) {
    let builder = tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "info,tower_http=warn".into()),
        )
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal());
    match format {
        LogFormat::Text => builder.init(),
        LogFormat::Json => builder.json().init(),
    }
}

async fn serve(args: ServeArgs) -> Result<(), Box<dyn std::error::Error>> {
    let config = Config {
        max_blob_bytes: args.max_blob_size,
        max_upload_sessions: args.max_uploads,
        upload_ttl: Duration::from_secs(args.upload_ttl),
        referrers_page_size: args.referrers_page_size.max(1),
        delete_referrers_with_subject: args.delete_referrers_with_subject,
        disable_delete: args.disable_delete,
        read_only: args.read_only,
        anonymous_read: args.anonymous_read,
        ..Config::default()
    };
    let opts = FsOptions {
        max_blob_bytes: args.max_blob_size,
        fsync: !args.unsafe_no_fsync,
    };
    let store = Arc::new(FsStorage::open_with(&args.root, opts)?);
    let mut state = AppState::new(store.clone(), config.clone());
    if let Some(p) = &args.htpasswd {
        state = state.with_htpasswd(Htpasswd::load(p)?);
    }

    // Idle upload sessions are swept once a minute (or per TTL if shorter).
    let sweep = config
        .upload_ttl
        .min(Duration::from_secs(60))
        .max(Duration::from_secs(1));
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(sweep);
        loop {
            tick.tick().await;
            match store.upload_expire(config.upload_ttl).await {
                Ok(0) => {}
                Ok(n) => tracing::info!(n, "expired idle upload sessions"),
                Err(e) => tracing::warn!(%e, "upload expiry failed"),
            }
        }
    });

    let router = app(state);
    let listener = std::net::TcpListener::bind(&args.addr)
        .map_err(|e| format!("listening on {}: {e}", args.addr))?;
    listener.set_nonblocking(true)?;
    let local = listener.local_addr()?;
    let scheme = if args.tls_cert.is_some() {
        "https"
    } else {
        "http"
    };
    // Tests and scripts read this line to learn the port.
    println!("nv2-registry listening on {scheme}://{local}");
    std::io::stdout().flush()?;
    // The first log line says where it listens; warnings about the setup follow it.
    tracing::info!(root = %args.root.display(), %local, "serving on {scheme}://{local}");
    if args.unsafe_no_fsync {
        tracing::warn!("--unsafe-no-fsync: acknowledged writes may be lost on power failure");
    }

    // TCP_NODELAY on every connection: otherwise a response's last small segment waits for the
    // client's delayed ACK (Nagle), a stall of tens of milliseconds that Go clients (OPA's
    // http.send, containerd) hit on most requests.
    match (args.tls_cert, args.tls_key) {
        (Some(cert), Some(key)) => {
            let _ = rustls::crypto::ring::default_provider().install_default();
            let tls = axum_server::tls_rustls::RustlsConfig::from_pem_file(cert, key).await?;
            let handle = axum_server::Handle::new();
            let h = handle.clone();
            tokio::spawn(async move {
                shutdown_signal().await;
                h.graceful_shutdown(Some(Duration::from_secs(10)));
            });
            let acceptor = axum_server::tls_rustls::RustlsAcceptor::new(tls)
                .acceptor(axum_server::accept::NoDelayAcceptor::new());
            axum_server::from_tcp(listener)
                .acceptor(acceptor)
                .handle(handle)
                .serve(router.into_make_service())
                .await?;
        }
        _ => {
            let listener = tokio::net::TcpListener::from_std(listener)?.tap_io(|tcp| {
                if let Err(e) = tcp.set_nodelay(true) {
                    tracing::warn!("TCP_NODELAY: {e}");
                }
            });
            axum::serve(listener, router)
                .with_graceful_shutdown(shutdown_signal())
                .await?;
        }
    }
    Ok(())
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! { _ = ctrl_c => {}, _ = term => {} }
}
