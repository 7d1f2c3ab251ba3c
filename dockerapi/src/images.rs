//! The `images/*` endpoints: list, pull (`images/create`, a JSON progress stream), inspect,
//! tag and remove.

use api::agent as proto;
use hyper::body::Incoming;
use serde_json::{Value, json};

use super::context::Context;
use super::filters::Query;
use super::reply::{ApiError, Reply, created, json, streamed};

fn no_such_image(name: &str) -> impl FnOnce(tonic::Status) -> ApiError {
    ApiError::not_found_as(format!("No such image: {name}"))
}

/// Seconds since the epoch of an RFC 3339 time (0 when empty or unreadable).
fn epoch_seconds(rfc3339: &str) -> i64 {
    humantime::parse_rfc3339_weak(rfc3339)
        .ok()
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(0))
}

/// Docker's `ImageSummary`.
fn summary(image: &proto::ImageSummary) -> Value {
    json!({
        "Id": image.id,
        "ParentId": "",
        "RepoTags": image.repo_tags,
        "RepoDigests": image.repo_digests,
        "Created": epoch_seconds(&image.created),
        "Size": image.size,
        "SharedSize": -1,
        "VirtualSize": image.size,
        "Labels": {},
        "Containers": image.containers,
    })
}

/// `GET /images/json`.
pub(crate) async fn list(context: &Context) -> Reply {
    let images = context
        .images()
        .list(proto::ImageListRequest::default())
        .await?
        .into_inner()
        .images;
    json(&images.iter().map(summary).collect::<Vec<_>>())
}

/// `GET /images/{name}/json`.
pub(crate) async fn inspect(context: &Context, name: &str) -> Reply {
    let doc = context
        .images()
        .inspect(proto::ImageRef {
            image: name.to_string(),
        })
        .await
        .map_err(no_such_image(name))?
        .into_inner();
    let mut value: Value = serde_json::from_str(&doc.json)
        .map_err(|e| ApiError::internal(format!("image {name}: {e}")))?;
    if let Some(map) = value.as_object_mut() {
        map.entry("Parent").or_insert(json!(""));
        map.entry("Comment").or_insert(json!(""));
        map.entry("DockerVersion").or_insert(json!(""));
        map.entry("VirtualSize")
            .or_insert_with(|| map_size(&doc.json));
    }
    json(&value)
}

fn map_size(doc: &str) -> Value {
    serde_json::from_str::<Value>(doc)
        .ok()
        .map_or(json!(0), |v| v["Size"].clone())
}

/// `POST /images/create?fromImage=&tag=`: a pull, its progress as Docker's JSON lines.
/// Importing (`fromSrc`) is not served.
pub(crate) async fn pull(context: &Context, request: &hyper::Request<Incoming>) -> Reply {
    let query = Query::of(request.uri());
    let Some(image) = query
        .get("fromImage")
        .filter(|s| !s.is_empty())
        .map(str::to_string)
    else {
        return Err(ApiError::not_served(
            "POST /images/create without fromImage (import)",
        ));
    };
    let reference = match query.get("tag").filter(|t| !t.is_empty()) {
        Some(tag) if tag.starts_with("sha256:") => format!("{image}@{tag}"),
        Some(tag) => format!("{image}:{tag}"),
        None => image.to_string(),
    };
    let mut progress = context
        .images()
        .pull(proto::PullRequest {
            reference: reference.clone(),
            platform: query.get("platform").unwrap_or("").to_string(),
            ..Default::default()
        })
        .await?
        .into_inner();
    let (response, chunks) = streamed("application/json");
    context.spawn(async move {
        let tag = reference
            .rsplit_once(':')
            .map_or("latest", |(_, t)| t)
            .to_string();
        chunks
            .send_json(&json!({ "status": format!("Pulling from {image}"), "id": tag }))
            .await;
        loop {
            match progress.message().await {
                Ok(Some(p)) if p.done => {
                    chunks
                        .send_json(&json!({ "status": format!("Digest: {}", p.result) }))
                        .await;
                    chunks
                        .send_json(&json!({
                            "status": format!("Status: Downloaded newer image for {reference}")
                        }))
                        .await;
                    return;
                }
                Ok(Some(p)) => {
                    let mut line = json!({ "status": p.status, "id": p.id });
                    if p.total > 0 {
                        line["progressDetail"] = json!({ "current": p.current, "total": p.total });
                    }
                    if !chunks.send_json(&line).await {
                        return;
                    }
                }
                Ok(None) => return,
                Err(status) => {
                    let message = status.message().to_string();
                    chunks
                        .send_json(
                            &json!({ "errorDetail": { "message": message }, "error": message }),
                        )
                        .await;
                    return;
                }
            }
        }
    });
    Ok(response)
}

/// `POST /images/{name}/tag?repo=&tag=`.
pub(crate) async fn tag(
    context: &Context,
    name: &str,
    request: &hyper::Request<Incoming>,
) -> Reply {
    let query = Query::of(request.uri());
    let Some(repo) = query.get("repo").filter(|r| !r.is_empty()) else {
        return Err(ApiError::bad_request("repo is required"));
    };
    let target = match query.get("tag").filter(|t| !t.is_empty()) {
        Some(tag) => format!("{repo}:{tag}"),
        None => format!("{repo}:latest"),
    };
    context
        .images()
        .tag(proto::TagRequest {
            source: name.to_string(),
            target,
        })
        .await
        .map_err(no_such_image(name))?;
    created(&json!({}))
}

/// `DELETE /images/{name}?force=`.
pub(crate) async fn remove(
    context: &Context,
    name: &str,
    request: &hyper::Request<Incoming>,
) -> Reply {
    let query = Query::of(request.uri());
    let removed = context
        .images()
        .remove(proto::ImageRemoveRequest {
            image: name.to_string(),
            force: query.flag("force"),
        })
        .await
        .map_err(no_such_image(name))?
        .into_inner();
    let mut out: Vec<Value> = removed
        .untagged
        .iter()
        .map(|t| json!({ "Untagged": t }))
        .collect();
    out.extend(removed.deleted.iter().map(|d| json!({ "Deleted": d })));
    json(&out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn summaries_carry_epoch_seconds() {
        let s = summary(&proto::ImageSummary {
            id: "sha256:ab".into(),
            created: "1970-01-01T00:01:40Z".into(),
            size: 5,
            ..Default::default()
        });
        assert_eq!(s["Created"], 100);
        assert_eq!(s["SharedSize"], -1);
        assert_eq!(epoch_seconds(""), 0);
    }
}
