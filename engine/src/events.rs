//! The engine's event log: one JSON line per event in `<data_root>/events.jsonl`, appended by
//! the runtime and the shims (containers), the network manager, the volume store and the image
//! store, read back with time filters or followed live.

use std::collections::BTreeMap;
use std::fs::OpenOptions;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::follow::Follower;
use crate::state::now_nanos;

/// The file name of the event log under the data root.
pub(crate) const EVENTS_FILE: &str = "events.jsonl";

/// What an event is about (Docker's event `Type`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    /// A container (the id is the container's).
    #[default]
    Container,
    /// A network (the id is the network's; attributes `name`, `type`, and `container` for
    /// a connection).
    Network,
    /// A volume (the id is its name; attribute `driver`).
    Volume,
    /// An image (the id is its id, or the reference pulled, loaded or pushed; attribute
    /// `name`).
    Image,
}

impl Kind {
    fn is_container(&self) -> bool {
        *self == Kind::Container
    }
}

/// What happened, with Docker's action names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    /// The container was created.
    Create,
    /// Its entrypoint was released.
    Start,
    /// A signal was sent to it (attribute `signal`).
    Kill,
    /// It was stopped on request.
    Stop,
    /// The OOM killer killed one of its processes.
    Oom,
    /// Its init exited (attribute `exitCode`).
    Die,
    /// It was frozen.
    Pause,
    /// It was thawed.
    Unpause,
    /// It was removed.
    Destroy,
    /// Its health status changed (attribute `health_status`).
    HealthStatus,
    /// A process was started in it with exec.
    ExecStart,
    /// It was given another name (attribute `oldName`, `/` first, as Docker).
    Rename,
    /// A container joined the network (attribute `container`).
    Connect,
    /// A container left the network (attribute `container`).
    Disconnect,
    /// The image was pulled.
    Pull,
    /// The image was pushed.
    Push,
    /// A name was given to the image (attribute `name`).
    Tag,
    /// A name of the image was removed (attribute `name`).
    Untag,
    /// The image was deleted.
    Delete,
    /// The image was imported from a tar of a file system.
    Import,
    /// The image was loaded from an image archive.
    Load,
    /// The image was saved to an image archive.
    Save,
}

/// One event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Event {
    /// When, nanoseconds since the Unix epoch.
    pub time: u64,
    /// What it is about (absent from container events, as in logs written before there were
    /// others).
    #[serde(default, skip_serializing_if = "Kind::is_container")]
    pub kind: Kind,
    /// The id of what it is about (see [`Kind`]).
    pub id: String,
    /// What happened.
    pub action: Action,
    /// Details (`exitCode`, `signal`, `health_status`, ...).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub attributes: BTreeMap<String, String>,
}

impl Event {
    /// An event of container `id`, now.
    pub fn new(id: &str, action: Action) -> Self {
        Self::of(Kind::Container, id, action)
    }

    /// An event of container `id`, now, with the attributes its `spec` asks its events to
    /// carry.
    pub fn of_container(id: &str, action: Action, spec: &crate::ContainerSpec) -> Self {
        let mut event = Self::new(id, action);
        event.attributes = spec.event_attributes.clone();
        event
    }

    /// An event of the `kind` of thing `id`, now.
    pub fn of(kind: Kind, id: &str, action: Action) -> Self {
        Self {
            time: now_nanos(),
            kind,
            id: id.to_string(),
            action,
            attributes: BTreeMap::new(),
        }
    }

    /// Adds an attribute.
    pub fn with(mut self, key: &str, value: impl ToString) -> Self {
        self.attributes.insert(key.to_string(), value.to_string());
        self
    }
}

/// The event log of one data root.
#[derive(Debug, Clone)]
pub struct EventLog {
    path: PathBuf,
}

impl EventLog {
    /// The event log under `data_root`.
    pub fn new(data_root: &Path) -> Self {
        Self {
            path: data_root.join(EVENTS_FILE),
        }
    }

    /// The log file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Appends `event` as one line (a single `write` on an `O_APPEND` file, so lines of
    /// concurrent writers never interleave).
    pub fn emit(&self, event: &Event) -> std::io::Result<()> {
        let mut line = serde_json::to_vec(event).map_err(std::io::Error::other)?;
        line.push(b'\n');
        let mut file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.path)?;
        file.write_all(&line)
    }

    /// Appends `event`, logging instead of failing: an event never fails an operation.
    pub fn emit_or_warn(&self, event: &Event) {
        if let Err(e) = self.emit(event) {
            tracing::warn!(path = %self.path.display(), cause = %e, "cannot write event");
        }
    }

    /// The recorded events with `since <= time <= until` (nanoseconds; `None` = open).
    pub fn read(&self, since: Option<u64>, until: Option<u64>) -> std::io::Result<Vec<Event>> {
        let text = match std::fs::read_to_string(&self.path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(e),
        };
        Ok(text
            .lines()
            .filter_map(|l| serde_json::from_str::<Event>(l).ok())
            .filter(|e| in_window(e.time, since, until))
            .collect())
    }

    /// Follows the log from its current end: new events as they are written.
    pub fn follow(&self) -> std::io::Result<EventStream> {
        Ok(EventStream {
            follower: Follower::at_end(&self.path)?,
            pending: Vec::new(),
        })
    }
}

fn in_window(time: u64, since: Option<u64>, until: Option<u64>) -> bool {
    since.is_none_or(|s| time >= s) && until.is_none_or(|u| time <= u)
}

/// Events written after [`EventLog::follow`] was called.
#[derive(Debug)]
pub struct EventStream {
    follower: Follower,
    pending: Vec<Event>,
}

impl EventStream {
    /// The next event, waiting at most `timeout` for one.
    pub fn next_timeout(&mut self, timeout: Duration) -> std::io::Result<Option<Event>> {
        let deadline = std::time::Instant::now() + timeout;
        loop {
            if !self.pending.is_empty() {
                return Ok(Some(self.pending.remove(0)));
            }
            let lines = self.follower.poll()?;
            self.pending
                .extend(lines.iter().filter_map(|l| serde_json::from_str(l).ok()));
            if self.pending.is_empty() {
                if std::time::Instant::now() >= deadline {
                    return Ok(None);
                }
                std::thread::sleep(crate::follow::POLL_INTERVAL);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emit_read_window_and_follow() {
        let dir = tempfile::tempdir().unwrap();
        let log = EventLog::new(dir.path());
        assert!(log.read(None, None).unwrap().is_empty());
        let mut e1 = Event::new("c1", Action::Create);
        e1.time = 100;
        let mut e2 = Event::new("c1", Action::Die).with("exitCode", 3);
        e2.time = 200;
        log.emit(&e1).unwrap();
        log.emit(&e2).unwrap();
        assert_eq!(log.read(None, None).unwrap(), vec![e1.clone(), e2.clone()]);
        assert_eq!(log.read(Some(150), None).unwrap(), vec![e2.clone()]);
        assert_eq!(log.read(None, Some(150)).unwrap(), vec![e1.clone()]);
        let line = std::fs::read_to_string(log.path()).unwrap();
        assert!(
            line.contains(r#""action":"die","attributes":{"exitCode":"3"}"#),
            "{line}"
        );
        let mut stream = log.follow().unwrap();
        assert_eq!(
            stream.next_timeout(Duration::from_millis(50)).unwrap(),
            None
        );
        let writer = log.clone();
        let t = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(100));
            writer.emit(&Event::new("c2", Action::Start)).unwrap();
        });
        let got = stream
            .next_timeout(Duration::from_secs(5))
            .unwrap()
            .unwrap();
        assert_eq!((got.id.as_str(), got.action), ("c2", Action::Start));
        t.join().unwrap();
    }

    #[test]
    fn other_kinds_say_so_and_container_lines_stay_as_they_were() {
        let dir = tempfile::tempdir().unwrap();
        let log = EventLog::new(dir.path());
        let volume = Event::of(Kind::Volume, "db", Action::Create).with("driver", "local");
        log.emit(&volume).unwrap();
        log.emit(&Event::new("c1", Action::Start)).unwrap();
        let text = std::fs::read_to_string(log.path()).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert!(
            lines[0].contains(r#""kind":"volume","id":"db","action":"create""#),
            "{text}"
        );
        assert!(!lines[1].contains("kind"), "{text}");
        // A line written before kinds existed reads as a container's.
        std::fs::write(
            log.path(),
            r#"{"time":1,"id":"old","action":"die"}"#.to_owned() + "\n",
        )
        .unwrap();
        let old = log.read(None, None).unwrap();
        assert_eq!((old[0].kind, old[0].action), (Kind::Container, Action::Die));
    }
}
