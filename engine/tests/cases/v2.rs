//! The runtime on a pure cgroup v2 layout, over this host's (controller-less) unified
//! hierarchy: tracking, exec, freezing and killing need no controller.

use std::path::PathBuf;
use std::time::Duration;

use engine::cgroups::Layout;
use engine::{ContainerState, ExecSpec};

use super::TestResult;
use crate::support::Env;

pub(crate) fn container_lifecycle_on_v2() -> TestResult {
    let unified = PathBuf::from("/sys/fs/cgroup/unified");
    if !unified.join("cgroup.procs").exists() {
        return Err("no unified hierarchy at /sys/fs/cgroup/unified".into());
    }
    let env = Env::with_layout(Layout::V2 {
        unified: unified.clone(),
    });
    let script = "grep ^0:: /proc/self/cgroup; grep cgroup2 /proc/self/mountinfo | wc -l; sleep 30";
    let record = env.start("c1", &env.spec(script));
    let dir = unified.join(&env.parent).join("c1");
    let procs = std::fs::read_to_string(dir.join("cgroup.procs"))?;
    let init = record.pid.ok_or("no pid")?.to_string();
    assert!(procs.lines().any(|p| p == init), "{procs}");
    let out = env.runtime.exec(
        "c1",
        &ExecSpec::new(["grep", "^0::", "/proc/self/cgroup"]),
        Some(Duration::from_secs(10)),
    )?;
    assert_eq!(
        String::from_utf8(out.stdout)?,
        "0::/\n",
        "exec joined the group"
    );
    env.runtime.pause("c1")?;
    assert_eq!(
        std::fs::read_to_string(dir.join("cgroup.freeze"))?.trim(),
        "1"
    );
    env.runtime.unpause("c1")?;
    let state = env.runtime.stop("c1", Some(Duration::from_millis(200)))?;
    assert_eq!(
        state,
        ContainerState::Exited {
            code: 137,
            oom_killed: false
        }
    );
    assert_eq!(
        env.stdout("c1"),
        "0::/\n1\n",
        "own cgroup namespace, cgroup2 mounted"
    );
    env.runtime.remove("c1", false)?;
    assert!(!dir.exists(), "the group was removed");
    Ok(())
}
