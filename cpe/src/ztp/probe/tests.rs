//! Probe messages and replies, sans-IO; the back-off schedule; the exchange over loopback
//! sockets with paused time.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::Duration;

use dhcproto::v4::{self, DhcpOption, MessageType, Opcode, OptionCode};
use dhcproto::{Decodable, Encodable};
use proptest::prelude::*;
use schemas::dhcp::{AcsDiscovery, BBF_ENTERPRISE, DecodeError, Dialect, VendorClass};

use super::driver::{Request, exchange};
use super::iface::{Interface, check_name};
use super::*;

const MAC: [u8; 6] = [0x02, 0x42, 0xac, 0x11, 0x00, 0x02];
const XID: u32 = 0x1234_5678;
const CIADDR: Ipv4Addr = Ipv4Addr::new(10, 231, 0, 2);
const SERVER: Ipv4Addr = Ipv4Addr::new(10, 231, 0, 1);
const URL: &str = "http://10.231.0.1:7547/acs";

fn acs() -> AcsDiscovery {
    AcsDiscovery {
        url: Some(URL.into()),
        provisioning_code: Some("ZTP-LAB".into()),
        ..AcsDiscovery::default()
    }
}

fn inform() -> v4::Message {
    let bytes = v4_probe(super::v4::Kind::Inform(CIADDR))
        .encode(Duration::ZERO)
        .unwrap();
    v4::Message::from_bytes(&bytes).unwrap()
}

fn v4_probe(kind: super::v4::Kind) -> super::v4::Probe {
    super::v4::Probe::new(kind, MAC, XID)
}

/// A server's answer, as dhcproto writes it.
fn v4_reply(xid: u32, kind: MessageType, option43: Option<Vec<u8>>) -> Vec<u8> {
    let mut msg = v4::Message::new_with_id(
        xid,
        Ipv4Addr::UNSPECIFIED,
        Ipv4Addr::UNSPECIFIED,
        SERVER,
        Ipv4Addr::UNSPECIFIED,
        &MAC,
    );
    msg.set_opcode(Opcode::BootReply);
    msg.opts_mut().insert(DhcpOption::MessageType(kind));
    msg.opts_mut().insert(DhcpOption::ServerIdentifier(SERVER));
    if let Some(data) = option43 {
        msg.opts_mut().insert(DhcpOption::VendorExtensions(data));
    }
    msg.to_vec().unwrap()
}

fn bbf43() -> Vec<u8> {
    acs().encode_option43(Dialect::Bbf).unwrap()
}

fn from() -> IpAddr {
    IpAddr::V4(SERVER)
}

#[test]
fn inform_is_a_bootrequest_from_ciaddr_with_vendor_class_and_option_55() {
    let msg = inform();
    assert_eq!(msg.opcode(), Opcode::BootRequest);
    assert_eq!(msg.xid(), XID);
    assert_eq!(msg.ciaddr(), CIADDR);
    assert!(!msg.flags().broadcast());
    assert_eq!(&msg.chaddr()[..6], &MAC);
    assert_eq!(msg.opts().msg_type(), Some(MessageType::Inform));
    assert_eq!(
        msg.opts().get(OptionCode::ClassIdentifier),
        Some(&DhcpOption::ClassIdentifier(b"dslforum.org".to_vec()))
    );
    let Some(DhcpOption::ParameterRequestList(list)) =
        msg.opts().get(OptionCode::ParameterRequestList)
    else {
        panic!("no option 55");
    };
    for code in [1u8, 3, 6, 43, 60] {
        assert!(
            list.contains(&OptionCode::from(code)),
            "option 55 lacks {code}"
        );
    }
    let mut client_id = vec![1];
    client_id.extend_from_slice(&MAC);
    assert_eq!(
        msg.opts().get(OptionCode::ClientIdentifier),
        Some(&DhcpOption::ClientIdentifier(client_id))
    );
}

#[test]
fn discover_sets_the_broadcast_flag_and_no_address() {
    let bytes = v4_probe(super::v4::Kind::Discover)
        .encode(Duration::ZERO)
        .unwrap();
    let msg = v4::Message::from_bytes(&bytes).unwrap();
    assert_eq!(msg.opts().msg_type(), Some(MessageType::Discover));
    assert!(msg.flags().broadcast());
    assert_eq!(msg.ciaddr(), Ipv4Addr::UNSPECIFIED);
    assert!(msg.opts().get(OptionCode::RequestedIpAddress).is_none());
}

#[test]
fn v4_request_is_padded_to_300_bytes_and_carries_elapsed_seconds() {
    let bytes = v4_probe(super::v4::Kind::Discover)
        .encode(Duration::from_secs(12))
        .unwrap();
    assert!(bytes.len() >= 300, "{} bytes", bytes.len());
    assert_eq!(v4::Message::from_bytes(&bytes).unwrap().secs(), 12);
}

#[test]
fn ack_to_inform_yields_option_43_and_the_server_identifier() {
    let reply = v4_reply(XID, MessageType::Ack, Some(bbf43()));
    let finding = v4_probe(super::v4::Kind::Inform(CIADDR))
        .parse_reply(&reply, IpAddr::V4(Ipv4Addr::new(192, 0, 2, 9)))
        .unwrap();
    assert_eq!(finding.transport, Transport::Dhcpv4Inform);
    assert_eq!(finding.server, from());
    assert_eq!(finding.discovery, acs());
}

#[test]
fn offer_to_discover_yields_option_43() {
    let reply = v4_reply(XID, MessageType::Offer, Some(bbf43()));
    let finding = v4_probe(super::v4::Kind::Discover)
        .parse_reply(&reply, from())
        .unwrap();
    assert_eq!(finding.transport, Transport::Dhcpv4Discover);
    assert_eq!(finding.discovery.url.as_deref(), Some(URL));
}

#[test]
fn v4_answers_to_someone_else_are_not_ours() {
    let probe = v4_probe(super::v4::Kind::Discover);
    let cases = [
        (
            "wrong xid",
            v4_reply(XID + 1, MessageType::Offer, Some(bbf43())),
        ),
        ("wrong type", v4_reply(XID, MessageType::Ack, Some(bbf43()))),
        ("nak", v4_reply(XID, MessageType::Nak, None)),
        (
            "truncated",
            v4_reply(XID, MessageType::Offer, Some(bbf43()))[..100].to_vec(),
        ),
        ("empty", Vec::new()),
        ("our own request", probe.encode(Duration::ZERO).unwrap()),
    ];
    for (name, datagram) in cases {
        let err = probe.parse_reply(&datagram, from()).unwrap_err();
        assert!(!err.is_ours(), "{name}: {err}");
    }
    let mut other_mac = v4_reply(XID, MessageType::Offer, Some(bbf43()));
    other_mac[28] ^= 0xff; // chaddr starts at byte 28 (RFC 2131 §2)
    assert_eq!(
        probe.parse_reply(&other_mac, from()),
        Err(ReplyError::NotOurs("another client hardware address"))
    );
}

#[test]
fn v4_answer_without_option_43_names_the_server_and_the_option() {
    let reply = v4_reply(XID, MessageType::Offer, None);
    let err = v4_probe(super::v4::Kind::Discover)
        .parse_reply(&reply, from())
        .unwrap_err();
    assert_eq!(
        err,
        ReplyError::NoAcsOption {
            server: from(),
            option: 43
        }
    );
    assert!(
        err.to_string().contains("vendor class dslforum.org"),
        "{err}"
    );
}

#[test]
fn v4_malformed_option_43_is_refused_with_the_codec_reason() {
    // Sub-option 1 declares 10 bytes, one follows.
    let reply = v4_reply(XID, MessageType::Ack, Some(vec![1, 10, b'h']));
    let err = v4_probe(super::v4::Kind::Inform(CIADDR))
        .parse_reply(&reply, from())
        .unwrap_err();
    assert!(
        matches!(
            err,
            ReplyError::Refused {
                option: 43,
                reason: DecodeError::Truncated { .. },
                ..
            }
        ),
        "{err:?}"
    );
}

#[test]
fn split_option_43_instances_are_joined() {
    let whole = bbf43();
    let (a, b) = whole.split_at(10);
    let mut reply = v4_reply(XID, MessageType::Ack, None);
    assert_eq!(reply.pop(), Some(255), "dhcproto ends with the end option");
    for part in [a, b] {
        reply.extend_from_slice(&[43, u8::try_from(part.len()).unwrap()]);
        reply.extend_from_slice(part);
    }
    reply.push(255);
    assert_eq!(
        super::v4::Reply::read(&reply).unwrap().option43,
        Some(whole)
    );
    let finding = v4_probe(super::v4::Kind::Inform(CIADDR))
        .parse_reply(&reply, from())
        .unwrap();
    assert_eq!(finding.discovery, acs());
}

#[test]
fn options_that_panic_dhcproto_do_not_hide_option_43() {
    // RFC 6926 bulk-leasequery: a status code (151) of length 0 and a base time (152) of
    // length 2, before option 43.
    let mut reply = v4_reply(XID, MessageType::Ack, None);
    assert_eq!(reply.pop(), Some(255));
    reply.extend_from_slice(&[151, 0, 152, 2, 0, 0, 43]);
    let whole = bbf43();
    reply.push(u8::try_from(whole.len()).unwrap());
    reply.extend_from_slice(&whole);
    reply.push(255);
    let finding = v4_probe(super::v4::Kind::Inform(CIADDR))
        .parse_reply(&reply, from())
        .unwrap();
    assert_eq!(finding.discovery, acs());
}

fn v6_probe() -> v6::Probe {
    v6::Probe::new(MAC, XID)
}

fn v6_option(code: u16, data: &[u8]) -> Vec<u8> {
    let mut out = code.to_be_bytes().to_vec();
    out.extend_from_slice(&u16::try_from(data.len()).unwrap().to_be_bytes());
    out.extend_from_slice(data);
    out
}

/// A Reply: type 7, our transaction id (low 24 bits of XID), then `options`.
fn v6_reply(options: &[Vec<u8>]) -> Vec<u8> {
    let mut out = vec![7, 0x34, 0x56, 0x78];
    for option in options {
        out.extend_from_slice(option);
    }
    out
}

fn server_id() -> Vec<u8> {
    v6_option(2, &[0, 3, 0, 1, 2, 0, 0, 0, 0, 1])
}

fn opt17() -> Vec<u8> {
    v6_option(17, &acs().encode_option17().unwrap())
}

fn v6_from() -> IpAddr {
    IpAddr::V6(Ipv6Addr::new(0xfe80, 0, 0, 0, 0, 0, 0, 1))
}

#[test]
fn information_request_asks_for_option_17_with_vendor_class_dslforum() {
    let bytes = v6_probe().encode(Duration::from_millis(1500)).unwrap();
    let msg = dhcproto::v6::Message::from_bytes(&bytes).unwrap();
    assert_eq!(
        msg.msg_type(),
        dhcproto::v6::MessageType::InformationRequest
    );
    assert_eq!(msg.xid_num(), XID & 0xff_ffff);
    let options = v6::options_of(&bytes[4..]).unwrap();
    let get = |code| {
        options
            .iter()
            .find(|(c, _)| *c == code)
            .map(|(_, d)| d.to_vec())
            .unwrap_or_else(|| panic!("no option {code}"))
    };
    assert_eq!(get(1), [&[0, 3, 0, 1][..], &MAC].concat(), "DUID-LL");
    assert_eq!(get(8), 150u16.to_be_bytes(), "elapsed time, centiseconds");
    assert!(get(6).chunks(2).any(|c| c == 17u16.to_be_bytes()), "ORO");
    assert!(VendorClass::decode_option16(&get(16)).unwrap().is_cwmp());
    assert_eq!(get(17), BBF_ENTERPRISE.to_be_bytes());
}

#[test]
fn reply_yields_option_17() {
    let client_id = v6_option(1, &v6_probe().duid());
    let reply = v6_reply(&[server_id(), client_id, opt17()]);
    let finding = v6_probe().parse_reply(&reply, v6_from()).unwrap();
    assert_eq!(finding.transport, Transport::Dhcpv6);
    assert_eq!(finding.server, v6_from());
    assert_eq!(finding.discovery, acs());
}

#[test]
fn reply_picks_the_bbf_option_17_among_enterprises() {
    let other = v6_option(17, &[0, 0, 0, 9, 0, 1, 0, 1, b'x']);
    let reply = v6_reply(&[other, opt17()]);
    let finding = v6_probe().parse_reply(&reply, v6_from()).unwrap();
    assert_eq!(finding.discovery.url.as_deref(), Some(URL));
}

#[test]
fn v6_answers_to_someone_else_are_not_ours() {
    let mut wrong_xid = v6_reply(&[opt17()]);
    wrong_xid[3] ^= 1;
    let mut advertise = v6_reply(&[opt17()]);
    advertise[0] = 2;
    let other_client = v6_reply(&[v6_option(1, &[0, 3, 0, 1, 9, 9, 9, 9, 9, 9]), opt17()]);
    let mut cut = v6_reply(&[opt17()]);
    cut.truncate(cut.len() - 3);
    let cases = [
        ("wrong xid", wrong_xid),
        ("advertise", advertise),
        ("other client", other_client),
        ("options cut short", cut),
        ("no xid", vec![7, 0]),
        ("empty", Vec::new()),
    ];
    for (name, datagram) in cases {
        let err = v6_probe().parse_reply(&datagram, v6_from()).unwrap_err();
        assert!(!err.is_ours(), "{name}: {err}");
    }
}

#[test]
fn v6_reply_without_bbf_option_17_names_the_option() {
    let short17 = v6_option(17, &[0, 0]);
    for reply in [v6_reply(&[server_id()]), v6_reply(&[short17])] {
        assert_eq!(
            v6_probe().parse_reply(&reply, v6_from()),
            Err(ReplyError::NoAcsOption {
                server: v6_from(),
                option: 17
            })
        );
    }
}

#[test]
fn v6_malformed_option_17_is_refused_with_the_codec_reason() {
    let mut data = BBF_ENTERPRISE.to_be_bytes().to_vec();
    data.extend_from_slice(&[0, 1, 0, 40, b'h']);
    let reply = v6_reply(&[v6_option(17, &data)]);
    let err = v6_probe().parse_reply(&reply, v6_from()).unwrap_err();
    assert!(
        matches!(
            err,
            ReplyError::Refused {
                option: 17,
                reason: DecodeError::Truncated { .. },
                ..
            }
        ),
        "{err:?}"
    );
}

proptest! {
    #[test]
    fn random_datagrams_never_panic_the_parsers(bytes in proptest::collection::vec(any::<u8>(), 0..700)) {
        let _ = v4_probe(super::v4::Kind::Discover).parse_reply(&bytes, from());
        let _ = v6_probe().parse_reply(&bytes, v6_from());
        let _ = super::v4::Reply::read(&bytes);
    }

    #[test]
    fn random_options_after_a_matching_v4_header_never_panic(tail in proptest::collection::vec(any::<u8>(), 0..400)) {
        let mut reply = v4_reply(XID, MessageType::Offer, None);
        reply.truncate(240);
        reply.extend_from_slice(&tail);
        let _ = v4_probe(super::v4::Kind::Discover).parse_reply(&reply, from());
    }

    #[test]
    fn random_options_after_a_matching_v6_header_never_panic(tail in proptest::collection::vec(any::<u8>(), 0..400)) {
        let mut reply = v6_reply(&[]);
        reply.extend_from_slice(&tail);
        let _ = v6_probe().parse_reply(&reply, v6_from());
    }

    #[test]
    fn backoff_stays_within_its_jitter(attempt in 0u32..64, random in -1.0f64..=1.0) {
        let v4 = Backoff::DHCPV4.delay(attempt, random);
        let base4 = Backoff::DHCPV4.delay(attempt, 0.0);
        prop_assert!(v4 + Duration::from_secs(1) >= base4 && v4 <= base4 + Duration::from_secs(1));
        let v6 = Backoff::DHCPV6.delay(attempt, random);
        let base6 = Backoff::DHCPV6.delay(attempt, 0.0);
        prop_assert!(v6 >= base6.mul_f64(0.9) && v6 <= base6.mul_f64(1.1));
    }
}

#[test]
fn dhcpv4_backoff_doubles_from_4_s_to_64_s() {
    let secs: Vec<u64> = (0..7)
        .map(|n| Backoff::DHCPV4.delay(n, 0.0).as_secs())
        .collect();
    assert_eq!(secs, [4, 8, 16, 32, 64, 64, 64]);
    assert_eq!(Backoff::DHCPV4.delay(0, -1.0), Duration::from_secs(3));
    assert_eq!(Backoff::DHCPV4.delay(0, 1.0), Duration::from_secs(5));
    assert_eq!(
        Backoff::DHCPV4.delay(0, 7.0),
        Duration::from_secs(5),
        "clamped"
    );
    assert_eq!(Backoff::DHCPV4.delay(0, f64::NAN), Duration::from_secs(4));
    assert_eq!(
        Backoff::DHCPV4.delay(u32::MAX, 0.0),
        Duration::from_secs(64)
    );
}

#[test]
fn dhcpv6_backoff_doubles_from_1_s_with_ten_percent_jitter() {
    let secs: Vec<u64> = (0..4)
        .map(|n| Backoff::DHCPV6.delay(n, 0.0).as_secs())
        .collect();
    assert_eq!(secs, [1, 2, 4, 8]);
    assert_eq!(Backoff::DHCPV6.delay(0, -1.0), Duration::from_millis(900));
    assert_eq!(Backoff::DHCPV6.delay(3, 1.0), Duration::from_millis(8800));
    assert_eq!(Backoff::DHCPV6.delay(40, 0.0), Duration::from_secs(3600));
}

#[test]
fn what_cannot_be_an_interface_name_is_refused() {
    for name in ["", "..", ".", "a/b", "eth0 ", "sixteen-bytes-xx"] {
        assert!(
            matches!(check_name(name), Err(ProbeError::InterfaceName { .. })),
            "{name:?}"
        );
    }
    check_name("eth0.100").unwrap();
}

#[test]
fn lookup_reads_loopback_and_refuses_a_missing_interface() {
    let lo = Interface::lookup("lo").unwrap();
    assert_eq!(lo.ipv4, Some(Ipv4Addr::LOCALHOST));
    assert_eq!(lo.mac, [0; 6]);
    assert!(lo.index >= 1);
    assert!(matches!(
        Interface::lookup("no-such-if0"),
        Err(ProbeError::NoSuchInterface(name)) if name == "no-such-if0"
    ));
}

#[test]
fn report_hides_the_password_and_prints_what_was_given() {
    let finding = Finding {
        transport: Transport::Dhcpv4Inform,
        server: from(),
        discovery: AcsDiscovery {
            username: Some("cpe".into()),
            password: Some("s3cret".into()),
            ..acs()
        },
    };
    let intake = Intake::from_discovery(finding.discovery.clone()).unwrap();
    let report = Report::new(&finding, &intake);
    let text = report.to_string();
    let json = serde_json::to_string(&report).unwrap();
    for out in [&text, &json] {
        assert!(!out.contains("s3cret"), "{out}");
        assert!(
            out.contains("(hidden)") && out.contains(URL) && out.contains("ZTP-LAB"),
            "{out}"
        );
        assert!(out.contains("dhcpv4-inform"), "{out}");
    }
    assert!(
        !text.contains("retry"),
        "absent fields are not printed: {text}"
    );
}

/// A loopback "server" and a request whose destination is it.
async fn loopback() -> (tokio::net::UdpSocket, tokio::net::UdpSocket, SocketAddr) {
    let server = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let client = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let dest = server.local_addr().unwrap();
    (server, client, dest)
}

fn discover_request() -> Request {
    Request::V4(v4_probe(super::v4::Kind::Discover))
}

fn drain(socket: &tokio::net::UdpSocket) -> usize {
    let mut buf = [0; 1500];
    std::iter::from_fn(|| socket.try_recv_from(&mut buf).ok()).count()
}

#[tokio::test(start_paused = true)]
async fn no_answer_sends_every_attempt_and_gives_up_at_the_deadline() {
    let (server, client, dest) = loopback().await;
    let limits = Limits {
        attempts: 3,
        timeout: Duration::from_secs(60),
    };
    let start = tokio::time::Instant::now();
    let err = exchange(&client, dest, &discover_request(), limits, &mut || 0.0)
        .await
        .unwrap_err();
    assert!(
        matches!(err, ProbeError::NoAnswer { attempts: 3, .. }),
        "{err}"
    );
    assert_eq!(start.elapsed(), Duration::from_secs(60));
    assert_eq!(drain(&server), 3);
}

#[tokio::test(start_paused = true)]
async fn the_timeout_cuts_the_schedule_short() {
    let (server, client, dest) = loopback().await;
    let limits = Limits {
        attempts: 10,
        timeout: Duration::from_secs(10),
    };
    let start = tokio::time::Instant::now();
    let err = exchange(&client, dest, &discover_request(), limits, &mut || 0.0)
        .await
        .unwrap_err();
    // Sent at 0 s and 4 s; the third would go at 12 s.
    assert!(
        matches!(err, ProbeError::NoAnswer { attempts: 2, .. }),
        "{err}"
    );
    assert_eq!(start.elapsed(), Duration::from_secs(10));
    assert_eq!(drain(&server), 2);
}

#[tokio::test(start_paused = true)]
async fn a_retransmission_is_answered_after_a_stranger_s_answer_is_skipped() {
    let (server, client, dest) = loopback().await;
    let serving = tokio::spawn(async move {
        let mut buf = [0; 1500];
        // The first request is lost.
        server.recv_from(&mut buf).await.unwrap();
        let (_, peer) = server.recv_from(&mut buf).await.unwrap();
        for xid in [XID ^ 1, XID] {
            let reply = v4_reply(xid, MessageType::Offer, Some(bbf43()));
            server.send_to(&reply, peer).await.unwrap();
        }
    });
    let start = tokio::time::Instant::now();
    let finding = exchange(
        &client,
        dest,
        &discover_request(),
        Limits::default(),
        &mut || 0.0,
    )
    .await
    .unwrap();
    assert_eq!(finding.discovery, acs());
    assert_eq!(start.elapsed(), Duration::from_secs(4));
    serving.await.unwrap();
}

#[tokio::test(start_paused = true)]
async fn an_answer_without_option_43_ends_the_probe_at_once() {
    let (server, client, dest) = loopback().await;
    tokio::spawn(async move {
        let mut buf = [0; 1500];
        let (_, peer) = server.recv_from(&mut buf).await.unwrap();
        let reply = v4_reply(XID, MessageType::Offer, None);
        server.send_to(&reply, peer).await.unwrap();
    });
    let start = tokio::time::Instant::now();
    let err = exchange(
        &client,
        dest,
        &discover_request(),
        Limits::default(),
        &mut || 0.0,
    )
    .await
    .unwrap_err();
    assert!(
        matches!(
            err,
            ProbeError::Reply(ReplyError::NoAcsOption { option: 43, .. })
        ),
        "{err}"
    );
    assert_eq!(start.elapsed(), Duration::ZERO);
}
