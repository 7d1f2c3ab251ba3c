//! Shared by the corpus tests: reading a case directory into load options.

#![allow(dead_code, clippy::unwrap_used)]

use std::path::{Path, PathBuf};

use compose_spec::discovery::ProjectOptions;
use compose_spec::env::Environment;
use compose_spec::loader::LoadOptions;

/// A corpus case: a directory with compose files, an optional `args` file (one option per line:
/// `-f FILE`, `-p NAME`, `--profile P`, `--env-file F`, `--project-directory D`, `--no-interpolate`,
/// `service NAME`) and an optional `env` file (the shell environment, `KEY=VALUE` per line).
pub(crate) struct Case {
    pub dir: PathBuf,
    pub name: String,
    pub options: LoadOptions,
    /// The same options as command line arguments for the `bosun` binary.
    pub cli_args: Vec<String>,
    pub shell_env: Vec<(String, String)>,
}

pub(crate) fn cases(kind: &str) -> Vec<Case> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(kind);
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(&root)
        .unwrap_or_else(|e| panic!("{}: {e}", root.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_dir())
        .collect();
    dirs.sort();
    dirs.into_iter().map(|d| read_case(&d)).collect()
}

fn read_case(dir: &Path) -> Case {
    let name = dir.file_name().unwrap().to_string_lossy().into_owned();
    let mut shell_env = vec![("HOME".to_string(), "/home/user".to_string())];
    if let Ok(text) = std::fs::read_to_string(dir.join("env")) {
        for line in text.lines().filter(|l| !l.trim().is_empty()) {
            let (k, v) = line.split_once('=').unwrap_or((line, ""));
            shell_env.push((k.to_string(), v.to_string()));
        }
    }
    let mut project = ProjectOptions {
        working_dir: dir.to_path_buf(),
        environment: shell_env.iter().cloned().collect::<Environment>(),
        ..Default::default()
    };
    let mut options = LoadOptions {
        interpolate: true,
        ..Default::default()
    };
    let mut cli_args = Vec::new();
    if let Ok(text) = std::fs::read_to_string(dir.join("args")) {
        for line in text.lines().filter(|l| !l.trim().is_empty()) {
            let (flag, value) = line.split_once(' ').unwrap_or((line, ""));
            match flag {
                "-f" => project.files.push(dir.join(value)),
                "-p" => project.project_name = Some(value.to_string()),
                "--profile" => project.profiles.push(value.to_string()),
                "--env-file" => project.env_files.push(dir.join(value)),
                "--project-directory" => project.project_directory = Some(dir.join(value)),
                "--no-interpolate" => options.interpolate = false,
                "service" => options.services.push(value.to_string()),
                other => panic!("{name}: unknown option in args: {other}"),
            }
            match flag {
                "service" => {}
                "--no-interpolate" => cli_args.push(flag.to_string()),
                _ => {
                    cli_args.push(flag.to_string());
                    cli_args.push(value.to_string());
                }
            }
        }
    }
    options.project = project;
    Case {
        dir: dir.to_path_buf(),
        name,
        options,
        cli_args,
        shell_env,
    }
}

/// Text with the case directory replaced by `$CASE`, so goldens do not depend on the checkout.
pub(crate) fn portable(text: &str, dir: &Path) -> String {
    text.replace(&dir.display().to_string(), "$CASE")
}
