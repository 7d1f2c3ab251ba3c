//! The typed compose model: every key of the compose specification as Rust types.
//!
//! [`from_json`] reads a document that has already been interpolated and merged (a
//! `serde_json::Value`), accepting both the short and the long syntax wherever Compose does and
//! keeping the canonical long form in memory. [`to_json`] writes that canonical form back, so that
//! `from_json(&to_json(p)) == p`. Scalars are read leniently, as interpolation yields strings:
//! `"3"` is accepted where a number is wanted and `"true"` where a boolean is.
//!
//! Nothing here touches the file system: relative paths, variables left for the environment
//! (`KEY` without a value) and other defaults that depend on the project are resolved by the
//! loader's normalization step.

#[macro_use]
mod macros;

mod blkio;
mod build;
mod bytes;
mod command;
mod depends_on;
mod deploy;
mod develop;
mod device;
mod duration;
mod env_file;
mod error;
mod external;
mod extra;
mod healthcheck;
mod hooks;
mod lists;
mod logging;
mod mode;
mod network;
mod policy;
mod port;
mod project;
mod scalar;
mod secret_config;
mod service;
mod short;
mod ulimit;
mod volume;
mod volume_mount;

#[cfg(test)]
mod roundtrip_tests;

pub use blkio::{BlkioConfig, BlkioLimit, BlkioWeight};
pub use build::Build;
pub use bytes::{ByteSize, SizeError, ram_in_bytes};
pub use depends_on::{DependsOn, DependsOnCondition};
pub use deploy::{
    Deploy, DeployMode, DiscreteResourceSpec, EndpointMode, GenericResource, Placement,
    PlacementPreference, ResourceLimits, ResourceReservations, Resources, RestartCondition,
    RestartPolicyConfig, UpdateConfig, UpdateFailureAction, UpdateOrder,
};
pub use develop::{Develop, Watch, WatchAction};
pub use device::{Device, DeviceCount, DeviceRequest};
pub use duration::Duration;
pub use env_file::EnvFile;
pub use error::{ModelError, from_json, to_json};
pub use external::ExternalSpec;
pub use extra::{AiModel, CredentialSpec, Extends, Provider, ServiceModel};
pub use healthcheck::Healthcheck;
pub use hooks::{PreStartHook, ServiceHook};
pub use logging::Logging;
pub use mode::FileMode;
pub use network::{Ipam, IpamConfig, Network, ServiceNetwork};
pub use policy::{CgroupMode, PullPolicy, RestartPolicy};
pub use port::{PortMode, Protocol, ServicePort, parse_port};
pub use project::Project;
pub use scalar::Extensions;
pub use secret_config::{Config, Secret, ServiceFileRef};
pub use service::Service;
pub use ulimit::Ulimit;
pub use volume::Volume;
pub use volume_mount::{
    BindOptions, ImageOptions, Propagation, Recursive, SeLinux, ServiceVolume, TmpfsOptions,
    VolumeOptions, VolumeType, parse_volume,
};
