//! Encryption at rest of the store's sensitive fields: secret payloads, the root CA's private
//! key and services' registry credentials are sealed (ChaCha20-Poly1305, random nonce) by the leader before it proposes a
//! batch, so the raft log, the records table and snapshots only ever hold ciphertext. The key
//! lives in the cluster directory of each manager (`seal.key`, mode 0600), never in the log;
//! a joining manager receives it over the mutually authenticated join.

use std::path::Path;

use ring::aead::{Aad, CHACHA20_POLY1305, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use ring::rand::SecureRandom;

use super::command::{Batch, Command};
use super::records::Record;
use super::registry_auth::{RegistryAuth, StoredAuth};

/// File name of the key in the cluster directory.
const KEY_FILE: &str = "seal.key";
/// Marks sealed bytes: magic, then nonce, then ciphertext and tag.
const MAGIC: &[u8; 4] = b"BSE1";
/// Marks a sealed string field: prefix, then hex of the sealed bytes.
const TEXT_PREFIX: &str = "sealed:";
/// Length of a key.
const KEY_LEN: usize = 32;

/// Errors of sealing and unsealing.
#[derive(Debug, thiserror::Error)]
pub enum SealError {
    /// The key file is missing, unreadable or malformed.
    #[error("seal key {path}: {message}")]
    Key {
        /// The key file.
        path: std::path::PathBuf,
        /// Why it cannot be used.
        message: String,
    },
    /// Sealed data that does not open with this key.
    #[error("cannot open sealed {what}: wrong key or corrupt data")]
    Open {
        /// Which field.
        what: &'static str,
    },
}

/// The key that seals a cluster's sensitive fields.
#[derive(Clone)]
pub struct SealKey {
    bytes: [u8; KEY_LEN],
}

impl std::fmt::Debug for SealKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SealKey(..)")
    }
}

fn cipher(bytes: &[u8; KEY_LEN]) -> LessSafeKey {
    // A 32-byte key is exactly what ChaCha20-Poly1305 takes.
    LessSafeKey::new(UnboundKey::new(&CHACHA20_POLY1305, bytes).expect("a 32-byte key"))
}

impl SealKey {
    /// A fresh random key.
    pub fn generate() -> Self {
        let mut bytes = [0u8; KEY_LEN];
        secure_random(&mut bytes);
        SealKey { bytes }
    }

    /// The key from its raw bytes.
    pub fn from_bytes(raw: &[u8]) -> Option<Self> {
        Some(SealKey {
            bytes: raw.try_into().ok()?,
        })
    }

    /// The raw bytes, to hand to a joining manager.
    pub fn to_bytes(&self) -> Vec<u8> {
        self.bytes.to_vec()
    }

    /// Loads the key of the cluster directory `dir`.
    pub fn load(dir: &Path) -> Result<Self, SealError> {
        let path = dir.join(KEY_FILE);
        let raw = std::fs::read(&path).map_err(|e| SealError::Key {
            path: path.clone(),
            message: e.to_string(),
        })?;
        Self::from_bytes(&raw).ok_or_else(|| SealError::Key {
            path,
            message: format!("expected {KEY_LEN} bytes, found {}", raw.len()),
        })
    }

    /// Stores the key in the cluster directory `dir`, readable by its owner only.
    pub fn save(&self, dir: &Path) -> Result<(), SealError> {
        use std::io::Write as _;
        use std::os::unix::fs::OpenOptionsExt as _;
        let path = dir.join(KEY_FILE);
        let err = |e: std::io::Error| SealError::Key {
            path: path.clone(),
            message: e.to_string(),
        };
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(&path)
            .map_err(err)?;
        file.write_all(&self.bytes).map_err(err)?;
        file.sync_all().map_err(err)
    }

    /// Seals `plain`: magic, random nonce, ciphertext with tag.
    fn seal(&self, plain: &[u8]) -> Vec<u8> {
        let mut nonce = [0u8; NONCE_LEN];
        secure_random(&mut nonce);
        let mut data = plain.to_vec();
        // Sealing in place only fails when the input exceeds ChaCha20's 256 GiB limit.
        cipher(&self.bytes)
            .seal_in_place_append_tag(Nonce::assume_unique_for_key(nonce), Aad::empty(), &mut data)
            .expect("payload within the cipher's limit");
        let mut out = Vec::with_capacity(MAGIC.len() + NONCE_LEN + data.len());
        out.extend_from_slice(MAGIC);
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&data);
        out
    }

    /// Opens sealed bytes; bytes without the seal's magic are returned as they are.
    fn open(&self, data: &[u8], what: &'static str) -> Result<Vec<u8>, SealError> {
        let Some(rest) = data.strip_prefix(MAGIC.as_slice()) else {
            return Ok(data.to_vec());
        };
        let (nonce, sealed) = rest
            .split_at_checked(NONCE_LEN)
            .ok_or(SealError::Open { what })?;
        let nonce =
            Nonce::try_assume_unique_for_key(nonce).map_err(|_| SealError::Open { what })?;
        let mut buf = sealed.to_vec();
        let plain = cipher(&self.bytes)
            .open_in_place(nonce, Aad::empty(), &mut buf)
            .map_err(|_| SealError::Open { what })?;
        Ok(plain.to_vec())
    }

    fn seal_text(&self, text: &str) -> String {
        if text.starts_with(TEXT_PREFIX) {
            return text.to_owned();
        }
        format!("{TEXT_PREFIX}{}", hex::encode(self.seal(text.as_bytes())))
    }

    fn open_text(&self, text: &str, what: &'static str) -> Result<String, SealError> {
        let Some(sealed) = text.strip_prefix(TEXT_PREFIX) else {
            return Ok(text.to_owned());
        };
        let bytes = hex::decode(sealed).map_err(|_| SealError::Open { what })?;
        String::from_utf8(self.open(&bytes, what)?).map_err(|_| SealError::Open { what })
    }

    /// Seals the sensitive fields of every record the batch writes.
    pub fn seal_batch(&self, batch: &mut Batch) {
        for command in &mut batch.commands {
            match command {
                Command::Create(record)
                | Command::Update { record, .. }
                | Command::UpdateDecided { record, .. } => self.seal_record(record),
                Command::Delete { .. } => {}
            }
        }
    }

    /// Seals a record's sensitive fields (already sealed ones stay as they are).
    fn seal_record(&self, record: &mut Record) {
        match record {
            Record::Secret(blob) if !blob.data.starts_with(MAGIC) => {
                blob.data = self.seal(&blob.data);
            }
            Record::Cluster(info) => info.ca_key_pem = self.seal_text(&info.ca_key_pem),
            Record::Network(network) => {
                for key in network
                    .encryption
                    .iter_mut()
                    .flat_map(|e| e.keys.iter_mut())
                {
                    key.secret = self.seal_text(&key.secret);
                }
            }
            Record::Service(service) => {
                if let Some(StoredAuth::Open(auth)) = &service.registry_auth {
                    // Plain strings: serializing cannot fail.
                    let json = serde_json::to_string(auth).expect("credentials serialize");
                    service.registry_auth = Some(StoredAuth::Sealed(self.seal_text(&json)));
                }
            }
            _ => {}
        }
    }

    /// Opens a record's sealed fields.
    pub fn open_record(&self, record: &mut Record) -> Result<(), SealError> {
        match record {
            Record::Secret(blob) => blob.data = self.open(&blob.data, "secret")?,
            Record::Cluster(info) => {
                info.ca_key_pem = self.open_text(&info.ca_key_pem, "ca key")?;
            }
            Record::Network(network) => {
                for key in network
                    .encryption
                    .iter_mut()
                    .flat_map(|e| e.keys.iter_mut())
                {
                    key.secret = self.open_text(&key.secret, "network key")?;
                }
            }
            Record::Service(service) => {
                if let Some(StoredAuth::Sealed(text)) = &service.registry_auth {
                    let what = "registry credentials";
                    let json = self.open_text(text, what)?;
                    let auth: RegistryAuth =
                        serde_json::from_str(&json).map_err(|_| SealError::Open { what })?;
                    service.registry_auth = Some(StoredAuth::Open(auth));
                }
            }
            _ => {}
        }
        Ok(())
    }
}

/// Fills `buf` from the system's secure random source (for keys and nonces).
pub fn secure_random(buf: &mut [u8]) {
    // The system random source only fails when the kernel cannot provide randomness at all;
    // continuing with predictable keys would be worse than stopping.
    ring::rand::SystemRandom::new()
        .fill(buf)
        .expect("the system random source is available");
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Blob, ClusterInfo, Meta};

    fn secret(data: &[u8]) -> Record {
        Record::Secret(Blob {
            meta: Meta {
                id: "s1".into(),
                ..Meta::default()
            },
            name: "db-password".into(),
            data: data.to_vec(),
        })
    }

    #[test]
    fn sealed_records_hide_the_payload_and_open_back() {
        let key = SealKey::generate();
        let mut batch = Batch::new(0, vec![Command::Create(secret(b"hunter2"))]);
        key.seal_batch(&mut batch);
        let encoded = batch.encode().unwrap();
        let plain_json = serde_json::to_vec(&b"hunter2".to_vec()).unwrap();
        let plain_json = &plain_json[1..plain_json.len() - 1];
        assert!(!encoded.windows(plain_json.len()).any(|w| w == plain_json));
        let Command::Create(mut record) = batch.commands.remove(0) else {
            unreachable!("one create")
        };
        // Sealing twice does not wrap the ciphertext again.
        let once = record.clone();
        key.seal_record(&mut record);
        assert_eq!(record, once);
        key.open_record(&mut record).unwrap();
        assert_eq!(record, secret(b"hunter2"));
    }

    #[test]
    fn ca_key_is_sealed_as_text_and_a_wrong_key_is_refused() {
        let key = SealKey::generate();
        let mut record = Record::Cluster(ClusterInfo {
            meta: Meta::default(),
            ca_cert_pem: "cert".into(),
            ca_key_pem: "-----BEGIN PRIVATE KEY-----".into(),
            worker_secret: "w".into(),
            manager_secret: "m".into(),
            next_raft_id: 2,
            cert_validity_secs: 0,
            removed_nodes: Default::default(),
        });
        key.seal_record(&mut record);
        let Record::Cluster(info) = &record else {
            unreachable!("a cluster record")
        };
        assert!(
            info.ca_key_pem.starts_with("sealed:"),
            "{}",
            info.ca_key_pem
        );
        let err = SealKey::generate()
            .open_record(&mut record.clone())
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "cannot open sealed ca key: wrong key or corrupt data"
        );
        key.open_record(&mut record).unwrap();
        let Record::Cluster(info) = record else {
            unreachable!("a cluster record")
        };
        assert_eq!(info.ca_key_pem, "-----BEGIN PRIVATE KEY-----");
    }

    #[test]
    fn an_encrypted_network_s_keys_are_sealed_and_open_back() {
        let key = SealKey::generate();
        let secret = "ab".repeat(32);
        let network = crate::Network {
            meta: Meta::default(),
            name: "secure".into(),
            driver: "overlay".into(),
            subnet: None,
            gateway: None,
            vni: 4096,
            attachable: false,
            internal: false,
            ingress: None,
            encryption: Some(crate::NetworkEncryption {
                rotation_secs: 0,
                keys: vec![crate::NetworkKey {
                    id: 1,
                    secret: secret.clone(),
                    created_ms: 1,
                    primary_since_ms: Some(1),
                    primary: true,
                }],
            }),
            attachments: Default::default(),
        };
        let mut batch = Batch::new(0, vec![Command::Create(Record::Network(network.clone()))]);
        key.seal_batch(&mut batch);
        let encoded = serde_json::to_vec(&batch).unwrap();
        assert!(
            !encoded
                .windows(secret.len())
                .any(|w| w == secret.as_bytes())
        );
        let Command::Create(mut record) = batch.commands.remove(0) else {
            unreachable!("one create")
        };
        assert!(
            SealKey::generate()
                .open_record(&mut record.clone())
                .is_err()
        );
        key.open_record(&mut record).unwrap();
        assert_eq!(record, Record::Network(network));
    }

    #[test]
    fn a_service_s_registry_credentials_are_sealed_and_open_back() {
        use orchestrator::swarm::{Service as Spec, ServiceId, ServiceSpec, Timestamp};
        let key = SealKey::generate();
        let mut service = crate::Service::new(Spec::new(
            ServiceId::from("s1"),
            "web",
            ServiceSpec::default(),
            Timestamp(0),
        ));
        service.registry_auth = Some(StoredAuth::Open(RegistryAuth {
            registry: "reg.lan:5000".into(),
            username: "alice".into(),
            password: "hunter2".into(),
            identity_token: String::new(),
        }));
        service.with_registry_auth = true;
        let plain = Record::Service(Box::new(service));
        let mut batch = Batch::new(0, vec![Command::Create(plain.clone())]);
        key.seal_batch(&mut batch);
        let encoded = String::from_utf8(batch.encode().unwrap()).unwrap();
        assert!(
            !encoded.contains("hunter2") && !encoded.contains("alice"),
            "{encoded}"
        );
        assert!(encoded.contains("sealed:"), "{encoded}");
        let Command::Create(mut record) = batch.commands.remove(0) else {
            unreachable!("one create")
        };
        let sealed = record.clone();
        key.seal_record(&mut record);
        assert_eq!(record, sealed, "sealed once");
        assert!(
            SealKey::generate()
                .open_record(&mut record.clone())
                .is_err()
        );
        key.open_record(&mut record).unwrap();
        assert_eq!(record, plain);
    }

    #[test]
    fn key_survives_save_and_load_with_owner_only_mode() {
        use std::os::unix::fs::PermissionsExt as _;
        let dir = tempfile::tempdir().unwrap();
        let key = SealKey::generate();
        key.save(dir.path()).unwrap();
        let loaded = SealKey::load(dir.path()).unwrap();
        assert_eq!(loaded.to_bytes(), key.to_bytes());
        let mode = std::fs::metadata(dir.path().join(KEY_FILE))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
        std::fs::write(dir.path().join(KEY_FILE), b"short").unwrap();
        let err = SealKey::load(dir.path()).unwrap_err().to_string();
        assert!(err.ends_with("expected 32 bytes, found 5"), "{err}");
    }
}
