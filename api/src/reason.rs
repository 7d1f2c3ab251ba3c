//! Why a manager refused a call, carried beside the status message in its metadata, so that
//! callers decide on a typed reason and never on the message's text.

use tonic::Status;
use tonic::metadata::MetadataValue;

/// The metadata key carrying the reason.
const KEY: &str = "bosun-reason";

/// A refusal callers act on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reason {
    /// Too few managers are reachable to commit anything.
    NoQuorum,
    /// The calling node was removed from the cluster.
    Removed,
}

impl Reason {
    fn as_str(self) -> &'static str {
        match self {
            Reason::NoQuorum => "no-quorum",
            Reason::Removed => "removed",
        }
    }

    /// `status` marked with this reason.
    pub fn mark(self, mut status: Status) -> Status {
        status
            .metadata_mut()
            .insert(KEY, MetadataValue::from_static(self.as_str()));
        status
    }

    /// The reason `status` was marked with, if any.
    pub fn of(status: &Status) -> Option<Reason> {
        let value = status.metadata().get(KEY)?.to_str().ok()?;
        [Reason::NoQuorum, Reason::Removed]
            .into_iter()
            .find(|r| r.as_str() == value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_marked_status_gives_its_reason_back() {
        let status = Reason::Removed.mark(Status::permission_denied("gone"));
        assert_eq!(Reason::of(&status), Some(Reason::Removed));
        assert_eq!(status.message(), "gone");
        assert_eq!(Reason::of(&Status::unavailable("no quorum: 1 of 3")), None);
    }
}
