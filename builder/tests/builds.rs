//! Builds on the real engine (run as root): each test has its own data root, run root and
//! cgroup parent, and the environment unmounts and removes everything even when a test fails.
//! The binary doubles as the runtime's re-exec target.

#![allow(clippy::unwrap_used, missing_docs)]

use std::collections::BTreeMap;
use std::path::PathBuf;

use builder::config::ImageConfig;
use builder::{BuildError, BuildOptions, Builder, Built, Event};
use engine::spec::ContainerSpec;
use engine::{ContainerState, Runtime, RuntimeConfig};
use libtest_mimic::{Arguments, Failed, Trial};
use testkit::image::{self as support, Env, mounts_under};

#[path = "support/differential.rs"]
mod differential;

type TestResult = Result<(), Failed>;
type Case = (&'static str, fn() -> TestResult);

/// A test: the engine environment with a busybox image `bb:1`, a context directory and the
/// builder.
struct Bed {
    env: Env,
    runtime: Runtime,
    builder: Builder,
    context: PathBuf,
    parent: String,
}

static BEDS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

impl Drop for Bed {
    fn drop(&mut self) {
        for id in self.runtime.list().unwrap_or_default() {
            let _ = self.runtime.remove(&id, true);
        }
        for root in self.runtime.layout().hierarchies() {
            remove_tree(&root.join(&self.parent));
        }
    }
}

/// Removes a cgroup directory and the (empty) groups below it, deepest first.
fn remove_tree(dir: &std::path::Path) {
    if let Ok(entries) = std::fs::read_dir(dir) {
        for entry in entries.flatten() {
            if entry.file_type().is_ok_and(|t| t.is_dir()) {
                remove_tree(&entry.path());
            }
        }
    }
    let _ = std::fs::remove_dir(dir);
}

impl Bed {
    fn new() -> Bed {
        let env = Env::new();
        env.import_busybox("bb:1", &[]);
        // A cgroup parent of the test's own: tests run in parallel in this process.
        let parent = format!(
            "bosun-buildtest-{}-{}",
            std::process::id(),
            BEDS.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
        );
        let mut config = RuntimeConfig::new(env.data_root(), env.tmp.path().join("run")).unwrap();
        config.cgroup_parent = parent.clone();
        let runtime = Runtime::new(config).unwrap();
        let builder = Builder::new(runtime.clone()).unwrap();
        let context = env.tmp.path().join("context");
        std::fs::create_dir_all(&context).unwrap();
        Bed {
            env,
            runtime,
            builder,
            context,
            parent,
        }
    }

    fn write(&self, rel: &str, content: &str) {
        let path = self.context.join(rel);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, content).unwrap();
    }

    fn options(&self, tag: &str) -> BuildOptions {
        BuildOptions {
            context: self.context.clone(),
            tags: vec![tag.to_string()],
            ..BuildOptions::default()
        }
    }

    fn build_with(&self, options: &BuildOptions) -> (Result<Built, BuildError>, Vec<Event>) {
        let mut events = Vec::new();
        let result = self.builder.build(options, &mut |e| events.push(e.clone()));
        (result, events)
    }

    fn build(&self, tag: &str, dockerfile: &str) -> Built {
        self.write("Dockerfile", dockerfile);
        let (result, events) = self.build_with(&self.options(tag));
        match result {
            Ok(b) => b,
            Err(e) => panic!("build failed: {e}\nevents: {events:#?}"),
        }
    }

    fn config(&self, tag: &str) -> ImageConfig {
        let record = self.env.store.resolve(tag).unwrap();
        serde_json::from_slice(&self.env.store.blobs().read(&record.id).unwrap()).unwrap()
    }

    /// Runs `script` with `sh -c` in a container of the image (as its USER, in its WORKDIR,
    /// with its ENV); returns the exit code and stdout.
    fn run(&self, tag: &str, script: &str) -> (i32, String) {
        let config = self.config(tag);
        let id = format!("t{}", self.runtime.list().unwrap().len());
        let dir = self.env.data_root().join("test-rootfs").join(&id);
        let rootfs = self.env.store.create_rootfs(&id, tag, &dir).unwrap();
        let mut spec = ContainerSpec::new(&rootfs, ["/bin/sh", "-c", script]);
        spec.env = config.config.env.clone().unwrap_or_default();
        spec.cwd = config
            .config
            .working_dir
            .clone()
            .unwrap_or("/".into())
            .into();
        spec.user = config.config.user.clone();
        let (state, out) = self.env.run(&self.runtime, &id, &spec);
        self.runtime.remove(&id, true).unwrap();
        self.env.store.remove_rootfs(&id, &dir).unwrap();
        match state {
            ContainerState::Exited { code, .. } => (code, out),
            other => panic!("container ended as {other:?}"),
        }
    }

    /// Nothing of a build may be left: containers, mounts, work directories.
    fn assert_clean(&self) {
        assert!(self.runtime.list().unwrap().is_empty(), "containers left");
        assert!(mounts_under(self.env.tmp.path()).is_empty(), "mounts left");
        let work = self.env.data_root().join("build/work");
        let left: Vec<_> = std::fs::read_dir(&work)
            .map(|d| d.flatten().map(|e| e.path()).collect())
            .unwrap_or_default();
        assert!(left.is_empty(), "work directories left: {left:?}");
        assert!(
            self.env.store.rootfs_owners().unwrap().is_empty(),
            "rootfs records left"
        );
    }
}

fn multi_stage_copy_from() -> TestResult {
    let bed = Bed::new();
    bed.write("src/message.txt", "from the context\n");
    bed.build(
        "app:1",
        "FROM bb:1 AS build\n\
         COPY src/ /src/\n\
         RUN mkdir /out && tr a-z A-Z < /src/message.txt > /out/artifact\n\
         FROM bb:1 AS unused\n\
         RUN exit 1\n\
         FROM bb:1\n\
         COPY --from=build /out/artifact /app/\n\
         CMD [\"cat\", \"/app/artifact\"]\n",
    );
    let (code, out) = bed.run("app:1", "cat /app/artifact; test -e /src || echo no-src");
    assert_eq!((code, out.as_str()), (0, "FROM THE CONTEXT\nno-src\n"));
    let config = bed.config("app:1");
    assert_eq!(
        config.config.cmd,
        Some(vec!["cat".into(), "/app/artifact".into()])
    );
    let record = bed.env.store.resolve("app:1")?;
    assert_eq!(record.layers.len(), 2, "busybox and the COPY");
    let layered: Vec<_> = config.history.iter().filter(|h| !h.empty_layer).collect();
    assert_eq!(
        layered.len(),
        config.rootfs.diff_ids.len(),
        "history matches layers"
    );
    bed.assert_clean();
    Ok(())
}

fn arg_env_interplay() -> TestResult {
    let bed = Bed::new();
    bed.write(
        "Dockerfile",
        "ARG TAG=1\n\
         FROM bb:${TAG}\n\
         ARG NAME=world\n\
         ARG TAG\n\
         ENV GREETING=\"hello ${NAME}\" DIR=/srv/${NAME}\n\
         WORKDIR $DIR\n\
         ENV NAME=env-wins\n\
         RUN echo \"$GREETING|$NAME|$TAG|$DIR\" > out.txt\n",
    );
    let mut options = bed.options("args:1");
    options.build_args = BTreeMap::from([("NAME".into(), "bosun".into())]);
    let (result, _) = bed.build_with(&options);
    result?;
    let (_, out) = bed.run("args:1", "cat out.txt; pwd; echo ${TAG:-unset}");
    assert_eq!(
        out,
        "hello bosun|env-wins|1|/srv/bosun\n/srv/bosun\nunset\n"
    );
    let env = bed.config("args:1").env();
    assert!(
        env.contains(&("GREETING".into(), "hello bosun".into())),
        "{env:?}"
    );
    assert!(
        !env.iter().any(|(k, _)| k == "TAG"),
        "ARGs are not kept: {env:?}"
    );
    Ok(())
}

fn heredoc_run_and_copy() -> TestResult {
    let bed = Bed::new();
    bed.build(
        "here:1",
        "FROM bb:1\n\
         ARG WHO=builder\n\
         RUN <<EOF\n\
         echo one > /one\n\
         echo two >> /one\n\
         EOF\n\
         RUN <<EOF\n\
         #!/bin/sh\n\
         echo \"script $WHO\" > /script\n\
         EOF\n\
         COPY <<EOF /etc/app.conf\n\
         who=${WHO}\n\
         EOF\n\
         COPY <<'EOF' /raw.txt\n\
         keep $WHO\n\
         EOF\n",
    );
    let (_, out) = bed.run("here:1", "cat /one /script /etc/app.conf /raw.txt");
    assert_eq!(out, "one\ntwo\nscript builder\nwho=builder\nkeep $WHO\n");
    bed.assert_clean();
    Ok(())
}

fn executed(events: &[Event]) -> Vec<String> {
    events
        .iter()
        .filter_map(|e| match e {
            Event::Finished { step, .. } if !step.text.starts_with("FROM") => {
                Some(step.text.clone())
            }
            _ => None,
        })
        .filter(|t| t.starts_with("RUN") || t.starts_with("COPY"))
        .collect()
}

fn cache_hit_and_miss() -> TestResult {
    let bed = Bed::new();
    bed.write("a.txt", "a1\n");
    bed.write("b.txt", "b\n");
    bed.write(
        "Dockerfile",
        "FROM bb:1\nARG V=1\nRUN echo first-$V > /first\nCOPY a.txt /a.txt\nRUN cat /a.txt > /copied\nCOPY b.txt /b.txt\n",
    );
    let (first, events) = bed.build_with(&bed.options("c:1"));
    let first = first?;
    assert_eq!(executed(&events).len(), 4, "{events:#?}");
    let (again, events) = bed.build_with(&bed.options("c:1"));
    let again = again?;
    assert!(executed(&events).is_empty(), "{events:#?}");
    assert_eq!(again.cached_steps, 4);
    assert_eq!(
        again.image.id, first.image.id,
        "a fully cached build gives the same image"
    );
    // The mtime alone does not invalidate.
    bed.write("a.txt", "a1\n");
    let (_, events) = bed.build_with(&bed.options("c:1"));
    assert!(executed(&events).is_empty(), "{events:#?}");
    // A changed file: its COPY and everything after run again.
    bed.write("a.txt", "a2\n");
    let (_, events) = bed.build_with(&bed.options("c:1"));
    assert_eq!(
        executed(&events),
        [
            "COPY a.txt /a.txt",
            "RUN cat /a.txt > /copied",
            "COPY b.txt /b.txt"
        ]
    );
    assert!(
        events
            .iter()
            .any(|e| matches!(e, Event::Cached(s) if s.text.starts_with("RUN echo first")))
    );
    // A changed build argument: the RUN that sees it runs again.
    let mut options = bed.options("c:2");
    options.build_args = BTreeMap::from([("V".into(), "2".into())]);
    let (_, events) = bed.build_with(&options);
    assert_eq!(executed(&events).len(), 4, "{events:#?}");
    let (_, out) = bed.run("c:2", "cat /first /copied");
    assert_eq!(out, "first-2\na2\n");
    // --no-cache runs everything.
    let mut options = bed.options("c:1");
    options.no_cache = true;
    let (_, events) = bed.build_with(&options);
    assert_eq!(executed(&events).len(), 4);
    bed.assert_clean();
    Ok(())
}

fn dockerignore_with_exception() -> TestResult {
    let bed = Bed::new();
    bed.write("keep.txt", "k");
    bed.write("secret.env", "s");
    bed.write("logs/a.log", "a");
    bed.write("logs/important.log", "i");
    bed.write("docs/x/README.md", "r");
    bed.write("docs/x/other.md", "o");
    bed.write(
        ".dockerignore",
        "*.env\nlogs\n!logs/important.log\ndocs/**/*.md\n!docs/**/README.md\n",
    );
    bed.build("ign:1", "FROM bb:1\nCOPY . /ctx/\n");
    let (_, out) = bed.run("ign:1", "cd /ctx && find . -type f | sort");
    assert_eq!(
        out,
        "./.dockerignore\n./Dockerfile\n./docs/x/README.md\n./keep.txt\n./logs/important.log\n"
    );
    // An excluded file named alone is not found.
    bed.write("Dockerfile", "FROM bb:1\nCOPY secret.env /\n");
    let (result, _) = bed.build_with(&bed.options("ign:2"));
    let err = result.expect_err("an excluded source");
    assert!(
        err.to_string().contains("excluded by .dockerignore"),
        "{err}"
    );
    Ok(())
}

fn user_and_chown() -> TestResult {
    let bed = Bed::new();
    bed.write("owned.txt", "mine\n");
    bed.write("tree/sub/f", "f\n");
    bed.build(
        "user:1",
        "FROM bb:1\n\
         RUN echo 'app:x:1000:1000::/home/app:/bin/sh' >> /etc/passwd && echo 'app:x:1000:' > /etc/group && echo 'staff:x:50:' >> /etc/group\n\
         COPY --chown=app owned.txt /home/app/\n\
         COPY --chown=app:staff --chmod=750 tree /opt/tree\n\
         USER app\n\
         RUN id -u > /home/app/uid && touch /home/app/made-by-app\n",
    );
    let (code, out) = bed.run(
        "user:1",
        "stat -c '%u:%g %n' /home/app/owned.txt /opt/tree/sub/f /home/app/made-by-app; stat -c '%a %n' /opt/tree/sub/f; cat /home/app/uid; id -un",
    );
    assert_eq!(code, 0, "{out}");
    assert_eq!(
        out,
        "1000:1000 /home/app/owned.txt\n1000:50 /opt/tree/sub/f\n1000:1000 /home/app/made-by-app\n750 /opt/tree/sub/f\n1000\napp\n"
    );
    bed.write("Dockerfile", "FROM bb:1\nCOPY --chown=nobody owned.txt /\n");
    let (result, _) = bed.build_with(&bed.options("user:2"));
    let err = result.expect_err("unknown user").to_string();
    assert!(
        err.contains("line 2") && err.contains("unable to find user nobody"),
        "{err}"
    );
    Ok(())
}

fn healthcheck_in_config() -> TestResult {
    let bed = Bed::new();
    bed.build(
        "hc:1",
        "FROM bb:1\n\
         HEALTHCHECK --interval=5s --timeout=2s --start-period=1s --retries=4 CMD [\"test\", \"-e\", \"/tmp/ok\"]\n\
         STOPSIGNAL SIGINT\n\
         SHELL [\"/bin/sh\", \"-ec\"]\n\
         ONBUILD RUN echo triggered > /onbuild\n",
    );
    let raw: serde_json::Value = {
        let record = bed.env.store.resolve("hc:1")?;
        serde_json::from_slice(&bed.env.store.blobs().read(&record.id)?)?
    };
    let hc = &raw["config"]["Healthcheck"];
    assert_eq!(
        hc["Test"],
        serde_json::json!(["CMD", "test", "-e", "/tmp/ok"])
    );
    assert_eq!(hc["Interval"], 5_000_000_000u64);
    assert_eq!(hc["Timeout"], 2_000_000_000u64);
    assert_eq!(hc["StartPeriod"], 1_000_000_000u64);
    assert_eq!(hc["Retries"], 4);
    assert_eq!(raw["config"]["StopSignal"], "SIGINT");
    assert_eq!(
        raw["config"]["Shell"],
        serde_json::json!(["/bin/sh", "-ec"])
    );
    assert_eq!(
        raw["config"]["OnBuild"],
        serde_json::json!(["RUN echo triggered > /onbuild"])
    );
    // The trigger runs in a build FROM the image, and is not inherited further.
    bed.build("hc:2", "FROM hc:1\nRUN cat /onbuild\n");
    let (_, out) = bed.run("hc:2", "cat /onbuild");
    assert_eq!(out, "triggered\n");
    assert_eq!(bed.config("hc:2").config.on_build, None);
    assert!(bed.config("hc:2").config.healthcheck.is_some(), "inherited");
    Ok(())
}

fn whiteouts() -> TestResult {
    let bed = Bed::new();
    bed.build(
        "wh:1",
        "FROM bb:1\n\
         RUN echo x > /gone && mkdir -p /d/old && touch /d/old/a /d/keep\n\
         RUN rm /gone /bin/vi && rm -rf /d && mkdir /d && touch /d/new\n",
    );
    let (code, out) = bed.run(
        "wh:1",
        "test -e /gone || echo gone-ok; test -e /bin/vi || echo vi-ok; ls /d",
    );
    assert_eq!((code, out.as_str()), (0, "gone-ok\nvi-ok\nnew\n"));
    // The layer of the second RUN holds the whiteouts and the opaque marker.
    let record = bed.env.store.resolve("wh:1")?;
    let top = record.layers.last().ok_or("no layers")?;
    let mut names = Vec::new();
    let blob = bed.env.store.blobs().open_blob(&top.blob)?;
    for entry in tar::Archive::new(blob).entries()? {
        names.push(entry?.path()?.display().to_string());
    }
    for wanted in [".wh.gone", "bin/.wh.vi", "d/.wh..wh..opq", "d/new"] {
        assert!(
            names.iter().any(|n| n == wanted),
            "{wanted} missing from {names:?}"
        );
    }
    assert!(
        !names
            .iter()
            .any(|n| n.starts_with("proc") || n.starts_with("etc/hosts") || n.starts_with("dev")),
        "mount points leaked into the layer: {names:?}"
    );
    bed.assert_clean();
    Ok(())
}

fn failing_run_names_the_line() -> TestResult {
    let bed = Bed::new();
    bed.write(
        "Dockerfile",
        "FROM bb:1\nRUN echo fine\nRUN echo about to fail && echo oops >&2 && exit 3\nRUN echo never\n",
    );
    let (result, events) = bed.build_with(&bed.options("fail:1"));
    let err = result.expect_err("the build fails");
    let text = err.to_string();
    assert!(
        text.starts_with("Dockerfile line 3: RUN echo about to fail"),
        "{text}"
    );
    assert!(text.contains("exited with code 3"), "{text}");
    assert!(
        text.contains("about to fail") && text.contains("oops"),
        "{text}"
    );
    assert!(matches!(err.cause(), BuildError::RunFailed { code: 3, .. }));
    assert!(
        events
            .iter()
            .any(|e| matches!(e, Event::Output { line, .. } if line == "about to fail\n")),
        "output streamed"
    );
    assert!(bed.env.store.resolve("fail:1").is_err(), "no image");
    bed.assert_clean();
    Ok(())
}

fn add_archive_and_errors() -> TestResult {
    let bed = Bed::new();
    let tar = support::tar_of(&[
        support::E::Dir("pkg/"),
        support::E::File("pkg/data", b"inside"),
    ]);
    std::fs::write(bed.context.join("pkg.tar.gz"), support::gzip(&tar))?;
    bed.write("plain.txt", "plain");
    bed.build(
        "add:1",
        "FROM bb:1\nADD pkg.tar.gz /opt/\nADD plain.txt /opt/plain\n",
    );
    let (_, out) = bed.run("add:1", "cat /opt/pkg/data; echo; cat /opt/plain");
    assert_eq!(out, "inside\nplain");
    bed.write(
        "Dockerfile",
        "FROM bb:1\nADD http://127.0.0.1:9/x.tar.gz /x\n",
    );
    let err = bed
        .build_with(&bed.options("add:2"))
        .0
        .expect_err("url")
        .to_string();
    assert!(
        err.contains("line 2") && err.contains("cannot reach 127.0.0.1:9"),
        "{err}"
    );
    bed.write("Dockerfile", "FROM bb:1\nCOPY a.txt b.txt /dest\n");
    bed.write("a.txt", "a");
    bed.write("b.txt", "b");
    let err = bed
        .build_with(&bed.options("add:3"))
        .0
        .expect_err("dest")
        .to_string();
    assert!(
        err.contains("must be a directory and end with a /"),
        "{err}"
    );
    Ok(())
}

fn run_network_and_mounts() -> TestResult {
    let bed = Bed::new();
    bed.write("data/input", "bound\n");
    let secret = bed.env.tmp.path().join("token");
    std::fs::write(&secret, "s3cret")?;
    bed.write(
        "Dockerfile",
        "FROM bb:1\n\
         RUN --network=none ip -o link 2>/dev/null | grep -c : > /links || cat /proc/net/dev | tail -n +3 | wc -l > /links\n\
         RUN --mount=type=bind,source=data,target=/mnt cat /mnt/input > /bound\n\
         RUN --mount=type=cache,target=/cache echo run >> /cache/log && cat /cache/log | wc -l > /cache-count\n\
         RUN --mount=type=tmpfs,target=/scratch touch /scratch/x && test ! -e /scratch/y\n\
         RUN --mount=type=secret,id=token cat /run/secrets/token > /got-secret\n",
    );
    let mut options = bed.options("net:1");
    options.secrets = BTreeMap::from([("token".into(), secret)]);
    bed.build_with(&options).0?;
    let (_, out) = bed.run(
        "net:1",
        "cat /links /bound /cache-count /got-secret; echo; test -e /mnt/input || echo no-mnt; test -e /scratch/x || echo no-scratch; test -e /run/secrets/token || echo no-secret",
    );
    assert_eq!(out, "1\nbound\n1\ns3cret\nno-mnt\nno-scratch\nno-secret\n");
    bed.assert_clean();
    Ok(())
}

fn independent_stages_run_in_parallel() -> TestResult {
    let bed = Bed::new();
    // Each stage waits (up to 10 s) for the other's mark in a shared cache mount: both
    // succeed only when they run at the same time.
    let wait = |me: &str, other: &str| {
        format!(
            "RUN --mount=type=cache,id=rendezvous,target=/c touch /c/{me} && \\\n    \
             for i in $(seq 100); do [ -e /c/{other} ] && break; sleep 0.1; done && \\\n    \
             test -e /c/{other} && echo {me} > /{me}\n"
        )
    };
    let dockerfile = format!(
        "FROM bb:1 AS a\n{}FROM bb:1 AS b\n{}FROM bb:1\nCOPY --from=a /a /a\nCOPY --from=b /b /b\n",
        wait("a", "b"),
        wait("b", "a")
    );
    bed.build("par:1", &dockerfile);
    let (_, out) = bed.run("par:1", "cat /a /b");
    assert_eq!(out, "a\nb\n");
    bed.assert_clean();
    Ok(())
}

fn leftovers_of_a_dead_builder_are_removed() -> TestResult {
    let bed = Bed::new();
    // What a builder killed during a step leaves: a mounted step rootfs named after its pid.
    let dead_pid = 999_999_999;
    let owner = format!("build-{dead_pid}-0");
    let dir = bed.env.data_root().join("build/work").join(&owner);
    let record = bed.env.store.resolve("bb:1")?;
    let chains: Vec<_> = record.layers.iter().map(|l| l.chain_id.clone()).collect();
    bed.env
        .store
        .create_rootfs_from_layers(&owner, &chains, &dir)?;
    std::fs::create_dir_all(bed.env.data_root().join(format!("build/tmp/{dead_pid}-3")))?;
    assert_eq!(mounts_under(bed.env.tmp.path()).len(), 1);
    Builder::new(bed.runtime.clone())?;
    bed.assert_clean();
    assert!(
        !bed.env
            .data_root()
            .join(format!("build/tmp/{dead_pid}-3"))
            .exists()
    );
    Ok(())
}

fn main() {
    if let Some(code) = engine::entry::dispatch_from_env() {
        std::process::exit(code);
    }
    let args = Arguments::from_args();
    let tests: Vec<Case> = vec![
        ("multi_stage_copy_from", multi_stage_copy_from),
        (
            "differential_against_docker_goldens",
            differential::against_docker_goldens,
        ),
        ("arg_env_interplay", arg_env_interplay),
        ("heredoc_run_and_copy", heredoc_run_and_copy),
        ("cache_hit_and_miss", cache_hit_and_miss),
        ("dockerignore_with_exception", dockerignore_with_exception),
        ("user_and_chown", user_and_chown),
        ("healthcheck_in_config", healthcheck_in_config),
        ("whiteouts", whiteouts),
        ("failing_run_names_the_line", failing_run_names_the_line),
        ("add_archive_and_errors", add_archive_and_errors),
        ("run_network_and_mounts", run_network_and_mounts),
        (
            "leftovers_of_a_dead_builder_are_removed",
            leftovers_of_a_dead_builder_are_removed,
        ),
        (
            "independent_stages_run_in_parallel",
            independent_stages_run_in_parallel,
        ),
    ];
    let trials = tests.into_iter().map(|(n, f)| Trial::test(n, f)).collect();
    libtest_mimic::run(&args, trials).exit();
}
