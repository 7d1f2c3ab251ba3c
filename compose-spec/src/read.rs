//! Reading the files the loader is pointed at, within bounds.
//!
//! Every file the loader reads goes through [`text`]: the compose files (`-f`, `COMPOSE_FILE` or
//! found), included and extended files, `.env` / `--env-file` and a service's `env_file`. A path
//! can name anything, so reading is bounded:
//!
//! - the file is opened with `O_NONBLOCK` (opening a fifo never waits for a writer) and
//!   `O_NOCTTY`, and its type is taken from the opened descriptor (`fstat`), so it cannot be
//!   swapped between the check and the read: anything but a regular file (a directory, a device
//!   such as `/dev/zero`, a fifo, a socket) is refused;
//! - a file larger than its [`Role`]'s limit is refused, and at most one byte more than the limit
//!   is ever read (a file that grows while it is read is refused too);
//! - the text must be UTF-8: the first invalid byte is reported with its line and column; a
//!   leading UTF-8 byte order mark is skipped.
//!
//! The path-only references of a project (`configs.*.file`, `secrets.*.file`, build contexts) are
//! not read by the loader.

use std::fs::{File, OpenOptions};
use std::io::{self, Read};
use std::os::unix::fs::{FileTypeExt, OpenOptionsExt};
use std::path::Path;
use std::sync::Arc;

use crate::error::{Error, ErrorKind, Result};
use crate::path::KeyPath;
use crate::yaml::Mark;

/// The largest compose file read (`-f`, included and extended files): 16 MiB.
///
/// Real compose files are at most a few hundred KiB (a generated 500-service project is about
/// 200 KiB); 16 MiB leaves room for generated ones while refusing a runaway file before it is
/// parsed (parsing costs about ten times the file's size in memory).
pub(crate) const MAX_COMPOSE_FILE_BYTES: u64 = 16 * 1024 * 1024;

/// The largest env file read (`.env`, `--env-file`, `env_file`, an include's `env_file`): 4 MiB.
///
/// A container's whole environment must fit in the kernel's argument space (`ARG_MAX`, 2 MiB by
/// default) at exec, so a larger env file cannot be meant for a container.
pub(crate) const MAX_ENV_FILE_BYTES: u64 = 4 * 1024 * 1024;

/// What a file is read as: sets its size limit and how a bad byte is classified.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Role {
    /// A compose file, limited to [`MAX_COMPOSE_FILE_BYTES`].
    Compose,
    /// An env file, limited to [`MAX_ENV_FILE_BYTES`].
    Env,
}

impl Role {
    /// The most bytes a file of this role may hold.
    pub(crate) fn limit(self) -> u64 {
        match self {
            Role::Compose => MAX_COMPOSE_FILE_BYTES,
            Role::Env => MAX_ENV_FILE_BYTES,
        }
    }

    fn error_kind(self) -> ErrorKind {
        match self {
            Role::Compose => ErrorKind::Syntax,
            Role::Env => ErrorKind::EnvFile,
        }
    }
}

/// The text of the file at `path`, read within the bounds of `role`; `shown` is how the file is
/// named in the location of an encoding error.
///
/// Errors: [`Error::Io`] when the file cannot be opened or read, is not a regular file or is
/// larger than the role allows (see [`Error::reading`] to place it in the file that named
/// `path`); an [`Error::Invalid`] at the first byte that is not UTF-8.
pub(crate) fn text(path: &Path, role: Role, shown: Arc<Path>) -> Result<String> {
    let bytes = bytes(path, role.limit()).map_err(|e| Error::io(path, e))?;
    decode(bytes, role, shown)
}

/// The contents of the regular file at `path`, if it holds at most `limit` bytes.
///
/// A path that is not a regular file fails with [`io::ErrorKind::InvalidInput`], a file over the
/// limit with [`io::ErrorKind::FileTooLarge`]; both say what was found in their message.
pub(crate) fn bytes(path: &Path, limit: u64) -> io::Result<Vec<u8>> {
    let file = open_regular(path)?;
    let size = file.metadata()?.len();
    if size > limit {
        return Err(too_large(limit));
    }
    let capacity = usize::try_from(size).unwrap_or(0);
    let mut buf = Vec::with_capacity(capacity);
    file.take(limit.saturating_add(1)).read_to_end(&mut buf)?;
    if buf.len() as u64 > limit {
        return Err(too_large(limit));
    }
    Ok(buf)
}

/// Opens `path` for reading without blocking and without taking a terminal, and checks on the
/// opened descriptor that it is a regular file.
pub(crate) fn open_regular(path: &Path) -> io::Result<File> {
    let file = OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK | libc::O_NOCTTY)
        .open(path)
        .map_err(|e| match e.raw_os_error() {
            // open(2) of a unix socket
            Some(libc::ENXIO) => not_regular("a socket"),
            _ => e,
        })?;
    let kind = file.metadata()?.file_type();
    if kind.is_file() {
        return Ok(file);
    }
    Err(not_regular(if kind.is_dir() {
        "a directory"
    } else if kind.is_char_device() {
        "a character device"
    } else if kind.is_block_device() {
        "a block device"
    } else if kind.is_fifo() {
        "a fifo"
    } else if kind.is_socket() {
        "a socket"
    } else {
        "an unknown kind of file"
    }))
}

fn not_regular(what: &str) -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidInput,
        format!("not a regular file ({what})"),
    )
}

fn too_large(limit: u64) -> io::Error {
    io::Error::new(
        io::ErrorKind::FileTooLarge,
        format!("larger than the {} MiB allowed", limit / (1024 * 1024)),
    )
}

/// `bytes` as text without a leading byte order mark; the first invalid byte is reported at its
/// line and column (counted in characters, as the YAML parser counts them).
fn decode(mut bytes: Vec<u8>, role: Role, shown: Arc<Path>) -> Result<String> {
    const BOM: &[u8] = "\u{feff}".as_bytes();
    if bytes.starts_with(BOM) {
        bytes.drain(..BOM.len());
    }
    String::from_utf8(bytes).map_err(|e| {
        let bytes = e.as_bytes();
        let valid = e.utf8_error().valid_up_to();
        let prefix = String::from_utf8_lossy(&bytes[..valid]);
        let line = prefix.matches('\n').count() + 1;
        let line_start = prefix.rfind('\n').map_or(0, |i| i + 1);
        let column = prefix[line_start..].chars().count() + 1;
        Error::invalid(
            role.error_kind(),
            Some(Mark::new(shown, line, column)),
            KeyPath::root(),
            format!(
                "invalid UTF-8: byte 0x{:02x} cannot start or continue a character here, \
                 expected UTF-8 text",
                bytes[valid]
            ),
        )
    })
}

#[cfg(test)]
mod tests;
