//! A Connection Request client, as an ACS sends one: GET, 401 with a Digest challenge, GET
//! with the answer on the same connection (TR-069 §3.2.2).

use http_auth::{PasswordClient, PasswordParams};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

/// `http://host:port/path` split into address and path.
pub(crate) fn split(url: &str) -> (String, String) {
    let rest = url.strip_prefix("http://").expect("an http URL");
    let (authority, path) = rest.split_once('/').unwrap_or((rest, ""));
    (authority.to_owned(), format!("/{path}"))
}

async fn exchange(
    stream: &mut BufReader<TcpStream>,
    path: &str,
    authorization: Option<&str>,
) -> (u16, Option<String>) {
    let auth = authorization.map_or(String::new(), |a| format!("Authorization: {a}\r\n"));
    let request = format!("GET {path} HTTP/1.1\r\nHost: cpe\r\n{auth}\r\n");
    stream
        .get_mut()
        .write_all(request.as_bytes())
        .await
        .unwrap();
    let mut status_line = String::new();
    stream.read_line(&mut status_line).await.unwrap();
    let status = status_line
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let (mut challenge, mut length) = (None, 0usize);
    loop {
        let mut line = String::new();
        if stream.read_line(&mut line).await.unwrap() == 0 || line.trim().is_empty() {
            break;
        }
        if let Some((name, value)) = line.split_once(':') {
            match name.trim().to_ascii_lowercase().as_str() {
                "www-authenticate" if value.trim().starts_with("Digest") => {
                    challenge = Some(value.trim().to_owned());
                }
                "content-length" => length = value.trim().parse().unwrap_or(0),
                _ => {}
            }
        }
    }
    let mut body = vec![0; length];
    stream.read_exact(&mut body).await.unwrap();
    (status, challenge)
}

/// Sends a Connection Request with these credentials; returns the final status.
pub(crate) async fn connection_request(url: &str, user: &str, password: &str) -> u16 {
    let (authority, path) = split(url);
    let mut stream = BufReader::new(TcpStream::connect(&authority).await.unwrap());
    let (status, challenge) = exchange(&mut stream, &path, None).await;
    let Some(challenge) = challenge.filter(|_| status == 401) else {
        return status;
    };
    let mut client = PasswordClient::try_from(challenge.as_str()).unwrap();
    let answer = client
        .respond(&PasswordParams {
            username: user,
            password,
            uri: &path,
            method: "GET",
            body: None,
        })
        .unwrap();
    exchange(&mut stream, &path, Some(&answer)).await.0
}
