//! The shim's I/O loop: copies the container's output into its log and to every caller
//! attached through the attach socket, and the callers' input into the container's stdin
//! (a pipe, or the terminal). Nothing here blocks on a caller for long: while the container's
//! stdin is open (an interactive session), a caller that does not read holds its output back
//! only while it is connected; a caller that only watches the output and falls more than
//! [`MAX_PENDING`] bytes behind is disconnected, so the container never waits for it; a caller
//! that goes away is dropped.

use std::io::{ErrorKind, Read, Write};
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::PathBuf;
use std::time::Duration;

use nix::errno::Errno;
use nix::poll::{PollFd, PollFlags, PollTimeout, poll};

use super::attach::{Frame, FrameReader, set_window_size, socket_path};
use super::logs::LogWriter;

/// Bytes buffered per direction before the relay stops reading more.
const MAX_PENDING: usize = 1 << 20;

/// How long the relay tries to hand a caller the rest of the output once the container is gone.
const FINAL_WRITE: Duration = Duration::from_secs(5);

/// The end-of-file character of a terminal in its default settings (Ctrl-D).
const VEOF: u8 = 4;

/// Where the callers' input goes.
enum Sink {
    /// Nowhere: the container has no open stdin.
    None,
    /// The write end of the container's stdin pipe.
    Pipe(OwnedFd),
    /// The terminal's master side (output slot 2).
    Terminal,
}

/// One attached caller.
struct Client {
    sock: UnixStream,
    reader: FrameReader,
    out: Vec<u8>,
    close_on_detach: bool,
    gone: bool,
}

/// What a polled descriptor is.
#[derive(Clone, Copy)]
enum Slot {
    Output(usize),
    Listener,
    Client(usize),
    Stdin,
}

/// The container's stdio as the shim holds it.
pub(super) struct Relay {
    /// stdout pipe, stderr pipe, terminal master.
    outputs: [Option<OwnedFd>; 3],
    sink: Sink,
    listener: Option<UnixListener>,
    run_dir: PathBuf,
    clients: Vec<Client>,
    input: Vec<u8>,
    close_input: bool,
    log: Option<LogWriter>,
}

/// The container's end of the relay, as the launch left it.
pub(super) struct Stdio {
    /// The read end of the container's stdout pipe.
    pub stdout: OwnedFd,
    /// The read end of the container's stderr pipe.
    pub stderr: OwnedFd,
    /// The terminal's master side, when the container has one.
    pub tty: Option<OwnedFd>,
    /// The write end of the container's stdin pipe (an open stdin without a terminal).
    pub stdin: Option<OwnedFd>,
    /// The container's stdin is open (`-i`); with a terminal, input goes to the terminal.
    pub open_stdin: bool,
}

impl Relay {
    /// A relay over the container's stdio; `listener` is the attach socket in `run_dir`.
    pub(super) fn new(
        stdio: Stdio,
        listener: Option<UnixListener>,
        run_dir: PathBuf,
        log: Option<LogWriter>,
    ) -> Self {
        let Stdio {
            stdout,
            stderr,
            tty,
            stdin,
            open_stdin,
        } = stdio;
        for fd in tty.iter().chain(stdin.iter()) {
            let _ = set_nonblocking(fd.as_fd());
        }
        let sink = match (stdin, &tty) {
            (Some(pipe), _) => Sink::Pipe(pipe),
            (None, Some(_)) if open_stdin => Sink::Terminal,
            _ => Sink::None,
        };
        Self {
            outputs: [Some(stdout), Some(stderr), tty],
            sink,
            listener,
            run_dir,
            clients: Vec::new(),
            input: Vec::new(),
            close_input: false,
            log,
        }
    }

    /// Relays until the container's output ends, then hands the callers what is left.
    pub(super) fn run(mut self) {
        let mut buf = vec![0u8; 64 * 1024];
        while self.outputs.iter().any(Option::is_some) {
            let ready = match self.wait() {
                Some(r) => r,
                None => continue,
            };
            for (slot, flags) in ready {
                match slot {
                    Slot::Output(i) => self.read_output(i, &mut buf),
                    Slot::Listener => self.accept(),
                    Slot::Client(k) => self.serve(k, flags, &mut buf),
                    Slot::Stdin => self.write_input(),
                }
            }
            self.drop_gone();
            if self.close_input && self.input.is_empty() {
                self.sink = Sink::None;
            }
        }
        self.finish();
    }

    /// Polls every descriptor that has work; returns the ready ones.
    fn wait(&self) -> Option<Vec<(Slot, PollFlags)>> {
        let held = self.interactive() && self.clients.iter().any(|c| c.out.len() >= MAX_PENDING);
        let mut slots = Vec::new();
        let mut polls = Vec::new();
        if !held {
            for (i, fd) in self.outputs.iter().enumerate() {
                if let Some(fd) = fd {
                    slots.push(Slot::Output(i));
                    polls.push(PollFd::new(fd.as_fd(), PollFlags::POLLIN));
                }
            }
        }
        if let Some(listener) = &self.listener {
            slots.push(Slot::Listener);
            polls.push(PollFd::new(listener.as_fd(), PollFlags::POLLIN));
        }
        for (k, client) in self.clients.iter().enumerate() {
            let mut flags = PollFlags::empty();
            if self.input.len() < MAX_PENDING {
                flags |= PollFlags::POLLIN;
            }
            if !client.out.is_empty() {
                flags |= PollFlags::POLLOUT;
            }
            slots.push(Slot::Client(k));
            polls.push(PollFd::new(client.sock.as_fd(), flags));
        }
        if !self.input.is_empty()
            && let Some(fd) = self.sink_fd()
        {
            slots.push(Slot::Stdin);
            polls.push(PollFd::new(fd, PollFlags::POLLOUT));
        }
        if poll(&mut polls, PollTimeout::NONE).is_err() {
            return None;
        }
        Some(
            slots
                .into_iter()
                .zip(&polls)
                .filter_map(|(s, p)| p.revents().filter(|r| !r.is_empty()).map(|r| (s, r)))
                .collect(),
        )
    }

    fn sink_fd(&self) -> Option<BorrowedFd<'_>> {
        match &self.sink {
            Sink::None => None,
            Sink::Pipe(fd) => Some(fd.as_fd()),
            Sink::Terminal => self.outputs[2].as_ref().map(|fd| fd.as_fd()),
        }
    }

    fn read_output(&mut self, i: usize, buf: &mut [u8]) {
        let Some(fd) = &self.outputs[i] else { return };
        // A terminal's master reads EIO once every slave is closed: that is its end.
        let n = match nix::unistd::read(fd, buf) {
            Ok(n) => n,
            Err(Errno::EAGAIN | Errno::EINTR) => return,
            Err(_) => 0,
        };
        if n == 0 {
            self.outputs[i] = None;
            if i == 2 && matches!(self.sink, Sink::Terminal) {
                self.sink = Sink::None;
            }
            return;
        }
        let data = &buf[..n];
        if let Some(log) = self.log.as_mut() {
            // A full disk must not block the container: the entry is dropped. Terminal output
            // is one stream, logged as stdout.
            let _ = log.feed(i % 2, data);
        }
        let frame = if i == 1 {
            Frame::Stderr(data.to_vec())
        } else {
            Frame::Stdout(data.to_vec())
        };
        let interactive = self.interactive();
        for client in &mut self.clients {
            frame.encode_into(&mut client.out);
            client.flush();
            if !interactive && client.out.len() >= MAX_PENDING {
                client.gone = true;
            }
        }
    }

    /// Callers can feed the container's stdin: their output is worth holding the container for.
    fn interactive(&self) -> bool {
        !matches!(self.sink, Sink::None)
    }

    fn accept(&mut self) {
        let Some(listener) = &self.listener else {
            return;
        };
        if let Ok((sock, _)) = listener.accept()
            && sock.set_nonblocking(true).is_ok()
        {
            self.clients.push(Client {
                sock,
                reader: FrameReader::default(),
                out: Vec::new(),
                close_on_detach: false,
                gone: false,
            });
        }
    }

    fn serve(&mut self, k: usize, flags: PollFlags, buf: &mut [u8]) {
        if flags.contains(PollFlags::POLLOUT) {
            self.clients[k].flush();
        }
        if !flags.intersects(PollFlags::POLLIN | PollFlags::POLLHUP | PollFlags::POLLERR) {
            return;
        }
        let n = match self.clients[k].sock.read(buf) {
            Ok(n) => n,
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::Interrupted) => {
                return;
            }
            Err(_) => 0,
        };
        if n == 0 {
            self.clients[k].gone = true;
            return;
        }
        self.clients[k].reader.feed(&buf[..n]);
        loop {
            match self.clients[k].reader.next_frame() {
                Ok(Some(frame)) => self.handle(k, frame),
                Ok(None) => return,
                Err(_) => {
                    self.clients[k].gone = true;
                    return;
                }
            }
        }
    }

    fn handle(&mut self, k: usize, frame: Frame) {
        match frame {
            Frame::Stdin(data) => {
                if !matches!(self.sink, Sink::None) && !self.close_input {
                    self.input.extend_from_slice(&data);
                }
            }
            Frame::CloseStdin => self.end_input(),
            Frame::CloseStdinOnDetach => self.clients[k].close_on_detach = true,
            Frame::Detach => self.clients[k].close_on_detach = false,
            Frame::Resize { rows, cols } => {
                if let Some(master) = &self.outputs[2] {
                    let _ = set_window_size(master.as_fd(), rows, cols);
                }
            }
            // Output frames only flow the other way.
            Frame::Stdout(_) | Frame::Stderr(_) => self.clients[k].gone = true,
        }
    }

    /// The end of the callers' input: the pipe closes once drained; a terminal gets its
    /// end-of-file character (closing it would hang the terminal up).
    fn end_input(&mut self) {
        match self.sink {
            Sink::None => {}
            Sink::Pipe(_) => self.close_input = true,
            Sink::Terminal => self.input.push(VEOF),
        }
    }

    fn write_input(&mut self) {
        let Some(fd) = self.sink_fd() else {
            self.input.clear();
            return;
        };
        match nix::unistd::write(fd, &self.input) {
            Ok(n) => {
                self.input.drain(..n);
            }
            Err(Errno::EAGAIN | Errno::EINTR) => {}
            // The container closed its stdin: what it did not read is dropped.
            Err(_) => {
                self.input.clear();
                if matches!(self.sink, Sink::Pipe(_)) {
                    self.sink = Sink::None;
                }
            }
        }
    }

    fn drop_gone(&mut self) {
        let mut detached = false;
        self.clients.retain(|c| {
            if c.gone {
                detached |= c.close_on_detach;
            }
            !c.gone
        });
        if detached {
            self.end_input();
        }
    }

    /// The output has ended: the callers get the rest of it, then the socket goes away.
    fn finish(mut self) {
        if let Some(log) = self.log.as_mut() {
            let _ = log.flush_partial();
        }
        self.listener = None;
        let _ = std::fs::remove_file(socket_path(&self.run_dir));
        for client in &mut self.clients {
            if client.sock.set_nonblocking(false).is_ok()
                && client.sock.set_write_timeout(Some(FINAL_WRITE)).is_ok()
            {
                let _ = client.sock.write_all(&client.out);
            }
            let _ = client.sock.shutdown(std::net::Shutdown::Both);
        }
    }
}

impl Client {
    /// Writes what the socket takes now.
    fn flush(&mut self) {
        while !self.out.is_empty() && !self.gone {
            match self.sock.write(&self.out) {
                Ok(0) => self.gone = true,
                Ok(n) => {
                    self.out.drain(..n);
                }
                Err(e) if e.kind() == ErrorKind::WouldBlock => return,
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(_) => self.gone = true,
            }
        }
    }
}

fn set_nonblocking(fd: BorrowedFd<'_>) -> nix::Result<()> {
    use nix::fcntl::{FcntlArg, OFlag, fcntl};
    let flags = OFlag::from_bits_truncate(fcntl(fd, FcntlArg::F_GETFL)?);
    fcntl(fd, FcntlArg::F_SETFL(flags | OFlag::O_NONBLOCK)).map(drop)
}

#[cfg(test)]
mod tests;
