//! `stack deploy --resolve-image`: which images are pinned to a manifest digest
//! (`name:tag@sha256:…`) before the comparison with what runs. `always` pins every service's
//! image to the digest it has now, so a tag that moved to another image is a change and the
//! service is updated; `changed` keeps the pin of a service whose image reference is the one
//! it already runs and pins the others; `never` records references as typed.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::str::FromStr;

use super::convert::StackService;
use super::diff::Existing;
use super::stack_of;

/// When images are pinned to their digest.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum ResolveImage {
    /// Every image, at every deploy.
    #[default]
    Always,
    /// Only images whose reference differs from the one the service runs.
    Changed,
    /// None: references as typed.
    Never,
}

impl ResolveImage {
    /// The option's value.
    pub fn as_str(self) -> &'static str {
        match self {
            ResolveImage::Always => "always",
            ResolveImage::Changed => "changed",
            ResolveImage::Never => "never",
        }
    }
}

impl fmt::Display for ResolveImage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for ResolveImage {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "always" => Ok(ResolveImage::Always),
            "changed" => Ok(ResolveImage::Changed),
            "never" => Ok(ResolveImage::Never),
            other => Err(format!(
                "invalid --resolve-image {other:?}: expected always, changed or never"
            )),
        }
    }
}

/// `image` without its `@digest`.
pub fn without_digest(image: &str) -> &str {
    image.split_once('@').map_or(image, |(name, _)| name)
}

/// The existing pinned image of the stack's service `name` when it runs `image` (as typed).
fn kept<'a>(stack: &str, existing: &'a [Existing], name: &str, image: &str) -> Option<&'a str> {
    existing
        .iter()
        .find(|e| e.name == name && stack_of(&e.spec.labels) == Some(stack))
        .map(|e| e.spec.image.as_str())
        .filter(|pinned| pinned.contains('@') && without_digest(pinned) == image)
}

/// The image references whose digest `pin` needs under `mode`.
pub fn to_resolve(
    stack: &str,
    desired: &[StackService],
    existing: &[Existing],
    mode: ResolveImage,
) -> BTreeSet<String> {
    if mode == ResolveImage::Never {
        return BTreeSet::new();
    }
    desired
        .iter()
        .filter(|s| !s.spec.image.contains('@'))
        .filter(|s| {
            mode == ResolveImage::Always || kept(stack, existing, &s.name, &s.spec.image).is_none()
        })
        .map(|s| s.spec.image.clone())
        .collect()
}

/// Pins the images of `desired` under `mode`, with `digests` holding the digest of each
/// reference found (one without a digest is left as typed, for the nodes to pull).
pub fn pin(
    stack: &str,
    desired: &mut [StackService],
    existing: &[Existing],
    mode: ResolveImage,
    digests: &BTreeMap<String, String>,
) {
    for service in desired.iter_mut() {
        let image = service.spec.image.clone();
        if image.contains('@') || mode == ResolveImage::Never {
            continue;
        }
        if mode == ResolveImage::Changed
            && let Some(pinned) = kept(stack, existing, &service.name, &image)
        {
            service.spec.image = pinned.to_owned();
            continue;
        }
        if let Some(digest) = digests.get(&image) {
            service.spec.image = format!("{image}@{digest}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stack::NAMESPACE_LABEL;
    use crate::swarm::ServiceSpec;

    fn service(name: &str, image: &str) -> StackService {
        let mut spec = ServiceSpec {
            image: image.to_owned(),
            ..ServiceSpec::default()
        };
        spec.labels.insert(NAMESPACE_LABEL.into(), "app".into());
        StackService {
            service: name.trim_start_matches("app_").to_owned(),
            name: name.to_owned(),
            spec,
        }
    }

    fn existing(name: &str, image: &str) -> Existing {
        Existing {
            id: name.to_owned(),
            name: name.to_owned(),
            spec: service(name, image).spec,
        }
    }

    const OLD: &str = "sha256:1111";
    const NEW: &str = "sha256:2222";

    #[test]
    fn always_pins_every_image_to_its_digest_now() {
        let running = [existing("app_web", &format!("web:1@{OLD}"))];
        let mut desired = vec![service("app_web", "web:1"), service("app_db", "db:2")];
        let wanted = to_resolve("app", &desired, &running, ResolveImage::Always);
        assert_eq!(wanted, ["db:2".to_owned(), "web:1".to_owned()].into());
        let digests = BTreeMap::from([("web:1".to_owned(), NEW.to_owned())]);
        pin(
            "app",
            &mut desired,
            &running,
            ResolveImage::Always,
            &digests,
        );
        assert_eq!(desired[0].spec.image, format!("web:1@{NEW}"));
        // No digest found (the image is nowhere here): as typed.
        assert_eq!(desired[1].spec.image, "db:2");
    }

    #[test]
    fn changed_keeps_the_pin_of_an_unchanged_reference_only() {
        let running = [existing("app_web", &format!("web:1@{OLD}"))];
        let mut desired = vec![service("app_web", "web:1"), service("app_api", "web:2")];
        let wanted = to_resolve("app", &desired, &running, ResolveImage::Changed);
        assert_eq!(wanted, ["web:2".to_owned()].into());
        let digests = BTreeMap::from([
            ("web:1".to_owned(), NEW.to_owned()),
            ("web:2".to_owned(), NEW.to_owned()),
        ]);
        pin(
            "app",
            &mut desired,
            &running,
            ResolveImage::Changed,
            &digests,
        );
        assert_eq!(desired[0].spec.image, format!("web:1@{OLD}"));
        assert_eq!(desired[1].spec.image, format!("web:2@{NEW}"));
    }

    #[test]
    fn never_records_references_as_typed() {
        let running = [existing("app_web", &format!("web:1@{OLD}"))];
        let mut desired = vec![service("app_web", "web:1")];
        assert!(to_resolve("app", &desired, &running, ResolveImage::Never).is_empty());
        let digests = BTreeMap::from([("web:1".to_owned(), NEW.to_owned())]);
        pin("app", &mut desired, &running, ResolveImage::Never, &digests);
        assert_eq!(desired[0].spec.image, "web:1");
        assert_eq!("never".parse(), Ok(ResolveImage::Never));
        assert!("sometimes".parse::<ResolveImage>().is_err());
        assert_eq!(without_digest(&format!("web:1@{OLD}")), "web:1");
    }
}
