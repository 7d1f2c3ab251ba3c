//! Signal state handed to the entrypoint: nothing blocked, default dispositions.

use nix::sys::signal::{SigHandler, SigSet, SigmaskHow, Signal, sigprocmask};

/// Unblocks every signal and restores the default disposition of SIGPIPE (which the Rust
/// runtime ignores, and an ignored disposition would survive execve).
#[allow(unsafe_code)]
pub(crate) fn reset_signals() -> nix::Result<()> {
    sigprocmask(SigmaskHow::SIG_SETMASK, Some(&SigSet::empty()), None)?;
    // SAFETY: installing SIG_DFL runs no handler code, so no signal-safety rules apply.
    unsafe { nix::sys::signal::signal(Signal::SIGPIPE, SigHandler::SigDfl) }.map(drop)
}
