//! Parse-only throughput of the `api_log` line parser: reads a log, parses every line, and
//! prints lines per second. `scripts/bench-api-log.sh` runs it.
//!
//! Usage: `cargo run --release -p athena-sources --example api_log_parse -- FILE [combined|common]`

use std::time::Instant;

use athena_sources::api_log::parse::parse_clf;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let path = args
        .next()
        .ok_or("usage: api_log_parse FILE [combined|common]")?;
    let combined = args.next().as_deref() != Some("common");
    let text = std::fs::read(&path)?;
    let start = Instant::now();
    let (mut ok, mut bad, mut bytes) = (0u64, 0u64, 0u64);
    for line in text.split(|&b| b == b'\n').filter(|l| !l.is_empty()) {
        let line = String::from_utf8_lossy(line);
        match parse_clf(&line, combined) {
            Ok(r) => {
                ok += 1;
                bytes += r.bytes.unwrap_or(0);
            }
            Err(_) => bad += 1,
        }
    }
    let secs = start.elapsed().as_secs_f64();
    println!(
        "parsed {ok} lines ({bad} bad) in {secs:.3} s: {:.0} lines/s (checksum {bytes})",
        (ok + bad) as f64 / secs
    );
    Ok(())
}
