//! A scripted ACS for tests: raw HTTP/1.1 over loopback, no acs-sim. It records every request a
//! CPE makes and answers each with what the test's script says; it knows nothing of CWMP beyond
//! what the script does with the bodies.

use std::sync::{Arc, Mutex};
use std::time::Instant;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;

/// One HTTP request as the ACS received it.
#[derive(Clone, Debug)]
pub(crate) struct HttpRequest {
    /// `POST /path HTTP/1.1`.
    pub(crate) start: String,
    /// Header lines, names lower-cased.
    pub(crate) headers: Vec<(String, String)>,
    /// The body.
    pub(crate) body: Vec<u8>,
    /// Which TCP connection (counted from 0) carried it.
    pub(crate) connection: usize,
    /// When the ACS accepted that connection.
    #[allow(dead_code)] // Used by tests/crash.rs, which shares this file.
    pub(crate) accepted: Instant,
}

impl HttpRequest {
    /// The first header named `name` (lower case).
    pub(crate) fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// What the script answers.
#[derive(Clone, Debug)]
pub(crate) struct HttpResponse {
    /// Status code.
    pub(crate) status: u16,
    /// Extra headers.
    pub(crate) headers: Vec<(String, String)>,
    /// Body (sent with `Content-Type: text/xml` when not empty).
    pub(crate) body: Vec<u8>,
    /// Close the connection after this response.
    pub(crate) close: bool,
}

impl HttpResponse {
    /// 200 with an envelope.
    pub(crate) fn xml(body: Vec<u8>) -> Self {
        Self {
            status: 200,
            headers: Vec::new(),
            body,
            close: false,
        }
    }

    /// 204 No Content: the ACS has no more requests.
    pub(crate) fn no_content() -> Self {
        Self {
            status: 204,
            headers: Vec::new(),
            body: Vec::new(),
            close: false,
        }
    }
}

/// A running scripted ACS.
pub(crate) struct ScriptedAcs {
    /// `http://127.0.0.1:port/acs`.
    pub(crate) url: String,
    requests: Arc<Mutex<Vec<HttpRequest>>>,
}

impl ScriptedAcs {
    /// Starts an ACS whose `script` answers every request.
    pub(crate) async fn start<S>(script: S) -> Self
    where
        S: FnMut(&HttpRequest) -> HttpResponse + Send + 'static,
    {
        Self::spawn(None, script, |_, _| {}).await
    }

    /// Starts an ACS on `listener`, made elsewhere (inside a network namespace, say); the URL
    /// names the listener's address.
    #[allow(dead_code)] // Used by the DHCP tests, not by tests/crash.rs, which shares this file.
    pub(crate) fn start_on<S>(listener: std::net::TcpListener, script: S) -> Self
    where
        S: FnMut(&HttpRequest) -> HttpResponse + Send + 'static,
    {
        listener.set_nonblocking(true).unwrap();
        let listener = TcpListener::from_std(listener).unwrap();
        Self::serve_on(listener, None, script, |_, _| {})
    }

    /// The same over TLS with `config`; the URL is `https://`.
    pub(crate) async fn start_tls<S>(config: Arc<rustls::ServerConfig>, script: S) -> Self
    where
        S: FnMut(&HttpRequest) -> HttpResponse + Send + 'static,
    {
        Self::spawn(
            Some(tokio_rustls::TlsAcceptor::from(config)),
            script,
            |_, _| {},
        )
        .await
    }

    /// Starts an ACS whose `script` answers every request and whose `answered` hook runs once
    /// each answer has been written (or failed to be), before the next request on that
    /// connection is read: the place to act on "right after the CPE was answered".
    #[allow(dead_code)] // Used by tests/crash.rs, which shares this file.
    pub(crate) async fn start_with_hook<S, H>(script: S, answered: H) -> Self
    where
        S: FnMut(&HttpRequest) -> HttpResponse + Send + 'static,
        H: FnMut(&HttpRequest, &HttpResponse) + Send + 'static,
    {
        Self::spawn(None, script, answered).await
    }

    async fn spawn<S, H>(tls: Option<tokio_rustls::TlsAcceptor>, script: S, answered: H) -> Self
    where
        S: FnMut(&HttpRequest) -> HttpResponse + Send + 'static,
        H: FnMut(&HttpRequest, &HttpResponse) + Send + 'static,
    {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        Self::serve_on(listener, tls, script, answered)
    }

    fn serve_on<S, H>(
        listener: TcpListener,
        tls: Option<tokio_rustls::TlsAcceptor>,
        script: S,
        answered: H,
    ) -> Self
    where
        S: FnMut(&HttpRequest) -> HttpResponse + Send + 'static,
        H: FnMut(&HttpRequest, &HttpResponse) + Send + 'static,
    {
        let scheme = if tls.is_some() { "https" } else { "http" };
        let url = format!("{scheme}://{}/acs", listener.local_addr().unwrap());
        let requests = Arc::new(Mutex::new(Vec::new()));
        let script = Arc::new(Mutex::new(script));
        let answered: Hook = Arc::new(Mutex::new(answered));
        let recorded = requests.clone();
        tokio::spawn(async move {
            let mut connection = 0;
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    return;
                };
                let accepted = Instant::now();
                let (script, answered, recorded, tls) = (
                    script.clone(),
                    answered.clone(),
                    recorded.clone(),
                    tls.clone(),
                );
                tokio::spawn(async move {
                    match tls {
                        None => {
                            serve(stream, connection, accepted, script, answered, recorded).await
                        }
                        Some(tls) => {
                            // A refused handshake (untrusted, no client certificate) ends here.
                            if let Ok(stream) = tls.accept(stream).await {
                                serve(stream, connection, accepted, script, answered, recorded)
                                    .await;
                            }
                        }
                    }
                });
                connection += 1;
            }
        });
        Self { url, requests }
    }

    /// Every request so far.
    pub(crate) fn requests(&self) -> Vec<HttpRequest> {
        self.requests.lock().unwrap().clone()
    }
}

type Script = Arc<Mutex<dyn FnMut(&HttpRequest) -> HttpResponse + Send>>;
type Hook = Arc<Mutex<dyn FnMut(&HttpRequest, &HttpResponse) + Send>>;

async fn serve<S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin>(
    stream: S,
    connection: usize,
    accepted: Instant,
    script: Script,
    answered: Hook,
    recorded: Arc<Mutex<Vec<HttpRequest>>>,
) {
    let (read, mut write) = tokio::io::split(stream);
    let mut read = BufReader::new(read);
    loop {
        let mut start = String::new();
        if read.read_line(&mut start).await.unwrap_or(0) == 0 {
            return;
        }
        let mut headers = Vec::new();
        loop {
            let mut line = String::new();
            if read.read_line(&mut line).await.unwrap_or(0) == 0 {
                return;
            }
            let line = line.trim_end();
            if line.is_empty() {
                break;
            }
            if let Some((name, value)) = line.split_once(':') {
                headers.push((name.trim().to_ascii_lowercase(), value.trim().to_owned()));
            }
        }
        let length: usize = headers
            .iter()
            .find(|(n, _)| n == "content-length")
            .and_then(|(_, v)| v.parse().ok())
            .unwrap_or(0);
        let mut body = vec![0; length];
        if read.read_exact(&mut body).await.is_err() {
            return;
        }
        let request = HttpRequest {
            start: start.trim_end().to_owned(),
            headers,
            body,
            connection,
            accepted,
        };
        recorded.lock().unwrap().push(request.clone());
        let response = (script.lock().unwrap())(&request);
        let reason = match response.status {
            200 => "OK",
            204 => "No Content",
            401 => "Unauthorized",
            _ => "Status",
        };
        let mut head = format!("HTTP/1.1 {} {reason}\r\n", response.status);
        for (name, value) in &response.headers {
            head.push_str(&format!("{name}: {value}\r\n"));
        }
        if !response.body.is_empty() {
            head.push_str("Content-Type: text/xml; charset=\"utf-8\"\r\n");
        }
        head.push_str(&format!("Content-Length: {}\r\n", response.body.len()));
        if response.close {
            head.push_str("Connection: close\r\n");
        }
        head.push_str("\r\n");
        let written = write.write_all(head.as_bytes()).await.is_ok()
            && write.write_all(&response.body).await.is_ok();
        (answered.lock().unwrap())(&request, &response);
        if !written || response.close {
            return;
        }
    }
}
