//! Throughput of the SOAP envelope codec on three realistic CWMP messages.
//!
//! For each message the bench measures [`Envelope::parse`] of its canonical bytes,
//! [`Envelope::write`] of the typed envelope, and, as a baseline, `raw_scan`: the same bytes
//! scanned with quick-xml's raw `Reader` (no namespace resolution, no allocation of strings),
//! counting events; `ns_scan` is the same with quick-xml's `NsReader` resolving every event's
//! namespace, as the codec's reader does. Every benchmark reports throughput over the same byte
//! count, so `parse / raw_scan` is the share of the XML tokenizer's speed that the codec keeps.
//!
//! Run with `cargo bench -p schemas --bench codec` (see `BENCHMARKS.md`).

use std::sync::LazyLock;

use divan::counter::BytesCount;
use divan::{Bencher, black_box};
use quick_xml::events::Event;
use quick_xml::name::ResolveResult;
use schemas::Envelope;
use schemas::rpc::types::{DeviceIdStruct, EventStruct, ParameterInfoStruct, ParameterValueStruct};
use schemas::rpc::{EventCode, GetParameterNamesResponse, GetParameterValuesResponse, Inform};
use schemas::soap::CwmpNamespace;
use schemas::value::{DateTime, Value};

fn main() {
    divan::main();
}

/// A message under test: the typed envelope and its canonical bytes.
struct Fixture {
    envelope: Envelope,
    bytes: Vec<u8>,
}

impl Fixture {
    fn new(envelope: Envelope) -> Self {
        let bytes = envelope.write();
        // The fixture must survive the codec unchanged, or the numbers measure something else.
        let read = Envelope::parse(&bytes).expect("fixture parses");
        assert_eq!(read, envelope, "fixture round-trips");
        Self { envelope, bytes }
    }

    fn text(&self) -> &str {
        std::str::from_utf8(&self.bytes).expect("written envelopes are UTF-8")
    }

    fn counter(&self) -> BytesCount {
        BytesCount::new(self.bytes.len())
    }
}

/// A small deterministic generator (64-bit LCG, Knuth's MMIX constants).
struct Lcg(u64);

impl Lcg {
    fn next(&mut self) -> u32 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (self.0 >> 33) as u32
    }
}

fn utc(secs: i64) -> DateTime {
    DateTime::from_unix(secs, 0).expect("in range")
}

/// 2025-06-02T09:30:00Z, the benches' "now".
const NOW: i64 = 1_748_856_600;

/// (a) A periodic Inform with the TR-181 forced-inform parameters.
fn inform() -> Envelope {
    let device_id = DeviceIdStruct {
        manufacturer: "Example Networks".into(),
        oui: "00D09E".into(),
        product_class: "HGW-4000ax".into(),
        serial_number: "EXN4K0A1B2C3D4E5".into(),
    };
    let parameter_list = vec![
        ParameterValueStruct::new("Device.RootDataModelVersion", "2.15"),
        ParameterValueStruct::new("Device.DeviceInfo.HardwareVersion", "HGW-4000ax rev.B"),
        ParameterValueStruct::new("Device.DeviceInfo.SoftwareVersion", "4.2.1-build.20250517"),
        ParameterValueStruct::new("Device.DeviceInfo.ProvisioningCode", "RES.FTTH.1G"),
        ParameterValueStruct::new("Device.DeviceInfo.UpTime", 1_234_567u32),
        ParameterValueStruct::new("Device.ManagementServer.ParameterKey", "cfg-2025-05-30-01"),
        ParameterValueStruct::new(
            "Device.ManagementServer.ConnectionRequestURL",
            "http://198.51.100.23:7547/a1b2c3d4e5f6",
        ),
        ParameterValueStruct::new("Device.ManagementServer.AliasBasedAddressing", false),
        ParameterValueStruct::new(
            "Device.IP.Interface.1.IPv4Address.1.IPAddress",
            "198.51.100.23",
        ),
    ];
    let inform = Inform {
        device_id,
        event: vec![EventStruct::new(EventCode::Periodic)],
        max_envelopes: 1,
        current_time: utc(NOW),
        retry_count: 0,
        parameter_list,
    };
    Envelope::new(CwmpNamespace::V1_2, inform).with_id("1748856600001")
}

/// (b) A 200-parameter GetParameterValuesResponse with strings, unsignedInt, boolean and
/// dateTime values, as for `Device.WiFi.` and `Device.Hosts.` partial paths.
fn gpv_200() -> Envelope {
    let mut rng = Lcg(0x00D0_9E00_0000_0001);
    let mut list = Vec::with_capacity(200);
    // WiFi SSIDs: 8 instances x 10 parameters.
    for i in 1..=8 {
        let p = format!("Device.WiFi.SSID.{i}.");
        let radio = if i % 2 == 1 { 1 } else { 2 };
        list.extend([
            ParameterValueStruct::new(format!("{p}Enable"), i <= 4),
            ParameterValueStruct::new(format!("{p}Status"), if i <= 4 { "Up" } else { "Down" }),
            ParameterValueStruct::new(format!("{p}Alias"), format!("cpe-ssid-{i}")),
            ParameterValueStruct::new(format!("{p}Name"), format!("wl{}.{}", radio - 1, i / 2)),
            ParameterValueStruct::new(format!("{p}LastChange"), rng.next() % 864_000),
            ParameterValueStruct::new(
                format!("{p}LowerLayers"),
                format!("Device.WiFi.Radio.{radio}."),
            ),
            ParameterValueStruct::new(
                format!("{p}BSSID"),
                format!("02:d0:9e:4a:{:02x}:{:02x}", radio, i),
            ),
            ParameterValueStruct::new(
                format!("{p}SSID"),
                format!("Example-{:04X}", rng.next() & 0xFFFF),
            ),
            ParameterValueStruct::new(format!("{p}Stats.BytesSent"), rng.next()),
            ParameterValueStruct::new(format!("{p}Stats.BytesReceived"), rng.next()),
        ]);
    }
    // Hosts: 12 instances x 10 parameters.
    for i in 1..=12 {
        let p = format!("Device.Hosts.Host.{i}.");
        let mac = format!(
            "{:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}",
            rng.next() as u8 & 0xFE,
            rng.next() as u8,
            rng.next() as u8,
            rng.next() as u8,
            rng.next() as u8,
            rng.next() as u8
        );
        let active = !rng.next().is_multiple_of(3);
        list.extend([
            ParameterValueStruct::new(format!("{p}PhysAddress"), mac),
            ParameterValueStruct::new(format!("{p}IPAddress"), format!("192.168.1.{}", 100 + i)),
            ParameterValueStruct::new(format!("{p}AddressSource"), "DHCP"),
            ParameterValueStruct::new(
                format!("{p}DHCPClient"),
                format!("Device.DHCPv4.Server.Pool.1.Client.{i}."),
            ),
            ParameterValueStruct::new(format!("{p}LeaseTimeRemaining"), rng.next() % 86_400),
            ParameterValueStruct::new(format!("{p}HostName"), format!("host-{i:02}")),
            ParameterValueStruct::new(format!("{p}Active"), active),
            ParameterValueStruct::new(
                format!("{p}ActiveLastChange"),
                Value::DateTime(utc(NOW - i64::from(rng.next() % 604_800))),
            ),
            ParameterValueStruct::new(format!("{p}Layer1Interface"), "Device.WiFi.SSID.1."),
            ParameterValueStruct::new(format!("{p}IPv4AddressNumberOfEntries"), 1u32),
        ]);
    }
    assert_eq!(list.len(), 200);
    Envelope::new(
        CwmpNamespace::V1_2,
        GetParameterValuesResponse {
            parameter_list: list,
        },
    )
    .with_id("acs-req-0042")
}

/// (c) A 2,000-name GetParameterNamesResponse (NextLevel false over `Device.`-like tables).
fn gpn_2000() -> Envelope {
    /// A table: its path, whether it is writable (Add/DeleteObject), and its parameters with
    /// their writability.
    type Table = (&'static str, bool, &'static [(&'static str, bool)]);
    const OBJECTS: &[Table] = &[
        (
            "Device.Hosts.Host",
            false,
            &[
                ("Alias", true),
                ("PhysAddress", false),
                ("IPAddress", false),
                ("AddressSource", false),
                ("DHCPClient", false),
                ("LeaseTimeRemaining", false),
                ("AssociatedDevice", false),
                ("Layer1Interface", false),
                ("Layer3Interface", false),
                ("HostName", false),
                ("Active", false),
                ("ActiveLastChange", false),
                ("IPv4AddressNumberOfEntries", false),
                ("IPv6AddressNumberOfEntries", false),
            ],
        ),
        (
            "Device.WiFi.AccessPoint",
            true,
            &[
                ("Enable", true),
                ("Status", false),
                ("Alias", true),
                ("SSIDReference", true),
                ("SSIDAdvertisementEnabled", true),
                ("WMMCapability", false),
                ("UAPSDCapability", false),
                ("WMMEnable", true),
                ("UAPSDEnable", true),
                ("AssociatedDeviceNumberOfEntries", false),
                ("MaxAssociatedDevices", true),
                ("IsolationEnable", true),
                ("MACAddressControlEnabled", true),
                ("AllowedMACAddress", true),
                ("Security.ModesSupported", false),
                ("Security.ModeEnabled", true),
                ("Security.KeyPassphrase", true),
                ("Security.RekeyingInterval", true),
            ],
        ),
        (
            "Device.NAT.PortMapping",
            true,
            &[
                ("Enable", true),
                ("Status", false),
                ("Alias", true),
                ("Interface", true),
                ("AllInterfaces", true),
                ("LeaseDuration", true),
                ("RemoteHost", true),
                ("ExternalPort", true),
                ("ExternalPortEndRange", true),
                ("InternalPort", true),
                ("Protocol", true),
                ("InternalClient", true),
                ("Description", true),
            ],
        ),
    ];
    let mut list = Vec::with_capacity(2000);
    'fill: for instance in 1.. {
        for (table, table_writable, params) in OBJECTS {
            let object = format!("{table}.{instance}.");
            let entries = std::iter::once((object.clone(), *table_writable)).chain(
                params
                    .iter()
                    .map(|(name, writable)| (format!("{object}{name}"), *writable)),
            );
            for (name, writable) in entries {
                if list.len() == 2000 {
                    break 'fill;
                }
                list.push(ParameterInfoStruct { name, writable });
            }
        }
    }
    Envelope::new(
        CwmpNamespace::V1_2,
        GetParameterNamesResponse {
            parameter_list: list,
        },
    )
    .with_id("acs-req-0043")
}

static INFORM: LazyLock<Fixture> = LazyLock::new(|| Fixture::new(inform()));
static GPV_200: LazyLock<Fixture> = LazyLock::new(|| Fixture::new(gpv_200()));
static GPN_2000: LazyLock<Fixture> = LazyLock::new(|| Fixture::new(gpn_2000()));

fn bench_parse(bencher: Bencher<'_, '_>, fixture: &Fixture) {
    bencher
        .counter(fixture.counter())
        .bench(|| Envelope::parse(black_box(&fixture.bytes)).expect("parses"));
}

fn bench_write(bencher: Bencher<'_, '_>, fixture: &Fixture) {
    bencher
        .counter(fixture.counter())
        .bench(|| black_box(&fixture.envelope).write());
}

/// quick-xml's raw reader over the same text: the tokenizer alone, no namespaces.
fn bench_raw_scan(bencher: Bencher<'_, '_>, fixture: &Fixture) {
    let text = fixture.text();
    bencher.counter(fixture.counter()).bench(|| {
        let mut reader = quick_xml::Reader::from_str(black_box(text));
        let mut events = 0usize;
        loop {
            match reader.read_event().expect("well-formed") {
                Event::Eof => break,
                _ => events += 1,
            }
        }
        black_box(events)
    });
}

/// quick-xml's namespace-aware reader over the same text, resolving every event as the codec's
/// reader does: the tokenizer plus namespace scoping, still without building anything.
fn bench_ns_scan(bencher: Bencher<'_, '_>, fixture: &Fixture) {
    let text = fixture.text();
    bencher.counter(fixture.counter()).bench(|| {
        let mut reader = quick_xml::NsReader::from_str(black_box(text));
        let mut events = 0usize;
        loop {
            match reader.read_resolved_event().expect("well-formed") {
                (_, Event::Eof) => break,
                (ns, _) => events += 1 + usize::from(matches!(ns, ResolveResult::Bound(_))),
            }
        }
        black_box(events)
    });
}

macro_rules! message_benches {
    ($( $module:ident => $fixture:ident ),* $(,)?) => {$(
        mod $module {
            use super::*;

            #[divan::bench]
            fn parse(bencher: Bencher<'_, '_>) {
                bench_parse(bencher, &$fixture);
            }

            #[divan::bench]
            fn write(bencher: Bencher<'_, '_>) {
                bench_write(bencher, &$fixture);
            }

            #[divan::bench]
            fn raw_scan(bencher: Bencher<'_, '_>) {
                bench_raw_scan(bencher, &$fixture);
            }

            #[divan::bench]
            fn ns_scan(bencher: Bencher<'_, '_>) {
                bench_ns_scan(bencher, &$fixture);
            }
        }
    )*};
}

message_benches! {
    inform_1_event => INFORM,
    gpv_200_params => GPV_200,
    gpn_2000_names => GPN_2000,
}
