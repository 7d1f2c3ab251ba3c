//! Typing of scalars and tags the way Go's `yaml.v3` does it (YAML 1.2 core schema, with the
//! octal `0777` and `_` digit separators that `yaml.v3` still accepts), so that a file means the
//! same thing here as in Compose.

use yaml_rust2::parser::Tag as RawTag;
use yaml_rust2::scanner::TScalarStyle;

use crate::yaml::{Tag, Value};

/// The prefix `!!` expands to.
const YAML_ORG: &str = "tag:yaml.org,2002:";

/// A tag as the loader understands it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum NodeTag {
    /// No tag: plain scalars are typed by their text.
    None,
    /// The non-specific `!` tag: a scalar is a string.
    NonSpecific,
    /// A compose merge tag; the value is typed as if untagged.
    Compose(Tag),
    /// `!!str`, `!!int`, `!!bool`, `!!float`, `!!null`.
    Scalar(ScalarTag),
    /// `!!seq`.
    Seq,
    /// `!!map`.
    Map,
}

/// The standard scalar tags.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum ScalarTag {
    Str,
    Int,
    Bool,
    Float,
    Null,
}

impl ScalarTag {
    fn name(self) -> &'static str {
        match self {
            ScalarTag::Str => "!!str",
            ScalarTag::Int => "!!int",
            ScalarTag::Bool => "!!bool",
            ScalarTag::Float => "!!float",
            ScalarTag::Null => "!!null",
        }
    }
}

impl NodeTag {
    /// The compose tag to record on the node, if any.
    pub(super) fn compose(self) -> Option<Tag> {
        match self {
            NodeTag::Compose(tag) => Some(tag),
            _ => None,
        }
    }
}

/// Classifies a parser tag; `Err` carries the message for an unknown tag.
pub(super) fn classify_tag(tag: Option<&RawTag>) -> Result<NodeTag, String> {
    let Some(tag) = tag else {
        return Ok(NodeTag::None);
    };
    if tag.handle.is_empty() && tag.suffix == "!" {
        return Ok(NodeTag::NonSpecific);
    }
    let full = format!("{}{}", tag.handle, tag.suffix);
    let tag = match full.as_str() {
        "!reset" => NodeTag::Compose(Tag::Reset),
        "!override" => NodeTag::Compose(Tag::Override),
        _ => match full.strip_prefix(YAML_ORG) {
            Some("str") => NodeTag::Scalar(ScalarTag::Str),
            Some("int") => NodeTag::Scalar(ScalarTag::Int),
            Some("bool") => NodeTag::Scalar(ScalarTag::Bool),
            Some("float") => NodeTag::Scalar(ScalarTag::Float),
            Some("null") => NodeTag::Scalar(ScalarTag::Null),
            Some("seq") => NodeTag::Seq,
            Some("map") => NodeTag::Map,
            Some(other) => return Err(format!("unknown tag \"!!{other}\"")),
            None => return Err(format!("unknown tag \"{full}\"")),
        },
    };
    Ok(tag)
}

/// Types a scalar from its text, style and tag; `Err` carries the message when the text does
/// not fit an explicit tag, or the tag is a collection tag.
pub(super) fn resolve(text: &str, style: TScalarStyle, tag: NodeTag) -> Result<Value, String> {
    let quoted = !matches!(style, TScalarStyle::Plain);
    match tag {
        NodeTag::None | NodeTag::Compose(_) if quoted => Ok(Value::String(text.to_owned())),
        NodeTag::None | NodeTag::Compose(_) => Ok(resolve_plain(text)),
        NodeTag::NonSpecific | NodeTag::Scalar(ScalarTag::Str) => {
            Ok(Value::String(text.to_owned()))
        }
        NodeTag::Scalar(wanted) => {
            let value = resolve_plain(text);
            match (wanted, value) {
                (ScalarTag::Int, v @ (Value::Int(_) | Value::BigInt(_)))
                | (ScalarTag::Bool, v @ Value::Bool(_))
                | (ScalarTag::Float, v @ Value::Float(_))
                | (ScalarTag::Null, v @ Value::Null) => Ok(v),
                #[allow(clippy::cast_precision_loss)] // what `!!float 3` means
                (ScalarTag::Float, Value::Int(i)) => Ok(Value::Float(i as f64)),
                _ => Err(format!("cannot read {text:?} as {}", wanted.name())),
            }
        }
        NodeTag::Seq => Err("the !!seq tag is not allowed on a scalar".to_owned()),
        NodeTag::Map => Err("the !!map tag is not allowed on a scalar".to_owned()),
    }
}

/// Types an untagged plain scalar.
pub(super) fn resolve_plain(text: &str) -> Value {
    match text {
        "" | "~" | "null" | "Null" | "NULL" => return Value::Null,
        "true" | "True" | "TRUE" => return Value::Bool(true),
        "false" | "False" | "FALSE" => return Value::Bool(false),
        ".nan" | ".NaN" | ".NAN" => return Value::Float(f64::NAN),
        ".inf" | ".Inf" | ".INF" | "+.inf" | "+.Inf" | "+.INF" => {
            return Value::Float(f64::INFINITY);
        }
        "-.inf" | "-.Inf" | "-.INF" => return Value::Float(f64::NEG_INFINITY),
        _ => {}
    }
    match text.as_bytes().first() {
        Some(b'.') if is_yaml_float(text) => {
            text.parse().map_or_else(|_| string(text), Value::Float)
        }
        Some(b'0'..=b'9' | b'+' | b'-') => resolve_number(text),
        _ => string(text),
    }
}

fn string(text: &str) -> Value {
    Value::String(text.to_owned())
}

/// A number with a leading digit or sign: digit separators `_` are dropped, then an integer
/// (decimal, `0x`, `0o`, `0b`, or octal with a leading `0`), then a float. An integer beyond
/// `i64` is kept exactly ([`Value::BigInt`]), where Go's `yaml.v3` would round it to a float.
fn resolve_number(text: &str) -> Value {
    let plain: String = text.chars().filter(|&c| c != '_').collect();
    if let Some(int) = parse_go_int(&plain) {
        return match i64::try_from(int) {
            Ok(i) => Value::Int(i),
            Err(_) => Value::BigInt(int.to_string()),
        };
    }
    if let Some(digits) = big_decimal(&plain) {
        return Value::BigInt(digits);
    }
    match plain.parse::<f64>() {
        Ok(f) if is_yaml_float(&plain) => Value::Float(f),
        _ => string(text),
    }
}

/// An integer literal with Go's base-0 rules; `None` if it is not one or exceeds `u64`.
fn parse_go_int(text: &str) -> Option<i128> {
    let (negative, digits) = match text.as_bytes().first()? {
        b'-' => (true, &text[1..]),
        b'+' => (false, &text[1..]),
        _ => (false, text),
    };
    let lower = digits.get(..2).map(str::to_ascii_lowercase);
    let (radix, body) = match lower.as_deref() {
        Some("0x") => (16, &digits[2..]),
        Some("0o") => (8, &digits[2..]),
        Some("0b") => (2, &digits[2..]),
        _ if digits.len() > 1 && digits.starts_with('0') => (8, &digits[1..]),
        _ => (10, digits),
    };
    if body.is_empty() || !body.chars().all(|c| c.is_digit(radix)) {
        return None;
    }
    let magnitude = u64::from_str_radix(body, radix).ok()?;
    let value = i128::from(magnitude);
    let value = if negative { -value } else { value };
    if value < i128::from(i64::MIN) {
        return None;
    }
    Some(value)
}

/// A decimal integer too long for [`parse_go_int`] (`[-+]?[1-9][0-9]*`), as its digits with a
/// `-` sign when negative.
fn big_decimal(text: &str) -> Option<String> {
    let (sign, digits) = match text.as_bytes().first()? {
        b'-' => ("-", &text[1..]),
        b'+' => ("", &text[1..]),
        _ => ("", text),
    };
    let decimal = digits.starts_with(|c: char| matches!(c, '1'..='9'))
        && digits.bytes().all(|b| b.is_ascii_digit());
    decimal.then(|| format!("{sign}{digits}"))
}

/// `^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$`
fn is_yaml_float(text: &str) -> bool {
    let rest = text.strip_prefix(['-', '+']).unwrap_or(text);
    let (mantissa, exponent) = match rest.find(['e', 'E']) {
        Some(i) => (&rest[..i], Some(&rest[i + 1..])),
        None => (rest, None),
    };
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    let mantissa_ok = match mantissa.split_once('.') {
        Some(("", frac)) => digits(frac),
        Some((int, frac)) => digits(int) && (frac.is_empty() || digits(frac)),
        None => digits(mantissa),
    };
    let exponent_ok = exponent.is_none_or(|e| digits(e.strip_prefix(['-', '+']).unwrap_or(e)));
    mantissa_ok && exponent_ok
}

/// The string form of a scalar used as a mapping key through an alias.
pub(super) fn key_text(value: &Value) -> Option<String> {
    Some(match value {
        Value::Null => "null".to_owned(),
        Value::Bool(b) => b.to_string(),
        Value::Int(i) => i.to_string(),
        Value::BigInt(digits) => digits.clone(),
        Value::Float(f) => f.to_string(),
        Value::String(s) => s.clone(),
        Value::Seq(_) | Value::Map(_) => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_scalars_follow_the_core_schema() {
        let cases: &[(&str, Value)] = &[
            ("", Value::Null),
            ("~", Value::Null),
            ("null", Value::Null),
            ("NULL", Value::Null),
            ("nULL", string("nULL")),
            ("true", Value::Bool(true)),
            ("True", Value::Bool(true)),
            ("FALSE", Value::Bool(false)),
            ("yes", string("yes")),
            ("on", string("on")),
            ("no", string("no")),
            ("off", string("off")),
            ("8080", Value::Int(8080)),
            ("-12", Value::Int(-12)),
            ("+12", Value::Int(12)),
            ("1_000", Value::Int(1000)),
            ("0x1F", Value::Int(31)),
            ("0o17", Value::Int(15)),
            ("0b101", Value::Int(5)),
            ("0440", Value::Int(288)),
            ("08", Value::Float(8.0)),
            ("0x", string("0x")),
            ("9223372036854775807", Value::Int(i64::MAX)),
            ("-9223372036854775808", Value::Int(i64::MIN)),
            (
                "9223372036854775808",
                Value::BigInt("9223372036854775808".into()),
            ),
            ("0xFFFF_FFFF_FFFF_FFFF", Value::BigInt(u64::MAX.to_string())),
            (
                "99999999999999999999",
                Value::BigInt("99999999999999999999".into()),
            ),
            (
                "-9223372036854775809",
                Value::BigInt("-9223372036854775809".into()),
            ),
            (
                "+18446744073709551616",
                Value::BigInt("18446744073709551616".into()),
            ),
            ("1.5", Value::Float(1.5)),
            ("1e3", Value::Float(1000.0)),
            ("-.5", Value::Float(-0.5)),
            (".5", Value::Float(0.5)),
            ("1.", Value::Float(1.0)),
            (".inf", Value::Float(f64::INFINITY)),
            ("-.Inf", Value::Float(f64::NEG_INFINITY)),
            ("1.2.3", string("1.2.3")),
            ("80:80", string("80:80")),
            ("2001-12-14", string("2001-12-14")),
            ("-", string("-")),
            (".", string(".")),
            ("nginx:1.25", string("nginx:1.25")),
        ];
        for (text, want) in cases {
            assert_eq!(&resolve_plain(text), want, "{text:?}");
        }
        assert!(matches!(resolve_plain(".nan"), Value::Float(f) if f.is_nan()));
    }

    #[test]
    fn explicit_tags_force_or_check_the_type() {
        let str_tag = NodeTag::Scalar(ScalarTag::Str);
        let plain = TScalarStyle::Plain;
        let quoted = TScalarStyle::DoubleQuoted;
        assert_eq!(resolve("123", plain, str_tag), Ok(string("123")));
        assert_eq!(resolve("123", quoted, NodeTag::None), Ok(string("123")));
        assert_eq!(resolve("true", quoted, NodeTag::None), Ok(string("true")));
        assert_eq!(
            resolve("12", quoted, NodeTag::Scalar(ScalarTag::Int)),
            Ok(Value::Int(12))
        );
        assert_eq!(
            resolve("3", plain, NodeTag::Scalar(ScalarTag::Float)),
            Ok(Value::Float(3.0))
        );
        assert_eq!(
            resolve("", plain, NodeTag::Scalar(ScalarTag::Null)),
            Ok(Value::Null)
        );
        assert_eq!(resolve("12", plain, NodeTag::NonSpecific), Ok(string("12")));
        assert_eq!(
            resolve("abc", plain, NodeTag::Scalar(ScalarTag::Int)),
            Err("cannot read \"abc\" as !!int".to_owned())
        );
        assert_eq!(
            resolve("yes", plain, NodeTag::Scalar(ScalarTag::Bool)),
            Err("cannot read \"yes\" as !!bool".to_owned())
        );
        assert!(resolve("x", plain, NodeTag::Seq).is_err());
        assert_eq!(
            resolve("42", plain, NodeTag::Compose(Tag::Override)),
            Ok(Value::Int(42))
        );
    }

    #[test]
    fn tags_are_classified() {
        let raw = |handle: &str, suffix: &str| RawTag {
            handle: handle.into(),
            suffix: suffix.into(),
        };
        assert_eq!(classify_tag(None), Ok(NodeTag::None));
        assert_eq!(
            classify_tag(Some(&raw("!", "reset"))),
            Ok(NodeTag::Compose(Tag::Reset))
        );
        assert_eq!(
            classify_tag(Some(&raw("!", "override"))),
            Ok(NodeTag::Compose(Tag::Override))
        );
        assert_eq!(classify_tag(Some(&raw(YAML_ORG, "map"))), Ok(NodeTag::Map));
        assert_eq!(classify_tag(Some(&raw("", "!"))), Ok(NodeTag::NonSpecific));
        assert_eq!(
            classify_tag(Some(&raw("!", "foo"))),
            Err("unknown tag \"!foo\"".to_owned())
        );
        assert_eq!(
            classify_tag(Some(&raw(YAML_ORG, "binary"))),
            Err("unknown tag \"!!binary\"".to_owned())
        );
    }
}
