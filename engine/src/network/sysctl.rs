//! Network sysctls of the calling thread's network namespace (`/proc/sys/net` follows the
//! namespace of the thread that opens it).

use std::path::PathBuf;

use super::{Result, io_err};

/// Writes `value` to `/proc/sys/net/<key>` (key with slashes, e.g. `ipv4/ip_forward`).
pub(crate) fn set(key: &str, value: &str) -> Result<()> {
    let path = PathBuf::from("/proc/sys/net").join(key);
    if std::fs::read_to_string(&path).is_ok_and(|v| v.trim() == value) {
        return Ok(());
    }
    std::fs::write(&path, value).map_err(io_err("write", path))
}
