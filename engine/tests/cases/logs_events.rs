//! Reading logs (follow, tail, since, streams) and the event log.

use std::time::Duration;

use engine::events::Action;
use engine::logs::LogQuery;
use nix::sys::signal::Signal;

use super::TestResult;
use crate::support::Env;

pub(crate) fn follow_tail_since() -> TestResult {
    let env = Env::new();
    let mut spec =
        env.spec("for i in $(seq 1 40); do echo line $i; sleep 0.01; done; echo done >&2");
    // ~90 bytes per entry: the live file rotates every few lines and old files are dropped.
    spec.log_max_size = 400;
    spec.log_max_files = 2;
    env.runtime.create("c1", &spec)?;
    let stream = env.runtime.follow_logs("c1", LogQuery::default())?;
    env.runtime.start("c1")?;
    let followed: Vec<String> = stream.map(|e| e.map(|e| e.log)).collect::<Result<_, _>>()?;
    let mut want: Vec<String> = (1..=40).map(|i| format!("line {i}\n")).collect();
    want.push("done\n".into());
    assert_eq!(followed, want, "follow saw every line once, in order");
    let kept = env.runtime.logs("c1")?;
    assert!(kept.len() < 20, "rotation dropped nothing: {}", kept.len());
    // tail, streams, since.
    let tail = env.runtime.logs_query(
        "c1",
        &LogQuery {
            stderr: false,
            tail: Some(2),
            ..LogQuery::default()
        },
    )?;
    let tail: Vec<&str> = tail.iter().map(|e| e.log.as_str()).collect();
    assert_eq!(tail, ["line 39\n", "line 40\n"]);
    let err = env.runtime.logs_query(
        "c1",
        &LogQuery {
            stdout: false,
            ..LogQuery::default()
        },
    )?;
    assert_eq!(err.len(), 1);
    assert_eq!(err[0].log, "done\n");
    let line38 = kept
        .iter()
        .find(|e| e.log == "line 38\n")
        .ok_or("line 38 was rotated out")?;
    let since = humantime::parse_rfc3339(&line38.time)?;
    let recent = env.runtime.logs_query(
        "c1",
        &LogQuery {
            since: Some(since),
            until: Some(since + Duration::from_nanos(1)),
            ..LogQuery::default()
        },
    )?;
    assert_eq!(recent.len(), 1, "{recent:?}");
    // Following an exited container ends after its entries; tail 0 with follow ends at once.
    let ended = env.runtime.follow_logs(
        "c1",
        LogQuery {
            tail: Some(0),
            ..LogQuery::default()
        },
    )?;
    assert_eq!(ended.count(), 0);
    Ok(())
}

pub(crate) fn lifecycle_events() -> TestResult {
    let env = Env::new();
    let mut stream = env.runtime.events().follow()?;
    env.start("c1", &env.spec("sleep 30"));
    env.runtime.pause("c1")?;
    env.runtime.unpause("c1")?;
    env.runtime.kill("c1", Signal::SIGKILL)?;
    env.runtime.wait("c1", Some(Duration::from_secs(5)))?;
    env.runtime.remove("c1", false)?;
    let mut seen = Vec::new();
    while let Some(e) = stream.next_timeout(Duration::from_secs(2))? {
        let detail = ["exitCode", "signal"]
            .iter()
            .find_map(|k| e.attributes.get(*k).cloned())
            .unwrap_or_default();
        seen.push((e.id.clone(), e.action, detail));
        if e.action == Action::Destroy {
            break;
        }
    }
    let c1 = |a, d: &str| ("c1".to_string(), a, d.to_string());
    assert_eq!(
        seen,
        [
            c1(Action::Create, ""),
            c1(Action::Start, ""),
            c1(Action::Pause, ""),
            c1(Action::Unpause, ""),
            c1(Action::Kill, "9"),
            c1(Action::Die, "137"),
            c1(Action::Destroy, ""),
        ]
    );
    // The OOM killer: an oom event before the die.
    let mut spec = env.spec("x=aaaaaaaaaaaaaaaa; while true; do x=$x$x; done");
    spec.resources.memory = Some(32 << 20);
    spec.resources.memory_swap = Some(32 << 20);
    env.run("hog", &spec);
    let actions: Vec<(Action, Option<String>)> = env
        .runtime
        .events()
        .read(None, None)?
        .into_iter()
        .filter(|e| e.id == "hog")
        .map(|e| (e.action, e.attributes.get("exitCode").cloned()))
        .collect();
    assert_eq!(
        actions,
        [
            (Action::Create, None),
            (Action::Start, None),
            (Action::Oom, None),
            (Action::Die, Some("137".into())),
        ]
    );
    Ok(())
}
