//! The CPE's and the ACS's session machines joined in memory, no sockets: each POST body the
//! CPE session emits is handed to the ACS session and each reply back (ARCHITECTURE: "one
//! session machine serves the real agent, every fleet member and the in-memory test pair").

use std::time::{Duration, Instant};

use acs_sim::session::{
    Reply, Session as AcsSession, SessionConfig as AcsConfig, SessionEvent as AcsEvent,
};
use cpe::session::{Session as CpeSession, SessionConfig, SessionEvent, Transmit};
use schemas::Body;
use schemas::rpc::types::{DeviceIdStruct, EventStruct, ParameterValueStruct};
use schemas::rpc::*;
use schemas::soap::CwmpVersion;

fn inform() -> Inform {
    Inform {
        device_id: DeviceIdStruct {
            manufacturer: "Example".into(),
            oui: "00D09E".into(),
            product_class: "HGW".into(),
            serial_number: "SN-PAIR".into(),
        },
        event: vec![EventStruct::new(EventCode::Bootstrap)],
        max_envelopes: 1,
        ..Inform::default()
    }
}

#[test]
fn a_cpe_session_and_an_acs_session_complete_a_provisioning_exchange() {
    let mut now = Instant::now();
    let mut cpe = CpeSession::new(SessionConfig::new(inform()), now);
    let mut acs = AcsSession::new(AcsConfig::default(), now);
    let mut informed = None;
    let mut answer = None;
    for _ in 0..20 {
        now += Duration::from_millis(1);
        let Some(transmit) = cpe.poll_transmit() else {
            break;
        };
        let body = match transmit {
            Transmit::Envelope(bytes) => bytes,
            Transmit::Empty => Vec::new(),
        };
        acs.handle_request(&body, now);
        while let Some(event) = acs.poll_event() {
            match event {
                AcsEvent::Informed(i) => {
                    informed = Some(i.version);
                    let gpv = GetParameterValues {
                        parameter_names: vec!["Device.DeviceInfo.SerialNumber".into()],
                    };
                    acs.request(Body::from(gpv), now).unwrap();
                    acs.finish(now);
                }
                AcsEvent::Response { body, .. } => answer = Some(body),
                _ => {}
            }
        }
        let (status, reply) = match acs.poll_transmit().expect("the ACS answers every POST") {
            Reply::Envelope(bytes) => (200, bytes),
            Reply::NoContent => (204, Vec::new()),
        };
        cpe.handle_response(status, &reply, now);
        while let Some(event) = cpe.poll_event() {
            if let SessionEvent::Request(Body::GetParameterValues(r)) = event {
                let list = r
                    .parameter_names
                    .iter()
                    .map(|n| ParameterValueStruct::new(n.as_str(), "SN-PAIR"))
                    .collect();
                cpe.respond(
                    GetParameterValuesResponse {
                        parameter_list: list,
                    },
                    now,
                );
            }
        }
    }
    assert!(cpe.is_closed() && acs.is_closed());
    assert_eq!(informed, Some(CwmpVersion::V1_4), "both sides speak 1.4");
    assert_eq!(cpe.version(), CwmpVersion::V1_4);
    let Some(Body::GetParameterValuesResponse(r)) = answer else {
        panic!("{answer:?}")
    };
    assert_eq!(r.parameter_list[0].value.to_string(), "SN-PAIR");
}
