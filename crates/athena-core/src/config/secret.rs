//! [`Secret`]: a config value that prints as `***` and is noted for the redactor as it is
//! read.

use std::fmt;

use serde::Deserialize;

/// A secret from the config (a token). Prints as `***`; read it with [`Secret::expose`].
///
/// Every secret created while a source is built (read from its config or made by its
/// constructor) is collected by [`Registry::build_all`](crate::Registry::build_all), so the
/// engine and the CLI can mask it in any text a server echoes it into (see [`crate::redact`]).
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps a secret value.
    pub fn new(value: impl Into<String>) -> Self {
        let value = value.into();
        crate::redact::note_secret(&value);
        Secret(value)
    }

    /// The secret itself, for the one place that must send it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl<'de> Deserialize<'de> for Secret {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        String::deserialize(deserializer).map(Secret::new)
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}
