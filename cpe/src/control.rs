//! The local control socket: how `cpe status`, `cpe get` and `cpe set` talk to a running agent.
//!
//! A Unix socket `control.sock` in the state directory. Each connection carries one request and
//! one response, each a single line of JSON, bounded in size and time. Only local users that
//! can reach the state directory can connect.

use std::future::Future;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::{UnixListener, UnixStream};

/// The socket's file name within the state directory.
pub const SOCKET_NAME: &str = "control.sock";

/// The longest request or response line accepted, in bytes.
pub const MAX_LINE: usize = 1024 * 1024;

/// How long one exchange may take.
pub const EXCHANGE_TIMEOUT: Duration = Duration::from_secs(10);

/// The socket path for a state directory.
pub fn socket_path(state_dir: &Path) -> PathBuf {
    state_dir.join(SOCKET_NAME)
}

/// What a client asks.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum Request {
    /// The agent's status.
    Status,
    /// Parameter values (full names or partial paths).
    Get {
        /// Names or partial paths.
        paths: Vec<String>,
    },
    /// Set parameter values, as a local change (not the ACS's: notifications apply).
    Set {
        /// `(name, value)` pairs, values as text.
        values: Vec<(String, String)>,
    },
    /// What a DHCP lease said about the ACS (`cpe dhcp hook`, TR-069 §3.1), to apply under
    /// the precedence rules of [`crate::ztp`].
    Dhcp {
        /// The decoded and checked option 43.
        intake: crate::ztp::Intake,
    },
    /// `cpe stats`: the call-home statistics.
    Stats,
    /// `cpe cloud status`: the tunnel's status table.
    CloudStatus,
    /// `cpe cloud reset`: drop the tunnel and establish it again.
    CloudReset,
    /// `cpe cloud unbind CODE`: send the unbinding code to the cloud.
    CloudUnbind {
        /// The code, 1-64 printable characters without whitespace.
        code: String,
    },
    /// `cpe backup`: a snapshot of the agent's state ([`crate::snapshot::state`]).
    Backup,
    /// `cpe stop`: stop the agent once its state is saved. Without `force`, refused while a
    /// CWMP session or a file transfer is in progress.
    Stop {
        /// Stop even then: the session is dropped and the transfers are cut short.
        force: bool,
    },
}

/// What the agent answers.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "result", rename_all = "snake_case")]
#[allow(
    clippy::large_enum_variant,
    reason = "one short-lived answer per connection; the status is the common one"
)]
pub enum Response {
    /// The status.
    Status(Status),
    /// `(name, value)` pairs.
    Values {
        /// The values, in the model's order.
        values: Vec<(String, String)>,
    },
    /// Done.
    Done,
    /// A DHCP intake was applied; what changed and what held.
    Dhcp {
        /// One line per value: changed, or kept and why.
        summary: String,
    },
    /// The cloud tunnel's status table: `(field, printed value)` in the table's order
    /// ([`crate::cloud::StatusTable`]).
    CloudStatus {
        /// The rows.
        rows: Vec<(String, String)>,
    },
    /// The encoded snapshot ([`crate::snapshot::Snapshot::encode`], always UTF-8).
    Backup {
        /// The snapshot file's bytes.
        snapshot: String,
    },
    /// The call-home statistics ([`crate::stats`]).
    Stats(crate::stats::Snapshot),
    /// The agent stops: it saves its state, drops what `cut_short` names, and exits.
    Stopping {
        /// What was in progress and is cut short (empty when the agent was idle).
        cut_short: Vec<String>,
    },
    /// The agent does not stop: what is in progress, one line each.
    StopRefused {
        /// The session and the transfers in progress.
        running: Vec<String>,
    },
    /// The request was refused; the message says why.
    Error {
        /// What went wrong.
        message: String,
    },
}

/// The agent's status, as `cpe status` prints it.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Status {
    /// The agent's version.
    pub version: String,
    /// The ACS URL in use, if any.
    pub acs_url: Option<String>,
    /// Where it came from (`config`, `dhcp`, `acs`, `cli`).
    pub acs_url_source: Option<String>,
    /// Where each value DHCP may set came from, `(parameter, source)` with the sources of
    /// [`crate::ztp::Source`]; cloud-management values the profile has no object for are
    /// named `cloud.<field>`.
    #[serde(default)]
    pub sources: Vec<(String, String)>,
    /// When the last session ended (RFC 3339) and how (`ok` or the failure).
    pub last_session: Option<(String, String)>,
    /// When the next session is due (RFC 3339), if one is scheduled.
    pub next_session: Option<String>,
    /// Sessions that completed.
    pub sessions_ok: u64,
    /// Sessions that failed.
    pub sessions_failed: u64,
    /// Events waiting for the next Inform.
    pub pending_events: Vec<String>,
    /// Whether a session is in progress now.
    pub in_session: bool,
    /// The agent's components, each with its state and health.
    #[serde(default)]
    pub components: Vec<crate::health::Component>,
}

/// Why an exchange over the control socket failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ControlError {
    /// No agent listens at the socket.
    #[error(
        "no agent is running with state directory {dir} (cannot connect to {socket}: {source})"
    )]
    NotRunning {
        /// The state directory.
        dir: PathBuf,
        /// The socket path.
        socket: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// Reading or writing failed.
    #[error("control socket: {0}")]
    Io(#[from] std::io::Error),
    /// The peer sent something that is not a valid line of the protocol.
    #[error("control socket: invalid message: {0}")]
    Protocol(String),
    /// The exchange took longer than [`EXCHANGE_TIMEOUT`].
    #[error("control socket: no answer within {0:?}")]
    Timeout(Duration),
}

/// Sends `request` to the agent whose state directory is `state_dir`.
pub async fn request(state_dir: &Path, request: &Request) -> Result<Response, ControlError> {
    let socket = socket_path(state_dir);
    let exchange = async {
        let stream =
            UnixStream::connect(&socket)
                .await
                .map_err(|source| ControlError::NotRunning {
                    dir: state_dir.to_owned(),
                    socket: socket.clone(),
                    source,
                })?;
        let (read, mut write) = stream.into_split();
        write_line(&mut write, request).await?;
        read_line(&mut BufReader::new(read)).await
    };
    tokio::time::timeout(EXCHANGE_TIMEOUT, exchange)
        .await
        .map_err(|_| ControlError::Timeout(EXCHANGE_TIMEOUT))?
}

/// Serves the control socket in `state_dir` until `shutdown` completes: each request is given
/// to `handler`, whose answer is sent back. A stale socket file from a dead agent is replaced.
/// At shutdown the socket file is removed first, so nobody new connects, then the exchanges
/// under way are finished (each within [`EXCHANGE_TIMEOUT`]): an answer already decided, such
/// as `cpe stop`'s, still reaches its client.
pub async fn serve<H, F>(
    state_dir: &Path,
    handler: H,
    shutdown: impl Future<Output = ()>,
) -> Result<(), ControlError>
where
    H: Fn(Request) -> F + Clone + Send + Sync + 'static,
    F: Future<Output = Response> + Send + 'static,
{
    let socket = socket_path(state_dir);
    if UnixStream::connect(&socket).await.is_err() {
        // Nobody answers: a leftover of an agent that died.
        let _ = std::fs::remove_file(&socket);
    }
    let listener = UnixListener::bind(&socket)?;
    let mut exchanges = tokio::task::JoinSet::new();
    tokio::pin!(shutdown);
    let result = loop {
        let stream = tokio::select! {
            () = &mut shutdown => break Ok(()),
            Some(_) = exchanges.join_next(), if !exchanges.is_empty() => continue,
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(e) => break Err(ControlError::Io(e)),
            },
        };
        exchanges.spawn(exchange(stream, handler.clone()));
    };
    drop(listener);
    let _ = std::fs::remove_file(&socket);
    while exchanges.join_next().await.is_some() {}
    result
}

/// Reads one request from `stream`, answers it with `handler`'s response, within
/// [`EXCHANGE_TIMEOUT`].
async fn exchange<H, F>(stream: UnixStream, handler: H)
where
    H: Fn(Request) -> F,
    F: Future<Output = Response>,
{
    let exchange = async {
        let (read, mut write) = stream.into_split();
        let response = match read_line::<Request>(&mut BufReader::new(read)).await {
            Ok(request) => handler(request).await,
            Err(e) => Response::Error {
                message: e.to_string(),
            },
        };
        write_line(&mut write, &response).await
    };
    match tokio::time::timeout(EXCHANGE_TIMEOUT, exchange).await {
        Ok(Ok(())) => {}
        Ok(Err(e)) => tracing::debug!(%e, "control exchange failed"),
        Err(_) => tracing::debug!("control exchange timed out"),
    }
}

async fn write_line<T: Serialize>(
    write: &mut (impl AsyncWriteExt + Unpin),
    message: &T,
) -> Result<(), ControlError> {
    let mut line =
        serde_json::to_vec(message).map_err(|e| ControlError::Protocol(e.to_string()))?;
    line.push(b'\n');
    write.write_all(&line).await?;
    write.flush().await?;
    Ok(())
}

async fn read_line<T: for<'de> Deserialize<'de>>(
    read: &mut (impl AsyncBufReadExt + Unpin),
) -> Result<T, ControlError> {
    let mut line = Vec::new();
    let mut limited = tokio::io::AsyncReadExt::take(read, MAX_LINE as u64 + 1);
    limited.read_until(b'\n', &mut line).await?;
    if line.len() > MAX_LINE {
        return Err(ControlError::Protocol(format!(
            "line longer than {MAX_LINE} bytes"
        )));
    }
    serde_json::from_slice(&line).map_err(|e| ControlError::Protocol(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_request_reaches_the_handler_and_its_answer_comes_back() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().to_owned();
        let server = tokio::spawn(async move {
            serve(
                &path,
                |request| async move {
                    match request {
                        Request::Get { paths } => Response::Values {
                            values: paths.into_iter().map(|p| (p, "42".to_owned())).collect(),
                        },
                        _ => Response::Done,
                    }
                },
                std::future::pending(),
            )
            .await
        });
        // Wait for the socket to appear (no sleep: poll the connection until it succeeds).
        let got = loop {
            match request(
                dir.path(),
                &Request::Get {
                    paths: vec!["Device.X".into()],
                },
            )
            .await
            {
                Ok(r) => break r,
                Err(ControlError::NotRunning { .. }) => tokio::task::yield_now().await,
                Err(e) => panic!("{e}"),
            }
        };
        assert_eq!(
            got,
            Response::Values {
                values: vec![("Device.X".into(), "42".into())]
            }
        );
        server.abort();
    }

    #[tokio::test]
    async fn no_agent_is_a_clear_error_naming_the_state_directory() {
        let dir = tempfile::tempdir().unwrap();
        let err = request(dir.path(), &Request::Status).await.unwrap_err();
        assert!(matches!(err, ControlError::NotRunning { .. }));
        assert!(
            err.to_string().contains(&dir.path().display().to_string()),
            "{err}"
        );
    }

    #[tokio::test]
    async fn garbage_gets_an_error_answer_not_a_hang() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().to_owned();
        let server = tokio::spawn(async move {
            serve(&path, |_| async { Response::Done }, std::future::pending()).await
        });
        let socket = socket_path(dir.path());
        let stream = loop {
            match UnixStream::connect(&socket).await {
                Ok(s) => break s,
                Err(_) => tokio::task::yield_now().await,
            }
        };
        let (read, mut write) = stream.into_split();
        write.write_all(b"{\"op\":\"frobnicate\"}\n").await.unwrap();
        let answer: Response = read_line(&mut BufReader::new(read)).await.unwrap();
        assert!(matches!(answer, Response::Error { .. }), "{answer:?}");
        server.abort();
    }

    #[tokio::test]
    async fn an_answer_decided_before_shutdown_still_arrives_and_the_socket_goes() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().to_owned();
        let (shut, shutdown) = tokio::sync::watch::channel(false);
        let server = tokio::spawn(async move {
            let handler = move |_| {
                // The handler decides the stop: the server shuts down while it answers.
                shut.send_replace(true);
                async {
                    Response::Stopping {
                        cut_short: Vec::new(),
                    }
                }
            };
            let mut shutdown = shutdown;
            serve(&path, handler, async move {
                let _ = shutdown.wait_for(|s| *s).await;
            })
            .await
        });
        let answer = loop {
            match request(dir.path(), &Request::Stop { force: false }).await {
                Ok(answer) => break answer,
                Err(ControlError::NotRunning { .. }) => tokio::task::yield_now().await,
                Err(e) => panic!("{e}"),
            }
        };
        assert_eq!(
            answer,
            Response::Stopping {
                cut_short: Vec::new()
            }
        );
        server.await.unwrap().unwrap();
        assert!(!socket_path(dir.path()).exists());
        let after = request(dir.path(), &Request::Status).await.unwrap_err();
        assert!(matches!(after, ControlError::NotRunning { .. }), "{after}");
    }

    #[test]
    fn the_wire_format_is_tagged_json() {
        let line = serde_json::to_string(&Request::Set {
            values: vec![("Device.A".into(), "1".into())],
        })
        .unwrap();
        assert_eq!(line, r#"{"op":"set","values":[["Device.A","1"]]}"#);
    }
}
