//! Talking to OCI distribution registries (Docker Hub, GHCR, a local `docker-registry`):
//! [`pull`] and [`push`] through the `oci-client` crate, which speaks the v2 protocol and does
//! the bearer-token exchange; this module decides the scheme (plain HTTP only for loopback
//! registries and the ones named insecure), picks this platform out of a multi-arch index,
//! verifies every manifest against its digest and lets the blob store verify every blob.
//! [`auth`] keeps the client's stored credentials (`bosun login`).

pub mod auth;
mod platform;
mod pull;
mod puller;
mod push;

use std::net::IpAddr;
use std::str::FromStr;

use engine::image::{Digest, ImageError, ImageRef};
use oci_client::Reference;
use oci_client::client::{ClientConfig, ClientProtocol};
use oci_client::secrets::RegistryAuth;

pub use platform::{Platform, select_manifest};
pub use pull::pull;
pub use puller::RegistryPuller;
pub use push::push;

use super::proto;

/// The environment variable listing registries (host\[:port\], comma separated) the agent may
/// reach over plain HTTP.
pub const INSECURE_ENV: &str = "BOSUN_INSECURE_REGISTRIES";

/// Manifest media types a pull accepts.
pub const MANIFEST_TYPES: [&str; 4] = [
    "application/vnd.oci.image.manifest.v1+json",
    "application/vnd.docker.distribution.manifest.v2+json",
    "application/vnd.oci.image.index.v1+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
];

/// Errors of a pull or a push.
#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    /// The registry refused or failed a request.
    #[error("{what}: {source}")]
    Registry {
        /// What was being done, with the reference or digest.
        what: String,
        /// The client's error.
        source: oci_client::errors::OciDistributionError,
    },
    /// The image store refused the content (a digest mismatch, a bad layer, ...).
    #[error(transparent)]
    Store(#[from] ImageError),
    /// The registry sent something this client does not accept.
    #[error("{0}")]
    Invalid(String),
    /// A blocking task failed.
    #[error("internal error: {0}")]
    Internal(String),
}

impl RegistryError {
    fn registry(
        what: impl Into<String>,
    ) -> impl FnOnce(oci_client::errors::OciDistributionError) -> Self {
        let what = what.into();
        move |source| Self::Registry { what, source }
    }
}

/// Result alias of this module.
pub type Result<T, E = RegistryError> = std::result::Result<T, E>;

/// Which registries may be reached over plain HTTP.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Settings {
    /// Registries (host or host:port) named insecure, besides the loopback ones.
    pub insecure: Vec<String>,
}

impl Settings {
    /// The settings from [`INSECURE_ENV`].
    pub fn from_env() -> Self {
        let insecure = std::env::var(INSECURE_ENV)
            .unwrap_or_default()
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_string)
            .collect();
        Self { insecure }
    }

    /// Whether `registry` (host\[:port\]) is spoken to over plain HTTP: a loopback registry, or
    /// one listed (with or without its port).
    pub fn plain_http(&self, registry: &str) -> bool {
        let host = host_of(registry);
        let loopback =
            host == "localhost" || IpAddr::from_str(host).is_ok_and(|ip| ip.is_loopback());
        loopback || self.insecure.iter().any(|i| i == registry || i == host)
    }

    /// A client for `registry`.
    pub fn client(&self, registry: &str) -> oci_client::Client {
        install_crypto_provider();
        let protocol = if self.plain_http(registry) {
            ClientProtocol::Http
        } else {
            ClientProtocol::Https
        };
        oci_client::Client::new(ClientConfig {
            protocol,
            platform_resolver: None,
            user_agent: concat!("bosun/", env!("CARGO_PKG_VERSION")),
            ..ClientConfig::default()
        })
    }
}

/// The host part of `host[:port]` (brackets of an IPv6 literal removed).
fn host_of(registry: &str) -> &str {
    if let Some(rest) = registry.strip_prefix('[') {
        return rest.split(']').next().unwrap_or(rest);
    }
    match registry.rsplit_once(':') {
        Some((host, port)) if !host.contains(':') && port.bytes().all(|b| b.is_ascii_digit()) => {
            host
        }
        _ => registry,
    }
}

/// rustls needs one process-wide crypto provider; the crate uses ring everywhere.
fn install_crypto_provider() {
    // Fails only when a provider is already installed, which is what we want.
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// The credentials of a request, as the client's type.
pub fn registry_auth(auth: Option<&proto::RegistryAuth>) -> RegistryAuth {
    match auth {
        Some(a) if !a.identity_token.is_empty() => RegistryAuth::Bearer(a.identity_token.clone()),
        Some(a) if !a.username.is_empty() => {
            RegistryAuth::Basic(a.username.clone(), a.password.clone())
        }
        _ => RegistryAuth::Anonymous,
    }
}

/// The client's reference for one of ours.
fn oci_reference(image: &ImageRef) -> Result<Reference> {
    image
        .to_string()
        .parse()
        .map_err(|e| RegistryError::Invalid(format!("reference {image}: {e}")))
}

/// Checks that `data` is the content `expected` names.
fn verify(what: &str, data: &[u8], expected: &Digest) -> Result<()> {
    let actual = Digest::of(data);
    if &actual != expected {
        return Err(ImageError::DigestMismatch {
            what: what.to_string(),
            expected: expected.to_string(),
            actual: actual.to_string(),
        }
        .into());
    }
    Ok(())
}

/// A progress line.
fn progress(id: &str, status: &str, current: u64, total: u64) -> proto::ImageProgress {
    proto::ImageProgress {
        id: id.to_string(),
        status: status.to_string(),
        current,
        total,
        done: false,
        result: String::new(),
    }
}

/// The digest `image`'s registry gives its reference now (the manifest, or the index of a
/// multi-platform image), as a HEAD request asks it: what `--resolve-image` pins a service to.
pub async fn manifest_digest(
    settings: &Settings,
    image: &ImageRef,
    auth: Option<&proto::RegistryAuth>,
) -> Result<String> {
    let reference = oci_reference(image)?;
    let client = settings.client(image.registry());
    client
        .fetch_manifest_digest(&reference, &registry_auth(auth))
        .await
        .map_err(RegistryError::registry(format!("digest of {image}")))
}

/// Checks the credentials against `registry` (host\[:port\]) the way a pull would use them.
pub async fn check_login(
    settings: &Settings,
    registry: &str,
    auth: &proto::RegistryAuth,
) -> Result<()> {
    let probe = ImageRef::parse(&format!("{registry}/bosun/login-check"))?;
    let reference = oci_reference(&probe)?;
    let client = settings.client(registry);
    client
        .auth(
            &reference,
            &registry_auth(Some(auth)),
            oci_client::RegistryOperation::Pull,
        )
        .await
        .map_err(RegistryError::registry(format!("log in to {registry}")))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_http_table() {
        let settings = Settings {
            insecure: vec!["reg.lan:5000".into(), "other.lan".into()],
        };
        for (registry, plain) in [
            ("localhost:5000", true),
            ("localhost", true),
            ("127.0.0.1:5000", true),
            ("[::1]:5000", true),
            ("reg.lan:5000", true),
            ("reg.lan:6000", false),
            ("other.lan:443", true),
            ("docker.io", false),
            ("ghcr.io", false),
            ("10.0.0.1:5000", false),
        ] {
            assert_eq!(settings.plain_http(registry), plain, "{registry}");
        }
    }

    #[test]
    fn auth_table() {
        let basic = proto::RegistryAuth {
            username: "u".into(),
            password: "p".into(),
            identity_token: String::new(),
        };
        assert!(
            matches!(registry_auth(Some(&basic)), RegistryAuth::Basic(u, p) if u == "u" && p == "p")
        );
        let token = proto::RegistryAuth {
            identity_token: "t".into(),
            ..basic.clone()
        };
        assert!(matches!(registry_auth(Some(&token)), RegistryAuth::Bearer(t) if t == "t"));
        assert!(matches!(registry_auth(None), RegistryAuth::Anonymous));
        assert!(matches!(
            registry_auth(Some(&proto::RegistryAuth::default())),
            RegistryAuth::Anonymous
        ));
    }
}
