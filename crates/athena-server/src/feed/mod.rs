//! Feeds: every stored event published to a NATS JetStream stream exactly once, for the
//! programs downstream (an indexer, a summariser, alerting).
//!
//! The store keeps an outbox (see `athena_core::outbox`): each batch that stores events
//! writes an entry for them in the same transaction as the events and the cursor. A relay
//! publishes the outbox (`relay`) in atomic batches (`batch`) to the stream that `feed init`
//! made or checked (`stream`), and records what it published in the store (`store`).
//!
//! - `settings`: a `[[feeds]] type = "nats"` table, typed;
//! - `stream`: connecting, and making or checking the stream;
//! - `batch`: one atomic batch, sent by hand;
//! - `relay`: the outbox to the stream, each event once, in storing order per source;
//! - `follow`: a relay that keeps publishing as sources store (`serve`);
//! - `store`: the relay's view of the store;
//! - `tail`: the feed read back from a durable consumer.

mod batch;
mod follow;
mod relay;
mod settings;
mod store;
mod stream;
mod tail;

pub use follow::{follow, Follow};
pub use relay::{Published, Relay};
pub use settings::{settings_of, Auth, NatsSettings, MAX_BATCH};
pub use store::{FeedStore, OwnedStore};
pub use stream::{connect, init, init_stream, wanted, Made};
pub use tail::tail;
