//! The node's event stream: the engine's event log read in a time window and then followed,
//! on one blocking thread per subscriber that ends when the subscriber goes away. Container
//! events carry Docker's attributes of the container (`name`, `image`, its labels): the
//! agent gives them to the engine with the container's spec, and again when it is renamed.

use std::collections::BTreeMap;
use std::time::Duration;

use engine::Runtime;
use engine::events::Event;
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tonic::Status;

use super::proto;

/// Events buffered between the log and the subscriber.
const BUFFER: usize = 256;
/// How often a follower checks that its subscriber is still there.
const SLICE: Duration = Duration::from_millis(250);

/// The API form of an engine event.
pub(crate) fn to_proto(event: &Event) -> proto::Event {
    let name = |value: serde_json::Result<serde_json::Value>| {
        value
            .ok()
            .and_then(|v| v.as_str().map(str::to_string))
            .unwrap_or_default()
    };
    proto::Event {
        time: event.time,
        id: event.id.clone(),
        action: name(serde_json::to_value(event.action)),
        attributes: event.attributes.clone().into_iter().collect(),
        r#type: name(serde_json::to_value(event.kind)),
    }
}

type Sender = mpsc::Sender<Result<proto::Event, Status>>;

fn send(tx: &Sender, item: Result<proto::Event, Status>) -> bool {
    tx.blocking_send(item).is_ok()
}

/// Docker's attributes of a container's events: its labels, its `name` and its `image` as
/// named (none for a directory rootfs).
pub(crate) fn container_attributes(meta: &crate::meta::Meta) -> BTreeMap<String, String> {
    let mut attributes = meta.labels.clone();
    attributes.insert("name".into(), meta.name.clone());
    if !meta.image.is_empty() {
        attributes.insert("image".into(), meta.image.clone());
    }
    attributes
}

/// Streams the events of `runtime`'s log with `since <= time <= until` (none when neither is
/// given); without `until`, new events follow as they are written.
pub(crate) fn stream(
    runtime: Runtime,
    since: Option<u64>,
    until: Option<u64>,
) -> ReceiverStream<Result<proto::Event, Status>> {
    let (tx, rx) = mpsc::channel(BUFFER);
    tokio::task::spawn_blocking(move || {
        let log = runtime.events();
        // Follow from before the history is read, so nothing falls in between; what both
        // see is sent once.
        let follower = match until {
            None => match log.follow() {
                Ok(f) => Some(f),
                Err(e) => {
                    send(&tx, Err(Status::internal(format!("follow events: {e}"))));
                    return;
                }
            },
            Some(_) => None,
        };
        // Without a window only new events are shown, as docker does.
        let window = since.is_some() || until.is_some();
        let read = if window {
            log.read(since, until)
        } else {
            Ok(Vec::new())
        };
        let history = match read {
            Ok(h) => h,
            Err(e) => {
                send(&tx, Err(Status::internal(format!("read events: {e}"))));
                return;
            }
        };
        let mut last = 0;
        for event in &history {
            last = event.time;
            if !send(&tx, Ok(to_proto(event))) {
                return;
            }
        }
        let Some(mut follower) = follower else {
            return;
        };
        while !tx.is_closed() {
            match follower.next_timeout(SLICE) {
                Ok(Some(event)) if event.time > last => {
                    if !send(&tx, Ok(to_proto(&event))) {
                        return;
                    }
                }
                Ok(_) => {}
                Err(e) => {
                    send(&tx, Err(Status::internal(format!("follow events: {e}"))));
                    return;
                }
            }
        }
    });
    ReceiverStream::new(rx)
}

#[cfg(test)]
mod tests {
    use super::*;
    use engine::events::Action;

    #[test]
    fn event_to_proto() {
        let mut event = Event::new("abc", Action::HealthStatus).with("health_status", "healthy");
        event.time = 42;
        let p = to_proto(&event);
        assert_eq!(p.time, 42);
        assert_eq!(p.id, "abc");
        assert_eq!(p.action, "health_status");
        assert_eq!(p.attributes["health_status"], "healthy");
        assert_eq!(p.r#type, "container");
        let network = Event::of(engine::events::Kind::Network, "n1", Action::Connect);
        let p = to_proto(&network);
        assert_eq!(
            (p.r#type.as_str(), p.action.as_str()),
            ("network", "connect")
        );
    }
}
