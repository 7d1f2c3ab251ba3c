//! cpuset lists (`0-3,6`): parsing them and the CPUs this host lets a container use.

use std::collections::BTreeSet;

/// The CPUs of a cpuset list such as `0-3,6`; `None` when the text is not one.
pub(super) fn parse_list(text: &str) -> Option<BTreeSet<usize>> {
    let mut cpus = BTreeSet::new();
    for part in text.split(',') {
        let (first, last) = match part.split_once('-') {
            Some((a, b)) => (number(a)?, number(b)?),
            None => (number(part)?, number(part)?),
        };
        // The kernel's own bound on CPU numbers keeps a hostile range from allocating much.
        if first > last || last >= 8192 {
            return None;
        }
        cpus.extend(first..=last);
    }
    Some(cpus)
}

fn number(text: &str) -> Option<usize> {
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse().ok()
}

/// The set in the kernel's list form (`0-3,6`).
pub(super) fn format_list(cpus: &BTreeSet<usize>) -> String {
    let mut ranges: Vec<(usize, usize)> = Vec::new();
    for &cpu in cpus {
        match ranges.last_mut() {
            Some((_, last)) if *last + 1 == cpu => *last = cpu,
            _ => ranges.push((cpu, cpu)),
        }
    }
    ranges
        .iter()
        .map(|&(a, b)| {
            if a == b {
                a.to_string()
            } else {
                format!("{a}-{b}")
            }
        })
        .collect::<Vec<_>>()
        .join(",")
}

/// The CPUs this process may run on (its affinity mask), as Go's `runtime.NumCPU` counts them;
/// all CPUs the kernel knows of when the mask cannot be read.
pub(super) fn host_cpus() -> BTreeSet<usize> {
    use nix::sched::{CpuSet, sched_getaffinity};
    use nix::unistd::Pid;
    match sched_getaffinity(Pid::from_raw(0)) {
        Ok(set) => (0..CpuSet::count())
            .filter(|&cpu| set.is_set(cpu).unwrap_or(false))
            .collect(),
        Err(_) => (0..std::thread::available_parallelism().map_or(1, |n| n.get())).collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists() {
        let set = |v: &[usize]| v.iter().copied().collect::<BTreeSet<_>>();
        assert_eq!(parse_list("0"), Some(set(&[0])));
        assert_eq!(parse_list("0-2,5"), Some(set(&[0, 1, 2, 5])));
        for bad in ["", "a", "1-", "-1", "3-1", "0,,1", "0-99999", " 1"] {
            assert_eq!(parse_list(bad), None, "{bad:?}");
        }
        assert_eq!(format_list(&set(&[0, 1, 2, 5, 7, 8])), "0-2,5,7-8");
        assert!(!host_cpus().is_empty());
    }
}
