//! What a builder process that died left behind: the containers, rootfs mounts and records,
//! and temporary directories of its steps, all named after its pid (`build-<pid>-<n>`). A new
//! builder removes those of processes that no longer run.

use std::path::Path;

use engine::Runtime;

/// The pid in a `build-<pid>-<n>` name, or in a `<pid>-<n>` temporary directory name.
fn owner_pid(name: &str) -> Option<i32> {
    let rest = name.strip_prefix("build-").unwrap_or(name);
    rest.split('-').next()?.parse().ok()
}

fn dead(pid: i32) -> bool {
    pid != std::process::id() as i32 && !Path::new(&format!("/proc/{pid}")).exists()
}

/// Removes the leftovers of dead builder processes; failures are logged, never fatal.
pub(crate) fn sweep(runtime: &Runtime, data_root: &Path) {
    let store = runtime.images();
    for id in runtime.list().unwrap_or_default() {
        if id.starts_with("build-")
            && owner_pid(&id).is_some_and(dead)
            && let Err(err) = runtime.remove(&id, true)
        {
            tracing::warn!(container = id, cause = %err, "cannot remove a stale build container");
        }
    }
    let work = data_root.join("build").join("work");
    let mut owners: Vec<String> = store
        .rootfs_owners()
        .unwrap_or_default()
        .into_iter()
        .filter(|o| o.starts_with("build-"))
        .collect();
    if let Ok(entries) = std::fs::read_dir(&work) {
        owners.extend(
            entries
                .flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned()),
        );
    }
    owners.sort();
    owners.dedup();
    for owner in owners {
        if owner_pid(&owner).is_some_and(dead)
            && let Err(err) = store.remove_rootfs(&owner, &work.join(&owner))
        {
            tracing::warn!(owner, cause = %err, "cannot remove a stale build rootfs");
        }
    }
    let tmp = data_root.join("build").join("tmp");
    if let Ok(entries) = std::fs::read_dir(&tmp) {
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            if owner_pid(&name).is_some_and(dead) {
                let _ = std::fs::remove_dir_all(entry.path());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pids_from_names() {
        assert_eq!(owner_pid("build-123-4"), Some(123));
        assert_eq!(owner_pid("123-4"), Some(123));
        assert_eq!(owner_pid("c1"), None);
        assert!(!dead(std::process::id() as i32));
    }
}
