//! The TAP device of a sealed overlay: made (or, after an agent restart, reopened) persistent,
//! so that it outlives the process that holds it, and made transient again to be removed.

#![allow(unsafe_code)]

use std::fs::{File, OpenOptions};
use std::os::fd::AsRawFd as _;

use crate::network::{NetworkError, Result};

const CLONE_DEVICE: &str = "/dev/net/tun";

fn ifreq(name: &str) -> Result<libc::ifreq> {
    // SAFETY: ifreq is plain data (a name and a union of integers and addresses); all zeroes is
    // a valid value of it.
    let mut req: libc::ifreq = unsafe { std::mem::zeroed() };
    if name.is_empty() || name.len() >= req.ifr_name.len() {
        return Err(NetworkError::Invalid {
            network: name.to_string(),
            message: format!("tap device name {name:?} does not fit IFNAMSIZ"),
        });
    }
    for (dst, src) in req.ifr_name.iter_mut().zip(name.bytes()) {
        *dst = src as libc::c_char;
    }
    req.ifr_ifru.ifru_flags = (libc::IFF_TAP | libc::IFF_NO_PI) as libc::c_short;
    Ok(req)
}

fn ioctl_err(op: &str, name: &str) -> impl FnOnce(std::io::Error) -> NetworkError {
    let op = format!("{op} tap device {name}");
    move |source| NetworkError::Netlink { op, source }
}

/// Opens the TAP device `name` (made when missing) and makes it persistent; the returned
/// file reads and writes its frames (Ethernet, no packet information).
pub(super) fn open(name: &str) -> Result<File> {
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .open(CLONE_DEVICE)
        .map_err(crate::network::io_err("open", CLONE_DEVICE))?;
    let req = ifreq(name)?;
    // SAFETY: TUNSETIFF reads (and fills in) an ifreq; req lives across the call.
    let rc = unsafe { libc::ioctl(file.as_raw_fd(), libc::TUNSETIFF, &raw const req) };
    if rc < 0 {
        return Err(ioctl_err("attach", name)(std::io::Error::last_os_error()));
    }
    set_persist(&file, name, true)?;
    Ok(file)
}

/// Makes the TAP device `file` is attached to persistent or not: a device that is not
/// goes away when its last descriptor is closed.
pub(super) fn set_persist(file: &File, name: &str, persist: bool) -> Result<()> {
    // SAFETY: TUNSETPERSIST takes an integer argument, no pointer.
    let rc = unsafe {
        libc::ioctl(
            file.as_raw_fd(),
            libc::TUNSETPERSIST,
            libc::c_ulong::from(persist),
        )
    };
    if rc < 0 {
        return Err(ioctl_err("set persistence of", name)(
            std::io::Error::last_os_error(),
        ));
    }
    Ok(())
}
