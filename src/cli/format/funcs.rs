//! The functions docker adds to Go's templates (`docker/cli` `templates/templates.go`): `json`,
//! `join`, `split`, `lower`, `upper`, `title`, `truncate`, `pad`; gtmpl brings Go's own
//! (`index`, `eq`, …). `len` is replaced so that it does not count the hidden key order of
//! objects, and `print`, `println` and `printf` so that they print values as Go does
//! (`goprint`), as does the function every printing action ends in. Table headers are rendered with docker's header variants, which
//! return their text unchanged, so `{{.ID | lower}}` still heads its column `CONTAINER ID`.

use gtmpl::{Func, FuncError, Value};

use super::{goprint, value};

/// The functions for rendering rows and objects.
pub(super) const FUNCS: &[(&str, Func)] = &[
    ("json", json),
    ("join", join),
    ("split", split),
    ("lower", lower),
    ("upper", upper),
    ("title", title),
    ("truncate", truncate),
    ("pad", pad),
    ("len", len),
    ("print", goprint::print),
    ("println", goprint::println),
    ("printf", goprint::printf),
    (goprint::PRINT, goprint::print_value),
];

/// The same names for rendering a table's header row: each returns its first argument.
pub(super) const HEADER_FUNCS: &[(&str, Func)] = &[
    ("json", first),
    ("join", first),
    ("split", first),
    ("lower", first),
    ("upper", first),
    ("title", first),
    ("truncate", first),
    ("pad", first),
    ("len", len),
    (goprint::PRINT, goprint::print_value),
];

fn arity(name: &str, args: &[Value], n: usize) -> Result<(), FuncError> {
    if args.len() == n {
        Ok(())
    } else {
        Err(FuncError::ExactlyXArgs(name.into(), n))
    }
}

fn kind(value: &Value) -> &'static str {
    match value {
        Value::NoValue => "no value",
        Value::Nil => "nil",
        Value::Bool(_) => "bool",
        Value::String(_) => "string",
        Value::Object(_) => "struct",
        Value::Map(_) => "map",
        Value::Array(_) => "slice",
        Value::Function(_) => "func",
        Value::Number(_) => "number",
    }
}

fn string<'a>(name: &str, value: &'a Value) -> Result<&'a str, FuncError> {
    match value {
        Value::String(s) => Ok(s),
        other => Err(FuncError::Generic(format!(
            "{name}: expected a string, got a {} ({other})",
            kind(other)
        ))),
    }
}

fn int(name: &str, value: &Value) -> Result<usize, FuncError> {
    match value {
        Value::Number(n) => n
            .as_u64()
            .and_then(|n| usize::try_from(n).ok())
            .ok_or_else(|| FuncError::Generic(format!("{name}: {n} is not a length"))),
        other => Err(FuncError::Generic(format!(
            "{name}: expected a number, got a {} ({other})",
            kind(other)
        ))),
    }
}

/// `json VALUE`: the value as compact JSON, HTML characters unescaped (as docker's encoder).
fn json(args: &[Value]) -> Result<Value, FuncError> {
    arity("json", args, 1)?;
    serde_json::to_string(&value::to_json(&args[0]))
        .map(Value::String)
        .map_err(|err| FuncError::Generic(format!("json: {err}")))
}

/// `join LIST SEP`: the strings of LIST with SEP between them.
fn join(args: &[Value]) -> Result<Value, FuncError> {
    arity("join", args, 2)?;
    let sep = string("join", &args[1])?;
    let items = match &args[0] {
        Value::Array(items) => items,
        other => {
            return Err(FuncError::Generic(format!(
                "join: expected a list of strings, got a {} ({other})",
                kind(other)
            )));
        }
    };
    let parts = items
        .iter()
        .map(|item| string("join", item))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Value::String(parts.join(sep)))
}

/// `split STRING SEP`: the parts of STRING between each SEP.
fn split(args: &[Value]) -> Result<Value, FuncError> {
    arity("split", args, 2)?;
    let text = string("split", &args[0])?;
    let sep = string("split", &args[1])?;
    let parts: Vec<Value> = if sep.is_empty() {
        text.chars().map(|c| Value::String(c.to_string())).collect()
    } else {
        text.split(sep).map(|p| Value::String(p.into())).collect()
    };
    Ok(Value::Array(parts))
}

fn lower(args: &[Value]) -> Result<Value, FuncError> {
    arity("lower", args, 1)?;
    Ok(Value::String(string("lower", &args[0])?.to_lowercase()))
}

fn upper(args: &[Value]) -> Result<Value, FuncError> {
    arity("upper", args, 1)?;
    Ok(Value::String(string("upper", &args[0])?.to_uppercase()))
}

/// Go's `strings.Title`: the first letter of every word upper-cased; words are separated by
/// anything but letters, digits and `_`.
fn title(args: &[Value]) -> Result<Value, FuncError> {
    arity("title", args, 1)?;
    let mut out = String::new();
    let mut after_separator = true;
    for c in string("title", &args[0])?.chars() {
        if after_separator {
            out.extend(c.to_uppercase());
        } else {
            out.push(c);
        }
        after_separator = !(c.is_alphanumeric() || c == '_');
    }
    Ok(Value::String(out))
}

/// `truncate STRING N`: the first N characters of STRING.
fn truncate(args: &[Value]) -> Result<Value, FuncError> {
    arity("truncate", args, 2)?;
    let text = string("truncate", &args[0])?;
    let length = int("truncate", &args[1])?;
    Ok(Value::String(text.chars().take(length).collect()))
}

/// `pad STRING PREFIX SUFFIX`: STRING with that many spaces before and after (none when empty).
fn pad(args: &[Value]) -> Result<Value, FuncError> {
    arity("pad", args, 3)?;
    let text = string("pad", &args[0])?;
    if text.is_empty() {
        return Ok(Value::String(String::new()));
    }
    let prefix = int("pad", &args[1])?;
    let suffix = int("pad", &args[2])?;
    Ok(Value::String(format!(
        "{}{text}{}",
        " ".repeat(prefix),
        " ".repeat(suffix)
    )))
}

fn len(args: &[Value]) -> Result<Value, FuncError> {
    arity("len", args, 1)?;
    value::len(&args[0])
        .map(Value::from)
        .ok_or_else(|| FuncError::Generic(format!("len of {} ({})", kind(&args[0]), args[0])))
}

/// The header variant of every docker function: its first argument, unchanged.
fn first(args: &[Value]) -> Result<Value, FuncError> {
    args.first()
        .cloned()
        .ok_or_else(|| FuncError::AtLeastXArgs("header function".into(), 1))
}
