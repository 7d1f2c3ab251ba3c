//! Loads the compose project of the current directory (or of the files given as arguments) and
//! prints its canonical YAML, or the one-line error.
//!
//! `cargo run -p compose-spec --example load -- [FILE...]`

use std::path::PathBuf;
use std::process::ExitCode;

use compose_spec::discovery::ProjectOptions;
use compose_spec::loader::{self, LoadOptions};
use compose_spec::render;

fn main() -> ExitCode {
    let Ok(working_dir) = std::env::current_dir() else {
        eprintln!("error: cannot read the current directory");
        return ExitCode::FAILURE;
    };
    let options = LoadOptions {
        project: ProjectOptions {
            files: std::env::args().skip(1).map(PathBuf::from).collect(),
            working_dir,
            environment: std::env::vars().collect(),
            ..Default::default()
        },
        interpolate: true,
        ..Default::default()
    };
    match loader::load(&options).and_then(|loaded| render::to_yaml(&loaded.project, loaded.dollars))
    {
        Ok(yaml) => {
            print!("{yaml}");
            ExitCode::SUCCESS
        }
        Err(err) => {
            eprintln!("error: {err}");
            ExitCode::FAILURE
        }
    }
}
