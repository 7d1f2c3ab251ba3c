//! cgroup resource limits of a container, in Docker's units.

use serde::{Deserialize, Serialize};

use std::collections::BTreeSet;

use super::cpuset;

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
pub(crate) const DEFAULT_CPU_PERIOD: u64 = 100_000;

/// The smallest memory limit (and reservation) Docker allows: 6 MiB, enough for a container's
/// setup to run; below it the setup itself is killed.
pub(crate) const MIN_MEMORY: i64 = 6 << 20;

/// The largest `pids.max` the kernel takes (`PID_MAX_LIMIT` on 64-bit).
pub(crate) const MAX_PIDS: i64 = 4 << 20;

/// The smallest CFS quota the kernel takes, in microseconds (1 ms, i.e. 0.01 CPUs of the
/// default period).
pub(super) const MIN_CPU_QUOTA: i64 = 1_000;

/// Limits the kernel would refuse with a raw write error, or silently misapply; the messages
/// are Docker's, so they can be looked up.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum LimitError {
    /// The memory limit is below [`MIN_MEMORY`] (or negative).
    #[error("Minimum memory limit allowed is 6MB (memory limit given: {0} bytes)")]
    MemoryTooSmall(i64),
    /// The memory+swap limit is below the memory limit.
    #[error(
        "Minimum memoryswap limit should be larger than memory limit, see usage \
         (memory {memory}, memory+swap {swap})"
    )]
    SwapBelowMemory {
        /// The memory limit in bytes.
        memory: i64,
        /// The memory+swap limit in bytes.
        swap: i64,
    },
    /// A memory+swap limit without a memory limit.
    #[error("You should always set the Memory limit when using Memoryswap limit, see usage")]
    SwapWithoutMemory,
    /// A memory+swap limit that is neither a size nor `-1`.
    #[error(
        "invalid memory+swap limit {0}: expected a size of at least the memory limit, or -1 for unlimited swap"
    )]
    BadSwap(i64),
    /// A CPU count outside what this host has.
    #[error("Range of CPUs is from 0.01 to {0}.00, as there are only {0} CPUs available")]
    CpusOutOfRange(usize),
    /// A CFS period outside 1 ms ..= 1 s.
    #[error(
        "CPU cfs period can not be less than 1ms (i.e. 1000) or larger than 1s (i.e. 1000000) \
         (given {0})"
    )]
    BadCpuPeriod(u64),
    /// A pids limit above what the kernel takes.
    #[error("invalid pids limit {0}: the kernel allows at most 4194304 (use -1 for unlimited)")]
    PidsTooLarge(i64),
    /// A cpuset list that does not parse.
    #[error("Invalid value {0} for cpuset cpus: expected a list such as 0-3,6")]
    BadCpuset(String),
    /// A cpuset naming CPUs this host does not offer.
    #[error("Requested CPUs are not available - requested {requested}, available: {available}")]
    CpusetUnavailable {
        /// The list as given.
        requested: String,
        /// The host's CPUs as a list.
        available: String,
    },
}

impl Resources {
    /// Sets quota and period from a fractional number of CPUs (`--cpus 1.5`).
    pub fn with_cpus(mut self, cpus: f64) -> Self {
        self.cpu_period = Some(DEFAULT_CPU_PERIOD);
        // Rounded to whole microseconds, as the kernel takes them.
        self.cpu_quota = Some((cpus * DEFAULT_CPU_PERIOD as f64).round() as i64);
        self
    }

    /// Checks the limits with Docker's rules against the CPUs this host offers.
    pub fn validate(&self) -> Result<(), LimitError> {
        self.validate_on(&cpuset::host_cpus())
    }

    /// Checks the limits with Docker's rules, for a host whose usable CPUs are `host_cpus`.
    pub(crate) fn validate_on(&self, host_cpus: &BTreeSet<usize>) -> Result<(), LimitError> {
        if let Some(memory) = self.memory
            && memory < MIN_MEMORY
        {
            return Err(LimitError::MemoryTooSmall(memory));
        }
        match (self.memory, self.memory_swap) {
            (_, Some(swap)) if swap < -1 || swap == 0 => return Err(LimitError::BadSwap(swap)),
            (None, Some(swap)) if swap > 0 => return Err(LimitError::SwapWithoutMemory),
            (Some(memory), Some(swap)) if swap > 0 && swap < memory => {
                return Err(LimitError::SwapBelowMemory { memory, swap });
            }
            _ => {}
        }
        if let Some(period) = self.cpu_period
            && !(1_000..=1_000_000).contains(&period)
        {
            return Err(LimitError::BadCpuPeriod(period));
        }
        if let Some(quota) = self.cpu_quota {
            let period = self.cpu_period.unwrap_or(DEFAULT_CPU_PERIOD);
            let available = host_cpus.len().max(1);
            let most = i128::from(period) * available as i128;
            if quota < MIN_CPU_QUOTA || i128::from(quota) > most {
                return Err(LimitError::CpusOutOfRange(available));
            }
        }
        if let Some(pids) = self.pids_limit
            && pids > MAX_PIDS
        {
            return Err(LimitError::PidsTooLarge(pids));
        }
        if let Some(list) = &self.cpuset_cpus {
            let wanted =
                cpuset::parse_list(list).ok_or_else(|| LimitError::BadCpuset(list.clone()))?;
            if !wanted.is_subset(host_cpus) {
                return Err(LimitError::CpusetUnavailable {
                    requested: list.clone(),
                    available: cpuset::format_list(host_cpus),
                });
            }
        }
        Ok(())
    }

    /// cgroup v2 `cpu.weight` for Docker shares (the conversion runc and crun use).
    pub(crate) fn cpu_weight(&self) -> Option<u64> {
        self.cpu_shares.map(|s| {
            let s = s.clamp(2, 262_144);
            1 + ((s - 2) * 9999) / 262_142
        })
    }

    /// cgroup v2 `memory.swap.max` value: swap alone, derived from memory+swap.
    pub(crate) fn swap_only(&self) -> Option<i64> {
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
    }

    #[test]
    fn docker_bounds() {
        let two: BTreeSet<usize> = [0, 1].into();
        let mem = |m: i64| Resources {
            memory: Some(m),
            ..Resources::default()
        };
        let swap = |m: Option<i64>, s: i64| Resources {
            memory: m,
            memory_swap: Some(s),
            ..Resources::default()
        };
        let cpus = |c: f64| Resources::default().with_cpus(c);
        let pids = |p: i64| Resources {
            pids_limit: Some(p),
            ..Resources::default()
        };
        let cpuset = |c: &str| Resources {
            cpuset_cpus: Some(c.into()),
            ..Resources::default()
        };
        let cases: Vec<(Resources, Result<(), LimitError>)> = vec![
            (Resources::default(), Ok(())),
            (mem(MIN_MEMORY), Ok(())),
            (mem(1), Err(LimitError::MemoryTooSmall(1))),
            (
                mem(MIN_MEMORY - 1),
                Err(LimitError::MemoryTooSmall(MIN_MEMORY - 1)),
            ),
            (mem(-5), Err(LimitError::MemoryTooSmall(-5))),
            (swap(Some(MIN_MEMORY), -1), Ok(())),
            (swap(Some(MIN_MEMORY), 2 * MIN_MEMORY), Ok(())),
            (
                swap(Some(2 * MIN_MEMORY), MIN_MEMORY),
                Err(LimitError::SwapBelowMemory {
                    memory: 2 * MIN_MEMORY,
                    swap: MIN_MEMORY,
                }),
            ),
            (swap(None, MIN_MEMORY), Err(LimitError::SwapWithoutMemory)),
            (swap(None, -1), Ok(())),
            (swap(Some(MIN_MEMORY), -5), Err(LimitError::BadSwap(-5))),
            (cpus(0.01), Ok(())),
            (cpus(2.0), Ok(())),
            (cpus(0.009), Err(LimitError::CpusOutOfRange(2))),
            (cpus(0.000_000_1), Err(LimitError::CpusOutOfRange(2))),
            (cpus(2.01), Err(LimitError::CpusOutOfRange(2))),
            (cpus(1e9), Err(LimitError::CpusOutOfRange(2))),
            (
                Resources {
                    cpu_period: Some(10),
                    ..Resources::default()
                },
                Err(LimitError::BadCpuPeriod(10)),
            ),
            (pids(-1), Ok(())),
            (pids(MAX_PIDS), Ok(())),
            (
                pids(MAX_PIDS + 1),
                Err(LimitError::PidsTooLarge(MAX_PIDS + 1)),
            ),
            (cpuset("0-1"), Ok(())),
            (cpuset("x"), Err(LimitError::BadCpuset("x".into()))),
            (
                cpuset("0,5"),
                Err(LimitError::CpusetUnavailable {
                    requested: "0,5".into(),
                    available: "0-1".into(),
                }),
            ),
        ];
        for (r, want) in cases {
            assert_eq!(r.validate_on(&two), want, "{r:?}");
        }
    }
}
