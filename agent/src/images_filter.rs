//! The filters of `image ls` and `volume ls`/`prune` (`reference=`, `dangling=`, `label=`,
//! `name=`, `before=`, `since=`), and the gRPC statuses of image and volume errors.

use std::collections::BTreeMap;

use engine::image::ImageError;
use engine::volume::VolumeError;
use tonic::{Code, Status};

/// One parsed filter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Filter {
    /// `reference=PATTERN`: a glob on `name:tag` or `name` (`*` and `?`).
    Reference(String),
    /// `dangling=true|false`.
    Dangling(bool),
    /// `label=KEY` or `label=KEY=VALUE`.
    Label(String, Option<String>),
    /// `name=SUBSTRING`.
    Name(String),
    /// `before=IMAGE`: images created before that one.
    Before(String),
    /// `since=IMAGE`: images created after that one.
    Since(String),
}

/// Parses `key=value` filters; `allowed` lists the keys the command accepts.
// The error is the request's answer, and tonic fixes its type to `Status`.
#[allow(clippy::result_large_err)]
pub(crate) fn parse_filters(filters: &[String], allowed: &[&str]) -> Result<Vec<Filter>, Status> {
    filters
        .iter()
        .map(|f| {
            let invalid = || Status::invalid_argument(format!("invalid filter {f:?}"));
            let (key, value) = f.split_once('=').ok_or_else(invalid)?;
            if !allowed.contains(&key) {
                return Err(Status::invalid_argument(format!(
                    "invalid filter {key:?}: use one of {}",
                    allowed.join(", ")
                )));
            }
            Ok(match key {
                "reference" => Filter::Reference(value.to_string()),
                "dangling" => Filter::Dangling(match value {
                    "true" | "1" => true,
                    "false" | "0" => false,
                    _ => return Err(invalid()),
                }),
                "label" => match value.split_once('=') {
                    Some((k, v)) => Filter::Label(k.to_string(), Some(v.to_string())),
                    None => Filter::Label(value.to_string(), None),
                },
                "before" => Filter::Before(value.to_string()),
                "since" => Filter::Since(value.to_string()),
                _ => Filter::Name(value.to_string()),
            })
        })
        .collect()
}

/// An image's creation time (RFC 3339, as the image config gives it) as a comparable instant.
pub(crate) fn created_instant(created: Option<&str>) -> Option<std::time::SystemTime> {
    created.and_then(|c| humantime::parse_rfc3339_weak(c).ok())
}

/// Whether `labels` has the label a `label=` filter asks for.
pub(crate) fn labels_match(
    labels: &BTreeMap<String, String>,
    key: &str,
    value: Option<&str>,
) -> bool {
    labels
        .get(key)
        .is_some_and(|v| value.is_none_or(|want| v == want))
}

/// Glob match with `*` (any run, including `/`) and `?` (one character).
pub(crate) fn glob(pattern: &str, text: &str) -> bool {
    let (p, t): (Vec<char>, Vec<char>) = (pattern.chars().collect(), text.chars().collect());
    let (mut pi, mut ti) = (0, 0);
    let (mut star, mut mark) = (None, 0);
    while ti < t.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == t[ti]) {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some(pi);
            mark = ti;
            pi += 1;
        } else if let Some(s) = star {
            pi = s + 1;
            mark += 1;
            ti = mark;
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|c| *c == '*')
}

/// Whether a `reference=` pattern selects an image tagged `tags` (familiar `name:tag`).
pub(crate) fn reference_matches(pattern: &str, tags: &[String]) -> bool {
    tags.iter().any(|tag| {
        let name = tag.rsplit_once(':').map_or(tag.as_str(), |(n, t)| {
            if t.contains('/') { tag.as_str() } else { n }
        });
        glob(pattern, tag) || glob(pattern, name)
    })
}

/// The status of an image store error.
pub(crate) fn image_status(err: ImageError) -> Status {
    let code = match &err {
        ImageError::NotFound(_) => Code::NotFound,
        ImageError::Conflict { .. } => Code::FailedPrecondition,
        ImageError::InvalidReference { .. }
        | ImageError::InvalidDigest(_)
        | ImageError::Ambiguous(_)
        | ImageError::BadChange { .. }
        | ImageError::BadArchive(_)
        | ImageError::BadJson { .. }
        | ImageError::BadLayer { .. }
        | ImageError::DigestMismatch { .. } => Code::InvalidArgument,
        _ => Code::Internal,
    };
    Status::new(code, err.to_string())
}

/// The status of a volume store error.
pub(crate) fn volume_status(err: VolumeError) -> Status {
    let code = match &err {
        VolumeError::NotFound(_) => Code::NotFound,
        VolumeError::InUse(_) => Code::FailedPrecondition,
        VolumeError::InvalidName(_) | VolumeError::BadOption(_) => Code::InvalidArgument,
        _ => Code::Internal,
    };
    Status::new(code, err.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn glob_table() {
        for (pattern, text, ok) in [
            ("redis*", "redis:7", true),
            ("redis", "redis", true),
            ("red?s", "redis", true),
            ("*/app", "localhost:5000/app", true),
            ("busy*", "redis", false),
            ("", "", true),
            ("a*b*c", "axxbyyc", true),
            ("a*b*c", "axxbyy", false),
        ] {
            assert_eq!(glob(pattern, text), ok, "{pattern} {text}");
        }
        let tags = vec!["localhost:5000/app:1".to_string()];
        assert!(reference_matches("localhost:5000/app", &tags));
        assert!(reference_matches("*app:1", &tags));
        assert!(!reference_matches("app", &tags));
    }

    #[test]
    fn filter_parse_table() {
        let all = ["reference", "dangling", "label", "name"];
        let parsed = parse_filters(
            &[
                "reference=re*".into(),
                "dangling=true".into(),
                "label=a".into(),
                "label=a=b".into(),
                "name=x".into(),
            ],
            &all,
        )
        .unwrap();
        assert_eq!(
            parsed,
            vec![
                Filter::Reference("re*".into()),
                Filter::Dangling(true),
                Filter::Label("a".into(), None),
                Filter::Label("a".into(), Some("b".into())),
                Filter::Name("x".into()),
            ]
        );
        for bad in ["noequals", "dangling=maybe", "until=1h"] {
            let err = parse_filters(&[bad.to_string()], &all).unwrap_err();
            assert!(err.message().contains("invalid filter"), "{bad}");
        }
        let labels: BTreeMap<String, String> = [("a".into(), "b".into())].into();
        assert!(labels_match(&labels, "a", None));
        assert!(labels_match(&labels, "a", Some("b")));
        assert!(!labels_match(&labels, "a", Some("c")));
        assert!(!labels_match(&labels, "z", None));
    }
}
