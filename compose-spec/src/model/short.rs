//! Values written either in a short syntax (a string or a number) or as a mapping (the long
//! syntax), such as `volumes: ["./data:/data"]` versus `volumes: [{type: bind, ...}]`.
//!
//! A type implements [`ShortSyntax`] and derives its long form with `#[serde(remote = "Self")]`;
//! the `short_or_long!` macro then gives it a `Deserialize` accepting both, so that errors inside
//! the long form keep their key path.

use std::fmt;
use std::marker::PhantomData;

use serde::de::value::MapAccessDeserializer;
use serde::de::{self, Deserializer, MapAccess, SeqAccess, Visitor};

/// A type with a short, string syntax.
pub(super) trait ShortSyntax: Sized {
    /// What the value should look like, for error messages.
    const EXPECTING: &'static str;

    /// Parses the short syntax; the error is a complete one-line message.
    fn parse_short(text: &str) -> Result<Self, String>;
}

/// The derived long-form reader of a [`ShortSyntax`] type (implemented by `short_or_long!`).
pub(super) trait LongForm: Sized {
    /// Reads the long syntax.
    fn deserialize_long<'de, D: Deserializer<'de>>(d: D) -> Result<Self, D::Error>;
}

/// Reads either syntax.
pub(super) fn deserialize<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: ShortSyntax + LongForm,
{
    d.deserialize_any(ShortOrLongVisitor(PhantomData))
}

struct ShortOrLongVisitor<T>(PhantomData<T>);

impl<'de, T: ShortSyntax + LongForm> Visitor<'de> for ShortOrLongVisitor<T> {
    type Value = T;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(T::EXPECTING)
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<T, E> {
        T::parse_short(v).map_err(E::custom)
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<T, E> {
        self.visit_str(&v.to_string())
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<T, E> {
        self.visit_str(&v.to_string())
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<T, A::Error> {
        T::deserialize_long(MapAccessDeserializer::new(map))
    }
}

/// Reads one value or a sequence of values (`env_file: a.env` or `env_file: [a.env, ...]`);
/// `null` is the empty list. A `deserialize_with` function.
pub(super) fn one_or_many<'de, D, T>(d: D) -> Result<Vec<T>, D::Error>
where
    D: Deserializer<'de>,
    T: ShortSyntax + LongForm + de::Deserialize<'de>,
{
    d.deserialize_any(OneOrManyVisitor(PhantomData))
}

struct OneOrManyVisitor<T>(PhantomData<T>);

impl<'de, T> Visitor<'de> for OneOrManyVisitor<T>
where
    T: ShortSyntax + LongForm + de::Deserialize<'de>,
{
    type Value = Vec<T>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} or a list of them", T::EXPECTING)
    }

    fn visit_unit<E: de::Error>(self) -> Result<Vec<T>, E> {
        Ok(Vec::new())
    }

    fn visit_none<E: de::Error>(self) -> Result<Vec<T>, E> {
        Ok(Vec::new())
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Vec<T>, E> {
        T::parse_short(v).map(|t| vec![t]).map_err(E::custom)
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Vec<T>, A::Error> {
        T::deserialize_long(MapAccessDeserializer::new(map)).map(|t| vec![t])
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Vec<T>, A::Error> {
        let mut out = Vec::new();
        while let Some(item) = seq.next_element::<T>()? {
            out.push(item);
        }
        Ok(out)
    }
}
