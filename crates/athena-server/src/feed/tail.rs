//! A consumer's side: the feed read back from a durable consumer, as JSON lines.

use std::io::Write;

use anyhow::{anyhow, Result};
use async_nats::jetstream::{self, consumer::pull, consumer::AckPolicy};
use athena_core::CancelToken;
use futures_util::StreamExt;

use super::settings::NatsSettings;

/// How many acknowledgements go out before one is waited for.
const CONFIRM_EVERY: u64 = 1000;

/// Writes each message of the feed's stream on `filter` (a subject, `*` wildcards allowed) to
/// `out`, one a line, from the durable consumer `durable`, acknowledging each once written;
/// until `count` messages, or `stop`. Returns how many it wrote.
pub async fn tail(
    settings: &NatsSettings,
    filter: &str,
    durable: &str,
    count: Option<u64>,
    stop: &CancelToken,
    out: &mut (dyn Write + Send),
) -> Result<u64> {
    let client = super::connect(settings).await?;
    let js = jetstream::new(client.clone());
    let stream = js.get_stream(&settings.stream).await.map_err(|e| {
        anyhow!(
            "feed {}: stream {}: {e} (make it with `athena-ingest feed init`)",
            settings.id,
            settings.stream
        )
    })?;
    let consumer = stream
        .get_or_create_consumer(
            durable,
            pull::Config {
                durable_name: Some(durable.to_string()),
                filter_subject: filter.to_string(),
                ack_policy: AckPolicy::Explicit,
                ..Default::default()
            },
        )
        .await
        .map_err(|e| anyhow!("feed {}: consumer {durable}: {e}", settings.id))?;
    let mut messages = consumer
        .messages()
        .await
        .map_err(|e| anyhow!("feed {}: reading: {e}", settings.id))?;
    let mut written = 0u64;
    while count.is_none_or(|c| written < c) {
        let next = tokio::select! {
            () = stop.cancelled() => break,
            next = messages.next() => next,
        };
        let Some(message) = next else { break };
        let message = message.map_err(|e| anyhow!("feed {}: reading: {e}", settings.id))?;
        out.write_all(&message.payload)?;
        out.write_all(b"\n")?;
        out.flush()?;
        written += 1;
        // Acknowledged once written. Acks go in order on one connection, so confirming every
        // thousandth, and the last, confirms all before it: a second run starts after them.
        let last = count.is_some_and(|c| written >= c);
        let acked = if last || written.is_multiple_of(CONFIRM_EVERY) {
            message.double_ack().await
        } else {
            message.ack().await
        };
        acked.map_err(|e| anyhow!("feed {}: acknowledging: {e}", settings.id))?;
    }
    // Stopped between confirmations: the acknowledgements sent go out before the connection.
    client
        .flush()
        .await
        .map_err(|e| anyhow!("feed {}: acknowledging: {e}", settings.id))?;
    Ok(written)
}
