//! Vigil's server: agents enrol and stream events over gRPC with mutual TLS 1.3; events land
//! exactly once in the embedded telemetry store (`vigil-store`); devices, tokens and
//! certificates live in the state store (`vigil-state`); operators use the HTTP API.
//!
//! [`start`] brings everything up from a [`ServerConfig`] and returns a [`RunningServer`]
//! that the binary, `vigil up` and the integration tests share.
//!
//! **Invariant:** an event batch is acknowledged only after `Store::append` returned, i.e.
//! once it is durable on disk.

pub mod alert_tables;
pub mod api;
pub mod automation;
pub mod bootstrap;
pub mod config;
pub mod console;
pub mod custom;
pub mod detect;
pub mod exposure;
pub mod grpc;
pub mod hunt;
pub mod intel;
pub mod metrics;
pub mod respond;
pub mod settings;
pub mod tls;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result};
use tokio::sync::watch;
use vigil_pki::Ca;
use vigil_proto::pb::enrollment_server::EnrollmentServer;
use vigil_proto::pb::telemetry_server::TelemetryServer;
use vigil_state::StateStore;
use vigil_store::{Store, StoreOptions};

pub use config::ServerConfig;

/// Milliseconds since the Unix epoch.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// What the services share.
pub struct Ctx {
    pub cfg: ServerConfig,
    pub state: StateStore,
    pub store: Store,
    pub ca: Ca,
    pub metrics: Arc<metrics::Metrics>,
    /// `None` when `detection.enabled` is false.
    pub detector: Option<detect::Detector>,
    /// The rules detection loaded (empty when detection is disabled), for `GET /api/v1/rules`.
    pub rules: Vec<vigil_sigma::RuleInfo>,
    /// The live indicator set and what keeps it current.
    pub intel: Arc<intel::Intel>,
    /// Response actions: the agents' command streams and the files actions move.
    pub respond: respond::Respond,
    /// Request rates per API principal.
    pub rate_limits: api::access::RateLimits,
}

/// A started server.
pub struct RunningServer {
    pub grpc_addr: SocketAddr,
    pub http_addr: SocketAddr,
    pub data_dir: PathBuf,
    pub admin_token_path: PathBuf,
    pub ca_path: PathBuf,
    pub created: bool,
    pub ctx: Arc<Ctx>,
    stop: watch::Sender<bool>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl RunningServer {
    /// Stop serving and flush the in-memory rows to Parquet.
    pub async fn shutdown(self) -> Result<()> {
        let _ = self.stop.send(true);
        for t in self.tasks {
            let _ = tokio::time::timeout(Duration::from_secs(5), t).await;
        }
        let store = self.ctx.store.clone();
        tokio::task::spawn_blocking(move || store.flush())
            .await
            .context("flush task failed")?
            .context("cannot flush the telemetry store")?;
        Ok(())
    }
}

/// Open the stores, create the PKI on first start, and serve gRPC and HTTP.
pub async fn start(cfg: ServerConfig) -> Result<RunningServer> {
    let data_dir = cfg.server.data_dir.clone();
    std::fs::create_dir_all(&data_dir)
        .with_context(|| format!("cannot create data directory {}", data_dir.display()))?;
    let state = StateStore::open(&data_dir.join("state.db"))
        .await
        .with_context(|| format!("cannot open the state store in {}", data_dir.display()))?;
    let boot = bootstrap::bootstrap(&data_dir, &cfg.server.tls_names, &state).await?;
    let mut sopts = StoreOptions::new(data_dir.join("telemetry"));
    sopts.hot_max_rows = cfg.store.hot_max_rows;
    sopts.hot_max_bytes = cfg.store.hot_max_mib.saturating_mul(1 << 20);
    sopts.hot_max_age = Duration::from_secs(cfg.store.hot_max_age_secs);
    sopts.retention_days = cfg.store.retention_days;
    let store = tokio::task::spawn_blocking(move || Store::open(sopts))
        .await
        .context("store task failed")?
        .context("cannot open the telemetry store")?;
    // A retention set in the console overrides the configuration file's.
    settings::apply_stored(&state, &store, cfg.store.retention_days)
        .await
        .context("cannot read the settings")?;
    let tls = vigil_pki::server_tls_config(boot.ca.cert_pem(), &boot.server_cert)
        .context("cannot build the TLS configuration")?;
    let metrics = Arc::new(metrics::Metrics::default());
    let (intel, retro_rx) = intel::Intel::new(state.clone());
    // The first set is loaded before agents connect, so that nothing stored unmatched.
    intel
        .rebuild()
        .await
        .context("cannot load the indicators")?;
    let mut catalogue = Vec::new();
    let detector = if cfg.detection.enabled {
        let (rules, _) = detect::load_rules(&cfg.detection.rules_dirs)?;
        catalogue = rules.rules().to_vec();
        Some(detect::Detector::start(
            rules,
            Arc::clone(&intel),
            state.clone(),
            store.clone(),
            tokio::runtime::Handle::current(),
            Arc::clone(&metrics),
        ))
    } else {
        tracing::warn!("detection is disabled: events are stored, not evaluated");
        None
    };
    let ctx = Arc::new(Ctx {
        cfg: cfg.clone(),
        state,
        store,
        ca: boot.ca,
        metrics: Arc::clone(&metrics),
        detector,
        rules: catalogue,
        intel: Arc::clone(&intel),
        respond: respond::Respond::new(&data_dir).with_context(|| {
            format!(
                "cannot create the files directory in {}",
                data_dir.display()
            )
        })?,
        rate_limits: Default::default(),
    });

    let grpc_listener = tokio::net::TcpListener::bind(cfg.server.grpc_addr)
        .await
        .with_context(|| format!("cannot listen on {} (grpc_addr)", cfg.server.grpc_addr))?;
    let http_listener = tokio::net::TcpListener::bind(cfg.server.http_addr)
        .await
        .with_context(|| format!("cannot listen on {} (http_addr)", cfg.server.http_addr))?;
    let grpc_addr = grpc_listener.local_addr()?;
    let http_addr = http_listener.local_addr()?;
    let (stop, stop_rx) = watch::channel(false);
    let mut tasks = Vec::new();

    let max_msg = cfg.ingest.max_message_bytes;
    let enrollment = EnrollmentServer::new(grpc::EnrollmentService {
        ctx: Arc::clone(&ctx),
    })
    .max_decoding_message_size(64 << 10);
    let telemetry = TelemetryServer::new(grpc::TelemetryService::new(Arc::clone(&ctx)))
        .max_decoding_message_size(max_msg);
    let incoming = tls::incoming(grpc_listener, tls, Arc::clone(&metrics));
    let mut rx = stop_rx.clone();
    tasks.push(tokio::spawn(async move {
        let res = tonic::transport::Server::builder()
            .http2_keepalive_interval(Some(Duration::from_secs(60)))
            .add_service(enrollment)
            .add_service(telemetry)
            .serve_with_incoming_shutdown(incoming, async move {
                let _ = rx.wait_for(|s| *s).await;
            })
            .await;
        if let Err(e) = res {
            tracing::error!("gRPC server stopped: {e}");
        }
    }));

    let router = api::router(Arc::clone(&ctx));
    let mut rx = stop_rx.clone();
    tasks.push(tokio::spawn(async move {
        let res = axum::serve(http_listener, router)
            .with_graceful_shutdown(async move {
                let _ = rx.wait_for(|s| *s).await;
            })
            .await;
        if let Err(e) = res {
            tracing::error!("HTTP server stopped: {e}");
        }
    }));

    tasks.push(tokio::spawn(custom::runner(
        Arc::clone(&ctx),
        stop_rx.clone(),
    )));
    tasks.push(tokio::spawn(
        Arc::clone(&intel).run(cfg.intel.expired_grace_days, stop_rx.clone()),
    ));
    tasks.push(tokio::spawn(intel::retro::run(
        Arc::clone(&ctx),
        retro_rx,
        stop_rx.clone(),
    )));
    if cfg.intel.feeds {
        tasks.push(tokio::spawn(intel::feeds::run(
            Arc::clone(&ctx),
            stop_rx.clone(),
        )));
    }
    tasks.push(tokio::spawn(respond::sweeper(
        Arc::clone(&ctx),
        stop_rx.clone(),
    )));
    tasks.push(tokio::spawn(maintenance(Arc::clone(&ctx), stop_rx)));

    Ok(RunningServer {
        grpc_addr,
        http_addr,
        data_dir,
        admin_token_path: boot.admin_token_path,
        ca_path: boot.ca_path,
        created: boot.created,
        ctx,
        stop,
        tasks,
    })
}

/// Flush hot rows when due; compact and apply retention hourly.
async fn maintenance(ctx: Arc<Ctx>, mut stop: watch::Receiver<bool>) {
    let mut last_hourly = std::time::Instant::now();
    loop {
        tokio::select! {
            _ = tokio::time::sleep(Duration::from_millis(500)) => {}
            _ = stop.wait_for(|s| *s) => return,
        }
        let store = ctx.store.clone();
        let hourly = last_hourly.elapsed() >= Duration::from_secs(3600);
        if hourly {
            last_hourly = std::time::Instant::now();
        }
        let res = tokio::task::spawn_blocking(move || -> Result<(), vigil_store::StoreError> {
            if store.maintenance_due() {
                store.flush()?;
            }
            if hourly {
                store.compact()?;
                store.apply_retention(vigil_schema::Timestamp::now())?;
            }
            Ok(())
        })
        .await;
        match res {
            Ok(Err(e)) => tracing::warn!("store maintenance failed: {e}"),
            Err(e) => tracing::warn!("store maintenance task failed: {e}"),
            Ok(Ok(())) => {}
        }
    }
}
