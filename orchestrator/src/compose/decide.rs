//! What `up` does with each container of a service: keep it, start it, restart it, recreate
//! it (and why), create it, or remove it on scale-down.

use std::collections::BTreeSet;

use compose_spec::model::{Service, VolumeType};

use crate::compose::diff::differences;
use crate::compose::labels;
use crate::compose::observed::{ContainerState, MountSource, Observed, ObservedContainer};

/// The fate of one container of a service.
#[derive(Debug, Clone, PartialEq)]
pub enum Decision<'o> {
    /// Up to date and up: nothing to do.
    Keep(&'o ObservedContainer),
    /// Up to date but not running: start it.
    Start(&'o ObservedContainer),
    /// Up to date and running, but a dependency is recreated and says `restart: true`.
    Restart(&'o ObservedContainer, String),
    /// Diverged: replace it, for these reasons.
    Recreate(&'o ObservedContainer, Vec<String>),
    /// Missing: create container `number`.
    Create(u32),
    /// Beyond the wanted scale: remove it.
    Remove(&'o ObservedContainer),
}

/// How willing the planner is to recreate a service's containers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RecreatePolicy {
    /// Only when diverged.
    Diverged,
    /// Always, with this reason.
    Force(&'static str),
    /// Never.
    Never,
}

/// What the planner knows about a service when deciding its containers' fate.
#[derive(Debug, Clone)]
pub struct ServiceContext<'a> {
    /// The service definition.
    pub service: &'a Service,
    /// Its config hash.
    pub hash: &'a str,
    /// Its image reference.
    pub image: &'a str,
    /// The containers wanted.
    pub scale: u64,
    /// The recreate policy.
    pub policy: RecreatePolicy,
    /// Engine names of its networks that are missing (to be created).
    pub missing_networks: Vec<String>,
    /// Engine names of its networks.
    pub networks: Vec<String>,
    /// Engine names of its named volumes that are missing (to be created).
    pub missing_volumes: Vec<String>,
    /// Its named volumes' mounts: (path in the container, the volume's engine name).
    pub volume_mounts: Vec<(String, String)>,
    /// Set when a dependency with `restart: true` is recreated: the reason to restart.
    pub restart_reason: Option<String>,
    /// Why its containers go for networks and volumes that are replaced (definition changed),
    /// empty when none is.
    pub replaced: Vec<String>,
}

/// The decisions for a service's existing containers (sorted by number) and the new ones.
pub fn decide<'o>(
    context: &ServiceContext<'_>,
    existing: &[&'o ObservedContainer],
    observed: &Observed,
) -> Vec<Decision<'o>> {
    let mut sorted: Vec<&'o ObservedContainer> = existing.to_vec();
    sorted.sort_by_key(|c| (c.number().unwrap_or(u32::MAX), c.name.clone()));
    let wanted = usize::try_from(context.scale).unwrap_or(usize::MAX);
    let mut decisions = Vec::new();
    let mut removes = Vec::new();
    let mut used = BTreeSet::new();
    for container in &sorted {
        let fresh_number = container.number().is_some_and(|n| used.insert(n));
        if decisions.len() >= wanted || !fresh_number {
            removes.push(Decision::Remove(container));
        } else {
            decisions.push(decide_one(context, container, observed));
        }
    }
    let mut next = sorted.iter().filter_map(|c| c.number()).max().unwrap_or(0);
    while decisions.len() < wanted {
        next += 1;
        decisions.push(Decision::Create(next));
    }
    // Scale-down removes the highest numbers first.
    removes.reverse();
    decisions.append(&mut removes);
    decisions
}

fn decide_one<'o>(
    context: &ServiceContext<'_>,
    container: &'o ObservedContainer,
    observed: &Observed,
) -> Decision<'o> {
    let reasons = match context.policy {
        RecreatePolicy::Never => Vec::new(),
        RecreatePolicy::Force(why) => vec![why.to_string()],
        RecreatePolicy::Diverged => divergences(context, container, observed),
    };
    if !reasons.is_empty() {
        return Decision::Recreate(container, reasons);
    }
    if container.status.state == ContainerState::Dead && context.policy != RecreatePolicy::Never {
        return Decision::Recreate(container, vec!["container is dead".to_string()]);
    }
    if !container.status.state.is_up() {
        return Decision::Start(container);
    }
    match &context.restart_reason {
        Some(why) => Decision::Restart(container, why.clone()),
        None => Decision::Keep(container),
    }
}

/// Why a container no longer matches its service, in a fixed order: config, image, networks,
/// volumes. Empty when it matches.
pub fn divergences(
    context: &ServiceContext<'_>,
    container: &ObservedContainer,
    observed: &Observed,
) -> Vec<String> {
    let mut reasons = Vec::new();
    if container.config_hash() != Some(context.hash) {
        let desired = labels::service_config(context.service);
        let fields = match container.recorded_config() {
            Some(recorded) if recorded == desired => {
                vec!["contents of configs or secrets changed".to_string()]
            }
            Some(recorded) => differences(&recorded, &desired),
            None => Vec::new(),
        };
        if fields.is_empty() {
            reasons.push("config hash changed".to_string());
        } else {
            reasons.push(format!("config hash changed: {}", fields.join("; ")));
        }
    }
    match observed.images.get(context.image) {
        // A changed image reference is already explained by the config change.
        None if container.image == context.image => {
            reasons.push(format!("image {} not present locally", context.image));
        }
        None => {}
        Some(local) => {
            if let Some(used) = &container.image_digest
                && used != local
            {
                reasons.push(format!(
                    "image digest changed: {} → {}",
                    short_digest(used),
                    short_digest(local)
                ));
            }
        }
    }
    for network in &context.missing_networks {
        reasons.push(format!("network {network} missing"));
    }
    for network in &context.networks {
        if !context.missing_networks.contains(network) && !container.networks.contains(network) {
            reasons.push(format!("not attached to network {network}"));
        }
    }
    for volume in &context.missing_volumes {
        reasons.push(format!("volume {volume} missing"));
    }
    reasons.extend(context.replaced.iter().cloned());
    // A volume switched under the same key (an external volume named by a variable).
    for (target, wanted) in &context.volume_mounts {
        let mounted = container.mounts.iter().find_map(|m| match &m.source {
            MountSource::Volume {
                name,
                anonymous: false,
            } if m.destination == *target => Some(name),
            _ => None,
        });
        if let Some(mounted) = mounted
            && mounted != wanted
            && !context.missing_volumes.contains(wanted)
        {
            reasons.push(format!("volume at {target} changed: {mounted} → {wanted}"));
        }
    }
    reasons
}

/// `sha256:0123456789ab` for a long digest.
pub fn short_digest(digest: &str) -> String {
    match digest.split_once(':') {
        Some((algorithm, hex)) => format!("{algorithm}:{}", hex.get(..12).unwrap_or(hex)),
        None => digest.get(..12).unwrap_or(digest).to_string(),
    }
}

/// The container paths of a service's anonymous volumes.
pub fn anonymous_targets(service: &Service) -> BTreeSet<&str> {
    service
        .volumes
        .iter()
        .filter(|v| v.kind == VolumeType::Volume && v.source.is_none())
        .map(|v| v.target.as_str())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digests_are_shortened() {
        assert_eq!(
            short_digest("sha256:0123456789abcdef0123"),
            "sha256:0123456789ab"
        );
        assert_eq!(short_digest("abc"), "abc");
    }
}
