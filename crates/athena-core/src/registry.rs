//! The registry: source type name → how to build a source from its config.

use std::collections::BTreeMap;
use std::sync::Arc;

use crate::config::{ConfigError, SourceConfig};
use crate::source::EventSource;

/// Builds a source from its config table.
pub type BuildFn =
    Arc<dyn Fn(&SourceConfig) -> Result<Box<dyn EventSource>, ConfigError> + Send + Sync>;

/// One config key of a source type, for `athena-ingest sources` and the docs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigKey {
    /// Key name.
    pub name: &'static str,
    /// Value type as a user writes it (`string`, `bool`, `array of strings`).
    pub kind: &'static str,
    /// Whether the key must be given.
    pub required: bool,
    /// The default, as text, when there is one.
    pub default: Option<&'static str>,
    /// One sentence.
    pub doc: &'static str,
}

/// A registered source type.
#[derive(Clone)]
pub struct SourceType {
    /// The name used as `type = "…"` in the config.
    pub name: &'static str,
    /// One line about what it reads.
    pub description: &'static str,
    /// Its config keys besides `id` and `type`.
    pub keys: Vec<ConfigKey>,
    /// Its constructor.
    pub build: BuildFn,
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

    /// All types, sorted by name.
    pub fn list(&self) -> impl Iterator<Item = &SourceType> {
        self.types.values()
    }

    /// Builds the source a config entry describes. An unknown type is a config error naming the
    /// types that exist.
    pub fn build(&self, config: &SourceConfig) -> Result<Box<dyn EventSource>, ConfigError> {
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
        SourceType {
            name: "nothing",
            description: "yields nothing",
            keys: vec![],
            build: Arc::new(|c: &SourceConfig| {
                Ok(Box::new(Nothing(SourceInfo {
                    id: c.id.clone(),
                    source_type: "nothing".into(),
                    name: "nothing".into(),
                })) as Box<dyn EventSource>)
            }),
        }
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
}
