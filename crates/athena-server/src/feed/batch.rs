//! One atomic batch to JetStream (ADR-50, nats-server 2.12+): every message or none is stored,
//! at consecutive stream sequences. async-nats has no API for it, so it is sent by hand: the
//! first message and the last (carrying `Nats-Batch-Commit`) ask for an answer on a reply
//! subject of the relay's own, the ones between are plain publishes; the first's answer
//! (empty when the batch opened) is not waited for before the rest goes out, so a batch costs
//! one round trip.

use std::time::Duration;

use anyhow::{anyhow, Result};
use async_nats::{HeaderMap, Subscriber};
use bytes::Bytes;
use futures_util::StreamExt;

/// One message of a batch.
pub struct Outgoing {
    pub subject: String,
    /// `Nats-Msg-Id`: `<source>/<event id>`.
    pub msg_id: String,
    /// `Nats-Expected-Last-Subject-Sequence`, on the first message of each subject.
    pub expected: Option<u64>,
    pub payload: Bytes,
}

/// What the server said of a batch.
#[derive(Debug)]
pub enum Sent {
    /// Stored: its last message at stream sequence `last`, `count` messages before it and
    /// including it.
    Stored { last: u64, count: u64 },
    /// Refused because something the relay assumed no longer holds: a subject's last
    /// sequence moved (10071, 10164) or a message id is already in the stream (10201). Some
    /// of it may already be stored: the relay reads the stream to know.
    Conflict { code: u64, description: String },
    /// No answer: it may or may not be stored.
    Unknown(String),
}

/// JetStream's codes for "what you assumed moved".
const CONFLICTS: [u64; 3] = [10071, 10164, 10201];

/// How long the answer to a batch is waited for.
const ANSWER_WAIT: Duration = Duration::from_secs(10);

/// Where a relay's batches are answered: a subscription to an inbox of its own, each batch
/// answered on `<inbox>.<batch id>`.
pub struct Replies {
    inbox: String,
    answers: Subscriber,
}

impl Replies {
    /// Subscribes to a new inbox of `client`.
    pub async fn new(client: &async_nats::Client) -> Result<Self> {
        let inbox = client.new_inbox();
        let answers = client
            .subscribe(format!("{inbox}.*"))
            .await
            .map_err(|e| anyhow!("subscribing to the answers: {e}"))?;
        Ok(Replies { inbox, answers })
    }
}

/// Sends `messages` as batch `id` (at most 64 characters, no `.`).
pub async fn send(
    client: &async_nats::Client,
    replies: &mut Replies,
    id: &str,
    messages: &[Outgoing],
) -> Result<Sent> {
    let n = messages.len();
    if n == 0 {
        return Err(anyhow!("an empty batch"));
    }
    let reply = format!("{}.{id}", replies.inbox);
    for (i, m) in messages.iter().enumerate() {
        let mut headers = HeaderMap::new();
        headers.insert("Nats-Batch-Id", id);
        headers.insert("Nats-Batch-Sequence", (i + 1).to_string().as_str());
        headers.insert("Nats-Msg-Id", m.msg_id.as_str());
        if let Some(seq) = m.expected {
            headers.insert(
                "Nats-Expected-Last-Subject-Sequence",
                seq.to_string().as_str(),
            );
        }
        let last = i + 1 == n;
        if last {
            headers.insert("Nats-Batch-Commit", "1");
        }
        let sent = if i == 0 || last {
            client
                .publish_with_reply_and_headers(
                    m.subject.clone(),
                    reply.clone(),
                    headers,
                    m.payload.clone(),
                )
                .await
        } else {
            client
                .publish_with_headers(m.subject.clone(), headers, m.payload.clone())
                .await
        };
        if let Err(e) = sent {
            return Ok(Sent::Unknown(e.to_string()));
        }
    }
    // The first message's answer (empty, or a refusal of the whole batch), then the commit's.
    let expected = if n > 1 { 2 } else { 1 };
    let mut answered = 0;
    let deadline = tokio::time::Instant::now() + ANSWER_WAIT;
    while answered < expected {
        let next = tokio::time::timeout_at(deadline, replies.answers.next()).await;
        let message = match next {
            Ok(Some(message)) => message,
            Ok(None) => return Ok(Sent::Unknown("the answers' subscription ended".into())),
            Err(_) => return Ok(Sent::Unknown(format!("no answer within {ANSWER_WAIT:?}"))),
        };
        // An answer to an earlier batch that timed out: not this one's.
        if message.subject.as_str() != reply {
            continue;
        }
        if message.status == Some(async_nats::StatusCode::NO_RESPONDERS) {
            return Err(anyhow!(
                "no stream takes subject {} (make it with `athena-ingest feed init`)",
                messages[0].subject
            ));
        }
        answered += 1;
        match read(&message.payload)? {
            None => continue,
            Some(Sent::Stored { last, count }) if answered == expected || n == 1 => {
                return Ok(Sent::Stored { last, count })
            }
            Some(Sent::Stored { .. }) => {
                return Err(anyhow!(
                    "JetStream answered the batch's first message with an ack: is atomic publishing on?"
                ))
            }
            Some(other) => return Ok(other),
        }
    }
    Err(anyhow!(
        "JetStream answered the batch's commit with nothing"
    ))
}

/// A JetStream answer: `None` if empty; an ack; a conflict; else an error.
fn read(payload: &[u8]) -> Result<Option<Sent>> {
    if payload.is_empty() {
        return Ok(None);
    }
    let answer: serde_json::Value = serde_json::from_slice(payload).map_err(|e| {
        anyhow!(
            "JetStream's answer is not JSON ({e}): {}",
            String::from_utf8_lossy(payload)
        )
    })?;
    if let Some(error) = answer.get("error") {
        let code = error["err_code"].as_u64().unwrap_or(0);
        let description = error["description"].as_str().unwrap_or("").to_string();
        if CONFLICTS.contains(&code) {
            return Ok(Some(Sent::Conflict { code, description }));
        }
        return Err(anyhow!(
            "JetStream refused the batch: {description} (error {code})"
        ));
    }
    let last = answer["seq"]
        .as_u64()
        .ok_or_else(|| anyhow!("JetStream's ack has no seq: {answer}"))?;
    let count = answer["count"].as_u64().unwrap_or(1);
    Ok(Some(Sent::Stored { last, count }))
}
