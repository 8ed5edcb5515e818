//! [`ConfigValue`]: the types a declared config key can have, how the docs name them and show
//! their defaults, and how integers are read with their range.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::fmt;
use std::marker::PhantomData;
use std::path::PathBuf;

use serde::de::{self, DeserializeOwned, Deserializer, Visitor};
use serde::Serialize;

use super::{KeyRange, Secret};

/// A type a config key can have: how the docs name it, how they show a default, and how it is
/// read (integers check their range).
pub trait ConfigValue: DeserializeOwned {
    /// The type as a user writes it: `integer`, `boolean`, `array of strings`.
    fn kind() -> Cow<'static, str>;

    /// The value as TOML, for a default in the docs; `None` for nothing to show.
    fn to_toml(&self) -> Option<String>;

    /// Reads the value, checking `range` (only integers have one).
    fn deserialize_in<'de, D: Deserializer<'de>>(
        deserializer: D,
        range: Option<KeyRange>,
    ) -> Result<Self, D::Error> {
        debug_assert!(range.is_none(), "a range on a {} key", Self::kind());
        Self::deserialize(deserializer)
    }
}

macro_rules! integer_value {
    ($($t:ty),*) => {$(
        impl ConfigValue for $t {
            fn kind() -> Cow<'static, str> {
                "integer".into()
            }
            fn to_toml(&self) -> Option<String> {
                Some(self.to_string())
            }
            fn deserialize_in<'de, D: Deserializer<'de>>(
                deserializer: D,
                range: Option<KeyRange>,
            ) -> Result<Self, D::Error> {
                deserializer.deserialize_i64(IntegerVisitor::<$t>(range, stringify!($t), PhantomData))
            }
        }
    )*};
}

integer_value!(u16, u32, u64, usize, i32, i64);

/// Reads any integer, checks the range first (so `-1` for a `usize` is out of range, not of the
/// wrong type), then whether it fits the field's type.
struct IntegerVisitor<T>(Option<KeyRange>, &'static str, PhantomData<T>);

impl<T: TryFrom<i64>> Visitor<'_> for IntegerVisitor<T> {
    type Value = T;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.1)
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<T, E> {
        if let Some(range) = self.0.filter(|r| !r.contains(v)) {
            return Err(E::custom(range.refusal(v)));
        }
        T::try_from(v).map_err(|_| E::invalid_value(de::Unexpected::Signed(v), &self))
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<T, E> {
        match i64::try_from(v) {
            Ok(v) => self.visit_i64(v),
            Err(_) => Err(E::invalid_value(de::Unexpected::Unsigned(v), &self)),
        }
    }
}

impl ConfigValue for bool {
    fn kind() -> Cow<'static, str> {
        "boolean".into()
    }
    fn to_toml(&self) -> Option<String> {
        Some(self.to_string())
    }
}

impl ConfigValue for String {
    fn kind() -> Cow<'static, str> {
        "string".into()
    }
    fn to_toml(&self) -> Option<String> {
        serialized_toml(self)
    }
}

impl ConfigValue for PathBuf {
    fn kind() -> Cow<'static, str> {
        "path".into()
    }
    fn to_toml(&self) -> Option<String> {
        serialized_toml(&self.display().to_string())
    }
}

impl ConfigValue for Secret {
    fn kind() -> Cow<'static, str> {
        "secret string".into()
    }
    fn to_toml(&self) -> Option<String> {
        None
    }
}

impl<T: ConfigValue> ConfigValue for Option<T> {
    fn kind() -> Cow<'static, str> {
        T::kind()
    }
    fn to_toml(&self) -> Option<String> {
        self.as_ref().and_then(T::to_toml)
    }
    fn deserialize_in<'de, D: Deserializer<'de>>(
        deserializer: D,
        range: Option<KeyRange>,
    ) -> Result<Self, D::Error> {
        // TOML has no null: a key that is there has a value.
        T::deserialize_in(deserializer, range).map(Some)
    }
}

impl<T: ConfigValue> ConfigValue for Vec<T> {
    fn kind() -> Cow<'static, str> {
        let item = T::kind();
        if item.starts_with('"') {
            format!("array of {item}").into()
        } else {
            format!("array of {item}s").into()
        }
    }
    fn to_toml(&self) -> Option<String> {
        let items: Option<Vec<String>> = self.iter().map(T::to_toml).collect();
        Some(format!("[{}]", items?.join(", ")))
    }
}

impl<T: ConfigValue> ConfigValue for BTreeMap<String, T> {
    fn kind() -> Cow<'static, str> {
        format!("table of {}s", T::kind()).into()
    }
    fn to_toml(&self) -> Option<String> {
        if self.is_empty() {
            return Some("{}".into());
        }
        let items: Option<Vec<String>> = self
            .iter()
            .map(|(k, v)| Some(format!("{} = {}", serialized_toml(k)?, v.to_toml()?)))
            .collect();
        Some(format!("{{ {} }}", items?.join(", ")))
    }
}

/// Makes a unit-variant enum that derives `Deserialize` and `Serialize` a [`ConfigValue`]: its
/// kind lists the variants as serde names them (`"none" | "first-parent"`).
#[macro_export]
macro_rules! config_enum {
    ($($t:ty),* $(,)?) => {$(
        impl $crate::config::ConfigValue for $t {
            fn kind() -> ::std::borrow::Cow<'static, str> {
                $crate::config::declare::enum_kind::<Self>().into()
            }
            fn to_toml(&self) -> Option<String> {
                $crate::config::declare::serialized_toml(self)
            }
        }
    )*};
}

/// `"a" | "b"`: the variants serde reads for `T`.
#[doc(hidden)]
pub fn enum_kind<T: DeserializeOwned>() -> String {
    let variants = std::cell::Cell::new(&[][..]);
    let _ = T::deserialize(VariantProbe(&variants));
    variants
        .get()
        .iter()
        .map(|v| format!("\"{v}\""))
        .collect::<Vec<_>>()
        .join(" | ")
}

/// A deserializer that only notes the variants an enum asks for.
struct VariantProbe<'a>(&'a std::cell::Cell<&'static [&'static str]>);

impl<'de> Deserializer<'de> for VariantProbe<'_> {
    type Error = de::value::Error;

    fn deserialize_any<V: Visitor<'de>>(self, _: V) -> Result<V::Value, Self::Error> {
        Err(de::Error::custom("not an enum"))
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _name: &'static str,
        variants: &'static [&'static str],
        _visitor: V,
    ) -> Result<V::Value, Self::Error> {
        self.0.set(variants);
        Err(de::Error::custom("variants noted"))
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes byte_buf
        option unit unit_struct newtype_struct seq tuple tuple_struct map struct identifier
        ignored_any
    }
}

/// A value as TOML text, through its `Serialize` (strings quoted, arrays and tables inline).
#[doc(hidden)]
pub fn serialized_toml<T: Serialize + ?Sized>(value: &T) -> Option<String> {
    fn render(v: &serde_json::Value) -> Option<String> {
        Some(match v {
            serde_json::Value::Null => return None,
            serde_json::Value::Bool(b) => b.to_string(),
            serde_json::Value::Number(n) => n.to_string(),
            // A JSON string is a TOML basic string.
            serde_json::Value::String(_) => v.to_string(),
            serde_json::Value::Array(items) => {
                let items: Option<Vec<String>> = items.iter().map(render).collect();
                format!("[{}]", items?.join(", "))
            }
            serde_json::Value::Object(map) if map.is_empty() => "{}".into(),
            serde_json::Value::Object(map) => {
                let items: Option<Vec<String>> = map
                    .iter()
                    .map(|(k, v)| {
                        Some(format!(
                            "{} = {}",
                            serde_json::Value::from(k.as_str()),
                            render(v)?
                        ))
                    })
                    .collect();
                format!("{{ {} }}", items?.join(", "))
            }
        })
    }
    render(&serde_json::to_value(value).ok()?)
}
