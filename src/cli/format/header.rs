//! The header row of `--format 'table …'`: each field's name as docker prints it above its
//! column.

/// Docker's headers where they are not simply the field's words in upper case.
pub(crate) type Headers = &'static [(&'static str, &'static str)];

/// `container ls` (and compose `ps`).
pub(crate) const CONTAINER: Headers = &[
    ("ID", "CONTAINER ID"),
    ("RunningFor", "CREATED"),
    ("LocalVolumes", "LOCAL VOLUMES"),
];
/// `image ls` (and compose `images`).
pub(crate) const IMAGE: Headers = &[("ID", "IMAGE ID"), ("CreatedSince", "CREATED")];
/// `network ls`.
pub(crate) const NETWORK: Headers = &[("ID", "NETWORK ID"), ("IPv6", "IPV6")];
/// `volume ls`.
pub(crate) const VOLUME: Headers = &[("Name", "VOLUME NAME")];
/// `node ls`, `service ls`, `service ps` and the compose project list: fields' own words.
pub(crate) const PLAIN: Headers = &[("TLSStatus", "TLS STATUS")];
/// `container stats`.
pub(crate) const STATS: Headers = &[
    ("ID", "CONTAINER ID"),
    ("CPUPerc", "CPU %"),
    ("MemUsage", "MEM USAGE / LIMIT"),
    ("MemPerc", "MEM %"),
    ("NetIO", "NET I/O"),
    ("BlockIO", "BLOCK I/O"),
    ("PIDs", "PIDS"),
];

/// The header of `field`: docker's name from `headers`, else its words in upper case
/// (`CreatedAt` → `CREATED AT`, `ID` → `ID`).
pub(super) fn name(headers: Headers, field: &str) -> String {
    if let Some((_, header)) = headers.iter().find(|(f, _)| *f == field) {
        return (*header).to_string();
    }
    let chars: Vec<char> = field.chars().collect();
    let mut out = String::new();
    for (i, c) in chars.iter().enumerate() {
        let starts_word = i > 0
            && c.is_uppercase()
            && (chars[i - 1].is_lowercase()
                || chars.get(i + 1).is_some_and(|next| next.is_lowercase()));
        if starts_word {
            out.push(' ');
        }
        out.extend(c.to_uppercase());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn docker_names_then_words() {
        assert_eq!(name(CONTAINER, "ID"), "CONTAINER ID");
        assert_eq!(name(CONTAINER, "RunningFor"), "CREATED");
        assert_eq!(name(CONTAINER, "CreatedAt"), "CREATED AT");
        assert_eq!(name(PLAIN, "ID"), "ID");
        assert_eq!(name(PLAIN, "DesiredState"), "DESIRED STATE");
        assert_eq!(name(PLAIN, "ConfigFiles"), "CONFIG FILES");
        assert_eq!(name(PLAIN, "TLSStatus"), "TLS STATUS");
        assert_eq!(name(PLAIN, "ABCDef"), "ABC DEF");
        assert_eq!(name(STATS, "MemUsage"), "MEM USAGE / LIMIT");
    }
}
