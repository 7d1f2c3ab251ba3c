//! Docker's JSON profile format (`--security-opt seccomp=profile.json`), decoded into a
//! [`Profile`]: `defaultAction`, `defaultErrnoRet`, and `syscalls` entries with `names` (or the
//! older `name`), `action`, `errnoRet`, `args` and `includes`/`excludes` of `caps`, `arches`
//! and `minKernel`. `architectures` and `archMap` are accepted; the filter covers the native
//! architecture only.

use std::str::FromStr;

use caps::Capability;
use serde::Deserialize;

use super::SeccompError;
use super::profile::{Action, ArgCmp, CmpOp, Profile, Rule, Scope, parse_kernel};

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct JsonProfile {
    default_action: String,
    default_errno_ret: Option<u32>,
    syscalls: Option<Vec<JsonSyscall>>,
    listener_path: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct JsonSyscall {
    name: Option<String>,
    names: Option<Vec<String>>,
    action: String,
    errno_ret: Option<u32>,
    args: Option<Vec<JsonArg>>,
    includes: Option<JsonScope>,
    excludes: Option<JsonScope>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct JsonArg {
    index: u32,
    value: u64,
    value_two: Option<u64>,
    op: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct JsonScope {
    caps: Option<Vec<String>>,
    arches: Option<Vec<String>>,
    min_kernel: Option<String>,
}

/// Parses a profile in Docker's JSON format.
pub fn parse(text: &str) -> Result<Profile, SeccompError> {
    let json: JsonProfile =
        serde_json::from_str(text).map_err(|e| SeccompError::Json(e.to_string()))?;
    if json.listener_path.is_some_and(|p| !p.is_empty()) {
        return Err(SeccompError::Unsupported(
            "listenerPath (user notification)".into(),
        ));
    }
    let default_errno = json.default_errno_ret.unwrap_or(libc::EPERM as u32);
    let default_action = action(&json.default_action, Some(default_errno))?;
    let rules = json
        .syscalls
        .unwrap_or_default()
        .into_iter()
        .map(rule)
        .collect::<Result<_, _>>()?;
    Ok(Profile {
        default_action,
        rules,
    })
}

fn rule(call: JsonSyscall) -> Result<Rule, SeccompError> {
    let mut names = call.names.unwrap_or_default();
    names.extend(call.name.filter(|n| !n.is_empty()));
    if names.is_empty() {
        return Err(SeccompError::Json("a syscalls entry has no names".into()));
    }
    let args = call
        .args
        .unwrap_or_default()
        .into_iter()
        .map(arg)
        .collect::<Result<_, _>>()?;
    Ok(Rule {
        names,
        action: action(&call.action, call.errno_ret)?,
        args,
        includes: scope(call.includes)?,
        excludes: scope(call.excludes)?,
    })
}

/// An action name; ERRNO without a value returns EPERM, as with runc.
fn action(name: &str, errno: Option<u32>) -> Result<Action, SeccompError> {
    Ok(match name {
        "SCMP_ACT_ALLOW" => Action::Allow,
        "SCMP_ACT_ERRNO" => Action::Errno(errno.unwrap_or(libc::EPERM as u32)),
        "SCMP_ACT_KILL" | "SCMP_ACT_KILL_THREAD" => Action::KillThread,
        "SCMP_ACT_KILL_PROCESS" => Action::KillProcess,
        "SCMP_ACT_TRAP" => Action::Trap,
        "SCMP_ACT_TRACE" => Action::Trace(errno.unwrap_or(libc::EPERM as u32)),
        "SCMP_ACT_LOG" => Action::Log,
        "SCMP_ACT_NOTIFY" => {
            return Err(SeccompError::Unsupported(
                "action SCMP_ACT_NOTIFY (user notification)".into(),
            ));
        }
        other => return Err(SeccompError::UnknownAction(other.to_string())),
    })
}

fn arg(json: JsonArg) -> Result<ArgCmp, SeccompError> {
    let index = u8::try_from(json.index)
        .ok()
        .filter(|i| *i < 6)
        .ok_or_else(|| {
            SeccompError::Json(format!("argument index {} is not 0 to 5", json.index))
        })?;
    let op = match json.op.as_str() {
        "SCMP_CMP_NE" => CmpOp::Ne,
        "SCMP_CMP_LT" => CmpOp::Lt,
        "SCMP_CMP_LE" => CmpOp::Le,
        "SCMP_CMP_EQ" => CmpOp::Eq,
        "SCMP_CMP_GE" => CmpOp::Ge,
        "SCMP_CMP_GT" => CmpOp::Gt,
        "SCMP_CMP_MASKED_EQ" => CmpOp::MaskedEq,
        other => return Err(SeccompError::UnknownOperator(other.to_string())),
    };
    Ok(ArgCmp {
        index,
        op,
        value: json.value,
        value_two: json.value_two.unwrap_or(0),
    })
}

fn scope(json: Option<JsonScope>) -> Result<Scope, SeccompError> {
    let Some(json) = json else {
        return Ok(Scope::default());
    };
    let caps = json
        .caps
        .unwrap_or_default()
        .iter()
        .map(|c| {
            Capability::from_str(&c.to_ascii_uppercase())
                .map_err(|_| SeccompError::Json(format!("unknown capability {c:?}")))
        })
        .collect::<Result<_, _>>()?;
    let min_kernel = match json.min_kernel.filter(|k| !k.is_empty()) {
        Some(k) => Some(
            parse_kernel(&k)
                .ok_or_else(|| SeccompError::Json(format!("invalid minKernel {k:?}")))?,
        ),
        None => None,
    };
    Ok(Scope {
        caps,
        arches: json.arches.unwrap_or_default(),
        min_kernel,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dockers_format_decodes() {
        let profile = parse(
            r#"{
              "defaultAction": "SCMP_ACT_ALLOW",
              "architectures": ["SCMP_ARCH_X86_64"],
              "syscalls": [
                {"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO", "args": null,
                 "comment": "", "includes": {}, "excludes": {}},
                {"name": "clone", "action": "SCMP_ACT_ERRNO", "errnoRet": 38,
                 "args": [{"index": 0, "value": 2114060288, "valueTwo": 0,
                           "op": "SCMP_CMP_MASKED_EQ"}],
                 "excludes": {"caps": ["CAP_SYS_ADMIN"], "minKernel": "4.8"}}
              ]
            }"#,
        )
        .unwrap();
        assert_eq!(profile.default_action, Action::Allow);
        assert_eq!(profile.rules.len(), 2);
        assert_eq!(profile.rules[0].action, Action::Errno(1));
        assert_eq!(profile.rules[0].names, ["mkdir", "mkdirat"]);
        let clone = &profile.rules[1];
        assert_eq!(clone.names, ["clone"]);
        assert_eq!(clone.action, Action::Errno(38));
        assert_eq!(
            clone.args,
            [ArgCmp {
                index: 0,
                op: CmpOp::MaskedEq,
                value: 0x7E02_0000,
                value_two: 0
            }]
        );
        assert_eq!(clone.excludes.caps, [Capability::CAP_SYS_ADMIN]);
        assert_eq!(clone.excludes.min_kernel, Some((4, 8)));
    }

    #[test]
    fn errors_name_the_offending_value() {
        let cases = [
            (
                r#"{"defaultAction": "SCMP_ACT_NOPE"}"#,
                "unknown seccomp action \"SCMP_ACT_NOPE\"",
            ),
            (
                r#"{"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [{"names": ["read"],
                   "action": "SCMP_ACT_ALLOW", "args": [{"index": 0, "value": 1, "op": "SCMP_CMP_ODD"}]}]}"#,
                "unknown seccomp comparison \"SCMP_CMP_ODD\"",
            ),
            (
                r#"{"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [{"names": ["read"],
                   "action": "SCMP_ACT_ALLOW", "args": [{"index": 6, "value": 1, "op": "SCMP_CMP_EQ"}]}]}"#,
                "seccomp profile: argument index 6 is not 0 to 5",
            ),
            (
                r#"{"defaultAction": "SCMP_ACT_NOTIFY", "listenerPath": "/run/x.sock"}"#,
                "seccomp profile: listenerPath (user notification) is not supported",
            ),
        ];
        for (text, want) in cases {
            assert_eq!(parse(text).unwrap_err().to_string(), want, "{text}");
        }
        assert!(
            parse("not json")
                .unwrap_err()
                .to_string()
                .starts_with("seccomp profile: ")
        );
    }
}
