//! Measuring a cluster from a client, as `etcdctl check perf` does: committed writes per
//! second and their latency under concurrent clients, and how long until a write succeeds
//! again (after a leader was killed).

use std::time::{Duration, Instant};

use super::{ManagerClient, ManagerError};
use cluster_state::{Batch, Blob, Command, Meta, Record};

/// What a write load measured.
#[derive(Debug, Clone, PartialEq)]
pub struct LoadReport {
    /// Concurrent clients.
    pub clients: usize,
    /// Acknowledged writes.
    pub writes: usize,
    /// Failed writes.
    pub errors: usize,
    /// Wall time of the load.
    pub elapsed: Duration,
    /// Median latency of acknowledged writes.
    pub p50: Duration,
    /// 99th percentile latency of acknowledged writes.
    pub p99: Duration,
}

impl LoadReport {
    /// Acknowledged writes per second.
    pub fn writes_per_sec(&self) -> f64 {
        self.writes as f64 / self.elapsed.as_secs_f64().max(f64::EPSILON)
    }
}

impl std::fmt::Display for LoadReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "clients={} writes={} errors={} seconds={:.2} writes_per_sec={:.0} p50_ms={:.2} p99_ms={:.2}",
            self.clients,
            self.writes,
            self.errors,
            self.elapsed.as_secs_f64(),
            self.writes_per_sec(),
            self.p50.as_secs_f64() * 1e3,
            self.p99.as_secs_f64() * 1e3,
        )
    }
}

/// The `q` quantile (0..=1) of sorted `values`, nearest rank.
pub fn quantile(sorted: &[Duration], q: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let rank = (q.clamp(0.0, 1.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

fn bench_write(tag: &str, client: usize, k: usize) -> Batch {
    let id = format!("bench-{tag}-{client}-{k}");
    Batch::new(
        0,
        vec![Command::Create(Record::Config(Blob {
            meta: Meta {
                id: id.clone(),
                ..Meta::default()
            },
            name: id,
            data: vec![0u8; 64],
        }))],
    )
}

fn run_tag() -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or_default();
    format!("{:x}", nanos & 0xffff_ffff_ffff)
}

/// Runs `clients` concurrent writers through `client` for `duration`, each writing one small
/// config record at a time.
pub async fn write_load(client: &ManagerClient, clients: usize, duration: Duration) -> LoadReport {
    let tag = run_tag();
    let start = Instant::now();
    let tasks: Vec<_> = (0..clients.max(1))
        .map(|c| {
            let (client, tag) = (client.clone(), tag.clone());
            tokio::spawn(async move {
                let (mut latencies, mut errors) = (Vec::new(), 0);
                let mut k = 0;
                while start.elapsed() < duration {
                    let sent = Instant::now();
                    match client.write(&bench_write(&tag, c, k)).await {
                        Ok(_) => latencies.push(sent.elapsed()),
                        Err(_) => errors += 1,
                    }
                    k += 1;
                }
                (latencies, errors)
            })
        })
        .collect();
    let (mut latencies, mut errors) = (Vec::new(), 0);
    for task in tasks {
        match task.await {
            Ok((l, e)) => {
                latencies.extend(l);
                errors += e;
            }
            Err(_) => errors += 1,
        }
    }
    let elapsed = start.elapsed();
    latencies.sort();
    LoadReport {
        clients: clients.max(1),
        writes: latencies.len(),
        errors,
        elapsed,
        p50: quantile(&latencies, 0.5),
        p99: quantile(&latencies, 0.99),
    }
}

/// Retries one write every 20 ms until it succeeds; returns how long that took, or the last
/// error once `timeout` passed.
pub async fn probe(client: &ManagerClient, timeout: Duration) -> Result<Duration, ManagerError> {
    let tag = run_tag();
    let start = Instant::now();
    let mut k = 0;
    loop {
        match client.write(&bench_write(&tag, 0, k)).await {
            Ok(_) => return Ok(start.elapsed()),
            Err(err) if start.elapsed() >= timeout => return Err(err),
            Err(_) => tokio::time::sleep(Duration::from_millis(20)).await,
        }
        k += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantiles_by_nearest_rank() {
        let ms = |v: u64| Duration::from_millis(v);
        let values: Vec<Duration> = (1..=100).map(ms).collect();
        let table = [(0.5, 50), (0.99, 99), (1.0, 100), (0.0, 1), (0.011, 2)];
        for (q, expected) in table {
            assert_eq!(quantile(&values, q), ms(expected), "q = {q}");
        }
        assert_eq!(quantile(&[], 0.5), Duration::ZERO);
        assert_eq!(quantile(&[ms(7)], 0.99), ms(7));
    }

    #[test]
    fn report_prints_rates_and_latencies() {
        let report = LoadReport {
            clients: 100,
            writes: 3000,
            errors: 2,
            elapsed: Duration::from_secs(2),
            p50: Duration::from_micros(1500),
            p99: Duration::from_millis(12),
        };
        assert_eq!(
            report.to_string(),
            "clients=100 writes=3000 errors=2 seconds=2.00 writes_per_sec=1500 p50_ms=1.50 p99_ms=12.00"
        );
    }
}
