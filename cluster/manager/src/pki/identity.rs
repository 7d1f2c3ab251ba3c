//! A node's identity (its key, its certificate and the CA it trusts), how a peer's identity
//! is read from its certificate, and when a certificate is due for renewal.

use std::path::Path;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use rcgen::{CertificateParams, KeyPair};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use sha2::{Digest, Sha256};
use x509_parser::prelude::{FromDer, X509Certificate};

use super::{PkiError, parse_role};
use cluster_state::NodeRole;

/// The DNS name every node certificate carries; TLS clients verify servers against it, and
/// read the server's node id and role from the subject.
pub const CLUSTER_SERVER_NAME: &str = "bosun.cluster";

const CA_FILE: &str = "ca.pem";
const CERT_FILE: &str = "node.pem";
const KEY_FILE: &str = "node.key";

/// Who is at the other end of a connection, as its certificate says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PeerIdentity {
    /// The node id (certificate CN).
    pub node_id: String,
    /// The role (certificate OU).
    pub role: NodeRole,
    /// End of validity, seconds since the Unix epoch.
    pub not_after: i64,
    /// Start of validity, seconds since the Unix epoch.
    pub not_before: i64,
}

/// This node's TLS identity.
#[derive(Clone, PartialEq, Eq)]
pub struct NodeIdentity {
    /// The CA certificate this node trusts.
    pub ca_pem: String,
    /// This node's certificate.
    pub cert_pem: String,
    /// This node's private key.
    pub key_pem: String,
}

impl std::fmt::Debug for NodeIdentity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NodeIdentity")
            .field("peer", &self.identity().ok())
            .finish_non_exhaustive()
    }
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> PkiError + '_ {
    move |source| PkiError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// Writes `data` to `path` atomically (temp file, fsync, rename) with mode `mode`.
fn write_atomic(path: &Path, data: &str, mode: u32) -> Result<(), PkiError> {
    use std::io::Write as _;
    use std::os::unix::fs::OpenOptionsExt as _;
    let tmp = path.with_extension("tmp");
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(mode)
        .open(&tmp)
        .map_err(io(&tmp))?;
    file.write_all(data.as_bytes()).map_err(io(&tmp))?;
    file.sync_all().map_err(io(&tmp))?;
    std::fs::rename(&tmp, path).map_err(io(path))
}

impl NodeIdentity {
    /// Loads the identity stored in `dir`.
    pub fn load(dir: &Path) -> Result<Self, PkiError> {
        let read = |name: &str| {
            let path = dir.join(name);
            std::fs::read_to_string(&path).map_err(|source| PkiError::Io { path, source })
        };
        Ok(NodeIdentity {
            ca_pem: read(CA_FILE)?,
            cert_pem: read(CERT_FILE)?,
            key_pem: read(KEY_FILE)?,
        })
    }

    /// Whether `dir` holds an identity.
    pub fn exists(dir: &Path) -> bool {
        dir.join(CERT_FILE).exists()
    }

    /// Stores the identity in `dir` (the key readable by its owner only).
    pub fn save(&self, dir: &Path) -> Result<(), PkiError> {
        std::fs::create_dir_all(dir).map_err(io(dir))?;
        write_atomic(&dir.join(CA_FILE), &self.ca_pem, 0o644)?;
        write_atomic(&dir.join(KEY_FILE), &self.key_pem, 0o600)?;
        write_atomic(&dir.join(CERT_FILE), &self.cert_pem, 0o644)
    }

    /// The node id, role and validity in this node's certificate.
    pub fn identity(&self) -> Result<PeerIdentity, PkiError> {
        peer_identity(&first_cert(&self.cert_pem)?)
    }

    /// The certificate chain to present: this node's certificate, then the CA, so that a
    /// joining peer can pin the CA by its digest.
    pub fn chain(&self) -> Result<Vec<CertificateDer<'static>>, PkiError> {
        Ok(vec![first_cert(&self.cert_pem)?, first_cert(&self.ca_pem)?])
    }

    /// The CA certificate.
    pub fn ca_cert(&self) -> Result<CertificateDer<'static>, PkiError> {
        first_cert(&self.ca_pem)
    }

    /// The private key.
    pub fn private_key(&self) -> Result<PrivateKeyDer<'static>, PkiError> {
        PrivateKeyDer::from_pem_slice(self.key_pem.as_bytes()).map_err(|_| PkiError::NoPem {
            what: "private key",
        })
    }
}

/// The first certificate in PEM data.
pub(crate) fn first_cert(pem: &str) -> Result<CertificateDer<'static>, PkiError> {
    CertificateDer::from_pem_slice(pem.as_bytes()).map_err(|_| PkiError::NoPem {
        what: "certificate",
    })
}

/// Hex SHA-256 of the DER of the first certificate in `pem`.
pub fn ca_digest(pem: &str) -> Result<String, PkiError> {
    Ok(hex::encode(Sha256::digest(first_cert(pem)?.as_ref())))
}

/// Reads the node id (CN) and role (OU) of a DER certificate.
pub fn peer_identity(der: &[u8]) -> Result<PeerIdentity, PkiError> {
    let (_, cert) = X509Certificate::from_der(der)
        .map_err(|e| PkiError::BadCertificate(format!("cannot parse: {e}")))?;
    let subject = cert.subject();
    let node_id = subject
        .iter_common_name()
        .next()
        .and_then(|cn| cn.as_str().ok())
        .ok_or_else(|| PkiError::BadCertificate("no common name (node id)".into()))?;
    let ou = subject
        .iter_organizational_unit()
        .next()
        .and_then(|ou| ou.as_str().ok())
        .ok_or_else(|| PkiError::BadCertificate("no organizational unit (role)".into()))?;
    let role =
        parse_role(ou).ok_or_else(|| PkiError::BadCertificate(format!("unknown role {ou:?}")))?;
    let validity = cert.validity();
    Ok(PeerIdentity {
        node_id: node_id.to_owned(),
        role,
        not_before: validity.not_before.timestamp(),
        not_after: validity.not_after.timestamp(),
    })
}

/// A new private key and a certificate signing request for it, both PEM.
pub fn new_key_and_csr() -> Result<(String, String), PkiError> {
    let key = KeyPair::generate().map_err(|source| PkiError::Rcgen {
        what: "generate a node key",
        source,
    })?;
    let csr = CertificateParams::default()
        .serialize_request(&key)
        .and_then(|csr| csr.pem())
        .map_err(|source| PkiError::Rcgen {
            what: "build a signing request",
            source,
        })?;
    Ok((key.serialize_pem(), csr))
}

/// When a certificate valid over `[not_before, not_after]` (Unix seconds) should be renewed:
/// at `fraction` of its lifetime, where `fraction` is drawn uniformly in `[0.5, 0.8)` by the
/// caller (`fastrand::f64()` mapped with [`renewal_fraction`]), so that nodes do not all renew
/// at once.
pub fn renewal_at(not_before: i64, not_after: i64, fraction: f64) -> SystemTime {
    let lifetime = (not_after - not_before).max(0) as f64;
    let offset = (lifetime * fraction.clamp(0.5, 0.8)) as i64;
    let at = (not_before + offset).max(0) as u64;
    UNIX_EPOCH + Duration::from_secs(at)
}

/// Maps a uniform sample of `[0, 1)` onto the renewal window `[0.5, 0.8)`.
pub fn renewal_fraction(uniform: f64) -> f64 {
    0.5 + 0.3 * uniform.clamp(0.0, 1.0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pki::{ClusterCa, NODE_VALIDITY};

    fn issue(ca: &ClusterCa, id: &str, role: NodeRole) -> NodeIdentity {
        let (key_pem, csr) = new_key_and_csr().unwrap();
        let cert_pem = ca.sign(&csr, id, role, NODE_VALIDITY).unwrap();
        NodeIdentity {
            ca_pem: ca.cert_pem.clone(),
            cert_pem,
            key_pem,
        }
    }

    #[test]
    fn issued_certificate_carries_node_id_role_and_90_days() {
        let ca = ClusterCa::generate().unwrap();
        for role in [NodeRole::Manager, NodeRole::Worker] {
            let node = issue(&ca, "n1a2b3", role);
            let peer = node.identity().unwrap();
            assert_eq!((peer.node_id.as_str(), peer.role), ("n1a2b3", role));
            let days = (peer.not_after - peer.not_before) / 86_400;
            assert_eq!(days, 90, "validity is 90 days plus the skew margin");
        }
    }

    #[test]
    fn digest_is_sha256_of_the_ca_der_and_differs_between_cas() {
        let (a, b) = (
            ClusterCa::generate().unwrap(),
            ClusterCa::generate().unwrap(),
        );
        let digest = a.digest().unwrap();
        assert_eq!(digest.len(), 64);
        let der = first_cert(&a.cert_pem).unwrap();
        assert_eq!(digest, hex::encode(Sha256::digest(der.as_ref())));
        assert_ne!(digest, b.digest().unwrap());
    }

    #[test]
    fn identity_survives_save_and_load() {
        let dir = tempfile::tempdir().unwrap();
        let ca = ClusterCa::generate().unwrap();
        let node = issue(&ca, "abc", NodeRole::Worker);
        node.save(dir.path()).unwrap();
        assert!(NodeIdentity::exists(dir.path()));
        assert_eq!(NodeIdentity::load(dir.path()).unwrap(), node);
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(dir.path().join(KEY_FILE))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
        assert_eq!(node.chain().unwrap().len(), 2);
        node.private_key().unwrap();
    }

    #[test]
    fn renewal_falls_between_half_and_four_fifths_of_the_lifetime() {
        let (start, end) = (1_000_000, 1_000_000 + 90 * 86_400);
        let at = |f| {
            renewal_at(start, end, f)
                .duration_since(UNIX_EPOCH)
                .unwrap()
                .as_secs() as i64
        };
        assert_eq!(at(renewal_fraction(0.0)), start + 45 * 86_400);
        assert_eq!(at(renewal_fraction(1.0)), start + 72 * 86_400);
        for _ in 0..100 {
            let t = at(renewal_fraction(fastrand::f64()));
            assert!((start + 45 * 86_400..=start + 72 * 86_400).contains(&t));
        }
    }

    #[test]
    fn garbage_is_not_a_certificate() {
        let err = peer_identity(b"not a certificate").unwrap_err();
        assert!(
            err.to_string()
                .starts_with("invalid certificate: cannot parse")
        );
    }
}
