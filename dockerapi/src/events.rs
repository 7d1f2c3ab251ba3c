//! `GET /events`: the node's container events as Docker's JSON messages, followed until the
//! client leaves (or until `until`).

use api::agent as proto;
use hyper::body::Incoming;
use serde_json::{Value, json};

use super::context::Context;
use super::filters::Query;
use super::reply::{ApiError, Reply, streamed};
use super::time;

/// Docker's event message for one agent event.
fn message(e: &proto::Event) -> Value {
    let mut attributes = serde_json::Map::new();
    for (k, v) in &e.attributes {
        attributes.insert(k.clone(), json!(v));
    }
    json!({
        "Type": "container",
        "Action": e.action,
        "status": e.action,
        "id": e.id,
        "from": e.attributes.get("image").cloned().unwrap_or_default(),
        "Actor": { "ID": e.id, "Attributes": attributes },
        "scope": "local",
        "time": time::seconds(e.time),
        "timeNano": e.time,
    })
}

/// Whether `event` passes Docker's `type`, `event`, `container` filters.
fn passes(e: &proto::Event, filters: &[String]) -> bool {
    let mut by_key: std::collections::HashMap<&str, Vec<&str>> = Default::default();
    for f in filters {
        if let Some((k, v)) = f.split_once('=') {
            by_key.entry(k).or_default().push(v);
        }
    }
    let name = e.attributes.get("name").map(String::as_str).unwrap_or("");
    by_key.iter().all(|(key, values)| match *key {
        "type" => values.contains(&"container"),
        "event" | "status" => values.contains(&e.action.as_str()),
        "container" => values.iter().any(|v| *v == name || e.id.starts_with(v)),
        _ => true,
    })
}

/// `GET /events?since=&until=&filters=`.
pub(crate) async fn events(context: &Context, request: &hyper::Request<Incoming>) -> Reply {
    let query = Query::of(request.uri());
    let parse = |key: &str| match query.get(key) {
        None | Some("") => Ok(None),
        Some(t) => time::parse_seconds(t)
            .map(Some)
            .ok_or_else(|| ApiError::bad_request(format!("invalid {key}: {t:?}"))),
    };
    let (since, until) = (parse("since")?, parse("until")?);
    let filters = query.filters()?;
    let mut stream = context
        .containers()
        .events(proto::EventsRequest { since, until })
        .await?
        .into_inner();
    let (response, chunks) = streamed("application/json");
    context.spawn(async move {
        while let Ok(Some(event)) = stream.message().await {
            if passes(&event, &filters) && !chunks.send_json(&message(&event)).await {
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
    fn filters_and_shape() {
        let e = proto::Event {
            time: 2_000_000_000,
            id: "abcdef".into(),
            action: "start".into(),
            attributes: [("name".to_string(), "web".to_string())].into(),
        };
        assert!(passes(&e, &["event=start".into(), "container=web".into()]));
        assert!(!passes(&e, &["event=die".into()]));
        assert!(passes(&e, &["container=abc".into()]));
        let m = message(&e);
        assert_eq!(m["time"], 2);
        assert_eq!(m["Actor"]["Attributes"]["name"], "web");
    }
}
