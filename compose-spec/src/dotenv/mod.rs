//! `.env` files: the project's `.env`, `--env-file`, and a service's `env_file`.
//!
//! Two formats are understood (see [`Format`]):
//!
//! - the dotenv syntax Compose uses (the default): `KEY=VALUE`, `KEY: VALUE`, `export KEY=VALUE`,
//!   `#` comments, single quotes (literal), double quotes (escapes such as `\n` and variable
//!   expansion), values spanning several lines inside quotes, `${VAR}` expansion in unquoted and
//!   double-quoted values, and a bare `KEY` line that copies `KEY` from the lookup environment;
//! - `raw`, the `docker run --env-file` format: `KEY=VALUE` lines taken verbatim.
//!
//! Variables referenced by a value are resolved from the lookup environment first and then from
//! the variables defined earlier in the same file (or in earlier files of [`read_files`]): the
//! shell environment wins, as in Compose.

mod escapes;
mod parser;
mod raw;

#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_fixtures;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use indexmap::IndexMap;

use crate::error::{Error, ErrorKind, Result};
use crate::path::KeyPath;
use crate::read;

/// The variables read from an env file, in the order they were first defined.
pub(crate) type Vars = IndexMap<String, String>;

/// The syntax of an env file (`env_file: [{path, format}]`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) enum Format {
    /// Compose's dotenv syntax: quotes, escapes, comments and `${VAR}` expansion.
    #[default]
    Dotenv,
    /// `KEY=VALUE` lines taken verbatim, as `docker run --env-file` reads them.
    Raw,
}

impl Format {
    /// The format named `name` in a compose file (`raw`); `None` for an unknown name.
    pub(crate) fn from_name(name: &str) -> Option<Self> {
        match name {
            "" | ".env" | "dotenv" => Some(Format::Dotenv),
            "raw" => Some(Format::Raw),
            _ => None,
        }
    }
}

/// Parses dotenv `source` read from `file` (named in error messages).
///
/// `lookup` is the environment the file is read in (usually the shell environment): it resolves
/// bare `KEY` lines and wins over the file's own earlier definitions in `${VAR}` expansion.
pub(crate) fn parse(
    source: &str,
    file: Arc<Path>,
    lookup: &dyn Fn(&str) -> Option<String>,
) -> Result<Vars> {
    let mut vars = Vars::new();
    parse_into(source, file, &mut vars, lookup)?;
    Ok(vars)
}

/// Parses dotenv `source` into `vars`, which may already hold variables of earlier files: they
/// are visible to expansion (after `lookup`) and are replaced by later definitions.
pub(crate) fn parse_into(
    source: &str,
    file: Arc<Path>,
    vars: &mut Vars,
    lookup: &dyn Fn(&str) -> Option<String>,
) -> Result<()> {
    parser::Parser::new(strip_bom(source), file).parse(vars, lookup)
}

/// Parses `source` in the `raw` format: `KEY=VALUE` lines taken verbatim (no quotes, escapes,
/// inline comments or expansion); a bare `KEY` line copies `KEY` from `lookup` when set there.
pub(crate) fn parse_raw(
    source: &str,
    file: Arc<Path>,
    lookup: &dyn Fn(&str) -> Option<String>,
) -> Result<Vars> {
    let mut vars = Vars::new();
    raw::parse(strip_bom(source), &file, &mut vars, lookup)?;
    Ok(vars)
}

/// Parses `source` in `format`.
pub(crate) fn parse_format(
    source: &str,
    file: Arc<Path>,
    format: Format,
    lookup: &dyn Fn(&str) -> Option<String>,
) -> Result<Vars> {
    match format {
        Format::Dotenv => parse(source, file, lookup),
        Format::Raw => parse_raw(source, file, lookup),
    }
}

/// Reads and parses the dotenv file at `path` (see [`parse`]).
pub(crate) fn read(path: &Path, lookup: &dyn Fn(&str) -> Option<String>) -> Result<Vars> {
    read_format(path, Format::Dotenv, lookup)
}

/// Reads and parses the env file at `path` in `format`.
pub(crate) fn read_format(
    path: &Path,
    format: Format,
    lookup: &dyn Fn(&str) -> Option<String>,
) -> Result<Vars> {
    let source = read_source(path)?;
    parse_format(&source, Arc::from(path), format, lookup)
}

/// Reads several dotenv files in order, as `--env-file a --env-file b` does: a later file
/// replaces the values of an earlier one, and sees the earlier values in `${VAR}` expansion
/// (after `lookup`, which still wins).
pub(crate) fn read_files(
    paths: &[PathBuf],
    lookup: &dyn Fn(&str) -> Option<String>,
) -> Result<Vars> {
    let mut vars = Vars::new();
    for path in paths {
        let source = read_source(path)?;
        parse_into(&source, Arc::from(path.as_path()), &mut vars, lookup)?;
    }
    Ok(vars)
}

/// The text of `path`, read within the bounds of an env file ([`crate::read`]); a directory is
/// refused by name rather than with an I/O error.
fn read_source(path: &Path) -> Result<String> {
    if path.is_dir() {
        return Err(Error::invalid(
            ErrorKind::EnvFile,
            None,
            KeyPath::root(),
            format!("env file {} is a directory", path.display()),
        ));
    }
    read::text(path, read::Role::Env, Arc::from(path))
}

/// `source` without a leading UTF-8 byte order mark.
fn strip_bom(source: &str) -> &str {
    source.strip_prefix('\u{feff}').unwrap_or(source)
}
