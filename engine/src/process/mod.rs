//! The container's process, from inside its namespaces after the rootfs is in place: identity,
//! capabilities, rlimits, working directory, fd hygiene, signals, and the final execve.

mod caps;
mod fds;
pub(crate) mod pidfd;
mod signals;
mod user;

use std::ffi::CString;
use std::path::{Path, PathBuf};

use nix::unistd::{Gid, Uid, execve, setgid, setgroups, setuid};

use crate::spec::ContainerSpec;
use crate::sys::{Context, SetupError};

pub use caps::{grantable, own_bounding};
pub(crate) use fds::cloexec_from;
pub(crate) use signals::reset_signals;
pub(crate) use user::User;

/// Resolves the spec's user against the container's /etc/passwd and /etc/group.
pub(crate) fn resolve_user(spec: &ContainerSpec) -> Result<User, SetupError> {
    let passwd = std::fs::read_to_string("/etc/passwd").unwrap_or_default();
    let group = std::fs::read_to_string("/etc/group").unwrap_or_default();
    user::resolve(
        spec.user.as_deref(),
        &spec.additional_groups,
        &passwd,
        &group,
    )
}

/// Enters the working directory, creating it when missing, and verifies the result lies inside
/// the container's root (CVE-2024-21626: a cwd reached through a leaked host fd is refused).
pub(crate) fn enter_cwd(cwd: &Path) -> Result<(), SetupError> {
    std::fs::create_dir_all(cwd).ctx(|| format!("create working directory {}", cwd.display()))?;
    nix::unistd::chdir(cwd).ctx(|| format!("chdir to working directory {}", cwd.display()))?;
    let here = nix::unistd::getcwd().map_err(|_| outside(cwd))?;
    if !here.is_absolute() {
        return Err(outside(cwd));
    }
    let (a, b) = (
        std::fs::metadata(".").ctx(|| "stat .".to_string())?,
        std::fs::metadata(&here).map_err(|_| outside(cwd))?,
    );
    use std::os::unix::fs::MetadataExt;
    if (a.dev(), a.ino()) != (b.dev(), b.ino()) {
        return Err(outside(cwd));
    }
    Ok(())
}

fn outside(cwd: &Path) -> SetupError {
    SetupError::Invalid(format!(
        "working directory {} is outside the container",
        cwd.display()
    ))
}

/// Applies rlimits, switches to `user`, sets the capability sets (those of the spec's that
/// this process's bounding set holds), no_new_privs and the seccomp filter, in runc's order:
/// without no_new_privs the filter needs CAP_SYS_ADMIN, so it goes in before the capabilities
/// are dropped; otherwise last, after no_new_privs.
pub(crate) fn finalize(spec: &ContainerSpec, user: &User) -> Result<(), SetupError> {
    for (name, limit) in &spec.rlimits {
        let resource =
            crate::spec::rlimit_resource(name).map_err(|e| SetupError::Invalid(e.to_string()))?;
        nix::sys::resource::setrlimit(resource, limit.soft, limit.hard)
            .ctx(|| format!("set rlimit {name}"))?;
    }
    let wanted = spec
        .capabilities
        .resolve()
        .map_err(|e| SetupError::Invalid(e.to_string()))?;
    let (set, _) = caps::grantable(&wanted, &caps::own_bounding());
    let filters = spec
        .seccomp
        .programs(spec.capabilities.privileged, &set)
        .map_err(|e| SetupError::Invalid(e.to_string()))?;
    if !spec.no_new_privileges {
        crate::seccomp::install(&filters).map_err(|e| SetupError::Invalid(e.to_string()))?;
    }
    caps::limit_bounding(&set)?;
    let groups: Vec<Gid> = user.groups.iter().copied().map(Gid::from_raw).collect();
    setgroups(&groups).ctx(|| "set supplementary groups".to_string())?;
    setgid(Gid::from_raw(user.gid)).ctx(|| format!("setgid {}", user.gid))?;
    setuid(Uid::from_raw(user.uid)).ctx(|| format!("setuid {}", user.uid))?;
    caps::set_process(&set, user.uid == 0)?;
    if spec.no_new_privileges {
        nix::sys::prctl::set_no_new_privs().ctx(|| "set no_new_privs".to_string())?;
        crate::seccomp::install(&filters).map_err(|e| SetupError::Invalid(e.to_string()))?;
    }
    Ok(())
}

/// Finds `program` in the `PATH` of `env` (programs with a slash are taken as they are).
pub(crate) fn find_program(program: &str, env: &[String]) -> Result<PathBuf, SetupError> {
    if program.contains('/') {
        return Ok(PathBuf::from(program));
    }
    let path = env
        .iter()
        .find_map(|e| e.strip_prefix("PATH="))
        .unwrap_or(crate::spec::DEFAULT_PATH);
    path.split(':')
        .map(|dir| Path::new(dir).join(program))
        .find(|candidate| candidate.is_file())
        .ok_or_else(|| {
            SetupError::Invalid(format!(
                "exec: {program:?}: executable file not found in $PATH"
            ))
        })
}

/// Replaces this process with the entrypoint. Returns only on failure.
pub(crate) fn exec(args: &[String], env: &[String]) -> SetupError {
    let Some(program) = args.first() else {
        return SetupError::Invalid("no command".into());
    };
    match find_program(program, env) {
        Ok(path) => exec_path(&path, args, env),
        Err(e) => e,
    }
}

/// Replaces this process with the executable at `path`, run with `argv` and `env`. Returns
/// only on failure.
pub(crate) fn exec_path(path: &Path, argv: &[String], env: &[String]) -> SetupError {
    let to_c = |s: &str| {
        CString::new(s).map_err(|_| SetupError::Invalid(format!("{s:?} contains a NUL byte")))
    };
    let converted = (|| -> Result<(CString, Vec<CString>, Vec<CString>), SetupError> {
        let path = to_c(&path.to_string_lossy())?;
        let argv = argv
            .iter()
            .map(|a| to_c(a))
            .collect::<Result<Vec<_>, _>>()?;
        let envp = env.iter().map(|e| to_c(e)).collect::<Result<Vec<_>, _>>()?;
        Ok((path, argv, envp))
    })();
    match converted {
        Ok((c_path, argv, envp)) => match execve(&c_path, &argv, &envp) {
            Err(e) => SetupError::Sys {
                what: format!(
                    "exec {}",
                    argv.first().map_or_else(
                        || path.display().to_string(),
                        |a| a.to_string_lossy().into_owned()
                    )
                ),
                source: e,
            },
            Ok(never) => match never {},
        },
        Err(e) => e,
    }
}
