//! `cdf-emulator` binary: serves the emulator until killed.

use clap::Parser;
use std::io::Write;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use cdf_emulator::{serve_with_shutdown, Emulator, EmulatorConfig, IdOrder, Realism, TlsFiles};

#[derive(Parser)]
#[command(name = "cdf-emulator", about = "In-memory emulator of the Cognite Data Fusion REST API")]
struct Args {
    /// Address to listen on; only loopback addresses are accepted. Port 0 picks a free port.
    #[arg(long, default_value = "127.0.0.1:4080")]
    listen: SocketAddr,
    /// TOML file with clients and capabilities (see emulator.example.toml).
    #[arg(long)]
    config: Option<PathBuf>,
    /// Lifetime of issued access tokens in seconds (overrides the config file).
    #[arg(long)]
    token_ttl: Option<u64>,
    /// PEM certificate chain; with --tls-key serves HTTPS.
    #[arg(long, requires = "tls_key")]
    tls_cert: Option<PathBuf>,
    /// PEM private key for --tls-cert.
    #[arg(long, requires = "tls_cert")]
    tls_key: Option<PathBuf>,
    /// Worker threads of the tokio runtime (default: number of CPUs).
    #[arg(long)]
    threads: Option<usize>,
    /// `fast` (no latency, no limits) or `cdf` (CDF's latency and rate/concurrency limits).
    /// Replaces the config file's `[realism]` cost model and limits.
    #[arg(long)]
    profile: Option<String>,
    /// Turn the rate and concurrency limits on or off (after --profile).
    #[arg(long, value_parser = ["on", "off"])]
    limits: Option<String>,
    /// Turn the cost model (latency and processing time) on or off (after --profile).
    #[arg(long, value_parser = ["on", "off"])]
    latency: Option<String>,
    /// List and filter endpoints see new objects only this many ms after their creation.
    #[arg(long)]
    list_delay_ms: Option<u64>,
    /// Server ids: `sequential` (lists in creation order) or `random` (seeded, unpredictable).
    #[arg(long, value_parser = ["sequential", "random"])]
    ids: Option<String>,
    /// Seed of random ids and of the cost model's jitter.
    #[arg(long)]
    seed: Option<u64>,
}

fn main() {
    let args = Args::parse();
    if !args.listen.ip().is_loopback() {
        eprintln!("cdf-emulator: refusing to listen on {} (only loopback addresses are allowed)", args.listen);
        std::process::exit(2);
    }
    let mut config = match &args.config {
        Some(path) => EmulatorConfig::from_file(path).unwrap_or_else(|e| {
            eprintln!("cdf-emulator: {e}");
            std::process::exit(2);
        }),
        None => EmulatorConfig::default(),
    };
    if let Some(ttl) = args.token_ttl {
        config.token_ttl_secs = ttl;
    }
    if let Some(p) = &args.profile {
        let Some(profile) = Realism::profile(p) else {
            eprintln!("cdf-emulator: unknown profile \"{p}\" (fast, cdf)");
            std::process::exit(2);
        };
        config.realism.cost = profile.cost;
        config.realism.limits = profile.limits;
    }
    let cdf = Realism::cdf();
    match args.limits.as_deref() {
        Some("on") if config.realism.limits.is_none() => config.realism.limits = cdf.limits.clone(),
        Some("off") => config.realism.limits = None,
        _ => {}
    }
    match args.latency.as_deref() {
        Some("on") if config.realism.cost.is_none() => config.realism.cost = cdf.cost.clone(),
        Some("off") => config.realism.cost = None,
        _ => {}
    }
    if let Some(ms) = args.list_delay_ms {
        config.realism.list_delay_ms = ms;
    }
    match args.ids.as_deref() {
        Some("random") => config.realism.ids = IdOrder::Random,
        Some("sequential") => config.realism.ids = IdOrder::Sequential,
        _ => {}
    }
    if let Some(seed) = args.seed {
        config.realism.seed = seed;
    }
    let tls = match (&args.tls_cert, &args.tls_key) {
        (Some(cert), Some(key)) => {
            Some(cdf_emulator::server::tls_acceptor(&TlsFiles { cert: cert.clone(), key: key.clone() }).unwrap_or_else(
                |e| {
                    eprintln!("cdf-emulator: TLS setup failed: {e}");
                    std::process::exit(2);
                },
            ))
        }
        _ => None,
    };
    let mut rt = tokio::runtime::Builder::new_multi_thread();
    if let Some(n) = args.threads {
        rt.worker_threads(n.max(1));
    }
    let rt = rt.enable_all().build().expect("tokio runtime starts");
    rt.block_on(async move {
        let listener = tokio::net::TcpListener::bind(args.listen).await.unwrap_or_else(|e| {
            eprintln!("cdf-emulator: cannot listen on {}: {e}", args.listen);
            std::process::exit(2);
        });
        let addr = listener.local_addr().expect("bound listener has an address");
        let scheme = if tls.is_some() { "https" } else { "http" };
        {
            let mut out = std::io::stdout().lock();
            let _ = writeln!(out, "cdf-emulator listening on {scheme}://{addr}");
            let _ = out.flush();
        }
        let emu = Arc::new(Emulator::new(config));
        // SIGINT/SIGTERM end the process; there is nothing to flush.
        let shutdown = std::future::pending::<()>();
        if let Err(e) = serve_with_shutdown(listener, emu, tls, shutdown).await {
            eprintln!("cdf-emulator: {e}");
            std::process::exit(1);
        }
    });
}
