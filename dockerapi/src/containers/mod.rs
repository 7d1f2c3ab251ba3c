//! The `containers/*` endpoints, one file per concern.

pub(crate) mod attach;
pub(crate) mod control;
pub(crate) mod create;
pub(crate) mod inspect;
pub(crate) mod list;
pub(crate) mod logs;
pub(crate) mod shape;
pub(crate) mod signals;
pub(crate) mod stats;
pub(crate) mod top;

use http_body_util::BodyExt;
use hyper::body::Incoming;
use serde::Deserialize;
use serde::de::DeserializeOwned;

use crate::context::Context;
use crate::filters::Query;
use crate::reply::{ApiError, Reply};
use crate::route::ContainerOp;

/// A field Docker's clients may send as `null` (docker-py does for unset numbers): its
/// default then.
pub(crate) fn nullable<'de, D, T>(deserializer: D) -> Result<T, D::Error>
where
    D: serde::Deserializer<'de>,
    T: serde::Deserialize<'de> + Default,
{
    Ok(Option::<T>::deserialize(deserializer)?.unwrap_or_default())
}

/// Request bodies are small JSON documents; larger ones are refused.
const MAX_BODY: usize = 4 << 20;

/// The request's body as JSON (an empty body as the type's default, as Docker takes it).
pub(crate) async fn read_json<T: DeserializeOwned + Default>(
    request: hyper::Request<Incoming>,
) -> Result<T, ApiError> {
    let bytes = read_body(request).await?;
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(T::default());
    }
    serde_json::from_slice(&bytes)
        .map_err(|e| ApiError::bad_request(format!("invalid JSON body: {e}")))
}

/// The request's body, at most [`MAX_BODY`] bytes.
pub(crate) async fn read_body(request: hyper::Request<Incoming>) -> Result<bytes::Bytes, ApiError> {
    let limited = http_body_util::Limited::new(request.into_body(), MAX_BODY);
    limited
        .collect()
        .await
        .map(|c| c.to_bytes())
        .map_err(|e| ApiError::bad_request(format!("cannot read the request body: {e}")))
}

/// Answers an operation on one container.
pub(crate) async fn operate(
    context: &Context,
    id: &str,
    op: ContainerOp,
    request: hyper::Request<Incoming>,
) -> Reply {
    let query = Query::of(request.uri());
    match op {
        ContainerOp::Start => control::start(context, id).await,
        ContainerOp::Stop => control::stop(context, id, &query).await,
        ContainerOp::Kill => control::kill(context, id, &query).await,
        ContainerOp::Restart => control::restart(context, id, &query).await,
        ContainerOp::Wait => control::wait(context, id, &query).await,
        ContainerOp::Inspect => inspect::inspect(context, id).await,
        ContainerOp::Logs => logs::logs(context, id, &query).await,
        ContainerOp::Attach => attach::attach(context, id, request).await,
        ContainerOp::Exec => crate::exec::create(context, id, request).await,
        ContainerOp::Resize => attach::resize(context, id, &query).await,
        ContainerOp::Top => top::top(context, id).await,
        ContainerOp::Stats => stats::stats(context, id, &request).await,
        ContainerOp::Pause => control::pause(context, id).await,
        ContainerOp::Unpause => control::unpause(context, id).await,
        ContainerOp::Rename => control::rename(context, id, &query).await,
    }
}
