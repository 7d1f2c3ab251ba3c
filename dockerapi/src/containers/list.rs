//! `GET /containers/json`: `docker ps`.

use hyper::body::Incoming;
use serde_json::{Value, json};

use super::shape;
use crate::context::Context;
use crate::filters::Query;
use crate::reply::{Reply, json};
use crate::time;

/// One container as Docker lists it, at `now`.
pub(crate) fn summary(c: &api::agent::ContainerSummary, now: u64) -> Value {
    let network_mode = c
        .networks
        .first()
        .map_or("default".to_string(), |e| e.network.clone());
    json!({
        "Id": c.id,
        "Names": [format!("/{}", c.name)],
        "Image": c.image,
        "ImageID": c.image_id,
        "Command": c.command.join(" "),
        "Created": time::seconds(c.created_at),
        "Ports": shape::ports(&c.ports),
        "SizeRw": c.size_rw,
        "SizeRootFs": c.size_root_fs,
        "Labels": c.labels,
        "State": shape::state_name(c.state()),
        "Status": shape::status_text(c, now),
        "HostConfig": { "NetworkMode": network_mode },
        "NetworkSettings": { "Networks": shape::networks(&c.id, &c.networks) },
        "Mounts": c.mounts.iter().map(shape::mount).collect::<Vec<_>>(),
    })
}

/// `GET /containers/json` (`all`, `limit`, `size`, `filters`).
pub(crate) async fn list(context: &Context, request: &hyper::Request<Incoming>) -> Reply {
    let query = Query::of(request.uri());
    let limit = query.number("limit")?.filter(|n| *n > 0);
    let request = api::agent::ListRequest {
        all: query.flag("all") || limit.is_some(),
        filters: query.filters()?,
        size: query.flag("size"),
    };
    let mut containers = context
        .containers()
        .list(request)
        .await?
        .into_inner()
        .containers;
    containers.sort_by_key(|c| std::cmp::Reverse(c.created_at));
    if let Some(limit) = limit {
        containers.truncate(usize::try_from(limit).unwrap_or(usize::MAX));
    }
    let now = context.now_ns();
    let out: Vec<Value> = containers.iter().map(|c| summary(c, now)).collect();
    json(&out)
}
