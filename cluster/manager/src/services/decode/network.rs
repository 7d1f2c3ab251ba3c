//! `--network`: a cluster network a service's tasks join, `NAME` or the long form
//! `name=NAME[,alias=ALIAS…]` (`target=` as a synonym of `name=`, as Docker).

use orchestrator::swarm::NetworkAttachmentConfig;

use super::{SpecError, invalid};

/// Decodes one `--network` value given with `flag`.
pub fn network(flag: &'static str, text: &str) -> Result<NetworkAttachmentConfig, SpecError> {
    let text = text.trim();
    if text.is_empty() {
        return Err(invalid(
            flag,
            text,
            "expected NAME or name=NAME[,alias=ALIAS]",
        ));
    }
    if !text.contains('=') {
        return Ok(NetworkAttachmentConfig {
            target: text.to_owned(),
            aliases: Vec::new(),
        });
    }
    let mut target = None;
    let mut aliases = Vec::new();
    for part in text.split(',') {
        match part.split_once('=') {
            Some(("name" | "target", value)) if !value.is_empty() && target.is_none() => {
                target = Some(value.to_owned());
            }
            Some(("alias", value)) if !value.is_empty() => {
                if !aliases.iter().any(|a| a == value) {
                    aliases.push(value.to_owned());
                }
            }
            _ => {
                return Err(invalid(
                    flag,
                    text,
                    format!("unexpected {part:?}: expected name=NAME and alias=ALIAS"),
                ));
            }
        }
    }
    let target = target.ok_or_else(|| invalid(flag, text, "name=NAME is required"))?;
    Ok(NetworkAttachmentConfig { target, aliases })
}

/// Decodes every `--network` value; a network given twice is refused.
pub fn networks(
    flag: &'static str,
    items: &[String],
) -> Result<Vec<NetworkAttachmentConfig>, SpecError> {
    let mut out: Vec<NetworkAttachmentConfig> = Vec::new();
    for item in items {
        let n = network(flag, item)?;
        if out.iter().any(|o| o.target == n.target) {
            return Err(invalid(
                flag,
                item,
                format!("network {} is given twice", n.target),
            ));
        }
        out.push(n);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_and_long_forms_decode() {
        assert_eq!(network("--network", "front").unwrap().target, "front");
        let long = network("--network", "name=front,alias=web,alias=www,alias=web").unwrap();
        assert_eq!(long.target, "front");
        assert_eq!(long.aliases, ["web", "www"]);
        assert_eq!(network("--network", "target=back").unwrap().target, "back");
        for bad in ["", "alias=x", "name=a,name=b", "name=a,driver=x", "name="] {
            assert!(network("--network", bad).is_err(), "{bad}");
        }
        let err = networks("--network", &["front".into(), "name=front".into()]).unwrap_err();
        assert_eq!(
            err.to_string(),
            "invalid --network \"name=front\": network front is given twice"
        );
    }
}
