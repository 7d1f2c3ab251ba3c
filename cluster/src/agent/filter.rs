//! `ls --filter` as Docker reads it: `id=`, `name=`, `status=`, `exited=`. Different keys must
//! all match; several values of one key match when any does.

use super::AgentError;
use super::proto::ContainerSummary;

const STATES: [&str; 4] = ["created", "running", "paused", "exited"];

/// A parsed set of filters.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Filters {
    ids: Vec<String>,
    names: Vec<String>,
    statuses: Vec<String>,
    exit_codes: Vec<i32>,
}

impl Filters {
    /// Parses `key=value` filters.
    pub fn parse(filters: &[String]) -> Result<Self, AgentError> {
        let mut out = Filters::default();
        for filter in filters {
            let Some((key, value)) = filter.split_once('=') else {
                return Err(AgentError::Invalid(format!(
                    "bad format of filter {filter:?}: expected name=value"
                )));
            };
            match key {
                "id" => out.ids.push(value.to_string()),
                "name" => out.names.push(value.trim_start_matches('/').to_string()),
                "status" if STATES.contains(&value) => out.statuses.push(value.to_string()),
                "status" => {
                    return Err(AgentError::Invalid(format!(
                        "invalid filter status={value}: use one of {}",
                        STATES.join(", ")
                    )));
                }
                "exited" => out.exit_codes.push(value.parse().map_err(|_| {
                    AgentError::Invalid(format!("invalid filter exited={value}: not an exit code"))
                })?),
                _ => return Err(AgentError::Invalid(format!("invalid filter {key:?}"))),
            }
        }
        Ok(out)
    }

    /// Whether filtering by state was asked for (which implies listing stopped containers).
    pub fn selects_state(&self) -> bool {
        !self.statuses.is_empty() || !self.exit_codes.is_empty()
    }

    /// Whether the container passes every filter.
    pub fn matches(&self, c: &ContainerSummary) -> bool {
        let any = |values: &[String], f: &dyn Fn(&str) -> bool| {
            values.is_empty() || values.iter().any(|v| f(v))
        };
        any(&self.ids, &|v| c.id.starts_with(v))
            && any(&self.names, &|v| c.name.contains(v))
            && any(&self.statuses, &|v| c.state == v)
            && (self.exit_codes.is_empty()
                || (c.state == "exited" && self.exit_codes.contains(&c.exit_code)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn c(id: &str, name: &str, state: &str, code: i32) -> ContainerSummary {
        ContainerSummary {
            id: id.into(),
            name: name.into(),
            state: state.into(),
            exit_code: code,
            ..Default::default()
        }
    }

    #[test]
    fn matching_table() {
        let web = c("abc", "web-1", "running", 0);
        let job = c("def", "job", "exited", 3);
        let cases: [(&[&str], bool, bool); 7] = [
            (&[], true, true),
            (&["name=web"], true, false),
            (&["id=de"], false, true),
            (&["status=exited"], false, true),
            (&["status=running", "status=exited"], true, true),
            (&["exited=3"], false, true),
            (&["exited=0"], false, false),
        ];
        for (filters, want_web, want_job) in cases {
            let f =
                Filters::parse(&filters.iter().map(|s| s.to_string()).collect::<Vec<_>>()).unwrap();
            assert_eq!(
                (f.matches(&web), f.matches(&job)),
                (want_web, want_job),
                "{filters:?}"
            );
        }
    }

    #[test]
    fn bad_filters() {
        for (f, want) in [
            ("name", "bad format of filter \"name\": expected name=value"),
            ("color=red", "invalid filter \"color\""),
            (
                "status=dead",
                "invalid filter status=dead: use one of created, running, paused, exited",
            ),
            ("exited=x", "invalid filter exited=x: not an exit code"),
        ] {
            assert_eq!(
                Filters::parse(&[f.to_string()]).unwrap_err().to_string(),
                want
            );
        }
    }
}
