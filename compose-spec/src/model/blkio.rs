//! `blkio_config`: block I/O weights and throttles.

use serde::{Deserialize, Serialize};

use crate::model::bytes::ByteSize;
use crate::model::scalar::{self, Extensions};

/// Block I/O limits of a service.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct BlkioConfig {
    /// Relative weight, 10 to 1000.
    #[serde(
        deserialize_with = "scalar::opt",
        skip_serializing_if = "Option::is_none"
    )]
    pub weight: Option<u16>,
    /// Per-device weights.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub weight_device: Vec<BlkioWeight>,
    /// Read bytes per second, per device.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub device_read_bps: Vec<BlkioLimit>,
    /// Read operations per second, per device.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub device_read_iops: Vec<BlkioLimit>,
    /// Write bytes per second, per device.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub device_write_bps: Vec<BlkioLimit>,
    /// Write operations per second, per device.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub device_write_iops: Vec<BlkioLimit>,
    /// `x-*` keys.
    #[serde(flatten, deserialize_with = "scalar::extensions")]
    pub extensions: Extensions,
}

/// A rate limit on one device (bytes, with units, or operations per second).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct BlkioLimit {
    /// The device path.
    #[serde(deserialize_with = "scalar::scalar")]
    pub path: String,
    /// The rate.
    pub rate: ByteSize,
}

/// A weight for one device.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct BlkioWeight {
    /// The device path.
    #[serde(deserialize_with = "scalar::scalar")]
    pub path: String,
    /// The weight, 10 to 1000.
    #[serde(deserialize_with = "scalar::scalar")]
    pub weight: u16,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn every_key() {
        let b: BlkioConfig = serde_json::from_value(json!({
            "weight": "300",
            "weight_device": [{"path": "/dev/sda", "weight": 400}],
            "device_read_bps": [{"path": "/dev/sda", "rate": "12mb"}],
            "device_read_iops": [{"path": "/dev/sda", "rate": 120}],
            "device_write_bps": [{"path": "/dev/sda", "rate": "1024k"}],
            "device_write_iops": [{"path": "/dev/sda", "rate": "30"}]
        }))
        .unwrap();
        assert_eq!(b.weight, Some(300));
        assert_eq!(b.device_read_bps[0].rate, ByteSize(12 << 20));
        assert_eq!(b.device_write_iops[0].rate, ByteSize(30));
        assert_eq!(
            serde_json::from_value::<BlkioConfig>(serde_json::to_value(&b).unwrap()).unwrap(),
            b
        );
        assert!(
            serde_json::from_value::<BlkioWeight>(json!({"path": "/dev/sda", "extra": 1})).is_err()
        );
    }
}
