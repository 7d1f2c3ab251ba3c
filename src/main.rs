//! `bosun`: the one binary. Parses the command line, calls a crate, renders the result.

mod cli;

use std::process::ExitCode;

fn main() -> ExitCode {
    // The engine re-executes this binary as a container's shim and setup process; those internal
    // entry points run before any argument parsing.
    if let Some(code) = engine::entry::dispatch_from_env() {
        return ExitCode::from(u8::try_from(code).unwrap_or(1));
    }
    cli::install_panic_hook();
    let args = cli::normalize_args(std::env::args_os());
    let parsed = match cli::parse(args) {
        Ok(parsed) => parsed,
        Err(err) => return cli::exit_for_clap_error(err),
    };
    match cli::run(parsed) {
        Ok(code) => code,
        Err(err) => {
            cli::report(&err);
            ExitCode::from(1)
        }
    }
}
