//! Image references normalized as Docker does: `redis` is `docker.io/library/redis:latest`.
//!
//! Parsing is the OCI distribution grammar of the `oci-spec` crate (the same type `oci-client`
//! uses); this module adds Docker's "familiar" short form for display.

use std::fmt;

use oci_spec::distribution::Reference;

use super::digest::Digest;
use super::error::ImageError;

const DOCKER_HUB: &str = "docker.io";
const OFFICIAL_PREFIX: &str = "library/";

/// A normalized image reference: registry, repository, and a tag and/or a digest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageRef {
    registry: String,
    repository: String,
    tag: Option<String>,
    digest: Option<Digest>,
}

impl ImageRef {
    /// Parses and normalizes `text` (`redis`, `redis:7`, `localhost:5000/app@sha256:…`).
    /// A reference with neither tag nor digest gets the tag `latest`.
    pub fn parse(text: &str) -> Result<Self, ImageError> {
        let invalid = |reason: String| ImageError::InvalidReference {
            reference: text.to_string(),
            reason,
        };
        let parsed: Reference = text.parse().map_err(|e| invalid(format!("{e}")))?;
        if parsed.repository().chars().any(|c| c.is_ascii_uppercase()) {
            return Err(invalid("repository name must be lowercase".into()));
        }
        let digest = parsed
            .digest()
            .map(|d| d.parse::<Digest>())
            .transpose()
            .map_err(|e| invalid(e.to_string()))?;
        Ok(Self {
            registry: parsed.registry().to_string(),
            repository: parsed.repository().to_string(),
            tag: parsed.tag().map(str::to_string),
            digest,
        })
    }

    /// The same repository with another tag and no digest.
    pub fn with_tag(&self, tag: &str) -> Self {
        Self {
            tag: Some(tag.to_string()),
            digest: None,
            ..self.clone()
        }
    }

    /// The same repository with a digest and no tag.
    pub(crate) fn with_digest(&self, digest: &Digest) -> Self {
        Self {
            tag: None,
            digest: Some(digest.clone()),
            ..self.clone()
        }
    }

    /// The registry host (with port), e.g. `docker.io`, `localhost:5000`.
    pub fn registry(&self) -> &str {
        &self.registry
    }

    /// The repository path, e.g. `library/redis`.
    pub fn repository(&self) -> &str {
        &self.repository
    }

    /// The tag, if any.
    pub fn tag(&self) -> Option<&str> {
        self.tag.as_deref()
    }

    /// The digest, if any.
    pub fn digest(&self) -> Option<&Digest> {
        self.digest.as_ref()
    }

    /// `registry/repository`, e.g. `docker.io/library/redis`.
    pub fn name(&self) -> String {
        format!("{}/{}", self.registry, self.repository)
    }

    /// The name as Docker prints it: `redis`, `user/app`, `localhost:5000/app`.
    pub(crate) fn familiar_name(&self) -> String {
        if self.registry == DOCKER_HUB {
            self.repository
                .strip_prefix(OFFICIAL_PREFIX)
                .filter(|rest| !rest.contains('/'))
                .unwrap_or(&self.repository)
                .to_string()
        } else {
            self.name()
        }
    }

    /// The whole reference as Docker prints it: `redis:latest`, `app@sha256:…`.
    pub fn familiar(&self) -> String {
        suffixed(self.familiar_name(), self.tag(), self.digest())
    }
}

fn suffixed(mut out: String, tag: Option<&str>, digest: Option<&Digest>) -> String {
    if let Some(tag) = tag {
        out.push(':');
        out.push_str(tag);
    }
    if let Some(digest) = digest {
        out.push('@');
        out.push_str(&digest.to_string());
    }
    out
}

impl fmt::Display for ImageRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&suffixed(self.name(), self.tag(), self.digest()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalization_table() {
        let d = format!("sha256:{}", "0".repeat(64));
        let cases = [
            ("redis", "docker.io/library/redis:latest", "redis:latest"),
            ("redis:7", "docker.io/library/redis:7", "redis:7"),
            ("user/app:v1", "docker.io/user/app:v1", "user/app:v1"),
            (
                "index.docker.io/library/redis",
                "docker.io/library/redis:latest",
                "redis:latest",
            ),
            (
                "docker.io/library/a/b",
                "docker.io/library/a/b:latest",
                "library/a/b:latest",
            ),
            (
                "localhost:5000/app",
                "localhost:5000/app:latest",
                "localhost:5000/app:latest",
            ),
            ("localhost/app:x", "localhost/app:x", "localhost/app:x"),
            ("ghcr.io/o/r:1.0", "ghcr.io/o/r:1.0", "ghcr.io/o/r:1.0"),
        ];
        for (input, full, familiar) in cases {
            let r = ImageRef::parse(input).unwrap();
            assert_eq!(r.to_string(), full, "{input}");
            assert_eq!(r.familiar(), familiar, "{input}");
        }
        let with_digest = ImageRef::parse(&format!("redis@{d}")).unwrap();
        assert_eq!(with_digest.tag(), None);
        assert_eq!(
            with_digest.to_string(),
            format!("docker.io/library/redis@{d}")
        );
        assert_eq!(with_digest.digest().unwrap().to_string(), d);
    }

    #[test]
    fn invalid_references_are_errors() {
        for bad in ["", "UPPER/case", "a b", "redis@sha256:12", "redis:"] {
            let err = ImageRef::parse(bad).unwrap_err();
            assert!(
                err.to_string().contains("invalid reference format"),
                "{bad}: {err}"
            );
        }
    }
}
