//! `--security-opt` and compose `security_opt:` entries, read on the client side as Docker's
//! CLI reads them: `no-new-privileges[:true|false]`, `seccomp=unconfined` and
//! `seccomp=/path/profile.json` (the file's text travels in the configuration, so the agent
//! never reads client paths). `=` and `:` both separate key and value.

use super::proto::ContainerConfig;

/// An entry that cannot be honoured, as one line naming it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("security option {option:?}: {reason}")]
pub struct SecurityOptError {
    /// The entry as given.
    pub option: String,
    /// What is wrong.
    pub reason: String,
}

/// Applies the entries to `config`, reading seccomp profile files (relative paths from the
/// current directory, as Docker Compose does).
pub fn apply(options: &[String], config: &mut ContainerConfig) -> Result<(), SecurityOptError> {
    for option in options {
        let fail = |reason: String| SecurityOptError {
            option: option.clone(),
            reason,
        };
        let (key, value) = match option.find(['=', ':']) {
            Some(at) => (&option[..at], Some(&option[at + 1..])),
            None => (option.as_str(), None),
        };
        match (key, value) {
            ("no-new-privileges", None | Some("true")) => config.no_new_privileges = true,
            ("no-new-privileges", Some("false")) => config.no_new_privileges = false,
            ("seccomp", Some("unconfined")) => config.seccomp_profile = "unconfined".into(),
            ("seccomp", Some(path)) if !path.is_empty() => {
                let text =
                    std::fs::read_to_string(path).map_err(|e| fail(format!("read {path}: {e}")))?;
                engine::seccomp::parse_docker_profile(&text)
                    .map_err(|e| fail(format!("{path}: {e}")))?;
                config.seccomp_profile = text;
            }
            _ => {
                return Err(fail(
                    "use no-new-privileges[:true|false], seccomp=unconfined or seccomp=PROFILE.json"
                        .into(),
                ));
            }
        }
    }
    Ok(())
}

/// Whether Bosun honours an entry of this kind (for compose's warnings about ignored keys).
pub fn is_supported(option: &str) -> bool {
    let key = option.split(['=', ':']).next().unwrap_or_default();
    matches!(key, "no-new-privileges" | "seccomp")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn applied(options: &[&str]) -> Result<ContainerConfig, SecurityOptError> {
        let mut config = ContainerConfig::default();
        let options: Vec<String> = options.iter().map(|o| o.to_string()).collect();
        apply(&options, &mut config).map(|()| config)
    }

    #[test]
    fn entries_set_no_new_privileges_and_seccomp() {
        let c = applied(&["no-new-privileges", "seccomp=unconfined"]).unwrap();
        assert!(c.no_new_privileges);
        assert_eq!(c.seccomp_profile, "unconfined");
        let c = applied(&["no-new-privileges:true", "no-new-privileges=false"]).unwrap();
        assert!(!c.no_new_privileges);
        assert_eq!(c.seccomp_profile, "");

        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("deny-mkdir.json");
        let text = r#"{"defaultAction": "SCMP_ACT_ALLOW",
                       "syscalls": [{"names": ["mkdir"], "action": "SCMP_ACT_ERRNO"}]}"#;
        std::fs::write(&path, text).unwrap();
        let c = applied(&[&format!("seccomp:{}", path.display())]).unwrap();
        assert_eq!(c.seccomp_profile, text);
    }

    #[test]
    fn bad_entries_are_one_line_errors() {
        let err = applied(&["apparmor=unconfined"]).unwrap_err().to_string();
        assert!(
            err.starts_with("security option \"apparmor=unconfined\": use "),
            "{err}"
        );
        let err = applied(&["seccomp=/no/such/profile.json"])
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with(
                "security option \"seccomp=/no/such/profile.json\": read /no/such/profile.json: "
            ),
            "{err}"
        );
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("bad.json");
        std::fs::write(&path, r#"{"defaultAction": "SCMP_ACT_SOMETIMES"}"#).unwrap();
        let err = applied(&[&format!("seccomp={}", path.display())])
            .unwrap_err()
            .to_string();
        assert!(
            err.ends_with(": unknown seccomp action \"SCMP_ACT_SOMETIMES\""),
            "{err}"
        );
        assert!(is_supported("seccomp=x") && !is_supported("label=disable"));
    }
}
