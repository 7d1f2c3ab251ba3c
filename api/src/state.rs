//! The container state and health on the wire, with the names docker shows for them.

use crate::agent::{ContainerState, ContainerSummary, Health};

impl ContainerState {
    /// Docker's name of the state (`created`, `running`, `paused`, `exited`), as shown in
    /// tables, `--format json` and `status=` filters; `unknown` for an agent that sent none.
    pub fn docker_name(self) -> &'static str {
        match self {
            ContainerState::Unspecified => "unknown",
            ContainerState::Created => "created",
            ContainerState::Running => "running",
            ContainerState::Paused => "paused",
            ContainerState::Exited => "exited",
        }
    }

    /// The state a docker name stands for (the `status=` filter's values), if any.
    pub fn from_docker_name(name: &str) -> Option<Self> {
        [
            ContainerState::Created,
            ContainerState::Running,
            ContainerState::Paused,
            ContainerState::Exited,
        ]
        .into_iter()
        .find(|s| s.docker_name() == name)
    }

    /// Whether the container's processes exist (running or paused).
    pub fn is_alive(self) -> bool {
        matches!(self, ContainerState::Running | ContainerState::Paused)
    }

    /// Whether the container is stopped (created and never started, or exited).
    pub fn is_stopped(self) -> bool {
        matches!(self, ContainerState::Created | ContainerState::Exited)
    }
}

impl Health {
    /// Docker's name of the health status (`starting`, `healthy`, `unhealthy`), empty without
    /// a healthcheck.
    pub fn docker_name(self) -> &'static str {
        match self {
            Health::None => "",
            Health::Starting => "starting",
            Health::Healthy => "healthy",
            Health::Unhealthy => "unhealthy",
        }
    }

    /// The health a docker name stands for (`health=` filter values); `None` for any other.
    pub fn from_docker_name(name: &str) -> Self {
        [Health::Starting, Health::Healthy, Health::Unhealthy]
            .into_iter()
            .find(|h| h.docker_name() == name)
            .unwrap_or(Health::None)
    }
}

impl ContainerSummary {
    /// Whether the container runs (running or paused).
    pub fn is_alive(&self) -> bool {
        self.state().is_alive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn docker_names_round_trip() {
        for state in [
            ContainerState::Created,
            ContainerState::Running,
            ContainerState::Paused,
            ContainerState::Exited,
        ] {
            assert_eq!(
                ContainerState::from_docker_name(state.docker_name()),
                Some(state)
            );
        }
        assert_eq!(ContainerState::from_docker_name("dead"), None);
        assert!(ContainerState::Paused.is_alive());
        assert!(!ContainerState::Created.is_alive());
        assert!(ContainerState::Created.is_stopped());
    }
}
