//! The project's environment files: `<dir>/.env`, or the `--env-file` list that replaces it.

use std::path::{Path, PathBuf};

use super::name::discovery_error;
use crate::dotenv;
use crate::env::Environment;
use crate::error::{ErrorKind, Result};
use crate::path::KeyPath;

/// The variable that turns off reading the default `.env` file.
pub(crate) const COMPOSE_DISABLE_ENV_FILE: &str = "COMPOSE_DISABLE_ENV_FILE";

/// The name of the default environment file.
pub(crate) const DEFAULT_ENV_FILE: &str = ".env";

/// Whether `COMPOSE_DISABLE_ENV_FILE` is set to a true value (`1`, `t`, `true` … as Compose
/// parses booleans); a value that is not a boolean is an error.
pub(super) fn default_disabled(shell: &Environment) -> Result<bool> {
    let Some(value) = shell.get(COMPOSE_DISABLE_ENV_FILE) else {
        return Ok(false);
    };
    match value {
        "1" | "t" | "T" | "true" | "TRUE" | "True" => Ok(true),
        "0" | "f" | "F" | "false" | "FALSE" | "False" => Ok(false),
        other => Err(discovery_error(format!(
            "invalid {COMPOSE_DISABLE_ENV_FILE} value {other:?}: expected true or false"
        ))),
    }
}

/// The env files to read: the explicit ones (each must be an existing file), else `dir/.env`
/// when it is a file.
pub(super) fn to_read(explicit: &[PathBuf], dir: &Path) -> Result<Vec<PathBuf>> {
    if explicit.is_empty() {
        let default = dir.join(DEFAULT_ENV_FILE);
        return Ok(if default.is_file() {
            vec![default]
        } else {
            Vec::new()
        });
    }
    for file in explicit {
        if file.is_dir() {
            return Err(discovery_error(format!(
                "env file {} is a directory",
                file.display()
            )));
        }
        if !file.exists() {
            return Err(discovery_error(format!(
                "env file {} not found",
                file.display()
            )));
        }
    }
    Ok(explicit.to_vec())
}

/// Reads `files` in order and fills their variables in under `env` (variables already set, the
/// shell's above all, win and are also what `${VAR}` in the files sees first). Appends the
/// files to `read`, once each.
pub(super) fn load(
    env: &mut Environment,
    files: &[PathBuf],
    read: &mut Vec<PathBuf>,
) -> Result<()> {
    if files.is_empty() {
        return Ok(());
    }
    let vars = dotenv::read_files(files, &|name| env.get(name).map(str::to_owned))
        .map_err(|e| e.reading(ErrorKind::Discovery, "env file", None, KeyPath::root()))?;
    for (name, value) in vars {
        env.set_default(name, value);
    }
    for file in files {
        if !read.contains(file) {
            read.push(file.clone());
        }
    }
    Ok(())
}
