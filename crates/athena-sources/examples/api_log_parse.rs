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
    let mut from = 0;
    for end in memchr::memchr_iter(b'\n', &text).chain([text.len()]) {
        let raw = &text[from..end];
        from = end + 1;
        if raw.is_empty() {
            continue;
        }
        // As the source does: valid UTF-8 is used in place, anything else decoded lossily.
        let line = match std::str::from_utf8(raw) {
            Ok(s) => std::borrow::Cow::Borrowed(s),
            Err(_) => String::from_utf8_lossy(raw),
        };
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
