//! One atomic batch to JetStream (ADR-50, nats-server 2.12+): every message or none is stored,
//! at consecutive stream sequences. async-nats has no API for it, so it is sent by hand: the
//! first message as a request (answered empty when the batch is open), the middle ones
//! published, the last one a request carrying `Nats-Batch-Commit`, answered with the ack.

use anyhow::{anyhow, Result};
use async_nats::HeaderMap;
use bytes::Bytes;

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

/// Sends `messages` as batch `id` (at most 64 characters).
pub async fn send(client: &async_nats::Client, id: &str, messages: &[Outgoing]) -> Result<Sent> {
    let n = messages.len();
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
        if i == 0 || last {
            let reply = client
                .request_with_headers(m.subject.clone(), headers, m.payload.clone())
                .await;
            let reply = match reply {
                Ok(reply) => reply,
                Err(e) => return Ok(Sent::Unknown(e.to_string())),
            };
            let answer = read(&reply.payload)?;
            if !last {
                // The batch is open (an empty answer), or refused as a whole.
                match answer {
                    None => continue,
                    Some(Sent::Stored { .. }) => {
                        return Err(anyhow!("JetStream answered the batch's first message with an ack: is atomic publishing on?"))
                    }
                    Some(other) => return Ok(other),
                }
            }
            return answer
                .ok_or_else(|| anyhow!("JetStream answered the batch's commit with nothing"));
        }
        if let Err(e) = client
            .publish_with_headers(m.subject.clone(), headers, m.payload.clone())
            .await
        {
            return Ok(Sent::Unknown(e.to_string()));
        }
    }
    Err(anyhow!("an empty batch"))
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
