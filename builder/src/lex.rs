//! Variable expansion and word splitting as a Dockerfile frontend does it: `$v`, `${v}`,
//! `${v:-w}`, `${v-w}`, `${v:+w}`, `${v+w}`, `${v:?w}`, `${v?w}`, single and double quotes,
//! and the escape character (`\` or the one set by `# escape=`).
//!
//! Positional and special shell parameters (`$1`, `$@`, `$?`, ...) are recognized and are
//! never set, as in a Dockerfile. A variable's value is split into words where it is not
//! quoted ([`Lexer::words`]); [`Lexer::word`] keeps the spaces.

use std::collections::BTreeMap;
use std::iter::Peekable;
use std::str::Chars;

/// An expansion error: the text and what is wrong with it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("cannot expand {text:?}: {reason}")]
pub struct LexError {
    /// The text being expanded.
    pub text: String,
    /// What is wrong.
    pub reason: String,
}

/// The variables visible to an expansion.
pub(crate) trait Vars {
    /// The value of `name`, `None` when it is not set.
    fn get(&self, name: &str) -> Option<&str>;
}

impl Vars for BTreeMap<String, String> {
    fn get(&self, name: &str) -> Option<&str> {
        BTreeMap::get(self, name).map(String::as_str)
    }
}

impl Vars for [(String, String)] {
    fn get(&self, name: &str) -> Option<&str> {
        self.iter()
            .rev()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

impl Vars for Vec<(String, String)> {
    fn get(&self, name: &str) -> Option<&str> {
        <[(String, String)] as Vars>::get(self.as_slice(), name)
    }
}

/// Expands words with one escape character.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Lexer {
    escape: char,
}

impl Default for Lexer {
    fn default() -> Self {
        Self { escape: '\\' }
    }
}

/// Words being collected: characters from variables and unquoted text split on whitespace,
/// quoted and escaped characters never do.
#[derive(Default)]
struct Words {
    words: Vec<String>,
    current: String,
    in_word: bool,
}

impl Words {
    fn add_char(&mut self, c: char) {
        if c.is_whitespace() {
            if self.in_word {
                self.words.push(std::mem::take(&mut self.current));
                self.in_word = false;
            }
        } else {
            self.add_raw_char(c);
        }
    }

    fn add_raw_char(&mut self, c: char) {
        self.current.push(c);
        self.in_word = true;
    }

    fn add_string(&mut self, s: &str) {
        s.chars().for_each(|c| self.add_char(c));
    }

    fn add_raw_string(&mut self, s: &str) {
        self.current.push_str(s);
        self.in_word = true;
    }

    fn finish(mut self) -> Vec<String> {
        if self.in_word {
            self.words.push(self.current);
        }
        self.words
    }
}

struct Scan<'a, 'v, V: Vars + ?Sized> {
    chars: Peekable<Chars<'a>>,
    text: &'a str,
    escape: char,
    vars: &'v V,
    /// Quotes are ordinary characters and escapes other than `\$` are kept.
    raw: bool,
}

impl Lexer {
    /// A lexer with `escape` as the escape character.
    pub(crate) fn new(escape: char) -> Self {
        Self { escape }
    }

    /// Expands only the variables of `text` (here-document content): quotes are kept, and of
    /// the escapes only the one before `$` is removed.
    pub(crate) fn expand_raw<V: Vars + ?Sized>(
        &self,
        text: &str,
        vars: &V,
    ) -> Result<String, LexError> {
        let mut scan = Scan {
            chars: text.chars().peekable(),
            text,
            escape: self.escape,
            vars,
            raw: true,
        };
        scan.until(None, &mut Words::default())
    }

    /// Expands `text` into one string: quotes removed, variables substituted.
    pub(crate) fn word<V: Vars + ?Sized>(&self, text: &str, vars: &V) -> Result<String, LexError> {
        Ok(self.process(text, vars)?.0)
    }

    /// Expands `text` and splits it into words on the whitespace that is neither quoted nor
    /// escaped (variables' values split too, unless quoted).
    pub(crate) fn words<V: Vars + ?Sized>(
        &self,
        text: &str,
        vars: &V,
    ) -> Result<Vec<String>, LexError> {
        Ok(self.process(text, vars)?.1)
    }

    fn process<V: Vars + ?Sized>(
        &self,
        text: &str,
        vars: &V,
    ) -> Result<(String, Vec<String>), LexError> {
        let mut scan = Scan {
            chars: text.chars().peekable(),
            text,
            escape: self.escape,
            vars,
            raw: false,
        };
        let mut words = Words::default();
        let result = scan.until(None, &mut words)?;
        Ok((result, words.finish()))
    }
}

fn is_special(c: char) -> bool {
    matches!(c, '@' | '*' | '#' | '?' | '-' | '$' | '!' | '0')
}

impl<V: Vars + ?Sized> Scan<'_, '_, V> {
    fn err(&self, reason: impl Into<String>) -> LexError {
        LexError {
            text: self.text.to_string(),
            reason: reason.into(),
        }
    }

    /// Processes up to `stop` (consumed; required when given) or the end.
    fn until(&mut self, stop: Option<char>, words: &mut Words) -> Result<String, LexError> {
        let mut result = String::new();
        let mut found = false;
        while let Some(&c) = self.chars.peek() {
            if Some(c) == stop {
                self.chars.next();
                found = true;
                break;
            }
            match c {
                '\'' | '"' if self.raw => {
                    self.chars.next();
                    words.add_raw_char(c);
                    result.push(c);
                }
                c if self.raw && c == self.escape => {
                    self.chars.next();
                    match self.chars.peek().copied() {
                        Some('$') => {
                            self.chars.next();
                            result.push('$');
                        }
                        _ => result.push(c),
                    }
                }
                '\'' => {
                    let s = self.single_quoted()?;
                    words.add_raw_string(&s);
                    result.push_str(&s);
                }
                '"' => {
                    let s = self.double_quoted()?;
                    words.add_raw_string(&s);
                    result.push_str(&s);
                }
                '$' => {
                    let s = self.dollar()?;
                    words.add_string(&s);
                    result.push_str(&s);
                }
                _ => {
                    self.chars.next();
                    if c == self.escape {
                        let Some(next) = self.chars.next() else {
                            break;
                        };
                        words.add_raw_char(next);
                        result.push(next);
                    } else {
                        words.add_char(c);
                        result.push(c);
                    }
                }
            }
        }
        if let (Some(stop), false) = (stop, found) {
            return Err(self.err(format!(
                "unexpected end of statement while looking for matching {stop}"
            )));
        }
        Ok(result)
    }

    fn single_quoted(&mut self) -> Result<String, LexError> {
        self.chars.next();
        let mut out = String::new();
        loop {
            match self.chars.next() {
                None => {
                    return Err(self.err(
                        "unexpected end of statement while looking for matching single-quote",
                    ));
                }
                Some('\'') => return Ok(out),
                Some(c) => out.push(c),
            }
        }
    }

    fn double_quoted(&mut self) -> Result<String, LexError> {
        self.chars.next();
        let mut out = String::new();
        loop {
            match self.chars.peek().copied() {
                None => {
                    return Err(self.err(
                        "unexpected end of statement while looking for matching double-quote",
                    ));
                }
                Some('"') => {
                    self.chars.next();
                    return Ok(out);
                }
                Some('$') => out.push_str(&self.dollar()?),
                Some(c) => {
                    self.chars.next();
                    if c == self.escape {
                        match self.chars.peek().copied() {
                            Some(n) if n == '"' || n == '$' || n == self.escape => {
                                self.chars.next();
                                out.push(n);
                            }
                            _ => out.push(c),
                        }
                    } else {
                        out.push(c);
                    }
                }
            }
        }
    }

    fn name(&mut self) -> String {
        let mut name = String::new();
        while let Some(&c) = self.chars.peek() {
            if name.is_empty() && c.is_ascii_digit() {
                while let Some(&d) = self.chars.peek().filter(|d| d.is_ascii_digit()) {
                    name.push(d);
                    self.chars.next();
                }
                return name;
            }
            if name.is_empty() && is_special(c) {
                self.chars.next();
                name.push(c);
                return name;
            }
            if !c.is_alphanumeric() && c != '_' {
                break;
            }
            name.push(c);
            self.chars.next();
        }
        name
    }

    /// The value of a variable; positional and special parameters are never set.
    fn lookup(&self, name: &str) -> Option<String> {
        let parameter = name.starts_with(|c: char| c.is_ascii_digit() || is_special(c));
        if parameter {
            return None;
        }
        self.vars.get(name).map(str::to_string)
    }

    fn dollar(&mut self) -> Result<String, LexError> {
        self.chars.next();
        if self.chars.peek() != Some(&'{') {
            let name = self.name();
            if name.is_empty() {
                return Ok("$".into());
            }
            return Ok(self.lookup(&name).unwrap_or_default());
        }
        self.chars.next();
        let name = self.name();
        if name.is_empty() {
            return Err(self.err("bad substitution"));
        }
        let value = self.lookup(&name);
        let mut ignored = Words::default();
        match self.chars.next() {
            Some('}') => Ok(value.unwrap_or_default()),
            Some(':') => {
                let modifier = self.chars.next();
                let word = match modifier {
                    Some('-' | '+' | '?') => self.until(Some('}'), &mut ignored)?,
                    Some(m) => {
                        return Err(self.err(format!("unsupported modifier ({m}) in substitution")));
                    }
                    None => return Err(self.err("missing '}' in substitution")),
                };
                let set_and_not_empty = value.as_deref().is_some_and(|v| !v.is_empty());
                match modifier {
                    Some('-') if !set_and_not_empty => Ok(word),
                    Some('-') => Ok(value.unwrap_or_default()),
                    Some('+') if set_and_not_empty => Ok(word),
                    Some('+') => Ok(String::new()),
                    _ if set_and_not_empty => Ok(value.unwrap_or_default()),
                    _ => Err(self.err(format!("{name}: {}", unset_message(&word)))),
                }
            }
            Some(m @ ('-' | '+' | '?')) => {
                let word = self.until(Some('}'), &mut ignored)?;
                match (m, value) {
                    ('-', None) => Ok(word),
                    ('+', Some(_)) => Ok(word),
                    ('+', None) => Ok(String::new()),
                    ('?', None) => Err(self.err(format!("{name}: {}", unset_message(&word)))),
                    (_, Some(v)) => Ok(v),
                    _ => Ok(String::new()),
                }
            }
            Some(m) => Err(self.err(format!("unsupported modifier ({m}) in substitution"))),
            None => Err(self.err("missing '}' in substitution")),
        }
    }
}

fn unset_message(word: &str) -> &str {
    if word.is_empty() {
        "is not allowed to be unset"
    } else {
        word
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    /// BuildKit's `envVarTest` table: `platform | input | expected` (`error` for an error).
    #[test]
    fn env_var_table() {
        let text = include_str!("../tests/fixtures/shell/envVarTest");
        let env = vars(&[
            ("PWD", "/home"),
            ("SHELL", "bash"),
            ("KOREAN", "한국어"),
            ("NULL", ""),
        ]);
        let lexer = Lexer::default();
        let mut checked = 0;
        for (n, line) in text.lines().enumerate() {
            if line.starts_with('#') || line.trim().is_empty() {
                continue;
            }
            let parts: Vec<&str> = line.split('|').collect();
            assert_eq!(parts.len(), 3, "line {}", n + 1);
            if parts[0].trim() == "W" {
                continue;
            }
            let (input, expected) = (parts[1].trim(), parts[2].trim());
            let got = lexer.word(input, &env);
            if expected == "error" {
                assert!(got.is_err(), "line {}: {input:?} gave {got:?}", n + 1);
            } else {
                assert_eq!(got.as_deref(), Ok(expected), "line {}: {input:?}", n + 1);
            }
            checked += 1;
        }
        assert!(checked > 200, "{checked}");
    }

    /// BuildKit's `wordsTest` table: `input | word,word` with `ENV k=v` lines in between.
    #[test]
    fn words_table() {
        let text = include_str!("../tests/fixtures/shell/wordsTest");
        let lexer = Lexer::default();
        let mut env: Vec<(String, String)> = Vec::new();
        let mut checked = 0;
        for (n, line) in text.lines().enumerate() {
            if line.starts_with('#') {
                continue;
            }
            if let Some(assign) = line.strip_prefix("ENV ") {
                let (k, v) = assign.trim_start().split_once('=').expect("ENV k=v");
                env.push((k.to_string(), v.to_string()));
                continue;
            }
            let (input, expected) = line.split_once('|').expect("one |");
            let expected: Vec<&str> = expected.trim_start().split(',').collect();
            let got = lexer
                .words(input.trim(), &env)
                .unwrap_or_else(|_| vec!["error".to_string()]);
            assert_eq!(got, expected, "line {}: {input:?}", n + 1);
            checked += 1;
        }
        assert!(checked > 20, "{checked}");
    }

    #[test]
    fn raw_expansion_keeps_quotes_and_escapes() {
        let env = vars(&[("A", "x")]);
        let got = Lexer::default()
            .expand_raw("echo \"$A\" '${A}' \\n \\$A\n", &env)
            .unwrap();
        assert_eq!(got, "echo \"x\" 'x' \\n $A\n");
    }

    #[test]
    fn escape_character_can_be_a_backtick() {
        let lexer = Lexer::new('`');
        let env = vars(&[("A", "x")]);
        assert_eq!(lexer.word(r"C:\dir\$A `$A", &env).unwrap(), r"C:\dir\x $A");
    }
}
