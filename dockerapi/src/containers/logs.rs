//! `GET /containers/{id}/logs`: the container's log, multiplexed when it has no terminal,
//! followed until it exits with `follow`.

use api::agent as proto;

use super::inspect;
use crate::context::Context;
use crate::filters::Query;
use crate::mux::{self, Stream};
use crate::reply::{ApiError, Reply, streamed};
use crate::time;

/// The content type of a container's output stream.
pub(crate) fn content_type(tty: bool) -> &'static str {
    if tty {
        "application/vnd.docker.raw-stream"
    } else {
        "application/vnd.docker.multiplexed-stream"
    }
}

/// The agent's log request for Docker's parameters.
fn log_request(id: &str, query: &Query) -> Result<proto::LogsRequest, ApiError> {
    let tail = match query.get("tail") {
        None | Some("") | Some("all") => -1,
        Some(n) => n
            .parse()
            .map_err(|_| ApiError::bad_request(format!("invalid tail: {n:?}")))?,
    };
    let time = |key: &str| match query.get(key) {
        None | Some("") | Some("0") => Ok(None),
        Some(t) => time::parse_seconds(t)
            .map(Some)
            .ok_or_else(|| ApiError::bad_request(format!("invalid {key}: {t:?}"))),
    };
    let (stdout, stderr) = (query.flag("stdout"), query.flag("stderr"));
    if !stdout && !stderr {
        return Err(ApiError::bad_request("you must choose at least one stream"));
    }
    Ok(proto::LogsRequest {
        container: id.to_string(),
        follow: query.flag("follow"),
        tail,
        stdout,
        stderr,
        since: time("since")?,
        until: time("until")?,
    })
}

/// `GET /containers/{id}/logs`.
pub(crate) async fn logs(context: &Context, id: &str, query: &Query) -> Reply {
    let record = inspect::fetch(context, id).await?;
    let tty = inspect::tty(&record);
    let request = log_request(id, query)?;
    let timestamps = query.flag("timestamps");
    let mut entries = context.containers().logs(request).await?.into_inner();
    let (response, chunks) = streamed(content_type(tty));
    context.spawn(async move {
        while let Ok(Some(entry)) = entries.message().await {
            let stream = if entry.stream == "stderr" {
                Stream::Stderr
            } else {
                Stream::Stdout
            };
            let mut line = Vec::new();
            if timestamps {
                line.extend_from_slice(entry.time.as_bytes());
                line.push(b' ');
            }
            line.extend_from_slice(&entry.line);
            if !chunks.send(mux::encode(tty, stream, &line)).await {
                return;
            }
        }
    });
    Ok(response)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parameters() {
        let q = Query::of(&"/x?stdout=1&follow=1&tail=5&since=10".parse().unwrap());
        let r = log_request("c", &q).unwrap();
        assert!(r.follow && r.stdout && !r.stderr);
        assert_eq!((r.tail, r.since), (5, Some(10_000_000_000)));
        let none = Query::of(&"/x?follow=1".parse().unwrap());
        assert!(log_request("c", &none).is_err());
    }
}
