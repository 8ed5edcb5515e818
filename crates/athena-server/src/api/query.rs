//! The query string as typed parameters: [`Query`] is an axum extractor that reads it into a
//! parameter type of [`crate::recall::params`] through a small serde deserializer of our own,
//! so that every refusal is a [`ParamError`] naming its parameter:
//! - an unknown name (a typo such as `sources=` would otherwise widen the answer silently),
//!   checked against the type's own fields; `_`, a browser's cache-buster, is let through;
//! - a value that is not UTF-8 once percent-decoded (read leniently, `%ff` would become a
//!   replacement character and match nothing);
//! - a name given twice where the field takes one value; a value that does not parse.
//!
//! A field that is a list takes every value of its name (`?source=a&source=b`).

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use serde::de::value::StringDeserializer;
use serde::de::{self, DeserializeOwned, DeserializeSeed, IntoDeserializer, MapAccess, Visitor};
use serde::forward_to_deserialize_any;

use crate::recall::params::ParamError;

/// The query string, read into `T`; refused with a [`ParamError`] naming the parameter.
pub(crate) struct Query<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequestParts<S> for Query<T> {
    type Rejection = ParamError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, ParamError> {
        parse(parts.uri.query()).map(Query)
    }
}

/// `raw` (a query string, without its `?`) read into `T`.
pub(crate) fn parse<T: DeserializeOwned>(raw: Option<&str>) -> Result<T, ParamError> {
    let pairs = pairs(raw.unwrap_or(""))?;
    T::deserialize(Pairs(pairs)).map_err(|e| e.0)
}

/// `+` as a space, then percent-decoded: the bytes a form-encoded piece stands for.
fn decode(piece: &str) -> Vec<u8> {
    let spaced = piece.replace('+', " ");
    percent_encoding::percent_decode(spaced.as_bytes()).collect()
}

/// Each name with its values, in the order the names first come.
fn pairs(raw: &str) -> Result<Vec<(String, Vec<String>)>, ParamError> {
    let mut pairs: Vec<(String, Vec<String>)> = Vec::new();
    for piece in raw.split('&').filter(|p| !p.is_empty()) {
        let (name, value) = piece.split_once('=').unwrap_or((piece, ""));
        let name = String::from_utf8_lossy(&decode(name)).into_owned();
        // `_` is a browser's cache-buster (`?_=1700000000000`): it asks for nothing, so it is
        // let through rather than refused as a typo.
        if name == "_" {
            continue;
        }
        let value = String::from_utf8(decode(value)).map_err(|_| {
            ParamError::new(
                &name,
                format!("{value:?} is not UTF-8 once percent-decoded"),
            )
        })?;
        match pairs.iter_mut().find(|(n, _)| *n == name) {
            Some((_, values)) => values.push(value),
            None => pairs.push((name, vec![value])),
        }
    }
    Ok(pairs)
}

/// A refusal while deserializing; it names its parameter once one is known.
#[derive(Debug)]
struct Error(ParamError);

impl std::fmt::Display for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

impl std::error::Error for Error {}

impl de::Error for Error {
    fn custom<M: std::fmt::Display>(message: M) -> Self {
        // Named by the field that was being read (see `Fields::next_value_seed`).
        Error(ParamError::new("", message.to_string()))
    }
}

impl Error {
    fn naming(mut self, name: &str) -> Self {
        if self.0.param.is_empty() {
            self.0.param = name.to_string();
        }
        self
    }
}

/// The whole query string: a struct whose fields are the parameters.
struct Pairs(Vec<(String, Vec<String>)>);

impl<'de> de::Deserializer<'de> for Pairs {
    type Error = Error;

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Error> {
        if let Some((name, _)) = self.0.iter().find(|(n, _)| !fields.contains(&n.as_str())) {
            let takes = if fields.is_empty() {
                "no parameters".to_string()
            } else {
                fields.join(", ")
            };
            return Err(Error(ParamError::new(
                name,
                format!("unknown parameter (this endpoint takes {takes})"),
            )));
        }
        visitor.visit_map(Fields {
            pairs: self.0.into_iter(),
            current: None,
        })
    }

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        self.deserialize_struct("", &[], visitor)
    }

    forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes byte_buf
        option unit unit_struct newtype_struct seq tuple tuple_struct map enum identifier
        ignored_any
    }
}

struct Fields {
    pairs: std::vec::IntoIter<(String, Vec<String>)>,
    current: Option<(String, Vec<String>)>,
}

impl<'de> MapAccess<'de> for Fields {
    type Error = Error;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, Error> {
        let Some((name, values)) = self.pairs.next() else {
            return Ok(None);
        };
        let key = seed.deserialize(StringDeserializer::<Error>::new(name.clone()))?;
        self.current = Some((name, values));
        Ok(Some(key))
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value, Error> {
        let (name, values) = self.current.take().expect("a value follows its key");
        seed.deserialize(Values(values))
            .map_err(|e| e.naming(&name))
    }
}

/// A parameter's values: all of them for a list, else the one.
struct Values(Vec<String>);

impl Values {
    fn one(self) -> Result<String, Error> {
        let mut values = self.0.into_iter();
        match (values.next(), values.next()) {
            (Some(one), None) => Ok(one),
            _ => Err(de::Error::custom("given more than once")),
        }
    }

    fn number<T: std::str::FromStr>(self) -> Result<T, Error> {
        let text = self.one()?;
        text.parse()
            .map_err(|_| de::Error::custom(format!("{text:?} is not a whole number")))
    }
}

macro_rules! numbers {
    ($($method:ident $visit:ident $ty:ty),*) => {$(
        fn $method<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
            visitor.$visit(self.number::<$ty>()?)
        }
    )*};
}

impl<'de> de::Deserializer<'de> for Values {
    type Error = Error;

    /// A name given more than once is a list (a field that takes one value asks for a
    /// string, a number or an enum, and is refused).
    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        if self.0.len() > 1 {
            return self.deserialize_seq(visitor);
        }
        visitor.visit_string(self.one()?)
    }

    fn deserialize_string<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        visitor.visit_string(self.one()?)
    }

    fn deserialize_str<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        visitor.visit_string(self.one()?)
    }

    fn deserialize_bool<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        let text = self.one()?;
        match text.as_str() {
            "true" | "1" => visitor.visit_bool(true),
            "false" | "0" => visitor.visit_bool(false),
            _ => Err(de::Error::custom(format!("{text:?} is not true or false"))),
        }
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        visitor.visit_some(self)
    }

    fn deserialize_seq<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        let items = self.0.into_iter().map(StringDeserializer::<Error>::new);
        visitor.visit_seq(de::value::SeqDeserializer::new(items))
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Error> {
        visitor.visit_enum(IntoDeserializer::<Error>::into_deserializer(self.one()?))
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, Error> {
        visitor.visit_newtype_struct(self)
    }

    numbers!(deserialize_u8 visit_u8 u8, deserialize_u16 visit_u16 u16, deserialize_u32 visit_u32 u32,
        deserialize_u64 visit_u64 u64, deserialize_i32 visit_i32 i32, deserialize_i64 visit_i64 i64);

    forward_to_deserialize_any! {
        i8 i16 i128 u128 f32 f64 char bytes byte_buf unit unit_struct tuple
        tuple_struct map struct identifier ignored_any
    }
}

#[cfg(test)]
#[path = "query_tests.rs"]
mod tests;
