//! The cluster root CA: created once by `cluster init`, it signs every node certificate.

use std::time::Duration;

use rcgen::{
    BasicConstraints, CertificateParams, CertificateSigningRequestParams, DistinguishedName,
    DnType, ExtendedKeyUsagePurpose, IsCa, KeyPair, KeyUsagePurpose, SanType,
};
use time::OffsetDateTime;

use super::{CLUSTER_SERVER_NAME, PkiError, ca_digest, role_name};
use cluster_state::NodeRole;

/// Validity of the root CA.
pub const CA_VALIDITY: Duration = Duration::from_secs(10 * 365 * 24 * 3600);
/// Default validity of a node certificate.
pub const NODE_VALIDITY: Duration = cluster_state::DEFAULT_CERT_VALIDITY;
/// Tolerated clock skew: certificates are valid from this long before their issue time.
pub const BACKDATE: Duration = Duration::from_secs(300);
const SKEW: Duration = BACKDATE;

/// The root CA: its certificate and private key, both PEM.
#[derive(Clone, PartialEq, Eq)]
pub struct ClusterCa {
    /// The CA certificate.
    pub cert_pem: String,
    /// The CA private key.
    pub key_pem: String,
}

impl std::fmt::Debug for ClusterCa {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClusterCa")
            .field("digest", &self.digest().unwrap_or_default())
            .finish_non_exhaustive()
    }
}

fn rc(what: &'static str) -> impl FnOnce(rcgen::Error) -> PkiError {
    move |source| PkiError::Rcgen { what, source }
}

impl ClusterCa {
    /// Creates a new root CA valid for [`CA_VALIDITY`].
    pub fn generate() -> Result<Self, PkiError> {
        let key = KeyPair::generate().map_err(rc("generate the ca key"))?;
        let mut params = CertificateParams::default();
        let mut name = DistinguishedName::new();
        name.push(DnType::CommonName, "bosun root ca");
        name.push(DnType::OrganizationName, "bosun");
        params.distinguished_name = name;
        params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
        params.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        let now = OffsetDateTime::now_utc();
        params.not_before = now - SKEW;
        params.not_after = now + CA_VALIDITY;
        let cert = params.self_signed(&key).map_err(rc("sign the ca"))?;
        Ok(ClusterCa {
            cert_pem: cert.pem(),
            key_pem: key.serialize_pem(),
        })
    }

    /// Hex SHA-256 of the CA certificate's DER, as carried by join tokens.
    pub fn digest(&self) -> Result<String, PkiError> {
        ca_digest(&self.cert_pem)
    }

    /// Signs the public key of `csr_pem` into a certificate for `node_id` with `role`, valid
    /// for `validity`. Everything but the public key comes from the CA, not the request.
    pub fn sign(
        &self,
        csr_pem: &str,
        node_id: &str,
        role: NodeRole,
        validity: Duration,
    ) -> Result<String, PkiError> {
        let ca_key = KeyPair::from_pem(&self.key_pem).map_err(rc("load the ca key"))?;
        let ca_params =
            CertificateParams::from_ca_cert_pem(&self.cert_pem).map_err(rc("load the ca"))?;
        let issuer = ca_params.self_signed(&ca_key).map_err(rc("load the ca"))?;
        let mut csr =
            CertificateSigningRequestParams::from_pem(csr_pem).map_err(rc("read the request"))?;
        csr.params = node_params(node_id, role, validity)?;
        let cert = csr
            .signed_by(&issuer, &ca_key)
            .map_err(rc("sign the node certificate"))?;
        Ok(cert.pem())
    }
}

/// Certificate parameters of a node: CN = node id, OU = role, usable for both TLS ends.
fn node_params(
    node_id: &str,
    role: NodeRole,
    validity: Duration,
) -> Result<CertificateParams, PkiError> {
    let mut params = CertificateParams::default();
    let mut name = DistinguishedName::new();
    name.push(DnType::CommonName, node_id);
    name.push(DnType::OrganizationalUnitName, role_name(role));
    name.push(DnType::OrganizationName, "bosun");
    params.distinguished_name = name;
    params.subject_alt_names = vec![SanType::DnsName(
        CLUSTER_SERVER_NAME
            .try_into()
            .map_err(rc("name the certificate"))?,
    )];
    params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    params.extended_key_usages = vec![
        ExtendedKeyUsagePurpose::ServerAuth,
        ExtendedKeyUsagePurpose::ClientAuth,
    ];
    let now = OffsetDateTime::now_utc();
    params.not_before = now - SKEW;
    params.not_after = now + validity;
    Ok(params)
}
