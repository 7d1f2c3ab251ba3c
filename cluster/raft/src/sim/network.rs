//! A simulated network: messages are delayed, dropped, duplicated, and cut by partitions,
//! all decided by the simulation's seeded random generator.

use std::collections::{BTreeMap, BTreeSet};

use raft::eraftpb::Message;

/// Fault rates of the simulated network.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Faults {
    /// Probability that a message is lost.
    pub drop_rate: f64,
    /// Probability that a message is delivered twice.
    pub duplicate_rate: f64,
    /// Largest delivery delay, in ticks (the smallest is one).
    pub max_delay: u64,
}

impl Faults {
    /// A network that delivers everything after one tick.
    pub fn none() -> Self {
        Faults {
            drop_rate: 0.0,
            duplicate_rate: 0.0,
            max_delay: 1,
        }
    }
}

/// What became of a sent message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fate {
    /// Queued for delivery.
    Queued,
    /// Lost (dropped, or cut by a partition).
    Lost,
}

/// Messages in flight, ordered by delivery time then send order.
#[derive(Debug, Default)]
pub struct Network {
    queue: BTreeMap<(u64, u64), Message>,
    seq: u64,
    /// When set, only nodes on the same side of this set can talk.
    partition: Option<BTreeSet<u64>>,
}

impl Network {
    /// An empty network without partition.
    pub fn new() -> Self {
        Network::default()
    }

    /// Cuts the network between `side` and every other node.
    pub fn partition(&mut self, side: BTreeSet<u64>) {
        self.partition = Some(side);
    }

    /// Removes the partition.
    pub fn heal(&mut self) {
        self.partition = None;
    }

    /// Whether a partition is in place.
    pub fn is_partitioned(&self) -> bool {
        self.partition.is_some()
    }

    /// Whether `a` and `b` can currently talk.
    pub fn connected(&self, a: u64, b: u64) -> bool {
        match &self.partition {
            Some(side) => side.contains(&a) == side.contains(&b),
            None => true,
        }
    }

    /// Sends a message at time `now`, applying the faults.
    pub fn send(
        &mut self,
        rng: &mut fastrand::Rng,
        faults: &Faults,
        now: u64,
        message: Message,
    ) -> Fate {
        if !self.connected(message.from, message.to) || rng.f64() < faults.drop_rate {
            return Fate::Lost;
        }
        let copies = if rng.f64() < faults.duplicate_rate {
            2
        } else {
            1
        };
        for _ in 0..copies {
            let at = now + rng.u64(1..=faults.max_delay.max(1));
            self.seq += 1;
            self.queue.insert((at, self.seq), message.clone());
        }
        Fate::Queued
    }

    /// Takes every message due at or before `now`, in delivery order, each with its fate:
    /// messages across a partition that appeared while they were in flight are lost.
    pub fn due(&mut self, now: u64) -> Vec<(Message, Fate)> {
        let later = self.queue.split_off(&(now + 1, 0));
        let due = std::mem::replace(&mut self.queue, later);
        due.into_values()
            .map(|m| {
                let fate = if self.connected(m.from, m.to) {
                    Fate::Queued
                } else {
                    Fate::Lost
                };
                (m, fate)
            })
            .collect()
    }

    /// Messages still in flight.
    pub fn in_flight(&self) -> usize {
        self.queue.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn msg(from: u64, to: u64) -> Message {
        Message {
            from,
            to,
            ..Message::default()
        }
    }

    #[test]
    fn partition_cuts_both_ways_and_heals() {
        let mut net = Network::new();
        let mut rng = fastrand::Rng::with_seed(1);
        net.partition([1].into_iter().collect());
        assert_eq!(
            net.send(&mut rng, &Faults::none(), 0, msg(1, 2)),
            Fate::Lost
        );
        assert_eq!(
            net.send(&mut rng, &Faults::none(), 0, msg(3, 1)),
            Fate::Lost
        );
        assert_eq!(
            net.send(&mut rng, &Faults::none(), 0, msg(2, 3)),
            Fate::Queued
        );
        net.heal();
        assert_eq!(
            net.send(&mut rng, &Faults::none(), 0, msg(1, 2)),
            Fate::Queued
        );
        net.partition([3].into_iter().collect());
        assert_eq!(net.due(0).len(), 0);
        let fates: Vec<Fate> = net.due(1).into_iter().map(|(_, fate)| fate).collect();
        assert_eq!(
            fates,
            vec![Fate::Lost, Fate::Queued],
            "2->3 is cut while in flight"
        );
    }

    #[test]
    fn delays_stay_within_bounds_and_duplicates_arrive_twice() {
        let mut net = Network::new();
        let mut rng = fastrand::Rng::with_seed(7);
        let faults = Faults {
            drop_rate: 0.0,
            duplicate_rate: 1.0,
            max_delay: 3,
        };
        net.send(&mut rng, &faults, 10, msg(1, 2));
        assert_eq!(net.in_flight(), 2);
        assert!(net.due(10).is_empty());
        assert_eq!(net.due(13).len(), 2);
    }
}
