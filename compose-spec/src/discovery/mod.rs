//! Discovery: from the command line options and the caller's environment to the compose files,
//! the project directory, the environment (shell plus `.env`), the active profiles and, once
//! the top-level `name:` is known, the project name.
//!
//! The order follows Compose:
//!
//! 1. the `.env` of the project directory (`--project-directory`, else the directory of the
//!    first `-f` file, else the working directory), or the `--env-file` list instead, is read
//!    under the shell environment (the shell wins), unless `COMPOSE_DISABLE_ENV_FILE` is true;
//! 2. the compose files are the `-f` files, else those of `COMPOSE_FILE` (which `.env` may
//!    set), else `compose.yaml` (or `compose.yml`, `docker-compose.yml`,
//!    `docker-compose.yaml`) and its override file in the working directory or the nearest
//!    parent that has one;
//! 3. when the files were found that way, the `.env` next to them is read too, under what was
//!    read before;
//! 4. the profiles are `--profile`, else `COMPOSE_PROFILES` (comma separated).

mod envfiles;
mod files;
mod name;

#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_cli;

use std::path::{Path, PathBuf};

pub(crate) use name::project_name;
pub use name::{COMPOSE_PROJECT_NAME, is_valid_project_name};

use crate::env::Environment;
use crate::error::{Result, Warning};

/// The variable listing the active profiles when `--profile` is not given.
pub(crate) const COMPOSE_PROFILES: &str = "COMPOSE_PROFILES";

/// What the command line says about the project, plus the caller's context.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProjectOptions {
    /// `-f` files, in order (relative ones against `working_dir`).
    pub files: Vec<PathBuf>,
    /// `--project-directory`.
    pub project_directory: Option<PathBuf>,
    /// `-p`.
    pub project_name: Option<String>,
    /// `--env-file`, in order: later files win, and together they replace `.env`.
    pub env_files: Vec<PathBuf>,
    /// `--profile`.
    pub profiles: Vec<String>,
    /// The caller's current directory (absolute).
    pub working_dir: PathBuf,
    /// The process environment.
    pub environment: Environment,
    /// The text of the compose file given as `-` (standard input, read by the caller).
    pub stdin: Option<String>,
}

/// The result of [`discover`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Discovered {
    /// The compose files, absolute, in merge order.
    pub files: Vec<PathBuf>,
    /// The project directory (absolute): relative paths in the files resolve against it.
    pub project_directory: PathBuf,
    /// The shell environment with the env files' variables filled in under it.
    pub environment: Environment,
    /// The env files that were read, in order.
    pub env_files: Vec<PathBuf>,
    /// The active profiles.
    pub profiles: Vec<String>,
    /// Things the user should know (several default files in one directory).
    pub warnings: Vec<Warning>,
    /// The file that stands for standard input (`-` in the working directory) and its text.
    pub stdin: Option<(PathBuf, String)>,
}

/// Finds the compose files, the project directory, the environment and the profiles (see the
/// module documentation for the order).
pub(crate) fn discover(opts: &ProjectOptions) -> Result<Discovered> {
    let cwd = files::lexically_normal(&opts.working_dir);
    let absolute = |path: &Path| files::lexically_normal(&cwd.join(path));
    let project_directory = opts.project_directory.as_deref().map(absolute);
    let explicit_files = files::explicit(&opts.files, &cwd, opts.stdin.is_some())?;
    let stdin = opts
        .stdin
        .clone()
        .filter(|_| opts.files.iter().any(|f| f.as_os_str() == files::STDIN))
        .map(|text| (cwd.join(files::STDIN), text));
    let explicit_env_files: Vec<PathBuf> = opts.env_files.iter().map(|f| absolute(f)).collect();
    let env_files_enabled =
        !explicit_env_files.is_empty() || !envfiles::default_disabled(&opts.environment)?;

    let mut environment = opts.environment.clone();
    let mut env_files = Vec::new();
    let first_dir = project_directory
        .clone()
        .or_else(|| {
            explicit_files
                .first()
                .and_then(|f| f.parent())
                .map(Path::to_path_buf)
        })
        .unwrap_or_else(|| cwd.clone());
    if env_files_enabled {
        let to_read = envfiles::to_read(&explicit_env_files, &first_dir)?;
        envfiles::load(&mut environment, &to_read, &mut env_files)?;
    }

    let mut warnings = Vec::new();
    let files = if !explicit_files.is_empty() {
        explicit_files
    } else if let Some(files) = files::from_env(&environment, &cwd)? {
        files
    } else {
        files::search(project_directory.as_deref().unwrap_or(&cwd), &mut warnings)?
    };
    let project_directory = match project_directory {
        Some(dir) => dir,
        None => files
            .first()
            .and_then(|f| f.parent())
            .map_or_else(|| cwd.clone(), Path::to_path_buf),
    };
    if env_files_enabled && explicit_env_files.is_empty() && project_directory != first_dir {
        let to_read = envfiles::to_read(&[], &project_directory)?;
        envfiles::load(&mut environment, &to_read, &mut env_files)?;
    }

    let profiles = active_profiles(&opts.profiles, &environment);
    Ok(Discovered {
        files,
        project_directory,
        environment,
        env_files,
        profiles,
        warnings,
        stdin,
    })
}

/// `--profile` values, else the comma-separated `COMPOSE_PROFILES`; empty entries dropped.
fn active_profiles(flags: &[String], env: &Environment) -> Vec<String> {
    let from_env = || {
        env.get(COMPOSE_PROFILES)
            .unwrap_or_default()
            .split(',')
            .map(str::trim)
    };
    let profiles: Vec<String> = if flags.is_empty() {
        from_env().map(str::to_owned).collect()
    } else {
        flags.iter().map(|p| p.trim().to_owned()).collect()
    };
    profiles.into_iter().filter(|p| !p.is_empty()).collect()
}
