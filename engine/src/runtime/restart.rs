//! Restarting containers: `restart` (stop if needed, then run again with the same spec, logs
//! and restart bookkeeping), and the restart policy applied to an exited container.

use std::time::Duration;

use super::{Runtime, conflict};
use crate::cgroups::CgroupManager;
use crate::restart::{Decision, ExitInfo, decide};
use crate::state::ContainerState;

impl Runtime {
    /// Stops the container if it runs, then starts it again: a new shim and init with the same
    /// spec, appending to the same logs. Returns once the new entrypoint is released.
    pub fn restart(&self, id: &str, grace: Option<Duration>) -> crate::Result<()> {
        if self.state(id)?.state.is_alive() {
            self.stop(id, grace)?;
        }
        self.recreate(id)?;
        self.start(id)
    }

    /// Decides, by the container's restart policy, whether the exited container `id` is to be
    /// restarted, and records the bookkeeping (restart count, backoff). The caller waits the
    /// returned delay, then calls [`Runtime::restart`].
    pub fn restart_decision(&self, id: &str) -> crate::Result<Decision> {
        let policy = self.spec(id)?.restart;
        // Most exits change no bookkeeping (policy `no`): nothing is written then.
        Ok(self.store(id)?.update_if_changed(|rec| {
            let ContainerState::Exited { code, .. } = rec.state else {
                return Ok(Decision::Stay);
            };
            let ran_for = Duration::from_nanos(
                rec.finished_at
                    .unwrap_or(0)
                    .saturating_sub(rec.started_at.unwrap_or(u64::MAX)),
            );
            let exit = ExitInfo {
                code,
                ran_for,
                manually_stopped: rec.manually_stopped,
            };
            Ok(decide(policy, &mut rec.restart, exit))
        })?)
    }

    /// Sets an exited container up again as `created`, keeping its restart bookkeeping.
    fn recreate(&self, id: &str) -> crate::Result<()> {
        let store = self.store(id)?;
        let old = store.load()?;
        if old.state.is_alive() {
            return Err(conflict(id, old.state, "recreate"));
        }
        let spec = self.spec(id)?;
        self.cgroup(id).remove()?;
        let run_dir = self.run_dir(id);
        let _ = std::fs::remove_dir_all(&run_dir);
        super::create::create_private_dir(&run_dir)?;
        self.release_network(id)?;
        self.prepare_rootfs(id, &spec)?;
        self.spawn_shim(id, &spec)?;
        store.update(|rec| {
            rec.restart = old.restart;
            Ok(())
        })?;
        Ok(())
    }
}
