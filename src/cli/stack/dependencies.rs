//! Waiting for a dependency before a stack service is created (`depends_on` at first
//! deploy): `service_started` and `service_healthy` wait until the dependency's tasks run
//! (a node reports a task with a healthcheck running only once it is healthy, so both wait
//! for health when the dependency has a healthcheck); `service_completed_successfully` waits
//! until its tasks have completed, and fails once one of them failed with no restart left.

use std::time::Duration;

use anyhow::bail;
use cluster_manager::services::ServicesClient;
use cluster_manager::services::proto::{DesiredStateFilter, ListTasksRequest};
use compose_spec::model::DependsOnCondition;
use orchestrator::stack::Dependency;
use orchestrator::swarm::{RestartCondition, TaskState};

use crate::cli::service::wait;

/// Time between two looks at a dependency that must complete.
const POLL: Duration = Duration::from_millis(300);

/// Waits until `dependency` of `dependent` meets its condition.
pub(super) async fn wait(
    client: &ServicesClient,
    dependent: &str,
    dependency: &Dependency,
) -> anyhow::Result<()> {
    let name = &dependency.service;
    println!(
        "Service {dependent} waits for {name} ({})",
        dependency.condition.as_str()
    );
    match dependency.condition {
        DependsOnCondition::ServiceStarted | DependsOnCondition::ServiceHealthy => {
            wait::converge(client, name).await
        }
        DependsOnCondition::ServiceCompletedSuccessfully => completed(client, name).await,
    }
}

/// Waits until every task `service` wants has completed.
async fn completed(client: &ServicesClient, service: &str) -> anyhow::Result<()> {
    loop {
        let info = client.inspect(service).await?;
        if info.desired > 0 && info.completed >= info.desired {
            println!("verify: Service {service} completed");
            return Ok(());
        }
        let spec = &info.record.service.spec;
        if spec.restart_policy.condition == RestartCondition::None {
            let list = client
                .tasks(ListTasksRequest {
                    service: service.to_owned(),
                    node: String::new(),
                    desired_state: DesiredStateFilter::DesiredAny as i32,
                })
                .await?;
            if let Some(failed) = list.tasks.iter().map(|t| &t.task).find(|t| {
                t.spec_version == info.record.service.spec_version
                    && matches!(t.status.state, TaskState::Failed | TaskState::Rejected)
            }) {
                bail!(
                    "service {service} did not complete successfully: {}",
                    failed.status.message
                );
            }
        }
        tokio::time::sleep(POLL).await;
    }
}
