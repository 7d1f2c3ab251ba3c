//! `--secret` and `--config`: a secret or config a service's tasks get as a file, `NAME` or
//! the long form `source=NAME[,target=PATH][,uid=N][,gid=N][,mode=0400]` (`src=` for
//! `source=`, as Docker).

use orchestrator::swarm::{FileKind, FileReference, ServiceSpec};

use super::{SpecError, invalid};

const EXPECTED: &str = "expected NAME or source=NAME[,target=PATH][,uid=N][,gid=N][,mode=0444]";

/// Decodes one `--secret`/`--config` value given with `flag`.
pub fn file_ref(flag: &'static str, text: &str) -> Result<FileReference, SpecError> {
    let text = text.trim();
    if text.is_empty() {
        return Err(invalid(flag, text, EXPECTED));
    }
    if !text.contains('=') {
        return Ok(FileReference::named(text));
    }
    let mut source = None;
    let mut target = None;
    let mut out = FileReference::named("");
    for part in text.split(',') {
        let number = |value: &str, radix: u32| {
            u32::from_str_radix(value, radix)
                .map_err(|_| invalid(flag, text, format!("{part:?} is not a number")))
        };
        match part.split_once('=') {
            Some(("source" | "src", value)) if !value.is_empty() => source = Some(value.to_owned()),
            Some(("target", value)) if !value.is_empty() => target = Some(value.to_owned()),
            Some(("uid", value)) => out.uid = number(value, 10)?,
            Some(("gid", value)) => out.gid = number(value, 10)?,
            Some(("mode", value)) => {
                out.mode = number(value, 8)?;
                if out.mode > 0o777 {
                    return Err(invalid(flag, text, "mode must be at most 0777"));
                }
            }
            _ => {
                return Err(invalid(
                    flag,
                    text,
                    format!("unexpected {part:?}: {EXPECTED}"),
                ));
            }
        }
    }
    let source = source.ok_or_else(|| invalid(flag, text, "source=NAME is required"))?;
    out.target = target.unwrap_or_else(|| source.clone());
    out.source = source;
    Ok(out)
}

/// Decodes every value of `flag`; two files at one path are refused.
pub fn file_refs(
    flag: &'static str,
    kind: FileKind,
    items: &[String],
) -> Result<Vec<FileReference>, SpecError> {
    let refs = items
        .iter()
        .map(|item| file_ref(flag, item))
        .collect::<Result<Vec<_>, _>>()?;
    check_targets(flag, kind, &refs)?;
    Ok(refs)
}

/// Refuses a target that is not a clean path, and two files at one path.
fn check_targets(
    flag: &'static str,
    kind: FileKind,
    refs: &[FileReference],
) -> Result<(), SpecError> {
    let mut seen: Vec<String> = Vec::new();
    for r in refs {
        let path = kind.path_of(&r.target);
        let clean = path
            .split('/')
            .skip(1)
            .all(|c| !c.is_empty() && c != "." && c != "..");
        if !clean {
            return Err(invalid(
                flag,
                &r.target,
                "a target is a file name or an absolute path without '.', '..' or empty parts",
            ));
        }
        if seen.contains(&path) {
            return Err(invalid(
                flag,
                &r.target,
                format!("two {}s would be mounted at {path}", kind.as_str()),
            ));
        }
        seen.push(path);
    }
    Ok(())
}

/// Checks the secrets and configs of a whole spec (as `stack deploy` sends it).
pub fn check_spec_files(spec: &ServiceSpec) -> Result<(), SpecError> {
    check_targets("secrets", FileKind::Secret, &spec.secrets)?;
    check_targets("configs", FileKind::Config, &spec.configs)
}

/// `spec`'s files of `kind` after removing those named in `rm` (by source) and adding or
/// replacing (by source) those in `add`.
pub fn edited(
    current: &[FileReference],
    add: &[FileReference],
    rm: &[String],
) -> Vec<FileReference> {
    let mut out: Vec<FileReference> = current
        .iter()
        .filter(|r| !rm.contains(&r.source) && !add.iter().any(|a| a.source == r.source))
        .cloned()
        .collect();
    out.extend(add.iter().cloned());
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_and_long_forms_decode() {
        assert_eq!(
            file_ref("--secret", "db").unwrap(),
            FileReference::named("db")
        );
        assert_eq!(
            file_ref(
                "--secret",
                "source=db,target=/etc/db.pw,uid=1,gid=2,mode=0400"
            )
            .unwrap(),
            FileReference {
                source: "db".into(),
                target: "/etc/db.pw".into(),
                uid: 1,
                gid: 2,
                mode: 0o400,
            }
        );
        let r = file_ref("--config", "src=app,mode=640").unwrap();
        assert_eq!((r.target.as_str(), r.mode), ("app", 0o640));
    }

    #[test]
    fn bad_values_are_refused_with_the_flag() {
        for (bad, why) in [
            ("", "expected NAME"),
            ("target=/x", "source=NAME is required"),
            ("source=a,mode=9", "\"mode=9\" is not a number"),
            ("source=a,mode=1777", "mode must be at most 0777"),
            ("source=a,uid=-1", "\"uid=-1\" is not a number"),
            ("source=a,owner=1", "unexpected \"owner=1\""),
        ] {
            let err = file_ref("--secret", bad).unwrap_err().to_string();
            assert!(err.starts_with("invalid --secret"), "{bad}: {err}");
            assert!(err.contains(why), "{bad}: {err}");
        }
    }

    #[test]
    fn targets_are_clean_and_unique() {
        let items = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert!(file_refs("--secret", FileKind::Secret, &items(&["a", "b"])).is_ok());
        let err = file_refs(
            "--secret",
            FileKind::Secret,
            &items(&["a", "source=b,target=/run/secrets/a"]),
        )
        .unwrap_err();
        assert!(
            err.to_string()
                .ends_with("two secrets would be mounted at /run/secrets/a"),
            "{err}"
        );
        for bad in ["source=a,target=../etc/x", "source=a,target=/etc//x"] {
            assert!(
                file_refs("--config", FileKind::Config, &items(&[bad])).is_err(),
                "{bad}"
            );
        }
    }

    #[test]
    fn edits_remove_then_add_by_source() {
        let current = vec![FileReference::named("a"), FileReference::named("b")];
        let mut b2 = FileReference::named("b");
        b2.mode = 0o400;
        let out = edited(
            &current,
            &[b2.clone(), FileReference::named("c")],
            &["a".into()],
        );
        assert_eq!(out, vec![b2, FileReference::named("c")]);
    }
}
