//! One manager's share of the log subscriptions: the ones active here (opened by a CLI on this
//! manager or relayed by another manager), announced to the nodes listening on this manager,
//! and the routes from the subscriptions this manager owns to their CLI streams.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, PoisonError};

use tokio::sync::{broadcast, mpsc};

use super::proto;

/// Announcements a slow listener may fall behind by before its stream ends (the node then
/// listens again and gets the active set afresh).
const EVENTS: usize = 64;

/// What a node's publish call says of itself, handed to the subscription's owner.
#[derive(Debug)]
pub(crate) enum Published {
    /// The node's first message (its lines may be empty).
    Answered(String, Vec<proto::LogLine>),
    /// More lines.
    Lines(Vec<proto::LogLine>),
    /// The node's stream ended: it has sent everything.
    Ended(String),
    /// The node's stream broke.
    Failed(String, String),
}

/// The subscriptions of one manager.
#[derive(Debug)]
pub(crate) struct Broker {
    /// A std mutex: held only to read or change the maps, never across an await.
    inner: Mutex<Inner>,
    events: broadcast::Sender<proto::SubscriptionEvent>,
}

#[derive(Debug, Default)]
struct Inner {
    /// Active subscriptions by id, each with how many holders opened it here.
    active: BTreeMap<String, (proto::Subscription, usize)>,
    /// The subscriptions this manager owns, by id: where their nodes' messages go.
    routes: HashMap<String, mpsc::Sender<Published>>,
}

/// Keeps a subscription active on its broker until dropped.
#[derive(Debug)]
pub(crate) struct Active {
    broker: Arc<Broker>,
    id: String,
}

/// Keeps a route open until dropped.
#[derive(Debug)]
pub(crate) struct Route {
    broker: Arc<Broker>,
    id: String,
}

impl Broker {
    /// An empty broker.
    pub(crate) fn new() -> Arc<Self> {
        let (events, _) = broadcast::channel(EVENTS);
        Arc::new(Broker {
            inner: Mutex::new(Inner::default()),
            events,
        })
    }

    fn inner(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Makes `subscription` active here (announced to the listening nodes) until the
    /// returned guard drops.
    pub(crate) fn open(self: &Arc<Self>, subscription: proto::Subscription) -> Active {
        let id = subscription.id.clone();
        let mut inner = self.inner();
        let entry = inner
            .active
            .entry(id.clone())
            .or_insert_with(|| (subscription.clone(), 0));
        entry.1 += 1;
        if entry.1 == 1 {
            let _ = self.events.send(proto::SubscriptionEvent {
                subscription: Some(subscription),
                closed: false,
            });
        }
        Active {
            broker: self.clone(),
            id,
        }
    }

    /// The active subscriptions and the announcements that follow them, taken together.
    pub(crate) fn listen(
        &self,
    ) -> (
        Vec<proto::Subscription>,
        broadcast::Receiver<proto::SubscriptionEvent>,
    ) {
        let inner = self.inner();
        let active = inner.active.values().map(|(s, _)| s.clone()).collect();
        (active, self.events.subscribe())
    }

    /// Sends what nodes publish for subscription `id` to `tx` until the guard drops.
    pub(crate) fn route(self: &Arc<Self>, id: &str, tx: mpsc::Sender<Published>) -> Route {
        self.inner().routes.insert(id.to_owned(), tx);
        Route {
            broker: self.clone(),
            id: id.to_owned(),
        }
    }

    /// Where the nodes' messages for subscription `id` go, if this manager owns it.
    pub(crate) fn destination(&self, id: &str) -> Option<mpsc::Sender<Published>> {
        self.inner().routes.get(id).cloned()
    }
}

impl Drop for Active {
    fn drop(&mut self) {
        let mut inner = self.broker.inner();
        let Some(entry) = inner.active.get_mut(&self.id) else {
            return;
        };
        entry.1 -= 1;
        if entry.1 > 0 {
            return;
        }
        if let Some((subscription, _)) = inner.active.remove(&self.id) {
            let _ = self.broker.events.send(proto::SubscriptionEvent {
                subscription: Some(subscription),
                closed: true,
            });
        }
    }
}

impl Drop for Route {
    fn drop(&mut self) {
        self.broker.inner().routes.remove(&self.id);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn subscription(id: &str) -> proto::Subscription {
        proto::Subscription {
            id: id.to_owned(),
            ..Default::default()
        }
    }

    #[test]
    fn listeners_see_the_active_set_then_openings_and_closings() {
        let broker = Broker::new();
        let first = broker.open(subscription("a"));
        let (active, mut events) = broker.listen();
        assert_eq!(active, [subscription("a")]);
        let second = broker.open(subscription("b"));
        let again = broker.open(subscription("b"));
        drop(second);
        drop(again);
        drop(first);
        let seen: Vec<(String, bool)> = std::iter::from_fn(|| events.try_recv().ok())
            .map(|e| (e.subscription.unwrap_or_default().id, e.closed))
            .collect();
        assert_eq!(
            seen,
            [
                ("b".to_owned(), false),
                ("b".to_owned(), true),
                ("a".to_owned(), true)
            ]
        );
        assert!(broker.listen().0.is_empty());
    }

    #[test]
    fn routes_last_as_long_as_their_guard() {
        let broker = Broker::new();
        let (tx, _rx) = mpsc::channel(1);
        let route = broker.route("a", tx);
        assert!(broker.destination("a").is_some());
        assert!(broker.destination("b").is_none());
        drop(route);
        assert!(broker.destination("a").is_none());
    }
}
