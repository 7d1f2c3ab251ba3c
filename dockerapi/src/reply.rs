//! Responses: Docker's JSON bodies, streamed bodies, and its error shape `{"message": …}` with
//! its status codes.

use std::convert::Infallible;

use bytes::Bytes;
use http::{HeaderValue, StatusCode, header};
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Full, StreamBody};
use hyper::body::Frame;
use serde::Serialize;
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;

/// The body of every response.
pub(crate) type Body = BoxBody<Bytes, Infallible>;

/// A response or an API error.
pub(crate) type Reply = Result<hyper::Response<Body>, ApiError>;

/// A request that failed, as Docker reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ApiError {
    /// The HTTP status.
    pub(crate) status: StatusCode,
    /// The message.
    pub(crate) message: String,
}

impl ApiError {
    /// An error with this status and message.
    pub(crate) fn new(status: StatusCode, message: impl Into<String>) -> Self {
        Self {
            status,
            message: message.into(),
        }
    }

    /// 400: the request is malformed.
    pub(crate) fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, message)
    }

    /// 404.
    pub(crate) fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, message)
    }

    /// A mapper of the agent's refusals: its "not found" becomes Docker's 404 with `message`
    /// (each kind of object words it as Docker does); every other refusal keeps its own status.
    pub(crate) fn not_found_as(message: String) -> impl FnOnce(tonic::Status) -> ApiError {
        move |status| {
            if status.code() == tonic::Code::NotFound {
                ApiError::not_found(message)
            } else {
                status.into()
            }
        }
    }

    /// 501: the endpoint is not served.
    pub(crate) fn not_served(endpoint: &str) -> Self {
        Self::new(
            StatusCode::NOT_IMPLEMENTED,
            format!("{endpoint} is not supported by the bosun agent's Docker API"),
        )
    }

    /// 500.
    pub(crate) fn internal(message: impl Into<String>) -> Self {
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, message)
    }

    /// Docker's error response.
    pub(crate) fn into_response(self) -> hyper::Response<Body> {
        let body = serde_json::json!({ "message": self.message });
        json_with(self.status, &body)
    }
}

/// The HTTP status Docker gives the error an agent call returned.
pub(crate) fn status_of(code: tonic::Code) -> StatusCode {
    use tonic::Code;
    match code {
        Code::NotFound => StatusCode::NOT_FOUND,
        Code::AlreadyExists | Code::FailedPrecondition | Code::Aborted => StatusCode::CONFLICT,
        Code::InvalidArgument | Code::OutOfRange => StatusCode::BAD_REQUEST,
        Code::PermissionDenied | Code::Unauthenticated => StatusCode::FORBIDDEN,
        Code::Unimplemented => StatusCode::NOT_IMPLEMENTED,
        _ => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

impl From<tonic::Status> for ApiError {
    fn from(status: tonic::Status) -> Self {
        Self::new(status_of(status.code()), status.message())
    }
}

/// A JSON response with this status.
pub(crate) fn json_with(status: StatusCode, value: &impl Serialize) -> hyper::Response<Body> {
    let bytes = match serde_json::to_vec(value) {
        Ok(b) => b,
        Err(err) => {
            return plain(
                StatusCode::INTERNAL_SERVER_ERROR,
                format!("{{\"message\":\"encode response: {err}\"}}"),
            );
        }
    };
    let mut response = hyper::Response::new(full(bytes));
    *response.status_mut() = status;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
}

/// A 200 JSON response.
pub(crate) fn json(value: &impl Serialize) -> Reply {
    Ok(json_with(StatusCode::OK, value))
}

/// A 201 JSON response.
pub(crate) fn created(value: &impl Serialize) -> Reply {
    Ok(json_with(StatusCode::CREATED, value))
}

/// A 204 response.
pub(crate) fn no_content() -> Reply {
    let mut response = hyper::Response::new(empty());
    *response.status_mut() = StatusCode::NO_CONTENT;
    Ok(response)
}

/// A plain text response.
pub(crate) fn plain(status: StatusCode, text: impl Into<Bytes>) -> hyper::Response<Body> {
    let mut response = hyper::Response::new(full(text));
    *response.status_mut() = status;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    response
}

/// A body of these bytes.
pub(crate) fn full(bytes: impl Into<Bytes>) -> Body {
    Full::new(bytes.into()).boxed()
}

/// An empty body.
pub(crate) fn empty() -> Body {
    full(Bytes::new())
}

/// A streamed 200 response of `content_type`, and the sender of its chunks (the body ends when
/// the sender is dropped).
pub(crate) fn streamed(content_type: &'static str) -> (hyper::Response<Body>, Chunks) {
    let (tx, rx) = mpsc::channel::<Result<Frame<Bytes>, Infallible>>(64);
    let body = BodyExt::boxed(StreamBody::new(ReceiverStream::new(rx)));
    let mut response = hyper::Response::new(body);
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    (response, Chunks(tx))
}

/// Where the chunks of a streamed response go.
#[derive(Debug, Clone)]
pub(crate) struct Chunks(mpsc::Sender<Result<Frame<Bytes>, Infallible>>);

impl Chunks {
    /// Sends a chunk; false once the client has gone.
    pub(crate) async fn send(&self, bytes: impl Into<Bytes>) -> bool {
        self.0.send(Ok(Frame::data(bytes.into()))).await.is_ok()
    }

    /// Sends one JSON value followed by a newline (Docker's progress and event streams).
    pub(crate) async fn send_json(&self, value: &impl Serialize) -> bool {
        match serde_json::to_vec(value) {
            Ok(mut line) => {
                line.push(b'\n');
                self.send(line).await
            }
            Err(_) => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn agent_codes_become_dockers_statuses() {
        let cases = [
            (tonic::Code::NotFound, 404),
            (tonic::Code::AlreadyExists, 409),
            (tonic::Code::FailedPrecondition, 409),
            (tonic::Code::InvalidArgument, 400),
            (tonic::Code::PermissionDenied, 403),
            (tonic::Code::Internal, 500),
        ];
        for (code, status) in cases {
            assert_eq!(status_of(code).as_u16(), status, "{code:?}");
        }
    }
}
