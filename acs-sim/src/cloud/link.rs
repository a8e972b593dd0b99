//! One WebSocket link's task (RFC 6455 over TLS): reads the device's text frames, hands them
//! to [`Cloud`], writes the answers, and carries out the commands of the registry (send a
//! frame, close with a close frame, reset the TCP connection).

use std::time::Duration;

use futures_util::{SinkExt as _, StreamExt as _};
use schemas::tunnel::MAX_FRAME;
use tokio::net::TcpStream;
use tokio::sync::{OwnedSemaphorePermit, mpsc};
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;

use super::device::Command;
use super::state::{Cloud, LinkInfo};

/// The TLS stream under a link.
pub(super) type Stream = tokio_rustls::server::TlsStream<TcpStream>;

/// Commands queued for one link before senders wait.
pub(super) const COMMAND_QUEUE: usize = 64;

/// How long a close handshake may take before the connection is dropped.
const CLOSE_TIMEOUT: Duration = Duration::from_secs(5);

/// The WebSocket limits: messages and frames of at most [`MAX_FRAME`], a bounded write buffer.
pub(super) fn config() -> WebSocketConfig {
    WebSocketConfig::default()
        .max_message_size(Some(MAX_FRAME))
        .max_frame_size(Some(MAX_FRAME))
        .write_buffer_size(0)
        .max_write_buffer_size(4 * MAX_FRAME)
}

/// Runs the link until the device closes it, it idles out, a command ends it, or the server
/// stops. A link must register (optType 1) within [`super::CloudLimits::handshake_timeout`].
pub(super) async fn run(
    cloud: Cloud,
    mut ws: WebSocketStream<Stream>,
    link: LinkInfo,
    mut commands: mpsc::Receiver<Command>,
    _permit: OwnedSemaphorePermit,
) {
    let limits = cloud.limits().clone();
    let stopped = cloud.stopped();
    tokio::pin!(stopped);
    let mut registered = false;
    let end = loop {
        let wait = if registered {
            limits.idle_timeout
        } else {
            limits.handshake_timeout
        };
        tokio::select! {
            read = tokio::time::timeout(wait, ws.next()) => match read {
                Err(_) => break End::Close,
                Ok(None | Some(Err(_))) => break End::Drop,
                Ok(Some(Ok(Message::Text(text)))) => {
                    let reply = cloud.on_text(&link, &mut registered, text.as_bytes());
                    if let Some(delay) = reply.delay {
                        tokio::time::sleep(delay).await;
                    }
                    if let Some(answer) = reply.answer
                        && ws.send(Message::text(answer)).await.is_err()
                    {
                        break End::Drop;
                    }
                }
                Ok(Some(Ok(Message::Binary(_)))) => {
                    cloud.bad_frame(&link.serial, "binary frame".to_owned());
                }
                // tungstenite answers pings and close frames itself.
                Ok(Some(Ok(_))) => {}
            },
            command = commands.recv() => match command {
                Some(Command::Send(text)) => {
                    if ws.send(Message::text(text)).await.is_err() {
                        break End::Drop;
                    }
                }
                Some(Command::Close) | None => break End::Close,
                Some(Command::Reset) => break End::Reset,
            },
            () = &mut stopped => break End::Close,
        }
    };
    // Unlisted first, so a frame sent after this finds the link gone.
    cloud.link_ended(&link);
    match end {
        End::Drop => {}
        End::Close => close(ws).await,
        End::Reset => reset(ws),
    }
}

/// How a link ends.
enum End {
    /// The connection failed or the device closed it: nothing more to say.
    Drop,
    /// Send a close frame and wait for the device's.
    Close,
    /// TCP reset.
    Reset,
}

/// Sends a close frame and reads until the device answers with its own (or
/// [`CLOSE_TIMEOUT`]).
async fn close(mut ws: WebSocketStream<Stream>) {
    let handshake = async {
        if ws.close(None).await.is_err() {
            return;
        }
        while let Some(Ok(_)) = ws.next().await {}
    };
    let _ = tokio::time::timeout(CLOSE_TIMEOUT, handshake).await;
}

/// Drops the connection with `SO_LINGER` 0, so the kernel sends RST instead of FIN.
fn reset(ws: WebSocketStream<Stream>) {
    let (tcp, _) = ws.get_ref().get_ref();
    if let Err(error) = socket2::SockRef::from(tcp).set_linger(Some(Duration::ZERO)) {
        tracing::debug!(%error, "cannot set SO_LINGER for a reset; closing instead");
    }
    drop(ws);
}
