//! Seccomp in real containers: Docker's default profile, unconfined, a profile of the user's,
//! privileged containers, exec'd processes; and capabilities the creating process lacks.

use std::time::Duration;

use engine::ExecSpec;
use engine::seccomp::Seccomp;

use super::TestResult;
use crate::support::Env;

/// Prints the filter mode of PID 1, then tries a user namespace (which container root may
/// create without any capability unless a filter stops it) and a plain file operation.
const PROBE: &str = "grep -E '^Seccomp:' /proc/1/status; \
    unshare -U -r true 2>&1; echo unshare=$?; \
    mkdir /probe && echo mkdir=ok";

fn run(env: &Env, id: &str, configure: impl FnOnce(&mut engine::ContainerSpec)) -> String {
    let mut spec = env.spec(PROBE);
    configure(&mut spec);
    let (_, out) = env.run(id, &spec);
    out
}

pub(crate) fn default_profile_blocks_user_namespaces() -> TestResult {
    let env = Env::new();
    let out = run(&env, "c1", |_| {});
    assert!(out.contains("Seccomp:\t2"), "{out}");
    assert!(out.contains("Operation not permitted"), "{out}");
    assert!(out.contains("unshare=1"), "{out}");
    assert!(out.contains("mkdir=ok"), "ordinary calls work: {out}");
    // The same user namespace is allowed when the container holds CAP_SYS_ADMIN.
    let out = run(&env, "c2", |s| {
        s.capabilities.add = vec!["SYS_ADMIN".into()]
    });
    assert!(out.contains("Seccomp:\t2"), "{out}");
    assert!(out.contains("unshare=0"), "{out}");
    // A user other than root, and no_new_privs (the filter then goes in last).
    let mut spec = env.spec("id -u; grep -E '^(Seccomp|NoNewPrivs):' /proc/self/status");
    spec.user = Some("alice".into());
    spec.no_new_privileges = true;
    let (_, out) = env.run("c3", &spec);
    assert!(
        out.contains("1000\n") && out.contains("NoNewPrivs:\t1") && out.contains("Seccomp:\t2"),
        "{out}"
    );
    Ok(())
}

pub(crate) fn unconfined_and_privileged_have_no_filter() -> TestResult {
    let env = Env::new();
    let out = run(&env, "c1", |s| s.seccomp = Seccomp::Unconfined);
    assert!(out.contains("Seccomp:\t0"), "{out}");
    assert!(out.contains("unshare=0"), "{out}");
    let out = run(&env, "c2", |s| {
        s.capabilities.privileged = true;
        s.masked_paths.clear();
        s.readonly_paths.clear();
    });
    assert!(out.contains("Seccomp:\t0"), "{out}");
    Ok(())
}

pub(crate) fn a_custom_profile_is_honoured() -> TestResult {
    let env = Env::new();
    let profile = engine::seccomp::parse_docker_profile(
        r#"{"defaultAction": "SCMP_ACT_ALLOW",
            "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO"}]}"#,
    )?;
    let out = run(&env, "c1", |s| s.seccomp = Seccomp::Profile(profile));
    assert!(out.contains("Seccomp:\t2"), "{out}");
    assert!(out.contains("unshare=0"), "this profile allows it: {out}");
    assert!(!out.contains("mkdir=ok"), "{out}");
    assert!(
        env.stream("c1", "stderr")
            .contains("Operation not permitted"),
        "{}",
        env.stream("c1", "stderr")
    );
    Ok(())
}

pub(crate) fn exec_gets_the_filter() -> TestResult {
    let env = Env::new();
    env.start("c1", &env.spec("sleep 30"));
    let exec = ExecSpec::new([
        "sh",
        "-c",
        "grep -E '^Seccomp:' /proc/self/status; unshare -U -r true 2>&1; echo unshare=$?",
    ]);
    let out = env
        .runtime
        .exec("c1", &exec, Some(Duration::from_secs(10)))?;
    let text = String::from_utf8(out.stdout)?;
    assert!(text.contains("Seccomp:\t2"), "{text}");
    assert!(
        text.contains("Operation not permitted") && text.contains("unshare=1"),
        "{text}"
    );
    Ok(())
}

/// A creator whose bounding set lacks CAP_SYS_RESOURCE still runs privileged containers and
/// ones that add it: they get every other capability.
pub(crate) fn capabilities_the_creator_lacks_are_left_out() -> TestResult {
    let env = Env::new();
    // The bounding set is per thread, and a child inherits its creating thread's: drop the
    // capability on a thread of this test's own, which then creates the containers.
    let outputs = std::thread::scope(|scope| {
        scope
            .spawn(|| -> Result<Vec<(bool, String)>, String> {
                caps::drop(
                    None,
                    caps::CapSet::Bounding,
                    caps::Capability::CAP_SYS_RESOURCE,
                )
                .map_err(|e| e.to_string())?;
                let mut outputs = Vec::new();
                for (id, privileged, add) in [("c1", true, vec![]), ("c2", false, vec!["ALL"])] {
                    let mut spec = env.spec("grep -E '^Cap(Eff|Bnd):' /proc/self/status");
                    spec.capabilities.privileged = privileged;
                    spec.capabilities.add = add.into_iter().map(String::from).collect();
                    let (state, out) = env.run(id, &spec);
                    let ok = matches!(state, engine::ContainerState::Exited { code: 0, .. });
                    outputs.push((ok, format!("{state:?} {out}")));
                }
                Ok(outputs)
            })
            .join()
    })
    .map_err(|_| "the test thread panicked")??;
    let resource = caps::Capability::CAP_SYS_RESOURCE.bitmask();
    let full: u64 = caps::read(None, caps::CapSet::Bounding)?
        .iter()
        .map(|c| c.bitmask())
        .sum();
    let want = format!("CapEff:\t{:016x}", full & !resource);
    for (ok, out) in outputs {
        assert!(ok, "{out}");
        assert!(out.contains(&want), "want {want}: {out}");
    }
    Ok(())
}
