//! Macros shared by the model files: string enums, and types with a short and a long syntax.

/// Declares an enum written in compose files as one of a fixed set of strings.
///
/// Generates `as_str`, `FromStr` (with a one-line error naming the accepted values), `Display`,
/// `Serialize` (the canonical spelling) and `Deserialize` (any spelling, aliases included).
macro_rules! string_enum {
    (
        $(#[$meta:meta])*
        pub enum $name:ident ($what:literal) {
            $( $(#[$vmeta:meta])* $variant:ident = $text:literal $(| $alias:literal)* ),+ $(,)?
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum $name {
            $( $(#[$vmeta])* $variant ),+
        }

        impl $name {
            /// Every variant, in declaration order.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            /// The canonical spelling, as written back by `config`.
            pub fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $text),+
                }
            }
        }

        impl ::std::str::FromStr for $name {
            type Err = String;

            fn from_str(text: &str) -> Result<Self, String> {
                match text {
                    $($text $(| $alias)* => Ok($name::$variant),)+
                    _ => Err(format!(
                        "invalid {} {:?}: expected one of {}",
                        $what,
                        text,
                        [$($text),+].join(", ")
                    )),
                }
            }
        }

        impl ::std::fmt::Display for $name {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl ::serde::Serialize for $name {
            fn serialize<S: ::serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.as_str())
            }
        }

        impl<'de> ::serde::Deserialize<'de> for $name {
            fn deserialize<D: ::serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let text: String = $crate::model::scalar::scalar(d)?;
                text.parse().map_err(<D::Error as ::serde::de::Error>::custom)
            }
        }
    };
}

/// Implements `Serialize` and `Deserialize` for a struct derived with `#[serde(remote = "Self")]`
/// (its long syntax) that also has a short syntax through [`crate::model::short::ShortSyntax`].
macro_rules! short_or_long {
    ($ty:ident) => {
        impl $crate::model::short::LongForm for $ty {
            fn deserialize_long<'de, D: ::serde::Deserializer<'de>>(
                d: D,
            ) -> Result<Self, D::Error> {
                $ty::deserialize(d)
            }
        }

        impl ::serde::Serialize for $ty {
            fn serialize<S: ::serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                $ty::serialize(self, s)
            }
        }

        impl<'de> ::serde::Deserialize<'de> for $ty {
            fn deserialize<D: ::serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                $crate::model::short::deserialize(d)
            }
        }
    };
}

/// Implements `Serialize` and `Deserialize` for a top-level resource derived with
/// `#[serde(remote = "Self")]` that has `external`, `name` and the hidden `external_spec` field
/// reading `external`: the spec is folded into `external` and `name` after reading.
macro_rules! external_resource {
    ($ty:ident) => {
        impl ::serde::Serialize for $ty {
            fn serialize<S: ::serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                $ty::serialize(self, s)
            }
        }

        impl<'de> ::serde::Deserialize<'de> for $ty {
            fn deserialize<D: ::serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let mut value = $ty::deserialize(d)?;
                ::std::mem::take(&mut value.external_spec)
                    .fold_into(&mut value.external, &mut value.name);
                Ok(value)
            }
        }
    };
}
