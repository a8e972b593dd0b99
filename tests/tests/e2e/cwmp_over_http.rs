//! A CWMP exchange over a real loopback TCP connection: an Inform POSTed as HTTP/1.1, answered
//! with an InformResponse, each side reading the other's bytes with the codec.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::thread;

use schemas::rpc::types::{DeviceIdStruct, EventStruct};
use schemas::rpc::{EventCode, Inform, InformResponse};
use schemas::soap::CwmpNamespace;
use schemas::{Body, Envelope};

/// Reads one HTTP/1.1 message with a Content-Length body; returns its start line and body.
fn read_message(stream: &mut BufReader<TcpStream>) -> (String, Vec<u8>) {
    let mut start = String::new();
    stream.read_line(&mut start).unwrap();
    let mut length = 0;
    loop {
        let mut line = String::new();
        stream.read_line(&mut line).unwrap();
        if line.trim().is_empty() {
            break;
        }
        if let Some((name, value)) = line.split_once(':')
            && name.eq_ignore_ascii_case("content-length")
        {
            length = value.trim().parse().unwrap();
        }
    }
    let mut body = vec![0; length];
    stream.read_exact(&mut body).unwrap();
    (start.trim_end().to_owned(), body)
}

fn send(stream: &mut TcpStream, start: &str, body: &[u8]) {
    let head = format!(
        "{start}\r\nContent-Type: text/xml; charset=\"utf-8\"\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes()).unwrap();
    stream.write_all(body).unwrap();
}

#[test]
fn inform_and_inform_response_cross_a_loopback_socket() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let acs = thread::spawn(move || {
        let (stream, _) = listener.accept().unwrap();
        let mut reader = BufReader::new(stream.try_clone().unwrap());
        let (start, body) = read_message(&mut reader);
        assert_eq!(start, "POST /acs HTTP/1.1");
        let inform = Envelope::parse(&body).unwrap();
        let Body::Inform(m) = &inform.body else {
            panic!("{:?}", inform.body)
        };
        let reply = Envelope::new(inform.namespace, InformResponse { max_envelopes: 1 })
            .with_id(inform.header.id.clone().unwrap());
        send(
            &mut stream.try_clone().unwrap(),
            "HTTP/1.1 200 OK",
            &reply.write(),
        );
        m.device_id.serial_number.clone()
    });

    let inform = Inform {
        device_id: DeviceIdStruct {
            manufacturer: "Example".into(),
            oui: "00D09E".into(),
            product_class: "HGW".into(),
            serial_number: "SN-1".into(),
        },
        event: vec![EventStruct::new(EventCode::Bootstrap)],
        max_envelopes: 1,
        ..Inform::default()
    };
    let request = Envelope::new(CwmpNamespace::V1_2, inform).with_id("42");
    let mut stream = TcpStream::connect(addr).unwrap();
    send(&mut stream, "POST /acs HTTP/1.1", &request.write());
    let (status, body) = read_message(&mut BufReader::new(stream));
    assert_eq!(status, "HTTP/1.1 200 OK");
    let reply = Envelope::parse(&body).unwrap();
    assert_eq!(reply.header.id.as_deref(), Some("42"));
    assert_eq!(
        reply.body,
        Body::InformResponse(InformResponse { max_envelopes: 1 })
    );
    assert_eq!(acs.join().unwrap(), "SN-1");
}
