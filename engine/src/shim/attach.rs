//! The attach socket of a container's shim: a unix socket in the container's run directory
//! through which callers write the container's stdin, resize its terminal and read its
//! output as it is written. The stream carries frames: one kind byte, a big-endian `u32`
//! length, then the payload.

use std::os::fd::{AsRawFd, BorrowedFd};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};

/// The socket's file name in the container's run directory.
pub const SOCKET_NAME: &str = "attach.sock";

/// The largest payload a frame may carry.
pub(crate) const MAX_FRAME: usize = 1 << 20;

const HEADER: usize = 5;

/// One message on the attach socket.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Frame {
    /// Caller → shim: bytes for the container's stdin.
    Stdin(Vec<u8>),
    /// Caller → shim: end of input (the stdin pipe is closed once the pending bytes are in;
    /// on a terminal, the end-of-file character is typed instead).
    CloseStdin,
    /// Caller → shim: close the container's stdin when this connection ends (as an attached
    /// `run -i` does: the container sees end of file when its caller goes away).
    CloseStdinOnDetach,
    /// Caller → shim: the terminal's new size.
    Resize {
        /// Rows.
        rows: u16,
        /// Columns.
        cols: u16,
    },
    /// Shim → caller: the container's standard output (or its terminal's output).
    Stdout(Vec<u8>),
    /// Shim → caller: the container's standard error.
    Stderr(Vec<u8>),
    /// Caller → shim: the caller detaches (its detach keys): the end of this connection does
    /// not close the container's stdin, whatever [`Frame::CloseStdinOnDetach`] asked.
    Detach,
}

/// A frame that cannot be decoded.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum FrameError {
    /// The kind byte is unknown.
    #[error("attach socket: unknown frame kind {0}")]
    Kind(u8),
    /// The length exceeds [`MAX_FRAME`] or does not fit the kind.
    #[error("attach socket: bad frame length {len} for kind {kind}")]
    Length {
        /// The kind byte.
        kind: u8,
        /// The announced length.
        len: usize,
    },
}

impl Frame {
    fn kind(&self) -> u8 {
        match self {
            Frame::Stdin(_) => 1,
            Frame::CloseStdin => 2,
            Frame::CloseStdinOnDetach => 3,
            Frame::Resize { .. } => 4,
            Frame::Stdout(_) => 5,
            Frame::Stderr(_) => 6,
            Frame::Detach => 7,
        }
    }

    /// Appends the encoded frame to `out`.
    pub fn encode_into(&self, out: &mut Vec<u8>) {
        let resize;
        let payload: &[u8] = match self {
            Frame::Stdin(b) | Frame::Stdout(b) | Frame::Stderr(b) => b,
            Frame::CloseStdin | Frame::CloseStdinOnDetach | Frame::Detach => &[],
            Frame::Resize { rows, cols } => {
                let [r0, r1] = rows.to_be_bytes();
                let [c0, c1] = cols.to_be_bytes();
                resize = [r0, r1, c0, c1];
                &resize
            }
        };
        out.push(self.kind());
        out.extend_from_slice(&(payload.len() as u32).to_be_bytes());
        out.extend_from_slice(payload);
    }

    /// The encoded frame.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::new();
        self.encode_into(&mut out);
        out
    }

    fn decode(kind: u8, payload: &[u8]) -> Result<Self, FrameError> {
        let bad = || FrameError::Length {
            kind,
            len: payload.len(),
        };
        Ok(match kind {
            1 => Frame::Stdin(payload.to_vec()),
            2 if payload.is_empty() => Frame::CloseStdin,
            3 if payload.is_empty() => Frame::CloseStdinOnDetach,
            4 => match payload {
                [r0, r1, c0, c1] => Frame::Resize {
                    rows: u16::from_be_bytes([*r0, *r1]),
                    cols: u16::from_be_bytes([*c0, *c1]),
                },
                _ => return Err(bad()),
            },
            5 => Frame::Stdout(payload.to_vec()),
            6 => Frame::Stderr(payload.to_vec()),
            7 if payload.is_empty() => Frame::Detach,
            2..=4 | 7 => return Err(bad()),
            other => return Err(FrameError::Kind(other)),
        })
    }
}

/// Reassembles frames from the bytes of a stream, however they were split.
#[derive(Debug, Default)]
pub struct FrameReader {
    buf: Vec<u8>,
}

impl FrameReader {
    /// Adds bytes read from the stream.
    pub fn feed(&mut self, data: &[u8]) {
        self.buf.extend_from_slice(data);
    }

    /// The next complete frame, if the bytes fed so far hold one.
    pub fn next_frame(&mut self) -> Result<Option<Frame>, FrameError> {
        let Some(header) = self.buf.get(..HEADER) else {
            return Ok(None);
        };
        let kind = header[0];
        let len = u32::from_be_bytes([header[1], header[2], header[3], header[4]]) as usize;
        if len > MAX_FRAME {
            return Err(FrameError::Length { kind, len });
        }
        if self.buf.len() < HEADER + len {
            return Ok(None);
        }
        let frame = Frame::decode(kind, &self.buf[HEADER..HEADER + len]);
        self.buf.drain(..HEADER + len);
        frame.map(Some)
    }
}

/// The attach socket of the container whose run directory is `run_dir`.
pub(crate) fn socket_path(run_dir: &Path) -> PathBuf {
    run_dir.join(SOCKET_NAME)
}

/// Runs `f` with a short path naming `name` in `dir` (through `/proc/self/fd`), since socket
/// addresses are limited to 108 bytes and run directories can be longer.
fn in_dir<T>(
    dir: &Path,
    name: &str,
    f: impl FnOnce(&Path) -> std::io::Result<T>,
) -> std::io::Result<T> {
    use std::os::unix::fs::OpenOptionsExt;
    let handle = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_PATH | libc::O_DIRECTORY)
        .open(dir)?;
    let short = PathBuf::from(format!("/proc/self/fd/{}/{name}", handle.as_raw_fd()));
    let result = f(&short);
    drop(handle);
    result
}

/// Listens on the attach socket in `run_dir` (a stale socket file is replaced).
pub(crate) fn bind(run_dir: &Path) -> std::io::Result<UnixListener> {
    let _ = std::fs::remove_file(socket_path(run_dir));
    in_dir(run_dir, SOCKET_NAME, |p| UnixListener::bind(p))
}

/// Connects to the attach socket in `run_dir`.
pub fn connect(run_dir: &Path) -> std::io::Result<UnixStream> {
    in_dir(run_dir, SOCKET_NAME, |p| UnixStream::connect(p))
}

/// Sets the size of the terminal behind `fd` (either side), as a terminal emulator does when
/// its window changes.
#[allow(unsafe_code)]
pub fn set_window_size(fd: BorrowedFd<'_>, rows: u16, cols: u16) -> std::io::Result<()> {
    let size = libc::winsize {
        ws_row: rows,
        ws_col: cols,
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    // SAFETY: TIOCSWINSZ reads one winsize from the pointer, which is valid for the call.
    if unsafe { libc::ioctl(fd.as_raw_fd(), libc::TIOCSWINSZ, &size) } < 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(())
}

/// The size (rows, columns) of the terminal behind `fd`, `None` when it is not a terminal.
#[allow(unsafe_code)]
pub fn window_size(fd: BorrowedFd<'_>) -> Option<(u16, u16)> {
    let mut size = libc::winsize {
        ws_row: 0,
        ws_col: 0,
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    // SAFETY: TIOCGWINSZ writes one winsize through the pointer, which is valid for the call.
    if unsafe { libc::ioctl(fd.as_raw_fd(), libc::TIOCGWINSZ, &mut size) } < 0 {
        return None;
    }
    Some((size.ws_row, size.ws_col))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_survive_any_split() {
        let frames = [
            Frame::Stdin(b"hello\n".to_vec()),
            Frame::CloseStdinOnDetach,
            Frame::Resize {
                rows: 40,
                cols: 132,
            },
            Frame::Stdout(Vec::new()),
            Frame::Stderr(vec![0xff; 3]),
            Frame::CloseStdin,
            Frame::Detach,
        ];
        let mut bytes = Vec::new();
        for f in &frames {
            f.encode_into(&mut bytes);
        }
        for chunk in [1, 2, 5, 7, bytes.len()] {
            let mut reader = FrameReader::default();
            let mut got = Vec::new();
            for piece in bytes.chunks(chunk) {
                reader.feed(piece);
                while let Some(f) = reader.next_frame().unwrap() {
                    got.push(f);
                }
            }
            assert_eq!(got, frames, "chunks of {chunk}");
        }
    }

    #[test]
    fn bad_frames_are_refused() {
        let cases: [(&[u8], FrameError); 3] = [
            (&[9, 0, 0, 0, 0], FrameError::Kind(9)),
            (&[4, 0, 0, 0, 1, 7], FrameError::Length { kind: 4, len: 1 }),
            (
                &[1, 0xff, 0xff, 0xff, 0xff],
                FrameError::Length {
                    kind: 1,
                    len: u32::MAX as usize,
                },
            ),
        ];
        for (bytes, want) in cases {
            let mut reader = FrameReader::default();
            reader.feed(bytes);
            assert_eq!(reader.next_frame().unwrap_err(), want, "{bytes:?}");
        }
    }

    #[test]
    fn a_long_run_directory_still_binds_and_connects() {
        let root = tempfile::tempdir().unwrap();
        let dir = root.path().join("d".repeat(120));
        std::fs::create_dir(&dir).unwrap();
        let listener = bind(&dir).unwrap();
        let mut client = connect(&dir).unwrap();
        let (mut server, _) = listener.accept().unwrap();
        use std::io::{Read, Write};
        client.write_all(&Frame::CloseStdin.encode()).unwrap();
        let mut buf = [0u8; 5];
        server.read_exact(&mut buf).unwrap();
        assert_eq!(buf, [2, 0, 0, 0, 0]);
        assert!(socket_path(&dir).exists());
    }
}
