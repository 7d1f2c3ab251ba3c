//! A container's network traffic, as `docker stats` shows it: the byte counters of the
//! interfaces of its network namespace, read from `/proc/<pid>/net/dev`.

use std::os::unix::fs::MetadataExt;

/// Bytes received and sent by the interfaces of process `pid`'s network namespace, the
/// loopback left out; `(0, 0)` when it shares this process's namespace (the host's network)
/// or cannot be read (the process is gone).
pub(super) fn net_bytes(pid: i32) -> (u64, u64) {
    let namespace = |path: &str| std::fs::metadata(path).map(|m| (m.dev(), m.ino())).ok();
    let theirs = namespace(&format!("/proc/{pid}/ns/net"));
    if theirs.is_none() || theirs == namespace("/proc/self/ns/net") {
        return (0, 0);
    }
    std::fs::read_to_string(format!("/proc/{pid}/net/dev"))
        .map(|text| dev_bytes(&text))
        .unwrap_or((0, 0))
}

/// Received and sent bytes summed over the interfaces of a `net/dev` table, `lo` left out.
fn dev_bytes(text: &str) -> (u64, u64) {
    let (mut rx, mut tx) = (0u64, 0u64);
    for line in text.lines() {
        let Some((name, counters)) = line.split_once(':') else {
            continue;
        };
        if name.trim() == "lo" {
            continue;
        }
        let fields: Vec<u64> = counters
            .split_whitespace()
            .map(|f| f.parse().unwrap_or(0))
            .collect();
        // Eight receive counters, then the transmit ones.
        if let (Some(r), Some(t)) = (fields.first(), fields.get(8)) {
            rx = rx.saturating_add(*r);
            tx = tx.saturating_add(*t);
        }
    }
    (rx, tx)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn interfaces_but_the_loopback_are_summed() {
        let text = "\
Inter-|   Receive                                                |  Transmit
 face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed
    lo:     840      10    0    0    0     0          0         0      840      10    0    0    0     0       0          0
  eth0:    1500      12    0    0    0     0          0         0      700       6    0    0    0     0       0          0
  eth1:     100       1    0    0    0     0          0         0       50       1    0    0    0     0       0          0
";
        assert_eq!(dev_bytes(text), (1600, 750));
        assert_eq!(dev_bytes(""), (0, 0));
    }

    #[test]
    fn the_hosts_namespace_counts_nothing() {
        assert_eq!(net_bytes(std::process::id() as i32), (0, 0));
    }
}
