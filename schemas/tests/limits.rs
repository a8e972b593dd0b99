//! Each limit and each refusal gives its own typed error, naming what was wrong.

use schemas::{Envelope, Limits, SoapError};

fn envelope(body: &str) -> Vec<u8> {
    format!(
        "<s:Envelope xmlns:s=\"http://schemas.xmlsoap.org/soap/envelope/\" \
         xmlns:c=\"urn:dslforum-org:cwmp-1-2\"><s:Body>{body}</s:Body></s:Envelope>"
    )
    .into_bytes()
}

fn parse(bytes: &[u8]) -> SoapError {
    Envelope::parse(bytes).expect_err("must be refused")
}

#[test]
fn oversized_body_is_refused_before_reading() {
    let limits = Limits {
        max_body_bytes: 100,
        ..Limits::DEFAULT
    };
    let err = Envelope::parse_with(&[b' '; 101], &limits).unwrap_err();
    assert_eq!(err, SoapError::TooLarge { max: 100, len: 101 });
}

#[test]
fn nesting_beyond_the_depth_limit_is_refused() {
    let deep = format!(
        "<c:Reboot>{}{}</c:Reboot>",
        "<x>".repeat(40),
        "</x>".repeat(40)
    );
    assert_eq!(parse(&envelope(&deep)), SoapError::TooDeep { max: 32 });
}

#[test]
fn more_than_64_events_is_refused() {
    let events = "<EventStruct><EventCode>1 BOOT</EventCode></EventStruct>".repeat(65);
    let err = parse(&envelope(&format!(
        "<c:Inform><Event>{events}</Event></c:Inform>"
    )));
    assert_eq!(
        err,
        SoapError::TooMany {
            element: "Event".into(),
            max: 64
        }
    );
}

#[test]
fn lists_longer_than_the_limit_are_refused() {
    let names = "<string>Device.</string>".repeat(11);
    let body = format!(
        "<c:GetParameterValues><ParameterNames>{names}</ParameterNames></c:GetParameterValues>"
    );
    let limits = Limits {
        max_list_len: 10,
        ..Limits::DEFAULT
    };
    let err = Envelope::parse_with(&envelope(&body), &limits).unwrap_err();
    assert_eq!(
        err,
        SoapError::TooMany {
            element: "ParameterNames".into(),
            max: 10
        }
    );
}

#[test]
fn strings_longer_than_their_schema_allows_are_refused() {
    let key = "k".repeat(33);
    let body = format!("<c:Reboot><CommandKey>{key}</CommandKey></c:Reboot>");
    // The default tolerates what real ACSes send (up to 4 x 32) ...
    assert!(Envelope::parse(&envelope(&body)).is_ok());
    // ... the strict limits do not.
    let err = Envelope::parse_with(&envelope(&body), &Limits::STRICT).unwrap_err();
    assert_eq!(
        err,
        SoapError::TooLong {
            element: "CommandKey".into(),
            max: 32,
            len: 33
        }
    );
    let long = "k".repeat(129);
    let err = parse(&envelope(&format!(
        "<c:Reboot><CommandKey>{long}</CommandKey></c:Reboot>"
    )));
    assert!(
        matches!(err, SoapError::TooLong { max: 128, .. }),
        "{err:?}"
    );
}

#[test]
fn doctype_and_unknown_entities_are_refused() {
    let xxe = b"<!DOCTYPE s [<!ENTITY x SYSTEM \"file:///etc/passwd\">]><s:Envelope/>";
    assert_eq!(parse(xxe), SoapError::DtdRefused);
    let body = "<c:Reboot><CommandKey>&x;</CommandKey></c:Reboot>";
    assert_eq!(parse(&envelope(body)), SoapError::UnknownEntity("x".into()));
}

#[test]
fn too_many_namespace_bindings_are_refused() {
    let decls: String = (0..100)
        .map(|i| format!(" xmlns:p{i}=\"urn:x{i}\""))
        .collect();
    let err = parse(&envelope(&format!("<c:Reboot{decls}/>")));
    assert_eq!(err, SoapError::TooManyNamespaces { max: 64 });
}

#[test]
fn non_utf8_is_refused_near_where_it_is() {
    let mut bytes = envelope("<c:Reboot><CommandKey>key</CommandKey></c:Reboot>");
    let bad = bytes.windows(3).position(|w| w == b"key").unwrap() + 1;
    bytes[bad] = 0xFF;
    let SoapError::NotUtf8 { position } = parse(&bytes) else {
        panic!()
    };
    // Reported where the reader stood: just past the text that holds it.
    assert!(
        (bad as u64..bad as u64 + 8).contains(&position),
        "{position} vs {bad}"
    );
}

#[test]
fn a_missing_or_empty_body_is_named() {
    let no_body = b"<s:Envelope xmlns:s=\"http://schemas.xmlsoap.org/soap/envelope/\"/>";
    assert_eq!(parse(no_body), SoapError::MissingBody);
    assert_eq!(parse(&envelope("")), SoapError::EmptyBody);
}

#[test]
fn a_message_in_a_foreign_namespace_is_not_taken_for_cwmp() {
    let err = parse(&envelope("<e:Inform xmlns:e=\"urn:evil\"/>"));
    assert_eq!(
        err,
        SoapError::UnknownMessage {
            name: "Inform".into(),
            namespace: "urn:evil".into()
        }
    );
    let err = parse(&envelope("<c:Infrom/>"));
    assert!(matches!(err, SoapError::UnknownMessage { .. }), "{err}");
    let not_soap = b"<s:Envelope xmlns:s=\"urn:not-soap\"><s:Body/></s:Envelope>";
    assert!(matches!(parse(not_soap), SoapError::NotSoapEnvelope { .. }));
}

#[test]
fn a_bad_number_names_its_element_and_type() {
    let err = parse(&envelope(
        "<c:ScheduleInform><DelaySeconds>-5</DelaySeconds></c:ScheduleInform>",
    ));
    assert_eq!(
        err.to_string(),
        "`DelaySeconds` holds `-5`, which is not a valid unsignedInt"
    );
}

#[test]
fn truncated_input_is_an_error_not_a_hang() {
    let full = envelope("<c:Reboot><CommandKey>k</CommandKey></c:Reboot>");
    for cut in 0..full.len() {
        assert!(Envelope::parse(&full[..cut]).is_err(), "cut at {cut}");
    }
}
