//! Image archives, as `docker save` and `docker load` exchange them: `GET /images/get?names=…`
//! (or `/images/{name}/get`) streams the agent's `image save` tarball, `POST /images/load`
//! hands the request's tarball to the agent's `image load` and answers Docker's JSON lines
//! (`{"stream":"Loaded image: busybox:latest\n"}`).

use api::agent as proto;
use http_body_util::BodyExt;
use hyper::body::Incoming;
use serde_json::{Value, json};
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;

use super::context::Context;
use super::reply::{ApiError, Reply, full, streamed};

/// The images a `get` names: the path's, or every `names` parameter of the query.
fn names(path_name: Option<String>, query: Option<&str>) -> Vec<String> {
    match path_name {
        Some(name) => vec![name],
        None => form_urlencoded::parse(query.unwrap_or("").as_bytes())
            .filter(|(k, v)| k == "names" && !v.is_empty())
            .map(|(_, v)| v.into_owned())
            .collect(),
    }
}

/// `GET /images/get?names=…` and `GET /images/{name}/get`: a tarball of the images.
pub(crate) async fn get(
    context: &Context,
    path_name: Option<String>,
    request: &hyper::Request<Incoming>,
) -> Reply {
    let images = names(path_name, request.uri().query());
    if images.is_empty() {
        return Err(ApiError::bad_request("no image named (names=…)"));
    }
    let listed = images.join(", ");
    let mut chunks = context
        .images()
        .save(proto::SaveRequest { images })
        .await
        .map_err(ApiError::not_found_as(format!("No such image: {listed}")))?
        .into_inner();
    let (response, body) = streamed("application/x-tar");
    context.spawn(async move {
        // An error midway ends the body early: the client's tar reader then reports it.
        while let Ok(Some(chunk)) = chunks.message().await {
            if !body.send(chunk.data).await {
                return;
            }
        }
    });
    Ok(response)
}

/// Docker's JSON line for one of the agent's load messages, if it shows one.
fn load_line(progress: &proto::ImageProgress) -> Option<Value> {
    progress
        .status
        .starts_with("Loaded image")
        .then(|| json!({ "stream": format!("{}\n", progress.status) }))
}

/// `POST /images/load`: the request's body is the tarball.
pub(crate) async fn load(context: &Context, request: hyper::Request<Incoming>) -> Reply {
    let (tx, rx) = mpsc::channel::<proto::DataChunk>(8);
    let mut body = request.into_body();
    let reader = tokio::spawn(async move {
        while let Some(frame) = body.frame().await {
            let frame = frame.map_err(|e| format!("cannot read the request body: {e}"))?;
            if let Ok(data) = frame.into_data() {
                if tx
                    .send(proto::DataChunk {
                        data: data.to_vec(),
                    })
                    .await
                    .is_err()
                {
                    break;
                }
            }
        }
        Ok::<(), String>(())
    });
    let mut progress = context
        .images()
        .load(ReceiverStream::new(rx))
        .await?
        .into_inner();
    let mut lines = Vec::new();
    while let Some(message) = progress.message().await? {
        if let Some(line) = load_line(&message) {
            lines.extend(serde_json::to_vec(&line).unwrap_or_default());
            lines.push(b'\n');
        }
    }
    match reader.await {
        Ok(Ok(())) => {}
        Ok(Err(why)) => return Err(ApiError::bad_request(why)),
        Err(e) => return Err(ApiError::internal(format!("load: {e}"))),
    }
    let mut response = hyper::Response::new(full(lines));
    response.headers_mut().insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static("application/json"),
    );
    Ok(response)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_from_the_path_or_every_names_parameter() {
        assert_eq!(names(Some("busybox".into()), Some("names=x")), ["busybox"]);
        assert_eq!(
            names(None, Some("names=busybox%3A1&names=alpine&other=y&names=")),
            ["busybox:1", "alpine"]
        );
        assert!(names(None, None).is_empty());
    }

    #[test]
    fn only_the_loaded_lines_are_shown() {
        let line = |status: &str| proto::ImageProgress {
            status: status.into(),
            ..Default::default()
        };
        assert_eq!(
            load_line(&line("Loaded image: busybox:latest")),
            Some(json!({"stream": "Loaded image: busybox:latest\n"}))
        );
        assert_eq!(load_line(&line("Loading")), None);
    }
}
