//! The node's event stream: the engine's event log read in a time window and then followed,
//! on one blocking thread per subscriber that ends when the subscriber goes away. Container
//! events carry Docker's attributes of the container (`name`, `image`, its labels) as the
//! agent knows them.

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use engine::Runtime;
use engine::events::{Event, Kind};
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

/// A container's attributes by id, as the agent knows it (`None`: gone or not yet known).
pub(crate) type Lookup = Box<dyn Fn(&str) -> Option<BTreeMap<String, String>> + Send>;

/// Adds to container events the attributes `lookup` knows of their container, remembered for
/// the stream's life (a container's `destroy` comes when the agent has forgotten it): its
/// current `name` and `image` replace those its events were written with (a renamed
/// container), its labels add to the event's own attributes (such as `exitCode`).
struct Enrich {
    lookup: Lookup,
    known: HashMap<String, BTreeMap<String, String>>,
}

impl Enrich {
    fn event(&mut self, event: &Event) -> proto::Event {
        let mut wire = to_proto(event);
        if event.kind != Kind::Container {
            return wire;
        }
        if !self.known.contains_key(&event.id)
            && let Some(attributes) = (self.lookup)(&event.id)
        {
            self.known.insert(event.id.clone(), attributes);
        }
        if let Some(attributes) = self.known.get(&event.id) {
            for (key, value) in attributes {
                if key == "name" || key == "image" {
                    wire.attributes.insert(key.clone(), value.clone());
                } else {
                    wire.attributes
                        .entry(key.clone())
                        .or_insert_with(|| value.clone());
                }
            }
        }
        wire
    }
}

/// Streams the events of `runtime`'s log with `since <= time <= until` (none when neither is
/// given); without `until`, new events follow as they are written. `lookup` gives the
/// attributes of a container by id.
pub(crate) fn stream(
    runtime: Runtime,
    lookup: Lookup,
    since: Option<u64>,
    until: Option<u64>,
) -> ReceiverStream<Result<proto::Event, Status>> {
    let (tx, rx) = mpsc::channel(BUFFER);
    tokio::task::spawn_blocking(move || {
        let mut enrich = Enrich {
            lookup,
            known: HashMap::new(),
        };
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
            if !send(&tx, Ok(enrich.event(event))) {
                return;
            }
        }
        let Some(mut follower) = follower else {
            return;
        };
        while !tx.is_closed() {
            match follower.next_timeout(SLICE) {
                Ok(Some(event)) if event.time > last => {
                    if !send(&tx, Ok(enrich.event(&event))) {
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
    fn container_events_carry_the_containers_attributes_past_its_removal() {
        let alive = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(true));
        let seen = alive.clone();
        let lookup: Lookup = Box::new(move |id| {
            (id == "c1" && seen.load(std::sync::atomic::Ordering::SeqCst)).then(|| {
                BTreeMap::from([
                    ("name".to_owned(), "web".to_owned()),
                    ("image".to_owned(), "busybox".to_owned()),
                    ("exitCode".to_owned(), "label".to_owned()),
                ])
            })
        });
        let mut enrich = Enrich {
            lookup,
            known: HashMap::new(),
        };
        let died = enrich.event(&Event::new("c1", Action::Die).with("exitCode", 3));
        assert_eq!(died.attributes["name"], "web");
        assert_eq!(died.attributes["image"], "busybox");
        assert_eq!(
            died.attributes["exitCode"], "3",
            "the event's own attribute wins"
        );
        alive.store(false, std::sync::atomic::Ordering::SeqCst);
        let destroyed = enrich.event(&Event::new("c1", Action::Destroy));
        assert_eq!(destroyed.attributes["name"], "web");
        // A container the agent forgot: the attributes its events were written with.
        let unknown = enrich.event(&Event::new("c2", Action::Destroy).with("name", "old"));
        assert_eq!(unknown.attributes["name"], "old");
        // The current name wins over the one written (a rename since).
        let renamed = enrich.event(&Event::new("c1", Action::Start).with("name", "before"));
        assert_eq!(renamed.attributes["name"], "web");
        let volume = enrich.event(&Event::of(Kind::Volume, "c1", Action::Create));
        assert!(
            volume.attributes.is_empty(),
            "only containers are looked up"
        );
    }

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
