//! End-to-end: resource limits out of Docker's bounds are refused by `bosun container run` with
//! Docker's one-line messages before anything is created — not as a setup process killed by
//! its own limit, a raw cgroup write error, or a limit silently dropped.

#![allow(clippy::unwrap_used)]

mod container_env;
use testkit::teardown;

use container_env::{Env, text};

#[test]
fn out_of_bounds_limits_are_refused_up_front() {
    let env = Env::new("limits");
    let rootfs = env.rootfs();
    // The CPUs the agent may use: its affinity mask, which it inherits from this test.
    let mask = nix::sched::sched_getaffinity(nix::unistd::Pid::from_raw(0)).unwrap();
    let cpus = (0..nix::sched::CpuSet::count())
        .filter(|&c| mask.is_set(c).unwrap_or(false))
        .count();
    let range = format!("Range of CPUs is from 0.01 to {cpus}.00");
    let cases: [(&[&str], &str); 12] = [
        (&["-m", "1"], "Minimum memory limit allowed is 6MB"),
        (&["-m", "1b"], "Minimum memory limit allowed is 6MB"),
        (&["-m", "1.5k"], "Minimum memory limit allowed is 6MB"),
        (
            &["-m", "-5"],
            "invalid argument \"-5\" for \"-m, --memory\" flag: invalid size: '-5'",
        ),
        (
            &["-m", "99999999999999999999g"],
            "invalid size: '99999999999999999999g'",
        ),
        (&["--cpus", "0.0000001"], &range),
        (&["--cpus", "1e9"], &range),
        (&["--cpus", "0.0000000001"], "value is too precise"),
        (
            &["-m", "64m", "--memory-swap", "32m"],
            "Minimum memoryswap limit should be larger than memory limit",
        ),
        (
            &["--memory-swap", "64m"],
            "You should always set the Memory limit when using Memoryswap limit",
        ),
        (&["--pids-limit", "99999999"], "invalid pids limit 99999999"),
        (
            &["--cpuset-cpus", "0-4000"],
            "Requested CPUs are not available - requested 0-4000",
        ),
    ];
    for (flags, want) in cases {
        let mut args = vec!["run", "--rootfs", &rootfs];
        args.extend_from_slice(flags);
        args.push("true");
        let out = env.bosun(&args);
        let stderr = text(&out.stderr);
        assert_eq!(out.status.code(), Some(125), "{flags:?}: {stderr}");
        assert!(
            stderr.contains(want),
            "{flags:?}: want {want:?}, got {stderr}"
        );
        assert_eq!(stderr.lines().count(), 1, "{flags:?}: {stderr}");
    }
    assert_eq!(env.ok(&["ls", "-aq"]), "", "a refused run left a container");

    // The bounds themselves are fine, and the limit reaches the container.
    let out = env.ok(&[
        "run",
        "--rm",
        "--rootfs",
        &rootfs,
        "-m",
        "6m",
        "--cpus",
        "0.01",
        "--pids-limit",
        "4194304",
        "echo",
        "ran",
    ]);
    assert_eq!(out, "ran\n");
}
