//! `bosun image load|save|pull|push`: archives streamed to and from the agent, registry
//! transfers with progress. Registry credentials come from `bosun login`.

use std::io::{IsTerminal, Read, Write};
use std::process::ExitCode;

use agent::proto::{self, images_client::ImagesClient};
use agent::registry::auth;
use anyhow::Context;
use clap::Args;
use engine::image::ImageRef;
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tonic::transport::Channel;

use super::progress::Progress;
use super::status_error;

/// The size of the chunks `load` sends.
const CHUNK: usize = 1 << 20;

/// Arguments of `load`.
#[derive(Debug, Args)]
pub(super) struct LoadArgs {
    /// Read from a tar archive file instead of STDIN.
    #[arg(short = 'i', long)]
    pub input: Option<String>,
    /// Suppress the load output.
    #[arg(short = 'q', long)]
    pub quiet: bool,
}

/// Arguments of `save`.
#[derive(Debug, Args)]
pub(super) struct SaveArgs {
    /// The images (references or ids).
    #[arg(required = true)]
    pub images: Vec<String>,
    /// Write to a file instead of STDOUT.
    #[arg(short = 'o', long)]
    pub output: Option<String>,
}

/// Arguments of `pull`.
#[derive(Debug, Args)]
pub(super) struct PullArgs {
    /// NAME[:TAG|@DIGEST].
    pub reference: String,
    /// Platform (os/arch[/variant]) of a multi-arch image; default: this node's.
    #[arg(long)]
    pub platform: Option<String>,
    /// Suppress verbose output.
    #[arg(short = 'q', long)]
    pub quiet: bool,
}

/// Arguments of `push`.
#[derive(Debug, Args)]
pub(super) struct PushArgs {
    /// NAME[:TAG].
    pub reference: String,
    /// Suppress verbose output.
    #[arg(short = 'q', long)]
    pub quiet: bool,
}

/// Runs `image load`.
pub(super) async fn load(
    client: &mut ImagesClient<Channel>,
    args: LoadArgs,
) -> anyhow::Result<ExitCode> {
    let mut source: Box<dyn Read + Send> = match &args.input {
        Some(path) => {
            Box::new(std::fs::File::open(path).with_context(|| format!("open archive {path}"))?)
        }
        None => {
            if std::io::stdin().is_terminal() {
                anyhow::bail!("requested load from stdin, but stdin is empty: use -i FILE");
            }
            Box::new(std::io::stdin())
        }
    };
    let (tx, rx) = mpsc::channel(4);
    let reader = tokio::task::spawn_blocking(move || -> std::io::Result<()> {
        loop {
            let mut data = vec![0u8; CHUNK];
            let mut filled = 0;
            while filled < CHUNK {
                match source.read(&mut data[filled..])? {
                    0 => break,
                    n => filled += n,
                }
            }
            data.truncate(filled);
            if filled == 0 || tx.blocking_send(proto::DataChunk { data }).is_err() {
                return Ok(());
            }
            if filled < CHUNK {
                return Ok(());
            }
        }
    });
    let mut stream = client
        .load(ReceiverStream::new(rx))
        .await
        .map_err(status_error)?
        .into_inner();
    let mut progress = Progress::new(args.quiet);
    let mut outcome = Ok(());
    loop {
        match stream.message().await {
            Ok(Some(p)) if p.status.starts_with("Loaded image") => println!("{}", p.status),
            Ok(Some(p)) if p.done => break,
            Ok(Some(p)) => progress.show(&p),
            Ok(None) => break,
            Err(status) => {
                outcome = Err(status_error(status));
                break;
            }
        }
    }
    progress.finish();
    reader
        .await
        .context("archive reader failed")?
        .context("read archive")?;
    outcome.map(|()| ExitCode::SUCCESS)
}

/// Runs `image save`.
pub(super) async fn save(
    client: &mut ImagesClient<Channel>,
    args: SaveArgs,
) -> anyhow::Result<ExitCode> {
    let mut out: Box<dyn Write> = match &args.output {
        Some(path) => Box::new(std::io::BufWriter::new(
            std::fs::File::create(path).with_context(|| format!("create {path}"))?,
        )),
        None => {
            if std::io::stdout().is_terminal() {
                anyhow::bail!("cowardly refusing to save to a terminal: use -o FILE or redirect");
            }
            Box::new(std::io::stdout().lock())
        }
    };
    let mut stream = client
        .save(proto::SaveRequest {
            images: args.images,
        })
        .await
        .map_err(status_error)?
        .into_inner();
    while let Some(chunk) = stream.message().await.map_err(status_error)? {
        out.write_all(&chunk.data).context("write archive")?;
    }
    out.flush().context("write archive")?;
    Ok(ExitCode::SUCCESS)
}

/// The stored credentials for the registry of `reference`.
pub(super) fn credentials(reference: &str) -> anyhow::Result<Option<proto::RegistryAuth>> {
    Ok(auth::for_image(reference)?)
}

/// Shows a progress stream; returns the final message's result.
async fn follow(
    mut stream: tonic::Streaming<proto::ImageProgress>,
    quiet: bool,
) -> anyhow::Result<String> {
    let mut progress = Progress::new(quiet);
    let result = loop {
        match stream.message().await {
            Ok(Some(p)) if p.done => break Ok(p.result),
            Ok(Some(p)) => progress.show(&p),
            Ok(None) => break Err(anyhow::anyhow!("the agent ended the transfer early")),
            Err(status) => break Err(status_error(status)),
        }
    };
    progress.finish();
    result
}

/// Runs `image pull`.
pub(super) async fn pull(
    client: &mut ImagesClient<Channel>,
    args: PullArgs,
) -> anyhow::Result<ExitCode> {
    let auth = credentials(&args.reference)?;
    let stream = client
        .pull(proto::PullRequest {
            reference: args.reference.clone(),
            platform: args.platform.unwrap_or_default(),
            auth,
        })
        .await
        .map_err(status_error)?
        .into_inner();
    let id = follow(stream, args.quiet).await?;
    if !args.quiet {
        eprintln!("Status: downloaded image {id}");
    }
    println!("{}", ImageRef::parse(&args.reference)?);
    Ok(ExitCode::SUCCESS)
}

/// Runs `image push`.
pub(super) async fn push(
    client: &mut ImagesClient<Channel>,
    args: PushArgs,
) -> anyhow::Result<ExitCode> {
    let auth = credentials(&args.reference)?;
    let stream = client
        .push(proto::PushRequest {
            reference: args.reference.clone(),
            auth,
        })
        .await
        .map_err(status_error)?
        .into_inner();
    let digest = follow(stream, args.quiet).await?;
    println!("{digest}");
    Ok(ExitCode::SUCCESS)
}
