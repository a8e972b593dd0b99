//! `acs_sim::cloud` over real TLS on loopback (a lab certificate made at test start), driven
//! by a hand-written client: hyper for the HTTP steps and the REST API, tokio-tungstenite for
//! the links. Time-dependent waits run on paused tokio time.

use std::sync::Arc;
use std::time::Duration;

use acs_sim::acs::{Acs, AcsConfig};
use acs_sim::cloud::{
    Cloud, CloudConfig, CloudError, CloudEventKind, CloudServer, Faults, lab_certificate,
};
use acs_sim::connreq::{self, ConnReqError};
use acs_sim::files::FileStore;
use acs_sim::scenario::Scenario;
use acs_sim::store::{DeviceId, InformSummary, MemoryStore, Store};
use bytes::Bytes;
use futures_util::{SinkExt as _, StreamExt as _};
use http::header::{CONTENT_TYPE, COOKIE, HOST, LOCATION};
use http::{HeaderMap, Method, Request, StatusCode};
use http_body_util::{BodyExt as _, Full};
use hyper_util::rt::TokioIo;
use rustls_pki_types::ServerName;
use schemas::rpc::types::ParameterValueStruct;
use schemas::tunnel::{
    AuthAnswer, CasInfo, CloudMessage, Configuration, ConfigurationAnswer, DeviceFrame,
    DeviceMessage, LinkKey, RegisterAnswer, RegisterRequest, RetCode, form_encode,
};
use schemas::value::Value;
use serde_json::{Value as Json, json};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use tokio_rustls::client::TlsStream;
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest as _;
use tokio_tungstenite::tungstenite::{Error as WsError, Message};

const SERIAL: &str = "210235A1BSC123000050";
const SECRET: &str = "s3cret";
/// How long a test waits for something the server does at once (a guard, not a sleep).
const GUARD: Duration = Duration::from_secs(5);

type Ws = WebSocketStream<TlsStream<TcpStream>>;

/// A running cloud server and a client that trusts its CA.
struct Lab {
    cloud: Cloud,
    port: u16,
    connector: TlsConnector,
    _stop: tokio::sync::oneshot::Sender<()>,
}

impl Lab {
    async fn start() -> Self {
        let cert = lab_certificate(&["localhost".into(), "127.0.0.1".into()]).unwrap();
        let mut config = CloudConfig::new(cert.server);
        config.listen = "127.0.0.1:0".parse().unwrap();
        let server = CloudServer::bind(config).await.unwrap();
        let port = server.local_addr().port();
        let cloud = server.handle();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        tokio::spawn(server.serve(async {
            let _ = stopped.await;
        }));
        let mut roots = rustls::RootCertStore::empty();
        roots.add(cert.ca_der).unwrap();
        let client = rustls::ClientConfig::builder_with_provider(Arc::new(
            rustls::crypto::aws_lc_rs::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
        cloud.add_device(SERIAL, SECRET).unwrap();
        Self {
            cloud,
            port,
            connector: TlsConnector::from(Arc::new(client)),
            _stop: stop,
        }
    }

    fn host(&self) -> String {
        format!("localhost:{}", self.port)
    }

    /// The path of a URL the server handed out, checked to be on our origin.
    fn path_of(&self, url: &str) -> String {
        let origin = format!("https://{}", self.host());
        let ws_origin = format!("wss://{}", self.host());
        url.strip_prefix(&origin)
            .or_else(|| url.strip_prefix(&ws_origin))
            .unwrap_or_else(|| panic!("{url} is not on {origin}"))
            .to_owned()
    }

    async fn tls(&self) -> TlsStream<TcpStream> {
        let tcp = TcpStream::connect(("127.0.0.1", self.port)).await.unwrap();
        let name = ServerName::try_from("localhost").unwrap();
        self.connector.connect(name, tcp).await.unwrap()
    }

    /// One request on a fresh connection.
    async fn http(
        &self,
        method: Method,
        path: &str,
        content_type: Option<&str>,
        body: impl Into<Bytes>,
    ) -> (StatusCode, HeaderMap, Bytes) {
        let io = TokioIo::new(self.tls().await);
        let (mut sender, connection) = hyper::client::conn::http1::handshake(io).await.unwrap();
        tokio::spawn(connection);
        let mut request = Request::builder()
            .method(method)
            .uri(path)
            .header(HOST, self.host());
        if let Some(content_type) = content_type {
            request = request.header(CONTENT_TYPE, content_type);
        }
        let response = sender
            .send_request(request.body(Full::new(body.into())).unwrap())
            .await
            .unwrap();
        let (parts, body) = response.into_parts();
        let body = body.collect().await.unwrap().to_bytes();
        (parts.status, parts.headers, body)
    }

    async fn rest(&self, method: Method, path: &str, body: Option<Json>) -> (StatusCode, Json) {
        let bytes = body.map(|b| b.to_string()).unwrap_or_default();
        let (status, _, body) = self
            .http(method, path, Some("application/json"), bytes)
            .await;
        let json = if body.is_empty() {
            Json::Null
        } else {
            serde_json::from_slice(&body).unwrap()
        };
        (status, json)
    }

    /// Steps 1-3: the service ticket for `serial`.
    async fn service_ticket(&self, serial: &str, secret: &str) -> String {
        let (status, _, body) = self.http(Method::GET, "/v3/base/userauth", None, "").await;
        assert_eq!(status, StatusCode::OK);
        let cas = CasInfo::decode(&body).unwrap();
        let form = "application/x-www-form-urlencoded";
        let credentials = form_encode([("username", serial), ("password", secret)]);
        let (status, headers, _) = self
            .http(
                Method::POST,
                &self.path_of(&cas.cas_url),
                Some(form),
                credentials,
            )
            .await;
        assert_eq!(status, StatusCode::CREATED);
        let tgt = headers[LOCATION].to_str().unwrap();
        let service = format!("https://{}/v3/base/userauth", self.host());
        let (status, _, ticket) = self
            .http(
                Method::POST,
                &self.path_of(tgt),
                Some(form),
                form_encode([("service", service.as_str())]),
            )
            .await;
        assert_eq!(status, StatusCode::OK);
        String::from_utf8(ticket.to_vec()).unwrap()
    }

    /// Step 4.
    async fn cloud_auth(&self, ticket: &str) -> AuthAnswer {
        let path = format!("/v3/base/userauth?{}", form_encode([("ticket", ticket)]));
        let (status, _, body) = self.http(Method::GET, &path, None, "").await;
        assert_eq!(status, StatusCode::OK);
        AuthAnswer::decode(&body).unwrap()
    }

    /// Steps 1-4: the session id.
    async fn session(&self, serial: &str, secret: &str) -> String {
        let ticket = self.service_ticket(serial, secret).await;
        match self.cloud_auth(&ticket).await {
            AuthAnswer::Session { session_id } => session_id,
            refused => panic!("refused: {refused:?}"),
        }
    }

    /// Step 5: the status and body.
    async fn register(&self, session: &str) -> (StatusCode, Bytes) {
        let request = RegisterRequest {
            dev_sn: SERIAL.into(),
            token_id: session.into(),
            dev_model: None,
            sw_version: None,
        };
        let (status, _, body) = self
            .http(
                Method::POST,
                "/v3/base/register",
                Some("application/json"),
                request.encode().unwrap(),
            )
            .await;
        (status, body)
    }

    /// A WebSocket to `url` with the session cookie: the socket, or the refusal's status.
    async fn websocket(&self, url: &str, session: &str) -> Result<Ws, StatusCode> {
        let mut request = url.into_client_request().unwrap();
        let cookie = format!("JSESSIONID={session}").parse().unwrap();
        request.headers_mut().insert(COOKIE, cookie);
        match tokio_tungstenite::client_async(request, self.tls().await).await {
            Ok((ws, _)) => Ok(ws),
            Err(WsError::Http(response)) => Err(response.status()),
            Err(other) => panic!("WebSocket failed: {other}"),
        }
    }

    /// The whole flow to a registered main link.
    async fn establish(&self) -> Tunnel {
        let session = self.session(SERIAL, SECRET).await;
        let (status, body) = self.register(&session).await;
        assert_eq!(status, StatusCode::OK);
        let RegisterAnswer::Accepted { ws_url } = RegisterAnswer::decode(&body).unwrap() else {
            panic!("registration refused");
        };
        assert_eq!(self.path_of(&ws_url), "/v3/tunnel/base");
        let mut main = self.websocket(&ws_url, &session).await.unwrap();
        let key = LinkKey::main(SERIAL, &session);
        assert_eq!(
            exchange(&mut main, &key, DeviceMessage::Register).await,
            CloudMessage::RegisterAnswer {
                ret_code: RetCode::OK
            }
        );
        Tunnel { key, session, main }
    }

    /// A sub-link of `tunnel` to the service at `url`, registered.
    async fn sub_link(&self, tunnel: &Tunnel, cloud_mod_name: &str, url: &str) -> (LinkKey, Ws) {
        let mut ws = self.websocket(url, &tunnel.session).await.unwrap();
        let key = tunnel
            .key
            .sub(format!("{cloud_mod_name}-dev"), cloud_mod_name);
        assert_eq!(
            exchange(&mut ws, &key, DeviceMessage::Register).await,
            CloudMessage::RegisterAnswer {
                ret_code: RetCode::OK
            }
        );
        (key, ws)
    }

    /// The main link plus a sub-link for every offered service.
    async fn establish_with_services(&self) -> (Tunnel, Vec<(LinkKey, Ws)>) {
        let mut tunnel = self.establish().await;
        let key = tunnel.key.clone();
        send(&mut tunnel.main, &key, DeviceMessage::SubConnectionRequest).await;
        let CloudMessage::SubConnectionAnswer { ret_code, services } = recv(&mut tunnel.main).await
        else {
            panic!("no service list");
        };
        assert_eq!(ret_code, RetCode::OK);
        let mut subs = Vec::new();
        for service in &services {
            subs.push(
                self.sub_link(&tunnel, &service.cloud_mod_name, &service.url)
                    .await,
            );
        }
        (tunnel, subs)
    }
}

struct Tunnel {
    key: LinkKey,
    session: String,
    main: Ws,
}

async fn send(ws: &mut Ws, key: &LinkKey, message: DeviceMessage) {
    let frame = DeviceFrame {
        link: key.clone(),
        message,
    };
    ws.send(Message::text(frame.encode().unwrap()))
        .await
        .unwrap();
}

/// The next message, or what ended the link.
/// Sends `message` and reads the cloud's answer.
async fn exchange(ws: &mut Ws, key: &LinkKey, message: DeviceMessage) -> CloudMessage {
    send(ws, key, message).await;
    recv(ws).await
}

async fn next(ws: &mut Ws) -> Option<Result<Message, WsError>> {
    tokio::time::timeout(GUARD, ws.next())
        .await
        .expect("the server answers at once")
}

async fn recv(ws: &mut Ws) -> CloudMessage {
    match next(ws).await {
        Some(Ok(Message::Text(text))) => CloudMessage::decode(text.as_bytes()).unwrap(),
        other => panic!("expected a text frame, got {other:?}"),
    }
}

/// Waits for the event of `serial` that `pick` accepts.
async fn event(
    events: &mut tokio::sync::broadcast::Receiver<acs_sim::cloud::CloudEvent>,
    pick: impl Fn(&CloudEventKind) -> bool,
) -> CloudEventKind {
    tokio::time::timeout(GUARD, async {
        loop {
            let event = events.recv().await.unwrap();
            if pick(&event.kind) {
                return event.kind;
            }
        }
    })
    .await
    .expect("the event comes at once")
}

fn assert_reset(ws_end: Option<Result<Message, WsError>>) {
    match ws_end {
        Some(Err(WsError::Io(e))) => assert_eq!(e.kind(), std::io::ErrorKind::ConnectionReset),
        other => panic!("expected ECONNRESET, got {other:?}"),
    }
}

#[tokio::test]
async fn the_whole_flow_registers_the_main_link_and_three_sub_links() {
    let lab = Lab::start().await;
    let mut events = lab.cloud.subscribe();
    let (tunnel, subs) = lab.establish_with_services().await;
    assert_eq!(
        event(&mut events, |_| true).await,
        CloudEventKind::Authenticated
    );
    assert_eq!(
        event(&mut events, |_| true).await,
        CloudEventKind::Registered
    );
    let names: Vec<_> = subs.iter().map(|(k, _)| k.cloud_mod_name.clone()).collect();
    assert_eq!(
        names,
        ["confmgr", "stamgr", "devmgr"],
        "the configured services, in order"
    );
    for name in &names {
        let up = event(&mut events, |_| true).await;
        assert_eq!(
            up,
            CloudEventKind::LinkUp {
                cloud_mod_name: name.clone()
            }
        );
    }
    let view = lab.cloud.device(SERIAL).unwrap();
    assert!(view.online && view.bound);
    assert_eq!(view.links, ["base", "confmgr", "devmgr", "stamgr"]);
    assert_eq!(view.registrations, 1);
    assert_eq!(tunnel.key.token_id, tunnel.session);
}

#[tokio::test]
async fn an_unknown_serial_gets_a_ticket_but_is_refused_at_cloud_auth() {
    let lab = Lab::start().await;
    let ticket = lab.service_ticket("UNKNOWN0001", "anything").await;
    let AuthAnswer::Refused { ret_code, reason } = lab.cloud_auth(&ticket).await else {
        panic!("an unknown serial is authenticated");
    };
    assert_eq!(ret_code, RetCode::UNKNOWN_DEVICE);
    assert!(reason.contains("not registered"), "{reason}");
    // The ticket was spent.
    assert!(matches!(
        lab.cloud_auth(&ticket).await,
        AuthAnswer::Refused {
            ret_code: RetCode::BAD_REQUEST,
            ..
        }
    ));
}

#[tokio::test]
async fn a_wrong_password_gets_401_at_the_tgt_step() {
    let lab = Lab::start().await;
    let form = form_encode([("username", SERIAL), ("password", "wrong")]);
    let (status, headers, body) = lab
        .http(
            Method::POST,
            "/v1/tickets",
            Some("application/x-www-form-urlencoded"),
            form,
        )
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(headers.get(LOCATION).is_none());
    let body: Json = serde_json::from_slice(&body).unwrap();
    assert_eq!(body["error"], "wrong password for this serial");
}

#[tokio::test]
async fn refuse_auth_refuses_a_known_serial_at_cloud_auth() {
    let lab = Lab::start().await;
    let faults = Faults {
        refuse_auth: true,
        ..Faults::default()
    };
    assert!(lab.cloud.set_faults(SERIAL, faults));
    let mut events = lab.cloud.subscribe();
    let ticket = lab.service_ticket(SERIAL, SECRET).await;
    let answer = lab.cloud_auth(&ticket).await;
    assert!(
        matches!(
            answer,
            AuthAnswer::Refused {
                ret_code: RetCode::FAILED,
                ..
            }
        ),
        "{answer:?}"
    );
    assert_eq!(
        event(&mut events, |_| true).await,
        CloudEventKind::AuthRefused
    );
}

#[tokio::test]
async fn malformed_register_answer_sends_a_body_the_device_cannot_read() {
    let lab = Lab::start().await;
    let session = lab.session(SERIAL, SECRET).await;
    let faults = Faults {
        malformed_register_answer: true,
        ..Faults::default()
    };
    lab.cloud.set_faults(SERIAL, faults);
    let (status, body) = lab.register(&session).await;
    assert_eq!(status, StatusCode::OK);
    assert!(RegisterAnswer::decode(&body).is_err(), "{body:?}");
}

#[tokio::test]
async fn a_websocket_without_a_live_session_is_refused_with_401() {
    let lab = Lab::start().await;
    let url = format!("wss://{}/v3/tunnel/base", lab.host());
    assert_eq!(
        lab.websocket(&url, "0123abcd").await.err(),
        Some(StatusCode::UNAUTHORIZED)
    );
    let session = lab.session(SERIAL, SECRET).await;
    let unknown = format!("wss://{}/v3/tunnel/nosuchservice", lab.host());
    assert_eq!(
        lab.websocket(&unknown, &session).await.err(),
        Some(StatusCode::NOT_FOUND)
    );
}

#[tokio::test]
async fn keepalives_are_answered_unless_the_fault_stops_them() {
    let lab = Lab::start().await;
    let mut tunnel = lab.establish().await;
    let key = tunnel.key.clone();
    assert_eq!(
        exchange(&mut tunnel.main, &key, DeviceMessage::Keepalive).await,
        CloudMessage::KeepaliveAnswer {
            ret_code: RetCode::OK
        }
    );

    let faults = Faults {
        stop_keepalive_answers: true,
        ..Faults::default()
    };
    lab.cloud.set_faults(SERIAL, faults);
    send(&mut tunnel.main, &key, DeviceMessage::Keepalive).await;
    send(&mut tunnel.main, &key, DeviceMessage::Ping).await;
    send(
        &mut tunnel.main,
        &key,
        DeviceMessage::Unbind {
            code: "nope".into(),
        },
    )
    .await;
    // The next answer is the unbinding's: the keepalive (and the ping) got none.
    assert_eq!(
        recv(&mut tunnel.main).await,
        CloudMessage::UnbindAnswer {
            ret_code: RetCode::FAILED
        }
    );
    let view = lab.cloud.device(SERIAL).unwrap();
    assert_eq!((view.keepalives, view.pings), (2, 1));
}

#[tokio::test]
async fn close_sends_a_close_frame_on_the_main_link() {
    let lab = Lab::start().await;
    let mut tunnel = lab.establish().await;
    let mut events = lab.cloud.subscribe();
    assert!(lab.cloud.close(SERIAL).await);
    assert!(matches!(
        next(&mut tunnel.main).await,
        Some(Ok(Message::Close(_)))
    ));
    assert_eq!(
        event(&mut events, |_| true).await,
        CloudEventKind::Disconnected
    );
    assert!(!lab.cloud.device(SERIAL).unwrap().online);
}

#[tokio::test]
async fn reset_resets_the_main_links_tcp_connection() {
    let lab = Lab::start().await;
    let mut tunnel = lab.establish().await;
    assert!(lab.cloud.reset(SERIAL).await);
    assert_reset(next(&mut tunnel.main).await);
    assert!(!lab.cloud.reset(SERIAL).await, "nothing left to reset");
}

#[tokio::test]
async fn close_service_drops_only_that_sub_link() {
    let lab = Lab::start().await;
    let (mut tunnel, mut subs) = lab.establish_with_services().await;
    let mut events = lab.cloud.subscribe();
    assert!(lab.cloud.close_service(SERIAL, "stamgr").await);
    let (_, stamgr) = &mut subs[1];
    assert_reset(next(stamgr).await);
    let down = event(&mut events, |_| true).await;
    assert_eq!(
        down,
        CloudEventKind::LinkDown {
            cloud_mod_name: "stamgr".into()
        }
    );
    assert_eq!(
        lab.cloud.device(SERIAL).unwrap().links,
        ["base", "confmgr", "devmgr"]
    );
    // The others still talk.
    let key = tunnel.key.clone();
    assert_eq!(
        exchange(&mut tunnel.main, &key, DeviceMessage::Keepalive).await,
        CloudMessage::KeepaliveAnswer {
            ret_code: RetCode::OK
        }
    );
    let (key, confmgr) = &mut subs[0];
    send(confmgr, key, DeviceMessage::Keepalive).await;
    assert_eq!(
        recv(confmgr).await,
        CloudMessage::KeepaliveAnswer {
            ret_code: RetCode::OK
        }
    );
}

/// The device's answer that every parameter of `configuration` was set.
fn accepted(configuration: Configuration) -> ConfigurationAnswer {
    ConfigurationAnswer {
        seq_number: configuration.seq_number,
        uuid: configuration.uuid,
        ret_code: RetCode::OK,
        fault: None,
    }
}

fn parameter() -> ParameterValueStruct {
    ParameterValueStruct {
        name: "Device.ManagementServer.PeriodicInformInterval".into(),
        value: Value::UnsignedInt(600),
    }
}

#[tokio::test]
async fn push_configuration_returns_the_devices_answer() {
    let lab = Lab::start().await;
    let mut tunnel = lab.establish().await;
    let cloud = lab.cloud.clone();
    let push = tokio::spawn(async move {
        cloud
            .push_configuration(SERIAL, vec![parameter()], GUARD)
            .await
    });
    let CloudMessage::Configuration(configuration) = recv(&mut tunnel.main).await else {
        panic!("no configuration frame");
    };
    assert_eq!(configuration.parameters, [parameter()]);
    let answer = accepted(configuration);
    let key = tunnel.key.clone();
    send(
        &mut tunnel.main,
        &key,
        DeviceMessage::ConfigurationAnswer(answer.clone()),
    )
    .await;
    assert_eq!(push.await.unwrap().unwrap(), answer);
}

#[tokio::test]
async fn push_configuration_times_out_cleanly_without_an_answer() {
    let lab = Lab::start().await;
    let mut tunnel = lab.establish().await;
    tokio::time::pause();
    let result = lab
        .cloud
        .push_configuration(SERIAL, vec![parameter()], Duration::from_secs(5))
        .await;
    assert!(
        matches!(result, Err(CloudError::Timeout { .. })),
        "{result:?}"
    );
    // Real time again, so the guards below do not run ahead while the server works.
    tokio::time::resume();
    let CloudMessage::Configuration(configuration) = recv(&mut tunnel.main).await else {
        panic!("no configuration frame");
    };
    // A late answer finds no waiter and is only counted as an event; the link goes on.
    let late = accepted(configuration);
    let key = tunnel.key.clone();
    send(
        &mut tunnel.main,
        &key,
        DeviceMessage::ConfigurationAnswer(late),
    )
    .await;
    assert_eq!(
        exchange(&mut tunnel.main, &key, DeviceMessage::Keepalive).await,
        CloudMessage::KeepaliveAnswer {
            ret_code: RetCode::OK
        }
    );
    assert!(lab.cloud.device(SERIAL).unwrap().online);
}

#[tokio::test]
async fn connection_request_returns_the_devices_ret_code() {
    let lab = Lab::start().await;
    let mut tunnel = lab.establish().await;
    let cloud = lab.cloud.clone();
    let request = tokio::spawn(async move { cloud.connection_request(SERIAL, GUARD).await });
    let CloudMessage::ConnectionRequest { seq_number } = recv(&mut tunnel.main).await else {
        panic!("no connection request frame");
    };
    let key = tunnel.key.clone();
    let answer = DeviceMessage::ConnectionRequestAnswer {
        seq_number,
        ret_code: RetCode::OK,
    };
    send(&mut tunnel.main, &key, answer).await;
    assert_eq!(request.await.unwrap().unwrap(), RetCode::OK);
}

#[tokio::test]
async fn connection_request_times_out_cleanly_and_fails_at_once_offline() {
    let lab = Lab::start().await;
    let offline = lab.cloud.connection_request(SERIAL, GUARD).await;
    assert!(
        matches!(offline, Err(CloudError::Offline(_))),
        "{offline:?}"
    );
    let _tunnel = lab.establish().await;
    tokio::time::pause();
    let result = lab
        .cloud
        .connection_request(SERIAL, Duration::from_secs(5))
        .await;
    assert!(
        matches!(result, Err(CloudError::Timeout { .. })),
        "{result:?}"
    );
}

#[tokio::test]
async fn rest_adds_lists_sets_faults_and_removes_devices() {
    let lab = Lab::start().await;
    let path = "/api/devices/SN-REST-1";
    let (status, view) = lab
        .rest(Method::PUT, path, Some(json!({"secret": "pw"})))
        .await;
    assert_eq!(status, StatusCode::CREATED);
    assert_eq!(view["serial"], "SN-REST-1");
    assert_eq!(view["online"], false);
    let (status, _) = lab
        .rest(Method::PUT, path, Some(json!({"secret": "pw2"})))
        .await;
    assert_eq!(status, StatusCode::OK, "updating is not creating");

    let (status, list) = lab.rest(Method::GET, "/api/devices", None).await;
    assert_eq!(status, StatusCode::OK);
    let serials: Vec<_> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["serial"].clone())
        .collect();
    assert_eq!(serials, [json!(SERIAL), json!("SN-REST-1")]);

    let faults = json!({"stop_keepalive_answers": true, "delay_ms": 250});
    let (status, view) = lab
        .rest(Method::PUT, &format!("{path}/faults"), Some(faults))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(view["faults"]["stop_keepalive_answers"], true);
    assert_eq!(view["faults"]["delay_ms"], 250);
    let bad = json!({"no_such_fault": true});
    let (status, error) = lab
        .rest(Method::PUT, &format!("{path}/faults"), Some(bad))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(
        error["error"].as_str().unwrap().contains("no_such_fault"),
        "{error}"
    );

    let (status, error) = lab.rest(Method::POST, &format!("{path}/close"), None).await;
    assert_eq!(status, StatusCode::CONFLICT, "{error}");
    let (status, error) = lab
        .rest(Method::POST, &format!("{path}/connection-request"), None)
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{error}");

    let (status, _) = lab.rest(Method::DELETE, path, None).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, error) = lab.rest(Method::GET, path, None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(error["error"], "unknown device \"SN-REST-1\"");
    let (status, _) = lab.rest(Method::DELETE, path, None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = lab
        .rest(Method::PUT, path, Some(json!({"secret": ""})))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (status, _) = lab.rest(Method::PATCH, path, None).await;
    assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED);
}

#[tokio::test]
async fn rest_configuration_and_connection_request_reach_the_device() {
    let lab = Lab::start().await;
    let mut tunnel = lab.establish().await;
    let key = tunnel.key.clone();
    let device = async move {
        let CloudMessage::Configuration(c) = recv(&mut tunnel.main).await else {
            panic!("no configuration");
        };
        let answer = ConfigurationAnswer {
            seq_number: c.seq_number,
            uuid: c.uuid,
            ret_code: RetCode::OK,
            fault: None,
        };
        send(
            &mut tunnel.main,
            &key,
            DeviceMessage::ConfigurationAnswer(answer),
        )
        .await;
        let CloudMessage::ConnectionRequest { seq_number } = recv(&mut tunnel.main).await else {
            panic!("no connection request");
        };
        let answer = DeviceMessage::ConnectionRequestAnswer {
            seq_number,
            ret_code: RetCode(1),
        };
        send(&mut tunnel.main, &key, answer).await;
    };
    let device = tokio::spawn(device);
    let path = format!("/api/devices/{SERIAL}");
    let parameters = json!({"parameters": [
        {"name": "Device.ManagementServer.PeriodicInformInterval", "value": "600", "type": "unsignedInt"}
    ]});
    let (status, answer) = lab
        .rest(
            Method::POST,
            &format!("{path}/configuration"),
            Some(parameters),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(answer["retCode"], 0);
    let (status, answer) = lab
        .rest(
            Method::POST,
            &format!("{path}/connection-request?timeout=5000"),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(answer, json!({"retCode": 1}));
    device.await.unwrap();
}

#[tokio::test]
async fn bad_frames_are_counted_and_the_link_stays_up() {
    let lab = Lab::start().await;
    let mut tunnel = lab.establish().await;
    let mut events = lab.cloud.subscribe();
    tunnel.main.send(Message::text("not json")).await.unwrap();
    tunnel
        .main
        .send(Message::text(r#"{"optType":999}"#))
        .await
        .unwrap();
    tunnel
        .main
        .send(Message::binary(vec![1, 2, 3]))
        .await
        .unwrap();
    let stranger = LinkKey::main("ANOTHER-SERIAL", &tunnel.session);
    send(&mut tunnel.main, &stranger, DeviceMessage::Keepalive).await;
    for _ in 0..4 {
        event(&mut events, |k| {
            matches!(k, CloudEventKind::BadFrame { .. })
        })
        .await;
    }
    let key = tunnel.key.clone();
    assert_eq!(
        exchange(&mut tunnel.main, &key, DeviceMessage::Keepalive).await,
        CloudMessage::KeepaliveAnswer {
            ret_code: RetCode::OK
        }
    );
    let view = lab.cloud.device(SERIAL).unwrap();
    assert_eq!(view.bad_frames, 4);
    assert_eq!(
        view.keepalives, 1,
        "the stranger's keepalive is not counted"
    );
}

#[tokio::test]
async fn unbinding_with_the_right_code_unbinds_and_closes_the_links() {
    let lab = Lab::start().await;
    lab.cloud.set_unbinding_code(SERIAL, "CODE-42").unwrap();
    let mut tunnel = lab.establish().await;
    let key = tunnel.key.clone();
    assert_eq!(
        exchange(
            &mut tunnel.main,
            &key,
            DeviceMessage::Unbind {
                code: "CODE-41".into(),
            }
        )
        .await,
        CloudMessage::UnbindAnswer {
            ret_code: RetCode::FAILED
        }
    );
    assert!(lab.cloud.device(SERIAL).unwrap().bound);

    assert_eq!(
        exchange(
            &mut tunnel.main,
            &key,
            DeviceMessage::Unbind {
                code: "CODE-42".into(),
            }
        )
        .await,
        CloudMessage::UnbindAnswer {
            ret_code: RetCode::OK
        }
    );
    assert!(matches!(
        next(&mut tunnel.main).await,
        Some(Ok(Message::Close(_)))
    ));
    assert!(!lab.cloud.device(SERIAL).unwrap().bound);
    let ticket = lab.service_ticket(SERIAL, SECRET).await;
    let refused = lab.cloud_auth(&ticket).await;
    assert!(
        matches!(
            refused,
            AuthAnswer::Refused {
                ret_code: RetCode::FAILED,
                ..
            }
        ),
        "{refused:?}"
    );
    // Adding the device again binds it.
    lab.cloud.add_device(SERIAL, SECRET).unwrap();
    lab.session(SERIAL, SECRET).await;
}

#[tokio::test]
async fn a_sub_link_without_a_main_link_is_refused() {
    let lab = Lab::start().await;
    let session = lab.session(SERIAL, SECRET).await;
    let url = format!("wss://{}/v3/tunnel/confmgr", lab.host());
    let mut ws = lab.websocket(&url, &session).await.unwrap();
    let key = LinkKey::main(SERIAL, &session).sub("confmgr-dev", "confmgr");
    assert_eq!(
        exchange(&mut ws, &key, DeviceMessage::Register).await,
        CloudMessage::RegisterAnswer {
            ret_code: RetCode::NO_MAIN_CONNECTION
        }
    );
}

#[tokio::test]
async fn registry_checks_serials_and_secrets() {
    let lab = Lab::start().await;
    let invalid = |r: Result<(), CloudError>| matches!(r, Err(CloudError::Invalid { .. }));
    assert!(invalid(lab.cloud.add_device("", "pw")));
    assert!(invalid(lab.cloud.add_device("has space", "pw")));
    assert!(invalid(lab.cloud.add_device(&"S".repeat(65), "pw")));
    assert!(invalid(lab.cloud.add_device("SN", "")));
    assert!(invalid(lab.cloud.add_device("SN", "line\nbreak")));
    assert!(matches!(
        lab.cloud.set_unbinding_code("NOT-THERE", "code"),
        Err(CloudError::UnknownDevice(_))
    ));
    assert!(lab.cloud.remove_device(SERIAL));
    assert!(!lab.cloud.remove_device(SERIAL));
    assert!(lab.cloud.devices().is_empty());
}

/// An ACS whose device `SERIAL` reported a ConnectionRequestURL nobody listens on, with the
/// lab's cloud attached.
async fn acs_behind_nat(lab: &Lab) -> (Arc<Acs>, DeviceId, tempfile::TempDir) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let closed = listener.local_addr().unwrap();
    drop(listener);
    let store: Arc<dyn Store> = Arc::new(MemoryStore::new());
    let dir = tempfile::tempdir().unwrap();
    let files = FileStore::new(dir.path()).unwrap();
    let acs = Acs::new(store, AcsConfig::default(), Scenario::default(), files);
    assert!(acs.attach_cloud(lab.cloud.clone()));
    let inform = InformSummary {
        oui: "00259E".to_owned(),
        product_class: "HG8245".to_owned(),
        serial_number: SERIAL.to_owned(),
        connection_request_url: Some(format!("http://{closed}/cr")),
        ..InformSummary::default()
    };
    let id = acs.store.record_inform(&inform).unwrap();
    (acs, id, dir)
}

#[tokio::test]
async fn an_unreachable_connection_request_url_falls_back_to_the_tunnel() {
    let lab = Lab::start().await;
    let (acs, id, _dir) = acs_behind_nat(&lab).await;
    let mut tunnel = lab.establish().await;
    let kick = tokio::spawn(async move { connreq::kick(&acs, &id).await });
    let CloudMessage::ConnectionRequest { seq_number } = recv(&mut tunnel.main).await else {
        panic!("no connection request on the tunnel");
    };
    let key = tunnel.key.clone();
    let answer = DeviceMessage::ConnectionRequestAnswer {
        seq_number,
        ret_code: RetCode::OK,
    };
    send(&mut tunnel.main, &key, answer).await;
    assert_eq!(kick.await.unwrap().unwrap(), connreq::Path::Cloud);
}

#[tokio::test]
async fn an_unreachable_url_and_no_tunnel_fail_with_both_reasons() {
    let lab = Lab::start().await;
    let (acs, id, _dir) = acs_behind_nat(&lab).await;
    let error = connreq::kick(&acs, &id).await.unwrap_err();
    assert!(
        matches!(&error, ConnReqError::Tunnel { http, .. } if matches!(**http, ConnReqError::Unreachable { .. })),
        "{error:?}"
    );
    assert!(
        error.to_string().ends_with("is offline (no main link)"),
        "{error}"
    );
}

/// Answers the next configuration push on `tunnel` with `ret_code`.
async fn answer_configuration(tunnel: &mut Tunnel, ret_code: RetCode) {
    let CloudMessage::Configuration(configuration) = recv(&mut tunnel.main).await else {
        panic!("no configuration frame");
    };
    let answer = ConfigurationAnswer {
        ret_code,
        ..accepted(configuration)
    };
    let key = tunnel.key.clone();
    send(
        &mut tunnel.main,
        &key,
        DeviceMessage::ConfigurationAnswer(answer),
    )
    .await;
}

#[tokio::test]
async fn pushes_through_the_tunnel_are_counted_in_the_attached_acs_statistics() {
    let lab = Lab::start().await;
    let (acs, id, _dir) = acs_behind_nat(&lab).await;
    let mut tunnel = lab.establish().await;

    // Two configurations answered, one of them refused (retCode 1).
    for ret_code in [RetCode::OK, RetCode::FAILED] {
        let cloud = lab.cloud.clone();
        let push = tokio::spawn(async move {
            cloud
                .push_configuration(SERIAL, vec![parameter()], GUARD)
                .await
        });
        answer_configuration(&mut tunnel, ret_code).await;
        assert_eq!(push.await.unwrap().unwrap().ret_code, ret_code);
    }
    // A Connection Request falls back to the tunnel and is refused there (busy): counted once.
    let acs_kick = acs.clone();
    let kick = tokio::spawn(async move { connreq::kick(&acs_kick, &id).await });
    let CloudMessage::ConnectionRequest { seq_number } = recv(&mut tunnel.main).await else {
        panic!("no connection request on the tunnel");
    };
    let key = tunnel.key.clone();
    let busy = DeviceMessage::ConnectionRequestAnswer {
        seq_number,
        ret_code: RetCode::BUSY,
    };
    send(&mut tunnel.main, &key, busy).await;
    assert!(kick.await.unwrap().is_err());
    // A configuration nobody answers.
    tokio::time::pause();
    let unanswered = lab
        .cloud
        .push_configuration(SERIAL, vec![parameter()], Duration::from_secs(5))
        .await;
    assert!(matches!(unanswered, Err(CloudError::Timeout { .. })));

    let snapshot = acs.stats.snapshot(|_| 0);
    let row = |name: &str| {
        let c = snapshot.row(name).unwrap();
        (c.success, c.faults, c.failed, c.dropped)
    };
    // (success, faults, failed, dropped)
    assert_eq!(row("TunnelConfiguration"), (2, 1, 1, 0));
    assert_eq!(row("TunnelConnectionRequest"), (1, 1, 0, 0));
    assert_eq!(row("ConnectionRequest"), (0, 0, 1, 0));
    assert!(
        snapshot
            .row("TunnelConfiguration")
            .unwrap()
            .last_sent
            .is_some()
    );
}
