//! The config's secrets, masked in everything this process writes to stderr: log lines (of any
//! crate, through the tracing writer) and the final error. Known once the sources are built;
//! before that no secret has been read, so there is nothing to mask.

use std::io::Write;
use std::sync::RwLock;

use athena_core::Redactor;
use tracing_subscriber::fmt::MakeWriter;

/// Process-wide: the tracing writer and `main`'s error print have no other way to reach them.
static SECRETS: RwLock<Redactor> = RwLock::new(Redactor::new());

/// Adds secrets to mask from now on.
pub(crate) fn remember(secrets: &Redactor) {
    SECRETS
        .write()
        .unwrap_or_else(|p| p.into_inner())
        .merge(secrets);
}

/// `text` with every remembered secret masked.
pub(crate) fn redact(text: &str) -> String {
    SECRETS
        .read()
        .unwrap_or_else(|p| p.into_inner())
        .redact(text)
        .into_owned()
}

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
    fn remembered_secrets_are_masked_in_errors_and_in_log_lines_written_in_pieces() {
        let mut secrets = Redactor::new();
        secrets.add("xoxb-remembered");
        assert_eq!(redact("token xoxb-remembered"), "token xoxb-remembered");
        remember(&secrets);
        assert_eq!(redact("token xoxb-remembered"), "token ***");

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
