//! Generates the TR-181 metadata table that `schemas::model` embeds, from the BBF "full" CWMP
//! data-model XML:
//!
//! ```text
//! cargo run -p schemas --example gen-tr181 -- \
//!     ../shared/schemas-ref/tr-181-2-17-0-cwmp-full.xml schemas/src/model/tr181.tsv
//! ```
//!
//! The output is deterministic; `tests/model.rs` checks that the committed table is what this
//! writes. The table format is described in `convert.rs`.

mod convert;

use std::process::ExitCode;

fn main() -> ExitCode {
    let mut args = std::env::args_os().skip(1);
    let (Some(input), Some(output), None) = (args.next(), args.next(), args.next()) else {
        eprintln!("usage: gen-tr181 TR-181-FULL.xml OUTPUT.tsv");
        return ExitCode::from(2);
    };
    let xml = match std::fs::read_to_string(&input) {
        Ok(xml) => xml,
        Err(e) => {
            eprintln!("gen-tr181: {}: {e}", input.to_string_lossy());
            return ExitCode::FAILURE;
        }
    };
    let (table, summary) = match convert::convert(&xml) {
        Ok(converted) => converted,
        Err(e) => {
            eprintln!("gen-tr181: {}: {e}", input.to_string_lossy());
            return ExitCode::FAILURE;
        }
    };
    if let Err(e) = std::fs::write(&output, &table) {
        eprintln!("gen-tr181: {}: {e}", output.to_string_lossy());
        return ExitCode::FAILURE;
    }
    println!(
        "{}: {} objects, {} parameters, {} enumerations, {} deleted items left out; {} bytes",
        summary.model,
        summary.objects,
        summary.parameters,
        summary.enumerations,
        summary.deleted,
        table.len()
    );
    ExitCode::SUCCESS
}
