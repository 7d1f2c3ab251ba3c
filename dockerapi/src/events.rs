//! `GET /events`: the node's events (containers, networks, volumes, images) as Docker's JSON
//! messages, followed until the client leaves (or until `until`).

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
    let mut message = json!({
        "Type": e.docker_type(),
        "Action": e.action,
        "Actor": { "ID": e.id, "Attributes": attributes },
        "scope": "local",
        "time": time::seconds(e.time),
        "timeNano": e.time,
    });
    // The old top-level fields, which Docker still sends for container events only.
    if e.docker_type() == "container" {
        message["status"] = json!(e.action);
        message["id"] = json!(e.id);
        message["from"] = json!(e.attributes.get("image").cloned().unwrap_or_default());
    }
    message
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
            if event.passes_docker_filters(&filters) && !chunks.send_json(&message(&event)).await {
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
            r#type: String::new(),
        };
        let passes = |e: &proto::Event, filters: &[&str]| {
            let filters: Vec<String> = filters.iter().map(|f| (*f).to_owned()).collect();
            e.passes_docker_filters(&filters)
        };
        assert!(passes(&e, &["event=start", "container=web"]));
        assert!(!passes(&e, &["event=die"]));
        assert!(passes(&e, &["container=abc"]));
        assert!(passes(&e, &["type=container", "type=network"]));
        assert!(passes(&e, &["label=name", "label=name=web", "scope=local"]));
        assert!(!passes(&e, &["label=name=db"]));
        assert!(!passes(&e, &["label=tier"]));
        assert!(!passes(&e, &["scope=swarm"]));
        assert!(!passes(&e, &["type=volume"]));
        let m = message(&e);
        assert_eq!(m["time"], 2);
        assert_eq!(
            (&m["Type"], &m["status"]),
            (&json!("container"), &json!("start"))
        );
        assert_eq!(m["Actor"]["Attributes"]["name"], "web");

        let v = proto::Event {
            id: "dbdata".into(),
            action: "destroy".into(),
            attributes: [("driver".to_string(), "local".to_string())].into(),
            r#type: "volume".into(),
            ..e.clone()
        };
        assert!(passes(&v, &["type=volume", "volume=db"]));
        assert!(!passes(&v, &["type=volume", "volume=logs"]));
        assert!(!passes(&v, &["type=container"]));
        let m = message(&v);
        assert_eq!(
            (&m["Type"], &m["Action"]),
            (&json!("volume"), &json!("destroy"))
        );
        assert_eq!(m["Actor"]["ID"], "dbdata");
        assert!(m.get("status").is_none());
    }
}
