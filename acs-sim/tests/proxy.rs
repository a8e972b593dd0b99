//! Everything the agent sends out goes through a real HTTP proxy (Debian's tinyproxy, started
//! per test on loopback): the CWMP session over https, a Download over https from the file
//! server, and the cloud tunnel, each a `CONNECT` in the proxy's log. A proxy that refuses or
//! is not there fails the session with an error naming it, and the next attempt waits the
//! back-off of TR-069 §3.2.1.1.

#[path = "server/support.rs"]
mod support;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use acs_sim::acs::AcsEvent;
use acs_sim::cloud::{Cloud, CloudConfig, CloudEventKind, CloudServer};
use acs_sim::files::NewFile;
use acs_sim::store::TaskName;
use cpe::control::{self, Request, Response};
use schemas::value::DateTime;
use support::{TestAcs, pki::Pki};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{broadcast, watch};

const SERIAL: &str = "PROXY0001";
const SECRET: &str = "s3cret";
const WAIT: Duration = Duration::from_secs(20);

/// A tinyproxy process on a free loopback port, with its log in a temp dir.
struct Tinyproxy {
    port: u16,
    log: PathBuf,
    child: Child,
    _dir: tempfile::TempDir,
}

impl Tinyproxy {
    /// Starts tinyproxy in the foreground with `extra` configuration lines (`BasicAuth`,
    /// `ConnectPort`); without `ConnectPort` every port may be tunnelled to.
    async fn start(extra: &str) -> Self {
        let dir = tempfile::tempdir().unwrap();
        // Started as root, tinyproxy may switch to an unprivileged user: let it write its log.
        std::fs::set_permissions(
            dir.path(),
            std::os::unix::fs::PermissionsExt::from_mode(0o777),
        )
        .unwrap();
        let port = free_port().await;
        let log = dir.path().join("tinyproxy.log");
        let config = dir.path().join("tinyproxy.conf");
        std::fs::write(
            &config,
            format!(
                "Port {port}\nListen 127.0.0.1\nTimeout 30\nMaxClients 32\nAllow 127.0.0.1\n\
                 LogLevel Connect\nLogFile \"{}\"\n{extra}\n",
                log.display()
            ),
        )
        .unwrap();
        let child = Command::new("tinyproxy")
            .args(["-d", "-c"])
            .arg(&config)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| {
                panic!("cannot run tinyproxy ({e}): install it with `apt-get install tinyproxy`")
            });
        let proxy = Self {
            port,
            log,
            child,
            _dir: dir,
        };
        tokio::time::timeout(WAIT, async {
            while TcpStream::connect(("127.0.0.1", port)).await.is_err() {
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        })
        .await
        .expect("tinyproxy listens");
        proxy
    }

    /// The `CONNECT` requests in the proxy's log, as `host:port`.
    fn connects(&self) -> Vec<String> {
        let log = std::fs::read_to_string(&self.log).unwrap_or_default();
        log.lines()
            .filter_map(|line| line.split("): CONNECT ").nth(1))
            .filter_map(|rest| rest.split(' ').next())
            .map(str::to_owned)
            .collect()
    }
}

impl Drop for Tinyproxy {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A port nothing listens on (bound, then released).
async fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    listener.local_addr().unwrap().port()
}

/// The cloud server on loopback, knowing [`SERIAL`].
async fn start_cloud(pki: &Pki) -> (Cloud, u16, watch::Sender<bool>) {
    let server = CloudServer::bind(CloudConfig {
        listen: "127.0.0.1:0".parse().unwrap(),
        ..CloudConfig::new(pki.server_config(false))
    })
    .await
    .unwrap();
    let cloud = server.handle();
    cloud.add_device(SERIAL, SECRET).unwrap();
    let port = server.local_addr().port();
    let (stop, mut stopped) = watch::channel(false);
    tokio::spawn(server.serve(async move {
        let _ = stopped.wait_for(|s| *s).await;
    }));
    (cloud, port, stop)
}

/// Runs the agent with `file` (TOML) against the https ACS at `acs`, the cloud at
/// `127.0.0.1:cloud_port`; stops it when the returned sender is dropped.
async fn start_agent(
    pki: &Pki,
    file: &str,
    acs: SocketAddr,
    cloud_port: u16,
    state: &Path,
) -> watch::Sender<bool> {
    let file: cpe::config::FileConfig = toml::from_str(&format!(
        "{file}\n[tls]\nca_file = \"{}\"\n[cloud]\nsecret = \"{SECRET}\"\n",
        pki.ca_file.display()
    ))
    .unwrap();
    let config = cpe::config::Config::resolve(
        file,
        cpe::config::Overrides {
            acs_url: Some(format!("https://{acs}/")),
            serial: Some(SERIAL.to_owned()),
            state_dir: Some(state.to_owned()),
            connreq_listen: Some("127.0.0.1:0".to_owned()),
            cloud_domain: Some("127.0.0.1".to_owned()),
            cloud_port: Some(u32::from(cloud_port)),
            cloud_ca: Some(pki.ca_file.clone()),
            ..cpe::config::Overrides::default()
        },
    )
    .unwrap();
    support::run_agent(config).await
}

/// Waits for the first ACS event that `pick` accepts.
async fn next_event<T>(
    events: &mut broadcast::Receiver<AcsEvent>,
    mut pick: impl FnMut(AcsEvent) -> Option<T>,
) -> T {
    let wait = async {
        loop {
            if let Ok(event) = events.recv().await
                && let Some(found) = pick(event)
            {
                return found;
            }
        }
    };
    tokio::time::timeout(WAIT, wait)
        .await
        .expect("the ACS event")
}

/// The agent's status, once its control socket is up.
async fn status(state: &Path) -> Option<control::Status> {
    match control::request(state, &Request::Status).await {
        Ok(Response::Status(status)) => Some(status),
        Ok(other) => panic!("status expected, got {other:?}"),
        Err(_) => None,
    }
}

async fn cloud_field(state: &Path, field: &str) -> String {
    let Response::CloudStatus { rows } = control::request(state, &Request::CloudStatus)
        .await
        .unwrap()
    else {
        panic!("the cloud status table expected");
    };
    rows.into_iter()
        .find_map(|(name, value)| (name == field).then_some(value))
        .unwrap_or_else(|| panic!("no field {field}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cwmp_download_and_cloud_tunnel_all_pass_through_the_proxy_with_basic_auth() {
    let pki = Pki::new();
    let proxy = Tinyproxy::start("BasicAuth proxyuser proxypw").await;
    let (cloud, cloud_port, _cloud_stop) = start_cloud(&pki).await;
    let mut cloud_events = cloud.subscribe();

    // The file server over HTTPS; Download URLs name it.
    let files = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let files_addr = files.local_addr().unwrap();
    let config = acs_sim::acs::AcsConfig {
        files_url: format!("https://{files_addr}/"),
        ..support::config()
    };
    let acs = TestAcs::start_with(config, Some(pki.server_config(false))).await;
    tokio::spawn(acs_sim::files::serve_tls(
        files,
        Arc::clone(&acs.acs),
        pki.server_config(false),
        std::future::pending(),
    ));
    let page = http_body_util::Full::new(bytes::Bytes::from_static(b"<h1>via proxy</h1>"));
    let new_file = NewFile {
        file_type: "2 Web Content".to_owned(),
        ..NewFile::named("index.html")
    };
    acs.acs
        .files
        .put(&acs.acs.store, new_file, page)
        .await
        .unwrap();

    let mut acs_events = acs.acs.events();
    let state = tempfile::tempdir().unwrap();
    let proxy_section = format!(
        "[proxy]\nurl = \"http://127.0.0.1:{}\"\nusername = \"proxyuser\"\npassword = \"proxypw\"",
        proxy.port
    );
    let _agent = start_agent(&pki, &proxy_section, acs.addr, cloud_port, state.path()).await;

    // 1. The CWMP session over https.
    let device = next_event(&mut acs_events, |e| match e {
        AcsEvent::Informed { device, .. } => Some(device),
        _ => None,
    })
    .await;
    // 2. The cloud tunnel registers.
    tokio::time::timeout(WAIT, async {
        while let Ok(event) = cloud_events.recv().await {
            if event.serial == SERIAL && matches!(event.kind, CloudEventKind::Registered) {
                return;
            }
        }
    })
    .await
    .expect("the tunnel registers through the proxy");
    // 3. A Download over https, in the session a connection request through the tunnel
    //    opens.
    acs.add_task(
        &device,
        TaskName::Download,
        serde_json::json!({"file": "index.html"}),
    );
    let answer = cloud.connection_request(SERIAL, WAIT).await.unwrap();
    assert!(answer.is_ok(), "{answer:?}");
    let fault = next_event(&mut acs_events, |e| match e {
        AcsEvent::TransferComplete { fault, .. } => Some(fault),
        _ => None,
    })
    .await;
    assert_eq!(fault, None, "the download succeeded");

    let connects = proxy.connects();
    for (what, target) in [
        ("the ACS", acs.addr),
        ("the file server", files_addr),
        ("the cloud", SocketAddr::from(([127, 0, 0, 1], cloud_port))),
    ] {
        assert!(
            connects.contains(&target.to_string()),
            "{what} ({target}) reached through CONNECT: {connects:?}"
        );
    }
    // The tunnel's status shows the address it connected to: the proxy's.
    assert_eq!(
        cloud_field(state.path(), "Cloud server address").await,
        "127.0.0.1"
    );
}

/// Waits until the agent has failed a session; returns its status then.
async fn failed_session(state: &Path) -> control::Status {
    tokio::time::timeout(WAIT, async {
        loop {
            if let Some(status) = status(state).await
                && status.sessions_failed > 0
                && status.next_session.is_some()
            {
                return status;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await
    .expect("a failed session")
}

/// The failure message and the wait until the next attempt, in seconds.
fn failure_and_wait(status: &control::Status) -> (String, i64) {
    let (ended, outcome) = status.last_session.clone().unwrap();
    let seconds = |t: &str| t.parse::<DateTime>().unwrap().unix_seconds();
    let next = status.next_session.as_deref().unwrap();
    (outcome, seconds(next) - seconds(&ended))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refusing_or_absent_proxy_is_named_and_the_session_retries_with_back_off() {
    let pki = Pki::new();
    let acs = TestAcs::start_with(support::config(), Some(pki.server_config(false))).await;
    let mut acs_events = acs.acs.events();
    let (_cloud, cloud_port, _cloud_stop) = start_cloud(&pki).await;
    // Tunnels only to port 1: 403 for the ACS and the cloud.
    let refusing = Tinyproxy::start("ConnectPort 1").await;
    let absent = free_port().await;

    for (proxy_port, expected) in [
        (
            refusing.port,
            format!(
                "HTTP proxy 127.0.0.1:{} refused CONNECT to {}: 403 Forbidden",
                refusing.port, acs.addr
            ),
        ),
        (
            absent,
            format!("cannot connect to HTTP proxy 127.0.0.1:{absent}"),
        ),
    ] {
        let state = tempfile::tempdir().unwrap();
        let section = format!("[proxy]\nurl = \"http://127.0.0.1:{proxy_port}\"");
        let _agent = start_agent(&pki, &section, acs.addr, cloud_port, state.path()).await;
        let status = failed_session(state.path()).await;
        let (outcome, wait) = failure_and_wait(&status);
        assert!(
            outcome.contains(&expected),
            "{outcome:?} names {expected:?}"
        );
        // First retry (TR-069 §3.2.1.1): 5 to 10 s; whole seconds on both ends.
        assert!((4..=11).contains(&wait), "retry after {wait} s");
        assert_eq!(status.sessions_ok, 0);
        tokio::time::timeout(WAIT, async {
            while cloud_field(state.path(), "Failure reason").await != "Socket connection failed" {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        })
        .await
        .expect("the tunnel fails as a socket connection failure");
    }
    assert!(
        refusing.connects().contains(&acs.addr.to_string()),
        "{:?}",
        refusing.connects()
    );
    assert!(
        acs_events.try_recv().is_err(),
        "the ACS never saw the agent"
    );
}
