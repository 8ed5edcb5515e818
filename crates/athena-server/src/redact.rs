//! The config's secrets, masked in everything this process writes: log lines and errors. Known
//! once the sources are built; before that no secret has been read, so there is nothing to mask.
//! `serve` remembers every token it reads (sources', `[serve] api_token`), so that whoever
//! writes the process's stderr (the binary's log writer) masks them with [`redact`].

use std::sync::RwLock;

use athena_core::Redactor;

/// Process-wide: a log writer and a final error print have no other way to reach them.
static SECRETS: RwLock<Redactor> = RwLock::new(Redactor::new());

/// Adds secrets to mask from now on.
pub fn remember(secrets: &Redactor) {
    SECRETS
        .write()
        .unwrap_or_else(|p| p.into_inner())
        .merge(secrets);
}

/// `text` with every remembered secret masked.
pub fn redact(text: &str) -> String {
    SECRETS
        .read()
        .unwrap_or_else(|p| p.into_inner())
        .redact(text)
        .into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    // One test: the secrets are process-wide, and tests of one binary share the process.
    #[test]
    fn remembered_secrets_are_masked() {
        let mut secrets = Redactor::new();
        secrets.add("xoxb-remembered");
        assert_eq!(redact("token xoxb-remembered"), "token xoxb-remembered");
        remember(&secrets);
        assert_eq!(redact("token xoxb-remembered"), "token ***");
    }
}
