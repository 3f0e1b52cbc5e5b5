//! `vigil-server run`: the server binary (see the README and `../shared/cli-contract.md`).

use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::{Parser, Subcommand};
use vigil_server::ServerConfig;

// Ingest allocates and frees millions of small strings a second; glibc malloc spent a third
// of the server's CPU on them in the fleet benchmark.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(
    name = "vigil-server",
    version,
    about = "Vigil server: enrolment, ingest, storage and the API"
)]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Run the server until Ctrl-C or SIGTERM.
    Run {
        /// TOML configuration (every key is documented in the README).
        #[arg(long)]
        config: Option<PathBuf>,
        /// Where the CA, tokens, state and telemetry live (overrides server.data_dir).
        #[arg(long)]
        data_dir: Option<PathBuf>,
        /// Agents' gRPC address (overrides server.grpc_addr).
        #[arg(long)]
        grpc_addr: Option<SocketAddr>,
        /// HTTP API address (overrides server.http_addr).
        #[arg(long)]
        http_addr: Option<SocketAddr>,
        /// Extra DNS name or IP address for the server certificate (repeatable).
        #[arg(long = "tls-name")]
        tls_names: Vec<String>,
    },
}

fn main() {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    if let Err(e) = run(Cli::parse()) {
        eprintln!("vigil-server: {e:#}");
        std::process::exit(1);
    }
}

fn run(cli: Cli) -> Result<()> {
    let Cmd::Run {
        config,
        data_dir,
        grpc_addr,
        http_addr,
        tls_names,
    } = cli.cmd;
    let mut cfg = ServerConfig::load(config.as_deref()).map_err(anyhow::Error::msg)?;
    if let Some(d) = data_dir {
        cfg.server.data_dir = d;
    }
    if let Some(a) = grpc_addr {
        cfg.server.grpc_addr = a;
    }
    if let Some(a) = http_addr {
        cfg.server.http_addr = a;
    }
    cfg.server.tls_names.extend(tls_names);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    rt.block_on(async {
        let server = vigil_server::start(cfg).await?;
        println!("vigil-server: data directory {}", server.data_dir.display());
        println!("vigil-server: CA certificate {}", server.ca_path.display());
        println!(
            "vigil-server: administrator API token in {}",
            server.admin_token_path.display()
        );
        println!(
            "vigil-server: agents connect to {} (gRPC, mutual TLS 1.3)",
            server.grpc_addr
        );
        println!("vigil-server: API at http://{}", server.http_addr);
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = term.recv() => {}
        }
        eprintln!("vigil-server: stopping");
        server.shutdown().await
    })
}
