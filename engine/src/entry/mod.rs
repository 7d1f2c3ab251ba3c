//! Entry points of the re-executed binary. A binary embedding the engine calls [`dispatch`]
//! first thing in `main`; it runs the internal subcommand when argv[1] names one.

mod exec;
mod init;
mod setup;

use std::ffi::{CStr, OsString};

/// argv[1] of the per-container monitor.
pub(crate) const SHIM_COMMAND: &str = "shim";
/// argv[1] of the in-container setup that ends by exec'ing the entrypoint.
pub(crate) const SETUP_COMMAND: &str = "container-setup";
/// argv[1] of the helper that enters a running container and runs a process there.
pub(crate) const EXEC_COMMAND: &str = "container-exec";

/// Runs the internal subcommand named by `args[1]`, returning its exit code, or `None` when
/// `args` is an ordinary command line.
pub fn dispatch(args: &[OsString]) -> Option<i32> {
    match args.get(1)?.to_str()? {
        SHIM_COMMAND => Some(crate::shim::run()),
        SETUP_COMMAND => Some(setup::run()),
        EXEC_COMMAND => Some(exec::run()),
        _ => None,
    }
}

/// [`dispatch`] on this process's own arguments.
pub fn dispatch_from_env() -> Option<i32> {
    let args: Vec<OsString> = std::env::args_os().take(2).collect();
    dispatch(&args)
}

/// Names the process (its `comm`, as ps shows it); helpers run from a memfd would otherwise
/// be called after a file descriptor number.
pub(crate) fn set_process_name(name: &CStr) {
    let _ = nix::sys::prctl::set_name(name);
}
