//! Another container's /dev/shm (the IPC namespace of another container comes with it, as
//! Docker shares a shareable container's): its tmpfs is cloned from inside its mount namespace
//! as a detached mount (`open_tree`), then attached over this container's own /dev/shm
//! (`move_mount`). A plain bind mount cannot reach a mount of another namespace.

use std::fs::File;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::path::Path;

use nix::sched::{CloneFlags, setns};

use crate::inroot::Root;
use crate::sys::{Context, SetupError};

const OPEN_TREE_CLONE: libc::c_uint = 1;
const OPEN_TREE_CLOEXEC: libc::c_uint = libc::O_CLOEXEC as libc::c_uint;
const MOVE_MOUNT_F_EMPTY_PATH: libc::c_uint = 0x0000_0004;
const MOVE_MOUNT_T_EMPTY_PATH: libc::c_uint = 0x0000_0040;

/// Clones /dev/shm of the mount namespace `mnt_ns` (a `/proc/<pid>/ns/mnt` file) as a
/// detached mount. Enters that namespace and comes back to its own, which resets the root
/// and working directory: call it before anything relies on them. The process must be
/// single-threaded (setns of a mount namespace requires it).
#[allow(unsafe_code)]
pub(super) fn clone_from(mnt_ns: &Path) -> Result<OwnedFd, SetupError> {
    let shown = || mnt_ns.display().to_string();
    let theirs = File::open(mnt_ns).ctx(|| format!("open mount namespace {}", shown()))?;
    let ours = File::open("/proc/self/ns/mnt").ctx(|| "open own mount namespace".to_string())?;
    setns(&theirs, CloneFlags::CLONE_NEWNS)
        .ctx(|| format!("enter mount namespace {} to share /dev/shm", shown()))?;
    let path = c"/dev/shm";
    // SAFETY: open_tree takes a directory fd, a NUL-terminated path that outlives the call
    // and flags; it returns a new descriptor that nothing else owns, or -1.
    let fd = unsafe {
        libc::syscall(
            libc::SYS_open_tree,
            libc::AT_FDCWD,
            path.as_ptr(),
            OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC,
        )
    };
    let cloned = if fd < 0 {
        Err(std::io::Error::last_os_error())
    } else {
        let fd = i32::try_from(fd).map_err(|_| std::io::Error::other("descriptor out of range"));
        // SAFETY: the descriptor was just returned by open_tree and is owned by nobody else.
        fd.map(|fd| unsafe { OwnedFd::from_raw_fd(fd) })
    };
    // Back home before reporting anything, whatever the clone gave.
    setns(&ours, CloneFlags::CLONE_NEWNS).ctx(|| "return to own mount namespace".to_string())?;
    cloned.ctx(|| format!("clone /dev/shm of mount namespace {}", shown()))
}

/// Attaches the cloned `tree` on /dev/shm of `root` (over the container's own tmpfs).
#[allow(unsafe_code)]
pub(super) fn attach(root: &Root, tree: OwnedFd) -> Result<(), SetupError> {
    let target = root.open_dir(Path::new("/dev/shm"))?;
    let empty = c"";
    // SAFETY: move_mount takes two descriptors this function holds open for the call, two
    // NUL-terminated (empty) paths that outlive it, and flags.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_move_mount,
            tree.as_raw_fd(),
            empty.as_ptr(),
            target.as_raw_fd(),
            empty.as_ptr(),
            MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH,
        )
    };
    if rc < 0 {
        return Err(std::io::Error::last_os_error())
            .ctx(|| "mount the shared /dev/shm on /dev/shm".to_string());
    }
    Ok(())
}
