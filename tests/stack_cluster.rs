//! `bosun stack` end to end on 3 managers and 2 workers, each node with its own agent running
//! real containers: a compose file (with `.env`) deploys as `<stack>_<service>` services, the
//! ignored keys are warned about, redeploying the same file changes nothing, a changed service
//! alone is updated (replaced for a new variable, scaled in place for more replicas), a tag
//! that moved to another image is picked up (`--resolve-image`),
//! `--prune` removes a service dropped from the file, and `stack rm` removes the rest. A second
//! stack runs on its own overlays: its services reach each other by short name and alias,
//! `depends_on` orders its first deploy, a secret from a file reaches its task, and `stack rm`
//! takes its networks and secret away from every node. Needs root.

// Test helpers unwrap like the tests they serve.
#![allow(clippy::unwrap_used)]

mod testbed;
use testbed::services::{RunningContainer, wait_until};
use testbed::{Bed, bin, blocking};

use std::collections::BTreeSet;
use std::path::Path;
use std::time::Duration;

const IMAGE: &str = "busybox:stack";
/// Time allowed for the cluster to converge.
const WITHIN: Duration = Duration::from_secs(60);

/// The compose file: web with `replicas`, and worker (which names a `build`) when asked.
fn compose(replicas: u64, with_worker: bool) -> String {
    let mut text = format!(
        r#"
services:
  web:
    image: busybox:stack
    command: ["sleep", "3600"]
    environment:
      GREETING: ${{GREETING}}
    deploy:
      replicas: {replicas}
"#
    );
    if with_worker {
        text.push_str(
            r#"
  worker:
    image: busybox:stack
    build: ./worker
    command: ["sleep", "3600"]
"#,
        );
    }
    text
}

/// Runs `bosun <args>` on member `i`; panics with the output unless it succeeds; returns
/// (stdout, stderr).
fn bosun(bed: &Bed, i: usize, args: &[&str]) -> (String, String) {
    bed.bosun_ok(i, args)
}

fn write_project(dir: &Path, compose: &str, greeting: &str) {
    std::fs::write(dir.join("compose.yaml"), compose).unwrap();
    std::fs::write(dir.join(".env"), format!("GREETING={greeting}\n")).unwrap();
}

/// Waits until `service` runs `n` replicas, one per slot, on the agents as the store wants.
async fn at_rest(bed: &Bed, service: &str, n: u64) -> BTreeSet<String> {
    let running: Vec<RunningContainer> = wait_until(bed, service, WITHIN, || {
        bed.one_running_per_slot(0, service, n)
    })
    .await;
    running.into_iter().map(|c| c.task).collect()
}

/// Waits until `service` runs `n` replicas, one per slot, none of them among `old`; their
/// task ids.
async fn replaced(bed: &Bed, service: &str, n: u64, old: &BTreeSet<String>) -> BTreeSet<String> {
    wait_until(bed, &format!("{service} replaced"), WITHIN, || async {
        let now = bed.one_running_per_slot(0, service, n).await?;
        let ids: BTreeSet<String> = now.into_iter().map(|c| c.task).collect();
        if ids.is_disjoint(old) {
            Ok(ids)
        } else {
            Err(format!("old tasks still run: {ids:?}"))
        }
    })
    .await
}

/// Every container (running or not) of services of stack `stack` on any node.
fn stack_containers(bed: &Bed, stack: &str) -> usize {
    bed.containers_labelled("com.docker.stack.namespace", stack)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_compose_file_deploys_updates_prunes_and_is_removed_as_a_stack() {
    let (tag, dir) = {
        let mut bed = blocking(|| Bed::managers_and_workers_with_agents(bin(), IMAGE));
        let tag = bed.lab().tag().to_owned();
        let dir = bed.dir().to_path_buf();
        let project = dir.join("stack-project");
        std::fs::create_dir_all(&project).unwrap();
        let file = project.join("compose.yaml");
        let file = file.to_str().unwrap();

        // First deploy: both services created, the ignored key warned about; it waits until
        // the tasks run.
        write_project(&project, &compose(2, true), "hello");
        let (out, err) = bosun(&bed, 1, &["stack", "deploy", "-c", file, "app"]);
        assert!(out.contains("Creating service app_web"), "{out}");
        assert!(out.contains("Creating service app_worker"), "{out}");
        assert!(
            err.contains("warning: build is not supported by stack deploy and is ignored")
                && err.contains("(services: worker)"),
            "{err}"
        );
        let web = at_rest(&bed, "app_web", 2).await;
        let worker = at_rest(&bed, "app_worker", 1).await;
        let services = bed.services(0);
        let record = services.inspect("app_web").await.unwrap().record;
        assert_eq!(record.service.spec.env["GREETING"], "hello");
        assert_eq!(
            record.service.spec.labels["com.docker.stack.namespace"],
            "app"
        );

        // The same file again: no write at all, the same tasks run.
        let (out, _) = bosun(&bed, 2, &["stack", "deploy", "-c", file, "app"]);
        assert!(
            !out.contains("Creating") && !out.contains("Updating"),
            "{out}"
        );
        let again = services.inspect("app_web").await.unwrap().record;
        assert_eq!(again.meta.version, record.meta.version);
        assert_eq!(at_rest(&bed, "app_web", 2).await, web);
        assert_eq!(at_rest(&bed, "app_worker", 1).await, worker);
        let pinned = record.service.spec.image.clone();
        assert!(pinned.starts_with("busybox:stack@sha256:"), "{pinned}");

        // The tag moves to another image on every node: `--resolve-image changed` keeps the
        // pin of an unchanged reference; the default (always) picks the new image up.
        let rootfs = bed.busybox_rootfs().display().to_string();
        bosun(
            &bed,
            0,
            &["image", "import", "--change", "ENV MOVED=1", &rootfs, IMAGE],
        );
        let archive = dir.join("moved.tar").display().to_string();
        bosun(&bed, 0, &["image", "save", "-o", &archive, IMAGE]);
        for i in 1..5 {
            bosun(&bed, i, &["image", "load", "-i", &archive]);
        }
        let (out, _) = bosun(
            &bed,
            2,
            &[
                "stack",
                "deploy",
                "--resolve-image",
                "changed",
                "-c",
                file,
                "app",
            ],
        );
        assert!(!out.contains("Updating"), "{out}");
        let (out, _) = bosun(&bed, 2, &["stack", "deploy", "-c", file, "app"]);
        assert!(out.contains("Updating service app_web"), "{out}");
        assert!(out.contains("Updating service app_worker"), "{out}");
        let moved = services.inspect("app_web").await.unwrap().record;
        assert!(
            moved
                .service
                .spec
                .image
                .starts_with("busybox:stack@sha256:")
                && moved.service.spec.image != pinned,
            "{}",
            moved.service.spec.image
        );
        let web = replaced(&bed, "app_web", 2, &web).await;
        let worker = replaced(&bed, "app_worker", 1, &worker).await;

        // A changed variable in .env: only web is updated, its tasks replaced.
        write_project(&project, &compose(2, true), "bye");
        let (out, _) = bosun(&bed, 0, &["stack", "deploy", "-c", file, "app"]);
        assert!(out.contains("Updating service app_web"), "{out}");
        assert!(!out.contains("app_worker"), "{out}");
        let replaced = replaced(&bed, "app_web", 2, &web).await;
        assert_eq!(at_rest(&bed, "app_worker", 1).await, worker);
        // More replicas of web: it is scaled, its running tasks kept.
        write_project(&project, &compose(3, true), "bye");
        let (out, _) = bosun(&bed, 1, &["stack", "deploy", "-c", file, "app"]);
        assert!(out.contains("Updating service app_web"), "{out}");
        assert!(!out.contains("app_worker"), "{out}");
        let scaled = at_rest(&bed, "app_web", 3).await;
        assert!(scaled.is_superset(&replaced), "{scaled:?} ⊉ {replaced:?}");
        assert_eq!(at_rest(&bed, "app_worker", 1).await, worker);
        let (out, _) = bosun(&bed, 0, &["stack", "ls"]);
        assert!(
            out.lines().any(|l| l.split_whitespace().eq(["app", "2"])),
            "{out}"
        );

        // worker dropped from the file: kept without --prune, removed with it.
        write_project(&project, &compose(3, false), "bye");
        let (out, _) = bosun(&bed, 0, &["stack", "deploy", "-c", file, "app"]);
        assert!(!out.contains("Removing"), "{out}");
        let (out, _) = bosun(&bed, 0, &["stack", "deploy", "--prune", "-c", file, "app"]);
        assert!(out.contains("Removing service app_worker"), "{out}");
        let (out, _) = bosun(&bed, 0, &["stack", "services", "-q", "app"]);
        assert_eq!(out.lines().count(), 1, "{out}");
        assert_eq!(at_rest(&bed, "app_web", 3).await, scaled);
        let (out, _) = bosun(&bed, 0, &["stack", "ps", "--format", "json", "app"]);
        assert!(
            out.lines().all(|l| l.contains("\"Name\":\"app_web.")),
            "{out}"
        );

        // stack rm: every service and container of the stack goes.
        let (out, _) = bosun(&bed, 0, &["stack", "rm", "app"]);
        assert!(out.contains("Removing service app_web"), "{out}");
        wait_until(&bed, "stack removed", WITHIN, || async {
            match stack_containers(&bed, "app") {
                0 => Ok(()),
                n => Err(format!("{n} containers left")),
            }
        })
        .await;
        let (ok, _, err) = blocking(|| bed.bosun(0, &["stack", "services", "app"]));
        assert!(!ok && err.contains("nothing found in stack: app"), "{err}");
        blocking(|| drop(bed));
        (tag, dir)
    };
    testbed::agents::assert_nothing_left(&tag, &dir);
}

/// A stack on its own overlays: `db` serves its host name on port 8080 once its healthcheck
/// passes; `web` depends on it being healthy, joins both networks and gets a secret from a
/// file; `lone` names no network and joins the stack's default one.
const NETWORKED: &str = r#"
services:
  db:
    image: busybox:stack
    command:
      - sh
      - -c
      - "printf '#!/bin/sh\\necho from-%s\\n' \"$$(hostname)\" > /srv.sh; chmod +x /srv.sh; sleep 2; touch /ready; exec nc -ll -p 8080 -e /srv.sh"
    healthcheck:
      test: ["CMD", "test", "-e", "/ready"]
      interval: 1s
      retries: 30
    networks:
      back:
        aliases: [database]
  web:
    image: busybox:stack
    command: ["sleep", "3600"]
    depends_on:
      db: {condition: service_healthy}
    networks: [back, front]
    secrets: [token]
  lone:
    image: busybox:stack
    command: ["sleep", "3600"]
networks:
  back: {}
  front:
    attachable: true
    labels: {tier: edge}
secrets:
  token:
    file: ./token.txt
"#;

/// The cluster networks member `i` lists whose name starts with `prefix`.
fn cluster_networks(bed: &Bed, i: usize, prefix: &str) -> BTreeSet<String> {
    let (out, _) = bosun(bed, i, &["network", "ls", "--format", "json"]);
    out.lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|v| v["Scope"] == "swarm")
        .filter_map(|v| v["Name"].as_str().map(str::to_owned))
        .filter(|n| n.starts_with(prefix))
        .collect()
}

/// The VXLAN links of bosun networks in member `i`'s namespace.
fn vxlan_links(bed: &mut Bed, i: usize) -> usize {
    let mut command = std::process::Command::new("ip");
    command.args(["-o", "link", "show", "type", "vxlan"]);
    let out = blocking(|| bed.lab().output(i, command));
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| l.contains(": bsn-"))
        .count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_stack_runs_on_its_own_overlays_in_depends_on_order_and_takes_them_away() {
    let (tag, dir) = {
        let mut bed = blocking(|| Bed::managers_and_workers_with_agents(bin(), IMAGE));
        let tag = bed.lab().tag().to_owned();
        let dir = bed.dir().to_path_buf();
        let project = dir.join("net-project");
        std::fs::create_dir_all(&project).unwrap();
        std::fs::write(project.join("compose.yaml"), NETWORKED).unwrap();
        std::fs::write(project.join("token.txt"), "s3cret-stack\n").unwrap();
        let file = project.join("compose.yaml");
        let file = file.to_str().unwrap();

        // The networks first, then db, which must be healthy before web is created.
        let (out, err) = bosun(&bed, 0, &["stack", "deploy", "-c", file, "net"]);
        assert!(!err.contains("warning"), "{err}");
        for network in ["net_back", "net_default", "net_front"] {
            assert!(
                out.contains(&format!("Creating network {network}")),
                "{out}"
            );
        }
        let at = |line: &str| {
            out.find(line)
                .unwrap_or_else(|| panic!("{line:?} missing: {out}"))
        };
        assert!(at("Creating service net_db") < at("Service net_web waits for net_db"));
        assert!(at("verify: Service net_db converged") < at("Creating service net_web"));
        assert_eq!(
            cluster_networks(&bed, 1, "net_"),
            ["net_back", "net_default", "net_front"]
                .map(String::from)
                .into()
        );
        let doc: serde_json::Value =
            serde_json::from_str(&bed.output(2, &["network", "inspect", "net_front"])).unwrap();
        assert_eq!(doc[0]["Labels"]["tier"], "edge", "{doc}");
        assert_eq!(doc[0]["Labels"]["com.docker.stack.namespace"], "net");
        assert_eq!(doc[0]["Attachable"], true, "{doc}");

        // web reaches db across the overlay by its short name, its alias and its full name.
        at_rest(&bed, "net_db", 1).await;
        at_rest(&bed, "net_lone", 1).await;
        let web = at_rest(&bed, "net_web", 1).await;
        let web = bed
            .running_containers("net_web")
            .into_iter()
            .find(|c| web.contains(&c.task))
            .unwrap();
        assert!(
            ["net_back", "net_front"]
                .iter()
                .all(|n| web.addresses.contains_key(*n)),
            "{web:?}"
        );
        for name in ["db", "database", "net_db"] {
            let ask = format!("nc -w 3 {name} 8080 </dev/null");
            let answer = wait_until(&bed, "db reached by name", WITHIN, || async {
                let (ok, out, err) = blocking(|| {
                    bed.bosun(
                        web.member,
                        &["container", "exec", &web.id, "sh", "-c", &ask],
                    )
                });
                match (ok, out) {
                    (true, body) if body.starts_with("from-") => Ok(body),
                    (_, out) => Err(format!("{out}{err}")),
                }
            })
            .await;
            assert!(answer.trim().starts_with("from-"), "{answer}");
        }

        // The stack's secret is a file in the task.
        let (ok, out, err) = blocking(|| {
            bed.bosun(
                web.member,
                &["container", "exec", &web.id, "cat", "/run/secrets/token"],
            )
        });
        assert!(ok && out == "s3cret-stack\n", "{out}{err}");

        // The same file again changes nothing.
        let (out, _) = bosun(&bed, 1, &["stack", "deploy", "-c", file, "net"]);
        assert!(
            !out.contains("Creating") && !out.contains("Updating"),
            "{out}"
        );

        // A changed secret is a new version: only the service using it rolls, and its new
        // task reads the new payload.
        std::fs::write(project.join("token.txt"), "rolled\n").unwrap();
        let (out, _) = bosun(&bed, 1, &["stack", "deploy", "-c", file, "net"]);
        assert!(out.contains("Updating service net_web"), "{out}");
        assert!(
            !out.contains("Updating service net_db") && !out.contains("Updating service net_lone"),
            "{out}"
        );
        wait_until(&bed, "web reads the new secret", WITHIN, || async {
            let running = bed.running_containers("net_web");
            let [web] = running.as_slice() else {
                return Err(format!("{} web containers", running.len()));
            };
            let (ok, out, err) = blocking(|| {
                bed.bosun(
                    web.member,
                    &["container", "exec", &web.id, "cat", "/run/secrets/token"],
                )
            });
            match (ok, out.as_str()) {
                (true, "rolled\n") => Ok(()),
                _ => Err(format!("{out}{err}")),
            }
        })
        .await;

        // stack rm takes the services and the networks; no node keeps an overlay.
        let (out, _) = bosun(&bed, 0, &["stack", "rm", "net"]);
        assert!(out.contains("Removing network net_back"), "{out}");
        assert!(cluster_networks(&bed, 0, "net_").is_empty());
        let (out, _) = bosun(&bed, 0, &["secret", "ls", "-q"]);
        assert!(
            out.trim().is_empty(),
            "the stack's secret is removed: {out}"
        );
        wait_until(&bed, "stack containers gone", WITHIN, || async {
            match stack_containers(&bed, "net") {
                0 => Ok(()),
                n => Err(format!("{n} containers left")),
            }
        })
        .await;
        let deadline = std::time::Instant::now() + WITHIN;
        loop {
            let left: usize = (0..5).map(|i| vxlan_links(&mut bed, i)).sum();
            if left == 0 {
                break;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "{left} vxlan links left"
            );
            tokio::time::sleep(Duration::from_millis(300)).await;
        }
        blocking(|| drop(bed));
        (tag, dir)
    };
    testbed::agents::assert_nothing_left(&tag, &dir);
}
