//! Lenient scalars and `x-` extensions.
//!
//! Interpolation turns every substituted value into a string, so a boolean may arrive as `"true"`
//! and a number as `"3"`; strings may arrive as numbers or booleans (`FOO: 1` in `environment`).
//! [`scalar`] and [`opt`] read any of these into the wanted Rust type with a clear error.

use std::collections::BTreeMap;
use std::fmt;
use std::marker::PhantomData;

use serde::de::{self, Deserializer, MapAccess, Visitor};

/// `x-*` extension keys of an object, kept verbatim and written back.
pub type Extensions = BTreeMap<String, serde_json::Value>;

/// A value that can be read from any JSON scalar (string, number or boolean).
pub(super) trait Scalar: Sized {
    /// What the value should look like, for error messages (`a boolean`).
    const EXPECTING: &'static str;

    /// From a string.
    fn from_text(text: &str) -> Result<Self, String>;

    /// From a boolean; by default through its text.
    fn from_bool(value: bool) -> Result<Self, String> {
        Self::from_text(if value { "true" } else { "false" })
    }

    /// From a signed integer; by default through its text.
    fn from_i64(value: i64) -> Result<Self, String> {
        Self::from_text(&value.to_string())
    }

    /// From an unsigned integer; by default through its text.
    fn from_u64(value: u64) -> Result<Self, String> {
        Self::from_text(&value.to_string())
    }

    /// From a floating-point number; by default through its text.
    fn from_f64(value: f64) -> Result<Self, String> {
        Self::from_text(&value.to_string())
    }
}

impl Scalar for String {
    const EXPECTING: &'static str = "a string";

    fn from_text(text: &str) -> Result<Self, String> {
        Ok(text.to_owned())
    }
}

impl Scalar for bool {
    const EXPECTING: &'static str = "a boolean";

    fn from_text(text: &str) -> Result<Self, String> {
        match text.to_ascii_lowercase().as_str() {
            "true" | "yes" | "y" | "on" => Ok(true),
            "false" | "no" | "n" | "off" => Ok(false),
            _ => Err(format!("invalid boolean {text:?}: expected true or false")),
        }
    }

    fn from_bool(value: bool) -> Result<Self, String> {
        Ok(value)
    }
}

impl Scalar for f64 {
    const EXPECTING: &'static str = "a number";

    fn from_text(text: &str) -> Result<Self, String> {
        match text.trim().parse::<f64>() {
            Ok(v) if v.is_finite() => Ok(v),
            _ => Err(format!(
                "invalid number {text:?}: expected a number such as 1 or 0.5"
            )),
        }
    }

    fn from_bool(value: bool) -> Result<Self, String> {
        Err(format!(
            "invalid number {value}: expected a number such as 1 or 0.5"
        ))
    }

    fn from_i64(value: i64) -> Result<Self, String> {
        Ok(value as f64)
    }

    fn from_u64(value: u64) -> Result<Self, String> {
        Ok(value as f64)
    }

    fn from_f64(value: f64) -> Result<Self, String> {
        Ok(value)
    }
}

macro_rules! integer_scalar {
    ($($ty:ty),+) => {$(
        impl Scalar for $ty {
            const EXPECTING: &'static str = "an integer";

            fn from_text(text: &str) -> Result<Self, String> {
                text.trim()
                    .parse::<$ty>()
                    .map_err(|_| format!("invalid integer {text:?}: expected {}", range::<$ty>()))
            }

            fn from_bool(value: bool) -> Result<Self, String> {
                Err(format!("invalid integer {value}: expected {}", range::<$ty>()))
            }

            fn from_i64(value: i64) -> Result<Self, String> {
                <$ty>::try_from(value)
                    .map_err(|_| format!("invalid integer {value}: expected {}", range::<$ty>()))
            }

            fn from_u64(value: u64) -> Result<Self, String> {
                <$ty>::try_from(value)
                    .map_err(|_| format!("invalid integer {value}: expected {}", range::<$ty>()))
            }

            fn from_f64(value: f64) -> Result<Self, String> {
                if value.fract() == 0.0 && value >= <$ty>::MIN as f64 && value <= <$ty>::MAX as f64 {
                    Ok(value as $ty)
                } else {
                    Err(format!("invalid integer {value}: expected {}", range::<$ty>()))
                }
            }
        }
    )+};
}

integer_scalar!(i64, u64, u32, u16);

fn range<T: num_bounds::Bounds>() -> String {
    match (T::LOW, T::HIGH) {
        (0, high) if high >= i128::from(u32::MAX) => "a non-negative integer".to_string(),
        (low, high) if low <= i128::from(i32::MIN) && high >= i128::from(i32::MAX) => {
            "an integer".to_string()
        }
        (low, high) => format!("an integer from {low} to {high}"),
    }
}

mod num_bounds {
    //! The printable bounds of the integer types read as scalars.

    pub(super) trait Bounds {
        const LOW: i128;
        const HIGH: i128;
    }

    macro_rules! bounds {
        ($($ty:ty),+) => {$(
            impl Bounds for $ty {
                const LOW: i128 = <$ty>::MIN as i128;
                const HIGH: i128 = <$ty>::MAX as i128;
            }
        )+};
    }

    bounds!(i64, u64, u32, u16);
}

/// A scalar read leniently; see [`Scalar`].
pub(super) struct Lenient<T>(pub T);

impl<'de, T: Scalar> de::Deserialize<'de> for Lenient<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(ScalarVisitor(PhantomData)).map(Lenient)
    }
}

struct ScalarVisitor<T>(PhantomData<T>);

impl<'de, T: Scalar> Visitor<'de> for ScalarVisitor<T> {
    type Value = T;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(T::EXPECTING)
    }

    fn visit_bool<E: de::Error>(self, v: bool) -> Result<T, E> {
        T::from_bool(v).map_err(E::custom)
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<T, E> {
        T::from_i64(v).map_err(E::custom)
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<T, E> {
        T::from_u64(v).map_err(E::custom)
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<T, E> {
        T::from_f64(v).map_err(E::custom)
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<T, E> {
        T::from_text(v).map_err(E::custom)
    }
}

/// Reads a required lenient scalar (a `deserialize_with` function).
pub(super) fn scalar<'de, D: Deserializer<'de>, T: Scalar>(d: D) -> Result<T, D::Error> {
    Lenient::<T>::deserialize(d).map(|v| v.0)
}

/// Reads an optional lenient scalar; `null` is `None` (a `deserialize_with` function).
pub(super) fn opt<'de, D: Deserializer<'de>, T: Scalar>(d: D) -> Result<Option<T>, D::Error> {
    Option::<Lenient<T>>::deserialize(d).map(|v| v.map(|l| l.0))
}

/// Reads a lenient boolean where `null` means false (a `deserialize_with` function).
pub(super) fn flag<'de, D: Deserializer<'de>>(d: D) -> Result<bool, D::Error> {
    opt::<D, bool>(d).map(|v| v.unwrap_or(false))
}

/// `skip_serializing_if` helper for flags that default to false.
pub(super) fn is_false(value: &bool) -> bool {
    !*value
}

/// The default of flags that default to true.
pub(super) fn yes() -> bool {
    true
}

/// Reads the flattened `x-*` keys of an object, refusing any other unknown key.
pub(super) fn extensions<'de, D: Deserializer<'de>>(d: D) -> Result<Extensions, D::Error> {
    d.deserialize_map(ExtensionsVisitor { skip: &[] })
}

/// Like [`extensions`], also dropping the given keys (consumed elsewhere, such as `version`).
pub(crate) fn extensions_skipping<'de, D: Deserializer<'de>>(
    d: D,
    skip: &'static [&'static str],
) -> Result<Extensions, D::Error> {
    d.deserialize_map(ExtensionsVisitor { skip })
}

struct ExtensionsVisitor {
    skip: &'static [&'static str],
}

impl<'de> Visitor<'de> for ExtensionsVisitor {
    type Value = Extensions;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a mapping")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Extensions, A::Error> {
        let mut out = Extensions::new();
        while let Some(key) = map.next_key::<String>()? {
            if key.starts_with("x-") {
                let value = map.next_value::<serde_json::Value>()?;
                out.insert(key, value);
            } else if self.skip.contains(&key.as_str()) {
                map.next_value::<de::IgnoredAny>()?;
            } else {
                return Err(de::Error::custom(format!(
                    "unknown key {key:?} (only keys starting with x- may be added)"
                )));
            }
        }
        Ok(out)
    }
}

use serde::Deserialize as _;

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn read<T: Scalar>(v: serde_json::Value) -> Result<T, String> {
        scalar::<_, T>(&v).map_err(|e| e.to_string())
    }

    #[test]
    fn booleans_accept_interpolated_strings() {
        let cases = [
            (json!(true), Ok(true)),
            (json!("true"), Ok(true)),
            (json!("Yes"), Ok(true)),
            (json!("off"), Ok(false)),
            (json!("FALSE"), Ok(false)),
            (
                json!("maybe"),
                Err("invalid boolean \"maybe\": expected true or false".to_owned()),
            ),
        ];
        for (input, want) in cases {
            assert_eq!(read::<bool>(input.clone()), want, "{input}");
        }
    }

    #[test]
    fn integers_accept_strings_and_check_ranges() {
        assert_eq!(read::<u64>(json!("3")), Ok(3));
        assert_eq!(read::<u64>(json!(3)), Ok(3));
        assert_eq!(read::<i64>(json!("-1")), Ok(-1));
        assert_eq!(read::<u16>(json!(2.0)), Ok(2));
        assert_eq!(
            read::<u16>(json!(70000)),
            Err("invalid integer 70000: expected an integer from 0 to 65535".to_owned())
        );
        assert!(
            read::<u64>(json!("three"))
                .unwrap_err()
                .starts_with("invalid integer \"three\"")
        );
        assert!(read::<u64>(json!(true)).is_err());
    }

    #[test]
    fn strings_accept_numbers_and_booleans() {
        assert_eq!(read::<String>(json!(1)), Ok("1".to_owned()));
        assert_eq!(read::<String>(json!(1.5)), Ok("1.5".to_owned()));
        assert_eq!(read::<String>(json!(false)), Ok("false".to_owned()));
        assert!(read::<String>(json!([1])).is_err());
    }

    #[test]
    fn floats_accept_strings() {
        assert_eq!(read::<f64>(json!("0.5")), Ok(0.5));
        assert_eq!(read::<f64>(json!(2)), Ok(2.0));
        assert!(read::<f64>(json!("lots")).is_err());
    }

    #[test]
    fn extensions_keep_x_keys_and_refuse_others() {
        let ok = extensions(&json!({"x-a": {"b": 1}})).unwrap();
        assert_eq!(ok["x-a"], json!({"b": 1}));
        let err = extensions(&json!({"imagee": "x"})).unwrap_err().to_string();
        assert_eq!(
            err,
            "unknown key \"imagee\" (only keys starting with x- may be added)"
        );
    }
}
