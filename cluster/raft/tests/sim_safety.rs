//! Deterministic simulation of 3- and 5-manager clusters over a faulty network with crashes:
//! election safety, log matching, no committed entry lost or changed, every acknowledged write
//! committed, and convergence to one state after healing — over 1,000 seeds.

// Test helpers unwrap like the tests they serve.
#![allow(clippy::unwrap_used)]

use cluster_raft::sim::{Sim, SimConfig, SimReport};

/// Where node directories go: tmpfs when present, so fsync is cheap and 1,000 seeds stay fast.
fn scratch() -> tempfile::TempDir {
    let shm = std::path::Path::new("/dev/shm");
    if shm.is_dir() {
        tempfile::tempdir_in(shm).unwrap()
    } else {
        tempfile::tempdir().unwrap()
    }
}

fn run(config: SimConfig) -> SimReport {
    let dir = scratch();
    let mut sim = Sim::new(config, dir.path()).unwrap();
    match sim.run() {
        Ok(report) => report,
        Err(err) => panic!("{err}"),
    }
}

fn nodes_for(seed: u64) -> usize {
    if seed % 4 == 0 { 5 } else { 3 }
}

fn run_seeds(seeds: std::ops::Range<u64>) -> Vec<SimReport> {
    seeds
        .map(|seed| run(SimConfig::faulty(seed, nodes_for(seed))))
        .collect()
}

#[test]
fn same_seed_replays_exactly() {
    let a = run(SimConfig::faulty(42, 3));
    let b = run(SimConfig::faulty(42, 3));
    assert_eq!(a, b);
    assert!(a.acked > 0, "{a:?}");
}

/// A quarter of the 1,000 seeds; the quarters run in parallel.
fn quarter(q: u64) {
    let reports = run_seeds(q * 250..(q + 1) * 250);
    let acked: usize = reports.iter().map(|r| r.acked).sum();
    let crashes: usize = reports.iter().map(|r| r.crashes).sum();
    let elections: usize = reports.iter().map(|r| r.terms_with_leader).sum();
    assert!(
        acked > 2_500,
        "too few acknowledged writes to mean anything: {acked}"
    );
    assert!(crashes > 100, "too few crashes injected: {crashes}");
    assert!(elections > 250, "too few elections: {elections}");
}

#[test]
fn seeds_0_to_249() {
    quarter(0);
}

#[test]
fn seeds_250_to_499() {
    quarter(1);
}

#[test]
fn seeds_500_to_749() {
    quarter(2);
}

#[test]
fn seeds_750_to_999() {
    quarter(3);
}
