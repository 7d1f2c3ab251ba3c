//! The project name: `-p`, `COMPOSE_PROJECT_NAME`, the top-level `name:`, or the directory.

use std::path::Path;

use crate::env::Environment;
use crate::error::{Error, ErrorKind, Result};
use crate::path::KeyPath;

/// The variable that names the project when `-p` is not given.
pub const COMPOSE_PROJECT_NAME: &str = "COMPOSE_PROJECT_NAME";

/// The project name, by Compose's precedence:
///
/// 1. `explicit` (`-p`), which must already be a valid name;
/// 2. `COMPOSE_PROJECT_NAME` from `env`, which must be a valid name too;
/// 3. `top_level_name` (the compose file's `name:`, already interpolated), normalized;
/// 4. the base name of `project_directory`, normalized.
///
/// Empty values count as unset. A name that ends up empty (the project directory is `/`) is an
/// error.
pub(crate) fn project_name(
    explicit: Option<&str>,
    env: &Environment,
    top_level_name: Option<&str>,
    project_directory: &Path,
) -> Result<String> {
    if let Some(name) = non_empty(explicit).or_else(|| non_empty(env.get(COMPOSE_PROJECT_NAME))) {
        return validated(name);
    }
    let from_file = non_empty(top_level_name)
        .map(normalize_project_name)
        .filter(|n| !n.is_empty());
    let name = from_file.unwrap_or_else(|| {
        let base = project_directory
            .file_name()
            .map(|n| n.to_string_lossy())
            .unwrap_or_default();
        normalize_project_name(&base)
    });
    if name.is_empty() {
        return Err(discovery_error(format!(
            "project name must not be empty: the project directory {} has no usable name; \
             set one with -p or COMPOSE_PROJECT_NAME",
            project_directory.display()
        )));
    }
    Ok(name)
}

/// `name` as Compose normalizes a directory name or a `name:`: lower-cased, keeping only
/// `[a-z0-9_-]`, without leading `_` and `-`.
pub(crate) fn normalize_project_name(name: &str) -> String {
    name.to_lowercase()
        .chars()
        .filter(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '_' | '-'))
        .collect::<String>()
        .trim_start_matches(['_', '-'])
        .to_owned()
}

/// Whether `name` is a valid project name as given (already in normal form).
pub fn is_valid_project_name(name: &str) -> bool {
    !name.is_empty() && normalize_project_name(name) == name
}

/// `name` unless it is empty.
fn non_empty(name: Option<&str>) -> Option<&str> {
    name.filter(|n| !n.is_empty())
}

/// `name` if it is valid, else Compose's error.
fn validated(name: &str) -> Result<String> {
    if is_valid_project_name(name) {
        return Ok(name.to_owned());
    }
    Err(discovery_error(format!(
        "invalid project name {name:?}: must consist only of lowercase alphanumeric characters, \
         hyphens, and underscores as well as start with a letter or number"
    )))
}

pub(super) fn discovery_error(message: String) -> Error {
    Error::invalid(ErrorKind::Discovery, None, KeyPath::root(), message)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalizes_like_compose() {
        let cases = [
            ("simple", "simple"),
            ("UNNORMALIZED PATH", "unnormalizedpath"),
            ("My.Project_1", "myproject_1"),
            ("__-x-", "x-"),
            ("-_", ""),
            ("café", "caf"),
            ("42abc", "42abc"),
        ];
        for (input, want) in cases {
            assert_eq!(normalize_project_name(input), want, "{input:?}");
        }
    }

    #[test]
    fn picks_the_name_by_precedence() {
        let dir = Path::new("/path/to/My Proj");
        let with_env: Environment = [(COMPOSE_PROJECT_NAME, "from_env")].into_iter().collect();
        let none = Environment::new();
        let cases: [(Option<&str>, &Environment, Option<&str>, &str); 9] = [
            (Some("my_project"), &with_env, Some("file"), "my_project"),
            (Some("42my_project_num"), &none, None, "42my_project_num"),
            (None, &with_env, Some("file"), "from_env"),
            (Some(""), &with_env, None, "from_env"),
            (
                None,
                &none,
                Some("Test-Expected-Test"),
                "test-expected-test",
            ),
            (None, &none, Some("..."), "myproj"),
            (None, &none, Some(""), "myproj"),
            (None, &none, None, "myproj"),
            (Some(""), &none, None, "myproj"),
        ];
        for (explicit, env, top_level, want) in cases {
            let got = project_name(explicit, env, top_level, dir).unwrap();
            assert_eq!(got, want, "{explicit:?} {env:?} {top_level:?}");
        }
    }

    #[test]
    fn rejects_invalid_explicit_names() {
        for bad in ["-my_project", "_my_project", "www.my.project", "MY_PROJECT"] {
            let want = format!("invalid project name \"{bad}\": must consist only of lowercase");
            let err =
                project_name(Some(bad), &Environment::new(), None, Path::new("/x")).unwrap_err();
            assert_eq!(err.kind(), ErrorKind::Discovery);
            assert!(err.to_string().starts_with(&want), "{err}");
            let env: Environment = [(COMPOSE_PROJECT_NAME, bad)].into_iter().collect();
            let err = project_name(None, &env, None, Path::new("/x")).unwrap_err();
            assert!(err.to_string().starts_with(&want), "{err}");
        }
    }

    #[test]
    fn the_root_directory_gives_no_name() {
        let err = project_name(None, &Environment::new(), None, Path::new("/")).unwrap_err();
        assert!(
            err.to_string()
                .starts_with("project name must not be empty"),
            "{err}"
        );
        let err =
            project_name(None, &Environment::new(), Some("__"), Path::new("/--")).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Discovery);
    }
}
