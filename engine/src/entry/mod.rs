//! Entry points of the re-executed binary. A binary embedding the engine calls [`dispatch`]
//! first thing in `main`; it runs the internal subcommand when argv[1] names one.

mod setup;

use std::ffi::OsString;

/// argv[1] of the per-container monitor.
pub const SHIM_COMMAND: &str = "shim";
/// argv[1] of the in-container setup that ends by exec'ing the entrypoint.
pub const SETUP_COMMAND: &str = "container-setup";

/// Runs the internal subcommand named by `args[1]`, returning its exit code, or `None` when
/// `args` is an ordinary command line.
pub fn dispatch(args: &[OsString]) -> Option<i32> {
    match args.get(1)?.to_str()? {
        SHIM_COMMAND => Some(crate::shim::run()),
        SETUP_COMMAND => Some(setup::run()),
        _ => None,
    }
}

/// [`dispatch`] on this process's own arguments.
pub fn dispatch_from_env() -> Option<i32> {
    let args: Vec<OsString> = std::env::args_os().take(2).collect();
    dispatch(&args)
}
