//! `service update` as a typed change ([`ServiceUpdate`], decoded from the request) and its
//! effect on a service: a new spec, and a new spec version starting a rolling update when
//! more than the replica count and the update knobs changed or the update is forced; or a
//! request to the update under way (pause, resume, cancel, rollback).

// Public only to the simulation (the `testing` feature).
#![cfg_attr(not(feature = "testing"), allow(unreachable_pub))]

use std::collections::BTreeMap;
use std::time::Duration;

use orchestrator::swarm::update::request;
use orchestrator::swarm::{
    Constraint, EndpointMode, FileKind, FileReference, Mode, NetworkAttachmentConfig, ServiceSpec,
    Timestamp,
};

use super::decode::{self, Knobs, SpecError, mode_name};
use super::proto;

/// What to do to the update under way instead of changing the spec.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UpdateAction {
    /// `--pause`.
    Pause,
    /// `--resume`.
    Resume,
    /// `--cancel`.
    Cancel,
    /// `service rollback`.
    Rollback,
}

impl UpdateAction {
    fn decode(wire: i32) -> Result<Option<Self>, SpecError> {
        use proto::UpdateAction as W;
        match W::from_i32(wire) {
            Some(W::None) => Ok(None),
            Some(W::Pause) => Ok(Some(UpdateAction::Pause)),
            Some(W::Resume) => Ok(Some(UpdateAction::Resume)),
            Some(W::Cancel) => Ok(Some(UpdateAction::Cancel)),
            Some(W::Rollback) => Ok(Some(UpdateAction::Rollback)),
            None => Err(decode::invalid(
                "update action",
                &wire.to_string(),
                "unknown",
            )),
        }
    }
}

/// A change to a service.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ServiceUpdate {
    /// New replica count (replicated) or total completions (replicated job).
    pub replicas: Option<u64>,
    /// New max concurrent tasks (replicated job).
    pub max_concurrent: Option<u64>,
    /// New image.
    pub image: Option<String>,
    /// Variables set.
    pub env_add: BTreeMap<String, String>,
    /// Variables removed.
    pub env_rm: Vec<String>,
    /// Service labels set.
    pub label_add: BTreeMap<String, String>,
    /// Service labels removed.
    pub label_rm: Vec<String>,
    /// Constraints added.
    pub constraint_add: Vec<Constraint>,
    /// Constraints removed.
    pub constraint_rm: Vec<Constraint>,
    /// Cluster networks joined (or whose aliases change).
    pub network_add: Vec<NetworkAttachmentConfig>,
    /// Cluster networks left, by name.
    pub network_rm: Vec<String>,
    /// Secrets added (or whose file changes), and removed by name.
    pub secret_add: Vec<FileReference>,
    /// Secrets removed, by name.
    pub secret_rm: Vec<String>,
    /// Configs added (or whose file changes).
    pub config_add: Vec<FileReference>,
    /// Configs removed, by name.
    pub config_rm: Vec<String>,
    /// Replace every task even if nothing else changes.
    pub force: bool,
    /// New `--stop-on-disconnect`: `Some(None)` turns it off.
    pub stop_on_disconnect: Option<Option<Duration>>,
    /// New `--endpoint-mode`.
    pub endpoint_mode: Option<EndpointMode>,
    /// A whole new spec (`stack deploy`), instead of the changes above.
    pub replace: Option<ServiceSpec>,
    /// New registry credentials (`--with-registry-auth`); the service keeps its own otherwise.
    pub registry_auth: Option<cluster_state::RegistryAuth>,
    /// Update knobs set (applied over the current ones).
    pub update_config: Option<proto::UpdateConfigRequest>,
    /// Rollback knobs set.
    pub rollback_config: Option<proto::UpdateConfigRequest>,
    /// A request to the update under way, instead of any change.
    pub action: Option<UpdateAction>,
}

impl ServiceUpdate {
    /// Decodes the request's changes.
    pub fn decode(request: &proto::UpdateServiceRequest) -> Result<Self, SpecError> {
        let parse = |items: &[String]| {
            items
                .iter()
                .map(|c| c.parse::<Constraint>())
                .collect::<Result<Vec<_>, _>>()
        };
        if let Some(action) = UpdateAction::decode(request.action)? {
            let alone = proto::UpdateServiceRequest {
                service: request.service.clone(),
                action: request.action,
                ..proto::UpdateServiceRequest::default()
            };
            if *request != alone {
                return Err(SpecError::Conflict(
                    "--pause, --resume, --cancel and rollback",
                    "other changes",
                ));
            }
            return Ok(ServiceUpdate {
                action: Some(action),
                ..ServiceUpdate::default()
            });
        }
        if !request.spec_json.is_empty() {
            let alone = proto::UpdateServiceRequest {
                service: request.service.clone(),
                force: request.force,
                spec_json: request.spec_json.clone(),
                registry_auth: request.registry_auth.clone(),
                ..proto::UpdateServiceRequest::default()
            };
            if *request != alone {
                return Err(SpecError::Conflict("spec_json", "other changes"));
            }
            return Ok(ServiceUpdate {
                force: request.force,
                replace: Some(decode::spec_json(&request.spec_json)?),
                registry_auth: decode::registry_auth(request.registry_auth.as_ref())?,
                ..ServiceUpdate::default()
            });
        }
        Ok(ServiceUpdate {
            replicas: request.replicas.as_ref().map(|c| c.value),
            max_concurrent: request.max_concurrent.as_ref().map(|c| c.value),
            image: Some(request.image.trim().to_owned()).filter(|i| !i.is_empty()),
            env_add: decode::env_pairs("--env-add", &request.env_add)?,
            env_rm: request.env_rm.clone(),
            label_add: decode::label_pairs("--label-add", &request.label_add)?,
            label_rm: request.label_rm.clone(),
            constraint_add: parse(&request.constraint_add)?,
            constraint_rm: parse(&request.constraint_rm)?,
            stop_on_disconnect: decode::stop_on_disconnect(&request.stop_on_disconnect)?,
            endpoint_mode: decode::endpoint_mode(&request.endpoint_mode)?,
            network_add: decode::networks("--network-add", &request.network_add)?,
            network_rm: request.network_rm.clone(),
            secret_add: decode::file_refs("--secret-add", FileKind::Secret, &request.secret_add)?,
            secret_rm: request.secret_rm.clone(),
            config_add: decode::file_refs("--config-add", FileKind::Config, &request.config_add)?,
            config_rm: request.config_rm.clone(),
            force: request.force,
            replace: None,
            registry_auth: decode::registry_auth(request.registry_auth.as_ref())?,
            update_config: request.update_config.clone(),
            rollback_config: request.rollback_config.clone(),
            action: None,
        })
    }

    /// The spec after this change.
    pub fn apply(&self, current: &ServiceSpec) -> Result<ServiceSpec, SpecError> {
        if let Some(spec) = &self.replace {
            decode::check_start_first(spec)?;
            return Ok(spec.clone());
        }
        let mut spec = current.clone();
        spec.update_config = decode::update_config(
            Knobs::Update,
            self.update_config.as_ref(),
            spec.update_config,
        )?;
        spec.rollback_config = decode::update_config(
            Knobs::Rollback,
            self.rollback_config.as_ref(),
            spec.rollback_config,
        )?;
        if let Some(replicas) = self.replicas {
            spec.mode = match spec.mode {
                Mode::Replicated { .. } => Mode::Replicated { replicas },
                Mode::ReplicatedJob { max_concurrent, .. } => Mode::ReplicatedJob {
                    total_completions: replicas,
                    max_concurrent,
                },
                other => return Err(SpecError::ReplicasWithoutSlots(mode_name(&other))),
            };
        }
        if let Some(max) = self.max_concurrent {
            spec.mode = match spec.mode {
                Mode::ReplicatedJob {
                    total_completions, ..
                } => Mode::ReplicatedJob {
                    total_completions,
                    max_concurrent: max.max(1),
                },
                other => return Err(SpecError::MaxConcurrent(mode_name(&other))),
            };
        }
        if let Some(image) = &self.image {
            spec.image = image.clone();
        }
        for name in &self.env_rm {
            spec.env.remove(name);
        }
        spec.env.extend(self.env_add.clone());
        for key in &self.label_rm {
            spec.labels.remove(key);
        }
        spec.labels.extend(self.label_add.clone());
        let constraints = &mut spec.placement.constraints;
        constraints.retain(|c| !self.constraint_rm.contains(c));
        for constraint in &self.constraint_add {
            if !constraints.contains(constraint) {
                constraints.push(constraint.clone());
            }
        }
        if let Some(after) = self.stop_on_disconnect {
            spec.stop_on_disconnect = after;
        }
        if let Some(mode) = self.endpoint_mode {
            spec.endpoint_mode = mode;
        }
        decode::check_start_first(&spec)?;
        let networks = &mut spec.networks;
        networks.retain(|n| !self.network_rm.contains(&n.target));
        for added in &self.network_add {
            match networks.iter_mut().find(|n| n.target == added.target) {
                Some(n) => *n = added.clone(),
                None => networks.push(added.clone()),
            }
        }
        spec.secrets = decode::edited(&spec.secrets, &self.secret_add, &self.secret_rm);
        spec.configs = decode::edited(&spec.configs, &self.config_add, &self.config_rm);
        decode::check_spec_files(&spec)?;
        Ok(spec)
    }
}

/// Whether going from `old` to `new` changes the tasks (anything but the replica count, the
/// job's concurrency, the update knobs and the endpoint mode): then the service gets a new spec version and its
/// tasks are replaced by a rolling update.
pub fn changes_tasks(old: &ServiceSpec, new: &ServiceSpec) -> bool {
    !old.same_tasks(new)
}

/// `record` after `update` at `now`: the new spec, a new spec version (the old spec kept as
/// the previous one) starting a rolling update when the tasks change or the update is forced,
/// and the force counter; or the service after the request to its update.
pub fn updated(
    record: &cluster_state::Service,
    update: &ServiceUpdate,
    now: Timestamp,
) -> Result<cluster_state::Service, SpecError> {
    let mut next = record.clone();
    if let Some(action) = update.action {
        let service = &record.service;
        next.service = match action {
            UpdateAction::Pause => request::pause(service, now)?,
            UpdateAction::Resume => request::resume(service)?,
            UpdateAction::Cancel => request::cancel(service, now)?,
            UpdateAction::Rollback => {
                request::rollback(service, "manually requested rollback", now)?
            }
        };
        return Ok(next);
    }
    let spec = update.apply(&record.service.spec)?;
    if update.force || changes_tasks(&record.service.spec, &spec) {
        next.service.previous_spec = Some(record.service.spec.clone());
        next.service.spec_version += 1;
        request::begin(&mut next.service, update.force, now);
    }
    if update.force {
        next.force_update += 1;
    }
    if let Some(auth) = &update.registry_auth {
        next.registry_auth = Some(cluster_state::StoredAuth::Open(auth.clone()));
        next.with_registry_auth = true;
    }
    next.service.spec = spec;
    next.service.updated_at = now;
    Ok(next)
}

#[cfg(test)]
mod tests {
    use super::*;
    use orchestrator::swarm::{Service, ServiceId};

    fn record(mode: Mode) -> cluster_state::Service {
        let spec = ServiceSpec {
            image: "nginx".into(),
            mode,
            ..ServiceSpec::default()
        };
        cluster_state::Service::new(Service::new(
            ServiceId::from("s1"),
            "web",
            spec,
            Timestamp(0),
        ))
    }

    #[test]
    fn scaling_keeps_the_spec_version_other_changes_and_force_bump_it() {
        let web = record(Mode::Replicated { replicas: 1 });
        let scale = ServiceUpdate {
            replicas: Some(5),
            ..ServiceUpdate::default()
        };
        let scaled = updated(&web, &scale, Timestamp(1)).unwrap();
        assert_eq!(scaled.service.spec.mode, Mode::Replicated { replicas: 5 });
        assert_eq!(scaled.service.spec_version, 1);

        let image = ServiceUpdate {
            image: Some("nginx:2".into()),
            env_add: [("A".to_owned(), "1".to_owned())].into(),
            ..ServiceUpdate::default()
        };
        let changed = updated(&scaled, &image, Timestamp(2)).unwrap();
        assert_eq!(changed.service.spec_version, 2);
        assert_eq!(
            changed
                .service
                .previous_spec
                .as_ref()
                .map(|s| s.image.as_str()),
            Some("nginx")
        );
        let forced = updated(
            &changed,
            &ServiceUpdate {
                force: true,
                ..ServiceUpdate::default()
            },
            Timestamp(3),
        )
        .unwrap();
        assert_eq!((forced.service.spec_version, forced.force_update), (3, 1));
    }

    #[test]
    fn a_whole_spec_replaces_the_old_one_and_bumps_the_version_only_when_tasks_change() {
        let web = record(Mode::Replicated { replicas: 1 });
        let mut spec = web.service.spec.clone();
        spec.mode = Mode::Replicated { replicas: 4 };
        let request = proto::UpdateServiceRequest {
            service: "web".into(),
            spec_json: serde_json::to_vec(&spec).unwrap(),
            ..proto::UpdateServiceRequest::default()
        };
        let scaled = updated(
            &web,
            &ServiceUpdate::decode(&request).unwrap(),
            Timestamp(1),
        )
        .unwrap();
        assert_eq!(scaled.service.spec, spec);
        assert_eq!(scaled.service.spec_version, 1);
        spec.env.insert("A".into(), "1".into());
        let request = proto::UpdateServiceRequest {
            spec_json: serde_json::to_vec(&spec).unwrap(),
            ..request
        };
        let changed = updated(
            &scaled,
            &ServiceUpdate::decode(&request).unwrap(),
            Timestamp(2),
        )
        .unwrap();
        assert_eq!(changed.service.spec_version, 2);
        let mixed = proto::UpdateServiceRequest {
            image: "nginx:2".into(),
            ..request
        };
        assert_eq!(
            ServiceUpdate::decode(&mixed).unwrap_err().to_string(),
            "spec_json and other changes cannot be used together"
        );
    }

    #[test]
    fn stop_on_disconnect_is_set_changed_and_turned_off_by_zero() {
        let web = record(Mode::Replicated { replicas: 1 });
        let change = |text: &str| {
            ServiceUpdate::decode(&proto::UpdateServiceRequest {
                service: "web".into(),
                stop_on_disconnect: text.into(),
                ..proto::UpdateServiceRequest::default()
            })
            .unwrap()
        };
        let set = updated(&web, &change("3s"), Timestamp(1)).unwrap();
        assert_eq!(
            set.service.spec.stop_on_disconnect,
            Some(Duration::from_secs(3))
        );
        assert_eq!(
            set.service.spec_version, 2,
            "the tasks take the new setting"
        );
        let kept = updated(&set, &change(""), Timestamp(2)).unwrap();
        assert_eq!(kept.service.spec, set.service.spec);
        assert_eq!(kept.service.spec_version, 2);
        let off = updated(&set, &change("0"), Timestamp(3)).unwrap();
        assert_eq!(off.service.spec.stop_on_disconnect, None);
    }

    #[test]
    fn new_registry_credentials_replace_the_old_ones_without_replacing_tasks() {
        let web = record(Mode::Replicated { replicas: 1 });
        let request = |password: &str| proto::UpdateServiceRequest {
            service: "web".into(),
            registry_auth: (!password.is_empty()).then(|| proto::RegistryAuth {
                registry: "reg.lan:5000".into(),
                username: "alice".into(),
                password: password.into(),
                identity_token: String::new(),
            }),
            ..proto::UpdateServiceRequest::default()
        };
        let password = |service: &cluster_state::Service| {
            service
                .registry_auth
                .as_ref()
                .and_then(|a| a.open())
                .map(|a| a.password.clone())
        };
        let change = |password: &str| ServiceUpdate::decode(&request(password)).unwrap();
        let first = updated(&web, &change("one"), Timestamp(1)).unwrap();
        assert_eq!(password(&first).as_deref(), Some("one"));
        assert!(first.with_registry_auth);
        assert_eq!(first.service.spec_version, 1, "the tasks stay");
        let second = updated(&first, &change("two"), Timestamp(2)).unwrap();
        assert_eq!(password(&second).as_deref(), Some("two"));
        let kept = updated(&second, &change(""), Timestamp(3)).unwrap();
        assert_eq!(
            password(&kept).as_deref(),
            Some("two"),
            "kept without the flag"
        );
        assert!(kept.shown().registry_auth.is_none() && kept.shown().with_registry_auth);
    }

    #[test]
    fn a_change_of_the_tasks_starts_an_update_and_requests_move_it() {
        let web = record(Mode::Replicated { replicas: 3 });
        let knobs = proto::UpdateServiceRequest {
            service: "web".into(),
            update_config: Some(proto::UpdateConfigRequest {
                parallelism: Some(proto::Count { value: 2 }),
                ..Default::default()
            }),
            ..Default::default()
        };
        let tuned = updated(&web, &ServiceUpdate::decode(&knobs).unwrap(), Timestamp(1)).unwrap();
        assert_eq!(tuned.service.spec.update_config.parallelism, 2);
        assert_eq!(tuned.service.spec_version, 1, "knobs replace no task");
        assert!(tuned.service.update_status.is_none());

        let action = |action: proto::UpdateAction| {
            ServiceUpdate::decode(&proto::UpdateServiceRequest {
                service: "web".into(),
                action: action as i32,
                ..Default::default()
            })
            .unwrap()
        };
        assert_eq!(
            updated(&tuned, &action(proto::UpdateAction::Pause), Timestamp(2))
                .unwrap_err()
                .to_string(),
            "service web has no update in progress to pause"
        );
        let image = ServiceUpdate {
            image: Some("nginx:2".into()),
            ..ServiceUpdate::default()
        };
        let changed = updated(&tuned, &image, Timestamp(3)).unwrap();
        let status = changed.service.update_status.clone().unwrap();
        assert_eq!(status.state, orchestrator::swarm::UpdateState::Updating);
        assert_eq!(status.started_at, Timestamp(3));
        let paused = updated(&changed, &action(proto::UpdateAction::Pause), Timestamp(4)).unwrap();
        assert_eq!(
            paused.service.update_status.unwrap().state,
            orchestrator::swarm::UpdateState::Paused
        );
        let back = updated(
            &changed,
            &action(proto::UpdateAction::Rollback),
            Timestamp(5),
        )
        .unwrap();
        assert_eq!(back.service.spec.image, "nginx");
        assert_eq!(back.service.spec_version, 3);
        assert_eq!(
            back.service.update_status.unwrap().state,
            orchestrator::swarm::UpdateState::RollbackStarted
        );
        let mixed = proto::UpdateServiceRequest {
            service: "web".into(),
            image: "nginx:3".into(),
            action: proto::UpdateAction::Cancel as i32,
            ..Default::default()
        };
        assert!(ServiceUpdate::decode(&mixed).is_err());
    }

    #[test]
    fn replicas_of_a_global_service_are_refused() {
        let global = record(Mode::Global);
        let err = updated(
            &global,
            &ServiceUpdate {
                replicas: Some(3),
                ..ServiceUpdate::default()
            },
            Timestamp(1),
        )
        .unwrap_err();
        assert_eq!(
            err.to_string(),
            "--replicas can only be used with replicated or replicated-job mode, not global"
        );
    }
}
