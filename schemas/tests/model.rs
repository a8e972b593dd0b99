//! The TR-181 metadata table: known entries read back as the BBF Device:2.17 XML gives them,
//! and the committed table is exactly what `gen-tr181` writes from that XML.

#[path = "../examples/gen-tr181/convert.rs"]
mod convert;

use std::collections::BTreeSet;
use std::path::Path;

use schemas::model::{self, ActiveNotify};
use schemas::value::XsdType;

fn parameter(name: &str) -> &'static model::ParameterInfo {
    model::parameter(name).unwrap_or_else(|| panic!("{name} not in the table"))
}

#[test]
fn generator_reproduces_the_committed_table() {
    let xml_path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../shared/schemas-ref/tr-181-2-17-0-cwmp-full.xml");
    let xml = std::fs::read_to_string(&xml_path).unwrap();
    let (table, summary) = convert::convert(&xml).unwrap();
    let committed = include_str!("../src/model/tr181.tsv");
    // Compare line by line first, for a readable failure.
    for (n, (generated, committed)) in table.lines().zip(committed.lines()).enumerate() {
        assert_eq!(generated, committed, "tr181.tsv line {} differs", n + 1);
    }
    assert!(
        table == committed,
        "tr181.tsv differs from gen-tr181's output; regenerate it"
    );
    assert_eq!(summary.model, model::DATA_MODEL);
    assert_eq!(summary.objects, model::objects().len());
    assert_eq!(summary.parameters, model::parameters().len());
    // Deleted in 2.17: Device.PPP.Interface.{i}.PPPoA. and 17 parameters elsewhere.
    assert_eq!(summary.deleted, 18);
}

#[test]
fn counts() {
    // Cross-checked against Python's ElementTree: the <object name=..> children of <model> and
    // their <parameter name=..> children, without status="deleted".
    assert_eq!(model::objects().len(), 789);
    assert_eq!(model::parameters().len(), 6466);
    assert_eq!(
        model::objects().iter().filter(|o| o.multi_instance).count(),
        400
    );
    assert_eq!(model::objects().iter().filter(|o| o.writable).count(), 177);
    assert_eq!(
        model::parameters().iter().filter(|p| p.writable).count(),
        2367
    );
    assert_eq!(model::objects()[0].name, "Device.");
}

#[test]
fn every_entry_is_a_device_template_under_a_known_object() {
    for o in model::objects() {
        assert!(
            o.name.starts_with("Device.") && o.name.ends_with('.'),
            "{}",
            o.name
        );
        let name = o.name.strip_suffix('.').unwrap();
        let name = name.strip_suffix(".{i}").unwrap_or(name);
        if let Some((parent, _)) = name.rsplit_once('.') {
            assert!(
                model::object(&format!("{parent}.")).is_some(),
                "{}: no parent",
                o.name
            );
        }
        assert_eq!(model::object(o.name), Some(o));
        assert_eq!(o.multi_instance, o.name.ends_with(".{i}."));
        assert!(
            !o.writable || o.multi_instance,
            "{} writable but not a table",
            o.name
        );
    }
    for p in model::parameters() {
        assert_eq!(model::parameter(p.name), Some(p));
        let (object, leaf) = p.name.rsplit_once('.').unwrap();
        assert!(!leaf.is_empty() && leaf != "{i}", "{}", p.name);
        assert!(
            model::object(&format!("{object}.")).is_some(),
            "{}: no object",
            p.name
        );
        assert!(model::object(p.name).is_none(), "{} is both", p.name);
        if let Some((min, max)) = p.range {
            assert!(min <= max, "{}", p.name);
        }
        if let Some(default) = p.default
            && !p.enumeration.is_empty()
            && !default.is_empty()
        {
            // A list's default is a list of enumerated items.
            let items: Vec<&str> = if p.is_list() {
                default.split(',').collect()
            } else {
                vec![default]
            };
            for item in items {
                assert!(
                    p.enumeration.contains(&item),
                    "{}: default {default:?} not enumerated",
                    p.name
                );
            }
        }
    }
}

#[test]
fn management_server() {
    let url = parameter("Device.ManagementServer.URL");
    assert_eq!(url.ty, XsdType::String);
    assert!(url.writable);
    assert!(!url.hidden && !url.forced_inform);
    // 2.17 gives URL the `URL` data type, a URI of up to 2048 characters (string(256) was
    // the Device:2.0 syntax).
    assert_eq!(url.max_length, Some(2048));

    let interval = parameter("Device.ManagementServer.PeriodicInformInterval");
    assert_eq!(interval.ty, XsdType::UnsignedInt);
    assert!(interval.writable && interval.is_numeric());
    assert_eq!(interval.range, Some((1, u32::MAX.into())));

    let retry = parameter("Device.ManagementServer.CWMPRetryIntervalMultiplier");
    assert_eq!(retry.range, Some((1000, 65535)));

    for hidden in ["Password", "ConnectionRequestPassword", "STUNPassword"] {
        let p = parameter(&format!("Device.ManagementServer.{hidden}"));
        assert!(p.hidden && p.writable, "{hidden}");
        assert_eq!(p.max_length, Some(256));
    }
    assert!(!parameter("Device.ManagementServer.Username").hidden);

    let url = parameter("Device.ManagementServer.ConnectionRequestURL");
    assert_eq!(url.active_notify, ActiveNotify::ForceDefaultEnabled);
    assert!(url.forced_inform && !url.writable);

    let key = parameter("Device.ManagementServer.ParameterKey");
    assert_eq!(key.active_notify, ActiveNotify::CanDeny);
    assert_eq!(key.max_length, Some(32));
}

#[test]
fn device_info() {
    let version = parameter("Device.DeviceInfo.SoftwareVersion");
    assert!(version.forced_inform && !version.writable);
    assert_eq!(version.active_notify, ActiveNotify::ForceEnabled);
    assert_eq!(version.max_length, Some(64));

    let code = parameter("Device.DeviceInfo.ProvisioningCode");
    assert!(code.forced_inform && code.writable);
    assert_eq!(code.active_notify, ActiveNotify::ForceEnabled);

    let up_time = parameter("Device.DeviceInfo.UpTime");
    assert_eq!(up_time.ty, XsdType::UnsignedInt);
    assert_eq!(up_time.active_notify, ActiveNotify::CanDeny);
    assert!(!up_time.forced_inform);

    assert_eq!(
        parameter("Device.DeviceInfo.Manufacturer").active_notify,
        ActiveNotify::Normal
    );
}

/// PROTOCOL.md §2.11: the forced-inform parameters of Device:2.
#[test]
fn forced_inform_set_is_protocol_md_s_seven() {
    let forced: BTreeSet<&str> = model::parameters()
        .iter()
        .filter(|p| p.forced_inform)
        .map(|p| p.name)
        .collect();
    let expected: BTreeSet<&str> = [
        "Device.RootDataModelVersion",
        "Device.DeviceInfo.HardwareVersion",
        "Device.DeviceInfo.SoftwareVersion",
        "Device.DeviceInfo.ProvisioningCode",
        "Device.ManagementServer.ParameterKey",
        "Device.ManagementServer.ConnectionRequestURL",
        "Device.ManagementServer.AliasBasedAddressing",
    ]
    .into();
    assert_eq!(forced, expected);
}

#[test]
fn active_notify_counts() {
    let count = |rule| {
        model::parameters()
            .iter()
            .filter(|p| p.active_notify == rule)
            .count()
    };
    assert_eq!(count(ActiveNotify::ForceEnabled), 2);
    assert_eq!(count(ActiveNotify::ForceDefaultEnabled), 8);
    assert!(count(ActiveNotify::CanDeny) > 900);
    assert_eq!(model::parameters().iter().filter(|p| p.hidden).count(), 43);
}

#[test]
fn objects() {
    let ssid = model::object("Device.WiFi.SSID.{i}.").unwrap();
    assert!(ssid.multi_instance && ssid.writable);
    let device_info = model::object("Device.DeviceInfo.").unwrap();
    assert!(!device_info.multi_instance && !device_info.writable);
    let stats = model::object("Device.WiFi.SSID.{i}.Stats.").unwrap();
    assert!(!stats.multi_instance && !stats.writable);
    // Read-only tables: the CPE creates and deletes the instances.
    let host = model::object("Device.Hosts.Host.{i}.").unwrap();
    assert!(host.multi_instance && !host.writable);
    assert!(
        model::object("Device.WiFi.SSID.{i}").is_none(),
        "objects end in a dot"
    );
    assert!(
        model::object("Device.WiFi.SSID.1.").is_none(),
        "lookups take templates"
    );
}

#[test]
fn enumerations_and_defaults() {
    let mode = parameter("Device.ManagementServer.InstanceMode");
    assert_eq!(mode.enumeration, ["InstanceNumber", "InstanceAlias"]);
    assert_eq!(mode.default, Some("InstanceNumber"), "a factory default");

    let status = parameter("Device.WiFi.SSID.{i}.Status");
    assert_eq!(
        status.enumeration,
        [
            "Up",
            "Down",
            "Unknown",
            "Dormant",
            "NotPresent",
            "LowerLayerDown",
            "Error"
        ]
    );
    assert_eq!(status.default, Some("Down"), "an object default");

    // `=` alone in the table: an empty default, not none.
    assert_eq!(
        parameter("Device.WiFi.SSID.{i}.LowerLayers").default,
        Some("")
    );
    assert_eq!(parameter("Device.WiFi.SSID.{i}.SSID").default, None);
    assert_eq!(
        parameter("Device.ManagementServer.EnableCWMP").default,
        Some("true")
    );

    // A deleted enumeration value is left out.
    let profiles = parameter("Device.DSL.Line.{i}.AllowedProfiles");
    assert!(profiles.enumeration.contains(&"17a"));
    assert!(!profiles.enumeration.contains(&"17b"));
    assert!(
        parameter("Device.ManagementServer.URL")
            .enumeration
            .is_empty()
    );
}

#[test]
fn lists() {
    let methods = parameter("Device.ManagementServer.SupportedConnReqMethods");
    assert!(methods.is_list());
    assert_eq!(methods.ty, XsdType::String);
    assert_eq!(methods.enumeration, ["HTTP", "STUN", "XMPP"]);
    let layers = parameter("Device.WiFi.SSID.{i}.LowerLayers");
    assert!(layers.is_list());
    assert_eq!(
        layers.max_length,
        Some(1024),
        "the list's size, not an item's"
    );
    assert!(!parameter("Device.ManagementServer.URL").is_list());
}

#[test]
fn data_types_resolve_to_base_types() {
    // StatsCounter64 -> unsignedLong.
    let bytes = parameter("Device.Cellular.Interface.{i}.Stats.BytesSent");
    assert_eq!(bytes.ty, XsdType::UnsignedLong);
    assert_eq!(bytes.range, None);
    // Dbm1000 -> int, with the parameter's own range.
    let level = parameter("Device.Optical.Interface.{i}.OpticalSignalLevel");
    assert_eq!(level.ty, XsdType::Int);
    assert_eq!(level.range, Some((-65536, 65534)));
    // MACAddress -> string(17); IPv4Address: IPAddress (string(45)) restricted to 15.
    assert_eq!(
        parameter("Device.WiFi.SSID.{i}.MACAddress").max_length,
        Some(17)
    );
    let ip = parameter(
        "Device.WiFi.DataElements.Network.Device.{i}.Radio.{i}.BSS.{i}.STA.{i}.IPV4Address",
    );
    assert_eq!((ip.ty, ip.max_length), (XsdType::String, Some(15)));
    // Alias -> string(64); writeOnceReadOnly counts as writable.
    let alias =
        parameter("Device.ManagementServer.DownloadAvailability.Announcement.Group.{i}.Alias");
    assert_eq!(
        (alias.ty, alias.max_length, alias.writable),
        (XsdType::String, Some(64), true)
    );
    // decimal has no XsdType: a string.
    let capacity = parameter("Device.IP.Diagnostics.IPLayerCapacityMetrics.MaxIPLayerCapacity");
    assert_eq!(capacity.ty, XsdType::String);
    assert!(!capacity.is_numeric());

    for ty in [
        XsdType::String,
        XsdType::Int,
        XsdType::UnsignedInt,
        XsdType::Long,
        XsdType::UnsignedLong,
        XsdType::Boolean,
        XsdType::DateTime,
        XsdType::Base64,
        XsdType::HexBinary,
    ] {
        assert!(
            model::parameters().iter().any(|p| p.ty == ty),
            "no {ty} parameter"
        );
    }
}

#[test]
fn deleted_left_out_deprecated_kept() {
    assert!(model::parameter("Device.Hosts.Host.{i}.AddressSource").is_none());
    assert!(model::parameter("Device.WiFi.AccessPoint.{i}.RetryLimit").is_none());
    assert!(model::object("Device.PPP.Interface.{i}.PPPoA.").is_none());
    assert!(
        model::parameter("Device.Time.NTPServer1").is_some(),
        "deprecated"
    );
    assert!(
        model::parameter("Device.Optical.Interface.{i}.LowerOpticalThreshold").is_some(),
        "obsoleted"
    );
}

#[test]
fn template_of_paths() {
    assert_eq!(
        model::template_of("Device.WiFi.SSID.2.SSID"),
        "Device.WiFi.SSID.{i}.SSID"
    );
    assert_eq!(
        model::template_of("Device.IP.Interface.1.IPv4Address.12."),
        "Device.IP.Interface.{i}.IPv4Address.{i}."
    );
    assert_eq!(
        model::template_of("Device.DeviceInfo.UpTime"),
        "Device.DeviceInfo.UpTime"
    );
    let path = "Device.WiFi.DataElements.Network.Device.3.Radio.1.BSS.7.STA.42.IPV4Address";
    assert!(model::parameter(&model::template_of(path)).is_some());
    assert!(
        model::parameter("Device.WiFi.SSID.2.SSID").is_none(),
        "not a template"
    );
    assert!(model::parameter("Device.Unknown").is_none());
}
