//! The reading side of `bosun stack` and `stack rm`: a stack is the services (and networks)
//! whose `com.docker.stack.namespace` label names it (the services API lists every service
//! and network; the stack's are picked here).

use std::collections::BTreeMap;

use anyhow::bail;
use cluster_manager::services::ServicesClient;
use cluster_manager::services::client::{NetworkInfo, ServiceInfo, TaskList};
use cluster_manager::services::proto;
use orchestrator::stack::stack_of;

use crate::cli::container::table;
use crate::cli::service::task_filter;

/// The services of `stack`, by name; an error when it has none.
pub(super) async fn services_of(
    client: &ServicesClient,
    stack: &str,
) -> anyhow::Result<Vec<ServiceInfo>> {
    let services: Vec<ServiceInfo> = client
        .list()
        .await?
        .into_iter()
        .filter(|s| stack_of(&s.record.service.spec.labels) == Some(stack))
        .collect();
    if services.is_empty() {
        bail!("nothing found in stack: {stack}");
    }
    Ok(services)
}

/// The tasks of every service of `stack`, filtered as `service ps` filters.
pub(super) async fn tasks_of(
    client: &ServicesClient,
    stack: &str,
    filters: &[String],
) -> anyhow::Result<TaskList> {
    let mut all = TaskList::default();
    for service in services_of(client, stack).await? {
        let request = task_filter(
            filters,
            proto::ListTasksRequest {
                service: service.record.meta.id.clone(),
                ..proto::ListTasksRequest::default()
            },
        )?;
        let list = client.tasks(request).await?;
        all.tasks.extend(list.tasks);
        all.node_names.extend(list.node_names);
        all.service_names.extend(list.service_names);
    }
    Ok(all)
}

/// Removes every service of `stack`, then its networks, printing each; a stack with neither
/// is said so. Named volumes stay on the nodes.
pub(super) async fn remove(client: &ServicesClient, stack: &str) -> anyhow::Result<()> {
    let services: Vec<ServiceInfo> = client
        .list()
        .await?
        .into_iter()
        .filter(|s| stack_of(&s.record.service.spec.labels) == Some(stack))
        .collect();
    let networks: Vec<NetworkInfo> = client
        .networks()
        .await?
        .into_iter()
        .filter(|n| stack_of(&n.record.meta.labels) == Some(stack))
        .collect();
    if services.is_empty() && networks.is_empty() {
        eprintln!("Nothing found in stack: {stack}");
        return Ok(());
    }
    for service in services {
        println!("Removing service {}", service.record.service.name);
        client.remove(&service.record.meta.id).await?;
    }
    for network in networks {
        println!("Removing network {}", network.record.name);
        client.remove_network(&network.record.meta.id).await?;
    }
    super::secrets::remove_unused(client, stack).await
}

/// Stack names with their service counts, by name.
pub(super) fn stacks(services: &[ServiceInfo]) -> BTreeMap<String, usize> {
    let mut stacks = BTreeMap::new();
    for service in services {
        if let Some(stack) = stack_of(&service.record.service.spec.labels) {
            *stacks.entry(stack.to_owned()).or_insert(0) += 1;
        }
    }
    stacks
}

/// Prints `stack ls`.
pub(super) fn print_stacks(services: &[ServiceInfo], format: &str) {
    let stacks = stacks(services);
    if format == "json" {
        for (name, count) in &stacks {
            let line = serde_json::json!({"Name": name, "Services": count.to_string()});
            println!("{line}");
        }
        return;
    }
    let rows: Vec<Vec<String>> = stacks
        .iter()
        .map(|(name, count)| vec![name.clone(), count.to_string()])
        .collect();
    print!("{}", table::render(&["NAME", "SERVICES"], &rows));
}

#[cfg(test)]
mod tests {
    use super::*;
    use orchestrator::stack::NAMESPACE_LABEL;
    use orchestrator::swarm::{Service, ServiceId, ServiceSpec, Timestamp};

    fn info(name: &str, stack: Option<&str>) -> ServiceInfo {
        let mut spec = ServiceSpec {
            image: "nginx".into(),
            ..ServiceSpec::default()
        };
        if let Some(stack) = stack {
            spec.labels.insert(NAMESPACE_LABEL.into(), stack.into());
        }
        let service = Service::new(ServiceId::from(name), name, spec, Timestamp(0));
        ServiceInfo {
            record: cluster_state::Service::new(service),
            running: 0,
            desired: 1,
            completed: 0,
        }
    }

    #[test]
    fn stacks_count_their_labelled_services_only() {
        let services = [
            info("shop_web", Some("shop")),
            info("shop_db", Some("shop")),
            info("blog_web", Some("blog")),
            info("loose", None),
        ];
        assert_eq!(
            stacks(&services).into_iter().collect::<Vec<_>>(),
            [("blog".to_owned(), 1), ("shop".to_owned(), 2)]
        );
    }
}
