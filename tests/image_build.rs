//! End-to-end: `bosun image build` through the agent it starts (run as root): a Dockerfile with
//! RUN, COPY, ENV and CMD built, run as a container and rebuilt from the cache; a Dockerfile
//! from stdin (`-f -`) with `-q`; a failing RUN named by its line, with its output and exit
//! code, leaving no container behind; one Dockerfile with the features users write (ARG/ENV
//! interplay, heredoc RUN and COPY, `.dockerignore` with an exception, USER and `--chown`, a
//! file deleted in a later step) checked in a container of the built image, with a changed
//! build argument missing the cache; a `FROM` of a registry that wants the `bosun login`
//! credentials.

#![allow(clippy::unwrap_used)]

mod image_env;
use testkit::teardown;
mod registry;
mod test_images;

use registry::{AUTH_PASSWORD, AUTH_USER, Registry};

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

/// The Dockerfile of the features users write, each checked in a container of the image.
const FEATURES: &str = r#"ARG BASE=busybox:test
FROM ${BASE}
ARG NAME=world
ENV GREETING="hello ${NAME}" HOME_DIR=/home/app
ENV NAME=env-wins
RUN echo 'app:x:1000:1000::/home/app:/bin/sh' >> /etc/passwd && echo 'app:x:1000:' >> /etc/group
ARG LEVEL=1
RUN <<EOF
echo "level ${LEVEL}" > /level
echo "$GREETING|$NAME" > /greeting
EOF
COPY <<EOF /etc/app.conf
name=${NAME}
EOF
COPY --chown=app:app . ${HOME_DIR}/ctx/
RUN echo temporary > /scratch.txt && mkdir /cache && touch /cache/a
RUN rm /scratch.txt && rm -rf /cache
USER app
RUN id -un > ${HOME_DIR}/whoami
"#;

/// What a container of the features image prints.
const FEATURES_CHECK: &str = "cat /level /greeting /etc/app.conf $HOME_DIR/whoami; \
     cd $HOME_DIR/ctx && find . -type f | sort; stat -c '%U:%G' keep.txt logs/important.log; \
     test -e /scratch.txt || echo scratch-gone; test -e /cache || echo cache-gone; id -un";

#[test]
fn the_features_users_write_then_a_changed_build_arg() {
    let env = Env::new();
    env.import_busybox("busybox:test");
    let ctx = context(&env, FEATURES);
    std::fs::remove_file(ctx.join("message.txt")).unwrap();
    for (file, content) in [
        ("keep.txt", "k\n"),
        ("secret.env", "s\n"),
        ("logs/a.log", "a\n"),
        ("logs/important.log", "i\n"),
        (".dockerignore", "*.env\nlogs\n!logs/important.log\n"),
    ] {
        let path = ctx.join(file);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, content).unwrap();
    }
    let build = |level: &str| {
        let out = env.run(
            "image",
            &[
                "build",
                "-t",
                "features:1",
                "--progress",
                "plain",
                "--build-arg",
                "NAME=bosun",
                "--build-arg",
                &format!("LEVEL={level}"),
                ctx.to_str().unwrap(),
            ],
        );
        let stderr = text(&out.stderr);
        assert!(out.status.success(), "{stderr}");
        stderr
    };
    build("1");
    let ran = env.ok(
        "container",
        &["run", "--rm", "features:1", "sh", "-c", FEATURES_CHECK],
    );
    assert_eq!(
        ran,
        "level 1\n\
         hello bosun|env-wins\n\
         name=env-wins\n\
         app\n\
         ./.dockerignore\n./Dockerfile\n./keep.txt\n./logs/important.log\n\
         app:app\napp:app\n\
         scratch-gone\ncache-gone\n\
         app\n"
    );

    // The same arguments: every step from the cache. Another LEVEL: the steps from the first
    // RUN that sees it run again; the one before it stays cached.
    let stderr = build("1");
    assert!(stderr.contains("(7 steps cached, 0 run)"), "{stderr}");
    let stderr = build("2");
    assert!(stderr.contains("(1 steps cached, 6 run)"), "{stderr}");
    assert!(
        stderr.contains("[stage-0 5/13] RUN echo 'app:x:1000:1000::/home/app:/bin/sh' >> /etc/passwd && echo 'app:x:1000:' >> /etc/group CACHED"),
        "{stderr}"
    );
    let ran = env.ok("container", &["run", "--rm", "features:1", "cat", "/level"]);
    assert_eq!(ran, "level 2\n");
}

/// Runs `bosun login` for the test registry's user with the test's credential store.
fn login(env: &Env, registry: &str) {
    let mut child = std::process::Command::new(image_env::BOSUN)
        .env("BOSUN_CONFIG", env.tmp.path().join("config"))
        .args(["login", "-u", AUTH_USER, "--password-stdin", registry])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(AUTH_PASSWORD.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "login: {}", text(&out.stderr));
}

/// A `FROM` of an image in a registry that wants credentials: without a login the pull is
/// refused and the build fails naming the image; after `bosun login` the build pulls it.
#[test]
fn from_pulls_with_the_login_credentials() {
    let registry = Registry::start_with_auth();
    let env = Env::new();
    env.import_busybox("busybox:test");
    let base = format!("{}/base/busybox:1", registry.addr);
    login(&env, &registry.addr);
    env.ok("image", &["tag", "busybox:test", &base]);
    env.ok("image", &["push", &base]);
    env.ok("image", &["rm", &base]);
    let ctx = context(
        &env,
        &format!("FROM {base}\nRUN echo built-on-the-pulled-base > /marker\n"),
    );
    let out = std::process::Command::new(image_env::BOSUN)
        .env("BOSUN_CONFIG", env.tmp.path().join("config"))
        .args(["logout", &registry.addr])
        .output()
        .unwrap();
    assert!(out.status.success(), "logout: {}", text(&out.stderr));

    let build = || {
        env.run(
            "image",
            &["build", "-t", "private:1", ctx.to_str().unwrap()],
        )
    };
    let out = build();
    let stderr = text(&out.stderr);
    assert!(
        !out.status.success(),
        "an anonymous pull is refused: {stderr}"
    );
    let last = stderr.lines().last().unwrap_or_default();
    assert!(
        last.starts_with("error: Dockerfile line 1: FROM ") && last.contains(&base),
        "{stderr}"
    );

    login(&env, &registry.addr);
    let out = build();
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(
        env.ok("container", &["run", "--rm", "private:1", "cat", "/marker"]),
        "built-on-the-pulled-base\n"
    );
}
