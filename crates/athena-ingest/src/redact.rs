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
    type Writer = LineWriter;

    fn make_writer(&'a self) -> LineWriter {
        LineWriter(Vec::new())
    }
}

/// Holds one event's text and writes it masked when dropped: tracing makes a writer per event,
/// and masking the whole event at once catches a secret split across several `write` calls.
pub(crate) struct LineWriter(Vec<u8>);

impl Write for LineWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Drop for LineWriter {
    fn drop(&mut self) {
        if self.0.is_empty() {
            return;
        }
        let text = redact(&String::from_utf8_lossy(&self.0));
        // Nowhere to report a failing stderr.
        let _ = std::io::stderr().lock().write_all(text.as_bytes());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn remembered_secrets_are_masked_in_errors() {
        let mut secrets = Redactor::new();
        secrets.add("xoxb-remembered");
        assert_eq!(redact("token xoxb-remembered"), "token xoxb-remembered");
        remember(&secrets);
        assert_eq!(redact("token xoxb-remembered"), "token ***");
    }
}
