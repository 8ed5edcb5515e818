//! The registry: source type name → how to build a source from its config.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use crate::config::{ConfigError, KeyRange, SourceConfig};
use crate::redact::{collect_secrets, Redactor};
use crate::schedule::Schedule;
use crate::source::EventSource;
use serde_json::{Map, Value};

/// Builds a source from its config table.
pub type BuildFn =
    Arc<dyn Fn(&SourceConfig) -> Result<Box<dyn EventSource>, ConfigError> + Send + Sync>;

/// Whether a type's starter table, active as written, works for a config in a directory:
/// `Err(why)` has `init` write it commented out, with `why` above it.
pub type StarterCheck = fn(&Path) -> Result<(), String>;

/// One config key of a source type, for `athena-ingest sources` and the docs. Made by
/// [`declare_config!`](crate::declare_config) from the key's declaration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigKey {
    /// Key name.
    pub name: &'static str,
    /// Value type as a user writes it (`string`, `boolean`, `array of strings`).
    pub kind: String,
    /// Whether the key must be given.
    pub required: bool,
    /// The default as TOML (`500`, `"7d"`), or a description (`number of cores`).
    pub default: Option<String>,
    /// The values an integer key accepts.
    pub range: Option<KeyRange>,
    /// The key's doc comment, as one paragraph.
    pub doc: String,
}

/// A registered source type: everything the rest of the program knows of it, declared once in
/// the type's own module. Made with [`SourceType::new`] and the `with_` methods.
#[derive(Clone)]
#[non_exhaustive]
pub struct SourceType {
    /// The name used as `type = "…"` in the config.
    pub name: &'static str,
    /// One line about what it reads.
    pub description: &'static str,
    /// Its config keys besides `id` and `type`.
    pub keys: Vec<ConfigKey>,
    /// Its constructor.
    pub build: BuildFn,
    /// When `serve` runs a source of this type that sets no `schedule`
    /// ([`DEFAULT_SCHEDULE`](crate::schedule::DEFAULT_SCHEDULE) unless the type says otherwise).
    pub schedule: Schedule,
    /// What groups its events into episodes (a thread, an issue and its comments): templates
    /// over context keys, the first whose keys all have a value naming the episode, e.g.
    /// `["{channel}/{thread_ts}", "{channel}"]`. Empty: the source is one episode. See
    /// [`SourceType::episode_of`].
    pub episode: &'static [&'static str],
    /// Its `[[sources]]` table for the starter config `init` writes: TOML, commented out unless
    /// it should be active as written, led by a comment saying what it reads.
    pub starter: &'static str,
    /// Where an active starter table works (see [`SourceType::starter_for`]); `None`: anywhere.
    pub starter_check: Option<StarterCheck>,
    /// The people its events name (see [`people`](crate::people)); `None`: none.
    pub people: Option<crate::people::PeopleOf>,
}

impl SourceType {
    /// A type named `name`, described by `description`, with config `keys`, built by `build`;
    /// run every [`DEFAULT_SCHEDULE`](crate::schedule::DEFAULT_SCHEDULE), one episode per source,
    /// nothing in the starter config.
    pub fn new(
        name: &'static str,
        description: &'static str,
        keys: Vec<ConfigKey>,
        build: BuildFn,
    ) -> Self {
        SourceType {
            name,
            description,
            keys,
            build,
            schedule: Schedule::fallback(),
            episode: &[],
            starter: "",
            starter_check: None,
            people: None,
        }
    }

    /// Its default schedule, as a config would write it (`"5m"`, `"0 * * * *"`, `"live"`).
    ///
    /// # Panics
    /// If `schedule` does not parse: a declaration is a constant, and a test of the type's
    /// registration catches it.
    pub fn with_schedule(mut self, schedule: &str) -> Self {
        self.schedule = Schedule::parse(schedule)
            .unwrap_or_else(|e| panic!("source type {}: schedule {schedule:?}: {e}", self.name));
        self
    }

    /// How its events group into episodes (see [`SourceType::episode`]).
    pub fn with_episode(mut self, templates: &'static [&'static str]) -> Self {
        self.episode = templates;
        self
    }

    /// Its table in the starter config (see [`SourceType::starter`]).
    pub fn with_starter(mut self, starter: &'static str) -> Self {
        self.starter = starter;
        self
    }

    /// How to read the people its events name (see [`SourceType::people`]).
    pub fn with_people(mut self, people: crate::people::PeopleOf) -> Self {
        self.people = Some(people);
        self
    }

    /// Where its active starter table works (see [`SourceType::starter_for`]).
    pub fn with_starter_check(mut self, check: StarterCheck) -> Self {
        self.starter_check = Some(check);
        self
    }

    /// Its starter table for a config written in `dir`: as declared, or commented out under a
    /// line saying why when its [`starter_check`](Self::starter_check) says it would fail there
    /// (the why is returned too, for `init` to tell).
    pub fn starter_for(&self, dir: &Path) -> (Cow<'static, str>, Option<String>) {
        let why = match self.starter_check {
            Some(check) => match check(dir) {
                Ok(()) => return (Cow::Borrowed(self.starter), None),
                Err(why) => why,
            },
            None => return (Cow::Borrowed(self.starter), None),
        };
        let mut out = String::with_capacity(self.starter.len() + why.len() + 64);
        let mut told = false;
        for line in self.starter.lines() {
            if line.starts_with('#') {
                out.push_str(line);
            } else {
                if !told {
                    out.push_str(&format!("# Commented out: {why}.\n"));
                    told = true;
                }
                out.push_str("# ");
                out.push_str(line);
            }
            out.push('\n');
        }
        (Cow::Owned(out), Some(why))
    }

    /// The episode `context` belongs to, by the first of [`episode`](Self::episode)'s templates
    /// whose keys all have a value (a string, or a number or boolean as JSON writes it; an
    /// empty string or `null` counts as no value). `None` when none applies.
    pub fn episode_of(&self, context: &Map<String, Value>) -> Option<String> {
        self.episode.iter().find_map(|t| fill_template(t, context))
    }
}

/// `template` with each `{key}` replaced by `context[key]`, or `None` if a key has no value.
fn fill_template(template: &str, context: &Map<String, Value>) -> Option<String> {
    let mut out = String::new();
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        let close = open + rest[open..].find('}')?;
        let value = match context.get(&rest[open + 1..close])? {
            Value::Null => return None,
            Value::String(s) if s.is_empty() => return None,
            Value::String(s) => s.clone(),
            other => other.to_string(),
        };
        out.push_str(&value);
        rest = &rest[close + 1..];
    }
    out.push_str(rest);
    Some(out)
}

impl std::fmt::Debug for SourceType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SourceType")
            .field("name", &self.name)
            .field("keys", &self.keys)
            .finish_non_exhaustive()
    }
}

/// Registration failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RegistryError {
    /// The name is already taken.
    #[error("source type `{0}` is already registered")]
    Duplicate(String),
}

/// Sources built by [`Registry::build_all`], with the secrets of their configs.
#[non_exhaustive]
pub struct BuiltSources {
    /// The sources, in config order.
    pub sources: Vec<Box<dyn EventSource>>,
    /// Every secret their configs hold: mask these in whatever text the sources produce.
    pub secrets: Redactor,
    /// Their configs' `priority`, for [`SyncOptions::priorities`](crate::SyncOptions).
    pub priorities: crate::Priorities,
}

impl std::fmt::Debug for BuiltSources {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let ids: Vec<&str> = self.sources.iter().map(|s| s.info().id.as_str()).collect();
        f.debug_struct("BuiltSources")
            .field("sources", &ids)
            .field("secrets", &self.secrets)
            .finish()
    }
}

/// All source types known to this process, by name.
#[derive(Debug, Clone, Default)]
pub struct Registry {
    types: BTreeMap<&'static str, SourceType>,
}

impl Registry {
    /// An empty registry. The built-in types are added by `athena_sources::registry()`.
    pub fn new() -> Self {
        Registry::default()
    }

    /// Adds a type; a name can be registered once.
    pub fn register(&mut self, source_type: SourceType) -> Result<(), RegistryError> {
        if self.types.contains_key(source_type.name) {
            return Err(RegistryError::Duplicate(source_type.name.to_string()));
        }
        self.types.insert(source_type.name, source_type);
        Ok(())
    }

    /// Removes a type, returning it.
    pub fn unregister(&mut self, name: &str) -> Option<SourceType> {
        self.types.remove(name)
    }

    /// Looks a type up by name.
    pub fn get(&self, name: &str) -> Option<&SourceType> {
        self.types.get(name)
    }

    /// When `serve` runs the source `config` describes: its `schedule` key, else its type's
    /// default, else [`DEFAULT_SCHEDULE`](crate::schedule::DEFAULT_SCHEDULE) for a type not
    /// registered here.
    pub fn schedule_for(&self, config: &SourceConfig) -> Schedule {
        config.schedule.clone().unwrap_or_else(|| {
            self.get(&config.source_type)
                .map_or_else(Schedule::fallback, |t| t.schedule.clone())
        })
    }

    /// All types, sorted by name.
    pub fn list(&self) -> impl Iterator<Item = &SourceType> {
        self.types.values()
    }

    /// Builds the source a config entry describes. An unknown type is a config error naming the
    /// types that exist. [`build_all`](Registry::build_all) also returns the config's secrets.
    pub fn build(&self, config: &SourceConfig) -> Result<Box<dyn EventSource>, ConfigError> {
        self.build_collecting(config).0
    }

    /// Builds every source of `configs`, in order, and collects every [`Secret`] their
    /// constructors read or made, for the engine and the caller to mask in messages. Every
    /// source is built even after one fails: the error holds the config errors of all of them
    /// (their messages already masked).
    ///
    /// [`Secret`]: crate::Secret
    pub fn build_all<'a>(
        &self,
        configs: impl IntoIterator<Item = &'a SourceConfig>,
    ) -> Result<BuiltSources, ConfigError> {
        let mut built = BuiltSources {
            sources: Vec::new(),
            secrets: Redactor::new(),
            priorities: crate::Priorities::default(),
        };
        let mut errors = Vec::new();
        let configs: Vec<&SourceConfig> = configs.into_iter().collect();
        built.priorities = crate::Priorities::of_configs(configs.iter().copied());
        for config in configs {
            let (source, secrets) = self.build_collecting(config);
            built.secrets.merge(&secrets);
            match source {
                Ok(source) => built.sources.push(source),
                Err(e) => errors.push(e),
            }
        }
        match ConfigError::all(errors) {
            Some(error) => Err(error),
            None => Ok(built),
        }
    }

    /// Builds one source, collecting the secrets its constructor creates.
    fn build_collecting(
        &self,
        config: &SourceConfig,
    ) -> (Result<Box<dyn EventSource>, ConfigError>, Redactor) {
        let (result, secrets) = collect_secrets(|| self.construct(config));
        let result = result.map_err(|e| {
            // A constructor's error may quote the value it rejected.
            let problems = e.problems().into_iter().map(|mut e| {
                e.message = secrets.redact(&e.message).into_owned();
                e
            });
            ConfigError::all(problems).expect("an error has a problem")
        });
        (result, secrets)
    }

    fn construct(&self, config: &SourceConfig) -> Result<Box<dyn EventSource>, ConfigError> {
        match self.get(&config.source_type) {
            Some(t) => (t.build)(config),
            None => {
                let known: Vec<&str> = self.types.keys().copied().collect();
                Err(config.error(
                    Some("type"),
                    format!(
                        "unknown source type {:?} (known types: {})",
                        config.source_type,
                        known.join(", ")
                    ),
                ))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::source::{BatchStream, SourceInfo};
    use crate::{Cursor, SourceError};

    struct Nothing(SourceInfo);

    #[async_trait::async_trait]
    impl EventSource for Nothing {
        fn info(&self) -> &SourceInfo {
            &self.0
        }
        async fn validate(&mut self) -> Result<(), SourceError> {
            Ok(())
        }
        fn events(&mut self, _cursor: Option<Cursor>) -> BatchStream<'_> {
            Box::pin(futures_util::stream::empty())
        }
    }

    fn nothing_type() -> SourceType {
        SourceType::new(
            "nothing",
            "yields nothing",
            vec![],
            Arc::new(|c: &SourceConfig| {
                Ok(Box::new(Nothing(SourceInfo {
                    id: c.id.clone(),
                    source_type: "nothing".into(),
                    name: "nothing".into(),
                })) as Box<dyn EventSource>)
            }),
        )
    }

    #[test]
    fn register_lookup_list_unregister() {
        let mut r = Registry::new();
        r.register(nothing_type()).unwrap();
        assert_eq!(
            r.register(nothing_type()),
            Err(RegistryError::Duplicate("nothing".into()))
        );
        assert_eq!(r.list().map(|t| t.name).collect::<Vec<_>>(), ["nothing"]);
        let src = r
            .build(&SourceConfig::new("n1", "nothing", toml::Table::new()))
            .unwrap();
        assert_eq!(src.info().id, "n1");
        assert!(r.unregister("nothing").is_some());
        assert!(r.get("nothing").is_none());
    }

    #[test]
    fn build_all_collects_the_secrets_of_every_config() {
        #[derive(serde::Deserialize)]
        struct WithToken {
            token: crate::Secret,
        }
        let mut r = Registry::new();
        r.register(SourceType::new(
            "tokened",
            "reads a token",
            vec![],
            Arc::new(|c: &SourceConfig| {
                let parsed: WithToken = c.parse()?;
                if parsed.token.expose().starts_with("bad") {
                    return Err(c.error(
                        Some("token"),
                        format!("{} is refused", parsed.token.expose()),
                    ));
                }
                Ok(Box::new(Nothing(SourceInfo {
                    id: c.id.clone(),
                    source_type: "tokened".into(),
                    name: "tokened".into(),
                })) as Box<dyn EventSource>)
            }),
        ))
        .unwrap();
        let config = |id: &str, token: &str| {
            let mut t = toml::Table::new();
            t.insert("token".into(), token.into());
            SourceConfig::new(id, "tokened", t)
        };
        let configs = [config("a", "first-token"), config("b", "second-token")];
        let built = r.build_all(&configs).unwrap();
        assert_eq!(built.sources.len(), 2);
        assert_eq!(
            built.secrets.redact("first-token, second-token"),
            "***, ***"
        );
        // A constructor that quotes its secret in an error has it masked.
        let err = r.build_all(&[config("c", "bad-token")]).unwrap_err();
        assert_eq!(err.message, "*** is refused");
    }

    #[test]
    fn build_all_reports_the_config_errors_of_every_source() {
        let mut r = Registry::new();
        r.register(nothing_type()).unwrap();
        let configs = [
            SourceConfig::new("a", "gti", toml::Table::new()),
            SourceConfig::new("b", "nothing", toml::Table::new()),
            SourceConfig::new("c", "nothnig", toml::Table::new()),
        ];
        let err = r.build_all(&configs).unwrap_err();
        let ids: Vec<_> = err.problems().into_iter().map(|e| e.source_id).collect();
        assert_eq!(ids, [Some("a".to_string()), Some("c".to_string())], "{err}");
    }

    #[test]
    fn a_starter_that_would_fail_in_a_directory_is_written_commented_out_saying_why() {
        let starter = "# Reads things.\n[[sources]]\nid = \"n\"\ntype = \"nothing\"\n# depth = 1\n";
        let t = nothing_type()
            .with_starter(starter)
            .with_starter_check(|dir| match dir.ends_with("good") {
                true => Ok(()),
                false => Err(format!("{} is bad", dir.display())),
            });
        let (text, why) = t.starter_for(Path::new("/x/good"));
        assert_eq!((text.as_ref(), why), (starter, None));
        let (text, why) = t.starter_for(Path::new("/x/bad"));
        assert_eq!(why.as_deref(), Some("/x/bad is bad"));
        assert_eq!(
            text,
            "# Reads things.\n# Commented out: /x/bad is bad.\n# [[sources]]\n# id = \"n\"\n\
             # type = \"nothing\"\n# depth = 1\n"
        );
        // Without a check, the table is as declared anywhere.
        let t = nothing_type().with_starter(starter);
        assert_eq!(t.starter_for(Path::new("/x/bad")).0, starter);
    }

    #[test]
    fn unknown_type_is_a_config_error_listing_known_types() {
        let mut r = Registry::new();
        r.register(nothing_type()).unwrap();
        let err = r
            .build(&SourceConfig::new("x", "gti", toml::Table::new()))
            .err()
            .unwrap();
        assert_eq!(err.key.as_deref(), Some("type"));
        assert!(err.message.contains("known types: nothing"), "{err}");
    }

    #[test]
    fn a_sources_schedule_key_wins_then_its_types_then_the_fallback() {
        let mut r = Registry::new();
        r.register(nothing_type().with_schedule("live")).unwrap();
        let mut config = SourceConfig::new("n", "nothing", toml::Table::new());
        assert_eq!(r.schedule_for(&config), Schedule::Live);
        config.schedule = Some(Schedule::parse("1h").unwrap());
        assert_eq!(r.schedule_for(&config), Schedule::parse("1h").unwrap());
        let unknown = SourceConfig::new("u", "someone_elses", toml::Table::new());
        assert_eq!(r.schedule_for(&unknown), Schedule::fallback());
        assert_eq!(nothing_type().schedule, Schedule::fallback());
    }

    #[test]
    fn an_episode_is_the_first_template_whose_keys_all_have_values() {
        let t = nothing_type().with_episode(&["{repository}#{number}", "in {repository}"]);
        let context = |v: serde_json::Value| v.as_object().unwrap().clone();
        assert_eq!(t.episode_of(&context(serde_json::json!({}))), None);
        let c = context(serde_json::json!({"repository": "o/r", "number": null}));
        assert_eq!(t.episode_of(&c).as_deref(), Some("in o/r"));
        let c = context(serde_json::json!({"repository": "o/r", "number": 7}));
        assert_eq!(t.episode_of(&c).as_deref(), Some("o/r#7"));
        let c = context(serde_json::json!({"repository": "", "number": 7}));
        assert_eq!(t.episode_of(&c), None, "an empty string is no value");
        assert_eq!(
            nothing_type().episode_of(&c),
            None,
            "no templates: no episode"
        );
    }
}
