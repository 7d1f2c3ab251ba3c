//! End-to-end: docker's `--format` Go templates, `ls -n/-l/-s`, `--filter` and `bosun system`
//! through the real binary and a private agent (run as root): the commands every Docker
//! tutorial teaches give what docker gives for the same fields.

#![allow(clippy::unwrap_used)]

mod image_env;
mod test_images;
mod testbed;
use testkit::teardown;

use image_env::{Env, text};
use serde_json::Value;
use testbed::Bed;

/// An agent with the busybox image as `busybox:fmt`, a running `web` (label tier=front) and an
/// exited `job` created after it.
fn env_with_two_containers() -> Env {
    let env = Env::new();
    env.import_busybox("busybox:fmt");
    env.ok(
        "container",
        &[
            "run",
            "-d",
            "--name",
            "web",
            "-l",
            "tier=front",
            "busybox:fmt",
            "sleep",
            "1000",
        ],
    );
    env.ok(
        "container",
        &["run", "--name", "job", "busybox:fmt", "true"],
    );
    env
}

fn json_lines(out: &str) -> Vec<Value> {
    out.lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{l}: {e}")))
        .collect()
}

#[test]
fn container_templates_last_and_filters() {
    let env = env_with_two_containers();
    let c = |args: &[&str]| env.ok("container", args);

    // The seed command of every tutorial: a container's address.
    let ip = c(&["inspect", "-f", "{{.NetworkSettings.IPAddress}}", "web"]);
    let doc = &json_lines(&c(&["inspect", "--format", "json", "web"]))[0];
    let from_json = doc["NetworkSettings"]["Networks"]["bridge"]["IPAddress"]
        .as_str()
        .unwrap();
    assert!(!from_json.is_empty(), "{doc}");
    assert_eq!(ip, format!("{from_json}\n"));
    assert_eq!(doc["NetworkSettings"]["IPAddress"], from_json);
    assert_eq!(
        c(&[
            "inspect",
            "--format",
            "{{.State.Status}} {{.Name}}",
            "web",
            "job"
        ]),
        "running /web\nexited /job\n"
    );
    assert_eq!(
        c(&[
            "inspect",
            "-f",
            "{{range $k, $v := .Config.Labels}}{{$k}}={{$v}}{{end}}",
            "web"
        ]),
        "tier=front\n"
    );

    // docker's documented inspect examples.
    assert_eq!(
        c(&[
            "inspect",
            "--format",
            "{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}} {{.Config.Image}} {{json .State.Running}}",
            "web"
        ]),
        format!("{from_json} busybox:fmt true\n")
    );

    // A table template: docker's header names, tab-aligned columns.
    let web_id = c(&["ls", "-q", "--filter", "name=web"]).trim().to_string();
    assert_eq!(
        c(&["ls", "--format", "table {{.ID}}\\t{{.Image}}"]),
        format!("CONTAINER ID   IMAGE\n{web_id}   busybox:fmt\n")
    );
    assert_eq!(
        c(&["ls", "--format", "{{.Names}}: {{.State}}"]),
        "web: running\n"
    );
    let rows = json_lines(&c(&["ls", "-a", "--format", "{{json .}}"]));
    assert_eq!(rows.len(), 2);
    assert_eq!(
        (rows[0]["Names"].as_str(), rows[1]["Names"].as_str()),
        (Some("job"), Some("web"))
    );
    assert_eq!(rows[1]["Labels"], "tier=front");
    let running = json_lines(&c(&["ls", "--format", "json"]));
    assert_eq!(running.len(), 1);
    assert_eq!(
        (&running[0]["ID"], &running[0]["Names"]),
        (&rows[1]["ID"], &rows[1]["Names"])
    );

    // -n and -l: the newest containers, whatever their state.
    let last = c(&["ls", "-n", "1"]);
    assert_eq!(last.lines().count(), 2, "{last}");
    assert!(last.lines().nth(1).unwrap().ends_with("job"), "{last}");
    assert_eq!(c(&["ls", "-l", "--format", "{{.Names}}"]), "job\n");
    assert_eq!(
        c(&["ls", "-n", "2", "--format", "{{.Names}}"]),
        "job\nweb\n"
    );

    // -s: the writable layer, and with the image as "virtual".
    let sized = c(&["ls", "-s", "--filter", "name=web"]);
    let header = sized.lines().next().unwrap();
    assert!(header.ends_with("SIZE"), "{sized}");
    assert!(
        sized.lines().nth(1).unwrap().contains("(virtual "),
        "{sized}"
    );
    assert!(c(&["ls", "--format", "{{.Size}}"]).contains("(virtual "));

    // Filters with docker's keys.
    for (filter, want) in [
        ("status=exited", "job\n"),
        ("label=tier=front", "web\n"),
        ("ancestor=busybox:fmt", "job\nweb\n"),
        ("before=job", "web\n"),
        ("since=web", "job\n"),
        ("health=none", "job\nweb\n"),
        ("health=healthy", ""),
        ("exited=0", "job\n"),
    ] {
        assert_eq!(
            c(&["ls", "-a", "--filter", filter, "--format", "{{.Names}}"]),
            want,
            "{filter}"
        );
    }
    let unknown = env.fails("container", &["ls", "--filter", "before=nothing"]);
    assert!(unknown.contains("no such container: nothing"), "{unknown}");

    assert_eq!(
        c(&["stats", "--no-stream", "--format", "{{.Name}}", "web"]),
        "web\n"
    );
}

#[test]
fn template_errors_are_one_line_and_exit_non_zero() {
    let env = Env::new();
    env.import_busybox("busybox:fmt");
    // A container for the templates to run on (created, never started).
    env.ok("container", &["create", "--name", "x", "busybox:fmt"]);
    for (args, want) in [
        (
            &["ls", "-a", "--format", "{{.Nope}}"][..],
            "error: --format template \"{{.Nope}}\" failed: can't evaluate field Nope\n",
        ),
        (
            &["ls", "-a", "--format", "{{upper .ID}"],
            "error: invalid --format template \"{{upper .ID}\": ",
        ),
        (
            &["ls", "-a", "--format", "{{nope .ID}}"],
            "error: invalid --format template \"{{nope .ID}}\": ",
        ),
    ] {
        let out = env.run("container", args);
        assert_eq!(out.status.code(), Some(1), "{args:?}");
        let stderr = text(&out.stderr);
        assert!(stderr.starts_with(want), "{args:?}: {stderr}");
        assert_eq!(stderr.lines().count(), 1, "{stderr}");
        assert!(!stderr.contains("panicked"), "{stderr}");
    }
}

#[test]
fn images_volumes_networks_and_system() {
    let env = env_with_two_containers();
    let id = json_lines(&env.ok("image", &["inspect", "-f", "json", "busybox:fmt"]))[0]["Id"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(
        env.ok("image", &["inspect", "-f", "{{.Id}}", "busybox:fmt"]),
        format!("{id}\n")
    );
    assert_eq!(
        env.ok(
            "image",
            &["ls", "--format", "{{.Repository}}:{{.Tag}} {{.ID}}"]
        ),
        format!("busybox:fmt {}\n", &id[7..19])
    );
    assert_eq!(
        env.ok(
            "image",
            &["ls", "--format", "table {{.Repository}}\t{{.Tag}}"]
        ),
        "REPOSITORY   TAG\nbusybox      fmt\n"
    );
    assert_eq!(
        env.ok(
            "image",
            &["ls", "--filter", "reference=busy*", "--format", "{{.Tag}}"]
        ),
        "fmt\n"
    );
    assert_eq!(
        env.ok("image", &["ls", "--filter", "before=busybox:fmt", "-q"]),
        "",
        "nothing is older than the only image"
    );

    env.ok("volume", &["create", "data"]);
    assert_eq!(
        env.ok("volume", &["ls", "--format", "{{.Name}} {{.Driver}}"]),
        "data local\n"
    );
    assert_eq!(
        env.ok("volume", &["inspect", "-f", "{{.Driver}}", "data"]),
        "local\n"
    );
    assert_eq!(
        env.ok(
            "network",
            &["inspect", "-f", "{{.Name}} {{.Driver}}", "bridge"]
        ),
        "bridge bridge\n"
    );
    assert!(
        env.ok("network", &["ls", "--format", "{{.Name}}"])
            .lines()
            .any(|l| l == "bridge")
    );

    let info = env.ok(
        "info",
        &[
            "--format",
            "{{.Containers}} {{.ContainersRunning}} {{.ContainersStopped}} {{.Images}}",
        ],
    );
    assert_eq!(info, "2 1 1 1\n");
    let text_info = env.ok("system", &["info"]);
    assert!(
        text_info.contains("\n Containers: 2\n  Running: 1\n"),
        "{text_info}"
    );
    assert_eq!(
        env.ok(
            "system",
            &["df", "--format", "{{.Type}}: {{.TotalCount}} {{.Active}}"]
        ),
        "Images: 1 1\nContainers: 2 1\nLocal Volumes: 1 0\n"
    );
    let df = env.ok("system", &["df"]);
    assert!(
        df.starts_with("TYPE            TOTAL   ACTIVE   SIZE"),
        "{df}"
    );

    let until = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs_f64()
        .to_string();
    let events = env.ok(
        "system",
        &[
            "events",
            "--since",
            "0",
            "--until",
            &until,
            "--format",
            "{{.Type}} {{.Action}}",
        ],
    );
    assert!(events.lines().any(|l| l == "container die"), "{events}");
    let job = env.ok(
        "container",
        &["ls", "-aq", "--no-trunc", "--filter", "name=job"],
    );
    let job = job.trim();
    let pruned = env.ok("system", &["prune", "-f", "--volumes"]);
    assert!(
        pruned.starts_with(&format!("Deleted Containers:\n{job}\n")),
        "{pruned}"
    );
    assert!(
        pruned.ends_with("B\n") && pruned.contains("Total reclaimed space: "),
        "{pruned}"
    );
    assert_eq!(
        env.ok("container", &["ls", "-a", "--format", "{{.Names}}"]),
        "web\n"
    );
    // The named volume is not anonymous, and the image is in use: both stay.
    assert_eq!(env.ok("volume", &["ls", "-q"]), "data\n");
    assert_eq!(env.ok("image", &["ls", "-q"]).lines().count(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn node_and_service_lists_take_templates() {
    let bed = Bed::cluster(testbed::bin(), 1);
    let id = bed.node_id(0);
    let (out, _) = bed.bosun_ok(0, &["node", "ls", "-q"]);
    assert_eq!(out, format!("{id}\n"));
    let (out, _) = bed.bosun_ok(
        0,
        &[
            "node",
            "ls",
            "--format",
            "{{.ID}} {{.Self}} {{.Status}} {{.ManagerStatus}}",
        ],
    );
    assert_eq!(out, format!("{id} true Ready Leader\n"));
    let (out, _) = bed.bosun_ok(
        0,
        &[
            "node",
            "ls",
            "--format",
            "table {{.Availability}}\\t{{.ManagerStatus}}",
        ],
    );
    assert_eq!(
        out,
        "AVAILABILITY   MANAGER STATUS\nActive         Leader\n"
    );
    let (out, _) = bed.bosun_ok(
        0,
        &["node", "inspect", "-f", "{{.Description.Hostname}}", &id],
    );
    assert!(!out.trim().is_empty(), "{out}");
    let (out, _) = bed.bosun_ok(
        0,
        &[
            "service",
            "ls",
            "--format",
            "table {{.Name}}\t{{.Replicas}}",
        ],
    );
    assert_eq!(out, "NAME      REPLICAS\n");
}
