//! Running a container's healthcheck: one probe through exec, recorded in the state record
//! (status, failing streak, last outputs) with a `health_status` event on every change.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use super::{ExecSpec, Runtime};
use crate::events::Action;
use crate::health::{Health, HealthConfig, HealthStatus, ProbeResult, cut_output};
use crate::state::now_nanos;

impl Runtime {
    /// The container's healthcheck, when it has one that runs.
    fn healthcheck(&self, id: &str) -> crate::Result<Option<(HealthConfig, Vec<String>)>> {
        Ok(self
            .spec(id)?
            .healthcheck
            .and_then(|h| h.test.argv().map(|argv| (h, argv))))
    }

    testing_pub! {
        /// Runs one probe and records it; returns the status afterwards (`None`: no check).
        fn probe_health(&self, id: &str) -> crate::Result<Option<HealthStatus>> {
            let Some((config, argv)) = self.healthcheck(id)? else {
                return Ok(None);
            };
            let start = now_nanos();
            let (exit_code, output) = match self.exec(id, &ExecSpec::new(argv), Some(config.timeout)) {
                Ok(out) if out.timed_out => (
                    -1,
                    format!(
                        "Health check exceeded timeout ({})",
                        humantime::format_duration(config.timeout)
                    ),
                ),
                Ok(out) => {
                    let mut text = String::from_utf8_lossy(&out.stdout).into_owned();
                    text.push_str(&String::from_utf8_lossy(&out.stderr));
                    (out.code, text)
                }
                Err(e) => (-1, e.to_string()),
            };
            let probe = ProbeResult {
                start,
                end: now_nanos(),
                exit_code,
                output: cut_output(output),
            };
            let (changed, status) = self.store(id)?.update(|rec| {
                let started = rec.started_at.unwrap_or(rec.created_at);
                let health = rec.health.get_or_insert_with(Health::default);
                let changed = health.record(&config, started, probe);
                Ok((changed, health.status))
            })?;
            if let Some(status) = changed {
                self.events.emit_or_warn(
                    &self.event(id, Action::HealthStatus).with("health_status", status.name()),
                );
            }
            Ok(Some(status))
        }
    }

    /// How long to wait before the next probe (`None`: no check).
    pub(crate) fn next_probe_delay(&self, id: &str) -> crate::Result<Option<Duration>> {
        let Some((config, _)) = self.healthcheck(id)? else {
            return Ok(None);
        };
        let rec = self.state(id)?;
        let health = rec.health.unwrap_or_default();
        let started = rec.started_at.unwrap_or(rec.created_at);
        Ok(Some(health.next_delay(&config, started, now_nanos())))
    }

    /// Probes the container on its schedule until it stops running or `stop` is set; an agent
    /// runs this on one thread per container with a check.
    pub fn run_healthchecks(&self, id: &str, stop: &AtomicBool) -> crate::Result<()> {
        while let Some(delay) = self.next_probe_delay(id)? {
            let due = Instant::now() + delay;
            while Instant::now() < due {
                if stop.load(Ordering::Relaxed) || !self.state(id)?.state.is_alive() {
                    return Ok(());
                }
                std::thread::sleep(Duration::from_millis(20).min(delay));
            }
            if self.state(id)?.state != crate::ContainerState::Running {
                if !self.state(id)?.state.is_alive() {
                    return Ok(());
                }
                // Paused: no probe, try again later.
                continue;
            }
            self.probe_health(id)?;
        }
        Ok(())
    }
}
