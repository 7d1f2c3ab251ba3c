//! Golden tests over the corpus in tests/data: every valid project loads to its checked-in
//! canonical form (and that form is a fixpoint); every invalid one fails with its expected error.
//!
//! `BOSUN_BLESS=1 cargo test -p compose-spec --test corpus` rewrites the goldens of valid cases.

#![allow(clippy::unwrap_used)]

mod common;

use compose_spec::loader;
use compose_spec::render;

#[test]
fn valid_projects_match_their_golden_output() {
    let bless = std::env::var_os("BOSUN_BLESS").is_some();
    let cases = common::cases("valid");
    assert!(
        cases.len() >= 80,
        "the corpus needs at least 80 valid projects, has {}",
        cases.len()
    );
    let mut failures = Vec::new();
    for case in &cases {
        let loaded = match loader::load(&case.options) {
            Ok(loaded) => loaded,
            Err(e) => {
                failures.push(format!("{}: failed to load: {e}", case.name));
                continue;
            }
        };
        let yaml = render::to_yaml(&loaded.project, loaded.dollars).expect("renders");
        let actual = common::portable(&yaml, &case.dir);
        let golden = case.dir.join("expected.yaml");
        if bless {
            std::fs::write(&golden, &actual).unwrap();
            continue;
        }
        match std::fs::read_to_string(&golden) {
            Ok(expected) if expected == actual => {}
            Ok(expected) => failures.push(format!(
                "{}: output differs from expected.yaml\n--- expected\n{expected}\n--- actual\n{actual}",
                case.name
            )),
            Err(_) => failures.push(format!("{}: no expected.yaml", case.name)),
        }
        if let Err(e) = check_fixpoint(case, &yaml) {
            failures.push(format!("{}: config of config differs: {e}", case.name));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} cases failed:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
}

/// Loading the canonical output again gives the same output.
fn check_fixpoint(case: &common::Case, yaml: &str) -> Result<(), String> {
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    let file = dir.path().join("compose.yaml");
    std::fs::write(&file, yaml).map_err(|e| e.to_string())?;
    let mut options = case.options.clone();
    options.project.files = vec![file];
    options.project.env_files = Vec::new();
    options.project.project_directory = Some(case.dir.clone());
    options.project.working_dir = dir.path().to_path_buf();
    options.project.profiles = Vec::new();
    options.services = Vec::new();
    let again = loader::load(&options).map_err(|e| e.to_string())?;
    let second = render::to_yaml(&again.project, again.dollars).map_err(|e| e.to_string())?;
    if second == yaml {
        Ok(())
    } else {
        Err(format!("\n--- first\n{yaml}\n--- second\n{second}"))
    }
}

#[test]
fn invalid_projects_fail_with_their_expected_error() {
    let cases = common::cases("invalid");
    assert!(
        cases.len() >= 50,
        "the corpus needs at least 50 invalid projects, has {}",
        cases.len()
    );
    let mut failures = Vec::new();
    for case in &cases {
        let expected = std::fs::read_to_string(case.dir.join("error.txt"))
            .unwrap_or_else(|_| panic!("{}: no error.txt", case.name));
        let expected = expected.trim();
        // An unreadable env_file does not stop the load: the commands that use its service
        // report it (`Loaded::check_env_files`), with the same one-line error.
        let outcome = loader::load(&case.options)
            .map_err(|e| e.to_string())
            .and_then(|loaded| loaded.check_env_files(&[]));
        match outcome {
            Ok(()) => failures.push(format!(
                "{}: loaded, expected error containing {expected:?}",
                case.name
            )),
            Err(e) => {
                let message = common::portable(&e, &case.dir);
                if !message.contains(expected) {
                    failures.push(format!(
                        "{}: error {message:?} does not contain {expected:?}",
                        case.name
                    ));
                }
                if message.contains('\n') {
                    failures.push(format!("{}: error is not one line: {message:?}", case.name));
                }
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} cases failed:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
}
