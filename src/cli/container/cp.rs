//! `bosun container cp` (and the transfer under `bosun cp`): files between the host and a
//! container as a tar stream. The host's side packs and unpacks with the engine's archive
//! code over `/` (so the same placing rules hold both ways); the agent does the container's.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use agent::proto::{self, container_changes_client::ContainerChangesClient, copy_chunk::Item};
use anyhow::Context;
use clap::Args;
use engine::archive::{self, Owner, Packed};
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tonic::transport::Channel;

/// Arguments of `container cp`.
#[derive(Debug, Args)]
pub(crate) struct CpArgs {
    /// Archive mode (copy all uid/gid information).
    #[arg(short, long)]
    pub archive: bool,
    /// Always follow symbol link in SRC_PATH.
    #[arg(short = 'L', long)]
    pub follow_link: bool,
    /// CONTAINER:SRC_PATH or a host path (`-` is not supported).
    #[arg(value_name = "SRC")]
    pub source: String,
    /// CONTAINER:DEST_PATH or a host path.
    #[arg(value_name = "DEST")]
    pub dest: String,
}

/// One side of a copy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Side {
    /// A path on the host.
    Host(PathBuf),
    /// A path in a container (or, for `bosun cp`, a service).
    Container(String, String),
}

impl Side {
    /// Reads `CONTAINER:PATH` or a host path, as docker does: a colon before any slash names
    /// a container; a path starting with `/` or `.` is always the host's.
    pub(crate) fn parse(text: &str) -> Side {
        if text.starts_with('/') || text.starts_with('.') {
            return Side::Host(PathBuf::from(text));
        }
        match text.split_once(':') {
            Some((name, path)) if !name.is_empty() && !name.contains('/') => {
                Side::Container(name.to_string(), path.to_string())
            }
            _ => Side::Host(PathBuf::from(text)),
        }
    }
}

/// The host path made absolute against the working directory, keeping a trailing `/` or
/// `/.`.
fn absolute(path: &Path) -> anyhow::Result<PathBuf> {
    if path.is_absolute() {
        return Ok(path.to_path_buf());
    }
    let mut joined = std::env::current_dir()
        .context("cannot read the working directory")?
        .into_os_string();
    joined.push("/");
    joined.push(path.as_os_str());
    Ok(PathBuf::from(joined))
}

/// A `Write` sending the tar to the async side in chunks.
struct Sender {
    tx: mpsc::Sender<proto::CopyChunk>,
    buf: Vec<u8>,
}

const CHUNK: usize = 256 * 1024;

impl Sender {
    fn send(&mut self) -> std::io::Result<()> {
        if self.buf.is_empty() {
            return Ok(());
        }
        let data = std::mem::take(&mut self.buf);
        self.tx
            .blocking_send(proto::CopyChunk {
                item: Some(Item::Data(data)),
            })
            .map_err(|_| std::io::Error::new(std::io::ErrorKind::BrokenPipe, "the agent went away"))
    }
}

impl Write for Sender {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        self.buf.extend_from_slice(data);
        if self.buf.len() >= CHUNK {
            self.send()?;
        }
        Ok(data.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.send()
    }
}

/// Copies the host's `source` to `path` in `container`.
pub(crate) async fn to_container(
    client: &mut ContainerChangesClient<Channel>,
    source: &Path,
    container: &str,
    path: &str,
    archive_mode: bool,
    follow_link: bool,
) -> anyhow::Result<()> {
    let source = absolute(source)?;
    let packed = archive::describe(Path::new("/"), &source, follow_link)?;
    let (tx, rx) = mpsc::channel(8);
    let first = proto::CopyChunk {
        item: Some(Item::Target(proto::CopyTarget {
            container: container.to_string(),
            path: path.to_string(),
            source: Some(proto::CopySource {
                name: packed.name.clone(),
                is_dir: packed.is_dir,
            }),
            archive: archive_mode,
        })),
    };
    tx.send(first).await.context("the copy stream closed")?;
    let packer = tokio::task::spawn_blocking(move || -> anyhow::Result<()> {
        let mut out = Sender {
            tx,
            buf: Vec::with_capacity(CHUNK),
        };
        archive::pack(Path::new("/"), &source, follow_link, &mut out)?;
        out.flush()?;
        Ok(())
    });
    let sent = client.copy_to(ReceiverStream::new(rx)).await;
    let packed = packer.await.context("the packing task failed")?;
    sent?;
    packed
}

/// Copies `path` in `container` to the host's `dest`.
pub(crate) async fn from_container(
    client: &mut ContainerChangesClient<Channel>,
    container: &str,
    path: &str,
    dest: &Path,
    archive_mode: bool,
    follow_link: bool,
) -> anyhow::Result<()> {
    let dest = absolute(dest)?;
    let request = proto::CopyFromRequest {
        container: container.to_string(),
        path: path.to_string(),
        follow_link,
    };
    let mut stream = client.copy_from(request).await?.into_inner();
    let source = match stream.message().await?.and_then(|c| c.item) {
        Some(Item::Source(s)) => Packed {
            name: s.name,
            is_dir: s.is_dir,
        },
        _ => anyhow::bail!("the agent did not say what it copies"),
    };
    let (tx, rx) = mpsc::channel::<Result<Vec<u8>, String>>(8);
    let owner = if archive_mode {
        Owner::FromArchive
    } else {
        Owner::Caller
    };
    let unpacker = tokio::task::spawn_blocking(move || -> anyhow::Result<()> {
        let reader = Receiver {
            rx,
            current: Vec::new(),
            pos: 0,
        };
        archive::unpack(Path::new("/"), &dest, &source, reader, owner)?;
        Ok(())
    });
    loop {
        match stream.message().await {
            Ok(Some(proto::CopyChunk {
                item: Some(Item::Data(data)),
            })) => {
                if tx.send(Ok(data)).await.is_err() {
                    break;
                }
            }
            Ok(Some(_)) => {}
            Ok(None) => break,
            Err(status) => {
                let _ = tx.send(Err(status.message().to_string())).await;
                break;
            }
        }
    }
    drop(tx);
    unpacker.await.context("the unpacking task failed")?
}

/// A `Read` over the chunks the async side receives.
struct Receiver {
    rx: mpsc::Receiver<Result<Vec<u8>, String>>,
    current: Vec<u8>,
    pos: usize,
}

impl std::io::Read for Receiver {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        while self.pos == self.current.len() {
            match self.rx.blocking_recv() {
                Some(Ok(chunk)) => {
                    self.current = chunk;
                    self.pos = 0;
                }
                Some(Err(message)) => return Err(std::io::Error::other(message)),
                None => return Ok(0),
            }
        }
        let n = buf.len().min(self.current.len() - self.pos);
        buf[..n].copy_from_slice(&self.current[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
}

/// Runs `container cp`.
pub(crate) async fn run(
    client: &mut ContainerChangesClient<Channel>,
    args: CpArgs,
) -> anyhow::Result<ExitCode> {
    match (Side::parse(&args.source), Side::parse(&args.dest)) {
        (Side::Host(src), Side::Container(c, path)) => {
            to_container(client, &src, &c, &path, args.archive, args.follow_link).await?;
        }
        (Side::Container(c, path), Side::Host(dest)) => {
            from_container(client, &c, &path, &dest, args.archive, args.follow_link).await?;
        }
        (Side::Host(_), Side::Host(_)) => {
            anyhow::bail!("must specify at least one container source")
        }
        (Side::Container(..), Side::Container(..)) => {
            anyhow::bail!("copying between containers is not supported")
        }
    }
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sides_read_like_docker_cp() {
        assert_eq!(
            Side::parse("web:/etc/hosts"),
            Side::Container("web".into(), "/etc/hosts".into())
        );
        assert_eq!(Side::parse("./a:b"), Side::Host("./a:b".into()));
        assert_eq!(Side::parse("/tmp/x"), Side::Host("/tmp/x".into()));
        assert_eq!(Side::parse("dir/a:b"), Side::Host("dir/a:b".into()));
        assert_eq!(Side::parse("file.txt"), Side::Host("file.txt".into()));
    }
}
