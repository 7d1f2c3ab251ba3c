//! A container with a terminal.

use engine::ContainerState;

use super::TestResult;
use crate::support::Env;

pub(crate) fn terminal_output_is_logged() -> TestResult {
    let env = Env::new();
    let mut spec = env.spec("tty; test -t 0 && test -t 1 && echo both-ttys; echo to-stderr >&2");
    spec.tty = true;
    let (state, _) = env.run("c1", &spec);
    assert_eq!(
        state,
        ContainerState::Exited {
            code: 0,
            oom_killed: false
        }
    );
    let logs = env.runtime.logs("c1")?;
    assert!(logs.iter().all(|e| e.stream == "stdout"), "{logs:?}");
    let text: String = logs.into_iter().map(|e| e.log).collect();
    // The terminal belongs to the container's own devpts, and translates newlines.
    assert_eq!(text, "/dev/pts/0\r\nboth-ttys\r\nto-stderr\r\n");
    // With init too: the entrypoint gets the terminal as its controlling terminal.
    let mut spec =
        env.spec("awk '{print ($5 == $8) ? \"foreground\" : \"background\"}' /proc/self/stat");
    spec.tty = true;
    spec.init = true;
    env.run("c2", &spec);
    assert_eq!(env.stdout("c2"), "foreground\r\n");
    Ok(())
}
