//! `stack deploy --resolve-image` against a registry, end to end: 3 managers and 2 workers,
//! each node with its own `bosun agent` and node daemon in its own network namespace and data
//! root, and a `docker-registry` in node 0's namespace. A service whose image names that
//! registry is pinned to the digest the registry gives; when the tag moves in the registry
//! (while no node's local tag moved), a redeploy pins the new digest and the tasks run the new
//! image; with the registry gone, a redeploy warns and keeps to what the node holds. Needs
//! root and docker-registry.

// Test helpers unwrap like the tests they serve.
#![allow(clippy::unwrap_used)]

mod registry;
mod testbed;
use registry::Registry;
use testbed::services::wait_until;
use testbed::{Bed, bin, blocking};

use std::time::Duration;

const IMAGE: &str = "busybox:stackreg";
/// Time allowed for the cluster to converge.
const WITHIN: Duration = Duration::from_secs(60);
const REGISTRY_PORT: u16 = 5000;

/// A `docker-registry` in member 0's namespace, on its lab address.
fn start_registry(bed: &Bed) -> Registry {
    let lab = bed.lab_view();
    let netns = lab.netns(0);
    Registry::start_with(
        format!("{}:{REGISTRY_PORT}", lab.addr(0)),
        |command| lab.spawn(0, command),
        |addr| testbed::lab::in_netns(&netns, || std::net::TcpStream::connect(addr).is_ok()),
    )
}

/// The compose file: one service of `image`.
fn compose(image: &str) -> String {
    format!("services:\n  app:\n    image: {image}\n    command: [\"sleep\", \"3600\"]\n")
}

/// The image `s_app` records, through member 0.
async fn recorded(bed: &Bed) -> String {
    let services = bed.services(0);
    services
        .inspect("s_app")
        .await
        .unwrap()
        .record
        .service
        .spec
        .image
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_tag_moved_in_the_registry_is_picked_up_by_a_redeploy() {
    let (tag, dir) = {
        let mut bed = blocking(|| Bed::managers_and_workers_with_agents(bin(), IMAGE));
        let tag = bed.lab().tag().to_owned();
        let dir = bed.dir().to_path_buf();
        let registry = blocking(|| start_registry(&bed));
        let remote = format!("{}/team/app:1", registry.addr);

        // The tag pushed from node 0; the stack deployed from node 1, which does not hold it.
        bed.bosun_ok(0, &["image", "tag", IMAGE, &remote]);
        let (first, _) = blocking(|| bed.bosun_ok(0, &["image", "push", &remote]));
        let first = first.trim().to_owned();
        assert!(first.starts_with("sha256:"), "{first}");
        let project = dir.join("project");
        std::fs::create_dir_all(&project).unwrap();
        let file = project.join("compose.yaml");
        std::fs::write(&file, compose(&remote)).unwrap();
        let file = file.display().to_string();
        let (out, err) = blocking(|| bed.bosun_ok(1, &["stack", "deploy", "-c", &file, "s"]));
        assert!(out.contains("Creating service s_app"), "{out}");
        assert!(!err.contains("warning"), "{err}");
        assert_eq!(recorded(&bed).await, format!("{remote}@{first}"));

        // The tag moves in the registry only: node 0 pushes another image under it, then
        // tags its old image back, so that no node's local tag moved.
        let rootfs = bed.busybox_rootfs().display().to_string();
        bed.bosun_ok(
            0,
            &[
                "image",
                "import",
                "--change",
                "ENV MOVED=1",
                &rootfs,
                &remote,
            ],
        );
        let (moved, _) = blocking(|| bed.bosun_ok(0, &["image", "push", &remote]));
        let moved = moved.trim().to_owned();
        assert!(moved.starts_with("sha256:") && moved != first, "{moved}");
        bed.bosun_ok(0, &["image", "tag", IMAGE, &remote]);

        let (out, _) = blocking(|| {
            bed.bosun_ok(
                1,
                &[
                    "stack",
                    "deploy",
                    "--resolve-image",
                    "never",
                    "-c",
                    &file,
                    "s",
                ],
            )
        });
        assert!(out.contains("Updating service s_app"), "{out}");
        assert_eq!(recorded(&bed).await, remote, "never: as typed");
        let (out, _) = blocking(|| bed.bosun_ok(1, &["stack", "deploy", "-c", &file, "s"]));
        assert!(out.contains("Updating service s_app"), "{out}");
        assert_eq!(recorded(&bed).await, format!("{remote}@{moved}"));
        wait_until(&bed, "the task runs the moved image", WITHIN, || async {
            let running = bed.running_containers("s_app");
            let [app] = running.as_slice() else {
                return Err(format!("{} containers", running.len()));
            };
            let (ok, out, err) =
                blocking(|| bed.bosun(app.member, &["container", "exec", &app.id, "env"]));
            if ok && out.lines().any(|l| l == "MOVED=1") {
                Ok(())
            } else {
                Err(format!("{out}{err}"))
            }
        })
        .await;

        // Without the registry: a warning, and the digest node 0 holds under the tag (its old
        // image, or the moved one if the task ran there and its pull tagged it).
        drop(registry);
        let (_, err) = blocking(|| bed.bosun_ok(0, &["stack", "deploy", "-c", &file, "s"]));
        assert!(
            err.contains(&format!(
                "warning: image {remote} could not be accessed on its registry to record its digest"
            )),
            "{err}"
        );
        let (held, _) = blocking(|| {
            bed.bosun_ok(
                0,
                &["image", "inspect", "-f", "{{.Manifest.Digest}}", &remote],
            )
        });
        assert_eq!(recorded(&bed).await, format!("{remote}@{}", held.trim()));

        blocking(|| bed.bosun_ok(0, &["stack", "rm", "s"]));
        wait_until(&bed, "the stack's containers gone", WITHIN, || async {
            match bed.containers_labelled("com.docker.stack.namespace", "s") {
                0 => Ok(()),
                n => Err(format!("{n} containers left")),
            }
        })
        .await;
        blocking(|| drop(bed));
        (tag, dir)
    };
    testbed::agents::assert_nothing_left(&tag, &dir);
}
