//! `POST /containers/{id}/attach`: the container's live output (and, with `stdin`, its input)
//! over a hijacked connection, through the agent's `Attach` session.

use api::agent::{self as proto, AttachInput, attach_input};
use hyper::body::Incoming;
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;

use super::inspect;
use crate::context::Context;
use crate::filters::Query;
use crate::hijack::{self, Sink};
use crate::reply::{ApiError, Reply, no_content, streamed};

/// Input messages buffered towards the agent.
const INPUT_BUFFER: usize = 16;

fn size(query: &Query) -> Result<Option<proto::TerminalSize>, ApiError> {
    let (h, w) = (query.number("h")?, query.number("w")?);
    Ok(match (h, w) {
        (Some(h), Some(w)) => Some(proto::TerminalSize {
            rows: u32::try_from(h).unwrap_or(0),
            cols: u32::try_from(w).unwrap_or(0),
        }),
        _ => None,
    })
}

/// `POST /containers/{id}/attach?stream=1&stdin=&stdout=&stderr=`.
pub(crate) async fn attach(
    context: &Context,
    id: &str,
    mut request: hyper::Request<Incoming>,
) -> Reply {
    let query = Query::of(request.uri());
    if !query.flag("stream") {
        return Err(ApiError::not_served(&format!(
            "POST /containers/{id}/attach without stream=1 (logs=1 only)"
        )));
    }
    let record = inspect::fetch(context, id).await?;
    let tty = inspect::tty(&record);
    let container = record.summary.map(|s| s.id).unwrap_or_default();
    let stdin = query.flag("stdin");
    let (tx, rx) = mpsc::channel(INPUT_BUFFER);
    let first = attach_input::Item::Attach(proto::AttachRequest {
        container,
        close_stdin_on_detach: false,
        size: None,
    });
    tx.send(AttachInput { item: Some(first) })
        .await
        .map_err(|_| ApiError::internal("attach: the session closed"))?;
    let output = context
        .containers()
        .attach(ReceiverStream::new(rx))
        .await?
        .into_inner();
    match hijack::on_upgrade(&mut request) {
        Some(upgrade) => {
            context.spawn(async move {
                let Some((reader, writer)) = hijack::split(upgrade).await else {
                    return;
                };
                // Without stdin the session ends with the output alone: the client's input is
                // read and dropped.
                let input = (stdin).then_some(tx);
                let mut sink = Sink::Conn(writer);
                hijack::session(reader, input, true, output, &mut sink, tty).await;
                sink.close().await;
            });
            Ok(hijack::switching(tty))
        }
        None => {
            drop(tx);
            let (response, chunks) = streamed(super::logs::content_type(tty));
            context.spawn(async move {
                hijack::pump_output(output, &mut Sink::Body(chunks), tty).await;
            });
            Ok(response)
        }
    }
}

/// `POST /containers/{id}/resize?h=&w=`: accepted; the terminal size of an attached
/// container follows the size its session opened with.
pub(crate) async fn resize(context: &Context, id: &str, query: &Query) -> Reply {
    size(query)?;
    inspect::fetch(context, id).await?;
    no_content()
}
