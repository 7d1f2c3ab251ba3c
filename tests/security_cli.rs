//! End-to-end: seccomp options, capabilities the agent cannot grant, and mounts over the root,
//! through the real `bosun` binary and the agent it starts (run as root).

#![allow(clippy::unwrap_used)]

mod container_env;
use testkit::teardown;

use std::process::Command;

use container_env::{Env, text};

/// Runs `sh -c script` in a fresh container with `flags`; returns (exit code, stdout, stderr).
fn run(env: &Env, flags: &[&str], script: &str) -> (Option<i32>, String, String) {
    let rootfs = env.rootfs();
    let mut args = vec!["run", "--rm", "--rootfs", &rootfs];
    args.extend_from_slice(flags);
    args.extend_from_slice(&["sh", "-c", script]);
    let out = env.bosun(&args);
    (out.status.code(), text(&out.stdout), text(&out.stderr))
}

#[test]
fn seccomp_options_reach_the_container() {
    let env = Env::new("seccomp");
    let mode = "grep -E '^Seccomp:' /proc/1/status";
    let (code, out, err) = run(&env, &[], &format!("{mode}; unshare -U -r true"));
    assert_eq!(code, Some(1), "{out} {err}");
    assert!(out.contains("Seccomp:\t2"), "{out}");
    assert!(err.contains("Operation not permitted"), "{err}");
    let (_, out, _) = run(&env, &["--security-opt", "seccomp=unconfined"], mode);
    assert!(out.contains("Seccomp:\t0"), "{out}");
    let (_, out, _) = run(&env, &["--privileged"], mode);
    assert!(out.contains("Seccomp:\t0"), "{out}");

    let profile = env.tmp.path().join("deny-mkdir.json");
    std::fs::write(
        &profile,
        r#"{"defaultAction": "SCMP_ACT_ALLOW",
            "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO"}]}"#,
    )
    .unwrap();
    let opt = format!("seccomp={}", profile.display());
    let (code, out, err) = run(&env, &["--security-opt", &opt], "mkdir /made");
    assert_eq!(code, Some(1), "{out} {err}");
    assert!(err.contains("Operation not permitted"), "{err}");

    let (code, _, err) = run(&env, &["--security-opt", "seccomp=/no/such.json"], "true");
    assert_eq!(code, Some(125), "{err}");
    assert!(err.contains("read /no/such.json"), "{err}");
}

#[test]
fn the_root_is_refused_as_a_mount_destination() {
    let env = Env::new("rootmnt");
    let host_dir = env.tmp.path().join("host");
    std::fs::create_dir(&host_dir).unwrap();
    let volume = format!("{}:/", host_dir.display());
    let (code, _, err) = run(&env, &["-v", &volume], "true");
    assert_eq!(code, Some(125), "{err}");
    assert!(err.contains("destination can't be '/'"), "{err}");
    assert_eq!(std::fs::read_dir(&host_dir).unwrap().count(), 0);
}

#[test]
fn capabilities_the_agent_lacks_are_left_out_with_a_warning() {
    let env = Env::new("capbnd");
    // The first command starts the agent, which inherits this reduced bounding set.
    let rootfs = env.rootfs();
    let run = |flags: &[&str]| {
        let mut cmd = Command::new("setpriv");
        cmd.args(["--bounding-set", "-sys_resource", "--"])
            .arg(env!("CARGO_BIN_EXE_bosun"))
            .env("BOSUN_DATA_ROOT", env.tmp.path().join("data"))
            .env("BOSUN_RUN_ROOT", env.run_root())
            .env("BOSUN_CGROUP_PARENT", &env.cgroup_parent)
            .env_remove("BOSUN_HOST")
            .args([
                "container",
                "-H",
                &env.host(),
                "run",
                "--rm",
                "--rootfs",
                &rootfs,
            ])
            .args(flags)
            .args(["sh", "-c", "grep -E '^CapEff:' /proc/self/status"]);
        cmd.output().unwrap()
    };
    for flags in [
        &["--cap-add", "SYS_RESOURCE"][..],
        &["--cap-add", "ALL"],
        &["--privileged"],
    ] {
        let out = run(flags);
        let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
        assert!(out.status.success(), "{flags:?}: {stdout} {stderr}");
        assert!(stdout.starts_with("CapEff:"), "{flags:?}: {stdout}");
        let eff = u64::from_str_radix(stdout.trim().trim_start_matches("CapEff:\t"), 16).unwrap();
        assert_eq!(
            eff & (1 << 24),
            0,
            "{flags:?}: CAP_SYS_RESOURCE granted: {stdout}"
        );
        assert!(
            stderr.contains("WARNING: the agent's bounding set lacks ")
                && stderr.contains("CAP_SYS_RESOURCE"),
            "{flags:?}: {stderr}"
        );
    }
}
