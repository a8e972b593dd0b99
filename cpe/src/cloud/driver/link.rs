//! One WebSocket link of the tunnel (table steps 6 and 9): a task that opens it (TCP, TLS for
//! `wss://`, the upgrade with the session cookie), then feeds the frames it reads back to the
//! driver and writes the frames the machine sends, one at a time.

use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use http::HeaderValue;
use http::header::COOKIE;
use schemas::tunnel::MAX_FRAME;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::sync::mpsc;
use tokio::time::timeout;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::{Error as WsError, Message};
use tokio_tungstenite::{WebSocketStream, client_async_with_config};

use super::IO_TIMEOUT;
use super::net::{self, Egress};
use super::task::Completion;
use crate::cloud::{Close, ConnectError, Link, SendError};

/// How long a closing link waits to write its close frame.
const CLOSE_TIMEOUT: Duration = Duration::from_secs(1);

/// What a link's task reports.
#[derive(Debug)]
pub(super) enum LinkEvent {
    /// The answer to [`Action::OpenWebSocket`](crate::cloud::Action::OpenWebSocket).
    Connected(Result<(), ConnectError>),
    /// A text (or binary) frame arrived.
    Frame(Vec<u8>),
    /// The last frame handed to the link was written, or not.
    Sent(Result<(), SendError>),
    /// The link is closed; its task has ended.
    Closed(Close),
}

/// The driver's side of a link: dropping it closes the link.
#[derive(Debug)]
pub(super) struct LinkHandle {
    /// Tells this link's reports from those of an earlier link on the same [`Link`].
    pub(super) id: u64,
    frames: mpsc::UnboundedSender<String>,
}

impl LinkHandle {
    /// Hands `text` to the link's task; `false` when the task has ended (its
    /// [`LinkEvent::Closed`] is on its way).
    pub(super) fn send(&self, text: String) -> bool {
        self.frames.send(text).is_ok()
    }
}

/// Where a link's task reports to.
#[derive(Clone, Debug)]
struct Reporter {
    link: Link,
    id: u64,
    done: mpsc::UnboundedSender<Completion>,
}

impl Reporter {
    fn report(&self, event: LinkEvent) {
        let _driver_gone = self.done.send(Completion::Link {
            link: self.link,
            id: self.id,
            event,
        });
    }
}

/// A link being opened.
#[derive(Debug)]
pub(super) struct Open {
    pub(super) link: Link,
    pub(super) id: u64,
    pub(super) url: String,
    pub(super) cookie: String,
}

/// Spawns the task of the link `open` describes.
pub(super) fn spawn(
    open: Open,
    egress: Egress,
    done: mpsc::UnboundedSender<Completion>,
) -> LinkHandle {
    let (frames, frame_rx) = mpsc::unbounded_channel();
    let reporter = Reporter {
        link: open.link,
        id: open.id,
        done,
    };
    let id = open.id;
    tokio::spawn(run(open, egress, frame_rx, reporter));
    LinkHandle { id, frames }
}

async fn run(
    open: Open,
    egress: Egress,
    frames: mpsc::UnboundedReceiver<String>,
    reporter: Reporter,
) {
    let (secure, host, port) = match target(&open.url) {
        Ok(target) => target,
        Err(e) => return reporter.report(LinkEvent::Connected(Err(e))),
    };
    let tcp = match egress.tcp_to(&host, port, secure).await {
        Ok(tcp) => tcp,
        Err(e) => return reporter.report(LinkEvent::Connected(Err(e))),
    };
    if secure {
        match net::tls(tcp, &host, egress.tls).await {
            Ok(stream) => upgrade_and_serve(stream, &open, frames, &reporter).await,
            Err(e) => reporter.report(LinkEvent::Connected(Err(e))),
        }
    } else {
        upgrade_and_serve(tcp, &open, frames, &reporter).await;
    }
}

async fn upgrade_and_serve<S>(
    stream: S,
    open: &Open,
    frames: mpsc::UnboundedReceiver<String>,
    reporter: &Reporter,
) where
    S: AsyncRead + AsyncWrite + Unpin,
{
    match upgrade(stream, open).await {
        Ok(ws) => {
            reporter.report(LinkEvent::Connected(Ok(())));
            serve(ws, frames, reporter).await;
        }
        Err(e) => reporter.report(LinkEvent::Connected(Err(e))),
    }
}

/// `ws://` or `wss://`, the host (without IPv6 brackets) and the port of `url`.
fn target(url: &str) -> Result<(bool, String, u16), ConnectError> {
    let invalid = || ConnectError::Refused(format!("{url:?} is not a ws:// or wss:// URL"));
    let uri: http::Uri = url.parse().map_err(|_| invalid())?;
    let secure = match uri.scheme_str() {
        Some("wss") => true,
        Some("ws") => false,
        _ => return Err(invalid()),
    };
    let host = uri.host().filter(|h| !h.is_empty()).ok_or_else(invalid)?;
    let host = host
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_owned();
    let port = uri.port_u16().unwrap_or(if secure { 443 } else { 80 });
    Ok((secure, host, port))
}

/// The WebSocket upgrade with the session cookie. A refusal with an HTTP status is
/// [`ConnectError::Handshake`] with that status; an answer that is not a valid upgrade at all
/// is `Handshake(0)`.
async fn upgrade<S>(stream: S, open: &Open) -> Result<WebSocketStream<S>, ConnectError>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let mut request = open
        .url
        .as_str()
        .into_client_request()
        .map_err(|e| ConnectError::Refused(format!("{}: {e}", open.url)))?;
    let cookie = HeaderValue::from_str(&open.cookie).map_err(|_| ConnectError::Handshake(0))?;
    request.headers_mut().insert(COOKIE, cookie);
    let handshake = client_async_with_config(request, stream, Some(config()));
    match timeout(IO_TIMEOUT, handshake).await {
        Ok(Ok((ws, _response))) => Ok(ws),
        Ok(Err(WsError::Http(response))) => {
            Err(ConnectError::Handshake(response.status().as_u16()))
        }
        Ok(Err(WsError::Io(e))) if net::is_tls(&e) => Err(ConnectError::Tls(e.to_string())),
        Ok(Err(_)) | Err(_) => Err(ConnectError::Handshake(0)),
    }
}

/// Every size bounded: a message or frame larger than [`MAX_FRAME`] ends the link.
fn config() -> WebSocketConfig {
    WebSocketConfig::default()
        .max_message_size(Some(MAX_FRAME))
        .max_frame_size(Some(MAX_FRAME))
        .write_buffer_size(0)
        .max_write_buffer_size(2 * MAX_FRAME)
}

/// Reads and writes until the link closes, or until the driver drops its [`LinkHandle`]
/// (then a close frame is sent).
async fn serve<S>(
    mut ws: WebSocketStream<S>,
    mut frames: mpsc::UnboundedReceiver<String>,
    reporter: &Reporter,
) where
    S: AsyncRead + AsyncWrite + Unpin,
{
    loop {
        tokio::select! {
            outgoing = frames.recv() => {
                let Some(text) = outgoing else {
                    let _best_effort = timeout(CLOSE_TIMEOUT, ws.close(None)).await;
                    return;
                };
                let sent = match timeout(IO_TIMEOUT, ws.send(Message::text(text))).await {
                    Ok(result) => result.map_err(send_error),
                    Err(_) => Err(SendError::Io("write timed out".to_owned())),
                };
                reporter.report(LinkEvent::Sent(sent));
            }
            incoming = ws.next() => {
                let close = match incoming {
                    Some(Ok(Message::Text(text))) => {
                        reporter.report(LinkEvent::Frame(text.as_bytes().to_vec()));
                        continue;
                    }
                    Some(Ok(Message::Binary(bytes))) => {
                        reporter.report(LinkEvent::Frame(bytes.to_vec()));
                        continue;
                    }
                    Some(Ok(Message::Ping(_) | Message::Pong(_) | Message::Frame(_))) => continue,
                    Some(Ok(Message::Close(_))) => {
                        // Answer the close handshake (tungstenite queued the reply).
                        let _best_effort = timeout(CLOSE_TIMEOUT, ws.flush()).await;
                        Close::Frame
                    }
                    Some(Err(e)) => read_error(e),
                    None => Close::Error("the connection ended".to_owned()),
                };
                return reporter.report(LinkEvent::Closed(close));
            }
        }
    }
}

/// A reset by the peer is [`Close::Reset`], a message over [`MAX_FRAME`] is
/// [`Close::TooLarge`]; anything else that ends the reading is [`Close::Error`].
fn read_error(error: WsError) -> Close {
    match error {
        WsError::Io(e) if e.kind() == std::io::ErrorKind::ConnectionReset => Close::Reset,
        WsError::Capacity(_) => Close::TooLarge,
        other => Close::Error(other.to_string()),
    }
}

fn send_error(error: WsError) -> SendError {
    match error {
        WsError::Io(e) if net::is_tls(&e) => SendError::Tls(e.to_string()),
        other => SendError::Io(other.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use tokio_tungstenite::tungstenite::error::CapacityError;

    use super::*;

    #[test]
    fn target_reads_scheme_host_and_port() {
        assert_eq!(
            target("wss://cloud.example:8443/v3/ws").unwrap(),
            (true, "cloud.example".to_owned(), 8443)
        );
        assert_eq!(
            target("ws://[::1]/sub").unwrap(),
            (false, "::1".to_owned(), 80)
        );
        assert_eq!(
            target("wss://127.0.0.1/").unwrap(),
            (true, "127.0.0.1".to_owned(), 443)
        );
    }

    #[test]
    fn target_refuses_other_schemes_and_garbage() {
        for url in ["https://cloud/", "cloud:443", "", "wss://", "ws:///path"] {
            assert!(
                matches!(target(url), Err(ConnectError::Refused(_))),
                "{url:?}"
            );
        }
    }

    /// Opens a link to a plain TCP server that answers the upgrade with `answer`.
    async fn upgrade_answered(answer: &'static str) -> Result<(), ConnectError> {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        tokio::spawn(async move {
            let (mut tcp, _) = listener.accept().await.unwrap();
            let mut head = [0; 4096];
            let _ = tcp.read(&mut head).await;
            let _ = tcp.write_all(answer.as_bytes()).await;
        });
        let open = Open {
            link: Link::Main,
            id: 1,
            url: format!("ws://127.0.0.1:{port}/v3/tunnel/base"),
            cookie: "JSESSIONID=s".to_owned(),
        };
        let tcp = tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .unwrap();
        upgrade(tcp, &open).await.map(drop)
    }

    #[tokio::test]
    async fn upgrade_refused_with_a_status_is_handshake_with_that_status() {
        let refused = upgrade_answered("HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n");
        assert_eq!(refused.await, Err(ConnectError::Handshake(403)));
    }

    #[tokio::test]
    async fn upgrade_answered_with_garbage_is_handshake_zero() {
        let garbage = upgrade_answered("SSH-2.0-OpenSSH_9.6\r\n\r\n");
        assert_eq!(garbage.await, Err(ConnectError::Handshake(0)));
    }

    #[test]
    fn a_reset_is_told_from_other_read_errors() {
        let reset = std::io::Error::from(std::io::ErrorKind::ConnectionReset);
        assert_eq!(read_error(WsError::Io(reset)), Close::Reset);
        let eof = std::io::Error::from(std::io::ErrorKind::UnexpectedEof);
        assert!(matches!(read_error(WsError::Io(eof)), Close::Error(_)));
        assert!(matches!(
            read_error(WsError::ConnectionClosed),
            Close::Error(_)
        ));
        let too_long = CapacityError::MessageTooLong {
            size: MAX_FRAME + 1,
            max_size: MAX_FRAME,
        };
        assert_eq!(read_error(WsError::Capacity(too_long)), Close::TooLarge);
    }
}
