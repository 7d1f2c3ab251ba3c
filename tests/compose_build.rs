//! End-to-end: compose `build:` with the real binary, agent and containers (run as root).
//! `up --build` of three built services (one multi-stage with `COPY --from`, one from
//! `dockerfile_inline` with `args`), a HEALTHCHECK from a Dockerfile gating
//! `depends_on: service_healthy`, a second `up --build` that builds from the cache and
//! recreates nothing, a changed copied file that recreates only its service, `bosun build`
//! of one service, `run` building its service's missing image, `up --no-build`, and
//! `build --push` to a local registry.

#![allow(clippy::unwrap_used)]

mod compose_env;
use testkit::teardown;
mod registry;
mod test_images;
use registry::Registry;

use compose_env::{Env, text};

const COMPOSE: &str = r#"
services:
  api:
    build: ./api
    stop_grace_period: 1s
  web:
    build:
      context: ./web
    stop_grace_period: 1s
    depends_on:
      api: {condition: service_healthy}
  tools:
    build:
      context: .
      dockerfile_inline: |
        FROM busybox:test
        ARG WHO=nobody
        RUN echo "tools for $${WHO}" > /who
        CMD ["sleep", "1000"]
      args:
        WHO: bosun
    stop_grace_period: 1s
"#;

fn project(env: &Env) {
    let dir = env.dir();
    std::fs::create_dir_all(dir.join("api")).unwrap();
    std::fs::create_dir_all(dir.join("web")).unwrap();
    std::fs::write(
        dir.join("api/Dockerfile"),
        "FROM busybox:test\nCOPY msg.txt /msg.txt\n\
         HEALTHCHECK --interval=1s --timeout=2s CMD test -f /tmp/ready\n\
         CMD [\"sh\", \"-c\", \"touch /tmp/ready; sleep 1000\"]\n",
    )
    .unwrap();
    std::fs::write(dir.join("api/msg.txt"), "api v1\n").unwrap();
    std::fs::write(
        dir.join("web/Dockerfile"),
        "FROM busybox:test AS compile\nRUN echo compiled > /artifact\n\
         FROM busybox:test\nCOPY --from=compile /artifact /artifact\nCMD [\"sleep\", \"1000\"]\n",
    )
    .unwrap();
}

/// Container name → id, of every container of the project.
fn ids(env: &Env) -> Vec<(String, String)> {
    let (out, _) = env.ok(&["ps", "-a", "--format", "json"]);
    let mut found: Vec<(String, String)> = out
        .lines()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).unwrap();
            (
                v["Name"].as_str().unwrap().to_string(),
                v["ID"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    found.sort();
    found
}

fn exec(env: &Env, service: &str, command: &[&str]) -> String {
    let mut args = vec!["exec", "-T", service];
    args.extend_from_slice(command);
    env.ok(&args).0
}

#[test]
fn up_build_three_services_then_cached_then_one_changed() {
    let env = Env::new(COMPOSE);
    project(&env);
    let (_, stderr) = env.ok(&["up", "-d", "--build"]);
    assert!(
        stderr.contains("web | [compile 2/2] RUN echo compiled > /artifact"),
        "{stderr}"
    );
    assert_eq!(
        env.ps()
            .iter()
            .filter(|(_, state)| state == "running")
            .count(),
        3,
        "{:?}",
        env.ps()
    );
    assert_eq!(exec(&env, "web", &["cat", "/artifact"]), "compiled\n");
    assert_eq!(exec(&env, "tools", &["cat", "/who"]), "tools for bosun\n");
    assert_eq!(exec(&env, "api", &["cat", "/msg.txt"]), "api v1\n");
    let (health, _) = env.ok(&["ps", "--format", "json", "api"]);
    assert!(
        health.contains("healthy"),
        "the image's HEALTHCHECK runs: {health}"
    );
    let before = ids(&env);
    assert_eq!(before.len(), 3);

    // No change: every step from the cache, no container touched.
    let (_, stderr) = env.ok(&["up", "-d", "--build"]);
    assert!(
        stderr.contains("api | [stage-0 2/4] COPY msg.txt /msg.txt CACHED"),
        "{stderr}"
    );
    assert!(
        stderr.contains("web | [compile 2/2] RUN echo compiled > /artifact CACHED"),
        "{stderr}"
    );
    assert!(
        !stderr.contains("  Created") && !stderr.contains("  Recreated"),
        "nothing recreated:\n{stderr}"
    );
    assert_eq!(ids(&env), before);

    // A changed copied file: only its service is rebuilt into another image and recreated.
    std::fs::write(env.dir().join("api/msg.txt"), "api v2\n").unwrap();
    let (_, stderr) = env.ok(&["up", "-d", "--build"]);
    assert!(
        stderr.contains(&format!(" Container {}  Recreated", env.name("api", 1))),
        "{stderr}"
    );
    let after = ids(&env);
    let changed: Vec<&str> = before
        .iter()
        .zip(&after)
        .filter(|(b, a)| b.1 != a.1)
        .map(|(b, _)| b.0.as_str())
        .collect();
    assert_eq!(changed, [env.name("api", 1)]);
    assert_eq!(exec(&env, "api", &["cat", "/msg.txt"]), "api v2\n");
}

#[test]
fn build_one_service_and_no_build() {
    let env = Env::new(COMPOSE);
    project(&env);
    let out = env.bosun(&["up", "-d", "--no-build"]);
    assert!(!out.status.success());
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("is not present locally and the service must be built first"),
        "{stderr}"
    );
    let (plan, _) = env.ok(&["build", "--dry-run", "tools"]);
    assert_eq!(
        plan,
        format!(
            " 1. build image {}-tools for service tools: bosun build\n",
            env.project
        )
    );

    let (_, stderr) = env.ok(&["build", "--build-arg", "WHO=cli", "tools"]);
    assert!(
        stderr.contains("tools | [stage-0 3/4] RUN echo \"tools for ${WHO}\" > /who"),
        "{stderr}"
    );
    let images = env.ok_raw(&["image", "ls", "--format", "json"]);
    assert!(
        images.contains(&format!("{}-tools", env.project)),
        "{images}"
    );
    assert!(
        !images.contains(&format!("{}-api", env.project)),
        "only the named service: {images}"
    );
    // `run` builds the missing image of its service first.
    let (out, stderr) = env.ok(&["run", "--rm", "-T", "api", "cat", "/msg.txt"]);
    assert_eq!(out, "api v1\n", "{stderr}");
    assert!(
        stderr.contains("api | [stage-0 2/4] COPY msg.txt /msg.txt"),
        "{stderr}"
    );
    // `up` builds only what is missing (web); tools and api keep the images just built.
    let (_, stderr) = env.ok(&["up", "-d"]);
    assert!(
        !stderr.contains("tools |"),
        "tools is not built again:\n{stderr}"
    );
    assert_eq!(exec(&env, "tools", &["cat", "/who"]), "tools for cli\n");
}

/// `build --push`: the built image goes to its registry under its name and its build tags
/// (pulled back after being removed here).
#[test]
fn build_push_sends_the_built_images_to_their_registry() {
    let registry = Registry::start();
    let image = format!("{}/tests/pushed:1", registry.addr);
    let extra = format!("{}/tests/pushed:extra", registry.addr);
    let env = Env::new(&format!(
        r#"
services:
  app:
    image: {image}
    build:
      context: .
      dockerfile_inline: |
        FROM busybox:test
        RUN echo pushed > /pushed
      tags: ["{extra}"]
"#
    ));
    let (_, stderr) = env.ok(&["build", "--push"]);
    for name in [&image, &extra] {
        assert!(
            stderr.contains(&format!(" ✔ {name}  Pushed sha256:")),
            "{name}: {stderr}"
        );
    }
    env.ok_raw(&["image", "rm", &image, &extra]);
    env.ok_raw(&["image", "pull", &extra]);
    let (out, _) = env.ok(&["run", "--rm", "-T", "--no-deps", "app", "cat", "/pushed"]);
    assert_eq!(out, "pushed\n");
}
