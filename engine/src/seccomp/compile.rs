//! Compiles a [`Profile`] into BPF programs with seccompiler.
//!
//! A seccompiler filter has one action for matching calls and one for the rest, so a profile
//! becomes a stack of filters, which the kernel runs all of, keeping the result of highest
//! precedence (kill, trap, errno, trace, log, allow), and among equals the filter installed
//! last. The base filter allows the calls of the `Allow` rules and gives the rest the default
//! action; then each other action gets a filter that returns it for its rules' calls and allows
//! the rest. A rule whose action ranks below the default (`Log` under an errno default) also
//! goes into the base as allowed, so that the default does not hide it.

use std::collections::BTreeMap;

use seccompiler::{
    BpfProgram, SeccompAction, SeccompCmpArgLen, SeccompCmpOp, SeccompCondition, SeccompFilter,
    SeccompRule, TargetArch,
};

use super::SeccompError;
use super::profile::{Action, ArgCmp, CmpOp, Profile, Rule, Target};
use super::syscalls;

/// The rules of one filter by call number; an empty list matches the call unconditionally.
type RuleMap = BTreeMap<i64, Vec<SeccompRule>>;

/// The BPF programs for `profile` applied to `target`, in installation order.
pub(crate) fn compile(profile: &Profile, target: &Target) -> Result<Vec<BpfProgram>, SeccompError> {
    let arch = TargetArch::try_from(std::env::consts::ARCH)
        .map_err(|e| SeccompError::Compile(e.to_string()))?;
    let default = profile.default_action;
    let rules: Vec<&Rule> = profile.applicable(target).collect();
    let mut programs = Vec::new();
    if default != Action::Allow {
        let base = rules
            .iter()
            .copied()
            .filter(|r| r.action == Action::Allow || r.action.precedence() > default.precedence());
        programs.push(program(rule_map(base)?, default, Action::Allow, arch)?);
    }
    let mut others: Vec<Action> = Vec::new();
    for rule in &rules {
        if rule.action != Action::Allow && !others.contains(&rule.action) {
            others.push(rule.action);
        }
    }
    for action in others {
        let matching = rules.iter().copied().filter(|r| r.action == action);
        programs.push(program(rule_map(matching)?, Action::Allow, action, arch)?);
    }
    Ok(programs)
}

fn program(
    rules: RuleMap,
    mismatch: Action,
    matched: Action,
    arch: TargetArch,
) -> Result<BpfProgram, SeccompError> {
    let filter = SeccompFilter::new(rules, convert(mismatch), convert(matched), arch)
        .map_err(|e| SeccompError::Compile(e.to_string()))?;
    BpfProgram::try_from(filter).map_err(|e| SeccompError::Compile(e.to_string()))
}

/// Merges rules by call number: the conditions of one rule are and-ed, rules are or-ed, and a
/// rule without conditions matches the call whatever the others say.
fn rule_map<'a>(rules: impl Iterator<Item = &'a Rule>) -> Result<RuleMap, SeccompError> {
    let mut map = RuleMap::new();
    let mut unconditional = std::collections::BTreeSet::new();
    for rule in rules {
        let conditions = rule
            .args
            .iter()
            .map(condition)
            .collect::<Result<Vec<_>, _>>()?;
        for nr in rule.names.iter().filter_map(|n| syscalls::number(n)) {
            let entry = map.entry(nr).or_default();
            if conditions.is_empty() {
                unconditional.insert(nr);
            } else if !unconditional.contains(&nr) {
                entry.push(
                    SeccompRule::new(conditions.clone())
                        .map_err(|e| SeccompError::Compile(e.to_string()))?,
                );
            }
        }
    }
    for nr in unconditional {
        map.insert(nr, Vec::new());
    }
    Ok(map)
}

/// A comparison on the whole 64-bit argument, as libseccomp makes it.
fn condition(arg: &ArgCmp) -> Result<SeccompCondition, SeccompError> {
    let (op, value) = match arg.op {
        CmpOp::Ne => (SeccompCmpOp::Ne, arg.value),
        CmpOp::Lt => (SeccompCmpOp::Lt, arg.value),
        CmpOp::Le => (SeccompCmpOp::Le, arg.value),
        CmpOp::Eq => (SeccompCmpOp::Eq, arg.value),
        CmpOp::Ge => (SeccompCmpOp::Ge, arg.value),
        CmpOp::Gt => (SeccompCmpOp::Gt, arg.value),
        CmpOp::MaskedEq => (SeccompCmpOp::MaskedEq(arg.value), arg.value_two),
    };
    SeccompCondition::new(arg.index, SeccompCmpArgLen::Qword, op, value)
        .map_err(|e| SeccompError::Compile(e.to_string()))
}

fn convert(action: Action) -> SeccompAction {
    match action {
        Action::Allow => SeccompAction::Allow,
        Action::Errno(errno) => SeccompAction::Errno(errno),
        Action::KillThread => SeccompAction::KillThread,
        Action::KillProcess => SeccompAction::KillProcess,
        Action::Trap => SeccompAction::Trap,
        Action::Trace(data) => SeccompAction::Trace(data),
        Action::Log => SeccompAction::Log,
    }
}

#[cfg(test)]
mod tests {
    use caps::Capability;

    use super::super::default_profile;
    use super::*;

    fn target(caps: &[Capability]) -> Target {
        Target {
            caps: caps.iter().copied().collect(),
            arch: super::super::profile::native_arch(),
            kernel: (6, 1),
        }
    }

    #[test]
    fn the_default_profile_compiles_to_a_base_and_an_enosys_filter() {
        let plain = compile(&default_profile::profile(), &target(&[])).unwrap();
        assert_eq!(plain.len(), 2, "allow-list and clone3 → ENOSYS");
        let admin = compile(
            &default_profile::profile(),
            &target(&[Capability::CAP_SYS_ADMIN]),
        )
        .unwrap();
        assert_eq!(admin.len(), 1, "CAP_SYS_ADMIN allows clone3");
        assert!(admin[0].len() > plain[0].len(), "more calls are allowed");
    }

    #[test]
    fn rules_merge_by_call_number() {
        let allow = |names: &[&str], args: Vec<ArgCmp>| Rule {
            names: names.iter().map(|n| n.to_string()).collect(),
            action: Action::Allow,
            args,
            includes: Default::default(),
            excludes: Default::default(),
        };
        let eq = |value| ArgCmp {
            index: 0,
            op: CmpOp::Eq,
            value,
            value_two: 0,
        };
        let rules = [
            allow(&["personality"], vec![eq(0)]),
            allow(&["personality"], vec![eq(8)]),
            allow(&["read", "no_such_call"], vec![]),
            allow(&["read"], vec![eq(3)]),
        ];
        let map = rule_map(rules.iter()).unwrap();
        assert_eq!(map.len(), 2, "unknown names are skipped");
        assert_eq!(map[&libc::SYS_personality].len(), 2);
        assert!(
            map[&libc::SYS_read].is_empty(),
            "read matches unconditionally"
        );
    }
}
