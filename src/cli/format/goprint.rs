//! Values printed as Go's `fmt` prints them (`%v`), which is what docker's templates show for a
//! value an action prints: a list as `[a b]`, a map as `map[k:v]` with its keys sorted, a struct
//! as `{v1 v2}` with its fields in order, `<nil>` for nil, `<no value>` for a missing map key,
//! and floating-point numbers in `%g`'s shortest form (`1.5e+06`; gtmpl keeps a float without
//! a fraction as an integer, so such a float prints as one). gtmpl prints lists, maps and
//! objects in Rust's debug form, so every printing action is made to end in [`PRINT`] (see
//! `actions`), and `print`, `println` and `printf` are replaced by versions that format their
//! operands the same way.
//!
//! Where docker's Go types hold a pointer inside a list, map or struct (the values of
//! `.NetworkSettings.Networks`, `.State.Health`), Go prints the pointer's address, which differs
//! at every run; here such a value prints as the struct it points to.

use gtmpl::{FuncError, Value};

use super::value::ORDER_KEY;

/// The function every printing action's pipeline ends in (a name no docker template uses).
pub(super) const PRINT: &str = "_print";

/// `value` as Go's `fmt.Sprint` prints it.
pub(super) fn go_string(value: &Value) -> String {
    let mut out = String::new();
    write_value(&mut out, value);
    out
}

fn write_value(out: &mut String, value: &Value) {
    match value {
        Value::NoValue => out.push_str("<no value>"),
        Value::Nil => out.push_str("<nil>"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::String(s) => out.push_str(s),
        Value::Function(_) => out.push_str("<func>"),
        Value::Number(n) => {
            if let Some(u) = n.as_u64() {
                out.push_str(&u.to_string());
            } else if let Some(i) = n.as_i64() {
                out.push_str(&i.to_string());
            } else {
                out.push_str(&go_float(n.as_f64().unwrap_or(f64::NAN)));
            }
        }
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(' ');
                }
                write_value(out, item);
            }
            out.push(']');
        }
        Value::Map(fields) => {
            let mut keys: Vec<&String> = fields.keys().filter(|k| *k != ORDER_KEY).collect();
            keys.sort();
            out.push_str("map[");
            for (i, key) in keys.into_iter().enumerate() {
                if i > 0 {
                    out.push(' ');
                }
                out.push_str(key);
                out.push(':');
                write_value(out, &fields[key]);
            }
            out.push(']');
        }
        Value::Object(fields) => {
            let order: Vec<&str> = match fields.get(ORDER_KEY) {
                Some(Value::Array(order)) => order
                    .iter()
                    .filter_map(|k| match k {
                        Value::String(k) => Some(k.as_str()),
                        _ => None,
                    })
                    .collect(),
                _ => {
                    let mut keys: Vec<&str> = fields.keys().map(String::as_str).collect();
                    keys.sort_unstable();
                    keys
                }
            };
            out.push('{');
            let values = order.into_iter().filter_map(|k| fields.get(k));
            for (i, field) in values.enumerate() {
                if i > 0 {
                    out.push(' ');
                }
                write_value(out, field);
            }
            out.push('}');
        }
    }
}

/// A float as Go's `%v` (`strconv.FormatFloat(f, 'g', -1, 64)`): the shortest digits that read
/// back the same, with an exponent (`e+06`, `e-05`) when it is below -4 or at least 6.
fn go_float(f: f64) -> String {
    if f.is_nan() {
        return "NaN".into();
    }
    if f.is_infinite() {
        return if f > 0.0 { "+Inf" } else { "-Inf" }.into();
    }
    if f == 0.0 {
        return if f.is_sign_negative() { "-0" } else { "0" }.into();
    }
    // Rust's `{:e}` is the shortest round-trip form: `1.234567e6`, `-2.5e-7`.
    let scientific = format!("{f:e}");
    let (mantissa, exponent) = scientific
        .split_once('e')
        .expect("`{:e}` of a finite float has an exponent");
    let exponent: i32 = exponent
        .parse()
        .expect("`{:e}` writes its exponent as an integer");
    if (-4..6).contains(&exponent) {
        // Rust's plain form of a float is its shortest round-trip decimal, as Go's `%f` part.
        let plain = f.to_string();
        return plain;
    }
    let sign = if exponent < 0 { '-' } else { '+' };
    format!("{mantissa}e{sign}{:02}", exponent.unsigned_abs())
}

/// `_print VALUE`: the value as the text Go prints for it.
pub(super) fn print_value(args: &[Value]) -> Result<Value, FuncError> {
    match args {
        [value] => Ok(Value::String(go_string(value))),
        _ => Err(FuncError::ExactlyXArgs(PRINT.into(), 1)),
    }
}

/// Go's `print` (`fmt.Sprint`): the operands printed, a space between two when neither is a
/// string.
pub(super) fn print(args: &[Value]) -> Result<Value, FuncError> {
    let mut out = String::new();
    for (i, arg) in args.iter().enumerate() {
        let is_string = |v: &Value| matches!(v, Value::String(_));
        if i > 0 && !is_string(arg) && !is_string(&args[i - 1]) {
            out.push(' ');
        }
        write_value(&mut out, arg);
    }
    Ok(Value::String(out))
}

/// Go's `println` (`fmt.Sprintln`): the operands printed with a space between each, and a
/// newline.
pub(super) fn println(args: &[Value]) -> Result<Value, FuncError> {
    let mut out = args.iter().map(go_string).collect::<Vec<_>>().join(" ");
    out.push('\n');
    Ok(Value::String(out))
}

/// Go's `printf`: gtmpl's, with lists, maps, structs and nil given as the text `%v` and `%s`
/// print for them in Go.
pub(super) fn printf(args: &[Value]) -> Result<Value, FuncError> {
    let args: Vec<Value> = args
        .iter()
        .enumerate()
        .map(|(i, arg)| match arg {
            Value::Array(_) | Value::Map(_) | Value::Object(_) | Value::Nil if i > 0 => {
                Value::String(go_string(arg))
            }
            other => other.clone(),
        })
        .collect();
    gtmpl::funcs::printf(&args)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::super::value::to_template;
    use super::*;

    fn field(doc: &serde_json::Value, name: &str) -> String {
        let Value::Object(fields) = to_template(doc) else {
            panic!("root is not an object")
        };
        go_string(&fields[name])
    }

    #[test]
    fn lists_maps_and_structs_print_as_go_does() {
        let doc = json!({
            "Env": ["PATH=/usr/bin", "A=1"],
            "Empty": [],
            "Labels": {"tier": "front", "app": "shop"},
            "Options": {},
            "Mounts": [{"Type": "volume", "Name": "data", "Source": "/v/data", "Destination": "/data",
                        "Driver": "local", "Mode": "z", "RW": true, "Propagation": ""}],
            "Ports": {"80/tcp": [{"HostIp": "0.0.0.0", "HostPort": "8080"}], "53/udp": null},
            "Health": null,
        });
        assert_eq!(field(&doc, "Env"), "[PATH=/usr/bin A=1]");
        assert_eq!(field(&doc, "Empty"), "[]");
        assert_eq!(field(&doc, "Labels"), "map[app:shop tier:front]");
        assert_eq!(field(&doc, "Options"), "map[]");
        assert_eq!(
            field(&doc, "Mounts"),
            "[{volume data /v/data /data local z true }]"
        );
        assert_eq!(
            field(&doc, "Ports"),
            "map[53/udp:<nil> 80/tcp:[{0.0.0.0 8080}]]"
        );
        assert_eq!(field(&doc, "Health"), "<nil>");
    }

    #[test]
    fn numbers_print_as_go_does() {
        let cases = [
            (json!(12), "12"),
            (json!(-3), "-3"),
            (json!(1.5), "1.5"),
            (json!(0.0001), "0.0001"),
            (json!(0.00001), "1e-05"),
            (json!(123456.0), "123456"),
            (json!(1234567.5), "1.2345675e+06"),
            (json!(true), "true"),
        ];
        for (value, go) in cases {
            assert_eq!(go_string(&to_template(&value)), go, "{value}");
        }
        // gtmpl keeps a float without a fraction as an integer; Go's form of such a float:
        assert_eq!(go_float(1e6), "1e+06");
        assert_eq!(go_float(-2.5e-7), "-2.5e-07");
        assert_eq!(go_string(&Value::NoValue), "<no value>");
    }

    #[test]
    fn print_and_println_space_operands_as_go_does() {
        let args = [
            Value::from(1u64),
            Value::from(2u64),
            Value::from("a"),
            Value::from(3u64),
            Value::Array(vec![Value::from("x"), Value::from("y")]),
        ];
        assert_eq!(print(&args).ok(), Some(Value::from("1 2a3 [x y]")));
        assert_eq!(println(&args).ok(), Some(Value::from("1 2 a 3 [x y]\n")));
    }

    #[test]
    fn printf_gives_lists_their_go_text() {
        let args = [
            Value::from("%v|%v|%d"),
            Value::Array(vec![Value::from("x"), Value::from("y")]),
            Value::Nil,
            Value::from(7u64),
        ];
        assert_eq!(printf(&args).ok(), Some(Value::from("[x y]|<nil>|7")));
    }
}
