//! The `singer` source's configuration: a `[[sources]]` entry with `type = "singer"`.

use std::borrow::Cow;
use std::collections::BTreeMap;

use athena_core::config::{ConfigValue, BATCH_SIZE_RANGE};
use serde::Deserialize;
use serde_json::{Map, Value};

use super::mapping::StreamMapping;

athena_core::declare_config! {
    /// Configuration of a `singer` source.
    #[derive(Debug, Clone)]
    pub struct SingerConfig {
        /// The tap's program and arguments: `["tap-github"]`, `["/opt/venv/bin/tap-jsonl"]`,
        /// `["python3", "tap.py"]`. A program with a `/` is relative to the config file, one
        /// without is looked up on `PATH`. athena-ingest adds `--config`, `--state` and
        /// `--catalog` itself.
        #[key(kind = "array of strings")]
        pub command: Vec<String>,
        /// The tap's settings: a table, written as JSON to a private temporary file (mode 0600,
        /// removed after the run) and passed with `--config`; or the path of a JSON file.
        /// `${VAR}` in the table's strings is replaced like anywhere in the config, and those
        /// values, and every string under a key naming a password, secret, token or key, are
        /// masked in logs and errors.
        #[key(default_text = "no --config")]
        pub config: Option<TapSettings> = None,
        /// The catalog (a path), passed with `catalog_option`. Without one, and with `streams`
        /// naming streams, the catalog is discovered each run (`--discover`) and those streams
        /// selected; with neither, the tap syncs what it syncs by default.
        #[key(kind = "path")]
        pub catalog: Option<String> = None,
        /// Whether a tap without `catalog` but with `streams` is asked `--discover` to select
        /// them; false for a tap that cannot discover (it then syncs what it syncs by
        /// default, and only the streams named are stored).
        pub discover: bool = true,
        /// The option a catalog is passed with: `"--catalog"`, or `"--properties"` for older
        /// taps.
        pub catalog_option: String = "--catalog".into(),
        /// The streams to store, each with its mapping to events (every key optional):
        /// `kind` (default the stream's name), `occurred_at` (a field, default the replication
        /// key, else `time_extracted`), `actor`, `body`, `url` (fields), `title` (a template:
        /// `"{name} signed up"`), `id` (a template; default the key properties, else a hash of
        /// the record). Empty: every stream, with the defaults.
        #[key(default_text = "every stream")]
        pub streams: BTreeMap<String, StreamMapping> = BTreeMap::new(),
        /// Variables added to the tap's environment (`TAP_GITHUB_TOKEN = "${GITHUB_TOKEN}"`);
        /// `${VAR}` values, and the values of variables naming a secret, are masked like the
        /// settings'.
        pub env: BTreeMap<String, String> = BTreeMap::new(),
        /// A longer stdout line is refused (a dead letter naming its line), never buffered.
        #[key(range = 1024..=1 << 30)]
        pub max_record_bytes: usize = 16 << 20,
        /// Seconds a tap has to exit after SIGTERM when the sync stops, before SIGKILL.
        #[key(range = 0..=3600)]
        pub stop_grace_secs: u64 = 5,
        /// Records per stored batch, at most: a batch is cut at a STATE message once this many
        /// records wait (or the first has waited a second). A tap that sends no STATE for
        /// four times this many records has them stored with its previous STATE, so memory
        /// stays bounded (they are read again, as duplicates, if the run then fails).
        #[key(range = BATCH_SIZE_RANGE)]
        pub batch_size: usize = 2_000,
    }
}

/// A tap's settings: a table, or a file.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(untagged)]
pub enum TapSettings {
    /// A JSON file the tap reads.
    Path(String),
    /// Settings written to a private file for each run.
    Table(Map<String, Value>),
}

impl ConfigValue for TapSettings {
    fn kind() -> Cow<'static, str> {
        "table, or path".into()
    }
    fn to_toml(&self) -> Option<String> {
        None
    }
}

impl ConfigValue for StreamMapping {
    fn kind() -> Cow<'static, str> {
        "table".into()
    }
    fn to_toml(&self) -> Option<String> {
        None
    }
}

/// Whether a settings key names a secret (its string values are masked): `password`,
/// `client_secret`, `api_token`, `api_key`, `private_key`, `credentials`, `auth`, but not
/// `replication_key` or `primary_keys`.
pub fn is_secret_key(key: &str) -> bool {
    let key = key.to_ascii_lowercase();
    ["password", "passwd", "secret", "token", "credential", "auth"]
        .iter()
        .any(|word| key.contains(word))
        || key == "key"
        || ["api_key", "apikey", "private_key", "access_key", "client_key", "signing_key"]
            .iter()
            .any(|word| key.ends_with(word))
}
