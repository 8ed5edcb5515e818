//! Config keys declared once. [`declare_config!`](crate::declare_config) turns one declaration
//! per key (name, type, default, range, doc comment) into the serde struct, its defaults, its
//! range checks and the [`ConfigKey`]s that `athena-ingest sources` and the docs (`docs/sources/<type>.md`) list, so
//! none of them can drift from the others.
//!
//! A range check fails while the key is read, so its [`ConfigError`](super::ConfigError) names
//! the key and its line like any other bad value: `must be between 1 and 1000000, not 0`.

use std::fmt;
use std::marker::PhantomData;
use std::ops::{RangeFrom, RangeInclusive};

use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, Visitor};

pub use super::value::ConfigValue;
#[doc(hidden)]
pub use super::value::{enum_kind, serialized_toml};
use crate::registry::ConfigKey;

#[doc(hidden)]
pub use serde as __serde;

/// The range of every source's `batch_size`: one rule for all, wide enough for any store
/// (batches waiting for the writer are a large part of a sync's memory, so a source picks a
/// default far below it).
pub const BATCH_SIZE_RANGE: KeyRange = KeyRange {
    min: 1,
    max: Some(1_000_000),
};

/// The values an integer key accepts: `min..=max`, or `min..` without a `max`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeyRange {
    /// The smallest value.
    pub min: i64,
    /// The largest value, if there is one.
    pub max: Option<i64>,
}

impl KeyRange {
    /// Whether `v` is in the range.
    pub fn contains(&self, v: i64) -> bool {
        v >= self.min && self.max.is_none_or(|max| v <= max)
    }

    /// Why `v` is not in the range: `must be between 1 and 1024, not 0`.
    pub fn refusal(&self, v: i64) -> String {
        match self.max {
            Some(max) => format!("must be between {} and {max}, not {v}", self.min),
            None => format!("must be at least {}, not {v}", self.min),
        }
    }
}

impl fmt::Display for KeyRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.max {
            Some(max) => write!(f, "{} to {max}", self.min),
            None => write!(f, "at least {}", self.min),
        }
    }
}

impl From<RangeInclusive<i64>> for KeyRange {
    fn from(r: RangeInclusive<i64>) -> Self {
        KeyRange {
            min: *r.start(),
            max: Some(*r.end()),
        }
    }
}

impl From<RangeFrom<i64>> for KeyRange {
    fn from(r: RangeFrom<i64>) -> Self {
        KeyRange {
            min: r.start,
            max: None,
        }
    }
}

/// A config struct made by [`declare_config!`](crate::declare_config): its keys, and how to read
/// them one at a time (so one struct's keys can be part of another's table).
pub trait Declared: Sized {
    /// The keys read so far.
    type Partial: Default;

    /// Every key, in declaration order.
    fn keys() -> Vec<ConfigKey>;

    /// Reads `key`'s value from `map` into `partial`; `false` if `key` is not one of ours.
    fn take<'de, A: MapAccess<'de>>(
        partial: &mut Self::Partial,
        key: &str,
        map: &mut A,
    ) -> Result<bool, A::Error>;

    /// The struct, defaults filling what was not given; a missing required key is an error.
    fn finish<E: de::Error>(partial: Self::Partial) -> Result<Self, E>;

    /// The struct with every key at its default; an error names a required key.
    fn defaults() -> Result<Self, de::value::Error> {
        Self::finish(Self::Partial::default())
    }
}

/// Reads a whole table into `T`: an unknown key is an error listing the known ones, as serde's
/// `deny_unknown_fields` would.
#[doc(hidden)]
pub fn visit_table<'de, T: Declared, A: MapAccess<'de>>(mut map: A) -> Result<T, A::Error> {
    let mut partial = T::Partial::default();
    while let Some(key) = map.next_key::<String>()? {
        if !T::take(&mut partial, &key, &mut map)? {
            let names: Vec<String> = T::keys().iter().map(|k| format!("`{}`", k.name)).collect();
            let expected = match names.as_slice() {
                [] => "there are no fields".to_string(),
                [one] => format!("expected {one}"),
                [a, b] => format!("expected {a} or {b}"),
                all => format!("expected one of {}", all.join(", ")),
            };
            return Err(de::Error::custom(format_args!(
                "unknown field `{key}`, {expected}"
            )));
        }
    }
    T::finish(partial)
}

/// The visitor of a declared struct's table.
#[doc(hidden)]
pub struct TableVisitor<T>(pub PhantomData<T>);

impl<'de, T: Declared> Visitor<'de> for TableVisitor<T> {
    type Value = T;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a table")
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<T, A::Error> {
        visit_table(map)
    }
}

/// Reads one key's value with its range.
#[doc(hidden)]
pub struct KeySeed<T>(pub Option<KeyRange>, pub PhantomData<T>);

impl<'de, T: ConfigValue> DeserializeSeed<'de> for KeySeed<T> {
    type Value = T;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<T, D::Error> {
        T::deserialize_in(deserializer, self.0)
    }
}

/// The kind the declaration names, or the type's.
#[doc(hidden)]
pub fn kind_or<T: ConfigValue>(declared: Option<&'static str>) -> String {
    declared.map_or_else(|| T::kind().into_owned(), String::from)
}

/// A declared text, owned.
#[doc(hidden)]
pub fn text(declared: Option<&'static str>) -> Option<String> {
    declared.map(String::from)
}

/// A doc comment as one paragraph: its lines trimmed and joined.
#[doc(hidden)]
pub fn doc_text(doc: &str) -> String {
    doc.split('\n')
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

/// Declares a config struct, one entry per key: its doc comment (the user documentation), an
/// optional `#[key(…)]` with `range = 1..=256` (or `1..`), `kind = "…"` (how the docs name the
/// type, when its [`ConfigValue::kind`] says too little) and `default_text = "…"` (a default
/// that is a description, not a value), then `name: Type` and `= default` unless the key is
/// required, and a comma. Last, `#[flatten] name: Other` fields (comma-separated) take other
/// declared structs' keys into the same table (the HTTP client's keys of every API source, the
/// OAuth keys of the Google sources).
///
/// It makes the struct, a `Deserialize` that fills in defaults, checks ranges and refuses
/// unknown keys, and [`Declared`] with the [`ConfigKey`]s the docs list.
///
/// ```
/// athena_core::declare_config! {
///     /// Configuration of a `notes` source.
///     #[derive(Debug)]
///     pub struct NotesConfig {
///         /// The notes file, relative to the config file.
///         pub path: std::path::PathBuf,
///         /// Lines per stored batch.
///         #[key(range = athena_core::config::BATCH_SIZE_RANGE)]
///         pub batch_size: usize = 100,
///     }
/// }
/// use athena_core::config::Declared;
/// let keys = NotesConfig::keys();
/// assert_eq!((keys[1].name, keys[1].default.as_deref()), ("batch_size", Some("100")));
/// ```
#[macro_export]
macro_rules! declare_config {
    (
        $(#[$attr:meta])*
        $vis:vis struct $name:ident {
            $(
                $(#[doc = $doc:literal])*
                $(#[key($($opt:tt)*)])?
                $fvis:vis $field:ident : $ty:ty $(= $default:expr)?,
            )*
            $(
                #[flatten]
                $(#[doc = $gdoc:literal])*
                $gvis:vis $group:ident : $gty:ty
            ),* $(,)?
        }
    ) => {
        $(#[$attr])*
        $vis struct $name {
            $( $(#[doc = $doc])* $fvis $field: $ty, )*
            $( $(#[doc = $gdoc])* $gvis $group: $gty, )*
        }

        const _: () = {
            use $crate::config::declare::__serde as __serde;

            #[derive(Default)]
            #[allow(non_snake_case)]
            pub struct __Partial {
                $( $field: Option<$ty>, )*
                $( $group: <$gty as $crate::config::Declared>::Partial, )*
            }

            impl $crate::config::Declared for $name {
                type Partial = __Partial;

                fn keys() -> Vec<$crate::ConfigKey> {
                    #[allow(unused_mut)]
                    let mut keys = vec![$(
                        $crate::ConfigKey {
                            name: stringify!($field),
                            kind: $crate::config::declare::kind_or::<$ty>(
                                $crate::declare_config!(@opt kind; $($($opt)*)?),
                            ),
                            required: $crate::declare_config!(@required $($default)?),
                            default: $crate::config::declare::text(
                                $crate::declare_config!(@opt default_text; $($($opt)*)?),
                            )
                            .or_else(|| $crate::declare_config!(@default_toml $ty; $($default)?)),
                            range: $crate::declare_config!(@opt range; $($($opt)*)?),
                            doc: $crate::config::declare::doc_text(concat!($($doc, "\n"),*)),
                        },
                    )*];
                    $( keys.extend(<$gty as $crate::config::Declared>::keys()); )*
                    keys
                }

                fn take<'de, A: __serde::de::MapAccess<'de>>(
                    partial: &mut __Partial,
                    key: &str,
                    map: &mut A,
                ) -> Result<bool, A::Error> {
                    match key {
                        $(
                            stringify!($field) => {
                                let range: Option<$crate::config::KeyRange> =
                                    $crate::declare_config!(@opt range; $($($opt)*)?);
                                partial.$field = Some(map.next_value_seed(
                                    $crate::config::declare::KeySeed::<$ty>(range, ::std::marker::PhantomData),
                                )?);
                                Ok(true)
                            }
                        )*
                        _ => {
                            $(
                                if <$gty as $crate::config::Declared>::take(&mut partial.$group, key, map)? {
                                    return Ok(true);
                                }
                            )*
                            Ok(false)
                        }
                    }
                }

                fn finish<E: __serde::de::Error>(partial: __Partial) -> Result<Self, E> {
                    Ok($name {
                        $(
                            $field: match partial.$field {
                                Some(v) => v,
                                None => $crate::declare_config!(@default $field; $($default)?),
                            },
                        )*
                        $( $group: <$gty as $crate::config::Declared>::finish(partial.$group)?, )*
                    })
                }
            }

            impl<'de> __serde::Deserialize<'de> for $name {
                fn deserialize<D: __serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                    deserializer.deserialize_map($crate::config::declare::TableVisitor::<$name>(
                        ::std::marker::PhantomData,
                    ))
                }
            }
        };
    };

    (@required) => { true };
    (@required $default:expr) => { false };

    (@default $field:ident;) => {
        return Err($crate::config::declare::__serde::de::Error::missing_field(stringify!($field)))
    };
    (@default $field:ident; $default:expr) => { $default };

    (@default_toml $ty:ty;) => { None };
    (@default_toml $ty:ty; $default:expr) => {{
        let value: $ty = $default;
        <$ty as $crate::config::ConfigValue>::to_toml(&value)
    }};

    (@opt range; range = $v:expr $(, $($rest:tt)*)?) => {
        Some($crate::config::KeyRange::from($v))
    };
    (@opt kind; kind = $v:expr $(, $($rest:tt)*)?) => { Some($v) };
    (@opt default_text; default_text = $v:expr $(, $($rest:tt)*)?) => { Some($v) };
    (@opt $want:ident; $other:ident = $v:expr $(, $($rest:tt)*)?) => {
        $crate::declare_config!(@opt $want; $($($rest)*)?)
    };
    (@opt $want:ident;) => { None };
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;
    use std::path::PathBuf;

    use super::*;
    use crate::config::{Config, Secret};

    #[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
    #[serde(rename_all = "kebab-case")]
    pub enum Mode {
        Fast,
        VerySlow,
    }
    crate::config_enum!(Mode);

    crate::declare_config! {
        /// Shared keys.
        #[derive(Debug)]
        pub struct Shared {
            /// Seconds to wait.
            #[key(range = 1..)]
            pub wait_secs: Option<u32> = None,
        }
    }

    crate::declare_config! {
        /// A demo.
        #[derive(Debug)]
        pub struct Demo {
            /// Where.
            /// Second line.
            pub path: PathBuf,
            /// How.
            pub mode: Mode = Mode::VerySlow,
            /// Per batch.
            #[key(range = BATCH_SIZE_RANGE)]
            pub batch_size: usize = 500,
            /// Threads.
            #[key(range = 1..=256, default_text = "number of cores")]
            pub threads: Option<usize> = None,
            /// Names.
            #[key(kind = "array of names")]
            pub names: Vec<String> = vec!["a".into()],
            /// A token.
            pub token: Option<Secret> = None,
            #[flatten]
            /// The shared keys.
            pub shared: Shared,
        }
    }

    fn parse(body: &str) -> Result<Demo, crate::ConfigError> {
        let text = format!("[[sources]]\nid = \"d\"\ntype = \"demo\"\n{body}");
        Config::parse(&text, None).unwrap().sources[0].parse()
    }

    #[test]
    fn keys_come_from_the_declaration() {
        let keys = Demo::keys();
        let names: Vec<&str> = keys.iter().map(|k| k.name).collect();
        assert_eq!(
            names,
            [
                "path",
                "mode",
                "batch_size",
                "threads",
                "names",
                "token",
                "wait_secs"
            ]
        );
        let k = |n: &str| keys.iter().find(|k| k.name == n).unwrap().clone();
        assert!(k("path").required && !k("mode").required);
        assert_eq!(k("path").doc, "Where. Second line.");
        assert_eq!((k("path").kind.as_str(), k("path").default), ("path", None));
        assert_eq!(k("mode").kind, "\"fast\" | \"very-slow\"");
        assert_eq!(k("mode").default.as_deref(), Some("\"very-slow\""));
        assert_eq!(k("batch_size").range, Some(BATCH_SIZE_RANGE));
        assert_eq!(k("batch_size").default.as_deref(), Some("500"));
        assert_eq!(k("threads").default.as_deref(), Some("number of cores"));
        assert_eq!(k("names").kind, "array of names");
        assert_eq!(k("names").default.as_deref(), Some("[\"a\"]"));
        assert_eq!(
            (k("token").kind.as_str(), k("token").default),
            ("secret string", None)
        );
        assert_eq!(k("wait_secs").range.unwrap().to_string(), "at least 1");
    }

    #[test]
    fn defaults_fill_what_is_not_given() {
        let d = parse("path = \"x\"\n").unwrap();
        assert_eq!(d.path, PathBuf::from("x"));
        assert_eq!(d.mode, Mode::VerySlow);
        assert_eq!((d.batch_size, d.threads, d.names.len()), (500, None, 1));
        assert!(d.token.is_none() && d.shared.wait_secs.is_none());
        let d = parse("path = \"x\"\nmode = \"fast\"\nthreads = 2\nwait_secs = 3\ntoken = \"t\"\n")
            .unwrap();
        assert_eq!(
            (d.mode, d.threads, d.shared.wait_secs),
            (Mode::Fast, Some(2), Some(3))
        );
        assert_eq!(d.token.unwrap().expose(), "t");
    }

    #[test]
    fn out_of_range_values_name_the_key_and_its_line() {
        let err = parse("path = \"x\"\n\nbatch_size = 0\n").unwrap_err();
        assert_eq!(
            (err.key.as_deref(), err.line),
            (Some("batch_size"), Some(6))
        );
        assert_eq!(err.message, "must be between 1 and 1000000, not 0");
        let err = parse("path = \"x\"\nthreads = -1\n").unwrap_err();
        assert_eq!(err.key.as_deref(), Some("threads"));
        assert_eq!(err.message, "must be between 1 and 256, not -1");
        // A flattened struct's keys are checked the same way.
        let err = parse("path = \"x\"\nwait_secs = 0\n").unwrap_err();
        assert_eq!((err.key.as_deref(), err.line), (Some("wait_secs"), Some(5)));
        assert_eq!(err.message, "must be at least 1, not 0");
        // In range, but not for the field's type.
        let err = parse("path = \"x\"\nwait_secs = 5000000000\n").unwrap_err();
        assert_eq!(err.key.as_deref(), Some("wait_secs"));
        assert!(err.message.contains("expected u32"), "{err}");
    }

    #[test]
    fn unknown_missing_and_mistyped_keys_read_as_serde_would_say() {
        let err = parse("path = \"x\"\nwiat_secs = 1\n").unwrap_err();
        assert_eq!((err.key.as_deref(), err.line), (Some("wiat_secs"), Some(5)));
        assert!(
            err.message
                .starts_with("unknown field `wiat_secs`, expected one of `path`, `mode`"),
            "{err}"
        );
        assert!(err.message.ends_with("`token`, `wait_secs`"), "{err}");
        let err = parse("mode = \"fast\"\n").unwrap_err();
        assert_eq!((err.key.as_deref(), err.line), (Some("path"), Some(1)));
        assert_eq!(err.message, "missing field `path`");
        let err = parse("path = \"x\"\nbatch_size = \"5\"\n").unwrap_err();
        assert_eq!(err.key.as_deref(), Some("batch_size"));
        assert_eq!(err.message, "invalid type: string \"5\", expected usize");
        let err = parse("path = \"x\"\nmode = \"slow\"\n").unwrap_err();
        assert_eq!(err.key.as_deref(), Some("mode"));
    }

    #[test]
    fn toml_text_of_defaults() {
        let mut m = BTreeMap::new();
        assert_eq!(m.to_toml().as_deref(), Some("{}"));
        m.insert("time".to_string(), "ts".to_string());
        assert_eq!(m.to_toml().as_deref(), Some("{ \"time\" = \"ts\" }"));
        assert_eq!("a\"b".to_string().to_toml().as_deref(), Some("\"a\\\"b\""));
        assert_eq!(Vec::<u32>::new().to_toml().as_deref(), Some("[]"));
        assert_eq!(Some(PathBuf::from("x")).to_toml().as_deref(), Some("\"x\""));
    }
}
