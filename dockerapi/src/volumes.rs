//! The `volumes/*` endpoints: list, create, inspect and remove.

use std::collections::HashMap;

use api::agent as proto;
use hyper::body::Incoming;
use serde::Deserialize;
use serde_json::{Value, json};

use super::containers::read_json;
use super::context::Context;
use super::filters::Query;
use super::reply::{ApiError, Reply, created, json, no_content};

fn no_such_volume(name: &str) -> impl FnOnce(tonic::Status) -> ApiError {
    ApiError::not_found_as(format!("get {name}: no such volume"))
}

/// Docker's `Volume`.
fn volume(v: &proto::Volume) -> Value {
    json!({
        "Name": v.name,
        "Driver": if v.driver.is_empty() { "local" } else { v.driver.as_str() },
        "Mountpoint": v.mountpoint,
        "CreatedAt": v.created_at,
        "Labels": v.labels,
        "Scope": "local",
        "Options": v.options,
    })
}

/// `GET /volumes?filters=`.
pub(crate) async fn list(context: &Context, request: &hyper::Request<Incoming>) -> Reply {
    let query = Query::of(request.uri());
    let volumes = context
        .volumes()
        .list(proto::VolumeListRequest {
            filters: query.filters()?,
            size: false,
        })
        .await?
        .into_inner()
        .volumes;
    json(&json!({
        "Volumes": volumes.iter().map(volume).collect::<Vec<_>>(),
        "Warnings": [],
    }))
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
struct CreateBody {
    #[serde(deserialize_with = "crate::containers::nullable")]
    name: String,
    #[serde(deserialize_with = "crate::containers::nullable")]
    driver: String,
    driver_opts: Option<HashMap<String, String>>,
    labels: Option<HashMap<String, String>>,
}

/// `POST /volumes/create`.
pub(crate) async fn create(context: &Context, request: hyper::Request<Incoming>) -> Reply {
    let body: CreateBody = read_json(request).await?;
    let v = context
        .volumes()
        .create(proto::VolumeCreateRequest {
            name: body.name,
            driver: body.driver,
            labels: body.labels.unwrap_or_default(),
            options: body.driver_opts.unwrap_or_default(),
        })
        .await?
        .into_inner();
    created(&volume(&v))
}

/// `GET /volumes/{name}`.
pub(crate) async fn inspect(context: &Context, name: &str) -> Reply {
    let v = context
        .volumes()
        .inspect(proto::VolumeRef {
            name: name.to_string(),
        })
        .await
        .map_err(no_such_volume(name))?
        .into_inner();
    json(&volume(&v))
}

/// `DELETE /volumes/{name}?force=`.
pub(crate) async fn remove(
    context: &Context,
    name: &str,
    request: &hyper::Request<Incoming>,
) -> Reply {
    let query = Query::of(request.uri());
    context
        .volumes()
        .remove(proto::VolumeRemoveRequest {
            name: name.to_string(),
            force: query.flag("force"),
        })
        .await
        .map_err(no_such_volume(name))?;
    no_content()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn volume_shape() {
        let v = volume(&proto::Volume {
            name: "data".into(),
            mountpoint: "/var/lib/bosun/volumes/data".into(),
            ..Default::default()
        });
        assert_eq!(v["Driver"], "local");
        assert_eq!(v["Scope"], "local");
        assert_eq!(v["Name"], "data");
    }
}
