//! Mutual TLS for the manager API: rustls configurations built from a node identity, a
//! client connector that checks the server's role, a join connector that pins the CA by the
//! token's digest, and a server-side stream that carries the peer's identity into requests.

// Public only to the simulation (the `testing` feature).
#![cfg_attr(not(feature = "testing"), allow(unreachable_pub))]

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::{ResolvesClientCert, WebPkiServerVerifier};
use rustls::crypto::CryptoProvider;
use rustls::server::{ClientHello, ResolvesServerCert, WebPkiClientVerifier};
use rustls::sign::CertifiedKey;
use rustls::{ClientConfig, DigitallySignedStruct, RootCertStore, ServerConfig, SignatureScheme};
use rustls_pki_types::{CertificateDer, ServerName, UnixTime};
use sha2::{Digest, Sha256};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio_stream::wrappers::ReceiverStream;
use tonic::transport::server::Connected;
use tonic::transport::{Channel, Endpoint, Uri};

use super::ManagerError;
use crate::pki::{CLUSTER_SERVER_NAME, NodeIdentity, PeerIdentity, peer_identity};
use cluster_state::NodeRole;

/// The largest message a manager accepts or sends on its gRPC port (tonic's default is
/// 4 MiB). Raft batches (several append messages of up to 1 MiB each, or one entry that
/// creates a service's thousands of tasks), snapshots of a large store and forwarded reads of
/// whole kinds are bigger than that at scale; a message refused for its size would never be
/// delivered, and the followers would never catch up.
pub const MAX_MESSAGE: usize = 1 << 30;

/// Time allowed for TCP connect plus TLS handshake.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);

fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

fn tls_err(what: &'static str) -> impl FnOnce(rustls::Error) -> ManagerError {
    move |source| ManagerError::Tls {
        what,
        message: source.to_string(),
    }
}

fn roots(ca: CertificateDer<'static>) -> Result<Arc<RootCertStore>, ManagerError> {
    let mut roots = RootCertStore::empty();
    roots.add(ca).map_err(tls_err("trust the cluster ca"))?;
    Ok(Arc::new(roots))
}

/// This node's certificate and key as presented in handshakes; replaced when the certificate
/// is renewed, so new connections use the new one while open ones carry on.
#[derive(Debug)]
pub struct CertStore {
    /// A std lock: held only to clone or swap the pointer, never across an await.
    current: std::sync::RwLock<Arc<CertifiedKey>>,
}

fn certified(identity: &NodeIdentity) -> Result<Arc<CertifiedKey>, ManagerError> {
    let key = provider()
        .key_provider
        .load_private_key(identity.private_key()?)
        .map_err(tls_err("load the node key"))?;
    Ok(Arc::new(CertifiedKey::new(identity.chain()?, key)))
}

impl CertStore {
    /// A store presenting `identity`.
    pub fn new(identity: &NodeIdentity) -> Result<Arc<Self>, ManagerError> {
        Ok(Arc::new(CertStore {
            current: std::sync::RwLock::new(certified(identity)?),
        }))
    }

    /// Presents `identity` from the next handshake on.
    pub fn replace(&self, identity: &NodeIdentity) -> Result<(), ManagerError> {
        let next = certified(identity)?;
        *self
            .current
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = next;
        Ok(())
    }

    fn current(&self) -> Arc<CertifiedKey> {
        self.current
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }
}

impl ResolvesServerCert for CertStore {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(self.current())
    }
}

impl ResolvesClientCert for CertStore {
    fn resolve(
        &self,
        _root_hint_subjects: &[&[u8]],
        _sigschemes: &[SignatureScheme],
    ) -> Option<Arc<CertifiedKey>> {
        Some(self.current())
    }

    fn has_certs(&self) -> bool {
        true
    }
}

/// The server side: presents whatever `store` holds at each handshake, verifies client
/// certificates against the cluster CA, and lets clients without one in (only `Join` serves
/// them).
pub fn server_config_for(
    store: &Arc<CertStore>,
    identity: &NodeIdentity,
) -> Result<Arc<ServerConfig>, ManagerError> {
    let provider = provider();
    let verifier =
        WebPkiClientVerifier::builder_with_provider(roots(identity.ca_cert()?)?, provider.clone())
            .allow_unauthenticated()
            .build()
            .map_err(|e| ManagerError::Tls {
                what: "build the client verifier",
                message: e.to_string(),
            })?;
    let mut config = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(tls_err("choose tls versions"))?
        .with_client_cert_verifier(verifier)
        .with_cert_resolver(store.clone());
    config.alpn_protocols = vec![b"h2".to_vec()];
    Ok(Arc::new(config))
}

/// The client side of node-to-node calls: verifies the server against the cluster CA and
/// presents this node's certificate.
pub fn client_config(identity: &NodeIdentity) -> Result<Arc<ClientConfig>, ManagerError> {
    client_config_for(&CertStore::new(identity)?, identity)
}

/// [`client_config`] presenting whatever `store` holds at each handshake.
pub fn client_config_for(
    store: &Arc<CertStore>,
    identity: &NodeIdentity,
) -> Result<Arc<ClientConfig>, ManagerError> {
    let mut config = ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(tls_err("choose tls versions"))?
        .with_root_certificates(roots(identity.ca_cert()?)?)
        .with_client_cert_resolver(store.clone());
    config.alpn_protocols = vec![b"h2".to_vec()];
    Ok(Arc::new(config))
}

/// The client side of a join: no client certificate; the server is trusted only if its
/// chain contains a CA whose SHA-256 is `digest` and the server certificate verifies
/// against that CA.
pub fn join_config(digest: &str) -> Result<Arc<ClientConfig>, ManagerError> {
    let provider = provider();
    let verifier = Arc::new(PinnedCa {
        digest: digest.to_ascii_lowercase(),
        provider: provider.clone(),
    });
    let mut config = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(tls_err("choose tls versions"))?
        .dangerous()
        .with_custom_certificate_verifier(verifier)
        .with_no_client_auth();
    config.alpn_protocols = vec![b"h2".to_vec()];
    Ok(Arc::new(config))
}

/// Verifies a server against the CA that its chain carries, if that CA has the pinned digest.
#[derive(Debug)]
struct PinnedCa {
    digest: String,
    provider: Arc<CryptoProvider>,
}

impl ServerCertVerifier for PinnedCa {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let ca = intermediates
            .iter()
            .find(|cert| hex::encode(Sha256::digest(cert.as_ref())) == self.digest)
            .ok_or_else(|| {
                rustls::Error::General(
                    "the manager's certificate authority does not match the join token's ca digest"
                        .to_owned(),
                )
            })?;
        let verifier = WebPkiServerVerifier::builder_with_provider(
            roots(ca.clone().into_owned()).map_err(|e| rustls::Error::General(e.to_string()))?,
            self.provider.clone(),
        )
        .build()
        .map_err(|e| rustls::Error::General(e.to_string()))?;
        verifier.verify_server_cert(end_entity, &[], server_name, ocsp_response, now)
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

/// A lazily connecting gRPC channel to `addr` over TLS with `config`. With `require_manager`,
/// the server's certificate must carry the manager role.
pub fn channel(
    addr: &str,
    config: Arc<ClientConfig>,
    require_manager: bool,
) -> Result<Channel, ManagerError> {
    let endpoint =
        Endpoint::from_shared(format!("http://{addr}")).map_err(|e| ManagerError::BadAddress {
            addr: addr.to_owned(),
            message: e.to_string(),
        })?;
    let connector = tower::service_fn(move |uri: Uri| {
        let config = config.clone();
        async move {
            let connect = connect_tls(uri, config, require_manager);
            tokio::time::timeout(CONNECT_TIMEOUT, connect)
                .await
                .map_err(|_| {
                    std::io::Error::new(std::io::ErrorKind::TimedOut, "connect timed out")
                })?
        }
    });
    Ok(endpoint
        .tcp_nodelay(true)
        .connect_with_connector_lazy(connector))
}

async fn connect_tls(
    uri: Uri,
    config: Arc<ClientConfig>,
    require_manager: bool,
) -> std::io::Result<tokio_rustls::client::TlsStream<TcpStream>> {
    let other = |message: String| std::io::Error::other(message);
    let host = uri.host().unwrap_or("127.0.0.1").trim_matches(['[', ']']);
    let port = uri.port_u16().unwrap_or(4242);
    let tcp = TcpStream::connect((host, port)).await?;
    tcp.set_nodelay(true)?;
    let name = ServerName::try_from(CLUSTER_SERVER_NAME)
        .map_err(|e| other(e.to_string()))?
        .to_owned();
    let tls = tokio_rustls::TlsConnector::from(config)
        .connect(name, tcp)
        .await?;
    if require_manager {
        let peer = tls
            .get_ref()
            .1
            .peer_certificates()
            .and_then(|chain| chain.first())
            .ok_or_else(|| other("the server presented no certificate".into()))
            .and_then(|cert| peer_identity(cert).map_err(|e| other(e.to_string())))?;
        if peer.role != NodeRole::Manager {
            return Err(other(format!(
                "node {} at {host}:{port} is not a manager",
                peer.node_id
            )));
        }
    }
    Ok(tls)
}

/// What the server knows about a connection's client: when it presented a certificate of this
/// cluster, its identity.
#[derive(Debug, Clone)]
pub struct PeerInfo {
    /// Identity from the verified client certificate.
    pub identity: Option<PeerIdentity>,
}

/// A server-side TLS connection with its peer's identity.
pub struct PeerStream {
    inner: tokio_rustls::server::TlsStream<TcpStream>,
    info: PeerInfo,
}

impl Connected for PeerStream {
    type ConnectInfo = PeerInfo;

    fn connect_info(&self) -> PeerInfo {
        self.info.clone()
    }
}

impl AsyncRead for PeerStream {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl AsyncWrite for PeerStream {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

/// Accepts TCP connections and completes TLS handshakes off the accept loop; ends when the
/// returned stream is dropped.
pub fn incoming(
    listener: TcpListener,
    config: Arc<ServerConfig>,
) -> ReceiverStream<std::io::Result<PeerStream>> {
    let (tx, rx) = tokio::sync::mpsc::channel(64);
    let acceptor = tokio_rustls::TlsAcceptor::from(config);
    tokio::spawn(async move {
        loop {
            let accepted = tokio::select! {
                accepted = listener.accept() => accepted,
                () = tx.closed() => return,
            };
            let Ok((tcp, _)) = accepted else {
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            };
            let _ = tcp.set_nodelay(true);
            let (acceptor, tx) = (acceptor.clone(), tx.clone());
            tokio::spawn(async move {
                let handshake = tokio::time::timeout(CONNECT_TIMEOUT * 5, acceptor.accept(tcp));
                let Ok(Ok(inner)) = handshake.await else {
                    return;
                };
                let identity = inner
                    .get_ref()
                    .1
                    .peer_certificates()
                    .and_then(|chain| chain.first())
                    .and_then(|cert| peer_identity(cert).ok());
                let info = PeerInfo { identity };
                let _ = tx.send(Ok(PeerStream { inner, info })).await;
            });
        }
    });
    ReceiverStream::new(rx)
}
