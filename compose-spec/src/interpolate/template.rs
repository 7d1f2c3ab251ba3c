//! Variable substitution in one string, with Compose's template semantics.
//!
//! `$$` is a literal `$`; `$NAME` and `${NAME}` substitute a variable; `${NAME<op>word}` with
//! `:-`/`-` (default when unset or empty / unset), `:?`/`?` (error when unset or empty / unset)
//! and `:+`/`+` (alternative when set and non-empty / set). The word extends to the matching
//! `}` (braces nest) on the same line, and is itself interpolated, only when it is used. A `$`
//! followed by anything else is kept as written; `${` not followed by a valid expression is an
//! error. Names are `[A-Za-z_][A-Za-z0-9_]*`.

/// How deeply `${…}` expressions may nest inside defaults, alternatives and messages.
const MAX_NESTING: usize = 64;

/// The result of interpolating one string.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Interpolated {
    /// The string with every variable substituted.
    pub value: String,
    /// Variables that were referenced without a default, unset, and replaced by `""`, in the
    /// order first seen, each once.
    pub unset: Vec<String>,
}

/// Why a string could not be interpolated.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum InterpolationError {
    /// `${NAME:?message}` or `${NAME?message}` with the variable missing.
    #[error("required variable {name} is missing a value{}", reason_suffix(.message))]
    MissingRequired {
        /// The variable.
        name: String,
        /// The interpolated message after `?`, possibly empty.
        message: String,
    },
    /// A `${` that does not start a valid expression.
    #[error(
        "invalid interpolation format for {template:?}: {reason}; you may need to escape any $ \
         with another $"
    )]
    InvalidFormat {
        /// The whole string being interpolated.
        template: String,
        /// What is wrong with it.
        reason: String,
    },
}

fn reason_suffix(message: &str) -> String {
    if message.is_empty() {
        String::new()
    } else {
        format!(": {message}")
    }
}

/// Substitutes the variables of `input`, asking `lookup` for their values (`None`: unset).
pub(crate) fn interpolate_str(
    input: &str,
    lookup: &dyn Fn(&str) -> Option<String>,
) -> Result<Interpolated, InterpolationError> {
    let mut engine = Engine {
        lookup,
        unset: Vec::new(),
    };
    match engine.substitute(input, 0) {
        Ok(value) => Ok(Interpolated {
            value,
            unset: engine.unset,
        }),
        Err(Failure::Missing { name, message }) => {
            Err(InterpolationError::MissingRequired { name, message })
        }
        Err(Failure::Invalid(reason)) => Err(InterpolationError::InvalidFormat {
            template: input.to_owned(),
            reason,
        }),
    }
}

/// An error before the template it occurred in is known.
enum Failure {
    Missing { name: String, message: String },
    Invalid(String),
}

/// The operator of a `${NAME<op>word}` expression.
#[derive(Clone, Copy)]
enum Op {
    /// `:-` (`true`: also when empty) or `-`.
    Default(bool),
    /// `:?` or `?`.
    Required(bool),
    /// `:+` or `+`.
    Alternative(bool),
}

struct Engine<'a> {
    lookup: &'a dyn Fn(&str) -> Option<String>,
    unset: Vec<String>,
}

impl Engine<'_> {
    fn substitute(&mut self, input: &str, depth: usize) -> Result<String, Failure> {
        if depth > MAX_NESTING {
            return Err(Failure::Invalid(format!(
                "expressions are nested deeper than {MAX_NESTING} levels"
            )));
        }
        let bytes = input.as_bytes();
        let mut out = String::with_capacity(input.len());
        let mut copied = 0;
        let mut i = 0;
        while i < bytes.len() {
            if bytes[i] != b'$' {
                i += 1;
                continue;
            }
            out.push_str(&input[copied..i]);
            match bytes.get(i + 1) {
                Some(b'$') => {
                    out.push('$');
                    i += 2;
                }
                Some(b'{') => {
                    let (value, end) = self.braced(input, i + 2, depth)?;
                    out.push_str(&value);
                    i = end;
                }
                Some(&c) if is_name_start(c) => {
                    let end = name_end(bytes, i + 1);
                    out.push_str(&self.plain(&input[i + 1..end]));
                    i = end;
                }
                _ => {
                    out.push('$');
                    i += 1;
                }
            }
            copied = i;
        }
        out.push_str(&input[copied..]);
        Ok(out)
    }

    /// The value of a variable referenced without operator; an unset one is noted and is `""`.
    fn plain(&mut self, name: &str) -> String {
        (self.lookup)(name).unwrap_or_else(|| {
            if !self.unset.iter().any(|n| n == name) {
                self.unset.push(name.to_owned());
            }
            String::new()
        })
    }

    /// Evaluates the expression starting after `${` at `start`; returns its value and the
    /// index after its closing `}`.
    fn braced(
        &mut self,
        input: &str,
        start: usize,
        depth: usize,
    ) -> Result<(String, usize), Failure> {
        let bytes = input.as_bytes();
        let invalid = |reason: String| Err(Failure::Invalid(reason));
        match bytes.get(start) {
            None => return invalid("\"${\" is not closed by \"}\"".to_owned()),
            Some(b'}') => return invalid("\"${}\" names no variable".to_owned()),
            Some(&c) if !is_name_start(c) => {
                let found = input[start..].chars().next().unwrap_or('?');
                return invalid(format!(
                    "a variable name must start with a letter or \"_\", found {found:?}"
                ));
            }
            Some(_) => {}
        }
        let name_stop = name_end(bytes, start);
        let name = &input[start..name_stop];
        let (op, word_start) = match (bytes.get(name_stop), bytes.get(name_stop + 1)) {
            (Some(b'}'), _) => return Ok((self.plain(name), name_stop + 1)),
            (Some(b':'), Some(b'-')) => (Op::Default(true), name_stop + 2),
            (Some(b':'), Some(b'?')) => (Op::Required(true), name_stop + 2),
            (Some(b':'), Some(b'+')) => (Op::Alternative(true), name_stop + 2),
            (Some(b'-'), _) => (Op::Default(false), name_stop + 1),
            (Some(b'?'), _) => (Op::Required(false), name_stop + 1),
            (Some(b'+'), _) => (Op::Alternative(false), name_stop + 1),
            (None, _) => return invalid(format!("\"${{{name}\" is not closed by \"}}\"")),
            (Some(_), _) => {
                let found = input[name_stop..].chars().next().unwrap_or('?');
                return invalid(format!(
                    "unexpected {found:?} after \"${{{name}\", expected \"}}\" or one of \
                     :- - :? ? :+ +"
                ));
            }
        };
        let Some(word_end) = closing_brace(bytes, word_start) else {
            return invalid(format!("\"${{{name}\" is not closed by \"}}\""));
        };
        let word = &input[word_start..word_end];
        let value = (self.lookup)(name);
        let non_empty = value.as_deref().is_some_and(|v| !v.is_empty());
        let result = match op {
            Op::Default(empty_too) => match value {
                Some(v) if !empty_too || non_empty => v,
                _ => self.substitute(word, depth + 1)?,
            },
            Op::Required(empty_too) => match value {
                Some(v) if !empty_too || non_empty => v,
                _ => {
                    let message = self.substitute(word, depth + 1)?;
                    return Err(Failure::Missing {
                        name: name.to_owned(),
                        message,
                    });
                }
            },
            Op::Alternative(empty_too) => match value {
                Some(_) if !empty_too || non_empty => self.substitute(word, depth + 1)?,
                other => other.unwrap_or_default(),
            },
        };
        Ok((result, word_end + 1))
    }
}

/// A variable a template refers to, as `config --variables` lists it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Variable {
    /// Its name.
    pub name: String,
    /// Referred to as `${NAME:?…}` or `${NAME?…}`.
    pub required: bool,
    /// The word of `${NAME:-word}` or `${NAME-word}`, as written.
    pub default: Option<String>,
    /// The word of `${NAME:+word}` or `${NAME+word}`, as written.
    pub alternate: Option<String>,
}

/// Every variable reference of `input`, in order, including those inside the words of other
/// references; malformed expressions are skipped (interpolation reports them).
pub(crate) fn references(input: &str, out: &mut Vec<Variable>) {
    let bytes = input.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] != b'$' {
            i += 1;
            continue;
        }
        match bytes.get(i + 1) {
            Some(b'$') => i += 2,
            Some(&c) if is_name_start(c) => {
                let end = name_end(bytes, i + 1);
                out.push(Variable {
                    name: input[i + 1..end].to_owned(),
                    ..Variable::default()
                });
                i = end;
            }
            Some(b'{') if bytes.get(i + 2).is_some_and(|c| is_name_start(*c)) => {
                let start = i + 2;
                let stop = name_end(bytes, start);
                let mut variable = Variable {
                    name: input[start..stop].to_owned(),
                    ..Variable::default()
                };
                let word_start = match (bytes.get(stop), bytes.get(stop + 1)) {
                    (Some(b'}'), _) => {
                        out.push(variable);
                        i = stop + 1;
                        continue;
                    }
                    (Some(b':'), Some(b'-' | b'?' | b'+')) => stop + 2,
                    (Some(b'-' | b'?' | b'+'), _) => stop + 1,
                    _ => {
                        i = stop;
                        continue;
                    }
                };
                let Some(word_end) = closing_brace(bytes, word_start) else {
                    i = stop;
                    continue;
                };
                let word = &input[word_start..word_end];
                match bytes[word_start - 1] {
                    b'-' => variable.default = Some(word.to_owned()),
                    b'?' => variable.required = true,
                    _ => variable.alternate = Some(word.to_owned()),
                }
                out.push(variable);
                references(word, out);
                i = word_end + 1;
            }
            _ => i += 1,
        }
    }
}

fn is_name_start(c: u8) -> bool {
    c.is_ascii_alphabetic() || c == b'_'
}

/// The index after the variable name starting at `start`.
fn name_end(bytes: &[u8], start: usize) -> usize {
    bytes[start..]
        .iter()
        .position(|&c| !(c.is_ascii_alphanumeric() || c == b'_'))
        .map_or(bytes.len(), |n| start + n)
}

/// The index of the `}` closing an expression whose word starts at `start`: the one that
/// balances the braces opened in the word, else (as Compose does) the last `}` on the line;
/// `None` if there is no `}` before the line or the input ends.
fn closing_brace(bytes: &[u8], start: usize) -> Option<usize> {
    let mut open = 1usize;
    let mut last = None;
    for (i, &c) in bytes.iter().enumerate().skip(start) {
        match c {
            b'{' => open += 1,
            b'}' => {
                open -= 1;
                if open == 0 {
                    return Some(i);
                }
                last = Some(i);
            }
            b'\n' => break,
            _ => {}
        }
    }
    last
}
