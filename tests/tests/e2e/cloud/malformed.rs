//! Malformed frames from the cloud on the main link: each is counted where
//! [`FrameError::counted_as`](schemas::tunnel::FrameError::counted_as) says (a report failure
//! with the link kept, or the tunnel down and registered again), and nothing panics.

use std::time::Duration;

use cpe::cloud::{Backoff, Event, Link, SendRefused};
use schemas::tunnel::{
    CloudMessage, ConnectionState, Counted, DeviceMessage, DownReason, MAX_FRAME, ReportFailure,
    ReportFailureReason,
};

use super::{Device, Pki, SERIAL, Server, config, main_link_answers};

/// Frames that are not JSON objects, and JSON objects that break the schema of every cloud
/// message.
const CORPUS: &[&str] = &[
    // Not JSON, or not an object: "Failed to convert string to json".
    "{not json",
    "",
    r#"{"optType":2,"#,
    r#"{"optType":2} trailing"#,
    "[1,2]",
    r#""optType""#,
    "null",
    r#"{"optType":2,"optType":2,"retCode":0}"#,
    // Objects that break the schema: "Packet processing failed".
    r#"{"retCode":0}"#,
    r#"{"optType":7,"retCode":0}"#,
    r#"{"optType":11}"#,
    r#"{"optType":-1}"#,
    r#"{"optType":"2","retCode":0}"#,
    r#"{"optType":2.0,"retCode":0}"#,
    r#"{"optType":101}"#,
    r#"{"optType":2}"#,
    r#"{"optType":2,"retCode":null}"#,
    r#"{"optType":2,"retCode":-1}"#,
    r#"{"optType":2,"retCode":0,"extra":true}"#,
    r#"{"optType":104,"seqNumber":4294967296}"#,
    r#"{"optType":3,"seqNumber":1}"#,
    r#"{"optType":102,"retCode":0,"services":"confmgr"}"#,
];

/// Sends `text` on the main link and checks that the driver counts it as `counted`.
async fn counted(server: &Server, device: &mut Device, text: String, counted: Counted) {
    // A message on a link that does not exist is refused with another reason first, so the
    // report failure read below is this frame's.
    let invalid = ReportFailure::from(ReportFailureReason::TunnelSocketIsInvalid);
    assert_eq!(
        device
            .client
            .send(Link::Service(7), DeviceMessage::Ping)
            .await,
        Err(SendRefused::Refused(invalid))
    );
    let shown: String = text.chars().take(60).collect();
    assert!(server.cloud.send_raw(SERIAL, text).await, "{shown}");
    match counted {
        Counted::ReportFailure(reason) => {
            // Frames keep their order on the link: once the next exchange is through, the
            // malformed frame was read, and the link stayed up.
            main_link_answers(server, device).await;
            let status = device.status().await;
            assert_eq!(
                status.last_report_failure.map(|(r, _)| r),
                Some(reason.into()),
                "{shown}"
            );
            assert_eq!(status.connection_state, ConnectionState::Established);
        }
        Counted::Down(reason) => {
            let events = device.until(|e| *e == Event::Established).await;
            assert_eq!(events, [Event::Down(reason), Event::Established], "{shown}");
            let status = device.status().await;
            assert_eq!(status.last_down.map(|(r, _)| r), Some(reason), "{shown}");
        }
    }
}

#[tokio::test]
async fn malformed_frames_are_counted_and_the_link_kept_or_registered_again() {
    let pki = Pki::new();
    let server = Server::start(&pki).await;
    let mut config = config(&pki, "127.0.0.1", server.port(), &[]);
    config.tunnel.backoff = Backoff {
        initial: Duration::from_millis(20),
        max: Duration::from_millis(100),
    };
    let mut device = Device::spawn(config);
    device.expect_event(Event::Established).await;

    let (mut kept, mut dropped) = (0, 0);
    for text in CORPUS {
        let error = CloudMessage::decode(text).expect_err(text);
        let expected = error.counted_as();
        match expected {
            Counted::ReportFailure(_) => kept += 1,
            Counted::Down(_) => dropped += 1,
        }
        counted(&server, &mut device, (*text).to_owned(), expected).await;
    }
    assert_eq!((kept, dropped), (8, 14));

    // Larger than the WebSocket layer reads: "Memory reached threshold".
    let huge = format!(r#"{{"pad":"{}"}}"#, "x".repeat(MAX_FRAME));
    let reason = Counted::Down(DownReason::MemoryReachedThreshold);
    counted(&server, &mut device, huge, reason).await;

    let view = server.cloud.device(SERIAL).expect("device");
    assert_eq!(view.registrations, 1 + 14 + 1);
}
