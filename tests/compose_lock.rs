//! End-to-end: compose commands that change the same project take its lock, so two `up -d` at
//! once both succeed (the second waits for the first, then finds nothing to do) instead of
//! racing to create the same containers.

#![allow(clippy::unwrap_used)]

mod compose_env;
use testkit::teardown;
mod test_images;

use compose_env::{Env, text};

const THREE: &str = r#"
services:
  web:
    image: busybox:test
    command: ["sleep", "1000"]
    stop_grace_period: 1s
  api:
    image: busybox:test
    command: ["sleep", "1000"]
    stop_grace_period: 1s
  db:
    image: busybox:test
    command: ["sleep", "1000"]
    stop_grace_period: 1s
"#;

#[test]
fn concurrent_ups_of_one_project_both_succeed() {
    let env = Env::new(THREE);
    // Start the agent first, so that the two commands race on the project, not on the agent.
    env.ok(&["ps"]);
    let project = env.project.as_str();
    let args = ["-p", project, "up", "-d"];
    let children: Vec<_> = (0..2)
        .map(|_| {
            env.command(&args)
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    for child in children {
        let out = child.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "up -d: {}{}",
            text(&out.stdout),
            text(&out.stderr)
        );
    }
    let mut names = env.names();
    names.sort();
    let mut want: Vec<String> = ["api", "db", "web"]
        .iter()
        .map(|s| env.name(s, 1))
        .collect();
    want.sort();
    assert_eq!(names, want);
    assert!(
        env.ps().iter().all(|(_, state)| state == "running"),
        "{:?}",
        env.ps()
    );
}
