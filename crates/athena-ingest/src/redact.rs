//! Stderr for the logs, with the config's secrets masked in every line (of any crate, through the
//! tracing writer); the secrets themselves are remembered by `athena_server::redact`, which the
//! final error print masks with too.

use std::io::Write;

pub(crate) use athena_server::redact::{redact, remember};
use tracing_subscriber::fmt::MakeWriter;

/// Stderr for tracing, masking secrets in each log line.
pub(crate) struct Stderr;

impl<'a> MakeWriter<'a> for Stderr {
    type Writer = LineWriter<std::io::Stderr>;

    fn make_writer(&'a self) -> Self::Writer {
        LineWriter {
            text: Vec::new(),
            out: std::io::stderr(),
        }
    }
}

/// Holds one event's text and writes it masked to `out` when dropped: tracing makes a writer
/// per event, and masking the whole event at once catches a secret split across `write` calls.
pub(crate) struct LineWriter<W: Write> {
    text: Vec<u8>,
    out: W,
}

impl<W: Write> Write for LineWriter<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.text.extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<W: Write> Drop for LineWriter<W> {
    fn drop(&mut self) {
        if self.text.is_empty() {
            return;
        }
        let text = redact(&String::from_utf8_lossy(&self.text));
        // Nowhere to report a failing stderr.
        let _ = self.out.write_all(text.as_bytes());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // One test: the secrets are process-wide, and tests of one binary share the process.
    #[test]
    fn remembered_secrets_are_masked_in_log_lines_written_in_pieces() {
        let mut secrets = athena_core::Redactor::new();
        secrets.add("xoxb-remembered");
        remember(&secrets);

        let mut out = Vec::new();
        {
            let mut line = LineWriter {
                text: Vec::new(),
                out: &mut out,
            };
            line.write_all(b"WARN retry: xoxb-reme").unwrap();
            line.write_all(b"mbered echoed\n").unwrap();
        }
        assert_eq!(String::from_utf8(out).unwrap(), "WARN retry: *** echoed\n");
    }
}
