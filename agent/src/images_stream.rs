//! The streaming image calls: archives in (`Load`) and out (`Save`) in chunks between the
//! async transport and the synchronous store, and registry pulls and pushes as progress
//! streams that end with a `done` message (or an error status).

use std::io::{self, Read, Write};

use engine::image::{ImageRef, ImageStore};
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tonic::{Status, Streaming};

use super::images::registry_status;
use super::images_filter::image_status;
use super::proto;
use super::registry::{self, Platform, Settings};

/// The size of the chunks `Save` sends.
const CHUNK: usize = 256 << 10;
/// `Load` reports received bytes at most once per this many bytes.
const LOAD_STEP: u64 = 4 << 20;

type Progress = Result<proto::ImageProgress, Status>;

fn line(id: &str, status: &str, current: u64) -> proto::ImageProgress {
    proto::ImageProgress {
        id: id.to_string(),
        status: status.to_string(),
        current,
        ..Default::default()
    }
}

fn done(status: &str, result: String) -> proto::ImageProgress {
    proto::ImageProgress {
        status: status.to_string(),
        done: true,
        result,
        ..Default::default()
    }
}

/// A `Read` over chunks a blocking task receives from the async side.
pub(crate) struct ChunkReader {
    rx: mpsc::Receiver<Result<Vec<u8>, Status>>,
    current: Vec<u8>,
    pos: usize,
}

impl ChunkReader {
    /// A reader of the chunks `rx` receives; an error ends the read with its message.
    pub(crate) fn new(rx: mpsc::Receiver<Result<Vec<u8>, Status>>) -> Self {
        Self {
            rx,
            current: Vec::new(),
            pos: 0,
        }
    }
}

impl Read for ChunkReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        while self.pos == self.current.len() {
            match self.rx.blocking_recv() {
                Some(Ok(chunk)) => {
                    self.current = chunk;
                    self.pos = 0;
                }
                Some(Err(status)) => {
                    return Err(io::Error::other(format!(
                        "upload failed: {}",
                        status.message()
                    )));
                }
                None => return Ok(0),
            }
        }
        let n = buf.len().min(self.current.len() - self.pos);
        buf[..n].copy_from_slice(&self.current[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
}

/// Loads the archive the client streams; reports bytes received, then each loaded image.
pub(crate) fn load(
    store: ImageStore,
    mut incoming: Streaming<proto::DataChunk>,
) -> ReceiverStream<Progress> {
    let (events, rx) = mpsc::channel(32);
    tokio::spawn(async move {
        let (chunks, chunk_rx) = mpsc::channel(8);
        let loader = tokio::task::spawn_blocking(move || {
            let mut reader = ChunkReader {
                rx: chunk_rx,
                current: Vec::new(),
                pos: 0,
            };
            let loaded = store.load(&mut reader);
            // Drain what the client still sends, so that it sees our answer, not a reset.
            let mut sink = [0u8; 8192];
            while matches!(reader.read(&mut sink), Ok(n) if n > 0) {}
            loaded
        });
        let (mut received, mut reported) = (0u64, 0u64);
        loop {
            match incoming.message().await {
                Ok(Some(chunk)) => {
                    received += chunk.data.len() as u64;
                    if chunks.send(Ok(chunk.data)).await.is_err() {
                        break;
                    }
                    if received - reported >= LOAD_STEP {
                        reported = received;
                        let _ = events.send(Ok(line("", "Loading", received))).await;
                    }
                }
                Ok(None) => break,
                Err(status) => {
                    let _ = chunks.send(Err(status)).await;
                    break;
                }
            }
        }
        drop(chunks);
        let outcome = match loader.await {
            Ok(Ok(loaded)) => {
                let mut ids = Vec::new();
                for image in &loaded {
                    let status = if image.names.is_empty() {
                        format!("Loaded image ID: {}", image.id)
                    } else {
                        format!("Loaded image: {}", image.names.join(", "))
                    };
                    let _ = events.send(Ok(line(image.id.short(), &status, 0))).await;
                    ids.push(image.id.to_string());
                }
                Ok(done("Loaded", ids.join(",")))
            }
            Ok(Err(err)) => Err(image_status(err)),
            Err(e) => Err(Status::internal(format!("load task failed: {e}"))),
        };
        let _ = events.send(outcome).await;
    });
    ReceiverStream::new(rx)
}

/// A `Write` that sends full chunks to the async side, each wrapped in a message `M`.
pub(crate) struct ChunkWriter<M = proto::DataChunk> {
    tx: mpsc::Sender<Result<M, Status>>,
    buf: Vec<u8>,
    wrap: fn(Vec<u8>) -> M,
}

impl ChunkWriter {
    /// A writer sending chunks on `tx`; `flush` sends the rest.
    pub(crate) fn new(tx: mpsc::Sender<Result<proto::DataChunk, Status>>) -> Self {
        Self::wrapping(tx, |data| proto::DataChunk { data })
    }
}

impl<M> ChunkWriter<M> {
    /// A writer sending chunks on `tx` as the messages `wrap` makes of them.
    pub(crate) fn wrapping(tx: mpsc::Sender<Result<M, Status>>, wrap: fn(Vec<u8>) -> M) -> Self {
        Self {
            tx,
            buf: Vec::with_capacity(CHUNK),
            wrap,
        }
    }

    fn send(&mut self) -> io::Result<()> {
        if self.buf.is_empty() {
            return Ok(());
        }
        let data = std::mem::replace(&mut self.buf, Vec::with_capacity(CHUNK));
        self.tx
            .blocking_send(Ok((self.wrap)(data)))
            .map_err(|_| io::Error::new(io::ErrorKind::BrokenPipe, "the client went away"))
    }
}

impl<M> Write for ChunkWriter<M> {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        let n = data.len().min(CHUNK - self.buf.len());
        self.buf.extend_from_slice(&data[..n]);
        if self.buf.len() == CHUNK {
            self.send()?;
        }
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.send()
    }
}

/// Streams an archive of `images` that `docker load` accepts.
pub(crate) fn save(
    store: ImageStore,
    images: Vec<String>,
) -> ReceiverStream<Result<proto::DataChunk, Status>> {
    let (tx, rx) = mpsc::channel(8);
    tokio::task::spawn_blocking(move || {
        let mut out = ChunkWriter::new(tx.clone());
        let names: Vec<&str> = images.iter().map(String::as_str).collect();
        let failure = match store.save(&names, &mut out) {
            Ok(()) => out.flush().err().map(|e| Status::aborted(e.to_string())),
            Err(e) => Some(image_status(e)),
        };
        if let Some(status) = failure {
            let _ = tx.blocking_send(Err(status));
        }
    });
    ReceiverStream::new(rx)
}

/// Forwards registry progress to the client and ends with `done` or the error.
fn relay(
    run: impl FnOnce(
        mpsc::Sender<proto::ImageProgress>,
    ) -> tokio::task::JoinHandle<Result<String, Status>>,
    final_status: &'static str,
) -> ReceiverStream<Progress> {
    let (out, rx) = mpsc::channel(32);
    let (events, mut progress) = mpsc::channel(32);
    let task = run(events);
    tokio::spawn(async move {
        while let Some(p) = progress.recv().await {
            // A client that went away does not stop the operation.
            let _ = out.send(Ok(p)).await;
        }
        let outcome = match task.await {
            Ok(Ok(result)) => Ok(done(final_status, result)),
            Ok(Err(status)) => Err(status),
            Err(e) => Err(Status::internal(format!("registry task failed: {e}"))),
        };
        let _ = out.send(outcome).await;
    });
    ReceiverStream::new(rx)
}

/// Pulls `image`; the final message carries the image id.
pub(crate) fn pull(
    store: ImageStore,
    settings: Settings,
    image: ImageRef,
    platform: Option<Platform>,
    auth: Option<proto::RegistryAuth>,
) -> ReceiverStream<Progress> {
    relay(
        move |events| {
            tokio::spawn(async move {
                let auth = registry::registry_auth(auth.as_ref());
                let id = registry::pull(&store, &settings, &image, platform, &auth, &events)
                    .await
                    .map_err(registry_status)?;
                tracing::info!(image = %image, id = %id, "pulled");
                let _ = events
                    .send(line(
                        &image.familiar(),
                        &format!("Downloaded image for {}", image.familiar()),
                        0,
                    ))
                    .await;
                Ok(id.to_string())
            })
        },
        "Pulled",
    )
}

/// Pushes `image`; the final message carries the manifest digest.
pub(crate) fn push(
    store: ImageStore,
    settings: Settings,
    image: ImageRef,
    auth: Option<proto::RegistryAuth>,
) -> ReceiverStream<Progress> {
    relay(
        move |events| {
            tokio::spawn(async move {
                let auth = registry::registry_auth(auth.as_ref());
                let digest = registry::push(&store, &settings, &image, &auth, &events)
                    .await
                    .map_err(registry_status)?;
                tracing::info!(image = %image, digest = %digest, "pushed");
                Ok(digest.to_string())
            })
        },
        "Pushed",
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunk_writer_sends_full_chunks_then_the_rest() {
        let (tx, mut rx) = mpsc::channel(16);
        let handle = std::thread::spawn(move || {
            let mut w = ChunkWriter::new(tx);
            w.write_all(&vec![7u8; CHUNK + 10]).unwrap();
            w.flush().unwrap();
        });
        handle.join().unwrap();
        let sizes: Vec<usize> = std::iter::from_fn(|| rx.try_recv().ok())
            .map(|c| c.unwrap().data.len())
            .collect();
        assert_eq!(sizes, vec![CHUNK, 10]);
    }

    #[test]
    fn chunk_reader_concatenates_and_reports_upload_errors() {
        let (tx, rx) = mpsc::channel(4);
        tx.try_send(Ok(b"ab".to_vec())).unwrap();
        tx.try_send(Ok(Vec::new())).unwrap();
        tx.try_send(Ok(b"cd".to_vec())).unwrap();
        drop(tx);
        let mut r = ChunkReader {
            rx,
            current: Vec::new(),
            pos: 0,
        };
        let mut out = String::new();
        r.read_to_string(&mut out).unwrap();
        assert_eq!(out, "abcd");
        let (tx, rx) = mpsc::channel(4);
        tx.try_send(Err(Status::cancelled("gone"))).unwrap();
        let mut r = ChunkReader {
            rx,
            current: Vec::new(),
            pos: 0,
        };
        let err = r.read(&mut [0u8; 4]).unwrap_err();
        assert!(err.to_string().contains("gone"), "{err}");
    }
}
