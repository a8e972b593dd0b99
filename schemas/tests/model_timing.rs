//! How long the embedded TR-181 table takes to read on first use, and a lookup after that.
//! A measurement, printed (`cargo test -p schemas --release --test model_timing --
//! --nocapture`), not a timed assertion. Its own test binary, so that the first use here is
//! the process's first.

use std::hint::black_box;
use std::time::Instant;

use schemas::model;

#[test]
fn first_use_and_lookup_time() {
    let start = Instant::now();
    let first = model::parameter("Device.DeviceInfo.UpTime");
    let parse = start.elapsed();
    assert!(first.is_some());

    let names: Vec<String> = model::parameters()
        .iter()
        .map(|p| p.name.to_owned())
        .collect();
    let rounds = 20;
    let start = Instant::now();
    for _ in 0..rounds {
        for name in &names {
            black_box(model::parameter(black_box(name)));
        }
    }
    let lookup = start.elapsed() / (rounds * names.len()) as u32;

    let path = "Device.WiFi.SSID.12.Stats.BytesSent";
    let start = Instant::now();
    for _ in 0..10_000 {
        black_box(model::parameter(&model::template_of(black_box(path))));
    }
    let with_template = start.elapsed() / 10_000;

    println!(
        "tr181 table: {} objects, {} parameters; first use (parse) {parse:?}; \
         parameter() {lookup:?}; template_of + parameter() {with_template:?}",
        model::objects().len(),
        names.len(),
    );
}
