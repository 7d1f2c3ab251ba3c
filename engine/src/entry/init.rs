//! The minimal init (`init: true`): PID 1 of the container runs the entrypoint as its child,
//! forwards every signal it receives to it, reaps every zombie reparented to it, and exits
//! with the child's status (128 + signal when the child was killed).
//!
//! The container setup becomes the init itself rather than exec'ing a fresh copy of the
//! binary: the binary is dynamically linked, and the container's root has no loader for it.
//!
//! All signals stay blocked and are taken with `sigwait`: a blocked signal is queued even for
//! a namespace's init, which would otherwise drop signals it has no handler for.

use nix::errno::Errno;
use nix::sys::signal::{SigSet, SigmaskHow, Signal, kill, sigprocmask};
use nix::sys::wait::{WaitPidFlag, WaitStatus, waitpid};
use nix::unistd::{ForkResult, Pid, fork, setpgid};

use crate::process;
use crate::sys::SetupError;

/// Runs the init over `args` (the entrypoint) with environment `env`; returns the exit code.
#[allow(unsafe_code)]
pub(super) fn run(args: &[String], env: &[String]) -> i32 {
    super::set_process_name(c"bosun-init");
    let all = SigSet::all();
    if let Err(e) = sigprocmask(SigmaskHow::SIG_SETMASK, Some(&all), None) {
        eprintln!("bosun-init: block signals: {e}");
        return 126;
    }
    // SAFETY: the setup that becomes the init is single-threaded, so the child may run any code.
    let child = match unsafe { fork() } {
        Ok(ForkResult::Child) => {
            // Its own process group, so that a terminal's job control addresses it alone.
            let _ = setpgid(Pid::from_raw(0), Pid::from_raw(0));
            // With a terminal, that group is its foreground (SIGTTOU is still blocked here).
            if nix::unistd::isatty(std::io::stdin()).unwrap_or(false) {
                let _ = nix::unistd::tcsetpgrp(std::io::stdin(), nix::unistd::getpid());
            }
            if let Err(e) = process::reset_signals() {
                eprintln!("bosun-init: reset signals: {e}");
                std::process::exit(126);
            }
            // A command that cannot be found exits 127, one that cannot run 126 (the shell's
            // codes, as Docker reports them).
            let code = match args
                .first()
                .map(|program| process::find_program(program, env))
            {
                Some(Ok(path)) => {
                    let err = process::exec_path(&path, args, env);
                    eprintln!("bosun-init: {err}");
                    match err {
                        SetupError::Sys {
                            source: Errno::ENOENT,
                            ..
                        } => 127,
                        _ => 126,
                    }
                }
                Some(Err(err)) => {
                    eprintln!("bosun-init: {err}");
                    127
                }
                None => {
                    eprintln!("bosun-init: no command");
                    126
                }
            };
            std::process::exit(code);
        }
        Ok(ForkResult::Parent { child }) => child,
        Err(e) => {
            eprintln!("bosun-init: fork: {e}");
            return 126;
        }
    };
    loop {
        match all.wait() {
            Ok(Signal::SIGCHLD) => {
                if let Some(code) = reap(child) {
                    return code;
                }
            }
            // The child may be gone already; its exit arrives as SIGCHLD.
            Ok(signal) => {
                let _ = kill(child, signal);
            }
            Err(_) => {}
        }
    }
}

/// Reaps every exited process; returns the exit code once `child` is among them.
fn reap(child: Pid) -> Option<i32> {
    let mut result = None;
    loop {
        match waitpid(None, Some(WaitPidFlag::WNOHANG)) {
            Ok(WaitStatus::Exited(pid, code)) if pid == child => result = Some(code),
            Ok(WaitStatus::Signaled(pid, sig, _)) if pid == child => {
                result = Some(128 + sig as i32)
            }
            Ok(WaitStatus::StillAlive) | Err(Errno::ECHILD) => return result,
            Ok(_) | Err(Errno::EINTR) => continue,
            Err(_) => return result,
        }
    }
}
