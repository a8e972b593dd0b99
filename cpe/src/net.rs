//! The accept loop every server of the toolkit runs (the CPE's Connection Request server, the
//! ACS's CWMP endpoint and file server): a bounded number of connections at once, a back-off
//! when `accept` fails for want of descriptors, and a graceful stop; and the bounded TLS
//! handshake of the servers that speak HTTPS.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Semaphore, watch};
use tokio::task::JoinSet;

/// The first and the longest pause after an `accept` error that is not the connection's own.
pub const ACCEPT_BACKOFF: (Duration, Duration) =
    (Duration::from_millis(10), Duration::from_secs(1));

/// One accepted connection.
#[derive(Debug)]
pub struct Accepted {
    /// The stream, with `TCP_NODELAY` set (CWMP exchanges are small request/response pairs).
    pub stream: TcpStream,
    /// The peer's address.
    pub peer: SocketAddr,
    /// Turns true when the server stops: finish the request at hand, then close.
    pub stop: watch::Receiver<bool>,
}

/// The server side of a TLS handshake on `stream`, within `limit`; `None` (logged at debug:
/// a client's failure, not the server's) when it fails or takes longer.
pub async fn tls_handshake(
    acceptor: &tokio_rustls::TlsAcceptor,
    stream: TcpStream,
    limit: Duration,
) -> Option<tokio_rustls::server::TlsStream<TcpStream>> {
    match tokio::time::timeout(limit, acceptor.accept(stream)).await {
        Ok(Ok(stream)) => Some(stream),
        Ok(Err(error)) => {
            tracing::debug!(%error, "TLS handshake failed");
            None
        }
        Err(_) => {
            tracing::debug!("TLS handshake timed out");
            None
        }
    }
}

/// How [`serve`] runs.
#[derive(Clone, Copy, Debug)]
pub struct AcceptLimits {
    /// Most connections served at once; further clients wait in the listen backlog.
    pub max_connections: usize,
    /// After shutdown, how long open connections may go on before they are cut; `None` waits
    /// for them.
    pub grace: Option<Duration>,
}

/// Accepts connections on `listener` until `shutdown` resolves, and runs the future `handle`
/// makes of each as a task holding one of [`AcceptLimits::max_connections`] slots. Then it
/// stops accepting (the port closes), turns every [`Accepted::stop`] true, and returns once
/// the connections are done (or cut after [`AcceptLimits::grace`]); it returns how many were
/// still open when it stopped accepting.
pub async fn serve<F, Fut>(
    listener: TcpListener,
    limits: AcceptLimits,
    shutdown: impl Future<Output = ()>,
    mut handle: F,
) -> usize
where
    F: FnMut(Accepted) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    let (stop_tx, stop_rx) = watch::channel(false);
    let slots = Arc::new(Semaphore::new(
        limits.max_connections.clamp(1, Semaphore::MAX_PERMITS),
    ));
    let mut tasks = JoinSet::new();
    let mut backoff = ACCEPT_BACKOFF.0;
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        while let Some(done) = tasks.try_join_next() {
            log_task_end(done);
        }
        let permit = tokio::select! {
            biased;
            () = &mut shutdown => break,
            permit = Arc::clone(&slots).acquire_owned() => match permit {
                Ok(permit) => permit,
                Err(_) => break,
            },
        };
        let accepted = tokio::select! {
            biased;
            () = &mut shutdown => break,
            accepted = listener.accept() => accepted,
        };
        let (stream, peer) = match accepted {
            Ok(accepted) => {
                backoff = ACCEPT_BACKOFF.0;
                accepted
            }
            Err(error) if is_per_connection(&error) => {
                tracing::debug!(%error, "accept failed for one connection");
                continue;
            }
            Err(error) => {
                crate::oplog!(NET_ACCEPT_PAUSED, %error, ?backoff, "accept failed; pausing");
                tokio::select! {
                    biased;
                    () = &mut shutdown => break,
                    () = tokio::time::sleep(backoff) => {}
                }
                backoff = (backoff * 2).min(ACCEPT_BACKOFF.1);
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        let connection = handle(Accepted {
            stream,
            peer,
            stop: stop_rx.clone(),
        });
        tasks.spawn(async move {
            let _permit = permit;
            connection.await;
        });
    }
    drop(listener);
    let open = tasks.len();
    stop_tx.send_replace(true);
    let drain = async {
        while let Some(done) = tasks.join_next().await {
            log_task_end(done);
        }
    };
    match limits.grace {
        None => drain.await,
        Some(grace) => {
            if tokio::time::timeout(grace, drain).await.is_err() {
                crate::oplog!(
                    NET_CONNECTIONS_CUT,
                    open = tasks.len(),
                    "cutting connections still open after {grace:?}"
                );
                tasks.shutdown().await;
            }
        }
    }
    open
}

fn log_task_end(done: Result<(), tokio::task::JoinError>) {
    if let Err(error) = done
        && error.is_panic()
    {
        crate::oplog!(NET_TASK_PANICKED, %error, "a connection task panicked");
    }
}

/// Errors of `accept` that concern only the connection being accepted.
fn is_per_connection(error: &std::io::Error) -> bool {
    use std::io::ErrorKind::{ConnectionAborted, ConnectionReset, Interrupted};
    matches!(
        error.kind(),
        ConnectionAborted | ConnectionReset | Interrupted
    )
}

#[cfg(test)]
mod tests {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    use super::*;

    #[tokio::test]
    async fn connections_beyond_the_limit_wait_and_shutdown_stops_the_rest() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let limits = AcceptLimits {
            max_connections: 1,
            grace: None,
        };
        let server = tokio::spawn(serve(
            listener,
            limits,
            async { stopped.await.unwrap() },
            |mut a: Accepted| async move {
                // Echo one byte, then hold the connection until the server stops.
                let mut byte = [0; 1];
                if a.stream.read_exact(&mut byte).await.is_ok() {
                    let _ = a.stream.write_all(&byte).await;
                }
                let _ = a.stop.wait_for(|s| *s).await;
            },
        ));
        let mut first = TcpStream::connect(addr).await.unwrap();
        first.write_all(b"a").await.unwrap();
        let mut echo = [0; 1];
        first.read_exact(&mut echo).await.unwrap();
        assert_eq!(&echo, b"a");
        // The second client is accepted by the kernel but not served while the first holds the slot.
        let mut second = TcpStream::connect(addr).await.unwrap();
        second.write_all(b"b").await.unwrap();
        let waited =
            tokio::time::timeout(Duration::from_millis(200), second.read_exact(&mut echo)).await;
        assert!(
            waited.is_err(),
            "the second connection must wait for a slot"
        );
        stop.send(()).unwrap();
        assert_eq!(server.await.unwrap(), 1);
        // The listener is gone with its backlog: the connection that waited there is reset
        // (another test may already have been given the port number, so no new connect).
        let mut rest = [0; 1];
        let closed = second.read(&mut rest).await;
        assert!(
            matches!(closed, Ok(0) | Err(_)),
            "the waiting connection is closed: {closed:?}"
        );
    }
}
