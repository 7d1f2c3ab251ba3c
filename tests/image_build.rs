//! End-to-end: `bosun image build` through the agent it starts (run as root): a Dockerfile with
//! RUN, COPY, ENV and CMD built, run as a container and rebuilt from the cache; a Dockerfile
//! from stdin (`-f -`) with `-q`; a failing RUN named by its line, with its output and exit
//! code, leaving no container behind.

#![allow(clippy::unwrap_used)]

mod image_env;
use testkit::teardown;
mod test_images;

use std::io::Write;
use std::process::{Output, Stdio};

use image_env::{Env, text};

const DOCKERFILE: &str = r#"FROM busybox:test
ENV GREETING=hello
RUN echo "preparing $GREETING" && mkdir /app && echo built > /app/built
COPY message.txt /app/message.txt
CMD ["sh", "-c", "echo $GREETING; cat /app/built /app/message.txt"]
"#;

fn context(env: &Env, dockerfile: &str) -> std::path::PathBuf {
    let dir = env.tmp.path().join("ctx");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("Dockerfile"), dockerfile).unwrap();
    std::fs::write(dir.join("message.txt"), "from the context\n").unwrap();
    dir
}

fn with_stdin(env: &Env, args: &[&str], stdin: &str) -> Output {
    let mut child = env
        .command("image", args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    child.wait_with_output().unwrap()
}

#[test]
fn build_then_run_and_rebuild_from_the_cache() {
    let env = Env::new();
    env.import_busybox("busybox:test");
    let ctx = context(&env, DOCKERFILE);
    let out = env.run(
        "image",
        &[
            "build",
            "-t",
            "app:1",
            "--progress",
            "plain",
            ctx.to_str().unwrap(),
        ],
    );
    let stderr = text(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    let lines: Vec<&str> = stderr.lines().collect();
    let run =
        "[stage-0 3/5] RUN echo \"preparing $GREETING\" && mkdir /app && echo built > /app/built";
    assert!(
        lines.contains(&run),
        "the step is announced before its output:\n{stderr}"
    );
    assert!(
        lines.contains(&"  preparing hello"),
        "RUN output streamed:\n{stderr}"
    );
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with(run) && l.ends_with('s') && l.len() > run.len()),
        "the step ends with its time:\n{stderr}"
    );
    assert!(stderr.contains("tagged app:1"), "{stderr}");

    let ran = env.ok("container", &["run", "--rm", "app:1"]);
    assert_eq!(ran, "hello\nbuilt\nfrom the context\n");

    // Nothing changed: the same image, from the cache, and -q prints only its id.
    let id = env.ok(
        "image",
        &["build", "-q", "-t", "app:1", ctx.to_str().unwrap()],
    );
    let again = env.run(
        "image",
        &[
            "build",
            "--progress",
            "plain",
            "-t",
            "app:1",
            ctx.to_str().unwrap(),
        ],
    );
    let stderr = text(&again.stderr);
    assert!(stderr.contains(&format!("{run} CACHED")), "{stderr}");
    assert!(stderr.contains("(2 steps cached, 0 run)"), "{stderr}");
    let inspect: serde_json::Value =
        serde_json::from_str(&env.ok("image", &["inspect", "app:1"])).unwrap();
    assert_eq!(format!("{}\n", inspect[0]["Id"].as_str().unwrap()), id);
}

#[test]
fn dockerfile_from_stdin_with_quiet_output() {
    let env = Env::new();
    env.import_busybox("busybox:test");
    let ctx = context(&env, "FROM scratch\n");
    let out = with_stdin(
        &env,
        &[
            "build",
            "-q",
            "-f",
            "-",
            "-t",
            "piped:1",
            "--build-arg",
            "WHO=stdin",
            ctx.to_str().unwrap(),
        ],
        "FROM busybox:test\nARG WHO\nRUN echo \"from $WHO\" > /who\nCMD [\"cat\", \"/who\"]\n",
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    assert!(
        stdout.starts_with("sha256:") && stdout.len() == 72 && stdout.lines().count() == 1,
        "only the id: {stdout:?}"
    );
    assert_eq!(text(&out.stderr), "", "-q shows no progress");
    assert_eq!(
        env.ok("container", &["run", "--rm", "piped:1"]),
        "from stdin\n"
    );
}

#[test]
fn a_failing_run_names_its_line_shows_its_output_and_exits_non_zero() {
    let env = Env::new();
    env.import_busybox("busybox:test");
    let ctx = context(
        &env,
        "FROM busybox:test\nRUN echo fine\nRUN echo about to fail && exit 3\nCMD [\"true\"]\n",
    );
    for quiet in [false, true] {
        let mut args = vec!["build", "-t", "broken:1", "--progress", "plain"];
        if quiet {
            args.push("-q");
        }
        args.push(ctx.to_str().unwrap());
        let out = env.run("image", &args);
        let stderr = text(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{stderr}");
        assert!(
            stderr.contains("about to fail\n"),
            "the RUN's output is shown:\n{stderr}"
        );
        assert!(
            stderr.lines().last().unwrap()
                == "error: Dockerfile line 3: RUN echo about to fail && exit 3: the command exited with code 3",
            "{stderr}"
        );
        assert_eq!(text(&out.stdout), "", "no id for a failed build");
    }
    assert_eq!(
        env.ok("container", &["ls", "-aq"]),
        "",
        "no step container is left"
    );
    let ls = env.ok("image", &["ls", "--format", "json"]);
    assert!(!ls.contains("broken"), "no image is tagged: {ls}");
}
