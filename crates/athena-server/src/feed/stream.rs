//! Connecting to NATS, and the stream a feed publishes to: made, or checked, by `feed init`
//! (and checked before a relay publishes).

use std::time::Duration;

use anyhow::{anyhow, bail, Context, Result};
use async_nats::jetstream::{self, stream};
use async_nats::ConnectOptions;

use super::settings::{Auth, NatsSettings};

/// Connects to the feed's server, signing in as its settings say.
pub async fn connect(settings: &NatsSettings) -> Result<async_nats::Client> {
    let options = ConnectOptions::new()
        .name("athena-ingest")
        .connection_timeout(Duration::from_secs(3))
        .request_timeout(Some(Duration::from_secs(10)));
    let options = match &settings.auth {
        Auth::None => options,
        Auth::UserPassword(user, password) => {
            options.user_and_password(user.clone(), password.expose().to_string())
        }
        Auth::Token(token) => options.token(token.expose().to_string()),
        Auth::Nkey(seed) => options.nkey(seed.expose().to_string()),
        Auth::CredentialsFile(file) => options
            .credentials_file(file)
            .await
            .with_context(|| format!("feed {}: reading {}", settings.id, file.display()))?,
    };
    options.connect(settings.url.as_str()).await.map_err(|e| {
        let e = crate::redact::redact(&e.to_string());
        anyhow!(
            "feed {}: connecting to {}: {e}",
            settings.id,
            settings.shown_url()
        )
    })
}

/// The stream the feed's settings ask for.
pub fn wanted(settings: &NatsSettings) -> stream::Config {
    stream::Config {
        name: settings.stream.clone(),
        subjects: vec![settings.stream_subjects()],
        storage: stream::StorageType::File,
        num_replicas: settings.replicas,
        duplicate_window: settings.duplicate_window,
        allow_atomic_publish: true,
        ..Default::default()
    }
}

/// Connects and [`init`]s the feed's stream.
pub async fn init_stream(settings: &NatsSettings) -> Result<Made> {
    let client = connect(settings).await?;
    init(&jetstream::new(client), settings).await
}

/// What `feed init` did.
#[derive(Debug, PartialEq, Eq)]
pub enum Made {
    /// There was no such stream: it was made.
    Created,
    /// The stream was there, as the settings say.
    Checked,
}

/// Creates the stream, or checks that the one there is as the settings say: its subjects,
/// file storage, replicas, duplicate window, atomic batches, and no limit that removes
/// messages (the relay's check of what it published reads the last message of a subject).
pub async fn init(js: &jetstream::Context, settings: &NatsSettings) -> Result<Made> {
    let want = wanted(settings);
    match js.get_stream(&settings.stream).await {
        Ok(mut found) => {
            let info = found.info().await.map_err(|e| {
                anyhow!(
                    "feed {}: reading stream {}: {e}",
                    settings.id,
                    settings.stream
                )
            })?;
            let problems = mismatches(&info.config, &want);
            if problems.is_empty() {
                Ok(Made::Checked)
            } else {
                bail!(
                    "feed {}: stream {} differs from the feed's settings: {}",
                    settings.id,
                    settings.stream,
                    problems.join("; ")
                )
            }
        }
        Err(e) if is_not_found(&e) => {
            js.create_stream(want).await.map_err(|e| {
                anyhow!(
                    "feed {}: creating stream {}: {e}",
                    settings.id,
                    settings.stream
                )
            })?;
            Ok(Made::Created)
        }
        Err(e) => bail!(
            "feed {}: reading stream {}: {e}",
            settings.id,
            settings.stream
        ),
    }
}

fn is_not_found(e: &jetstream::context::GetStreamError) -> bool {
    matches!(e.kind(), jetstream::context::GetStreamErrorKind::JetStream(j)
        if j.error_code() == jetstream::ErrorCode::STREAM_NOT_FOUND)
}

/// How `found` differs from `want`, one phrase each.
fn mismatches(found: &stream::Config, want: &stream::Config) -> Vec<String> {
    let mut out = Vec::new();
    if !found.subjects.iter().any(|s| s == &want.subjects[0]) {
        out.push(format!(
            "its subjects are {:?}, not {:?}",
            found.subjects, want.subjects
        ));
    }
    if found.storage != stream::StorageType::File {
        out.push("it keeps messages in memory, not in files".into());
    }
    if found.num_replicas.max(1) != want.num_replicas {
        out.push(format!(
            "it has {} replicas, not {}",
            found.num_replicas, want.num_replicas
        ));
    }
    if found.duplicate_window != want.duplicate_window {
        out.push(format!(
            "its duplicate window is {:?}, not {:?}",
            found.duplicate_window, want.duplicate_window
        ));
    }
    if !found.allow_atomic_publish {
        out.push("it does not allow atomic batches (allow_atomic)".into());
    }
    let removes = [
        (found.max_age != Duration::ZERO, "max_age"),
        (found.max_messages > 0, "max_msgs"),
        (found.max_bytes > 0, "max_bytes"),
        (found.max_messages_per_subject > 0, "max_msgs_per_subject"),
        (
            found.retention != stream::RetentionPolicy::Limits,
            "a retention other than limits",
        ),
    ];
    for (set, what) in removes {
        if set {
            out.push(format!("it removes messages ({what})"));
        }
    }
    out
}
