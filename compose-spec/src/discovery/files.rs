//! Which compose files make up the project: `-f`, else `COMPOSE_FILE`, else the default names
//! in the working directory or the nearest parent that has one.

use std::path::{Path, PathBuf};

use super::name::discovery_error;
use crate::env::Environment;
use crate::error::{Error, ErrorKind, Result, Warning};
use crate::path::KeyPath;

/// The default compose file names, in order of preference.
pub(crate) const DEFAULT_FILE_NAMES: [&str; 4] = [
    "compose.yaml",
    "compose.yml",
    "docker-compose.yml",
    "docker-compose.yaml",
];

/// The default override file names, in order of preference (Compose prefers `.yml` here).
pub(crate) const DEFAULT_OVERRIDE_FILE_NAMES: [&str; 4] = [
    "compose.override.yml",
    "compose.override.yaml",
    "docker-compose.override.yml",
    "docker-compose.override.yaml",
];

/// The variable listing the compose files when `-f` is not given.
pub(crate) const COMPOSE_FILE: &str = "COMPOSE_FILE";

/// The separator of `COMPOSE_FILE` entries (default `:`, `;` on Windows).
pub(crate) const COMPOSE_PATH_SEPARATOR: &str = "COMPOSE_PATH_SEPARATOR";

#[cfg(windows)]
const DEFAULT_PATH_SEPARATOR: &str = ";";
#[cfg(not(windows))]
const DEFAULT_PATH_SEPARATOR: &str = ":";

/// The `-f` value that stands for standard input.
pub(super) const STDIN: &str = "-";

/// The `-f` files, absolute, each of which must exist; `-` (once, when the caller read
/// standard input) stands for standard input, as a file named `-` in `working_dir`.
pub(super) fn explicit(
    files: &[PathBuf],
    working_dir: &Path,
    stdin_given: bool,
) -> Result<Vec<PathBuf>> {
    if files.iter().filter(|f| f.as_os_str() == STDIN).count() > 1 {
        return Err(discovery_error(String::from(
            "standard input (-) can be given as a compose file only once",
        )));
    }
    files
        .iter()
        .map(|file| {
            if file.as_os_str() == STDIN {
                if !stdin_given {
                    return Err(discovery_error(String::from(
                        "a compose file from standard input (-) was not read",
                    )));
                }
                return Ok(working_dir.join(STDIN));
            }
            existing(working_dir.join(file), "compose file")
        })
        .collect()
}

/// The files listed in `COMPOSE_FILE`, if set: absolute (relative ones against `working_dir`),
/// each of which must exist.
pub(super) fn from_env(env: &Environment, working_dir: &Path) -> Result<Option<Vec<PathBuf>>> {
    let Some(list) = env.get(COMPOSE_FILE).filter(|v| !v.trim().is_empty()) else {
        return Ok(None);
    };
    let separator = env.get(COMPOSE_PATH_SEPARATOR).filter(|s| !s.is_empty());
    let separator = separator.unwrap_or(DEFAULT_PATH_SEPARATOR);
    list.split(separator)
        .filter(|entry| !entry.is_empty())
        .map(|entry| existing(working_dir.join(entry), "compose file from COMPOSE_FILE"))
        .collect::<Result<Vec<_>>>()
        .map(Some)
}

/// The default compose file (and its override) in `start` or its nearest parent that has one.
pub(super) fn search(start: &Path, warnings: &mut Vec<Warning>) -> Result<Vec<PathBuf>> {
    for dir in start.ancestors() {
        let Some(main) = first_of(&DEFAULT_FILE_NAMES, dir, "config", warnings) else {
            continue;
        };
        let mut files = vec![main];
        files.extend(first_of(
            &DEFAULT_OVERRIDE_FILE_NAMES,
            dir,
            "override",
            warnings,
        ));
        return Ok(files);
    }
    Err(no_config_file(format!(
        "no configuration file provided: none of {} found in {} or its parents \
         (use -f FILE or COMPOSE_FILE)",
        DEFAULT_FILE_NAMES.join(", "),
        start.display()
    )))
}

/// The error of a search that found no compose file ([`ErrorKind::NoConfigFile`]).
fn no_config_file(message: String) -> Error {
    Error::invalid(ErrorKind::NoConfigFile, None, KeyPath::root(), message)
}

/// The first of `names` that is a file in `dir`, with a warning when several are.
fn first_of(
    names: &[&str],
    dir: &Path,
    what: &str,
    warnings: &mut Vec<Warning>,
) -> Option<PathBuf> {
    let found: Vec<PathBuf> = names
        .iter()
        .map(|name| dir.join(name))
        .filter(|path| path.is_file())
        .collect();
    if found.len() > 1 {
        let all: Vec<String> = found.iter().map(|p| p.display().to_string()).collect();
        warnings.push(Warning {
            mark: None,
            path: KeyPath::root(),
            message: format!(
                "found multiple {what} files with supported names: {}; using {}",
                all.join(", "),
                all[0]
            ),
        });
    }
    found.into_iter().next()
}

/// `path` if it exists, else an error naming it.
fn existing(path: PathBuf, what: &str) -> Result<PathBuf> {
    let path = lexically_normal(&path);
    if path.exists() {
        Ok(path)
    } else {
        Err(discovery_error(format!(
            "{what} {} not found",
            path.display()
        )))
    }
}

/// `path` without `.` components and with `..` applied to the preceding component, as Go's
/// `filepath.Abs` cleans it (without resolving symlinks).
pub(super) fn lexically_normal(path: &Path) -> PathBuf {
    use std::path::Component;
    let mut out = PathBuf::new();
    for component in path.components() {
        match component {
            Component::CurDir => {}
            Component::ParentDir => {
                if out.file_name().is_some() {
                    out.pop();
                } else if !out.has_root() {
                    out.push(component);
                }
            }
            other => out.push(other),
        }
    }
    out
}
