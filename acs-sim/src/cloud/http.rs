//! The listener's HTTP side: one TLS connection served by hyper (HTTP/1.1, upgrades on), the
//! establishment steps 1-5 of [`schemas::tunnel`] (PROTOCOL.md §4.3, CAS REST), and the
//! WebSocket upgrade that hands a connection to a [link](super::link) (RFC 6455 §4.2).

use axum::Router;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{DefaultBodyLimit, Path, RawQuery, Request, State};
use axum::http::header::{self, HeaderMap, HeaderValue};
use axum::http::{StatusCode, response::Builder};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use cpe::net::Accepted;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use schemas::tunnel::{
    AuthAnswer, CAS_TICKETS_PATH, CasInfo, MAIN_CLOUD_MODULE, REGISTER_PATH, RegisterAnswer,
    RegisterRequest, USERAUTH_PATH, form_decode,
};
use tokio::sync::mpsc;
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::handshake::derive_accept_key;
use tokio_tungstenite::tungstenite::protocol::Role;

use super::rest::{self, ApiError};
use super::state::{CasRefusal, Cloud, LinkInfo, Registration};
use super::{CloudLimits, link};

/// Where the links' WebSockets live: `{TUNNEL_PATH}/base` for the main link,
/// `{TUNNEL_PATH}/{cloudModName}` for a sub-link (this project's paths).
pub const TUNNEL_PATH: &str = "/v3/tunnel";
/// The cookie that carries the session id on a WebSocket upgrade (§4.3).
pub const SESSION_COOKIE: &str = "JSESSIONID";

/// Every route of the listener.
pub(super) fn router(cloud: Cloud) -> Router {
    let limit = cloud.limits().body_limit;
    Router::new()
        .route(USERAUTH_PATH, get(userauth))
        .route(CAS_TICKETS_PATH, post(ticket_granting_ticket))
        .route(&format!("{CAS_TICKETS_PATH}/{{tgt}}"), post(service_ticket))
        .route(REGISTER_PATH, post(register))
        .route(&format!("{TUNNEL_PATH}/{{module}}"), get(upgrade))
        .merge(rest::routes())
        .fallback(|| async { ApiError::new(StatusCode::NOT_FOUND, "no such endpoint") })
        .method_not_allowed_fallback(|| async {
            ApiError::new(StatusCode::METHOD_NOT_ALLOWED, "method not allowed")
        })
        .layer(DefaultBodyLimit::max(limit))
        .with_state(cloud)
}

/// Serves one accepted connection: TLS handshake within the limit, then HTTP/1.1 until the
/// client closes, idles past the header timeout, upgrades, or the server stops.
pub(super) async fn connection(
    router: Router,
    limits: CloudLimits,
    tls: tokio_rustls::TlsAcceptor,
    accepted: Accepted,
) {
    let Some(stream) =
        cpe::net::tls_handshake(&tls, accepted.stream, limits.handshake_timeout).await
    else {
        return;
    };
    let mut http = http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout)
        .keep_alive(true);
    let connection = http
        .serve_connection(TokioIo::new(stream), TowerToHyperService::new(router))
        .with_upgrades();
    tokio::pin!(connection);
    let mut stop = accepted.stop;
    let stopped = async move {
        let _ = stop.wait_for(|stop| *stop).await;
    };
    let result = tokio::select! {
        result = connection.as_mut() => result,
        () = stopped => {
            connection.as_mut().graceful_shutdown();
            connection.await
        }
    };
    if let Err(error) = result {
        tracing::debug!(%error, "HTTP connection failed");
    }
}

/// The WebSocket URL of `cloud_mod_name`'s link, on the origin the device used.
pub(super) fn link_url(host: &str, cloud_mod_name: &str) -> String {
    format!("wss://{host}{TUNNEL_PATH}/{cloud_mod_name}")
}

/// Step 1 (`GET /v3/base/userauth`: the CAS URL) and step 4 (`?ticket=`: the session id or
/// the refusal).
async fn userauth(
    State(cloud): State<Cloud>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Result<Response, ApiError> {
    let host = host(&headers)?;
    let Some(query) = query.filter(|q| !q.is_empty()) else {
        let info = CasInfo {
            cas_url: format!("https://{host}{CAS_TICKETS_PATH}"),
            cas_https: true,
            ignore_cas: true,
        };
        return json(StatusCode::OK, info.encode());
    };
    let form = form_decode(query.as_bytes()).map_err(ApiError::bad_request)?;
    let ticket = field(&form, "ticket")?;
    let (answer, serial) = cloud.authenticate(ticket);
    delay(&cloud, serial.as_deref()).await;
    if let AuthAnswer::Refused { reason, .. } = &answer {
        tracing::debug!(?serial, %reason, "cloud authentication refused");
    }
    json(StatusCode::OK, answer.encode())
}

/// Step 2: credentials for a TGT; `201` with the TGT's URL in `Location`.
async fn ticket_granting_ticket(
    State(cloud): State<Cloud>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let host = host(&headers)?;
    let form = form_decode(&body?).map_err(ApiError::bad_request)?;
    let username = field(&form, "username")?;
    let password = field(&form, "password")?;
    let tgt = cloud.issue_tgt(username, password).map_err(cas_error)?;
    delay(&cloud, Some(username)).await;
    let location = HeaderValue::try_from(format!("https://{host}{CAS_TICKETS_PATH}/{tgt}"))
        .map_err(ApiError::internal)?;
    Ok((StatusCode::CREATED, [(header::LOCATION, location)]).into_response())
}

/// Step 3: spends the TGT for a service ticket, answered as text.
async fn service_ticket(
    State(cloud): State<Cloud>,
    Path(tgt): Path<String>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let form = form_decode(&body?).map_err(ApiError::bad_request)?;
    field(&form, "service")?;
    let (ticket, serial) = cloud.issue_service_ticket(&tgt).map_err(cas_error)?;
    delay(&cloud, Some(&serial)).await;
    Ok((
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        ticket,
    )
        .into_response())
}

/// Step 5: the session is checked and the main link's URL answered.
async fn register(
    State(cloud): State<Cloud>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let host = host(&headers)?;
    let request = RegisterRequest::decode(body?).map_err(ApiError::bad_request)?;
    let registration = cloud.register(&request);
    delay(&cloud, Some(&request.dev_sn)).await;
    let answer = match registration {
        Registration::Accepted => RegisterAnswer::Accepted {
            ws_url: link_url(&host, MAIN_CLOUD_MODULE),
        },
        // Success without the URL: the device cannot go on (ours, for fault injection).
        Registration::Malformed => return json(StatusCode::OK, Ok(r#"{"retCode":0}"#.into())),
        Registration::Refused(ret_code, reason) => RegisterAnswer::Refused {
            ret_code,
            reason: reason.to_owned(),
        },
    };
    json(StatusCode::OK, answer.encode())
}

/// A link's WebSocket upgrade (RFC 6455 §4.2.1-4.2.2): the micro-service must be offered and
/// the `JSESSIONID` cookie a live session; `101`, then the link runs in its own task.
async fn upgrade(
    State(cloud): State<Cloud>,
    Path(module): Path<String>,
    mut request: Request,
) -> Result<Response, ApiError> {
    if !cloud.offers(&module) {
        return Err(ApiError::new(
            StatusCode::NOT_FOUND,
            format!("no micro-service {module:?}"),
        ));
    }
    let headers = request.headers();
    let host = host(headers)?;
    let key = websocket_key(headers)?;
    let token = cookie(headers, SESSION_COOKIE)
        .ok_or_else(|| ApiError::new(StatusCode::UNAUTHORIZED, "no JSESSIONID cookie"))?;
    let serial = cloud
        .session_serial(&token)
        .ok_or_else(|| ApiError::new(StatusCode::UNAUTHORIZED, "no live session"))?;
    let permit = cloud
        .link_permit()
        .ok_or_else(|| ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "too many links open"))?;
    let on_upgrade = hyper::upgrade::on(&mut request);
    let (commands_tx, commands) = mpsc::channel(link::COMMAND_QUEUE);
    let info = LinkInfo {
        id: cloud.next_link_id(),
        serial,
        token,
        cloud_mod_name: module,
        host,
        commands: commands_tx,
    };
    tokio::spawn(async move {
        let upgraded = match on_upgrade.await {
            Ok(upgraded) => upgraded,
            Err(error) => return tracing::debug!(%error, "WebSocket upgrade failed"),
        };
        let Ok(parts) = upgraded.downcast::<TokioIo<link::Stream>>() else {
            return cpe::oplog!(
                CLOUDSRV_UPGRADE_STREAM,
                "upgraded connection is not the listener's TLS stream"
            );
        };
        let ws = WebSocketStream::from_partially_read(
            parts.io.into_inner(),
            parts.read_buf.to_vec(),
            Role::Server,
            Some(link::config()),
        )
        .await;
        link::run(cloud, ws, info, commands, permit).await;
    });
    Builder::new()
        .status(StatusCode::SWITCHING_PROTOCOLS)
        .header(header::UPGRADE, "websocket")
        .header(header::CONNECTION, "Upgrade")
        .header(
            header::SEC_WEBSOCKET_ACCEPT,
            derive_accept_key(key.as_bytes()),
        )
        .body(axum::body::Body::empty())
        .map_err(ApiError::internal)
}

/// The `Sec-WebSocket-Key` of a valid upgrade request (RFC 6455 §4.2.1: `Upgrade:
/// websocket`, `Connection: Upgrade`, version 13).
fn websocket_key(headers: &HeaderMap) -> Result<String, ApiError> {
    let has_token = |name, token: &str| {
        headers.get_all(name).iter().any(|value| {
            value
                .to_str()
                .is_ok_and(|v| v.split(',').any(|t| t.trim().eq_ignore_ascii_case(token)))
        })
    };
    if !has_token(header::UPGRADE, "websocket") || !has_token(header::CONNECTION, "upgrade") {
        return Err(ApiError::new(
            StatusCode::UPGRADE_REQUIRED,
            "a WebSocket upgrade is required here",
        ));
    }
    if headers
        .get(header::SEC_WEBSOCKET_VERSION)
        .map(HeaderValue::as_bytes)
        != Some(b"13")
    {
        return Err(ApiError::bad_request("Sec-WebSocket-Version must be 13"));
    }
    headers
        .get(header::SEC_WEBSOCKET_KEY)
        .and_then(|v| v.to_str().ok())
        .filter(|key| !key.is_empty() && key.len() <= 64)
        .map(str::to_owned)
        .ok_or_else(|| ApiError::bad_request("missing Sec-WebSocket-Key"))
}

/// The `Host` header, checked to be a host and optional port only.
fn host(headers: &HeaderMap) -> Result<String, ApiError> {
    headers
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .filter(|host| {
            !host.is_empty()
                && host.len() <= 255
                && host
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || ".-_:[]".contains(c))
        })
        .map(str::to_owned)
        .ok_or_else(|| ApiError::bad_request("missing or invalid Host header"))
}

/// The value of cookie `name`, if sent.
fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(key, _)| *key == name)
        .map(|(_, value)| value.to_owned())
}

/// The one value of form field `name`.
fn field<'a>(form: &'a [(String, String)], name: &'static str) -> Result<&'a str, ApiError> {
    let mut values = form.iter().filter(|(key, _)| key == name);
    match (values.next(), values.next()) {
        (Some((_, value)), None) => Ok(value),
        (None, _) => Err(ApiError::bad_request(format!(
            "missing form field {name:?}"
        ))),
        (Some(_), Some(_)) => Err(ApiError::bad_request(format!(
            "form field {name:?} appears twice"
        ))),
    }
}

fn cas_error(refusal: CasRefusal) -> ApiError {
    match refusal {
        CasRefusal::BadUser => ApiError::bad_request("username is not a serial number"),
        CasRefusal::WrongPassword => {
            ApiError::new(StatusCode::UNAUTHORIZED, "wrong password for this serial")
        }
        CasRefusal::UnknownTicket => ApiError::new(
            StatusCode::NOT_FOUND,
            "unknown, spent or expired ticket-granting ticket",
        ),
        CasRefusal::Full => ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "too many tickets outstanding",
        ),
    }
}

/// [`super::Faults::delay`] of `serial`, waited out.
async fn delay(cloud: &Cloud, serial: Option<&str>) {
    if let Some(delay) = serial.and_then(|s| cloud.delay(s)) {
        tokio::time::sleep(delay).await;
    }
}

/// A JSON body we wrote; failing to write it is our bug, answered `500`.
fn json(
    status: StatusCode,
    body: Result<String, schemas::tunnel::FrameError>,
) -> Result<Response, ApiError> {
    let body = body.map_err(ApiError::internal)?;
    Ok((status, [(header::CONTENT_TYPE, "application/json")], body).into_response())
}
