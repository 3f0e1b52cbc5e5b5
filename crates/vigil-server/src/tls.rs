//! The TLS 1.3 listener for gRPC: accepts TCP connections, runs the rustls handshake on a task
//! of its own (a slow or failing client never blocks the others) and hands finished TLS
//! streams to tonic, which exposes the client certificate to the services.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio_rustls::server::TlsStream;
use tokio_rustls::TlsAcceptor;
use tokio_stream::wrappers::ReceiverStream;

/// How long a client may take to finish the handshake.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// Accept on `listener` forever; the returned stream yields handshaken connections.
pub fn incoming(
    listener: TcpListener,
    config: rustls::ServerConfig,
    metrics: Arc<crate::metrics::Metrics>,
) -> ReceiverStream<Result<TlsStream<TcpStream>, std::io::Error>> {
    let acceptor = TlsAcceptor::from(Arc::new(config));
    let (tx, rx) = mpsc::channel(256);
    tokio::spawn(async move {
        loop {
            let (tcp, peer): (TcpStream, SocketAddr) = match listener.accept().await {
                Ok(x) => x,
                Err(e) => {
                    // Out of descriptors and the like: wait a moment, keep serving.
                    tracing::warn!("accept failed: {e}");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            };
            let _ = tcp.set_nodelay(true);
            if tx.is_closed() {
                return;
            }
            let (acceptor, tx, metrics) = (acceptor.clone(), tx.clone(), Arc::clone(&metrics));
            tokio::spawn(async move {
                match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(tcp)).await {
                    Ok(Ok(tls)) => {
                        let _ = tx.send(Ok(tls)).await;
                    }
                    Ok(Err(e)) => {
                        metrics
                            .tls_failures
                            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        tracing::info!(%peer, "TLS handshake failed: {e}");
                    }
                    Err(_) => {
                        metrics
                            .tls_failures
                            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        tracing::info!(%peer, "TLS handshake timed out");
                    }
                }
            });
        }
    });
    ReceiverStream::new(rx)
}
