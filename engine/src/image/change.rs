//! `--change` instructions of `image import` (Dockerfile syntax): CMD, ENTRYPOINT, ENV,
//! WORKDIR, USER, EXPOSE, VOLUME, LABEL, STOPSIGNAL, applied to an image's run config.

use oci_spec::image::Config;

use super::error::ImageError;

/// One parsed instruction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    /// `CMD ["a","b"]` or `CMD a b` (shell form: `/bin/sh -c "a b"`).
    Cmd(Vec<String>),
    /// `ENTRYPOINT`, same forms as CMD.
    Entrypoint(Vec<String>),
    /// `ENV K=V [K2=V2 …]` or `ENV K V`.
    Env(Vec<(String, String)>),
    /// `WORKDIR /path`.
    Workdir(String),
    /// `USER name[:group]`.
    User(String),
    /// `EXPOSE 80 53/udp`; entries are normalized to `port/proto`.
    Expose(Vec<String>),
    /// `VOLUME /data` or `VOLUME ["/a", "/b"]`.
    Volume(Vec<String>),
    /// `LABEL k=v …`.
    Label(Vec<(String, String)>),
    /// `STOPSIGNAL SIGINT`.
    StopSignal(String),
}

/// Parses one instruction.
pub(crate) fn parse_change(text: &str) -> Result<Change, ImageError> {
    let bad = |reason: &str| ImageError::BadChange {
        change: text.to_string(),
        reason: reason.to_string(),
    };
    let trimmed = text.trim();
    let (word, rest) = trimmed
        .split_once(char::is_whitespace)
        .map_or((trimmed, ""), |(w, r)| (w, r.trim()));
    if rest.is_empty() {
        return Err(bad("missing arguments"));
    }
    let change = match word.to_ascii_uppercase().as_str() {
        "CMD" => Change::Cmd(exec_or_shell(rest).map_err(|r| bad(&r))?),
        "ENTRYPOINT" => Change::Entrypoint(exec_or_shell(rest).map_err(|r| bad(&r))?),
        "ENV" => Change::Env(pairs(rest, true).map_err(|r| bad(&r))?),
        "LABEL" => Change::Label(pairs(rest, false).map_err(|r| bad(&r))?),
        "WORKDIR" => {
            if !rest.starts_with('/') {
                return Err(bad("WORKDIR must be an absolute path"));
            }
            Change::Workdir(rest.to_string())
        }
        "USER" => Change::User(rest.to_string()),
        "STOPSIGNAL" => Change::StopSignal(rest.to_string()),
        "EXPOSE" => {
            let mut ports = Vec::new();
            for p in words(rest).map_err(|r| bad(&r))? {
                let (port, proto) = p.split_once('/').unwrap_or((&p, "tcp"));
                let ok = port.split('-').all(|n| n.parse::<u16>().is_ok())
                    && matches!(proto, "tcp" | "udp" | "sctp");
                if !ok {
                    return Err(bad(&format!("invalid port {p:?}")));
                }
                ports.push(format!("{port}/{proto}"));
            }
            Change::Expose(ports)
        }
        "VOLUME" => {
            let paths = if rest.starts_with('[') {
                serde_json::from_str::<Vec<String>>(rest).map_err(|e| bad(&e.to_string()))?
            } else {
                words(rest).map_err(|r| bad(&r))?
            };
            Change::Volume(paths)
        }
        _ => return Err(bad("unknown instruction")),
    };
    Ok(change)
}

/// Applies instructions in order to a run config.
pub(crate) fn apply_changes(config: &mut Config, changes: &[Change]) {
    for change in changes {
        match change {
            Change::Cmd(v) => {
                config.set_cmd(Some(v.clone()));
            }
            Change::Entrypoint(v) => {
                // As in a Dockerfile, a new entrypoint resets the command.
                config.set_entrypoint(Some(v.clone()));
                config.set_cmd(None);
            }
            Change::Env(pairs) => {
                let mut env = config.env().clone().unwrap_or_default();
                for (k, v) in pairs {
                    env.retain(|e| e.split('=').next() != Some(k.as_str()));
                    env.push(format!("{k}={v}"));
                }
                config.set_env(Some(env));
            }
            Change::Workdir(w) => {
                config.set_working_dir(Some(w.clone()));
            }
            Change::User(u) => {
                config.set_user(Some(u.clone()));
            }
            Change::StopSignal(s) => {
                config.set_stop_signal(Some(s.clone()));
            }
            Change::Expose(ports) => {
                let mut all = config.exposed_ports().clone().unwrap_or_default();
                all.extend(ports.iter().cloned());
                all.sort();
                all.dedup();
                config.set_exposed_ports(Some(all));
            }
            Change::Volume(paths) => {
                let mut all = config.volumes().clone().unwrap_or_default();
                all.extend(paths.iter().cloned());
                all.sort();
                all.dedup();
                config.set_volumes(Some(all));
            }
            Change::Label(pairs) => {
                let mut labels = config.labels().clone().unwrap_or_default();
                labels.extend(pairs.iter().cloned());
                config.set_labels(Some(labels));
            }
        }
    }
}

/// Applies `--change` lines (Dockerfile syntax, as [`Change`] lists) to an image's run config
/// in its JSON form (`Cmd`, `Env`, …): the keys the instructions set are replaced, every other
/// key of the object is kept as it was.
pub fn apply_change_lines(
    run_config: &mut serde_json::Value,
    lines: &[String],
) -> Result<(), ImageError> {
    let changes = lines
        .iter()
        .map(|l| parse_change(l))
        .collect::<Result<Vec<_>, _>>()?;
    let object = run_config
        .as_object_mut()
        .ok_or_else(|| ImageError::BadArchive("the image's run config is not an object".into()))?;
    let mut config: Config = serde_json::from_value(serde_json::Value::Object(object.clone()))
        .map_err(|e| ImageError::json("the image's run config", e))?;
    apply_changes(&mut config, &changes);
    let applied =
        serde_json::to_value(&config).map_err(|e| ImageError::json("the image's run config", e))?;
    // The keys the instructions manage are all taken from the result: an ENTRYPOINT resets
    // the command, which the result then lacks.
    for key in [
        "Cmd",
        "Entrypoint",
        "Env",
        "WorkingDir",
        "User",
        "StopSignal",
        "ExposedPorts",
        "Volumes",
        "Labels",
    ] {
        object.remove(key);
    }
    if let serde_json::Value::Object(applied) = applied {
        for (key, value) in applied {
            object.insert(key, value);
        }
    }
    Ok(())
}

fn exec_or_shell(rest: &str) -> Result<Vec<String>, String> {
    if rest.starts_with('[') {
        let v: Vec<String> = serde_json::from_str(rest).map_err(|e| e.to_string())?;
        if v.is_empty() {
            return Err("empty command".into());
        }
        return Ok(v);
    }
    Ok(vec!["/bin/sh".into(), "-c".into(), rest.to_string()])
}

/// `k=v k2="v 2"` pairs; with `legacy`, a single `k v` is accepted too (as ENV allows).
fn pairs(rest: &str, legacy: bool) -> Result<Vec<(String, String)>, String> {
    let first = rest.split_whitespace().next().unwrap_or_default();
    if legacy && !first.contains('=') {
        let (k, v) = rest
            .split_once(char::is_whitespace)
            .ok_or("missing value")?;
        return Ok(vec![(k.to_string(), v.trim().to_string())]);
    }
    words(rest)?
        .into_iter()
        .map(|w| match w.split_once('=') {
            Some((k, v)) if !k.is_empty() => Ok((k.to_string(), v.to_string())),
            _ => Err(format!("{w:?} is not KEY=VALUE")),
        })
        .collect()
}

/// Splits on whitespace, honouring double quotes and backslash escapes.
fn words(text: &str) -> Result<Vec<String>, String> {
    let mut out = Vec::new();
    let mut current = String::new();
    let mut in_word = false;
    let mut quoted = false;
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => {
                current.push(chars.next().ok_or("trailing backslash")?);
                in_word = true;
            }
            '"' => {
                quoted = !quoted;
                in_word = true;
            }
            c if c.is_whitespace() && !quoted => {
                if in_word {
                    out.push(std::mem::take(&mut current));
                    in_word = false;
                }
            }
            c => {
                current.push(c);
                in_word = true;
            }
        }
    }
    if quoted {
        return Err("unterminated quote".into());
    }
    if in_word {
        out.push(current);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn change_lines_replace_what_they_set_and_keep_the_rest() {
        let mut run = serde_json::json!({
            "Cmd": ["sh"],
            "Env": ["PATH=/bin"],
            "Healthcheck": {"Test": ["NONE"]},
        });
        apply_change_lines(
            &mut run,
            &[
                "ENV DEBUG=true".to_string(),
                "ENTRYPOINT [\"top\"]".to_string(),
            ],
        )
        .unwrap();
        assert_eq!(run["Env"], serde_json::json!(["PATH=/bin", "DEBUG=true"]));
        assert_eq!(run["Entrypoint"], serde_json::json!(["top"]));
        assert!(run.get("Cmd").is_none_or(|c| c.is_null()), "{run}");
        assert_eq!(run["Healthcheck"]["Test"], serde_json::json!(["NONE"]));
        assert!(apply_change_lines(&mut run, &["FROB x".to_string()]).is_err());
    }

    fn s(v: &[&str]) -> Vec<String> {
        v.iter().map(|x| x.to_string()).collect()
    }

    #[test]
    fn parse_table() {
        let kv = |k: &str, v: &str| (k.to_string(), v.to_string());
        let cases = [
            (
                r#"CMD ["redis-server", "--port", "6380"]"#,
                Change::Cmd(s(&["redis-server", "--port", "6380"])),
            ),
            ("cmd echo hi", Change::Cmd(s(&["/bin/sh", "-c", "echo hi"]))),
            (
                r#"ENTRYPOINT ["/bin/sh"]"#,
                Change::Entrypoint(s(&["/bin/sh"])),
            ),
            (
                r#"ENV A=1 B="two words""#,
                Change::Env(vec![kv("A", "1"), kv("B", "two words")]),
            ),
            (
                "ENV LEGACY some value",
                Change::Env(vec![kv("LEGACY", "some value")]),
            ),
            ("WORKDIR /srv", Change::Workdir("/srv".into())),
            ("USER 1000:1000", Change::User("1000:1000".into())),
            ("EXPOSE 80 53/udp", Change::Expose(s(&["80/tcp", "53/udp"]))),
            (r#"VOLUME ["/data"]"#, Change::Volume(s(&["/data"]))),
            ("LABEL a=b", Change::Label(vec![kv("a", "b")])),
            ("STOPSIGNAL SIGINT", Change::StopSignal("SIGINT".into())),
        ];
        for (text, want) in cases {
            assert_eq!(parse_change(text).unwrap(), want, "{text}");
        }
        for bad in [
            "RUN apt-get",
            "CMD",
            "WORKDIR rel",
            "EXPOSE http",
            "ENV =x",
            r#"CMD ["a""#,
        ] {
            let err = parse_change(bad).unwrap_err();
            assert!(
                err.to_string().starts_with("invalid change"),
                "{bad}: {err}"
            );
        }
    }

    #[test]
    fn apply_overrides_env_and_entrypoint_resets_cmd() {
        let mut config = Config::default();
        let changes: Vec<Change> = [
            "ENV A=1",
            "CMD x",
            "ENV A=2 B=3",
            "ENTRYPOINT [\"/e\"]",
            "EXPOSE 80",
            "EXPOSE 80",
        ]
        .iter()
        .map(|c| parse_change(c).unwrap())
        .collect();
        apply_changes(&mut config, &changes);
        assert_eq!(config.env().clone().unwrap(), s(&["A=2", "B=3"]));
        assert_eq!(config.cmd(), &None);
        assert_eq!(config.entrypoint().clone().unwrap(), s(&["/e"]));
        assert_eq!(config.exposed_ports().clone().unwrap(), s(&["80/tcp"]));
    }
}
