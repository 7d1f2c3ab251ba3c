//! The dotenv syntax, statement by statement.
//!
//! A statement is `[export ]KEY=VALUE`, `KEY: VALUE` or a bare `KEY`. Blank lines and lines whose
//! first non-blank character is `#` are skipped. An unquoted value runs to the end of the line,
//! loses a ` #` comment and trailing blanks, and has its variables expanded. A quoted value runs
//! to the matching quote, possibly across lines; `\'` or `\"` keeps a quote inside it. Single
//! quotes are literal; double quotes expand escapes (`\n`, `\t`, `\\`, `\$` …) and then variables.

use std::path::Path;
use std::sync::Arc;

use super::{Vars, escapes};
use crate::error::{Error, ErrorKind, Result};
use crate::interpolate::interpolate_str;
use crate::path::KeyPath;
use crate::yaml::Mark;

/// A cursor over one file's text.
pub(super) struct Parser<'a> {
    src: &'a str,
    pos: usize,
    file: Arc<Path>,
}

/// How a key ended.
enum KeyEnd {
    /// `=` or `:`: a value follows.
    Value,
    /// End of line or of file: the key alone inherits its value.
    Bare,
}

impl<'a> Parser<'a> {
    /// A parser at the start of `src`.
    pub(super) fn new(src: &'a str, file: Arc<Path>) -> Self {
        Self { src, pos: 0, file }
    }

    /// Parses every statement into `vars`.
    pub(super) fn parse(
        mut self,
        vars: &mut Vars,
        lookup: &dyn Fn(&str) -> Option<String>,
    ) -> Result<()> {
        let resolve = |name: &str, vars: &Vars| lookup(name).or_else(|| vars.get(name).cloned());
        while self.skip_blanks_and_comments() {
            let (key, end) = self.key()?;
            match end {
                KeyEnd::Bare => {
                    if let Some(value) = resolve(&key, vars) {
                        vars.insert(key, value);
                    }
                }
                KeyEnd::Value => {
                    let value = self.value(&|name| resolve(name, vars))?;
                    vars.insert(key, value);
                }
            }
        }
        Ok(())
    }

    /// Skips whitespace (newlines included) and comment lines; false at the end of the text.
    fn skip_blanks_and_comments(&mut self) -> bool {
        loop {
            let rest = &self.src[self.pos..];
            let trimmed = rest.trim_start();
            self.pos += rest.len() - trimmed.len();
            if trimmed.is_empty() {
                return false;
            }
            if !trimmed.starts_with('#') {
                return true;
            }
            self.pos += trimmed.find('\n').unwrap_or(trimmed.len());
        }
    }

    /// Reads `[export ]KEY` and the `=`, `:` or end of line after it.
    fn key(&mut self) -> Result<(String, KeyEnd)> {
        if let Some(after) = self.src[self.pos..].strip_prefix("export")
            && after.starts_with(is_inline_space)
        {
            let trimmed = after.trim_start_matches(is_inline_space);
            self.pos = self.src.len() - trimmed.len();
        }
        let start = self.pos;
        let rest = &self.src[start..];
        for (i, c) in rest.char_indices() {
            let end = match c {
                '=' | ':' => KeyEnd::Value,
                '\n' => KeyEnd::Bare,
                c if is_inline_space(c) || is_name_char(c) => continue,
                c => {
                    let line = rest.lines().next().unwrap_or_default();
                    return Err(self.error(
                        start + i,
                        format!("unexpected character {c:?} in variable name {line:?}"),
                    ));
                }
            };
            self.pos = start + i + 1;
            return Ok((self.checked_key(&rest[..i], start)?, end));
        }
        self.pos = self.src.len();
        Ok((self.checked_key(rest, start)?, KeyEnd::Bare))
    }

    /// `raw` without trailing blanks, refused when blanks remain inside it.
    fn checked_key(&self, raw: &str, start: usize) -> Result<String> {
        let key = raw.trim_end();
        if key.contains(char::is_whitespace) {
            return Err(self.error(
                start,
                format!("variable name {key:?} cannot contain a space"),
            ));
        }
        Ok(key.to_owned())
    }

    /// Reads the value after `=` / `:`.
    fn value(&mut self, resolve: &dyn Fn(&str) -> Option<String>) -> Result<String> {
        let rest = &self.src[self.pos..];
        self.pos += rest.len() - rest.trim_start_matches(is_inline_space).len();
        match self.src[self.pos..].chars().next() {
            Some(quote @ ('"' | '\'')) => self.quoted(quote, resolve),
            _ => self.unquoted(resolve),
        }
    }

    /// An unquoted value: the rest of the line, without ` #` comment and trailing blanks.
    fn unquoted(&mut self, resolve: &dyn Fn(&str) -> Option<String>) -> Result<String> {
        let start = self.pos;
        let rest = &self.src[start..];
        let line_len = rest.find('\n').unwrap_or(rest.len());
        self.pos = (start + line_len + 1).min(self.src.len());
        let line = &rest[..line_len];
        let value = line.find(" #").map_or(line, |i| &line[..i]).trim_end();
        self.expand(value, start, resolve)
    }

    /// A quoted value, from the opening quote at `self.pos` to the matching one.
    fn quoted(&mut self, quote: char, resolve: &dyn Fn(&str) -> Option<String>) -> Result<String> {
        let open = self.pos;
        let body = &self.src[open + 1..];
        let mut chars = String::new();
        let mut escaped = false;
        for (i, c) in body.char_indices() {
            if c == quote {
                if escaped {
                    // `\"` (or `\'`) keeps the quote and drops the backslash.
                    escaped = false;
                    chars.push(c);
                    continue;
                }
                self.pos = open + 1 + i + c.len_utf8();
                if quote == '\'' {
                    return Ok(chars);
                }
                return self.expand(&escapes::expand(&chars), open + 1, resolve);
            }
            if escaped {
                escaped = false;
                chars.push('\\');
                chars.push(c);
            } else if c == '\\' {
                escaped = true;
            } else {
                chars.push(c);
            }
        }
        let line = self.src[open..].lines().next().unwrap_or_default();
        Err(self.error(open, format!("unterminated quoted value {line}")))
    }

    /// `value` with its `${VAR}` references resolved; `offset` locates errors.
    fn expand(
        &self,
        value: &str,
        offset: usize,
        resolve: &dyn Fn(&str) -> Option<String>,
    ) -> Result<String> {
        if !value.contains('$') {
            return Ok(value.to_owned());
        }
        interpolate_str(value, resolve)
            .map(|interpolated| interpolated.value)
            .map_err(|e| self.error(offset, e.to_string()))
    }

    /// An env-file error at byte `offset` of the text.
    fn error(&self, offset: usize, message: String) -> Error {
        Error::invalid(
            ErrorKind::EnvFile,
            Some(self.mark(offset)),
            KeyPath::root(),
            message,
        )
    }

    /// The 1-based line and column of byte `offset`.
    fn mark(&self, offset: usize) -> Mark {
        let before = &self.src[..offset];
        let line = before.matches('\n').count() + 1;
        let line_start = before.rfind('\n').map_or(0, |i| i + 1);
        let column = before[line_start..].chars().count() + 1;
        Mark::new(self.file.clone(), line, column)
    }
}

/// Blanks that do not end a line.
fn is_inline_space(c: char) -> bool {
    c != '\n' && c.is_whitespace()
}

/// Characters a variable name may contain.
fn is_name_char(c: char) -> bool {
    c.is_alphanumeric() || matches!(c, '_' | '.' | '-' | '[' | ']')
}
