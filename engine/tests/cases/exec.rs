//! exec into a running container.

use std::io::{Read, Write};
use std::time::Duration;

use engine::ExecSpec;
use engine::RuntimeError;

use super::TestResult;
use crate::support::Env;

pub(crate) fn enters_everything() -> TestResult {
    let env = Env::new();
    let mut spec = env.spec("sleep 30");
    spec.hostname = Some("boxy".into());
    spec.env = vec!["FOO=from-container".into()];
    spec.cwd = "/work/dir".into();
    let record = env.start("c1", &spec);
    let init = record.pid.ok_or("no pid")?;
    let script = "echo $$; hostname; pwd; echo $FOO $EXTRA; id -u; \
        grep CapEff /proc/self/status; cat /proc/self/cgroup; \
        for ns in cgroup ipc mnt net pid uts; do readlink /proc/self/ns/$ns; done; \
        cat /proc/1/cmdline; echo";
    let mut exec = ExecSpec::new(["sh", "-c", script]);
    exec.env = vec!["EXTRA=from-exec".into()];
    let out = env
        .runtime
        .exec("c1", &exec, Some(Duration::from_secs(10)))?;
    let text = String::from_utf8(out.stdout)?;
    assert_eq!(
        out.code,
        0,
        "{text} / {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let lines: Vec<&str> = text.lines().collect();
    let pid: i32 = lines[0].parse()?;
    assert!(
        pid > 1 && pid < 100,
        "not in the container's pid namespace: {pid}"
    );
    assert_eq!(
        &lines[1..5],
        &["boxy", "/work/dir", "from-container from-exec", "0"]
    );
    assert_eq!(lines[5], "CapEff:\t00000000a80425fb", "same capabilities");
    let cgroup_lines: Vec<&&str> = lines.iter().filter(|l| l.contains(":/")).collect();
    assert!(!cgroup_lines.is_empty(), "{text}");
    assert!(
        cgroup_lines.iter().all(|l| l.ends_with(":/")),
        "not at the root of the container's cgroup namespace: {text}"
    );
    for ns in ["cgroup", "ipc", "mnt", "net", "pid", "uts"] {
        let theirs = std::fs::read_link(format!("/proc/{init}/ns/{ns}"))?;
        let ours = std::fs::read_link(format!("/proc/self/ns/{ns}"))?;
        assert_ne!(
            theirs, ours,
            "{ns}: the container shares the host's namespace"
        );
        assert!(
            lines.contains(&theirs.to_string_lossy().as_ref()),
            "{ns} namespace not joined: {theirs:?} not in {text}"
        );
    }
    assert!(
        text.contains("sleep\u{0}30"),
        "PID 1 is the container's init: {text}"
    );
    // Another user, another directory; the container is unchanged.
    let mut exec = ExecSpec::new(["sh", "-c", "id; pwd; grep CapEff /proc/self/status"]);
    exec.user = Some("alice".into());
    exec.cwd = Some("/tmp".into());
    let out = env
        .runtime
        .exec("c1", &exec, Some(Duration::from_secs(10)))?;
    let text = String::from_utf8(out.stdout)?;
    assert!(
        text.starts_with("uid=1000(alice) gid=1000(alice)"),
        "{text}"
    );
    assert!(text.contains("\n/tmp\nCapEff:\t0000000000000000"), "{text}");
    Ok(())
}

pub(crate) fn codes_stdin_refusals() -> TestResult {
    let env = Env::new();
    env.start("c1", &env.spec("sleep 30"));
    let run = |args: &[&str]| {
        env.runtime.exec(
            "c1",
            &ExecSpec::new(args.iter().copied()),
            Some(Duration::from_secs(10)),
        )
    };
    let out = run(&["sh", "-c", "echo out; echo err >&2; exit 7"])?;
    assert_eq!(
        (out.code, out.stdout.as_slice(), out.stderr.as_slice()),
        (7, &b"out\n"[..], &b"err\n"[..])
    );
    let out = run(&["no-such-command"])?;
    assert_eq!(out.code, 127);
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("executable file not found"),
        "{out:?}"
    );
    // stdin reaches the process; closing it ends the input.
    let mut exec = ExecSpec::new(["sh", "-c", "tr a-z A-Z"]);
    exec.stdin = true;
    let mut process = env.runtime.exec_spawn("c1", &exec)?;
    process
        .stdin
        .take()
        .ok_or("no stdin")?
        .write_all(b"hello\n")?;
    let mut text = String::new();
    process
        .stdout
        .take()
        .ok_or("no stdout")?
        .read_to_string(&mut text)?;
    assert_eq!((process.wait()?, text.as_str()), (0, "HELLO\n"));
    // A timeout kills the process.
    let out = env.runtime.exec(
        "c1",
        &ExecSpec::new(["sleep", "20"]),
        Some(Duration::from_millis(300)),
    )?;
    assert!(out.timed_out && out.code == -1, "{out:?}");
    let top = env.runtime.top("c1")?;
    assert!(
        top.iter().all(|p| !p.cmd.contains("sleep 20")),
        "the timed-out process lives on: {top:?}"
    );
    // Paused and exited containers refuse.
    env.runtime.pause("c1")?;
    let err = run(&["true"]).unwrap_err();
    assert!(
        matches!(err, engine::Error::Runtime(RuntimeError::Conflict { .. })),
        "{err}"
    );
    env.runtime.unpause("c1")?;
    env.runtime.stop("c1", Some(Duration::from_millis(100)))?;
    let err = run(&["true"]).unwrap_err();
    assert!(err.to_string().contains("is exited: cannot exec"), "{err}");
    Ok(())
}
