//! The `images/*` endpoints: list, pull (`images/create`, a JSON progress stream, with the
//! client's `X-Registry-Auth` credentials), inspect, history, tag and remove.

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

/// `POST /images/create?fromImage=&tag=`: a pull, its progress as Docker's JSON lines, with
/// the credentials of `X-Registry-Auth` (anonymous without). Importing (`fromSrc`) is not
/// served.
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
    let auth = super::registry_auth::of(request)?;
    let mut progress = context
        .images()
        .pull(proto::PullRequest {
            reference: reference.clone(),
            platform: query.get("platform").unwrap_or("").to_string(),
            auth,
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

/// Docker's `HistoryResponseItem`s of the agent's history rows (`Created` as RFC 3339), the
/// image's tags on the row of the image itself.
fn history_items(rows: &[Value], image_id: &str, tags: &Value) -> Vec<Value> {
    rows.iter()
        .map(|row| {
            let id = row["Id"].as_str().unwrap_or("<missing>");
            json!({
                "Id": id,
                "Created": epoch_seconds(row["Created"].as_str().unwrap_or("")),
                "CreatedBy": row["CreatedBy"].as_str().unwrap_or(""),
                "Tags": if id == image_id { tags.clone() } else { Value::Null },
                "Size": row["Size"].as_u64().unwrap_or(0),
                "Comment": row["Comment"].as_str().unwrap_or(""),
            })
        })
        .collect()
}

/// `GET /images/{name}/history`.
pub(crate) async fn history(context: &Context, name: &str) -> Reply {
    let image = || proto::ImageRef {
        image: name.to_string(),
    };
    let rows = context
        .images()
        .history(image())
        .await
        .map_err(no_such_image(name))?
        .into_inner();
    let doc = context
        .images()
        .inspect(image())
        .await
        .map_err(no_such_image(name))?
        .into_inner();
    let rows: Vec<Value> = serde_json::from_str(&rows.json)
        .map_err(|e| ApiError::internal(format!("history of image {name}: {e}")))?;
    let doc: Value = serde_json::from_str(&doc.json)
        .map_err(|e| ApiError::internal(format!("image {name}: {e}")))?;
    let id = doc["Id"].as_str().unwrap_or("");
    json(&history_items(&rows, id, &doc["RepoTags"]))
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

    #[test]
    fn history_rows_in_dockers_shape() {
        let rows = vec![
            json!({"Id": "sha256:top", "Created": "1970-01-01T00:00:10Z", "CreatedBy": "CMD [\"sh\"]",
                   "Size": 0, "Comment": "", "EmptyLayer": true}),
            json!({"Id": "<missing>", "Created": "1970-01-01T00:00:05Z", "CreatedBy": "ADD rootfs",
                   "Size": 4096, "Comment": "base", "EmptyLayer": false}),
        ];
        let items = history_items(&rows, "sha256:top", &json!(["busybox:latest"]));
        assert_eq!(
            Value::Array(items).to_string(),
            concat!(
                r#"[{"Id":"sha256:top","Created":10,"CreatedBy":"CMD [\"sh\"]","Tags":["busybox:latest"],"Size":0,"Comment":""},"#,
                r#"{"Id":"<missing>","Created":5,"CreatedBy":"ADD rootfs","Tags":null,"Size":4096,"Comment":"base"}]"#
            )
        );
    }
}
