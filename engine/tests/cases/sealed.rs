//! CVE-2019-5736: the helpers a container can reach run from a sealed copy of the binary.

use std::time::Duration;

use engine::ExecSpec;

use super::TestResult;
use crate::support::Env;

pub(crate) fn proc_exe_is_sealed() -> TestResult {
    let env = Env::new();
    let exe = std::env::current_exe()?;
    let before = std::fs::read(&exe)?;
    // With init, PID 1 runs the engine's binary inside the container, as the container's
    // root with the container's capabilities: it is within the container's reach.
    let script = "readlink /proc/1/exe; \
        (printf '#!/bin/sh\\n' > /proc/1/exe) 2>/dev/null && echo truncated || echo refused; \
        (printf x >> /proc/1/exe) 2>/dev/null && echo appended || echo refused; \
        sleep 30";
    let mut spec = env.spec(script);
    spec.init = true;
    env.start("c1", &spec);
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while env.stdout("c1").lines().count() < 3 && std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    let out = env.stdout("c1");
    let lines: Vec<&str> = out.lines().collect();
    assert!(
        lines
            .first()
            .is_some_and(|l| l.starts_with("/memfd:bosun-sealed")),
        "PID 1 runs the host's binary file: {out}"
    );
    assert_eq!(&lines[1..], &["refused", "refused"], "{out}");
    // The same from an exec'd process, while the exec helper is alive.
    let out = env.runtime.exec(
        "c1",
        &ExecSpec::new([
            "sh",
            "-c",
            "printf x >> /proc/1/exe && echo appended || echo refused",
        ]),
        Some(Duration::from_secs(10)),
    )?;
    assert_eq!(String::from_utf8(out.stdout)?, "refused\n");
    let shim = env.runtime.state("c1")?.shim_pid.ok_or("no shim pid")?;
    let shim_exe = std::fs::read_link(format!("/proc/{shim}/exe"))?;
    assert!(
        shim_exe
            .to_string_lossy()
            .starts_with("/memfd:bosun-sealed"),
        "{shim_exe:?}"
    );
    assert!(std::fs::read(&exe)? == before, "the host binary changed");
    Ok(())
}
