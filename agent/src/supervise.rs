//! The node's supervisor: one task per started container that runs its healthchecks (on a
//! blocking thread, for as long as the run lasts), waits for it to exit, and then removes it
//! (auto-remove) or applies its restart policy (with the engine's backoff). When the agent
//! starts, it takes over every container again and brings back those whose policy says so.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use engine::ContainerState;
use engine::restart::{Decision, start_on_agent_start};

use super::AgentError;
use super::node::{Node, blocking};
use super::summary::has_check;

/// What the agent does with a container it finds when it starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Takeover {
    /// It runs: supervise it.
    Supervise,
    /// It exited and is to be removed.
    Remove,
    /// It exited and its policy brings it back.
    Restart,
    /// Leave it as it is.
    Leave,
}

fn takeover(
    record: &engine::StateRecord,
    spec: &engine::ContainerSpec,
    auto_remove: bool,
) -> Takeover {
    match record.state {
        ContainerState::Running | ContainerState::Paused => Takeover::Supervise,
        ContainerState::Exited { .. } if auto_remove => Takeover::Remove,
        ContainerState::Exited { .. }
            if start_on_agent_start(spec.restart, record.manually_stopped) =>
        {
            Takeover::Restart
        }
        _ => Takeover::Leave,
    }
}

impl Node {
    /// Takes over every container when the agent starts: live ones are supervised, exited
    /// auto-remove ones removed, and exited ones whose restart policy asks for it (`always`,
    /// `unless-stopped` not stopped by hand) started again. Needs a tokio runtime.
    pub fn supervise_all(self: &Arc<Self>) {
        for id in self.ids() {
            let node = Arc::clone(self);
            tokio::spawn(async move {
                if let Err(err) = node.take_over(&id).await {
                    tracing::warn!(container = %id, cause = %err, "take over failed");
                }
            });
        }
    }

    async fn take_over(self: &Arc<Self>, id: &str) -> Result<(), AgentError> {
        let auto_remove = self.meta(id)?.auto_remove;
        let runtime = self.runtime().clone();
        let i = id.to_string();
        let action = blocking(move || {
            let record = runtime.state(&i)?;
            if !record.state.is_alive() {
                // It exited while no agent watched: its addresses and ports go back.
                runtime.release_network(&i)?;
            }
            Ok(takeover(&record, &runtime.spec(&i)?, auto_remove))
        })
        .await?;
        match action {
            Takeover::Supervise => self.supervise(id.to_string()),
            Takeover::Remove => self.remove_id(id, false, true).await?,
            Takeover::Restart => {
                let runtime = self.runtime().clone();
                let i = id.to_string();
                blocking(move || Ok(runtime.restart(&i, None)?)).await?;
                tracing::info!(container = %id, "started by its restart policy");
                self.supervise(id.to_string());
            }
            Takeover::Leave => {}
        }
        Ok(())
    }

    /// Supervises the started container `id` unless a supervisor already does.
    pub(super) fn supervise(self: &Arc<Self>, id: String) {
        if !self.supervised().insert(id.clone()) {
            return;
        }
        let node = Arc::clone(self);
        tokio::spawn(async move {
            loop {
                match node.supervise_run(&id).await {
                    Ok(true) => continue,
                    Ok(false) => {}
                    Err(err) => tracing::warn!(container = %id, cause = %err, "supervision failed"),
                }
                if !node.leave(&id).await {
                    return;
                }
            }
        });
    }

    /// Supervises one run; `true` when the container was restarted.
    async fn supervise_run(self: &Arc<Self>, id: &str) -> Result<bool, AgentError> {
        let runtime = self.runtime().clone();
        let i = id.to_string();
        // The run this supervision watches, known by its init's pid.
        let (checked, watched_pid) =
            blocking(move || Ok((has_check(&runtime.spec(&i)?), runtime.state(&i)?.pid))).await?;
        let stop = Arc::new(AtomicBool::new(false));
        if checked {
            let (runtime, i, stop) = (self.runtime().clone(), id.to_string(), Arc::clone(&stop));
            tokio::task::spawn_blocking(move || {
                if let Err(err) = runtime.run_healthchecks(&i, &stop) {
                    tracing::warn!(container = %i, cause = %err, "healthchecks stopped");
                }
            });
        }
        let waited = self.wait_id(id).await;
        stop.store(true, Ordering::Relaxed);
        waited?;
        let (runtime, i) = (self.runtime().clone(), id.to_string());
        // Only the exited run's endpoints go back: when the container was started again
        // meanwhile (a restart), its new run has a new pid and its endpoints stay.
        let release = move || {
            let record = runtime.state(&i)?;
            if !record.state.is_alive() && record.pid == watched_pid {
                runtime.release_network(&i)?;
            }
            Ok(())
        };
        if let Err(err) = blocking(release).await {
            tracing::warn!(container = %id, cause = %err, "cannot release the networks");
        }
        if self.meta(id)?.auto_remove {
            self.remove_id(id, false, true).await?;
            tracing::info!(container = %id, "auto-removed");
            return Ok(false);
        }
        let runtime = self.runtime().clone();
        let i = id.to_string();
        let decision = blocking(move || Ok(runtime.restart_decision(&i)?)).await?;
        let Decision::RestartAfter(delay) = decision else {
            return Ok(false);
        };
        tokio::time::sleep(delay).await;
        let runtime = self.runtime().clone();
        let i = id.to_string();
        let restarted = blocking(move || {
            // Someone may have started or removed it meanwhile.
            match runtime.state(&i) {
                Ok(rec) if matches!(rec.state, ContainerState::Exited { .. }) => {
                    runtime.restart(&i, None)?;
                    Ok(true)
                }
                _ => Ok(false),
            }
        })
        .await?;
        if restarted {
            tracing::info!(container = %id, after = ?delay, "restarted by its restart policy");
        }
        Ok(restarted)
    }

    /// Ends the supervision of `id` unless the container runs again (started by hand while
    /// the supervisor decided); `true` when the supervisor is to go on.
    async fn leave(self: &Arc<Self>, id: &str) -> bool {
        let node = Arc::clone(self);
        let i = id.to_string();
        blocking(move || {
            let mut supervised = node.supervised();
            let alive = node
                .runtime()
                .state(&i)
                .is_ok_and(|rec| rec.state.is_alive());
            if !alive {
                supervised.remove(&i);
            }
            Ok(alive)
        })
        .await
        .unwrap_or_else(|err| {
            tracing::warn!(container = %id, cause = %err, "supervision ended");
            self.supervised().remove(id);
            false
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use engine::restart::RestartPolicy;

    #[test]
    fn takeover_table() {
        let exited = ContainerState::Exited {
            code: 1,
            oom_killed: false,
        };
        // (state, policy, stopped by hand, auto-remove, want)
        let cases = [
            (
                ContainerState::Running,
                RestartPolicy::No,
                false,
                false,
                Takeover::Supervise,
            ),
            (
                ContainerState::Paused,
                RestartPolicy::No,
                false,
                true,
                Takeover::Supervise,
            ),
            (
                ContainerState::Created,
                RestartPolicy::Always,
                false,
                false,
                Takeover::Leave,
            ),
            (exited, RestartPolicy::No, false, true, Takeover::Remove),
            (exited, RestartPolicy::No, false, false, Takeover::Leave),
            (
                exited,
                RestartPolicy::Always,
                true,
                false,
                Takeover::Restart,
            ),
            (
                exited,
                RestartPolicy::UnlessStopped,
                false,
                false,
                Takeover::Restart,
            ),
            (
                exited,
                RestartPolicy::UnlessStopped,
                true,
                false,
                Takeover::Leave,
            ),
            (
                exited,
                RestartPolicy::OnFailure { max_retries: None },
                false,
                false,
                Takeover::Leave,
            ),
        ];
        for (state, policy, manual, auto_remove, want) in cases {
            let mut spec = engine::ContainerSpec::new("/r", ["sh"]);
            spec.restart = policy;
            let record = engine::StateRecord {
                id: "c".into(),
                state,
                pid: None,
                shim_pid: None,
                created_at: 0,
                started_at: None,
                finished_at: None,
                health: None,
                manually_stopped: manual,
                restart: Default::default(),
            };
            assert_eq!(
                takeover(&record, &spec, auto_remove),
                want,
                "{state:?} {policy:?} {manual} {auto_remove}"
            );
        }
    }
}
