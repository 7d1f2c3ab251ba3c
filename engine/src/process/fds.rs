//! File descriptor hygiene: nothing above stderr crosses into the container.

use nix::fcntl::{FcntlArg, FdFlag, fcntl};

/// The file descriptors this process has open (from /proc/self/fd).
pub(crate) fn open_fds() -> Vec<i32> {
    let Ok(dir) = std::fs::read_dir("/proc/self/fd") else {
        return Vec::new();
    };
    dir.filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
        .collect()
}

/// Marks every open fd from `first` upwards close-on-exec, so an exec leaves only the ones below.
pub(crate) fn cloexec_from(first: i32) {
    for fd in open_fds().into_iter().filter(|fd| *fd >= first) {
        // The read_dir fd in the list is closed by now: EBADF is expected and ignored.
        let _ = set_cloexec(fd);
    }
}

#[allow(unsafe_code)]
fn set_cloexec(fd: i32) -> nix::Result<()> {
    // SAFETY: the fd number comes from /proc/self/fd; it is only used for this one fcntl and a
    // stale number yields EBADF, which is ignored.
    let borrowed = unsafe { std::os::fd::BorrowedFd::borrow_raw(fd) };
    fcntl(borrowed, FcntlArg::F_SETFD(FdFlag::FD_CLOEXEC)).map(drop)
}
