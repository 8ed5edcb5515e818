//! The TOML configuration: store, engine settings and the list of sources.
//!
//! Parsing is two-step: the file is read into generic tables here, and each source's table is
//! turned into that source's typed config by [`SourceConfig::parse`]. Every error carries the file,
//! the line, the source id and the key it is about.
//!
//! - [`declare`]: [`declare_config!`](crate::declare_config), one declaration per key (type,
//!   default, range, doc) making a config struct, its checks and its [`ConfigKey`](crate::ConfigKey)s.
//! - `source`: [`SourceConfig`]; `error`: [`ConfigError`]; `env`: `${VAR}` and [`EnvError`];
//!   `secret`: [`Secret`]; `spans`: the line of each table and key, from the parser's spans.

pub mod declare;
mod env;
mod error;
mod feed;
mod links;
mod secret;
mod source;
mod spans;
mod value;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::de::DeserializeOwned;
use serde::Deserialize;

use env::substitute_env_in_table;
use source::backticked;
use spans::{DocumentLines, LineIndex, TableLines};

pub use declare::{ConfigValue, Declared, KeyRange, BATCH_SIZE_RANGE};
pub use env::{substitute_env, substitute_env_with, Env, EnvError};
pub use error::ConfigError;
pub use feed::FeedConfig;
pub use links::LinksSettings;
pub use secret::Secret;
pub use source::SourceConfig;

/// A parsed configuration file.
#[derive(Debug, Clone)]
pub struct Config {
    /// Where the store lives, if the file says (`[store] path`, a SQLite file).
    pub store_path: Option<PathBuf>,
    /// A PostgreSQL store's URL (`[store] url = "postgres://…"`, `${VAR}`s substituted).
    pub store_url: Option<String>,
    /// Engine settings.
    pub engine: EngineSettings,
    /// The sources, in file order.
    pub sources: Vec<SourceConfig>,
    /// `serve`'s settings.
    pub serve: ServeSettings,
    /// Workers sharing a PostgreSQL store.
    pub cluster: ClusterSettings,
    /// Where every stored event is published (`[[feeds]]`), in file order.
    pub feeds: Vec<FeedConfig>,
    /// How references across sources are found (`[links]`).
    pub links: LinksSettings,
    /// The people named in the config (`[[people]]`), who win over what the data joins.
    pub people: Vec<crate::people::PersonConfig>,
}

crate::declare_config! {
    /// Settings of the engine (`[engine]` table).
    #[derive(Debug, Clone, Copy)]
    pub struct EngineSettings {
        /// How many sources run at once.
        #[key(range = ENGINE_RANGE)]
        pub concurrency: usize = 4,
        /// How many batches may wait in the queue to the store's writer (all sources share it).
        /// Batches that wait are committed together (see [`Store::stage_batch`](crate::Store::stage_batch)).
        #[key(range = ENGINE_RANGE)]
        pub channel_capacity: usize = 2,
    }
}

impl Default for EngineSettings {
    fn default() -> Self {
        EngineSettings::defaults().expect("every engine setting has a default")
    }
}

/// The range of `engine.concurrency` and `engine.channel_capacity`.
const ENGINE_RANGE: KeyRange = KeyRange {
    min: 1,
    max: Some(1024),
};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    // Kept untyped here and typed by `parse_section`, so that a bad value is reported with its
    // key (`engine.concurrency`) and not only with toml's message.
    store: Option<toml::Value>,
    engine: Option<toml::Value>,
    serve: Option<toml::Value>,
    cluster: Option<toml::Value>,
    links: Option<toml::Value>,
    #[serde(default)]
    sources: Vec<toml::Table>,
    #[serde(default)]
    feeds: Vec<toml::Table>,
    #[serde(default)]
    people: Vec<toml::Table>,
}

/// Why an empty `[serve] api_token` is refused, and what to write instead.
const EMPTY_API_TOKEN: &str =
    "is empty (is its variable set but empty?); leave the key out to serve \
     without a token (loopback only), or set a token (e.g. `openssl rand -hex 32`)";

/// Settings of `athena-ingest serve` (`[serve]` table).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServeSettings {
    /// The address to listen on (`--listen` overrides; default `127.0.0.1:9464`).
    #[serde(default)]
    pub listen: Option<String>,
    /// A token every HTTP request but `/healthz` must carry as `Authorization: Bearer …`;
    /// required to listen on an address that is not loopback. Never empty (an empty value,
    /// also from `${VAR}`, is a config error): no token is the key left out.
    #[serde(default)]
    pub api_token: Option<Secret>,
    /// Origins (`https://app.example`) whose browser pages may call the recall API
    /// (`/v1/…`, `/openapi.json`) across origins; none by default, so CORS stays off.
    #[serde(default)]
    pub cors_origins: Vec<String>,
}

/// Settings of workers sharing a PostgreSQL store (`[cluster]` table).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClusterSettings {
    /// How long a worker's lease on a source lasts unless renewed (`lease_ttl`, default 30 s):
    /// a worker that dies loses its sources to the others after this long.
    pub lease_ttl: std::time::Duration,
}

impl Default for ClusterSettings {
    fn default() -> Self {
        ClusterSettings {
            lease_ttl: std::time::Duration::from_secs(30),
        }
    }
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawCluster {
    lease_ttl: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawStore {
    path: Option<String>,
    url: Option<String>,
}

/// The file a config came from, kept so errors can point at lines.
#[derive(Debug)]
pub(super) struct Origin {
    pub(super) file: Option<PathBuf>,
    pub(super) base_dir: PathBuf,
}

impl Config {
    /// Reads and parses a config file.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|e| ConfigError {
            file: Some(path.to_path_buf()),
            ..ConfigError::new(format!("cannot read config file: {e}"))
        })?;
        Config::parse(&text, Some(path))
    }

    /// [`Config::load`] of a file that must exist: a missing one is a config error that says
    /// how to make one.
    pub fn load_existing(path: &Path) -> Result<Config, ConfigError> {
        if !path.exists() {
            return Err(ConfigError::new(format!(
                "config file {} not found (create one with `athena-ingest init`, or pass --config)",
                path.display()
            )));
        }
        Config::load(path)
    }

    /// [`Config::load_existing`] for running sources: a config without any is a config error,
    /// since running nothing and reporting success would hide a misspelled or empty file.
    pub fn load_with_sources(path: &Path) -> Result<Config, ConfigError> {
        let config = Config::load_existing(path)?;
        if config.sources.is_empty() {
            return Err(ConfigError {
                file: Some(path.to_path_buf()),
                ..ConfigError::new(
                    "no sources configured: add a [[sources]] table (`athena-ingest sources` lists the types)",
                )
            });
        }
        Ok(config)
    }

    /// Parses config text. `file` is used in error messages and to resolve relative paths.
    /// `${VAR}` takes the process environment's values.
    pub fn parse(text: &str, file: Option<&Path>) -> Result<Config, ConfigError> {
        Config::parse_with_env(text, file, Env::process())
    }

    /// [`Config::parse`] with `${VAR}` looked up in `env`.
    pub fn parse_with_env(
        text: &str,
        file: Option<&Path>,
        env: Env<'_>,
    ) -> Result<Config, ConfigError> {
        let origin = Arc::new(Origin::of(file));
        let toml_error = |e: toml::de::Error| ConfigError {
            file: origin.file.clone(),
            line: e.span().map(|s| LineIndex::new(text).line(s.start)),
            ..ConfigError::new(e.message().trim().to_string())
        };
        let doc = toml::de::DeTable::parse(text).map_err(toml_error)?;
        let mut lines = DocumentLines::new(text, doc.get_ref());
        let raw = RawConfig::deserialize(toml::de::Deserializer::from(doc)).map_err(toml_error)?;
        // Every problem is collected, so a file with several is fixed in one round.
        let mut errors = Vec::new();
        let store: Option<RawStore> = kept(
            parse_section(&origin, "store", &lines.store, raw.store),
            &mut errors,
        );
        let engine: Option<EngineSettings> = kept(
            parse_section(&origin, "engine", &lines.engine, raw.engine),
            &mut errors,
        );
        let serve = kept(
            parse_section(&origin, "serve", &lines.serve, raw.serve)
                .and_then(|serve| substitute_serve(serve, &origin, &lines.serve, env)),
            &mut errors,
        );
        let links: Option<LinksSettings> = kept(
            parse_section(&origin, "links", &lines.links, raw.links),
            &mut errors,
        );
        let cluster: Option<RawCluster> = kept(
            parse_section(&origin, "cluster", &lines.cluster, raw.cluster),
            &mut errors,
        );
        let cluster = match cluster.and_then(|c| c.lease_ttl) {
            None => ClusterSettings::default(),
            Some(text) => match crate::schedule::parse_duration(&text) {
                Ok(ttl) if ttl >= std::time::Duration::from_secs(1) => {
                    ClusterSettings { lease_ttl: ttl }
                }
                Ok(_) => {
                    errors.push(ConfigError {
                        file: origin.file.clone(),
                        line: lines.cluster.line_of(Some("lease_ttl")),
                        key: Some("cluster.lease_ttl".into()),
                        ..ConfigError::new(
                            "is under a second: give 1s or more (30s is the default)",
                        )
                    });
                    ClusterSettings::default()
                }
                Err(e) => {
                    errors.push(ConfigError {
                        file: origin.file.clone(),
                        line: lines.cluster.line_of(Some("lease_ttl")),
                        key: Some("cluster.lease_ttl".into()),
                        ..ConfigError::new(e.to_string())
                    });
                    ClusterSettings::default()
                }
            },
        };
        let mut feed_lines = std::mem::take(&mut lines.feeds).into_iter();
        let mut feeds: Vec<FeedConfig> = Vec::with_capacity(raw.feeds.len());
        for (i, table) in raw.feeds.into_iter().enumerate() {
            let lines = feed_lines.next().unwrap_or_default();
            match parse_feed(i, table, &origin, lines, env, &feeds) {
                Ok(feed) => feeds.push(feed),
                Err(e) => errors.push(e),
            }
        }
        let people = parse_people(
            raw.people,
            &origin,
            &std::mem::take(&mut lines.people),
            &mut errors,
        );
        let mut source_lines = std::mem::take(&mut lines.sources).into_iter();
        let mut sources: Vec<SourceConfig> = Vec::with_capacity(raw.sources.len());
        for (i, table) in raw.sources.into_iter().enumerate() {
            let lines = source_lines.next().unwrap_or_default();
            match parse_source(i, table, &origin, lines, env, &sources) {
                Ok(sc) => sources.push(sc),
                Err(e) => errors.push(e),
            }
        }
        let (store_path, store_url) = match store {
            Some(s) => (s.path, s.url),
            None => (None, None),
        };
        if store_path.is_some() && store_url.is_some() {
            errors.push(ConfigError {
                file: origin.file.clone(),
                line: lines.store.line_of(Some("url")),
                key: Some("store.url".into()),
                ..ConfigError::new(
                    "give [store] path (a SQLite file) or url (PostgreSQL), not both",
                )
            });
        }
        let store_url = match store_url.map(|u| substitute_env_with(&u, env)) {
            Some(Ok(u)) => Some(u),
            Some(Err(e)) => {
                errors.push(ConfigError {
                    file: origin.file.clone(),
                    line: lines.store.line_of(Some("url")),
                    key: Some("store.url".into()),
                    ..ConfigError::new(e.to_string())
                });
                None
            }
            None => None,
        };
        let store_path = match store_path {
            Some(p) => match substitute_env_with(&p, env) {
                Ok(p) => Some(origin.base_dir.join(p)),
                Err(e) => {
                    errors.push(ConfigError {
                        file: origin.file.clone(),
                        line: lines.store.line_of(Some("path")),
                        key: Some("store.path".into()),
                        ..ConfigError::new(e.to_string())
                    });
                    None
                }
            },
            None => None,
        };
        errors.sort_by_key(|e| e.line.unwrap_or(usize::MAX));
        if let Some(error) = ConfigError::all(errors) {
            return Err(error);
        }
        Ok(Config {
            store_path,
            store_url,
            engine: engine.unwrap_or_default(),
            sources,
            serve: serve.unwrap_or_default(),
            cluster,
            feeds,
            links: links.unwrap_or_default(),
            people,
        })
    }
}

/// The `[[people]]` tables; each problem (a bad key, text that is no handle, a handle in two
/// tables) is added to `errors`, naming `people[i]` and its line.
fn parse_people(
    tables: Vec<toml::Table>,
    origin: &Origin,
    lines: &[TableLines],
    errors: &mut Vec<ConfigError>,
) -> Vec<crate::people::PersonConfig> {
    let mut people = Vec::with_capacity(tables.len());
    for (i, table) in tables.into_iter().enumerate() {
        let lines = lines.get(i).cloned().unwrap_or_default();
        let at = |key: Option<&str>, message: String| ConfigError {
            file: origin.file.clone(),
            line: lines.line_of(key),
            key: Some(match key {
                Some(k) => format!("people[{i}].{k}"),
                None => format!("people[{i}]"),
            }),
            ..ConfigError::new(message)
        };
        let person: crate::people::PersonConfig =
            match serde_path_to_error::deserialize(toml::Value::Table(table)) {
                Ok(p) => p,
                Err(e) => {
                    let message = e.inner().message().trim().to_string();
                    let path = e.path().to_string();
                    let key = (!path.is_empty() && path != ".").then_some(path);
                    let key = key.or_else(|| backticked(&message));
                    errors.push(at(key.as_deref(), message));
                    continue;
                }
            };
        if person.name.trim().is_empty() {
            errors.push(at(Some("name"), "is empty: give the person's name".into()));
            continue;
        }
        if let Err(e) = person.all_handles() {
            errors.push(at(Some("handles"), e));
            continue;
        }
        people.push(person);
        if let Err(e) = crate::people::Resolver::new(&people) {
            errors.push(at(None, e));
            people.pop();
        }
    }
    people
}

/// `result`'s value, or `None` with its error added to `errors`.
fn kept<T>(result: Result<T, ConfigError>, errors: &mut Vec<ConfigError>) -> Option<T> {
    result.map_err(|e| errors.push(e)).ok()
}

impl Origin {
    /// Where `file` lives; relative paths in it resolve against its directory, made absolute so
    /// that paths in cursors, events and messages do not depend on where a later command runs.
    fn of(file: Option<&Path>) -> Origin {
        let base_dir = file
            .and_then(Path::parent)
            .map(Path::to_path_buf)
            .unwrap_or_default();
        let base_dir = if base_dir.as_os_str().is_empty() {
            std::env::current_dir().unwrap_or(base_dir)
        } else {
            std::path::absolute(&base_dir).unwrap_or(base_dir)
        };
        Origin {
            file: file.map(Path::to_path_buf),
            base_dir,
        }
    }
}

/// `[serve]` with `${VAR}` replaced in `listen` and `api_token`, as in every string: a token comes
/// from the environment.
fn substitute_serve(
    mut serve: ServeSettings,
    origin: &Origin,
    lines: &TableLines,
    env: Env<'_>,
) -> Result<ServeSettings, ConfigError> {
    let at = |key: &str, message: String| ConfigError {
        file: origin.file.clone(),
        line: lines.line_of(Some(key)),
        key: Some(format!("serve.{key}")),
        ..ConfigError::new(message)
    };
    if let Some(listen) = &serve.listen {
        let listen = substitute_env_with(listen, env).map_err(|e| at("listen", e.to_string()))?;
        serve.listen = Some(listen);
    }
    if let Some(token) = &serve.api_token {
        let value =
            substitute_env_with(token.expose(), env).map_err(|e| at("api_token", e.to_string()))?;
        // An empty token would guard nothing: "no token" is the key left out, which keeps
        // `serve` on loopback. A variable set to "" (an empty line in an env file) must
        // not pass for a token.
        if value.trim().is_empty() {
            return Err(at("api_token", EMPTY_API_TOKEN.to_string()));
        }
        serve.api_token = Some(Secret::new(value));
    }
    Ok(serve)
}

/// The `i`th `[[sources]]` table: its `id` (checked, and not one of `earlier`'s), `type` and
/// `schedule` taken out, `${VAR}` replaced in every string left.
fn parse_source(
    i: usize,
    mut table: toml::Table,
    origin: &Arc<Origin>,
    lines: TableLines,
    env: Env<'_>,
    earlier: &[SourceConfig],
) -> Result<SourceConfig, ConfigError> {
    let mut sc = parse_source_table(origin, lines);
    // `id` and `type` take `${VAR}` like every other string; their values are no secret.
    let id = take_string(&mut table, "id", &sc, &format!("sources[{i}]"), env)?;
    if id.is_empty()
        || !id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
    {
        return Err(sc.error(
            Some("id"),
            format!("invalid source id {id:?}: use letters, digits, '-', '_' or '.'"),
        ));
    }
    sc.id = id;
    if let Some(prev) = earlier.iter().find(|s| s.id == sc.id) {
        let prev_line = prev
            .lines
            .header
            .map(|l| format!(" (line {l})"))
            .unwrap_or_default();
        return Err(sc.error(
            Some("id"),
            format!("duplicate source id, already used{prev_line}"),
        ));
    }
    sc.source_type = take_string(&mut table, "type", &sc, &sc.id.clone(), env)?;
    // Every source may have a schedule (for `serve`); its own keys never include it.
    if table.contains_key("schedule") {
        let text = take_string(&mut table, "schedule", &sc, &sc.id.clone(), env)?;
        let schedule = text
            .parse::<crate::Schedule>()
            .map_err(|e| sc.error(Some("schedule"), e.to_string()))?;
        sc.schedule = Some(schedule);
    }
    if let Some(value) = table.remove("priority") {
        sc.priority = parse_priority(&value).map_err(|e| sc.error(Some("priority"), e))?;
    }
    let mut env_values = Vec::new();
    substitute_env_in_table(&mut table, &sc, "", env, &mut env_values)?;
    env_values.retain(|v| !v.is_empty());
    sc.env_values = env_values;
    sc.table = table;
    Ok(sc)
}

/// The `i`th `[[feeds]]` table: `type` (required) and `id` (else the type; not one of
/// `earlier`'s) taken out, `${VAR}` replaced in every string left.
fn parse_feed(
    i: usize,
    mut table: toml::Table,
    origin: &Arc<Origin>,
    lines: TableLines,
    env: Env<'_>,
    earlier: &[FeedConfig],
) -> Result<FeedConfig, ConfigError> {
    let mut sc = parse_source_table(origin, lines);
    let at = |sc: &SourceConfig, key: &str, message: String| ConfigError {
        source_id: None,
        key: Some(format!("feeds[{i}].{key}")),
        ..sc.error(Some(key), message)
    };
    let feed_type = match table.remove("type") {
        Some(toml::Value::String(t)) => t,
        Some(other) => {
            return Err(at(
                &sc,
                "type",
                format!("expected a string, found {}", other.type_str()),
            ))
        }
        None => return Err(at(&sc, "type", "missing required key (`nats`)".into())),
    };
    let id = match table.remove("id") {
        Some(toml::Value::String(id)) => id,
        Some(other) => {
            return Err(at(
                &sc,
                "id",
                format!("expected a string, found {}", other.type_str()),
            ))
        }
        None => feed_type.clone(),
    };
    if id.is_empty()
        || !id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_'))
    {
        return Err(at(
            &sc,
            "id",
            format!("invalid feed id {id:?}: use letters, digits, '-' or '_'"),
        ));
    }
    if earlier.iter().any(|f| f.id == id) {
        return Err(at(
            &sc,
            "id",
            format!("duplicate feed id {id:?}: give each feed its own `id`"),
        ));
    }
    sc.id.clone_from(&id);
    sc.source_type.clone_from(&feed_type);
    let mut env_values = Vec::new();
    substitute_env_in_table(&mut table, &sc, "", env, &mut env_values)?;
    env_values.retain(|v| !v.is_empty());
    sc.env_values = env_values;
    sc.table = table;
    Ok(FeedConfig::new(id, feed_type, sc))
}

/// An empty table config at `lines` of the file `origin`, to be filled in.
fn parse_source_table(origin: &Arc<Origin>, lines: TableLines) -> SourceConfig {
    SourceConfig {
        id: String::new(),
        source_type: String::new(),
        table: toml::Table::new(),
        env_values: Vec::new(),
        origin: origin.clone(),
        lines,
        store_path: None,
        schedule: None,
        priority: 0,
    }
}

/// Types a top-level table (`[store]`, `[engine]`); an error names `section.key` and its line.
fn parse_section<T: DeserializeOwned + Default>(
    origin: &Origin,
    section: &str,
    lines: &TableLines,
    value: Option<toml::Value>,
) -> Result<T, ConfigError> {
    let Some(value) = value else {
        return Ok(T::default());
    };
    serde_path_to_error::deserialize::<_, T>(value).map_err(|e| {
        let message = e.inner().message().trim().to_string();
        let path = e.path().to_string();
        let key = if path.is_empty() || path == "." {
            backticked(&message)
        } else {
            Some(path)
        };
        ConfigError {
            file: origin.file.clone(),
            line: lines.line_of(key.as_deref()),
            key: Some(match key {
                Some(k) => format!("{section}.{k}"),
                None => section.to_string(),
            }),
            ..ConfigError::new(message)
        }
    })
}

/// A source's `priority`: an integer in [`PRIORITIES`]; higher runs first.
fn parse_priority(value: &toml::Value) -> Result<i32, String> {
    let toml::Value::Integer(n) = value else {
        return Err(format!("expected an integer, found {}", value.type_str()));
    };
    i32::try_from(*n)
        .ok()
        .filter(|n| PRIORITIES.contains(n))
        .ok_or_else(|| {
            format!(
                "must be between {} and {}, not {n}",
                PRIORITIES.start(),
                PRIORITIES.end()
            )
        })
}

/// The priorities a source may have; 0 is the default.
pub const PRIORITIES: std::ops::RangeInclusive<i32> = -1000..=1000;

fn take_string(
    table: &mut toml::Table,
    key: &str,
    sc: &SourceConfig,
    who: &str,
    env: Env<'_>,
) -> Result<String, ConfigError> {
    let err = |message: String| {
        let mut e = sc.error(Some(key), message);
        e.source_id = Some(who.to_string());
        e
    };
    match table.remove(key) {
        Some(toml::Value::String(s)) => {
            substitute_env_with(&s, env).map_err(|e| err(e.to_string()))
        }
        Some(other) => Err(err(format!(
            "expected a string, found {}",
            other.type_str()
        ))),
        None => Err(err("missing required key".to_string())),
    }
}

#[cfg(test)]
mod tests;
