//! The jobs a scenario gives for an Inform, driven with fabricated CPE answers, and a whole
//! provisioning session against the CPE agent's session machine and data model.

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use schemas::rpc::types::{DeviceIdStruct, EventStruct, ParameterValueStruct, Status};
use schemas::rpc::{
    EventCode, Fault, FaultCode, GetParameterNamesResponse, GetParameterValuesResponse, Inform,
    SetParameterValuesFault, SetParameterValuesResponse, SoapFault,
};
use schemas::soap::{CwmpNamespace, CwmpVersion};
use schemas::value::Value;
use schemas::{Body, Envelope};

use super::Scenario;
use crate::acs::AcsConfig;
use crate::job::{Answer, Effects, Job, Step};
use crate::provision::{DeviceContext, model_root};
use crate::session::Informed;
use crate::store::{Device, DeviceId, InformSummary, MemoryStore, Store};

/// The lab's scenario file, as shipped.
fn lab_toml() -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios/lab.toml");
    std::fs::read_to_string(path).expect("scenarios/lab.toml")
}

const ACS2: &str = "http://127.0.0.1:7548/";

/// An Inform from a TR-181 gateway.
fn inform(events: &[EventCode], product_class: &str) -> Inform {
    Inform {
        device_id: DeviceIdStruct {
            manufacturer: "Example".into(),
            oui: "00D09E".into(),
            product_class: product_class.into(),
            serial_number: "SN-1".into(),
        },
        event: events.iter().cloned().map(EventStruct::new).collect(),
        max_envelopes: 1,
        parameter_list: vec![ParameterValueStruct::new(
            "Device.DeviceInfo.SoftwareVersion",
            "1.0",
        )],
        ..Inform::default()
    }
}

/// The genieacs-sim CPE's periodic Inform (a TR-098 `InternetGatewayDevice.` model).
fn captured_tr098_inform() -> Inform {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../shared/cwmp-samples/peers/genieacs-sim-cpe/01-cpe-Inform-2PERIODIC.txt");
    let raw = std::fs::read(path).expect("the captured Inform");
    let body = raw
        .windows(5)
        .position(|w| w == b"<?xml")
        .expect("an XML body");
    match Envelope::parse(&raw[body..])
        .expect("the capture parses")
        .body
    {
        Body::Inform(inform) => inform,
        other => panic!("{other:?}"),
    }
}

/// What a scenario sees of one Inform, with the device as the store registered it.
struct Informing {
    id: DeviceId,
    informed: Informed,
    device: Device,
    config: AcsConfig,
}

impl Informing {
    fn new(inform: Inform) -> Self {
        let store = MemoryStore::new();
        let id = store
            .record_inform(&InformSummary::from_inform(&inform, "1.4", 0))
            .unwrap();
        let device = store.device(&id).unwrap();
        Self {
            id,
            informed: Informed {
                inform,
                namespace: CwmpNamespace::V1_2,
                version: CwmpVersion::V1_4,
                timeout: Duration::from_secs(30),
            },
            device,
            config: AcsConfig::default(),
        }
    }

    fn context(&self) -> DeviceContext<'_> {
        DeviceContext {
            id: &self.id,
            informed: &self.informed,
            device: &self.device,
            root: model_root(&self.informed),
            config: &self.config,
        }
    }

    fn jobs(&self, scenario: &Scenario) -> Vec<Box<dyn Job>> {
        scenario.jobs(&self.context())
    }
}

fn labels(jobs: &[Box<dyn Job>]) -> Vec<String> {
    jobs.iter().map(|j| j.label()).collect()
}

/// One job run to its end: the requests it sent (each also checked against the CWMP schema),
/// its last step and its effects.
struct Run {
    sent: Vec<Body>,
    end: Step,
    effects: Effects,
}

fn run(job: &mut dyn Job, mut cpe: impl FnMut(&Body) -> Answer) -> Run {
    let mut effects = Effects::default();
    let mut sent = Vec::new();
    let mut step = job.step(None, &mut effects);
    while let Step::Send(request) = step {
        let answer = cpe(&request);
        sent.push(request);
        assert!(sent.len() < 100, "the job never ends");
        step = job.step(Some(answer), &mut effects);
    }
    let envelopes: Vec<Vec<u8>> = sent
        .iter()
        .enumerate()
        .map(|(i, body)| {
            Envelope::new(CwmpNamespace::V1_2, body.clone())
                .with_id(format!("acs-{i}"))
                .write()
        })
        .collect();
    schemas::testing::validate_envelopes(&envelopes);
    Run {
        sent,
        end: step,
        effects,
    }
}

/// A CPE that accepts everything: names under a path are `<path>A` and `<path>B`, every
/// value is `v`.
fn agreeable(request: &Body) -> Answer {
    Answer::Response(match request {
        Body::GetParameterNames(r) => GetParameterNamesResponse {
            parameter_list: ["A", "B"]
                .iter()
                .map(|leaf| schemas::rpc::types::ParameterInfoStruct {
                    name: format!("{}{leaf}", r.parameter_path),
                    writable: false,
                })
                .collect(),
        }
        .into(),
        Body::GetParameterValues(r) => GetParameterValuesResponse {
            parameter_list: r
                .parameter_names
                .iter()
                .map(|n| ParameterValueStruct::new(n.as_str(), "v"))
                .collect(),
        }
        .into(),
        Body::SetParameterValues(_) => SetParameterValuesResponse {
            status: Status::Applied,
        }
        .into(),
        other => panic!("unexpected request {other:?}"),
    })
}

fn spv_values(body: &Body) -> Vec<(String, Value)> {
    let Body::SetParameterValues(spv) = body else {
        panic!("{body:?}")
    };
    spv.parameter_list
        .iter()
        .map(|p| (p.name.clone(), p.value.clone()))
        .collect()
}

#[test]
fn the_lab_scenario_refreshes_sets_in_one_request_and_repoints_last() {
    let scenario = Scenario::from_toml_with(&lab_toml(), &[("acs2", ACS2)]).unwrap();
    let informing = Informing::new(inform(&[EventCode::Bootstrap], "HGW"));
    let mut jobs = informing.jobs(&scenario);
    assert_eq!(
        labels(&jobs),
        [
            "lab-bootstrap: refresh",
            "lab-bootstrap: setParameterValues",
            &format!("lab-bootstrap: re-point to {ACS2}"),
        ]
    );
    let refresh = run(jobs[0].as_mut(), agreeable);
    assert!(matches!(
        &refresh.sent[0],
        Body::GetParameterNames(r) if r.parameter_path == "Device.DeviceInfo." && !r.next_level
    ));
    assert_eq!(refresh.effects.parameters.len(), 2, "{:?}", refresh.effects);

    let set = run(jobs[1].as_mut(), agreeable);
    assert_eq!(set.sent.len(), 1, "one SetParameterValues for all values");
    let Body::SetParameterValues(spv) = &set.sent[0] else {
        panic!("{:?}", set.sent)
    };
    assert_eq!(spv.parameter_key.as_str(), "lab-bootstrap");
    let values = spv_values(&set.sent[0]);
    assert_eq!(
        values[..3],
        [
            (
                "Device.DeviceInfo.ProvisioningCode".to_owned(),
                Value::String("LAB".into())
            ),
            (
                "Device.ManagementServer.PeriodicInformEnable".to_owned(),
                Value::Boolean(true)
            ),
            (
                "Device.ManagementServer.PeriodicInformInterval".to_owned(),
                Value::UnsignedInt(300)
            ),
        ]
    );
    assert_eq!(
        values[3].0,
        "Device.ManagementServer.ConnectionRequestUsername"
    );
    assert_eq!(
        values[4].0,
        "Device.ManagementServer.ConnectionRequestPassword"
    );

    let repoint = run(jobs[2].as_mut(), agreeable);
    assert_eq!(
        spv_values(&repoint.sent[0]),
        [(
            "Device.ManagementServer.URL".to_owned(),
            Value::String(ACS2.into())
        )]
    );
    assert_eq!(repoint.end, Step::Done);
}

#[test]
fn the_module_docs_example_is_a_valid_scenario() {
    let docs: String = include_str!("mod.rs")
        .lines()
        .filter_map(|line| line.strip_prefix("//!"))
        .map(|line| format!("{}\n", line.strip_prefix(' ').unwrap_or(line)))
        .collect();
    let example = docs
        .split("```toml\n")
        .nth(1)
        .and_then(|rest| rest.split("```").next())
        .expect("a TOML example in the module docs");
    let vars = [("serial", "SN-1"), ("acs2", ACS2)];
    let scenario = Scenario::from_toml_with(example, &vars).unwrap();
    let mut jobs = Informing::new(inform(&[EventCode::Bootstrap], "HGW")).jobs(&scenario);
    for job in &mut jobs {
        assert_eq!(
            run(job.as_mut(), agreeable).end,
            Step::Done,
            "{}",
            job.label()
        );
    }
    assert_eq!(
        labels(&jobs),
        [
            "bootstrap: refresh",
            "bootstrap: setParameterValues",
            &format!("bootstrap: re-point to {ACS2}"),
        ]
    );
}

#[test]
fn the_lab_scenario_needs_the_second_acs_url() {
    let error = Scenario::from_toml(&lab_toml()).unwrap_err().to_string();
    assert_eq!(
        error,
        "rule 1 (\"lab-bootstrap\"): acs_url: unknown variable `{acs2}` in \"{acs2}\" \
         (no variables are defined)"
    );
}

#[test]
fn scenario_files_load_and_report_unreadable_ones() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("lab.toml");
    std::fs::write(&path, lab_toml()).unwrap();
    let scenario = Scenario::load_with(&path, &[("acs2", ACS2)]).unwrap();
    assert_eq!(scenario.rules.len(), 1);
    let missing = dir.path().join("missing.toml");
    let error = Scenario::load(&missing).unwrap_err().to_string();
    assert!(
        error.starts_with(&format!("cannot read scenario {}: ", missing.display())),
        "{error}"
    );
}

#[test]
fn rules_match_on_event_codes_and_device_identity() {
    let scenario = Scenario::from_toml(
        r#"
        [[rule]]
        name = "boot"
        on_event = ["0 BOOTSTRAP", "1 BOOT"]
        refresh = ["DeviceInfo."]

        [[rule]]
        name = "hgw"
        product_class = "HGW"
        oui = "00D09E"
        refresh = ["DeviceInfo."]

        [[rule]]
        name = "other-serial"
        serial = "SN-2"
        refresh = ["DeviceInfo."]
        "#,
    )
    .unwrap();
    let names = |events: &[EventCode], class: &str| {
        labels(&Informing::new(inform(events, class)).jobs(&scenario))
    };
    assert_eq!(
        names(&[EventCode::Periodic, EventCode::Boot], "HGW"),
        ["boot: refresh", "hgw: refresh"]
    );
    assert_eq!(names(&[EventCode::Periodic], "HGW"), ["hgw: refresh"]);
    assert_eq!(names(&[EventCode::Bootstrap], "ONT"), ["boot: refresh"]);
    assert!(names(&[EventCode::Periodic], "ONT").is_empty());
}

#[test]
fn relative_paths_follow_the_root_of_a_tr098_device() {
    let scenario = Scenario::from_toml(
        r#"
        [[rule]]
        name = "tr098"
        product_class = "BM632w"
        refresh = ["DeviceInfo.SoftwareVersion"]
        periodic_inform_interval = 600

        [rule.set]
        "DeviceInfo.ProvisioningCode" = "LAB"
        "Device.DeviceInfo.X_Vendor" = 7
        "#,
    )
    .unwrap();
    let informing = Informing::new(captured_tr098_inform());
    let mut jobs = informing.jobs(&scenario);
    let refresh = run(jobs[0].as_mut(), agreeable);
    assert!(matches!(
        &refresh.sent[..],
        [Body::GetParameterValues(r)]
            if r.parameter_names == ["InternetGatewayDevice.DeviceInfo.SoftwareVersion"]
    ));
    let set = run(jobs[1].as_mut(), agreeable);
    let names: Vec<String> = spv_values(&set.sent[0])
        .into_iter()
        .map(|(n, _)| n)
        .collect();
    assert_eq!(
        names,
        [
            "Device.DeviceInfo.X_Vendor",
            "InternetGatewayDevice.DeviceInfo.ProvisioningCode",
            "InternetGatewayDevice.ManagementServer.PeriodicInformEnable",
            "InternetGatewayDevice.ManagementServer.PeriodicInformInterval",
        ]
    );
}

#[test]
fn partial_paths_go_straight_into_gpv_when_the_acs_is_configured_so() {
    let scenario =
        Scenario::from_toml("[[rule]]\nname = \"r\"\nrefresh = [\"DeviceInfo.\"]\n").unwrap();
    let mut informing = Informing::new(inform(&[EventCode::Periodic], "HGW"));
    informing.config.partial_path_gpv = true;
    let mut jobs = informing.jobs(&scenario);
    let refresh = run(jobs[0].as_mut(), agreeable);
    assert!(matches!(
        &refresh.sent[..],
        [Body::GetParameterValues(r)] if r.parameter_names == ["Device.DeviceInfo."]
    ));
}

#[test]
fn partial_paths_go_straight_into_gpv_for_a_device_tagged_so_and_not_for_others() {
    let scenario =
        Scenario::from_toml("[[rule]]\nname = \"r\"\nrefresh = [\"DeviceInfo.\"]\n").unwrap();
    let mut informing = Informing::new(inform(&[EventCode::Periodic], "HGW"));
    let first = |informing: &Informing| {
        let mut jobs = informing.jobs(&scenario);
        run(jobs[0].as_mut(), agreeable).sent.remove(0)
    };
    assert!(matches!(first(&informing), Body::GetParameterNames(_)));
    informing
        .device
        .tags
        .insert(crate::provision::PARTIAL_PATH_TAG.to_owned());
    assert!(matches!(
        first(&informing),
        Body::GetParameterValues(r) if r.parameter_names == ["Device.DeviceInfo."]
    ));
}

#[test]
fn the_last_matching_acs_url_repoints_once_after_every_rule() {
    let scenario = Scenario::from_toml(
        r#"
        [[rule]]
        name = "first"
        acs_url = "http://first/"
        [rule.set]
        "DeviceInfo.ProvisioningCode" = "A"

        [[rule]]
        name = "second"
        acs_url = "https://second/"
        [rule.set]
        "DeviceInfo.ProvisioningCode" = "B"
        "#,
    )
    .unwrap();
    let jobs = Informing::new(inform(&[EventCode::Periodic], "HGW")).jobs(&scenario);
    assert_eq!(
        labels(&jobs),
        [
            "first: setParameterValues",
            "second: setParameterValues",
            "second: re-point to https://second/",
        ]
    );
}

#[test]
fn an_accepted_set_records_its_values_and_the_provisioned_credentials() {
    let scenario = Scenario::from_toml(
        r#"
        [[rule]]
        name = "creds"
        connection_request_credentials = { username = "cr-user", password = "cr-pass" }
        [rule.set]
        "DeviceInfo.ProvisioningCode" = "LAB"
        "#,
    )
    .unwrap();
    let mut jobs = Informing::new(inform(&[EventCode::Periodic], "HGW")).jobs(&scenario);
    let set = run(jobs[0].as_mut(), agreeable);
    assert_eq!(set.end, Step::Done);
    let recorded: Vec<(&str, &str, &str)> = set
        .effects
        .parameters
        .iter()
        .map(|p| (&*p.name, &*p.value, &*p.xsd_type))
        .collect();
    assert_eq!(
        recorded,
        [
            ("Device.DeviceInfo.ProvisioningCode", "LAB", "xsd:string"),
            (
                "Device.ManagementServer.ConnectionRequestUsername",
                "cr-user",
                "xsd:string"
            ),
            // Hidden in TR-181: it reads back empty, so the store keeps it empty.
            (
                "Device.ManagementServer.ConnectionRequestPassword",
                "",
                "xsd:string"
            ),
        ]
    );
    let credentials = set.effects.credentials.expect("credentials provisioned");
    assert_eq!(
        (&*credentials.username, &*credentials.password),
        ("cr-user", "cr-pass")
    );
}

#[test]
fn random_credentials_are_fresh_each_session_and_the_ones_sent() {
    let scenario = Scenario::from_toml(
        "[[rule]]\nname = \"r\"\nconnection_request_credentials = \"random\"\n",
    )
    .unwrap();
    let informing = Informing::new(inform(&[EventCode::Periodic], "HGW"));
    let mut sessions = (0..2).map(|_| {
        let mut jobs = informing.jobs(&scenario);
        let set = run(jobs[0].as_mut(), agreeable);
        let credentials = set.effects.credentials.expect("credentials");
        let sent: Vec<String> = spv_values(&set.sent[0])
            .into_iter()
            .map(|(_, v)| v.to_string())
            .collect();
        assert_eq!(
            sent,
            [credentials.username.clone(), credentials.password.clone()]
        );
        assert_eq!(credentials.username.len(), 16);
        credentials
    });
    assert_ne!(sessions.next(), sessions.next());
}

#[test]
fn a_cpe_fault_fails_the_set_and_records_nothing() {
    let scenario = Scenario::from_toml(
        r#"
        [[rule]]
        name = "r"
        connection_request_credentials = "random"
        [rule.set]
        "DeviceInfo.ProvisioningCode" = "LAB"
        "#,
    )
    .unwrap();
    let mut jobs = Informing::new(inform(&[EventCode::Periodic], "HGW")).jobs(&scenario);
    let fault = SoapFault::from(Fault {
        set_parameter_values_fault: vec![SetParameterValuesFault {
            parameter_name: "Device.DeviceInfo.ProvisioningCode".into(),
            fault_code: FaultCode::from_code(9008),
            fault_string: "read-only here".into(),
        }],
        ..Fault::new(FaultCode::from_code(9003))
    });
    let set = run(jobs[0].as_mut(), |_| Answer::Fault(fault.clone()));
    let Step::Failed(failure) = set.end else {
        panic!("{:?}", set.end)
    };
    assert_eq!(failure.code, "cwmp.9003");
    assert_eq!(
        failure.detail["setParameterValuesFault"][0]["faultCode"],
        "9008"
    );
    assert_eq!(set.effects, Effects::default());
}

#[test]
fn a_response_of_the_wrong_type_fails_the_job() {
    let scenario = Scenario::from_toml(
        "[[rule]]\nname = \"r\"\nperiodic_inform_interval = 60\nrefresh = [\"DeviceInfo.\"]\n",
    )
    .unwrap();
    let mut jobs = Informing::new(inform(&[EventCode::Periodic], "HGW")).jobs(&scenario);
    let wrong = |_: &Body| {
        Answer::Response(
            GetParameterValuesResponse {
                parameter_list: Vec::new(),
            }
            .into(),
        )
    };
    for job in &mut jobs {
        let ran = run(job.as_mut(), wrong);
        let Step::Failed(failure) = ran.end else {
            panic!("{:?}", ran.end)
        };
        assert_eq!(failure.code, "invalid_response", "{}", job.label());
        assert_eq!(ran.effects, Effects::default());
    }
}

/// The ACS session, provisioner and store against the CPE agent's session machine and
/// data model, in memory: the lab scenario's bootstrap session from first Inform to close.
#[test]
fn the_lab_scenario_provisions_a_cpe_agent_end_to_end() {
    use crate::acs::Acs;
    use crate::files::FileStore;
    use crate::provision::Provisioner;
    use crate::session::{Reply, Session as AcsSession};
    use cpe::model::{DataModel, Profile};
    use cpe::session::{Session as CpeSession, SessionConfig, SessionEvent, Transmit};

    let files = tempfile::tempdir().unwrap();
    let store = Arc::new(MemoryStore::new());
    let config = AcsConfig {
        connreq: crate::acs::ConnReqConfig {
            provision: false,
            ..Default::default()
        },
        ..AcsConfig::default()
    };
    let scenario = Scenario::from_toml_with(&lab_toml(), &[("acs2", ACS2)]).unwrap();
    let acs = Acs::new(
        store.clone(),
        config.clone(),
        scenario,
        FileStore::new(files.path()).unwrap(),
    );
    let mut model = DataModel::new(Arc::new(Profile::default_gateway()));
    let mut now = Instant::now();
    let informing = Inform {
        parameter_list: model.inform_parameters(&[]),
        ..inform(&[EventCode::Bootstrap], "HGW")
    };
    let mut cpe = CpeSession::new(SessionConfig::new(informing), now);
    let mut session = AcsSession::new(config.session.clone(), now);
    let mut provisioner = Provisioner::new(acs);
    let mut replies = Vec::new();
    while let Some(transmit) = cpe.poll_transmit() {
        now += Duration::from_millis(1);
        let body = match transmit {
            Transmit::Envelope(bytes) => bytes,
            Transmit::Empty => Vec::new(),
        };
        session.handle_request(&body, now);
        provisioner.drive(&mut session, now);
        let (status, reply) = match session.poll_transmit().expect("an answer to every POST") {
            Reply::Envelope(bytes) => (200, bytes),
            Reply::NoContent => (204, Vec::new()),
        };
        cpe.handle_response(status, &reply, now);
        replies.push(reply);
        while let Some(event) = cpe.poll_event() {
            if let SessionEvent::Request(request) = event {
                let answer = cpe::rpc::handle(&mut model, &request).expect("a parameter method");
                cpe.respond(answer, now);
            }
        }
        assert!(replies.len() < 50, "the session never ends");
    }
    provisioner.drive(&mut session, now);
    assert!(cpe.is_closed() && session.is_closed());
    schemas::testing::validate_envelopes(&replies);

    let value = |name: &str| model.value(name).unwrap().to_string();
    assert_eq!(value("Device.ManagementServer.URL"), ACS2);
    assert_eq!(
        value("Device.ManagementServer.PeriodicInformInterval"),
        "300"
    );
    assert_eq!(
        value("Device.ManagementServer.PeriodicInformEnable"),
        "true"
    );
    assert_eq!(value("Device.DeviceInfo.ProvisioningCode"), "LAB");
    assert_eq!(model.parameter_key(), "lab-bootstrap");

    let device = store.device(provisioner.device().unwrap()).unwrap();
    let credentials = device.credentials.expect("the store knows the credentials");
    assert_eq!(
        value("Device.ManagementServer.ConnectionRequestUsername"),
        credentials.username
    );
    let stored = |name: &str| device.parameters.get(name).map(|p| p.value.clone());
    assert_eq!(stored("Device.ManagementServer.URL").as_deref(), Some(ACS2));
    assert_eq!(
        stored("Device.DeviceInfo.ModelName").as_deref(),
        Some(&*value("Device.DeviceInfo.ModelName")),
        "the refresh read DeviceInfo. (ModelName is not in the Inform)"
    );
}
