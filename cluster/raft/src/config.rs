//! Configuration of a raft node: timing in logical ticks and log compaction.

use std::time::Duration;

/// Settings of one [`super::RaftNode`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeConfig {
    /// This node's raft id (never 0, never reused).
    pub id: u64,
    /// Ticks without a leader before an election starts (~1 s at the default tick).
    pub election_ticks: usize,
    /// Ticks between leader heartbeats (~100 ms at the default tick).
    pub heartbeat_ticks: usize,
    /// Wall-clock length of one tick, used by whoever drives [`super::RaftNode::tick`].
    pub tick_interval: Duration,
    /// Whether the election timeout is drawn at random in `[election_ticks, 2 * election_ticks)`
    /// (production) or fixed at `election_ticks` (deterministic simulation, where each node is
    /// given a distinct value instead).
    pub randomized_election: bool,
    /// Applied entries beyond the last compaction point that trigger a log compaction.
    pub snapshot_interval: u64,
    /// Entries kept behind the applied index at compaction, so slightly slow followers catch
    /// up from the log rather than from a snapshot.
    pub catchup_entries: u64,
    /// Upper bound on the entries' size in one append message.
    pub max_size_per_msg: u64,
    /// Append messages in flight per follower.
    pub max_inflight_msgs: usize,
    /// Whether every applied entry is also reported as an [`super::Event::Applied`] (for
    /// checkers and watchers).
    pub observe_applied: bool,
}

impl NodeConfig {
    /// Defaults for node `id`: 20 ms ticks, election after 50 ticks (1 s), a heartbeat every
    /// 5 ticks (100 ms), compaction every 10,000 entries keeping 500. The fine tick gives the
    /// randomized election timeout 50 distinct values in [1 s, 2 s) instead of 10, so two
    /// followers rarely time out together and split the vote (which costs another timeout).
    pub fn new(id: u64) -> Self {
        NodeConfig {
            id,
            election_ticks: 50,
            heartbeat_ticks: 5,
            tick_interval: Duration::from_millis(20),
            randomized_election: true,
            snapshot_interval: 10_000,
            catchup_entries: 500,
            max_size_per_msg: 1024 * 1024,
            max_inflight_msgs: 256,
            observe_applied: false,
        }
    }

    /// These settings with the election timeout and heartbeat interval given in wall-clock
    /// time, rounded to whole ticks: the heartbeat must be at least one tick and the election
    /// timeout at least three heartbeats (followers must not time out between two beats).
    pub fn with_timing(mut self, election: Duration, heartbeat: Duration) -> Result<Self, String> {
        let ticks = |d: Duration| (d.as_nanos() / self.tick_interval.as_nanos().max(1)) as usize;
        let (election_ticks, heartbeat_ticks) = (ticks(election), ticks(heartbeat));
        if heartbeat_ticks == 0 {
            return Err(format!(
                "heartbeat interval {heartbeat:?} is shorter than one raft tick ({:?})",
                self.tick_interval
            ));
        }
        if election_ticks < 3 * heartbeat_ticks {
            return Err(format!(
                "election timeout {election:?} must be at least three heartbeat intervals ({heartbeat:?})"
            ));
        }
        self.election_ticks = election_ticks;
        self.heartbeat_ticks = heartbeat_ticks;
        Ok(self)
    }

    /// The raft-rs configuration, with check_quorum and pre_vote on, resuming at `applied`.
    pub(crate) fn to_raft(&self, applied: u64) -> raft::Config {
        let mut config = raft::Config::new(self.id);
        config.election_tick = self.election_ticks;
        config.heartbeat_tick = self.heartbeat_ticks;
        config.check_quorum = true;
        config.pre_vote = true;
        config.applied = applied;
        config.max_size_per_msg = self.max_size_per_msg;
        config.max_inflight_msgs = self.max_inflight_msgs;
        if !self.randomized_election {
            config.min_election_tick = self.election_ticks;
            config.max_election_tick = self.election_ticks + 1;
        }
        config
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_one_second_elections_and_100ms_heartbeats() {
        let config = NodeConfig::new(1);
        assert_eq!(
            config.tick_interval * config.election_ticks as u32,
            Duration::from_secs(1)
        );
        assert_eq!(
            config.tick_interval * config.heartbeat_ticks as u32,
            Duration::from_millis(100)
        );
        let raft = config.to_raft(0);
        assert!(raft.check_quorum && raft.pre_vote);
        raft.validate().unwrap();
    }

    #[test]
    fn timing_in_wall_clock_time() {
        let ms = Duration::from_millis;
        let config = NodeConfig::new(1).with_timing(ms(3000), ms(200)).unwrap();
        assert_eq!((config.election_ticks, config.heartbeat_ticks), (150, 10));
        config.to_raft(0).validate().unwrap();
        let cases = [
            (ms(1000), ms(5), "shorter than one raft tick"),
            (ms(250), ms(100), "at least three heartbeat intervals"),
        ];
        for (election, heartbeat, want) in cases {
            let err = NodeConfig::new(1)
                .with_timing(election, heartbeat)
                .unwrap_err();
            assert!(err.contains(want), "{err}");
        }
    }

    #[test]
    fn fixed_election_timeout_is_still_a_valid_raft_config() {
        let mut config = NodeConfig::new(2);
        config.randomized_election = false;
        config.election_ticks = 7;
        let raft = config.to_raft(5);
        raft.validate().unwrap();
        assert_eq!((raft.min_election_tick(), raft.max_election_tick()), (7, 8));
        assert_eq!(raft.applied, 5);
    }
}
