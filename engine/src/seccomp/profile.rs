//! Our representation of a seccomp profile, in Docker's model: a default action and rules that
//! give a list of system calls an action, optionally only for some argument values, and only
//! when the container holds (or lacks) given capabilities or runs on given architectures.

use caps::{Capability, CapsHashSet};
use serde::{Deserialize, Serialize};

/// What the filter does with a system call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    /// Let the call through.
    Allow,
    /// Fail the call with this errno.
    Errno(u32),
    /// Kill the calling thread.
    KillThread,
    /// Kill the whole process.
    KillProcess,
    /// Send SIGSYS to the caller.
    Trap,
    /// Notify a ptrace tracer, passing this value.
    Trace(u32),
    /// Let the call through and log it.
    Log,
}

impl Action {
    /// The kernel's precedence class when stacked filters disagree: the lowest wins
    /// (kill process, kill thread, trap, errno, trace, log, allow).
    pub(super) fn precedence(self) -> u8 {
        match self {
            Action::KillProcess => 0,
            Action::KillThread => 1,
            Action::Trap => 2,
            Action::Errno(_) => 3,
            Action::Trace(_) => 4,
            Action::Log => 5,
            Action::Allow => 6,
        }
    }
}

/// How a system call argument is compared.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CmpOp {
    /// `arg != value`.
    Ne,
    /// `arg < value`.
    Lt,
    /// `arg <= value`.
    Le,
    /// `arg == value`.
    Eq,
    /// `arg >= value`.
    Ge,
    /// `arg > value`.
    Gt,
    /// `arg & value == value_two`.
    MaskedEq,
}

/// One argument comparison; every comparison of a rule must hold for it to match.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ArgCmp {
    /// The argument's index (0 to 5).
    pub index: u8,
    /// The comparison.
    pub op: CmpOp,
    /// The value compared with (the mask for [`CmpOp::MaskedEq`]).
    pub value: u64,
    /// The expected masked value for [`CmpOp::MaskedEq`].
    #[serde(default)]
    pub value_two: u64,
}

/// When a rule applies: every listed item must hold (`includes`) or none may (`excludes`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Scope {
    /// Capabilities of the container's set.
    pub caps: Vec<Capability>,
    /// Architectures, in Go's names (`amd64`, `arm64`, `x86`, ...).
    pub arches: Vec<String>,
    /// A kernel version, `(major, minor)`: at least it for `includes`, below it for `excludes`.
    pub min_kernel: Option<(u32, u32)>,
}

/// System calls given one action.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rule {
    /// The system calls, by name (names unknown on this architecture are skipped).
    pub names: Vec<String>,
    /// The action when the rule matches.
    pub action: Action,
    /// Argument comparisons, all of which must hold (none: the call always matches).
    #[serde(default)]
    pub args: Vec<ArgCmp>,
    /// The rule applies only when all of these hold.
    #[serde(default)]
    pub includes: Scope,
    /// The rule does not apply when any of these holds.
    #[serde(default)]
    pub excludes: Scope,
}

/// A whole profile.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Profile {
    /// The action for calls no rule matches.
    pub default_action: Action,
    /// The rules, in order.
    pub rules: Vec<Rule>,
}

/// What a rule's scope is checked against: the container's capability set and the host.
#[derive(Debug, Clone)]
pub struct Target {
    /// The capabilities the container's processes hold (their bounding set).
    pub caps: CapsHashSet,
    /// The native architecture in Go's naming (`amd64`, `arm64`).
    pub arch: &'static str,
    /// The running kernel's `(major, minor)`.
    pub kernel: (u32, u32),
}

impl Target {
    /// The target for `caps` on this host.
    pub fn host(caps: CapsHashSet) -> Self {
        Self {
            caps,
            arch: native_arch(),
            kernel: kernel_version(),
        }
    }
}

impl Rule {
    /// Whether the rule applies to `target` (Docker's reading of `includes` and `excludes`).
    pub fn applies_to(&self, target: &Target) -> bool {
        let ex = &self.excludes;
        let excluded = ex.arches.iter().any(|a| a == target.arch)
            || ex.caps.iter().any(|c| target.caps.contains(c))
            || ex.min_kernel.is_some_and(|k| target.kernel >= k);
        let inc = &self.includes;
        let included = (inc.arches.is_empty() || inc.arches.iter().any(|a| a == target.arch))
            && inc.caps.iter().all(|c| target.caps.contains(c))
            && inc.min_kernel.is_none_or(|k| target.kernel >= k);
        !excluded && included
    }
}

impl Profile {
    /// The rules that apply to `target`, minus those whose action is the default one (they
    /// change nothing; runc skips them too).
    pub(crate) fn applicable<'a>(
        &'a self,
        target: &'a Target,
    ) -> impl Iterator<Item = &'a Rule> + 'a {
        self.rules
            .iter()
            .filter(move |r| r.action != self.default_action && r.applies_to(target))
    }
}

/// This machine's architecture in Go's naming, as Docker profiles spell it.
pub(super) fn native_arch() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        "x86" => "386",
        other => other,
    }
}

/// The running kernel's `(major, minor)`; `(0, 0)` when it cannot be read.
fn kernel_version() -> (u32, u32) {
    nix::sys::utsname::uname()
        .ok()
        .and_then(|u| parse_kernel(&u.release().to_string_lossy()))
        .unwrap_or((0, 0))
}

/// Parses `major.minor` from a kernel release (`6.8.0-45-generic`).
pub(super) fn parse_kernel(release: &str) -> Option<(u32, u32)> {
    let mut parts = release.split(['.', '-', '+']);
    let major = parts.next()?.parse().ok()?;
    let minor = parts.next()?.parse().ok()?;
    Some((major, minor))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn target(caps: &[Capability]) -> Target {
        Target {
            caps: caps.iter().copied().collect(),
            arch: "amd64",
            kernel: (5, 10),
        }
    }

    fn rule(includes: Scope, excludes: Scope) -> Rule {
        Rule {
            names: vec!["x".into()],
            action: Action::Allow,
            args: vec![],
            includes,
            excludes,
        }
    }

    #[test]
    fn scopes_follow_dockers_reading() {
        let admin = Scope {
            caps: vec![Capability::CAP_SYS_ADMIN],
            ..Scope::default()
        };
        let with_admin = rule(admin.clone(), Scope::default());
        let without_admin = rule(Scope::default(), admin);
        let plain = target(&[Capability::CAP_CHOWN]);
        let admin_target = target(&[Capability::CAP_SYS_ADMIN]);
        assert!(!with_admin.applies_to(&plain));
        assert!(with_admin.applies_to(&admin_target));
        assert!(without_admin.applies_to(&plain));
        assert!(!without_admin.applies_to(&admin_target));
        let s390 = Scope {
            arches: vec!["s390x".into()],
            ..Scope::default()
        };
        assert!(!rule(s390.clone(), Scope::default()).applies_to(&plain));
        assert!(rule(Scope::default(), s390).applies_to(&plain));
        let new_kernel = Scope {
            min_kernel: Some((6, 1)),
            ..Scope::default()
        };
        assert!(!rule(new_kernel.clone(), Scope::default()).applies_to(&plain));
        assert!(rule(Scope::default(), new_kernel).applies_to(&plain));
    }

    #[test]
    fn kernel_releases_parse() {
        assert_eq!(parse_kernel("6.8.0-45-generic"), Some((6, 8)));
        assert_eq!(parse_kernel("4.19.112+"), Some((4, 19)));
        assert_eq!(parse_kernel("5.4"), Some((5, 4)));
        assert_eq!(parse_kernel("bogus"), None);
    }
}
