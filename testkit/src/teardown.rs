//! Teardown shared by the end-to-end tests that start a real agent: what a test's agent made
//! in the kernel (networks with their bridges and nftables table, mounts under its data root,
//! cgroups) goes with the test, even when the test failed half-way. Call it after the agent
//! stopped.

#![allow(dead_code)]

use std::path::Path;

/// Removes every network recorded under `data_root` (the default `bridge` included, with the
/// data root's nftables table), unmounts what is still mounted below `data_root`, and removes
/// the cgroup parent `cgroup_parent` with every empty group below it in every hierarchy.
pub fn after_agent(data_root: &Path, cgroup_parent: &str) {
    remove_networks(data_root);
    unmount_below(data_root);
    remove_cgroups(cgroup_parent);
}

/// Removes the networks recorded under `data_root`, detaching their endpoints first.
fn remove_networks(data_root: &Path) {
    let Ok(networks) = engine::network::Networks::new(data_root) else {
        return;
    };
    for net in networks.list().unwrap_or_default() {
        for id in net.endpoints.keys() {
            let _ = networks.detach(&net.id, id);
        }
        let _ = networks.remove(&net.id);
    }
}

/// Lazily unmounts every mount point at or below `dir`, deepest first.
pub fn unmount_below(dir: &Path) {
    let Ok(info) = std::fs::read_to_string("/proc/self/mountinfo") else {
        return;
    };
    let mut points: Vec<&str> = info
        .lines()
        .filter_map(|line| line.split(' ').nth(4))
        .filter(|point| Path::new(point).starts_with(dir))
        .collect();
    points.sort_by_key(|p| std::cmp::Reverse(p.len()));
    for point in points {
        let _ = nix::mount::umount2(point, nix::mount::MntFlags::MNT_DETACH);
    }
}

/// Removes the cgroup parent and the empty groups below it from every hierarchy.
pub fn remove_cgroups(parent: &str) {
    fn remove_tree(dir: &Path) {
        if let Ok(entries) = std::fs::read_dir(dir) {
            for entry in entries.flatten() {
                if entry.file_type().is_ok_and(|t| t.is_dir()) {
                    remove_tree(&entry.path());
                }
            }
        }
        let _ = std::fs::remove_dir(dir);
    }
    if let Ok(hierarchies) = std::fs::read_dir("/sys/fs/cgroup") {
        for hierarchy in hierarchies.flatten() {
            remove_tree(&hierarchy.path().join(parent));
        }
    }
    remove_tree(&Path::new("/sys/fs/cgroup").join(parent));
}
