//! The CPE agent's cloud-management tunnel against the real cloud server and a real ACS, all
//! on loopback with TLS (certificates made at test start): the tunnel follows the data model
//! when the ACS (a CWMP session), DHCP (option 43 sub-options 0x81-0x84) or the cloud itself
//! changes it; a connection request through the tunnel opens one session with
//! `6 CONNECTION REQUEST`; `cpe cloud reset` and `cpe cloud status` over the control socket.

#[path = "server/support.rs"]
mod support;

use std::path::PathBuf;
use std::time::Duration;

use acs_sim::acs::AcsEvent;
use acs_sim::cloud::{Cloud, CloudConfig, CloudEvent, CloudEventKind, CloudServer};
use acs_sim::store::{DeviceId, TaskName};
use cpe::control::{self, Request, Response};
use schemas::rpc::types::ParameterValueStruct;
use schemas::value::Value;
use support::{TestAcs, pki::Pki};
use tokio::sync::{broadcast, watch};

const SERIAL: &str = "CLOUD0001";
const SECRET: &str = "s3cret";
const OBJECT: &str = "Device.X_EXAMPLE_CloudManagement.";
const WAIT: Duration = Duration::from_secs(20);

/// A cloud server on `127.0.0.1:0` that knows [`SERIAL`].
struct TestCloud {
    cloud: Cloud,
    port: u16,
    events: broadcast::Receiver<CloudEvent>,
    stop: watch::Sender<bool>,
}

impl TestCloud {
    async fn start(pki: &Pki) -> Self {
        let server = CloudServer::bind(CloudConfig {
            listen: "127.0.0.1:0".parse().unwrap(),
            ..CloudConfig::new(pki.server_config(false))
        })
        .await
        .unwrap();
        let cloud = server.handle();
        cloud.add_device(SERIAL, SECRET).unwrap();
        let events = cloud.subscribe();
        let port = server.local_addr().port();
        let (stop, mut stopped) = watch::channel(false);
        tokio::spawn(server.serve(async move {
            let _ = stopped.wait_for(|s| *s).await;
        }));
        Self {
            cloud,
            port,
            events,
            stop,
        }
    }

    /// Waits for the next event of [`SERIAL`] that `pick` accepts.
    async fn next<T>(&mut self, mut pick: impl FnMut(&CloudEventKind) -> Option<T>) -> T {
        let wait = async {
            loop {
                match self.events.recv().await {
                    Ok(event) if event.serial == SERIAL => {
                        if let Some(found) = pick(&event.kind) {
                            return found;
                        }
                    }
                    Ok(_) | Err(broadcast::error::RecvError::Lagged(_)) => {}
                    Err(broadcast::error::RecvError::Closed) => panic!("the cloud stopped"),
                }
            }
        };
        tokio::time::timeout(WAIT, wait)
            .await
            .expect("the cloud event within the wait")
    }

    async fn registered(&mut self) {
        self.next(|kind| matches!(kind, CloudEventKind::Registered).then_some(()))
            .await;
    }

    /// The next report the device mirrors.
    async fn report(&mut self) -> schemas::tunnel::Report {
        self.next(|kind| match kind {
            CloudEventKind::Report(report) => Some(report.clone()),
            _ => None,
        })
        .await
    }
}

impl Drop for TestCloud {
    fn drop(&mut self) {
        let _ = self.stop.send(true);
    }
}

/// An agent of the `cpe` crate in this process, with its ACS and its cloud.
struct Rig {
    acs: TestAcs,
    acs_events: broadcast::Receiver<AcsEvent>,
    state: tempfile::TempDir,
    stop: watch::Sender<bool>,
}

impl Rig {
    /// Starts the agent pointed at the ACS and, when `cloud_port` is given, at the cloud
    /// `127.0.0.1:cloud_port` through the configuration.
    async fn start(pki: &Pki, cloud_port: Option<u16>) -> Self {
        let acs = TestAcs::start(support::config()).await;
        let acs_events = acs.acs.events();
        let state = tempfile::tempdir().unwrap();
        let file: cpe::config::FileConfig =
            toml::from_str(&format!("[cloud]\nsecret = \"{SECRET}\"")).unwrap();
        let config = cpe::config::Config::resolve(
            file,
            cpe::config::Overrides {
                acs_url: Some(format!("http://{}/", acs.addr)),
                serial: Some(SERIAL.to_owned()),
                state_dir: Some(state.path().to_owned()),
                connreq_listen: Some("127.0.0.1:0".to_owned()),
                cloud_domain: cloud_port.map(|_| "127.0.0.1".to_owned()),
                cloud_port: cloud_port.map(u32::from),
                cloud_ca: Some(pki.ca_file.clone()),
                ..cpe::config::Overrides::default()
            },
        )
        .unwrap();
        let stop = support::run_agent(config).await;
        Self {
            acs,
            acs_events,
            state,
            stop,
        }
    }

    fn state_dir(&self) -> PathBuf {
        self.state.path().to_owned()
    }

    async fn control(&self, request: Request) -> Response {
        control::request(&self.state_dir(), &request).await.unwrap()
    }

    async fn get(&self, name: &str) -> String {
        let Response::Values { values } = self
            .control(Request::Get {
                paths: vec![name.to_owned()],
            })
            .await
        else {
            panic!("values expected");
        };
        values.into_iter().next().unwrap().1
    }

    async fn status_rows(&self) -> Vec<(String, String)> {
        let Response::CloudStatus { rows } = self.control(Request::CloudStatus).await else {
            panic!("the status table expected");
        };
        rows
    }

    async fn status(&self, field: &str) -> String {
        let rows = self.status_rows().await;
        rows.into_iter()
            .find(|(name, _)| name == field)
            .map(|(_, value)| value)
            .unwrap_or_else(|| panic!("no field {field}"))
    }

    /// Waits until the agent's own table says the tunnel is established (the cloud registers
    /// the link a moment before the device reads the answer).
    async fn established(&self) {
        tokio::time::timeout(WAIT, async {
            while self.status("Cloud connection state").await != "Established" {
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        })
        .await
        .expect("the agent sees the tunnel established");
    }

    /// Waits for the next Inform of the device and returns its events and id.
    async fn inform(&mut self) -> (DeviceId, Vec<String>) {
        let wait = async {
            loop {
                if let Ok(AcsEvent::Informed { device, events }) = self.acs_events.recv().await {
                    return (device, events);
                }
            }
        };
        tokio::time::timeout(WAIT, wait).await.expect("an Inform")
    }

    /// Waits for the end of the session in progress.
    async fn session_ended(&mut self) {
        let wait = async {
            loop {
                if let Ok(AcsEvent::SessionEnded { error, .. }) = self.acs_events.recv().await {
                    assert_eq!(error, None, "the session completes");
                    return;
                }
            }
        };
        tokio::time::timeout(WAIT, wait)
            .await
            .expect("the session's end");
    }

    /// The sessions the ACS saw open within `window`.
    async fn informs_within(&mut self, window: Duration) -> Vec<Vec<String>> {
        let mut seen = Vec::new();
        let _ = tokio::time::timeout(window, async {
            loop {
                if let Ok(AcsEvent::Informed { events, .. }) = self.acs_events.recv().await {
                    seen.push(events);
                }
            }
        })
        .await;
        seen
    }
}

impl Drop for Rig {
    fn drop(&mut self) {
        let _ = self.stop.send(true);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_acs_session_moves_the_tunnel_to_a_new_domain_and_port_and_the_cloud_sees_it() {
    let pki = Pki::new();
    let mut first = TestCloud::start(&pki).await;
    let mut second = TestCloud::start(&pki).await;
    let mut rig = Rig::start(&pki, Some(first.port)).await;
    let (device, events) = rig.inform().await;
    assert!(events.contains(&"0 BOOTSTRAP".to_owned()), "{events:?}");
    rig.session_ended().await;
    first.registered().await;
    let report = first.report().await;
    assert_eq!(
        (report.cloud.domain(), report.cloud.port()),
        ("127.0.0.1", first.port)
    );
    assert_eq!(report.cwmp.acs_url, format!("http://{}/", rig.acs.addr));
    assert_eq!(report.cwmp.acs_url_source, "config");

    rig.acs.add_task(
        &device,
        TaskName::SetParameterValues,
        serde_json::json!({"parameterValues": [
            [format!("{OBJECT}ServerDomain"), "localhost", "xsd:string"],
            [format!("{OBJECT}ServerPort"), second.port, "xsd:unsignedInt"],
        ]}),
    );
    // The task's session, asked for through the tunnel (the ACS's own way in is not used).
    let answer = first.cloud.connection_request(SERIAL, WAIT).await.unwrap();
    assert!(answer.is_ok(), "{answer:?}");
    let (_, events) = rig.inform().await;
    assert_eq!(events, ["6 CONNECTION REQUEST"]);
    rig.session_ended().await;

    second.registered().await;
    let report = second.report().await;
    assert_eq!(
        (report.cloud.domain(), report.cloud.port()),
        ("localhost", second.port),
        "the new cloud sees the mirrored values"
    );
    assert!(report.cwmp.last_inform.is_some());
    first
        .next(|kind| matches!(kind, CloudEventKind::Disconnected).then_some(()))
        .await;
    assert_eq!(
        rig.status("Last down reason").await,
        "Configuration changed"
    );
    assert_eq!(rig.status("Cloud server domain name").await, "localhost");
    assert_eq!(rig.status("Local port").await, second.port.to_string());
    assert_eq!(rig.status("Cloud connection state").await, "Established");
    assert_eq!(
        rig.get(&format!("{OBJECT}Status.ConnectionState")).await,
        "Established"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_connection_request_through_the_tunnel_opens_exactly_one_session() {
    let pki = Pki::new();
    let mut cloud = TestCloud::start(&pki).await;
    let mut rig = Rig::start(&pki, Some(cloud.port)).await;
    rig.inform().await;
    rig.session_ended().await;
    cloud.registered().await;
    let answer = cloud.cloud.connection_request(SERIAL, WAIT).await.unwrap();
    assert!(answer.is_ok());
    let informs = rig.informs_within(Duration::from_secs(2)).await;
    assert_eq!(informs, [vec!["6 CONNECTION REQUEST".to_owned()]]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dhcp_cloud_sub_options_start_the_tunnel_and_a_renewal_moves_it() {
    let pki = Pki::new();
    let mut first = TestCloud::start(&pki).await;
    let mut second = TestCloud::start(&pki).await;
    let mut rig = Rig::start(&pki, None).await;
    rig.inform().await;
    rig.session_ended().await;
    assert_eq!(rig.status("Cloud connection state").await, "Unconnected");

    for cloud in [&mut first, &mut second] {
        // What `cpe dhcp hook` hands over for a lease with sub-options 0x81-0x82.
        let discovery = schemas::dhcp::AcsDiscovery {
            url: Some(format!("http://{}/", rig.acs.addr)),
            cloud: schemas::dhcp::CloudParams {
                domain: Some("127.0.0.1".to_owned()),
                port: Some(cloud.port),
                ..Default::default()
            },
            ..Default::default()
        };
        let bytes = discovery
            .encode_option43(schemas::dhcp::Dialect::Bbf)
            .unwrap();
        let intake = cpe::ztp::Intake::from_discovery(
            schemas::dhcp::AcsDiscovery::decode_option43(&bytes).unwrap(),
        )
        .unwrap();
        let delivery = cpe::ztp::hook::deliver(&rig.state_dir(), &intake)
            .await
            .unwrap();
        assert!(
            matches!(delivery, cpe::ztp::hook::Delivery::Applied(_)),
            "{delivery:?}"
        );
        cloud.registered().await;
        let report = cloud.report().await;
        assert_eq!(report.cloud.port(), cloud.port);
    }
    rig.established().await;
    assert_eq!(
        rig.status("Last down reason").await,
        "Configuration changed"
    );
    let status = rig.control(Request::Status).await;
    let Response::Status(status) = status else {
        panic!()
    };
    let source = status
        .sources
        .iter()
        .find(|(name, _)| *name == format!("{OBJECT}ServerPort"))
        .map(|(_, s)| s.as_str());
    assert_eq!(source, Some("dhcp"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pushed_configuration_lands_in_the_model_with_set_parameter_values_faults() {
    let pki = Pki::new();
    let mut cloud = TestCloud::start(&pki).await;
    let rig = Rig::start(&pki, Some(cloud.port)).await;
    cloud.registered().await;
    let name = format!("{OBJECT}PingInterval");
    let set = |value: Value| vec![ParameterValueStruct::new(name.clone(), value)];
    let answer = cloud
        .cloud
        .push_configuration(SERIAL, set(Value::UnsignedInt(30)), WAIT)
        .await
        .unwrap();
    assert!(answer.ret_code.is_ok(), "{answer:?}");
    assert_eq!(answer.fault, None);
    assert_eq!(rig.get(&name).await, "30");
    // The change is mirrored back (after the report of the establishment).
    cloud
        .next(|kind| match kind {
            CloudEventKind::Report(report) => (report.cloud.ping() == 30).then_some(()),
            _ => None,
        })
        .await;

    let answer = cloud
        .cloud
        .push_configuration(SERIAL, set(Value::UnsignedInt(5)), WAIT)
        .await
        .unwrap();
    assert!(!answer.ret_code.is_ok());
    let fault = answer.fault.unwrap();
    assert_eq!(fault.fault_code.code(), 9003);
    assert_eq!(fault.set_parameter_values_fault[0].parameter_name, name);
    assert_eq!(fault.set_parameter_values_fault[0].fault_code.code(), 9007);
    assert_eq!(rig.get(&name).await, "30", "nothing changed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cpe_cloud_reset_re_establishes_with_the_reason_in_the_table() {
    let pki = Pki::new();
    let mut cloud = TestCloud::start(&pki).await;
    let rig = Rig::start(&pki, Some(cloud.port)).await;
    cloud.registered().await;
    rig.established().await;
    assert_eq!(rig.control(Request::CloudReset).await, Response::Done);
    cloud.registered().await;
    rig.established().await;
    assert_eq!(
        rig.status("Last down reason").await,
        "Cloud reset connection"
    );
    assert_eq!(rig.status("Cloud connection state").await, "Established");
    assert_eq!(cloud.cloud.device(SERIAL).unwrap().registrations, 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_status_table_has_every_field_of_the_display_command_in_order() {
    let pki = Pki::new();
    let mut cloud = TestCloud::start(&pki).await;
    let rig = Rig::start(&pki, Some(cloud.port)).await;
    cloud.registered().await;
    rig.established().await;
    let rows = rig.status_rows().await;
    let text = cpe::cloud::StatusTable(rows).render();
    // Times and the port vary; everything else is the snapshot.
    let masked: String = text
        .lines()
        .map(|line| {
            let (name, value) = line.split_once(" : ").unwrap();
            let value = match name.trim_end() {
                "Connected at" | "Last down at" => {
                    assert!(value.parse::<schemas::value::DateTime>().is_ok(), "{value}");
                    "<time>"
                }
                "Duration" => {
                    assert!(value.starts_with("00d 00h 00m "), "{value}");
                    "<duration>"
                }
                "Local port" => {
                    assert_eq!(value, cloud.port.to_string());
                    "<port>"
                }
                _ => value,
            };
            format!("{name} : {value}\n")
        })
        .collect();
    let expected = "\
Cloud connection state                      : Established
Device state                                : Request_success
Cloud server address                        : 127.0.0.1
Cloud server domain name                    : 127.0.0.1
Local port                                  : <port>
Connected at                                : <time>
Duration                                    : <duration>
Process state                               : Message received
Failure reason                              : N/A
Last down reason                            : Device or process rebooted
Last down at                                : <time>
Last report failure reason                  : N/A
Last report failure at                      : N/A
Dropped packets after reaching buffer limit : 0
Total dropped packets                       : 0
Last report incomplete reason               : N/A
Last report incomplete at                   : N/A
Buffer full count                           : 0
";
    assert_eq!(masked, expected);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unbinding_code_set_by_the_acs_goes_to_the_cloud_and_reads_back_empty() {
    let pki = Pki::new();
    let mut cloud = TestCloud::start(&pki).await;
    cloud.cloud.set_unbinding_code(SERIAL, "code-42").unwrap();
    let rig = Rig::start(&pki, Some(cloud.port)).await;
    cloud.registered().await;
    let name = format!("{OBJECT}UnbindingCode");
    assert_eq!(
        rig.control(Request::Set {
            values: vec![(name.clone(), "code-42".to_owned())],
        })
        .await,
        Response::Done
    );
    cloud
        .next(|kind| matches!(kind, CloudEventKind::Unbound).then_some(()))
        .await;
    assert_eq!(rig.get(&name).await, "", "write-only");
    assert!(!cloud.cloud.device(SERIAL).unwrap().bound);
}
