//! Seccomp filters of the container's processes: Docker's default profile unless the spec says
//! `unconfined` or gives a profile of its own (Docker's JSON format, decoded at the edge by
//! [`parse_docker_profile`]); none for privileged containers.
//!
//! The setup and the exec helper compile the profile for the container's capability set (some
//! calls need a capability) and install it just before exec, following runc's order: without
//! no_new_privs, installing needs CAP_SYS_ADMIN, so the filter goes in before the capabilities
//! are dropped; with no_new_privs it goes in last.

mod compile;
mod default_profile;
mod docker_json;
pub mod profile;
mod syscalls;

use caps::CapsHashSet;
use serde::{Deserialize, Serialize};

pub(crate) use compile::compile;
pub use docker_json::parse as parse_docker_profile;
pub use profile::{Profile, Target};
pub(crate) use seccompiler::BpfProgram;

/// Errors reading, compiling or installing a seccomp profile.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SeccompError {
    /// The profile is not valid JSON of Docker's format.
    #[error("seccomp profile: {0}")]
    Json(String),
    /// An action name is unknown.
    #[error("unknown seccomp action {0:?}")]
    UnknownAction(String),
    /// An argument comparison is unknown.
    #[error("unknown seccomp comparison {0:?}")]
    UnknownOperator(String),
    /// The profile uses a feature Bosun does not implement.
    #[error("seccomp profile: {0} is not supported")]
    Unsupported(String),
    /// The filter cannot be compiled (too large, bad argument index, unknown architecture).
    #[error("compile the seccomp filter: {0}")]
    Compile(String),
    /// The kernel refused the filter.
    #[error("install the seccomp filter: {0}")]
    Install(nix::errno::Errno),
}

/// Which seccomp filter a container's processes get.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Seccomp {
    /// Docker's default profile.
    #[default]
    Default,
    /// No filter (`--security-opt seccomp=unconfined`).
    Unconfined,
    /// A profile of the user's.
    Profile(Profile),
}

impl Seccomp {
    /// The profile to apply, if any; privileged containers get none, as with Docker.
    pub fn profile(&self, privileged: bool) -> Option<std::borrow::Cow<'_, Profile>> {
        use std::borrow::Cow;
        match self {
            _ if privileged => None,
            Seccomp::Unconfined => None,
            Seccomp::Default => Some(Cow::Owned(default_profile::profile())),
            Seccomp::Profile(p) => Some(Cow::Borrowed(p)),
        }
    }

    /// The BPF programs for a container whose processes hold `caps`, in installation order
    /// (none: no filter).
    pub fn programs(
        &self,
        privileged: bool,
        caps: &CapsHashSet,
    ) -> Result<Vec<BpfProgram>, SeccompError> {
        match self.profile(privileged) {
            Some(profile) => compile(&profile, &Target::host(caps.clone())),
            None => Ok(Vec::new()),
        }
    }
}

/// Installs the programs on the calling thread, first to last. Without no_new_privs the
/// caller needs CAP_SYS_ADMIN. seccompiler's own `apply_filter` always sets no_new_privs,
/// which Docker sets only on request (it stops setuid programs), hence this call of our own.
#[allow(unsafe_code)]
pub fn install(programs: &[BpfProgram]) -> Result<(), SeccompError> {
    for program in programs {
        let len = u16::try_from(program.len())
            .map_err(|_| SeccompError::Compile(format!("{} instructions", program.len())))?;
        let fprog = libc::sock_fprog {
            len,
            // seccompiler's sock_filter is #[repr(C)] with the kernel's layout, as libc's is.
            filter: program.as_ptr().cast::<libc::sock_filter>().cast_mut(),
        };
        // SAFETY: `fprog` points at `program`, which outlives the call; the kernel copies the
        // instructions and does not write to them.
        let rc = unsafe {
            libc::syscall(
                libc::SYS_seccomp,
                libc::SECCOMP_SET_MODE_FILTER,
                0,
                &fprog as *const libc::sock_fprog,
            )
        };
        if rc != 0 {
            return Err(SeccompError::Install(nix::errno::Errno::last()));
        }
    }
    Ok(())
}
