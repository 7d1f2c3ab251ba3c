//! A container's life cycle: start, stop, kill, restart, pause, unpause, wait and remove.

use api::agent::{self as proto, ContainerState};
use hyper::body::Incoming;
use serde_json::json;

use super::{inspect, signals};
use crate::context::Context;
use crate::filters::Query;
use crate::reply::{ApiError, Reply, no_content, streamed};

fn reference(id: &str) -> proto::ContainerRef {
    proto::ContainerRef {
        container: id.to_string(),
    }
}

/// The agent's error, with Docker's wording for a missing container.
fn missing(id: &str) -> impl FnOnce(tonic::Status) -> ApiError + '_ {
    move |status| {
        if status.code() == tonic::Code::NotFound {
            ApiError::not_found(format!("No such container: {id}"))
        } else {
            status.into()
        }
    }
}

/// The `t` (or API 1.42's `timeout`) parameter in seconds.
fn timeout(query: &Query) -> Result<Option<u64>, ApiError> {
    let t = match query.number("t")? {
        Some(t) => Some(t),
        None => query.number("timeout")?,
    };
    Ok(t.map(|t| u64::try_from(t).unwrap_or(0)))
}

/// `POST /containers/{id}/start`.
pub(crate) async fn start(context: &Context, id: &str) -> Reply {
    context
        .containers()
        .start(reference(id))
        .await
        .map_err(missing(id))?;
    no_content()
}

/// `POST /containers/{id}/pause`: the agent freezes the container's cgroup.
pub(crate) async fn pause(context: &Context, id: &str) -> Reply {
    context
        .containers()
        .pause(reference(id))
        .await
        .map_err(missing(id))?;
    no_content()
}

/// `POST /containers/{id}/unpause`.
pub(crate) async fn unpause(context: &Context, id: &str) -> Reply {
    context
        .containers()
        .unpause(reference(id))
        .await
        .map_err(missing(id))?;
    no_content()
}

/// `POST /containers/{id}/rename?name=`.
pub(crate) async fn rename(context: &Context, id: &str, query: &Query) -> Reply {
    let Some(name) = query.get("name").filter(|n| !n.is_empty()) else {
        return Err(ApiError::bad_request("a new name is required (name=)"));
    };
    let request = proto::RenameRequest {
        container: id.to_string(),
        new_name: name.trim_start_matches('/').to_string(),
    };
    context
        .containers()
        .rename(request)
        .await
        .map_err(missing(id))?;
    no_content()
}

/// `POST /containers/{id}/stop?t=`.
pub(crate) async fn stop(context: &Context, id: &str, query: &Query) -> Reply {
    let request = proto::StopRequest {
        container: id.to_string(),
        timeout: timeout(query)?,
    };
    context
        .containers()
        .stop(request)
        .await
        .map_err(missing(id))?;
    no_content()
}

/// `POST /containers/{id}/restart?t=`.
pub(crate) async fn restart(context: &Context, id: &str, query: &Query) -> Reply {
    let request = proto::StopRequest {
        container: id.to_string(),
        timeout: timeout(query)?,
    };
    context
        .containers()
        .restart(request)
        .await
        .map_err(missing(id))?;
    no_content()
}

/// `POST /containers/{id}/kill?signal=`.
pub(crate) async fn kill(context: &Context, id: &str, query: &Query) -> Reply {
    let signal = match query.get("signal") {
        None | Some("") => 9,
        Some(s) => signals::number(s)
            .ok_or_else(|| ApiError::bad_request(format!("invalid signal: {s}")))?,
    };
    let state = inspect::fetch(context, id).await?;
    if state.summary.as_ref().map(|s| s.state()) != Some(ContainerState::Running) {
        return Err(ApiError::new(
            http::StatusCode::CONFLICT,
            format!("cannot kill container: {id}: container is not running"),
        ));
    }
    context
        .containers()
        .kill(proto::KillRequest {
            container: id.to_string(),
            signal,
        })
        .await
        .map_err(missing(id))?;
    no_content()
}

/// `DELETE /containers/{id}?force=&v=`.
pub(crate) async fn remove(
    context: &Context,
    id: &str,
    request: &hyper::Request<Incoming>,
) -> Reply {
    let query = Query::of(request.uri());
    context
        .containers()
        .remove(proto::RemoveRequest {
            container: id.to_string(),
            force: query.flag("force"),
            volumes: query.flag("v"),
        })
        .await
        .map_err(missing(id))?;
    no_content()
}

/// What `wait` waits for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Condition {
    /// Returns at once for a container that is not running (the default).
    NotRunning,
    /// The next exit, even of a container not yet started.
    NextExit,
    /// The container's removal (after its exit).
    Removed,
}

fn condition(text: Option<&str>) -> Result<Condition, ApiError> {
    match text.unwrap_or("") {
        "" | "not-running" => Ok(Condition::NotRunning),
        "next-exit" => Ok(Condition::NextExit),
        "removed" => Ok(Condition::Removed),
        other => Err(ApiError::bad_request(format!(
            "invalid condition: {other:?}"
        ))),
    }
}

/// `POST /containers/{id}/wait?condition=`: the headers go out at once (clients call it
/// before `start` and proceed once they have them), the `{"StatusCode": …}` body at the exit.
///
/// The exit is read from the node's events since the request came in (the `die` event
/// carries the exit code), so that a container removed right after its exit (`--rm`) still
/// reports its code; the removal is its `destroy` event.
pub(crate) async fn wait(context: &Context, id: &str, query: &Query) -> Reply {
    let condition = condition(query.get("condition"))?;
    let since = context.now_ns();
    let record = inspect::fetch(context, id).await?;
    let summary = record.summary.unwrap_or_default();
    let state = summary.state();
    let alive = matches!(state, ContainerState::Running | ContainerState::Paused);
    let (response, chunks) = streamed("application/json");
    if condition == Condition::NotRunning && !alive {
        let body = json!({ "StatusCode": summary.exit_code, "Error": null });
        chunks.send_json(&body).await;
        return Ok(response);
    }
    let mut events = context
        .containers()
        .events(proto::EventsRequest {
            since: Some(since),
            until: None,
        })
        .await?
        .into_inner();
    let id = summary.id.clone();
    let already_exited = state == ContainerState::Exited;
    context.spawn(async move {
        let mut code = already_exited.then_some(i64::from(summary.exit_code));
        let done = |code: Option<i64>| match condition {
            Condition::Removed => false,
            _ => code.is_some(),
        };
        let mut error = None;
        if !done(code) {
            loop {
                match events.message().await {
                    Ok(Some(event)) if event.docker_type() == "container" && event.id == id => {
                        match event.action.as_str() {
                            "die" => {
                                code = Some(
                                    event
                                        .attributes
                                        .get("exitCode")
                                        .and_then(|c| c.parse().ok())
                                        .unwrap_or(-1),
                                );
                                if done(code) {
                                    break;
                                }
                            }
                            "destroy" if condition == Condition::Removed => break,
                            _ => {}
                        }
                    }
                    Ok(Some(_)) => {}
                    Ok(None) => {
                        error = Some("the agent's event stream ended".to_string());
                        break;
                    }
                    Err(status) => {
                        error = Some(status.message().to_string());
                        break;
                    }
                }
            }
        }
        let error = error.map(|message| json!({ "Message": message }));
        let body = json!({ "StatusCode": code.unwrap_or(-1), "Error": error });
        chunks.send_json(&body).await;
    });
    Ok(response)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conditions() {
        assert_eq!(condition(None).unwrap(), Condition::NotRunning);
        assert_eq!(condition(Some("next-exit")).unwrap(), Condition::NextExit);
        assert_eq!(condition(Some("removed")).unwrap(), Condition::Removed);
        assert!(condition(Some("later")).is_err());
    }
}
