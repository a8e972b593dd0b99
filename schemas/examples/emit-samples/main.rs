//! Writes one canonical envelope per CWMP message type to a folder, one file each, named after
//! the message element (`Inform.xml`, `Fault.xml`, ...):
//!
//! ```text
//! cargo run -p schemas --example emit-samples -- DIR
//! ```

mod samples;

use std::path::PathBuf;
use std::process::ExitCode;

fn main() -> ExitCode {
    let mut args = std::env::args_os().skip(1);
    let (Some(dir), None) = (args.next(), args.next()) else {
        eprintln!("usage: emit-samples DIR");
        return ExitCode::from(2);
    };
    match samples::write_all(&PathBuf::from(dir)) {
        Ok(files) => {
            println!("wrote {} envelopes", files.len());
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("emit-samples: {e}");
            ExitCode::FAILURE
        }
    }
}
