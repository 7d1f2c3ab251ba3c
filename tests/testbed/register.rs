//! The append-only register the load tests write: one config record holding a json list;
//! clients append their own values with compare-and-set and record what they saw for the
//! [`super::history`] checker.

#![allow(dead_code)]

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use cluster_manager::ManagerClient;
use cluster_state::{Batch, Blob, Command, Meta, Record};

use super::history::{Op, Outcome};

/// The register's record id and name.
pub const REGISTER: &str = "register";

/// The register record holding `values`.
pub fn register_record(values: &[u64]) -> Record {
    Record::Config(Blob {
        meta: Meta {
            id: REGISTER.to_owned(),
            ..Meta::default()
        },
        name: REGISTER.to_owned(),
        data: serde_json::to_vec(values).expect("a list of numbers serializes"),
    })
}

/// The batch creating the empty register.
pub fn create_register() -> Batch {
    Batch::new(0, vec![Command::Create(register_record(&[]))])
}

/// The register's values and version, by a linearizable read.
pub async fn read_register(client: &ManagerClient) -> Option<(Vec<u64>, u64)> {
    let (data, _) = client.read(&format!("key:config/{REGISTER}")).await.ok()?;
    let records: Vec<Record> = serde_json::from_slice(&data).ok()?;
    match records.into_iter().next()? {
        Record::Config(blob) => Some((serde_json::from_slice(&blob.data).ok()?, blob.meta.version)),
        _ => None,
    }
}

/// One client appending its own values (`id * 1_000_000 + n`) to the register with
/// compare-and-set, through a random one of `clients` each time, until `stop`.
pub async fn append_client(id: u64, clients: Vec<ManagerClient>, stop: Arc<AtomicBool>) -> Vec<Op> {
    let mut history = Vec::new();
    let mut seq = 0;
    while !stop.load(Ordering::Relaxed) {
        let client = &clients[super::random_below(clients.len())];
        let Ok(Some((mut values, version))) =
            tokio::time::timeout(Duration::from_secs(3), read_register(client)).await
        else {
            tokio::time::sleep(Duration::from_millis(50)).await;
            continue;
        };
        seq += 1;
        let value = id * 1_000_000 + seq;
        values.push(value);
        let batch = Batch::new(
            0,
            vec![Command::Update {
                record: register_record(&values),
                expected_version: version,
            }],
        );
        let invoked = Instant::now();
        let result = tokio::time::timeout(Duration::from_secs(5), client.write(&batch)).await;
        let outcome = match result {
            Ok(Ok(_)) => Outcome::Acked,
            // A compare-and-set refused by the state machine changed nothing.
            Ok(Err(err)) if err.to_string().contains("is at version") => Outcome::Refused,
            _ => Outcome::Unknown,
        };
        history.push(Op {
            value,
            invoked,
            completed: Instant::now(),
            outcome,
        });
    }
    history
}
