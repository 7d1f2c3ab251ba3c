//! Test support shared by the workspace's test binaries, in one place instead of files
//! included into each by path. Dev-only: no product crate depends on it.
//!
//! - [`image`]: tar builders (including hostile raw entries), a busybox image tar, and a
//!   per-test engine environment (own data root, run root and cgroup parent) that unmounts and
//!   removes everything even when a test fails.
//! - [`fs`]: copying an example project's directory tree into a test's own.
//! - [`http`]: a bare HTTP/1.0 GET of what a container serves on a published port.
//! - [`teardown`]: what a test's agent made in the kernel (networks, their bridges and
//!   nftables table, mounts under its data root, cgroups) removed after the agent stopped.

pub mod fs;
pub mod http;
pub mod image;
pub mod teardown;
