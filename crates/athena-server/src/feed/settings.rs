//! A `[[feeds]] type = "nats"` table, typed: where the stream is, how to sign in, and the
//! stream's settings that `feed init` makes and checks.

use std::path::PathBuf;
use std::time::Duration;

use athena_core::{Config, ConfigError, FeedConfig, Secret};
use serde::Deserialize;

/// The keys of a NATS feed.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Keys {
    url: String,
    #[serde(default = "default_stream")]
    stream: String,
    #[serde(default = "default_prefix")]
    subject_prefix: String,
    user: Option<String>,
    password: Option<Secret>,
    token: Option<Secret>,
    nkey: Option<Secret>,
    credentials: Option<PathBuf>,
    #[serde(default = "default_replicas")]
    replicas: usize,
    #[serde(default = "default_window")]
    duplicate_window: String,
    #[serde(default = "default_batch")]
    batch: usize,
}

fn default_stream() -> String {
    "ATHENA".into()
}
fn default_prefix() -> String {
    "athena".into()
}
fn default_replicas() -> usize {
    1
}
fn default_window() -> String {
    "2m".into()
}
fn default_batch() -> usize {
    MAX_BATCH
}

/// The most messages JetStream takes in one atomic batch.
pub const MAX_BATCH: usize = 1000;

/// The feeds of `config`, typed; a feed of an unknown type is a config error.
pub fn settings_of(config: &Config) -> Result<Vec<NatsSettings>, ConfigError> {
    let mut out = Vec::new();
    let mut errors = Vec::new();
    for f in &config.feeds {
        if f.feed_type != "nats" {
            let message = format!(
                "unknown feed type {:?}: the one there is, is `nats`",
                f.feed_type
            );
            errors.push(f.error(Some("type"), message));
            continue;
        }
        match NatsSettings::of(f) {
            Ok(s) => out.push(s),
            Err(e) => errors.push(e),
        }
    }
    // Two sources whose ids differ only where a subject cannot hold a character (`a.b` and
    // `a_b`) would share subjects, and each feed would take the other's events for its own.
    if !out.is_empty() {
        let mut seen: Vec<(String, &str)> = Vec::new();
        for source in &config.sources {
            let token = token(&source.id);
            if let Some((_, other)) = seen.iter().find(|(t, _)| *t == token) {
                errors.push(source.error(
                    Some("id"),
                    format!(
                        "with [[feeds]], a source id must differ from the others in more than                          '.' and '_': source {other} shares its subjects ({token})"
                    ),
                ));
            }
            seen.push((token, &source.id));
        }
    }
    // What these settings hold, and what `${VAR}` put in them, is masked wherever it could show.
    let mut secrets = athena_core::redact::Redactor::new();
    for f in &config.feeds {
        for value in f.env_values() {
            secrets.add(value);
        }
    }
    for s in &out {
        match &s.auth {
            Auth::UserPassword(_, secret) | Auth::Token(secret) | Auth::Nkey(secret) => {
                secrets.add_secret(secret)
            }
            Auth::None | Auth::CredentialsFile(_) => {}
        }
    }
    crate::redact::remember(&secrets);
    match ConfigError::all(errors) {
        Some(e) => Err(e),
        None => Ok(out),
    }
}

/// How a relay signs in.
#[derive(Clone)]
pub enum Auth {
    /// No credentials.
    None,
    /// `user` and `password`.
    UserPassword(String, Secret),
    /// `token`.
    Token(Secret),
    /// `nkey`: a seed (`SU…`).
    Nkey(Secret),
    /// `credentials`: a `.creds` file (a JWT and its nkey seed).
    CredentialsFile(PathBuf),
}

/// A NATS feed's settings.
#[derive(Clone)]
pub struct NatsSettings {
    /// The feed's id: names its progress in the store.
    pub id: String,
    /// The server, `nats://host:port` (or several, comma-separated).
    pub url: String,
    /// How to sign in.
    pub auth: Auth,
    /// The stream (`ATHENA`).
    pub stream: String,
    /// Subjects are `<prefix>.<source>.<kind>` (`athena`).
    pub subject_prefix: String,
    /// The stream's replicas (1; 3 for a cluster that must survive a node).
    pub replicas: usize,
    /// The stream's duplicate window (2 minutes).
    pub duplicate_window: Duration,
    /// Events per atomic batch, at most [`MAX_BATCH`].
    pub batch: usize,
}

impl NatsSettings {
    /// Types `feed`; an error names the feed, the key and its line.
    pub fn of(feed: &FeedConfig) -> Result<Self, ConfigError> {
        let keys: Keys = feed.parse()?;
        let duplicate_window = athena_core::schedule::parse_duration(&keys.duplicate_window)
            .map_err(|e| feed.error(Some("duplicate_window"), e.to_string()))?;
        if !(1..=MAX_BATCH).contains(&keys.batch) {
            let message = format!("must be between 1 and {MAX_BATCH}, not {}", keys.batch);
            return Err(feed.error(Some("batch"), message));
        }
        if !(1..=5).contains(&keys.replicas) {
            let message = format!("must be between 1 and 5, not {}", keys.replicas);
            return Err(feed.error(Some("replicas"), message));
        }
        for (key, value) in [
            ("stream", &keys.stream),
            ("subject_prefix", &keys.subject_prefix),
        ] {
            if value.is_empty()
                || !value
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_'))
            {
                let message = format!("{value:?}: use letters, digits, '-' or '_'");
                return Err(feed.error(Some(key), message));
            }
        }
        let auth = match (
            keys.user,
            keys.password,
            keys.token,
            keys.nkey,
            keys.credentials,
        ) {
            (None, None, None, None, None) => Auth::None,
            (Some(user), Some(password), None, None, None) => Auth::UserPassword(user, password),
            (None, None, Some(token), None, None) => Auth::Token(token),
            (None, None, None, Some(seed), None) => Auth::Nkey(seed),
            (None, None, None, None, Some(file)) => Auth::CredentialsFile(feed.resolve_path(&file)),
            _ => {
                return Err(feed.error(
                    None,
                    "give one way to sign in: user and password, token, nkey or credentials",
                ))
            }
        };
        Ok(NatsSettings {
            id: feed.id.clone(),
            url: keys.url,
            auth,
            stream: keys.stream,
            subject_prefix: keys.subject_prefix,
            replicas: keys.replicas,
            duplicate_window,
            batch: keys.batch,
        })
    }

    /// The subject of `source_id`'s events of `kind`: `<prefix>.<source>.<kind>`, with any
    /// character a subject token cannot hold (`.`, wildcards, spaces) as `_`.
    pub fn subject(&self, source_id: &str, kind: &str) -> String {
        format!(
            "{}.{}.{}",
            self.subject_prefix,
            token(source_id),
            token(kind)
        )
    }

    /// The server as messages name it: without a user and password in the URL.
    pub fn shown_url(&self) -> String {
        (self.url.split(','))
            .map(|one| match one.split_once("://") {
                Some((scheme, rest)) => match rest.rsplit_once('@') {
                    Some((_, host)) => format!("{scheme}://***@{host}"),
                    None => one.to_string(),
                },
                None => match one.rsplit_once('@') {
                    Some((_, host)) => format!("***@{host}"),
                    None => one.to_string(),
                },
            })
            .collect::<Vec<_>>()
            .join(",")
    }

    /// The subjects of the stream: `<prefix>.>`.
    pub fn stream_subjects(&self) -> String {
        format!("{}.>", self.subject_prefix)
    }
}

fn token(text: &str) -> String {
    let cleaned: String = text
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '-' | '_') {
                c
            } else {
                '_'
            }
        })
        .collect();
    if cleaned.is_empty() {
        "_".into()
    } else {
        cleaned
    }
}
