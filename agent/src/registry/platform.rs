//! Choosing this node's image out of a multi-arch index (manifest list).

use std::fmt;
use std::str::FromStr;

use engine::image::Digest;
use serde_json::Value;

use super::{RegistryError, Result};

/// An OS/architecture pair in OCI terms (`linux/amd64`, `linux/arm64/v8`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Platform {
    /// `linux`.
    pub os: String,
    /// `amd64`, `arm64`, `arm`, ...
    pub architecture: String,
    /// `v7`, `v8`, ... when it matters.
    pub variant: Option<String>,
}

impl Platform {
    /// The platform this program runs on.
    pub fn current() -> Self {
        let architecture = match std::env::consts::ARCH {
            "x86_64" => "amd64",
            "aarch64" => "arm64",
            "x86" => "386",
            "powerpc64" => "ppc64le",
            "s390x" => "s390x",
            "riscv64" => "riscv64",
            "arm" => "arm",
            other => other,
        };
        Self {
            os: "linux".into(),
            architecture: architecture.into(),
            variant: None,
        }
    }

    fn matches(&self, platform: &Value) -> bool {
        let field = |k: &str| platform.get(k).and_then(Value::as_str);
        if field("os") != Some(self.os.as_str())
            || field("architecture") != Some(self.architecture.as_str())
        {
            return false;
        }
        match &self.variant {
            None => true,
            // arm64 images often omit the (only) variant v8.
            Some(v) => field("variant").map_or(v == "v8", |w| w == v),
        }
    }
}

impl FromStr for Platform {
    type Err = RegistryError;

    fn from_str(text: &str) -> Result<Self> {
        let parts: Vec<&str> = text.split('/').collect();
        match parts.as_slice() {
            [os, arch] if !os.is_empty() && !arch.is_empty() => Ok(Self {
                os: (*os).into(),
                architecture: (*arch).into(),
                variant: None,
            }),
            [os, arch, variant] if !os.is_empty() && !arch.is_empty() && !variant.is_empty() => {
                Ok(Self {
                    os: (*os).into(),
                    architecture: (*arch).into(),
                    variant: Some((*variant).into()),
                })
            }
            _ => Err(RegistryError::Invalid(format!(
                "invalid platform {text:?}: use os/arch[/variant]"
            ))),
        }
    }
}

impl fmt::Display for Platform {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.os, self.architecture)?;
        if let Some(v) = &self.variant {
            write!(f, "/{v}")?;
        }
        Ok(())
    }
}

/// Whether a manifest document is an index (it lists manifests instead of layers).
pub(super) fn is_index(manifest: &Value) -> bool {
    manifest.get("manifests").is_some_and(Value::is_array)
}

/// The digest of the manifest for `platform` in an index; the first match wins, as in Docker.
pub fn select_manifest(index: &Value, platform: &Platform) -> Result<Digest> {
    let entries = index
        .get("manifests")
        .and_then(Value::as_array)
        .ok_or_else(|| RegistryError::Invalid("image index lists no manifests".into()))?;
    let entry = entries
        .iter()
        .find(|e| e.get("platform").is_some_and(|p| platform.matches(p)))
        .ok_or_else(|| {
            RegistryError::Invalid(format!(
                "no matching manifest for {platform} in the manifest list entries"
            ))
        })?;
    let digest = entry
        .get("digest")
        .and_then(Value::as_str)
        .ok_or_else(|| RegistryError::Invalid("index entry without digest".into()))?;
    Ok(digest.parse::<Digest>()?)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn digest(c: char) -> String {
        format!("sha256:{}", c.to_string().repeat(64))
    }

    #[test]
    fn selects_this_platform_table() {
        let index = serde_json::json!({
            "schemaVersion": 2,
            "manifests": [
                {"digest": digest('a'), "platform": {"os": "linux", "architecture": "arm", "variant": "v7"}},
                {"digest": digest('b'), "platform": {"os": "linux", "architecture": "arm64"}},
                {"digest": digest('c'), "platform": {"os": "linux", "architecture": "amd64"}},
                {"digest": digest('d'), "platform": {"os": "windows", "architecture": "amd64"}},
                {"digest": digest('e'), "platform": {"os": "unknown", "architecture": "unknown"}},
            ]
        });
        for (platform, expected) in [
            ("linux/amd64", Some('c')),
            ("linux/arm64", Some('b')),
            ("linux/arm64/v8", Some('b')),
            ("linux/arm/v7", Some('a')),
            ("linux/arm/v6", None),
            ("windows/amd64", Some('d')),
            ("linux/s390x", None),
        ] {
            let p: Platform = platform.parse().unwrap();
            let got = select_manifest(&index, &p).ok().map(|d| d.to_string());
            assert_eq!(got, expected.map(digest), "{platform}");
        }
        assert!(is_index(&index));
        assert!(!is_index(&serde_json::json!({"layers": []})));
    }

    #[test]
    fn platform_parse_table() {
        for (text, ok) in [
            ("linux/amd64", true),
            ("linux/arm/v7", true),
            ("linux", false),
            ("/amd64", false),
            ("a/b/c/d", false),
        ] {
            assert_eq!(text.parse::<Platform>().is_ok(), ok, "{text}");
        }
        assert_eq!(Platform::current().os, "linux");
        assert_eq!(Platform::current().to_string().split('/').count(), 2);
    }
}
