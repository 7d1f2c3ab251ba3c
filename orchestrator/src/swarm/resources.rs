//! CPU and memory amounts: what a node reports, what a service reserves and limits, and how the
//! scheduler's reasons print them (`2GiB`, `1.5 CPUs`).

use std::fmt;

use serde::{Deserialize, Serialize};

/// One CPU in nano-CPUs.
pub const NANO_CPUS_PER_CPU: u64 = 1_000_000_000;

/// An amount of CPU and memory.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct Resources {
    /// CPU in billionths of a CPU.
    pub nano_cpus: u64,
    /// Memory in bytes.
    pub memory_bytes: u64,
}

impl Resources {
    /// No CPU and no memory.
    pub const ZERO: Resources = Resources {
        nano_cpus: 0,
        memory_bytes: 0,
    };

    /// The sum of both amounts, saturating.
    pub fn plus(self, other: Resources) -> Resources {
        Resources {
            nano_cpus: self.nano_cpus.saturating_add(other.nano_cpus),
            memory_bytes: self.memory_bytes.saturating_add(other.memory_bytes),
        }
    }

    /// What is left of `self` after `used`, saturating at zero.
    pub fn minus(self, used: Resources) -> Resources {
        Resources {
            nano_cpus: self.nano_cpus.saturating_sub(used.nano_cpus),
            memory_bytes: self.memory_bytes.saturating_sub(used.memory_bytes),
        }
    }

    /// Whether both amounts of `self` are at least those of `wanted`.
    pub fn covers(self, wanted: Resources) -> bool {
        self.nano_cpus >= wanted.nano_cpus && self.memory_bytes >= wanted.memory_bytes
    }

    /// Whether both amounts are zero.
    pub fn is_zero(self) -> bool {
        self == Resources::ZERO
    }
}

/// What a service's containers may use at most and what the scheduler sets aside for each.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct ResourceRequirements {
    /// Enforced on the node (cgroup limits); zero means unlimited.
    pub limits: Resources,
    /// Set aside on the chosen node for each task; the scheduler never over-commits these.
    pub reservations: Resources,
}

/// Prints a byte count in binary units, as short as exact: `2GiB`, `512MiB`, `1.5GiB`, `100B`.
#[derive(Debug, Clone, Copy)]
pub struct Bytes(pub u64);

impl fmt::Display for Bytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        const UNITS: [&str; 5] = ["KiB", "MiB", "GiB", "TiB", "PiB"];
        if self.0 < 1024 {
            return write!(f, "{}B", self.0);
        }
        let mut unit = 1024u64;
        let mut index = 0;
        while index + 1 < UNITS.len() && self.0 / unit >= 1024 {
            unit *= 1024;
            index += 1;
        }
        let whole = self.0 / unit;
        // Two decimals at most, without trailing zeros.
        let hundredths = (self.0 % unit) * 100 / unit;
        if hundredths == 0 {
            write!(f, "{whole}{}", UNITS[index])
        } else if hundredths % 10 == 0 {
            write!(f, "{whole}.{}{}", hundredths / 10, UNITS[index])
        } else {
            write!(f, "{whole}.{hundredths:02}{}", UNITS[index])
        }
    }
}

/// Prints nano-CPUs as CPUs: `1 CPU`, `0.5 CPUs`, `2 CPUs`.
#[derive(Debug, Clone, Copy)]
pub struct Cpus(pub u64);

impl fmt::Display for Cpus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let whole = self.0 / NANO_CPUS_PER_CPU;
        let thousandths = (self.0 % NANO_CPUS_PER_CPU) / 1_000_000;
        if thousandths == 0 {
            let plural = if whole == 1 { "" } else { "s" };
            return write!(f, "{whole} CPU{plural}");
        }
        let mut fraction = format!("{thousandths:03}");
        while fraction.ends_with('0') {
            fraction.pop();
        }
        write!(f, "{whole}.{fraction} CPUs")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bytes_print_in_binary_units() {
        assert_eq!(Bytes(2 << 30).to_string(), "2GiB");
        assert_eq!(Bytes(512 << 20).to_string(), "512MiB");
        assert_eq!(Bytes(3 << 29).to_string(), "1.5GiB");
        assert_eq!(Bytes(100).to_string(), "100B");
        assert_eq!(Bytes(1024 + 256).to_string(), "1.25KiB");
    }

    #[test]
    fn cpus_print_as_decimal_cpus() {
        assert_eq!(Cpus(NANO_CPUS_PER_CPU).to_string(), "1 CPU");
        assert_eq!(Cpus(NANO_CPUS_PER_CPU / 2).to_string(), "0.5 CPUs");
        assert_eq!(
            Cpus(2 * NANO_CPUS_PER_CPU + 250_000_000).to_string(),
            "2.25 CPUs"
        );
    }

    #[test]
    fn arithmetic_saturates_and_covers() {
        let node = Resources {
            nano_cpus: 2,
            memory_bytes: 10,
        };
        let used = Resources {
            nano_cpus: 3,
            memory_bytes: 4,
        };
        assert_eq!(
            node.minus(used),
            Resources {
                nano_cpus: 0,
                memory_bytes: 6
            }
        );
        assert!(node.covers(Resources::ZERO));
        assert!(!node.covers(used));
        assert_eq!(node.plus(used).memory_bytes, 14);
    }
}
