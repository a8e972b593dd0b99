//! Every captured CPE message replayed into the CWMP endpoint over HTTP: the vendor Informs
//! of `cwmp-samples/` (each registers its device, or gets a clean SOAP fault when unreadable),
//! and every other CPE message after a valid (CWMP 1.4) Inform in the same session (a CPE request gets
//! its response, a response out of turn ends the session with 204, an unreadable message gets
//! a fault). Never a 500, never a hang (each POST has a client timeout), and every envelope
//! the ACS answers validates against the CWMP schemas.

#[path = "server/support.rs"]
mod support;

use std::path::{Path, PathBuf};

use acs_sim::session::ACS_METHODS;
use acs_sim::store::DeviceId;
use http::StatusCode;
use schemas::testing::http_body;
use schemas::{Body, Envelope};
use support::{TestAcs, TestCpe, config, samples_dir};

/// One captured CPE message.
struct Capture {
    name: String,
    body: Vec<u8>,
}

/// What the files hold, sorted: (Informs, other CPE messages).
fn captures() -> (Vec<Capture>, Vec<Capture>) {
    let root = samples_dir();
    let mut files = Vec::new();
    for dir in ["cwmp_ex", "clj.tr069", "freeacs", "malformed"] {
        files.extend(list(&root.join(dir)));
    }
    for peer in list(&root.join("peers")) {
        files.extend(list(&peer));
    }
    // Captures of the ACS side (`NN-acs-...`, `acs-...` in malformed/) are not CPE messages.
    files.retain(|path| {
        let name = file_name(path);
        !(name.contains("-acs-") || name.starts_with("acs-") || name.ends_with(".md"))
    });
    files.sort();
    files
        .into_iter()
        .map(|path| Capture {
            name: path
                .strip_prefix(&root)
                .unwrap()
                .to_string_lossy()
                .into_owned(),
            body: http_body(&std::fs::read(&path).unwrap()),
        })
        .partition(|c| {
            file_name(Path::new(&c.name))
                .to_lowercase()
                .contains("inform")
        })
}

fn list(dir: &Path) -> Vec<PathBuf> {
    std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .collect()
}

fn file_name(path: &Path) -> String {
    path.file_name().unwrap().to_string_lossy().into_owned()
}

/// The answer the session owes a message sent right after the InformResponse: a CPE
/// request's response, 204 for an empty POST or a response out of turn, else a fault.
fn expected_after_inform(body: &[u8]) -> Expected {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Expected::NoContent;
    }
    match Envelope::parse(body) {
        Ok(envelope) if envelope.body.is_response() => Expected::NoContent,
        Ok(envelope) if ACS_METHODS.contains(&envelope.body.name()) => {
            Expected::Response(format!("{}Response", envelope.body.name()))
        }
        Ok(_) | Err(_) => Expected::Fault,
    }
}

#[derive(Debug, PartialEq)]
enum Expected {
    Response(String),
    NoContent,
    Fault,
}

fn answer_kind(answer: &support::Answer, file: &str) -> Expected {
    match answer.status {
        StatusCode::NO_CONTENT => Expected::NoContent,
        StatusCode::OK => match answer.envelope().body {
            Body::Fault(_) => Expected::Fault,
            other => Expected::Response(other.name().to_owned()),
        },
        other => panic!("{file}: answered {other}: {answer:?}"),
    }
}

#[tokio::test]
async fn every_captured_cpe_message_gets_a_clean_answer() {
    let (informs, others) = captures();
    assert!(informs.len() >= 10, "Informs missing: {}", informs.len());
    assert!(others.len() >= 20, "CPE messages missing: {}", others.len());
    let acs = TestAcs::start(config()).await;
    let mut received = Vec::new();

    let (mut registered, mut refused) = (Vec::new(), Vec::new());
    for capture in &informs {
        let mut cpe = acs.cpe();
        let answer = cpe.post(capture.body.clone()).await;
        let file = &capture.name;
        match Envelope::parse(&capture.body) {
            Ok(Envelope {
                body: Body::Inform(inform),
                ..
            }) => {
                assert_eq!(answer.name(), "InformResponse", "{file}");
                let id = &inform.device_id;
                let device = DeviceId::new(&id.oui, &id.product_class, &id.serial_number);
                assert!(
                    acs.store().device(&device).is_ok(),
                    "{file}: not registered"
                );
                assert_eq!(cpe.post("").await.status, StatusCode::NO_CONTENT, "{file}");
                registered.push(file.as_str());
            }
            _ => {
                assert_eq!(answer.fault_code(), 8003, "{file}");
                refused.push(file.as_str());
            }
        }
        received.append(&mut cpe.received);
    }

    // A CWMP 1.4 session: messages of later versions (AutonomousTransferComplete, from 1.1)
    // then get answers their namespace declares.
    let valid_inform = support::inform("REPLAY", schemas::rpc::EventCode::Periodic);
    let mut tally = std::collections::BTreeMap::<String, usize>::new();
    for capture in &others {
        let file = &capture.name;
        let mut cpe = acs.cpe();
        assert_eq!(
            cpe.post(valid_inform.clone()).await.name(),
            "InformResponse"
        );
        let answer = cpe.post(capture.body.clone()).await;
        let got = answer_kind(&answer, file);
        assert_eq!(got, expected_after_inform(&capture.body), "{file}");
        *tally.entry(format!("{got:?}")).or_default() += 1;
        // Whatever state the session is in, an empty POST ends it.
        assert_eq!(cpe.post("").await.status, StatusCode::NO_CONTENT, "{file}");
        received.append(&mut cpe.received);
    }
    assert_eq!(acs.endpoint.session_count(), 0, "every session ended");

    eprintln!(
        "replayed {} Informs ({} registered, {} refused with 8003: {refused:?}) and {} other \
         CPE messages {tally:?}",
        informs.len(),
        registered.len(),
        refused.len(),
        others.len(),
    );
    schemas::testing::validate_envelopes(&received);
    acs.stop().await;
}

/// A captured session in order, as genieacs-sim sends it, where the ACS's requests differ
/// from the stub's: every message gets an answer and the device ends up registered.
#[tokio::test]
async fn the_genieacs_sim_capture_replays_in_order_without_a_500() {
    let acs = TestAcs::start(config()).await;
    let dir = samples_dir().join("peers/genieacs-sim-cpe");
    let mut files: Vec<_> = list(&dir)
        .into_iter()
        .filter(|p| file_name(p).contains("-cpe-"))
        .collect();
    files.sort();
    let mut cpe = TestCpe::new(acs.addr);
    for path in &files {
        let answer = cpe.post(http_body(&std::fs::read(path).unwrap())).await;
        let file = file_name(path);
        assert!(
            matches!(answer.status, StatusCode::OK | StatusCode::NO_CONTENT),
            "{file}: {answer:?}"
        );
    }
    let first = http_body(&std::fs::read(&files[0]).unwrap());
    let Body::Inform(inform) = Envelope::parse(&first).unwrap().body else {
        panic!("the capture opens with an Inform");
    };
    let id = &inform.device_id;
    let device = DeviceId::new(&id.oui, &id.product_class, &id.serial_number);
    assert!(acs.store().device(&device).is_ok());
    cpe.validate();
    acs.stop().await;
}
