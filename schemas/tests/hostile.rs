//! A stream of more than 100 MB of random and mutated envelopes: the reader never panics, and
//! no single read allocates more than a fixed multiple of its input.
//!
//! The test binary holds only this test, so the counting allocator sees nothing else. Before
//! each read the allocator's ceiling is set to what is allocated now plus the budget; a read
//! that wanted more would abort the process, failing the test.

// Shared with the emit-samples example; this test needs only the envelopes, not the writer.
#[allow(dead_code)]
#[path = "../examples/emit-samples/samples.rs"]
mod samples;

use std::alloc::System;
use std::path::Path;

use cap::Cap;
use schemas::{Envelope, Limits};

#[global_allocator]
static ALLOCATOR: Cap<System> = Cap::new(System, usize::MAX);

/// Bytes a read may allocate beyond what it was given: 16 times the input, plus room for the
/// reader's fixed state.
fn budget(input_len: usize) -> usize {
    16 * input_len + 256 * 1024
}

/// xorshift64*: deterministic, so a failure reproduces.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

fn seeds() -> Vec<Vec<u8>> {
    let mut seeds: Vec<Vec<u8>> = samples::envelopes().iter().map(Envelope::write).collect();
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/cwmp-samples");
    let mut stack = vec![dir];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else {
                let raw = std::fs::read(&path).unwrap();
                // Captures: keep from the envelope on.
                let start = raw.windows(5).position(|w| w == b"<?xml").unwrap_or(0);
                seeds.push(raw[start..].to_vec());
            }
        }
    }
    seeds
}

/// Attacks that target each limit, grown to sizes the limits must stop.
fn crafted() -> Vec<Vec<u8>> {
    let env = |body: &str| {
        format!(
            "<s:Envelope xmlns:s=\"http://schemas.xmlsoap.org/soap/envelope/\" \
             xmlns:c=\"urn:dslforum-org:cwmp-1-2\"><s:Body>{body}</s:Body></s:Envelope>"
        )
        .into_bytes()
    };
    let pvs = "<ParameterValueStruct><Name>A</Name><Value>1</Value></ParameterValueStruct>";
    let events = "<EventStruct><EventCode>1 BOOT</EventCode></EventStruct>";
    vec![
        env(&format!("{}{}", "<x>".repeat(100_000), "</x>".repeat(100_000))),
        env(&format!("<c:GetParameterValuesResponse><ParameterList>{}</ParameterList></c:GetParameterValuesResponse>", pvs.repeat(50_000))),
        env(&format!("<c:Inform><Event>{}</Event></c:Inform>", events.repeat(65))),
        env(&format!("<c:GetRPCMethodsResponse><MethodList><string>{}</string></MethodList></c:GetRPCMethodsResponse>", "M".repeat(1_000_000))),
        env(&format!("<c:Inform><ParameterList><ParameterValueStruct><Value>{}</Value></ParameterValueStruct></ParameterList></c:Inform>", "&amp;".repeat(200_000))),
        env(&format!("<c:Reboot {}/>", (0..5000).map(|i| format!("xmlns:p{i}=\"urn:x{i}\"")).collect::<Vec<_>>().join(" "))),
        // An array that announces four billion entries and holds one.
        env(&format!("<c:GetParameterValuesResponse><ParameterList xmlns:e=\"http://schemas.xmlsoap.org/soap/encoding/\" e:arrayType=\"c:ParameterValueStruct[4000000000]\">{pvs}</ParameterList></c:GetParameterValuesResponse>")),
        b"<!DOCTYPE l [<!ENTITY a \"aaaaaaaaaa\"><!ENTITY b \"&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;\">]><l>&b;</l>".to_vec(),
        b"<!DOCTYPE r [<!ENTITY x SYSTEM \"file:///etc/passwd\">]><r>&x;</r>".to_vec(),
        vec![b'<'; 5 * 1024 * 1024],
    ]
}

fn mutate(rng: &mut Rng, seeds: &[Vec<u8>]) -> Vec<u8> {
    let seed = &seeds[rng.below(seeds.len())];
    let mut out = seed.clone();
    match rng.below(7) {
        0 => (0..rng.below(2048)).map(|_| rng.next() as u8).collect(),
        1 => {
            for _ in 0..1 + rng.below(8) {
                let i = rng.below(out.len());
                if let Some(b) = out.get_mut(i) {
                    *b = rng.next() as u8;
                }
            }
            out
        }
        2 => {
            out.truncate(rng.below(out.len()));
            out
        }
        3 => {
            let other = &seeds[rng.below(seeds.len())];
            let from = rng.below(other.len());
            let to = (from + rng.below(512)).min(other.len());
            let at = rng.below(out.len());
            out.splice(at..at, other[from..to].iter().copied());
            out
        }
        4 => {
            // Repeat a slice many times: long lists, deep nesting, long text.
            let from = rng.below(out.len());
            let to = (from + 1 + rng.below(120)).min(out.len());
            let piece = out[from..to].to_vec();
            let times = 1 + rng.below(4000);
            out.splice(
                from..from,
                piece.iter().copied().cycle().take(piece.len() * times),
            );
            out
        }
        5 => {
            for _ in 0..1 + rng.below(4) {
                let at = rng.below(out.len());
                let tokens: [&[u8]; 8] = [
                    b"<",
                    b">",
                    b"&",
                    b"&#0;",
                    b"]]>",
                    b"xmlns:a=\"\"",
                    b"</",
                    b"&unknown;",
                ];
                let token = tokens[rng.below(tokens.len())];
                out.splice(at..at, token.iter().copied());
            }
            out
        }
        _ => {
            let at = rng.below(out.len());
            out.drain(at..(at + rng.below(64)).min(out.len()));
            out
        }
    }
}

fn read_within_budget(input: &[u8], ok: &mut usize) {
    let before = ALLOCATOR.allocated();
    ALLOCATOR.set_limit(before + budget(input.len())).unwrap();
    let result = Envelope::parse_with(input, &Limits::DEFAULT);
    if let Ok(env) = &result {
        *ok += 1;
        // What was read writes out, and that reads back to the same form.
        let written = env.write();
        let again = Envelope::parse(&written).expect("our own output reads back");
        assert_eq!(again.write(), written);
    }
    drop(result);
    ALLOCATOR.set_limit(usize::MAX).unwrap();
}

#[test]
fn a_100_mb_stream_of_hostile_envelopes_never_panics_nor_overallocates() {
    let seeds = seeds();
    let mut rng = Rng(0x5EED_CAFE_F00D_D00D);
    let (mut total, mut count, mut ok) = (0usize, 0usize, 0usize);
    for input in crafted() {
        total += input.len();
        count += 1;
        read_within_budget(&input, &mut ok);
    }
    while total < 100 * 1024 * 1024 {
        let input = mutate(&mut rng, &seeds);
        total += input.len();
        count += 1;
        read_within_budget(&input, &mut ok);
    }
    let peak = ALLOCATOR.max_allocated();
    eprintln!(
        "read {count} inputs, {} MB, {ok} well-formed; peak heap {} KiB",
        total / (1024 * 1024),
        peak / 1024
    );
    assert!(total >= 100 * 1024 * 1024);
    // Some mutations must stay valid, or the stream only exercised the first error paths.
    assert!(ok > count / 20, "only {ok} of {count} inputs parsed");
}
