//! cgroup resource limits of a container, in Docker's units.

use serde::{Deserialize, Serialize};

use super::SpecError;

/// Resource limits; `None` leaves the kernel default (unlimited).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Resources {
    /// Memory limit in bytes.
    pub memory: Option<i64>,
    /// Memory plus swap limit in bytes; `-1` means unlimited swap.
    pub memory_swap: Option<i64>,
    /// Relative CPU weight in Docker's shares (2..=262144, 1024 is the default).
    pub cpu_shares: Option<u64>,
    /// CFS quota in microseconds per period.
    pub cpu_quota: Option<i64>,
    /// CFS period in microseconds (100000 by default).
    pub cpu_period: Option<u64>,
    /// CPUs the container may run on (cpuset syntax, e.g. `0-1`).
    pub cpuset_cpus: Option<String>,
    /// Memory nodes the container may use (cpuset syntax).
    pub cpuset_mems: Option<String>,
    /// Maximum number of processes (`-1` or `None` = unlimited).
    pub pids_limit: Option<i64>,
}

/// The default CFS period in microseconds.
pub const DEFAULT_CPU_PERIOD: u64 = 100_000;

impl Resources {
    /// Sets quota and period from a fractional number of CPUs (`--cpus 1.5`).
    pub fn with_cpus(mut self, cpus: f64) -> Self {
        self.cpu_period = Some(DEFAULT_CPU_PERIOD);
        // Rounded to whole microseconds, as the kernel takes them.
        self.cpu_quota = Some((cpus * DEFAULT_CPU_PERIOD as f64).round() as i64);
        self
    }

    /// Checks the limits for contradictions.
    pub fn validate(&self) -> Result<(), SpecError> {
        if let (Some(memory), Some(swap)) = (self.memory, self.memory_swap)
            && swap != -1
            && swap < memory
        {
            return Err(SpecError::SwapBelowMemory { memory, swap });
        }
        Ok(())
    }

    /// cgroup v2 `cpu.weight` for Docker shares (the conversion runc and crun use).
    pub fn cpu_weight(&self) -> Option<u64> {
        self.cpu_shares.map(|s| {
            let s = s.clamp(2, 262_144);
            1 + ((s - 2) * 9999) / 262_142
        })
    }

    /// cgroup v2 `memory.swap.max` value: swap alone, derived from memory+swap.
    pub fn swap_only(&self) -> Option<i64> {
        match (self.memory, self.memory_swap) {
            (_, Some(-1)) => Some(-1),
            (Some(memory), Some(swap)) => Some(swap - memory),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conversions() {
        let r = Resources {
            cpu_shares: Some(1024),
            ..Resources::default()
        };
        assert_eq!(r.cpu_weight(), Some(39));
        let r = Resources {
            cpu_shares: Some(2),
            ..Resources::default()
        };
        assert_eq!(r.cpu_weight(), Some(1));
        let r = Resources {
            cpu_shares: Some(262_144),
            ..Resources::default()
        };
        assert_eq!(r.cpu_weight(), Some(10_000));
        let r = Resources::default().with_cpus(0.5);
        assert_eq!((r.cpu_quota, r.cpu_period), (Some(50_000), Some(100_000)));
        let r = Resources {
            memory: Some(100),
            memory_swap: Some(300),
            ..Resources::default()
        };
        assert_eq!(r.swap_only(), Some(200));
        assert_eq!(r.validate(), Ok(()));
        let r = Resources {
            memory: Some(300),
            memory_swap: Some(100),
            ..Resources::default()
        };
        assert_eq!(
            r.validate(),
            Err(SpecError::SwapBelowMemory {
                memory: 300,
                swap: 100
            })
        );
    }
}
