//! One line of JSON over the sync socket, optionally carrying file descriptors (SCM_RIGHTS):
//! how the setup hands the shim the master side of a terminal opened inside the container.

use std::io::IoSlice;
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::net::UnixStream;

use nix::sys::socket::{ControlMessage, ControlMessageOwned, MsgFlags, recvmsg, sendmsg};

/// Sends `line` (a newline is added) with `fd` attached to its first byte.
pub(crate) fn send_line(
    sock: &UnixStream,
    line: &str,
    fd: Option<BorrowedFd<'_>>,
) -> std::io::Result<()> {
    let mut data = line.as_bytes().to_vec();
    data.push(b'\n');
    let fds: Vec<RawFd> = fd.iter().map(|f| f.as_raw_fd()).collect();
    let mut sent = 0;
    while sent < data.len() {
        let iov = [IoSlice::new(&data[sent..])];
        let cmsg = [ControlMessage::ScmRights(&fds)];
        let cmsgs: &[ControlMessage] = if sent == 0 && !fds.is_empty() {
            &cmsg
        } else {
            &[]
        };
        sent += sendmsg::<()>(sock.as_raw_fd(), &iov, cmsgs, MsgFlags::empty(), None)?;
    }
    Ok(())
}

/// Receives one line and every descriptor that came with it. Reads byte by byte, so that
/// nothing after the line is consumed.
#[allow(unsafe_code)]
pub(crate) fn recv_line(sock: &UnixStream) -> std::io::Result<(String, Vec<OwnedFd>)> {
    let mut line = Vec::new();
    let mut fds = Vec::new();
    loop {
        let mut byte = [0u8; 1];
        let mut iov = [std::io::IoSliceMut::new(&mut byte)];
        let mut space = nix::cmsg_space!([RawFd; 4]);
        let msg = recvmsg::<()>(
            sock.as_raw_fd(),
            &mut iov,
            Some(&mut space),
            MsgFlags::MSG_CMSG_CLOEXEC,
        )?;
        for cmsg in msg.cmsgs()? {
            if let ControlMessageOwned::ScmRights(received) = cmsg {
                // SAFETY: the kernel just installed these descriptors in this process for us;
                // nothing else refers to them.
                fds.extend(
                    received
                        .into_iter()
                        .map(|fd| unsafe { OwnedFd::from_raw_fd(fd) }),
                );
            }
        }
        if msg.bytes == 0 {
            break;
        }
        if byte[0] == b'\n' {
            break;
        }
        line.push(byte[0]);
    }
    Ok((String::from_utf8_lossy(&line).into_owned(), fds))
}

#[cfg(test)]
mod tests {
    use std::io::{Read, Seek, Write};

    use super::*;

    #[test]
    fn a_line_with_a_descriptor() {
        let (a, b) = UnixStream::pair().unwrap();
        let mut file = tempfile::tempfile().unwrap();
        file.write_all(b"passed").unwrap();
        send_line(
            &a,
            r#"{"ok":{"pid":0}}"#,
            Some(std::os::fd::AsFd::as_fd(&file)),
        )
        .unwrap();
        send_line(&a, "second", None).unwrap();
        let (line, fds) = recv_line(&b).unwrap();
        assert_eq!(line, r#"{"ok":{"pid":0}}"#);
        assert_eq!(fds.len(), 1);
        let mut received = std::fs::File::from(fds.into_iter().next().unwrap());
        received.rewind().unwrap();
        let mut text = String::new();
        received.read_to_string(&mut text).unwrap();
        assert_eq!(text, "passed");
        let (line, fds) = recv_line(&b).unwrap();
        assert_eq!((line.as_str(), fds.len()), ("second", 0));
        drop(a);
        assert_eq!(recv_line(&b).unwrap().0, "");
    }
}
