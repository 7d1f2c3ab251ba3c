//! Cloning the container's init into its new namespaces and exec'ing the setup entry point.
//! The child runs only async-signal-safe calls (dup2, fcntl, execve, _exit) before the exec.

use std::ffi::CString;
use std::os::fd::{AsRawFd, OwnedFd};
use std::path::Path;

use nix::fcntl::OFlag;
use nix::sched::CloneFlags;
use nix::unistd::{Pid, pipe2};

/// The cloned child and the parent's ends of its pipes.
pub(super) struct Child {
    pub pid: Pid,
    pub stdout: OwnedFd,
    pub stderr: OwnedFd,
    pub sync: OwnedFd,
}

/// A namespace the child gets (network or IPC).
pub(super) enum Namespace {
    /// A new one.
    New,
    /// The shim's (the host's).
    Inherit,
    /// The namespace behind this descriptor, entered before the exec.
    Join(OwnedFd),
}

/// Clones a child in new mount, pid and uts namespaces, the network namespace `net` and the IPC
/// namespace `ipc`,
/// running `exe` with the setup subcommand; its stdin is `stdin` (/dev/null when `None`),
/// stdout and stderr pipes, fd 3 the sync socket.
#[allow(unsafe_code)]
pub(super) fn clone_setup(
    exe: &Path,
    net: Namespace,
    ipc: Namespace,
    stdin: Option<OwnedFd>,
) -> Result<Child, String> {
    let (out_r, out_w) = pipe2(OFlag::O_CLOEXEC).map_err(|e| format!("pipe: {e}"))?;
    let (err_r, err_w) = pipe2(OFlag::O_CLOEXEC).map_err(|e| format!("pipe: {e}"))?;
    let (sync_parent, sync_child) =
        std::os::unix::net::UnixStream::pair().map_err(|e| format!("socketpair: {e}"))?;
    let (sync_parent, sync_child): (OwnedFd, OwnedFd) = (sync_parent.into(), sync_child.into());
    let null: OwnedFd = match stdin {
        Some(fd) => fd,
        None => std::fs::File::open("/dev/null")
            .map_err(|e| format!("open /dev/null: {e}"))?
            .into(),
    };
    let exe_c = CString::new(exe.as_os_str().as_encoded_bytes())
        .map_err(|_| "exe path has a NUL byte".to_string())?;
    let arg1 = CString::new(crate::entry::SETUP_COMMAND)
        .map_err(|_| "setup command has a NUL byte".to_string())?;
    let argv = [exe_c.as_ptr(), arg1.as_ptr(), std::ptr::null()];
    let envp = [std::ptr::null::<libc::c_char>()];
    let moves = [
        null.as_raw_fd(),
        out_w.as_raw_fd(),
        err_w.as_raw_fd(),
        sync_child.as_raw_fd(),
    ];
    let mut flags = CloneFlags::CLONE_NEWNS | CloneFlags::CLONE_NEWPID | CloneFlags::CLONE_NEWUTS;
    if matches!(net, Namespace::New) {
        flags |= CloneFlags::CLONE_NEWNET;
    }
    if matches!(ipc, Namespace::New) {
        flags |= CloneFlags::CLONE_NEWIPC;
    }
    let join_fd = match &net {
        Namespace::Join(fd) => fd.as_raw_fd(),
        _ => -1,
    };
    let join_ipc_fd = match &ipc {
        Namespace::Join(fd) => fd.as_raw_fd(),
        _ => -1,
    };
    let mut stack = vec![0u8; 256 * 1024];
    let child_main = Box::new(move || -> isize {
        if join_fd >= 0 {
            // SAFETY: setns is a plain syscall (async-signal-safe) on a descriptor the parent
            // keeps open until clone returns.
            unsafe {
                if libc::setns(join_fd, libc::CLONE_NEWNET) < 0 {
                    libc::_exit(125);
                }
            }
        }
        if join_ipc_fd >= 0 {
            // SAFETY: as above, on the IPC namespace's descriptor.
            unsafe {
                if libc::setns(join_ipc_fd, libc::CLONE_NEWIPC) < 0 {
                    libc::_exit(125);
                }
            }
        }
        for (target, fd) in moves.iter().enumerate() {
            let target = target as libc::c_int;
            // SAFETY: dup2/fcntl on fds we own; both are async-signal-safe.
            unsafe {
                if *fd == target {
                    libc::fcntl(target, libc::F_SETFD, 0);
                } else if libc::dup2(*fd, target) < 0 {
                    libc::_exit(126);
                }
            }
        }
        // SAFETY: argv and envp are NUL-terminated arrays of valid C strings that outlive the
        // call; execve only returns on failure, and _exit is async-signal-safe.
        unsafe {
            libc::execve(exe_c.as_ptr(), argv.as_ptr(), envp.as_ptr());
            libc::_exit(127)
        }
    });
    // SAFETY: the shim is single-threaded, and the child only runs the async-signal-safe code
    // above before exec; the stack outlives the call because the child execs or exits.
    let pid = unsafe { nix::sched::clone(child_main, &mut stack, flags, Some(libc::SIGCHLD)) }
        .map_err(|e| format!("clone container init: {e}"))?;
    drop((out_w, err_w, sync_child, null, net, ipc));
    Ok(Child {
        pid,
        stdout: out_r,
        stderr: err_r,
        sync: sync_parent,
    })
}
