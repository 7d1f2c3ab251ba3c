//! The update and rollback knobs of `service create` and `service update`
//! (`--update-*`, `--rollback-*`), passed as typed; the manager decodes them.

use clap::Args;
use cluster_manager::services::proto;

/// `--update-*`.
#[derive(Debug, Clone, Default, Args)]
pub(crate) struct UpdateKnobs {
    /// Tasks updated at the same time (0 = all; default 1).
    #[arg(long)]
    pub update_parallelism: Option<u64>,
    /// Wait between two tasks updated (10s, 1m).
    #[arg(long, default_value = "")]
    pub update_delay: String,
    /// stop-first (default) or start-first.
    #[arg(long, default_value = "")]
    pub update_order: String,
    /// On failure: pause (default), continue or rollback.
    #[arg(long, default_value = "")]
    pub update_failure_action: String,
    /// How long a new task must run (and be healthy) to count as updated (default 5s).
    #[arg(long, default_value = "")]
    pub update_monitor: String,
    /// Share of failed tasks tolerated, 0 to 1 (default 0).
    #[arg(long, default_value = "")]
    pub update_max_failure_ratio: String,
    /// A task not updated this long after its step started counts as failed (default 5m).
    #[arg(long, default_value = "")]
    pub update_deadline: String,
}

/// `--rollback-*`.
#[derive(Debug, Clone, Default, Args)]
pub(crate) struct RollbackKnobs {
    /// Tasks rolled back at the same time (0 = all; default 1).
    #[arg(long)]
    pub rollback_parallelism: Option<u64>,
    /// Wait between two tasks rolled back.
    #[arg(long, default_value = "")]
    pub rollback_delay: String,
    /// stop-first (default) or start-first.
    #[arg(long, default_value = "")]
    pub rollback_order: String,
    /// On failure: pause (default) or continue (a rollback is never rolled back).
    #[arg(long, default_value = "")]
    pub rollback_failure_action: String,
    /// How long a task must run (and be healthy) to count as rolled back (default 5s).
    #[arg(long, default_value = "")]
    pub rollback_monitor: String,
    /// Share of failed tasks tolerated, 0 to 1 (default 0).
    #[arg(long, default_value = "")]
    pub rollback_max_failure_ratio: String,
    /// A task not rolled back this long after its step started counts as failed (default 5m).
    #[arg(long, default_value = "")]
    pub rollback_deadline: String,
}

fn request(parallelism: Option<u64>, texts: [&str; 6]) -> Option<proto::UpdateConfigRequest> {
    let [delay, order, failure_action, monitor, ratio, deadline] = texts;
    let wire = proto::UpdateConfigRequest {
        parallelism: parallelism.map(|value| proto::Count { value }),
        delay: delay.to_owned(),
        order: order.to_owned(),
        failure_action: failure_action.to_owned(),
        monitor: monitor.to_owned(),
        max_failure_ratio: ratio.to_owned(),
        deadline: deadline.to_owned(),
    };
    (wire != proto::UpdateConfigRequest::default()).then_some(wire)
}

impl UpdateKnobs {
    /// The knobs set, if any.
    pub(crate) fn request(&self) -> Option<proto::UpdateConfigRequest> {
        request(
            self.update_parallelism,
            [
                &self.update_delay,
                &self.update_order,
                &self.update_failure_action,
                &self.update_monitor,
                &self.update_max_failure_ratio,
                &self.update_deadline,
            ],
        )
    }
}

impl RollbackKnobs {
    /// The knobs set, if any.
    pub(crate) fn request(&self) -> Option<proto::UpdateConfigRequest> {
        request(
            self.rollback_parallelism,
            [
                &self.rollback_delay,
                &self.rollback_order,
                &self.rollback_failure_action,
                &self.rollback_monitor,
                &self.rollback_max_failure_ratio,
                &self.rollback_deadline,
            ],
        )
    }
}
