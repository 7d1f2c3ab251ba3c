//! `GET /containers/{id}/stats?stream=&one-shot=`: Docker's `StatsJSON` from the agent's cgroup
//! figures (memory, CPU time, pids, throttling).
//!
//! Docker's CLI computes the CPU percentage from the change of `cpu_usage.total_usage` against
//! the change of `system_cpu_usage` between `precpu_stats` and `cpu_stats`, times
//! `online_cpus`. Docker reads the host's CPU time from `/proc/stat`, which grows by the number
//! of CPUs for each second of wall time; here `system_cpu_usage` is the sample's read time times
//! the CPUs, which changes by the same amount. As Docker does, `stream=false` answers after two
//! samples (half a second apart; so that `precpu_stats` is filled), `one-shot=true` after one; a
//! stream sends a sample every second until the client leaves. Network and block I/O figures are not
//! measured and are left out (Docker's CLI then shows `0B / 0B`).

use std::time::Duration;

use api::agent as proto;
use hyper::body::Incoming;
use serde_json::{Value, json};

use super::inspect;
use crate::context::Context;
use crate::filters::Query;
use crate::reply::{ApiError, Reply, json, streamed};
use crate::time;

/// How often Docker samples a container's figures (the period of a stream).
const INTERVAL: Duration = Duration::from_secs(1);

/// The gap between the two samples of `stream=false`: shorter than Docker's second, as the
/// docker CLI gives up on a container whose first figures take more than 2 s to come (and
/// shows dashes), which a loaded node could otherwise reach.
const ONE_OFF_GAP: Duration = Duration::from_millis(500);

/// What the stats shape takes from the host.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Host {
    /// The CPUs this process may run on.
    pub(crate) online_cpus: u64,
    /// The host's memory, the limit Docker reports for a container without one.
    pub(crate) memory_total: u64,
}

impl Host {
    /// This machine.
    fn this() -> Self {
        Self {
            online_cpus: std::thread::available_parallelism().map_or(1, |n| n.get() as u64),
            memory_total: crate::system::mem_total(),
        }
    }
}

/// Docker's `CPUStats` of one sample (zeros for no sample, as its first `precpu_stats`).
fn cpu_stats(sample: Option<&proto::StatsResponse>, host: Host) -> Value {
    let Some(s) = sample else {
        return json!({
            "cpu_usage": { "total_usage": 0, "usage_in_kernelmode": 0, "usage_in_usermode": 0 },
            "throttling_data": { "periods": 0, "throttled_periods": 0, "throttled_time": 0 },
        });
    };
    json!({
        "cpu_usage": {
            "total_usage": s.cpu_usage_ns,
            "usage_in_kernelmode": 0,
            "usage_in_usermode": 0,
        },
        "system_cpu_usage": s.read_at.saturating_mul(host.online_cpus),
        "online_cpus": host.online_cpus,
        "throttling_data": {
            "periods": 0,
            "throttled_periods": s.cpu_throttled_periods,
            "throttled_time": 0,
        },
    })
}

/// Docker's `networks` of a stats sample: the container's traffic as one interface, `eth0`;
/// `null` when it has none of its own (the host's network, or no traffic counted yet).
fn networks(s: &proto::StatsResponse) -> Value {
    if s.net_rx_bytes == 0 && s.net_tx_bytes == 0 {
        return Value::Null;
    }
    json!({
        "eth0": {
            "rx_bytes": s.net_rx_bytes,
            "rx_packets": 0,
            "rx_errors": 0,
            "rx_dropped": 0,
            "tx_bytes": s.net_tx_bytes,
            "tx_packets": 0,
            "tx_errors": 0,
            "tx_dropped": 0,
        }
    })
}

/// Docker's `StatsJSON` for the container `id` named `name` (with its `/`): the `current`
/// sample, and the `previous` one as `precpu_stats`.
pub(crate) fn body(
    id: &str,
    name: &str,
    current: &proto::StatsResponse,
    previous: Option<&proto::StatsResponse>,
    host: Host,
) -> Value {
    let limit = if current.memory_limit == 0 {
        host.memory_total
    } else {
        current.memory_limit
    };
    json!({
        "name": name,
        "id": id,
        "read": time::rfc3339(current.read_at),
        "preread": time::rfc3339(previous.map_or(0, |p| p.read_at)),
        "pids_stats": { "current": current.pids },
        "blkio_stats": {
            // Totals over the container's devices (the agent does not count them apart).
            "io_service_bytes_recursive": [
                { "major": 0, "minor": 0, "op": "read", "value": current.block_read_bytes },
                { "major": 0, "minor": 0, "op": "write", "value": current.block_write_bytes },
            ],
            "io_serviced_recursive": null,
            "io_queue_recursive": null,
            "io_service_time_recursive": null,
            "io_wait_time_recursive": null,
            "io_merged_recursive": null,
            "io_time_recursive": null,
            "sectors_recursive": null,
        },
        // Totals over the container's interfaces, as one (the agent does not count them
        // apart); none on the host's network, as Docker.
        "networks": networks(current),
        "num_procs": 0,
        "storage_stats": {},
        "cpu_stats": cpu_stats(Some(current), host),
        "precpu_stats": cpu_stats(previous, host),
        "memory_stats": {
            "usage": current.memory_usage,
            "stats": {},
            "failcnt": current.oom_kills,
            "limit": limit,
        },
    })
}

async fn sample(context: &Context, id: &str) -> Result<proto::StatsResponse, ApiError> {
    context
        .containers()
        .stats(proto::ContainerRef {
            container: id.to_string(),
        })
        .await
        .map(tonic::Response::into_inner)
        .map_err(ApiError::not_found_as(format!("No such container: {id}")))
}

/// `GET /containers/{id}/stats`.
pub(crate) async fn stats(
    context: &Context,
    id: &str,
    request: &hyper::Request<Incoming>,
) -> Reply {
    let query = Query::of(request.uri());
    let stream = query.get("stream").is_none() || query.flag("stream");
    let record = inspect::fetch(context, id).await?;
    let summary = record.summary.unwrap_or_default();
    let (full_id, name) = (summary.id, format!("/{}", summary.name));
    let host = Host::this();
    let first = sample(context, &full_id).await?;
    if !stream {
        if query.flag("one-shot") {
            return json(&body(&full_id, &name, &first, None, host));
        }
        tokio::time::sleep(ONE_OFF_GAP).await;
        let second = sample(context, &full_id).await?;
        return json(&body(&full_id, &name, &second, Some(&first), host));
    }
    let (response, chunks) = streamed("application/json");
    let mut client = context.containers();
    context.spawn(async move {
        let mut previous = None;
        let mut current = first;
        loop {
            let value = body(&full_id, &name, &current, previous.as_ref(), host);
            if !chunks.send_json(&value).await {
                return;
            }
            tokio::time::sleep(INTERVAL).await;
            let reference = proto::ContainerRef {
                container: full_id.clone(),
            };
            match client.stats(reference).await {
                Ok(next) => previous = Some(std::mem::replace(&mut current, next.into_inner())),
                // The container is gone: the stream ends, as Docker's does.
                Err(_) => return,
            }
        }
    });
    Ok(response)
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOST: Host = Host {
        online_cpus: 4,
        memory_total: 8 << 30,
    };

    fn sample(read_at: u64, cpu: u64) -> proto::StatsResponse {
        proto::StatsResponse {
            memory_usage: 3 << 20,
            memory_limit: 0,
            cpu_usage_ns: cpu,
            pids: 2,
            read_at,
            ..Default::default()
        }
    }

    /// Docker's CLI's `calculateCPUPercentUnix`.
    fn cli_cpu_percent(v: &Value) -> f64 {
        let number = |v: &Value| v.as_u64().unwrap_or(0) as f64;
        let cpu_delta = number(&v["cpu_stats"]["cpu_usage"]["total_usage"])
            - number(&v["precpu_stats"]["cpu_usage"]["total_usage"]);
        let system_delta = number(&v["cpu_stats"]["system_cpu_usage"])
            - number(&v["precpu_stats"]["system_cpu_usage"]);
        if system_delta > 0.0 && cpu_delta > 0.0 {
            cpu_delta / system_delta * number(&v["cpu_stats"]["online_cpus"]) * 100.0
        } else {
            0.0
        }
    }

    #[test]
    fn half_a_cpu_for_a_second_is_fifty_percent() {
        let first = sample(10_000_000_000, 1_000_000_000);
        let second = sample(11_000_000_000, 1_500_000_000);
        let v = body("abc", "/web", &second, Some(&first), HOST);
        assert!((cli_cpu_percent(&v) - 50.0).abs() < 1e-9, "{v}");
        assert_eq!(v["name"], "/web");
        assert_eq!(v["pids_stats"]["current"], 2);
        assert_eq!(v["memory_stats"]["usage"], 3 << 20);
        // No limit: the host's memory, as Docker reports it.
        assert_eq!(v["memory_stats"]["limit"], 8u64 << 30);
        assert_eq!(v["read"], "1970-01-01T00:00:11.000000000Z");
        assert_eq!(v["preread"], "1970-01-01T00:00:10.000000000Z");
    }

    #[test]
    fn a_first_sample_has_no_precpu_and_a_limit_is_kept() {
        let mut only = sample(5, 7);
        only.memory_limit = 64 << 20;
        let v = body("abc", "/web", &only, None, HOST);
        assert_eq!(v["precpu_stats"]["cpu_usage"]["total_usage"], 0);
        assert_eq!(v["preread"], "0001-01-01T00:00:00Z");
        assert_eq!(v["memory_stats"]["limit"], 64 << 20);
        assert!(v["networks"].is_null(), "no traffic of its own: {v}");
    }

    #[test]
    fn network_and_block_io_as_the_docker_cli_reads_them() {
        let mut s = sample(5, 7);
        (s.net_rx_bytes, s.net_tx_bytes) = (1_500, 700);
        (s.block_read_bytes, s.block_write_bytes) = (4_096, 512);
        let v = body("abc", "/web", &s, None, HOST);
        let sum = |key: &str| {
            v["networks"]
                .as_object()
                .unwrap()
                .values()
                .map(|n| n[key].as_u64().unwrap())
                .sum::<u64>()
        };
        assert_eq!((sum("rx_bytes"), sum("tx_bytes")), (1_500, 700));
        let io = v["blkio_stats"]["io_service_bytes_recursive"]
            .as_array()
            .unwrap();
        let by_op = |op: &str| {
            io.iter()
                .filter(|e| e["op"] == op)
                .map(|e| e["value"].as_u64().unwrap())
                .sum::<u64>()
        };
        assert_eq!((by_op("read"), by_op("write")), (4_096, 512));
    }
}
