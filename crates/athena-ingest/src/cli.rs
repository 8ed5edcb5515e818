//! The command line, as clap parses it.

use std::path::PathBuf;

use clap::{Parser, Subcommand, ValueEnum};

/// Pull episodic events out of git, logs, GitHub, Slack and more into an event store, exactly
/// once.
#[derive(Debug, Parser)]
#[command(name = "athena-ingest", version, about, max_term_width = 100)]
pub struct Cli {
    /// More logging (-v: info, -vv: debug, -vvv: trace). RUST_LOG overrides.
    #[arg(short, long, action = clap::ArgAction::Count, global = true)]
    pub verbose: u8,
    /// How log lines on stderr are written: for people, or one JSON object a line (for log
    /// shippers).
    #[arg(long, value_enum, default_value_t = LogFormat::Text, global = true)]
    pub log_format: LogFormat,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Write a commented starter config.
    Init {
        /// Where to write it.
        #[arg(long, short, default_value = "athena.toml")]
        config: PathBuf,
        /// Overwrite an existing file.
        #[arg(long)]
        force: bool,
    },
    /// Run the configured sources once, incrementally.
    Sync {
        /// The config file.
        #[arg(long, short, default_value = "athena.toml")]
        config: PathBuf,
        /// The store (default: the config's [store] path, else ./athena.db).
        #[arg(long)]
        db: Option<PathBuf>,
        /// Only these sources (repeatable).
        #[arg(long = "source", value_name = "ID")]
        sources: Vec<String>,
        /// Ignore saved cursors and read everything again (stored events are not duplicated).
        #[arg(long)]
        full: bool,
        /// Summary format.
        #[arg(long, value_enum, default_value_t = ReportFormat::Text)]
        format: ReportFormat,
    },
    /// Show stored events, newest first.
    Events {
        #[command(flatten)]
        db: DbArgs,
        /// Only these sources (repeatable).
        #[arg(long = "source", value_name = "ID")]
        sources: Vec<String>,
        /// Only these kinds (repeatable), e.g. commit.
        #[arg(long = "kind", value_name = "KIND")]
        kinds: Vec<String>,
        /// Only events that ended this way (repeatable).
        #[arg(long = "outcome", value_enum, value_name = "OUTCOME")]
        outcomes: Vec<OutcomeArg>,
        /// Actor contains this text (case-insensitive).
        #[arg(long)]
        actor: Option<String>,
        /// Only events naming this person, across sources: any of their handles
        /// (ada@corp.com, github:ada-l, slack:U024BE7LH) or their person id (`people` lists them).
        #[arg(long, value_name = "WHO")]
        person: Option<String>,
        /// Occurred at or after: RFC 3339, a date, or relative (7d, 12h, 30m).
        #[arg(long, value_name = "T")]
        since: Option<String>,
        /// Occurred before: RFC 3339, a date, or relative.
        #[arg(long, value_name = "T")]
        until: Option<String>,
        /// Full-text search over title and body: plain words must all match (else events
        /// with any of them, best first); "a phrase", OR, NOT, prefix*, title:word.
        #[arg(long, value_name = "Q")]
        search: Option<String>,
        /// At most this many events.
        #[arg(long, default_value_t = 50)]
        limit: usize,
        /// Output format.
        #[arg(long, value_enum, default_value_t = EventsFormat::Table)]
        format: EventsFormat,
    },
    /// Per source: cursor, last sync, event count, last error.
    Status {
        #[command(flatten)]
        db: DbArgs,
        /// Output format.
        #[arg(long, value_enum, default_value_t = ReportFormat::Text)]
        format: ReportFormat,
    },
    /// The kinds of the stored events, per source, with their counts: the values --kind
    /// takes.
    Kinds {
        #[command(flatten)]
        db: DbArgs,
        /// Only these sources (repeatable).
        #[arg(long = "source", value_name = "ID")]
        sources: Vec<String>,
        /// Output format.
        #[arg(long, value_enum, default_value_t = ReportFormat::Text)]
        format: ReportFormat,
    },
    /// The registered source types and their config keys; with TYPE, that type alone (its
    /// keys, default schedule and documentation page).
    Sources {
        /// Only this type, e.g. git.
        #[arg(value_name = "TYPE")]
        source_type: Option<String>,
        /// Output format.
        #[arg(long, value_enum, default_value_t = ReportFormat::Text)]
        format: ReportFormat,
    },
    /// Parse the config and run every source's health check.
    Validate {
        /// The config file.
        #[arg(long, short, default_value = "athena.toml")]
        config: PathBuf,
    },
    /// Bad input the sources kept aside: where it came from, why, and the text.
    DeadLetters {
        #[command(flatten)]
        db: DbArgs,
        /// Only this source's.
        #[arg(long = "source", value_name = "ID")]
        source: Option<String>,
        /// At most this many, newest first.
        #[arg(long, default_value_t = 50)]
        limit: usize,
        /// Output format.
        #[arg(long, value_enum, default_value_t = LettersFormat::Table)]
        format: LettersFormat,
    },
    /// Keep running: every source on its `schedule` key (else its type's default), with
    /// /healthz, /readyz, /metrics and the recall API (/v1/…, /openapi.json) over HTTP.
    ///
    /// The web timeline is at / (open http://127.0.0.1:9464/ in a browser) and MCP, for
    /// agents, at /mcp (streamable HTTP).
    ///
    /// With no [[sources]] in the config (or --db and no config file) it only serves the
    /// recall API, read-only, over an existing store.
    ///
    /// `live` sources (api_log and files by default) are followed: a change of their files
    /// runs them within moments, and they run every 30 s anyway. git runs every minute, github
    /// and slack every 5 minutes; a failing source backs off (doubling, capped at an hour).
    /// SIGHUP reloads the config. Listens on loopback unless [serve] api_token guards a wider
    /// address. SIGTERM or SIGINT stops after committing what was read.
    Serve {
        /// The config file.
        #[arg(long, short, default_value = "athena.toml")]
        config: PathBuf,
        /// The store (default: the config's [store] path, else ./athena.db).
        #[arg(long)]
        db: Option<PathBuf>,
        /// Where to answer HTTP (default: the config's [serve] listen, else 127.0.0.1:9464). An
        /// address that is not loopback needs [serve] api_token.
        #[arg(long, value_name = "ADDR")]
        listen: Option<String>,
        /// How often a `live` source whose paths cannot be watched (no inotify, too many
        /// directories) runs instead, in milliseconds.
        #[arg(long, value_name = "MS", default_value_t = 1000)]
        poll_interval_ms: u64,
    },
    /// Serve the store to agents over MCP on stdin/stdout (tools search_events, get_event,
    /// list_sources, timeline). Read-only; logs go to stderr.
    Mcp {
        #[command(flatten)]
        db: DbArgs,
    },
    /// Authorize access to an account once, in a browser, and print the keys for the config.
    Auth {
        #[command(subcommand)]
        service: crate::auth::AuthService,
    },
    /// The feeds of the config's [[feeds]] tables: every stored event published to a NATS
    /// JetStream stream.
    Feed {
        #[command(subcommand)]
        command: FeedCommand,
    },
    /// The events related to one, across sources: those about or mentioning a thing it is
    /// about or mentions (an issue key like PROJ-7, a pull request, a commit, a Slack message,
    /// a pipeline), the newest first.
    Related {
        #[command(flatten)]
        db: DbArgs,
        /// The event's source id.
        #[arg(value_name = "SOURCE")]
        source: String,
        /// The event's id.
        #[arg(value_name = "ID")]
        id: String,
        /// At most this many related events.
        #[arg(long, default_value_t = 50)]
        limit: usize,
        /// Output format (json: the event, its things and the related events, as
        /// `GET /v1/events/{source}/{id}/related` answers).
        #[arg(long, value_enum, default_value_t = ReportFormat::Text)]
        format: ReportFormat,
    },
    /// The people the stored events name, each with their handles across sources (emails,
    /// GitHub logins, Slack ids), joined by what the sources say and by [[people]].
    People {
        #[command(flatten)]
        db: DbArgs,
        /// Only the people with a handle, id or name containing this text.
        #[arg(value_name = "TEXT")]
        q: Option<String>,
        /// Output format (json: as `GET /v1/people` answers).
        #[arg(long, value_enum, default_value_t = ReportFormat::Text)]
        format: ReportFormat,
    },
    /// Find every stored event's references again with the config's [links] settings (after
    /// they changed), replacing the links stored.
    Relink {
        #[command(flatten)]
        db: DbArgs,
    },
    /// Every stored event in storing order, as JSON lines, or with --singer as a Singer tap
    /// writes them (SCHEMA, RECORD, STATE) for any Singer target: `athena-ingest export
    /// --singer --state state.json | target-jsonl`. Its STATE holds each source's storing position, so a
    /// run given the last one exports only what was stored since.
    Export {
        #[command(flatten)]
        db: DbArgs,
        /// Write Singer messages: stream `events`, a STATE after every 1,000 events read and at
        /// the end.
        #[arg(long)]
        singer: bool,
        /// Only these sources (repeatable).
        #[arg(long = "source", value_name = "ID")]
        sources: Vec<String>,
        /// Only events that occurred at or after: RFC 3339, a date, or relative (7d, 12h).
        #[arg(long, value_name = "T")]
        since: Option<String>,
        /// Go on from this Singer state (a file holding the last STATE's value, as a target
        /// prints it; its last line counts). Needs --singer.
        #[arg(long, value_name = "FILE")]
        state: Option<PathBuf>,
    },
    /// Create the store or bring its schema up to date (a SQLite file, or PostgreSQL with
    /// `--db postgres://…` or `[store] url`), as `sync` and `serve` do when they open it.
    Migrate {
        #[command(flatten)]
        db: DbArgs,
    },
    /// Make a SQLite store smaller without changing what it answers: pack the events still
    /// kept as JSON text (stored before their source had a dictionary, or by a release before
    /// packing) and give the space freed back (VACUUM, which may need up to twice the
    /// store's size in free disk). Takes the store's sync lock.
    Compact {
        #[command(flatten)]
        db: DbArgs,
    },
    /// Copy a whole store into an empty one, exactly: every event (in storing order, with
    /// when it was stored), cursor, run, dead letter and per-source state; from SQLite to
    /// PostgreSQL and back.
    Copy {
        /// The store to read: a file, or postgres://….
        #[arg(long, value_name = "STORE")]
        from: String,
        /// The store to write (created or migrated; it must hold no events yet).
        #[arg(long, value_name = "STORE")]
        to: String,
    },
    /// Forget a source's cursor: its next sync reads everything again.
    Reset {
        #[command(flatten)]
        db: DbArgs,
        /// The source id.
        #[arg(long = "source", value_name = "ID", required = true)]
        source: String,
    },
    /// Print a shell completion script, e.g.
    /// `athena-ingest completions bash > ~/.local/share/bash-completion/completions/athena-ingest`.
    Completions {
        /// The shell.
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Print the manual page (roff), e.g. `athena-ingest man | man -l -`; with COMMAND, that
    /// command's page (`athena-ingest man sync`).
    Man {
        /// A command, e.g. sync.
        #[arg(value_name = "COMMAND")]
        command: Option<String>,
    },
}

/// Where the store is.
#[derive(Debug, clap::Args)]
pub struct DbArgs {
    /// The store (default: the [store] path of ./athena.toml if it has one, else ./athena.db).
    #[arg(long)]
    pub db: Option<PathBuf>,
    /// The config whose [store] path to use when --db is not given.
    #[arg(long, short, default_value = "athena.toml")]
    pub config: PathBuf,
}

#[derive(Debug, Subcommand)]
pub enum FeedCommand {
    /// Create each feed's stream, or check that the one there is as the config says
    /// (subjects, file storage, replicas, duplicate window, atomic batches, nothing removed).
    Init {
        /// The config file.
        #[arg(long, short, default_value = "athena.toml")]
        config: PathBuf,
        /// Only this feed (its id).
        #[arg(long)]
        feed: Option<String>,
    },
    /// Print the feed as JSON lines (the `events --format jsonl` shape), from a durable
    /// consumer: a second run goes on where the first stopped.
    Tail {
        /// The config file.
        #[arg(long, short, default_value = "athena.toml")]
        config: PathBuf,
        /// The feed (its id; needed when the config has several).
        #[arg(long)]
        feed: Option<String>,
        /// Only this source's events.
        #[arg(long, value_name = "ID")]
        source: Option<String>,
        /// Only events of this kind.
        #[arg(long, value_name = "KIND")]
        kind: Option<String>,
        /// The durable consumer's name (one per reader that keeps its place).
        #[arg(long, default_value = "athena-tail")]
        durable: String,
        /// Stop after this many events (default: follow until Ctrl-C).
        #[arg(long, value_name = "N")]
        count: Option<u64>,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ReportFormat {
    Text,
    Json,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum EventsFormat {
    Table,
    /// One event a line, as JSON.
    Jsonl,
    /// The same as jsonl (one event a line), the name `sync` and `status` use.
    Json,
    Csv,
    /// One JSON object a line in the shape of Athena's `EpisodicEvent` (docs/recall-api.md).
    Athena,
}

/// `--outcome`: the names events are stored with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum OutcomeArg {
    Success,
    Failure,
    /// HTTP 4xx.
    #[value(name = "client_error")]
    ClientError,
    /// HTTP 5xx.
    #[value(name = "server_error")]
    ServerError,
}

impl From<OutcomeArg> for athena_core::Outcome {
    fn from(o: OutcomeArg) -> Self {
        match o {
            OutcomeArg::Success => athena_core::Outcome::Success,
            OutcomeArg::Failure => athena_core::Outcome::Failure,
            OutcomeArg::ClientError => athena_core::Outcome::ClientError,
            OutcomeArg::ServerError => athena_core::Outcome::ServerError,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LettersFormat {
    Table,
    /// One dead letter a line, as JSON.
    Jsonl,
    /// The same as jsonl.
    Json,
}
