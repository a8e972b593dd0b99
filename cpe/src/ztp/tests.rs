//! The precedence table, sans-IO.

use super::hook::{self, Client, HookError};
use super::*;

const A: &str = "http://acs-a.example:7547/acs";
const B: &str = "http://acs-b.example:7547/acs";

fn url_intake(url: &str) -> Intake {
    Intake {
        url: Some(url.to_owned()),
        ..Intake::default()
    }
}

fn current<'a>(
    url: Option<&'a str>,
    url_source: Option<Source>,
    provenance: &'a Provenance,
) -> Current<'a> {
    Current {
        url,
        url_source,
        credentials_source: None,
        provenance,
        cloud_object: None,
    }
}

#[test]
fn the_url_table() {
    let none = Provenance::default();
    // (URL in use, its source, DHCP's URL) -> what happens.
    let table: &[(Option<&str>, Option<Source>, &str, UrlChange)] = &[
        (None, None, A, UrlChange::Apply(A.into())),
        (Some(A), Some(Source::Dhcp), A, UrlChange::Unchanged),
        (Some(A), Some(Source::Dhcp), B, UrlChange::Apply(B.into())),
        (
            Some(A),
            Some(Source::Profile),
            B,
            UrlChange::Apply(B.into()),
        ),
        (
            Some(A),
            Some(Source::Default),
            B,
            UrlChange::Apply(B.into()),
        ),
        (Some(A), Some(Source::Acs), B, UrlChange::Kept(Source::Acs)),
        (Some(A), Some(Source::Cli), B, UrlChange::Kept(Source::Cli)),
        (
            Some(A),
            Some(Source::Config),
            B,
            UrlChange::Kept(Source::Config),
        ),
        (Some(A), Some(Source::Acs), A, UrlChange::Unchanged),
    ];
    for (url, source, dhcp, expected) in table {
        let plan = plan(&url_intake(dhcp), current(*url, *source, &none));
        assert_eq!(&plan.url, expected, "{url:?} from {source:?}, DHCP {dhcp}");
        assert_eq!(
            plan.values.iter().any(|(n, _)| n == URL),
            matches!(expected, UrlChange::Apply(_)),
            "{plan:?}"
        );
        assert_eq!(plan.changes_url(), matches!(expected, UrlChange::Apply(_)));
    }
}

#[test]
fn no_url_in_the_lease_leaves_the_url_alone() {
    let none = Provenance::default();
    let intake = Intake {
        provisioning_code: Some("PC".into()),
        ..Intake::default()
    };
    let plan = plan(&intake, current(Some(A), Some(Source::Dhcp), &none));
    assert_eq!(plan.url, UrlChange::Unchanged);
    assert_eq!(
        plan.values,
        vec![(PROVISIONING_CODE.to_owned(), Value::String("PC".into()))]
    );
}

#[test]
fn h3c_credentials_follow_the_credentials_precedence() {
    let none = Provenance::default();
    let intake = Intake {
        url: Some(A.into()),
        username: Some("1234".into()),
        password: None,
        ..Intake::default()
    };
    for (source, applied) in [
        (None, true),
        (Some(Source::Dhcp), true),
        (Some(Source::Config), false),
        (Some(Source::Acs), false),
        (Some(Source::Cli), false),
    ] {
        let plan = plan(
            &intake,
            Current {
                credentials_source: source,
                ..current(None, None, &none)
            },
        );
        assert_eq!(plan.credentials, applied, "{source:?}");
        if applied {
            assert!(
                plan.values
                    .contains(&(USERNAME.into(), Value::String("1234".into())))
            );
            // A missing third token is an empty password.
            assert!(
                plan.values
                    .contains(&(PASSWORD.into(), Value::String(String::new())))
            );
        } else {
            assert_eq!(plan.kept, vec![(USERNAME.to_owned(), source.unwrap())]);
        }
    }
}

#[test]
fn tracked_values_hold_when_the_acs_or_cli_set_them() {
    let intake = Intake {
        provisioning_code: Some("PC".into()),
        retry_min_wait: Some(7),
        retry_multiplier: Some(3000),
        cloud: Cloud {
            domain: Some("cloud.example".into()),
            port: Some(8443),
            ..Cloud::default()
        },
        ..Intake::default()
    };
    let mut provenance = Provenance::default();
    provenance
        .values
        .insert(PROVISIONING_CODE.into(), Source::Acs);
    provenance.values.insert(RETRY_MIN_WAIT.into(), Source::Cli);
    provenance
        .values
        .insert(RETRY_MULTIPLIER.into(), Source::Dhcp);
    let object = "Device.X_EXAMPLE_CloudManagement.";
    let plan = plan(
        &intake,
        Current {
            cloud_object: Some(object),
            ..current(None, None, &provenance)
        },
    );
    assert_eq!(
        plan.kept,
        vec![
            (PROVISIONING_CODE.to_owned(), Source::Acs),
            (RETRY_MIN_WAIT.to_owned(), Source::Cli),
        ]
    );
    assert_eq!(
        plan.values,
        vec![
            (RETRY_MULTIPLIER.to_owned(), Value::UnsignedInt(3000)),
            (
                format!("{object}ServerDomain"),
                Value::String("cloud.example".into())
            ),
            (format!("{object}ServerPort"), Value::UnsignedInt(8443)),
        ]
    );
    assert_eq!(plan.cloud, Some(intake.cloud.clone()));

    let mut after = provenance.clone();
    record(&mut after, &intake, &plan);
    assert_eq!(after.values[PROVISIONING_CODE], Source::Acs);
    assert_eq!(after.values[RETRY_MULTIPLIER], Source::Dhcp);
    assert_eq!(after.values[&format!("{object}ServerDomain")], Source::Dhcp);
    assert_eq!(after.cloud, Some(intake.cloud));
}

#[test]
fn without_a_cloud_object_the_cloud_server_is_only_remembered() {
    let intake = Intake {
        cloud: Cloud {
            domain: Some("cloud.example".into()),
            ..Cloud::default()
        },
        ..Intake::default()
    };
    let none = Provenance::default();
    let plan = plan(&intake, current(None, None, &none));
    assert!(plan.values.is_empty());
    let mut after = Provenance::default();
    record(&mut after, &intake, &plan);
    assert_eq!(
        after.cloud.unwrap().domain.as_deref(),
        Some("cloud.example")
    );
}

#[test]
fn the_dhcp_url_is_remembered_even_when_it_is_beaten() {
    let none = Provenance::default();
    let intake = url_intake(B);
    let plan = plan(&intake, current(Some(A), Some(Source::Acs), &none));
    let mut after = Provenance::default();
    record(&mut after, &intake, &plan);
    assert_eq!(after.dhcp_url.as_deref(), Some(B));
    assert!(
        after.values.is_empty(),
        "the URL's source is the agent state's"
    );
}

#[test]
fn sources_order_and_names() {
    assert!(Source::yields_to_dhcp(None));
    for source in [Source::Default, Source::Profile, Source::Dhcp] {
        assert!(Source::yields_to_dhcp(Some(source)));
    }
    for source in [Source::Config, Source::Cli, Source::Acs] {
        assert!(!Source::yields_to_dhcp(Some(source)));
    }
    assert_eq!(serde_json::to_string(&Source::Cli).unwrap(), "\"cli\"");
    assert_eq!(Source::Profile.to_string(), "profile");
}

#[test]
fn tracked_parameters_and_the_cloud_object() {
    assert!(is_tracked(PROVISIONING_CODE));
    assert!(is_tracked("Device.X_EXAMPLE_CloudManagement.ServerPort"));
    assert!(!is_tracked("Device.X_EXAMPLE_CloudManagement.Enable"));
    assert!(!is_tracked(URL));
    assert_eq!(
        cloud_object(["Device.DeviceInfo.", "Device.X_ACME_CloudManagement."]),
        Some("Device.X_ACME_CloudManagement.")
    );
    assert_eq!(cloud_object(["Device.DeviceInfo."]), None);
}

#[test]
fn an_unusable_url_is_refused_before_anything_is_applied() {
    let err = url_intake("ftp://acs.example/").check().unwrap_err();
    assert!(matches!(err, IntakeError::Url { .. }), "{err}");
    assert!(err.to_string().contains("sub-option 1"), "{err}");
}

#[test]
fn the_password_stays_out_of_debug_output() {
    let intake = Intake {
        password: Some("s3cret".into()),
        ..Intake::default()
    };
    assert!(!format!("{intake:?}").contains("s3cret"));
}

// ---------------------------------------------------------------------------------------
// The hook's reading of the DHCP client's call.

fn env(vars: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
    let vars: Vec<(String, String)> = vars
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    move |name| vars.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone())
}

/// `http://169.254.76.31:7547/acs 1234 5678` (PROTOCOL.md §4.2).
const H3C: &str =
    "0127687474703a2f2f3136392e3235342e37362e33313a373534372f61637320313233342035363738";

#[test]
fn udhcpc_bound_and_renew_carry_opt43() {
    for event in ["bound", "renew"] {
        let call = hook::read_call(Some(event), env(&[("opt43", H3C)])).unwrap();
        assert_eq!(call.client, Client::Udhcpc);
        assert!(call.lease);
        let intake = hook::decode(&call).unwrap().unwrap();
        assert_eq!(intake.url.as_deref(), Some("http://169.254.76.31:7547/acs"));
        assert_eq!(intake.username.as_deref(), Some("1234"));
        assert_eq!(intake.password.as_deref(), Some("5678"));
    }
    for event in ["deconfig", "leasefail", "nak"] {
        let call = hook::read_call(Some(event), env(&[("opt43", H3C)])).unwrap();
        assert!(!call.lease, "{event}");
        assert_eq!(call.option43, None);
    }
}

#[test]
fn dhclient_reasons_and_colon_hex() {
    let colon = schemas::dhcp::hex::colon_separated(&schemas::dhcp::hex::parse(H3C).unwrap());
    for reason in ["BOUND", "RENEW", "REBIND", "REBOOT"] {
        let call = hook::read_call(
            None,
            env(&[
                ("reason", reason),
                ("new_vendor_encapsulated_options", &colon),
            ]),
        )
        .unwrap();
        assert_eq!(call.client, Client::Dhclient);
        let intake = hook::decode(&call).unwrap().unwrap();
        assert_eq!(intake.username.as_deref(), Some("1234"));
    }
    let call = hook::read_call(None, env(&[("reason", "EXPIRE")])).unwrap();
    assert!(!call.lease);
}

#[test]
fn a_lease_without_option_43_is_nothing_to_do() {
    let call = hook::read_call(Some("bound"), env(&[])).unwrap();
    assert_eq!(hook::decode(&call).unwrap(), None);
}

#[test]
fn no_event_is_an_error() {
    assert!(matches!(
        hook::read_call(None, env(&[])),
        Err(HookError::NoEvent)
    ));
}

#[test]
fn bad_option_43_names_the_option_and_the_reason() {
    // Not hex.
    let call = hook::read_call(Some("bound"), env(&[("opt43", "01zz")])).unwrap();
    let err = hook::decode(&call).unwrap_err().to_string();
    assert!(err.contains("option 43") && err.contains("$opt43"), "{err}");
    assert!(err.contains("not hex"), "{err}");
    // Sub-option 1 declares 0x27 bytes, two follow.
    let call = hook::read_call(Some("bound"), env(&[("opt43", "01276874")])).unwrap();
    let err = hook::decode(&call).unwrap_err().to_string();
    assert!(
        err.contains("option 43") && err.contains("declares"),
        "{err}"
    );
}
