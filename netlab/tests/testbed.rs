//! The testbed on this machine: namespaces made and removed, code placed inside them, and a
//! real dnsmasq that re-reads its options.

use std::net::{SocketAddr, TcpListener, UdpSocket};
use std::path::Path;
use std::time::Duration;

use netlab::{CPE_V4, Dhcpd, Dnsmasq, Kea, SERVER_V4, Testbed};

fn exists(name: &str) -> bool {
    Path::new("/run/netns").join(name).exists()
}

#[test]
fn a_dropped_testbed_removes_its_namespaces_and_kills_their_processes_even_on_panic() {
    let Some(testbed) = Testbed::for_test("testbed cleanup") else {
        return;
    };
    let names = [
        testbed.server().name().to_owned(),
        testbed.cpe().name().to_owned(),
    ];
    assert!(names.iter().all(|n| exists(n)), "both namespaces exist");
    let mut sleeper = testbed.cpe().command("sleep").arg("600").spawn().unwrap();
    let panicked = std::thread::spawn(move || {
        let _testbed = testbed;
        panic!("a failing test");
    })
    .join();
    assert!(panicked.is_err());
    assert!(names.iter().all(|n| !exists(n)), "both namespaces are gone");
    let status = sleeper.wait().unwrap();
    assert!(!status.success(), "the process inside was killed: {status}");
}

#[test]
fn sockets_opened_inside_a_namespace_use_its_addresses() {
    let Some(testbed) = Testbed::for_test("sockets inside") else {
        return;
    };
    let addr = SocketAddr::from((SERVER_V4, 0));
    let listener = testbed
        .server()
        .run(move || TcpListener::bind(addr))
        .unwrap()
        .unwrap();
    let server = listener.local_addr().unwrap();
    assert!(
        TcpListener::bind(addr).is_err(),
        "the address is not the root namespace's"
    );
    testbed.add_cpe_address().unwrap();
    let client = testbed
        .cpe()
        .run(move || std::net::TcpStream::connect_timeout(&server, Duration::from_secs(5)))
        .unwrap()
        .unwrap();
    assert_eq!(client.local_addr().unwrap().ip(), CPE_V4);
    let (_, peer) = listener.accept().unwrap();
    assert_eq!(
        peer.ip(),
        CPE_V4,
        "the CPE side reached the server over the veth pair"
    );
}

#[test]
fn dnsmasq_starts_and_rereads_its_options() {
    let Some(testbed) = Testbed::for_test("dnsmasq") else {
        return;
    };
    let first = [r#"dhcp-option=vendor:dslforum.org,1,"http://10.231.0.1:7547/""#.to_owned()];
    let mut dnsmasq = Dnsmasq::start(&testbed, &first).unwrap();
    assert!(
        dnsmasq.log().contains("DHCP, IP range 10.231.0.100"),
        "{}",
        dnsmasq.log()
    );
    let port_67_taken = testbed
        .server()
        .run(|| UdpSocket::bind((SERVER_V4, 67)).is_err())
        .unwrap();
    assert!(port_67_taken, "dnsmasq listens on the server side");
    let second = [r#"dhcp-option=vendor:dslforum.org,1,"http://10.231.0.1:7548/""#.to_owned()];
    dnsmasq.set_options(&second).unwrap();
}

#[test]
fn kea_and_dhcpd_start_on_the_server_side() {
    let Some(testbed) = Testbed::for_test("kea and dhcpd") else {
        return;
    };
    let kea = Kea::start(&testbed, &[r#""valid-lifetime": 60"#.to_owned()]);
    // Two members of the same name: Kea refuses its configuration, and says so.
    let refused = kea.expect_err("a duplicate member is refused");
    assert!(refused.to_string().contains("kea-dhcp4"), "{refused}");
    let kea = Kea::start(&testbed, &[r#""renew-timer": 30"#.to_owned()]).unwrap();
    assert!(kea.log().contains("DHCP4_STARTED"), "{}", kea.log());
    drop(kea);
    let dhcpd = Dhcpd::start(
        &testbed,
        &["option domain-name \"lab.example\";".to_owned()],
    )
    .unwrap();
    assert!(
        dhcpd.log().contains("Listening on LPF/srv0"),
        "{}",
        dhcpd.log()
    );
}

#[test]
fn a_testbed_left_by_a_killed_process_is_swept_at_the_next_create() {
    let Some(first) = Testbed::for_test("stale sweep") else {
        return;
    };
    drop(first);
    // A process that has ended (and been reaped) owns this one.
    let mut gone = std::process::Command::new("true").spawn().unwrap();
    gone.wait().unwrap();
    let stale = format!("cwmp-lab-{}-0-srv", gone.id());
    let made = std::process::Command::new("ip")
        .args(["netns", "add", &stale])
        .status()
        .unwrap();
    assert!(made.success());
    let _testbed = Testbed::create().unwrap();
    assert!(!exists(&stale), "{stale} was swept");
}
