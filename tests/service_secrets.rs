//! Secrets and configs of services end to end on 3 managers and 2 workers, each node with its
//! own `bosun agent` and node daemon in its own network namespace and data root: `secret
//! create` and `config create` through the managers, `ls` and `inspect` (never a secret's
//! payload, a config's in base64); a service with a secret (mode 0400, uid 1) and a config
//! gets both as files with their content, mode and owner; the secret's payload is on no
//! node's disk (only in the task node's tmpfs, under its run root; sealed in the managers'
//! raft logs), never reached a node that runs no task of the service, and is in no log;
//! `secret rm` is refused while the service uses it and works once the service is gone, and
//! the tmpfs goes with the task. Needs root.

// Test helpers unwrap like the tests they serve.
#![allow(clippy::unwrap_used)]

mod testbed;
use testbed::services::wait_until;
use testbed::{bin, blocking};

use std::path::{Path, PathBuf};
use std::time::Duration;

use testbed::Bed;

const IMAGE: &str = "busybox:secrets";
/// Time allowed for the cluster to converge.
const WITHIN: Duration = Duration::from_secs(60);

/// `bosun container exec` of `args` in container `id` on member `i`: (success, output).
fn exec(bed: &Bed, i: usize, id: &str, args: &[&str]) -> (bool, String) {
    let mut words = vec!["container", "exec", id];
    words.extend_from_slice(args);
    let (ok, out, err) = blocking(|| bed.bosun(i, &words));
    (ok, format!("{out}{err}"))
}

/// Every regular file under `dir` (symbolic links not followed) whose bytes contain
/// `needle`.
fn files_containing(dir: &Path, needle: &[u8]) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.flatten() {
            let Ok(kind) = entry.file_type() else {
                continue;
            };
            let path = entry.path();
            if kind.is_dir() {
                stack.push(path);
            } else if kind.is_file()
                && std::fs::read(&path)
                    .is_ok_and(|data| data.windows(needle.len()).any(|w| w == needle))
            {
                found.push(path);
            }
        }
    }
    found
}

/// The data root and run root of member `i`.
fn roots(bed: &Bed, i: usize) -> [PathBuf; 2] {
    let agent = bed.members[i].agent.as_ref().expect("an agent");
    [bed.members[i].root.clone(), agent.run_root.clone()]
}

/// The files of member `i`'s roots that hold `needle`.
fn holders(bed: &Bed, i: usize, needle: &[u8]) -> Vec<PathBuf> {
    roots(bed, i)
        .iter()
        .flat_map(|root| files_containing(root, needle))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_service_s_secret_is_a_tmpfs_file_on_its_task_s_node_only() {
    let (tag, dir) = {
        let mut bed = blocking(|| Bed::managers_and_workers_with_agents(bin(), IMAGE));
        let tag = bed.lab().tag().to_owned();
        let dir = bed.dir().to_path_buf();
        // Payloads no file of the bed holds by chance.
        let secret = format!("pw-{}-{}", std::process::id(), tag);
        let config = format!("listen={}", tag);
        let secret_file = dir.join("secret.in");
        let config_file = dir.join("config.in");
        std::fs::write(&secret_file, &secret).unwrap();
        std::fs::write(&config_file, &config).unwrap();

        // Created on one manager, seen from another; never shown back.
        let id = bed.output(
            0,
            &[
                "secret",
                "create",
                "--label",
                "team=red",
                "db_pw",
                secret_file.to_str().unwrap(),
            ],
        );
        assert_eq!(id.trim().len(), 24, "{id}");
        // The secret's source file goes: from now on its payload is only where Bosun put it.
        std::fs::remove_file(&secret_file).unwrap();
        bed.output(
            1,
            &[
                "config",
                "create",
                "app_conf",
                config_file.to_str().unwrap(),
            ],
        );
        let listed = bed.output(2, &["secret", "ls"]);
        let header = listed.lines().next().unwrap_or_default();
        assert!(
            header.starts_with("ID") && header.contains("NAME") && header.contains("UPDATED"),
            "{listed}"
        );
        assert!(listed.contains(" db_pw "), "{listed}");
        assert_eq!(bed.output(2, &["secret", "ls", "-q"]).trim(), id.trim());
        let inspected = bed.output(1, &["secret", "inspect", "db_pw"]);
        assert!(!inspected.contains(&secret), "{inspected}");
        let doc: serde_json::Value = serde_json::from_str(&inspected).unwrap();
        assert_eq!(doc[0]["Spec"]["Name"], "db_pw", "{doc}");
        assert_eq!(doc[0]["Spec"]["Labels"]["team"], "red", "{doc}");
        assert!(doc[0]["Spec"].get("Data").is_none(), "{doc}");
        let doc: serde_json::Value =
            serde_json::from_str(&bed.output(2, &["config", "inspect", "app_conf"])).unwrap();
        use base64::Engine as _;
        let data = base64::engine::general_purpose::STANDARD
            .decode(doc[0]["Spec"]["Data"].as_str().unwrap())
            .unwrap();
        assert_eq!(data, config.as_bytes(), "{doc}");
        let config_path = config_file.to_str().unwrap();
        let (ok, _, err) = blocking(|| bed.bosun(0, &["secret", "create", "db_pw", config_path]));
        assert!(!ok && err.contains("secret db_pw already exists"), "{err}");
        let (ok, _, err) = blocking(|| bed.bosun(0, &["secret", "create", "empty", "/dev/null"]));
        assert!(
            !ok && err.contains("secret empty has an empty payload"),
            "{err}"
        );

        // An unknown secret is refused at create, by name.
        let (ok, _, err) = blocking(|| {
            bed.bosun(
                0,
                &[
                    "service", "create", "--name", "x", "--secret", "nope", IMAGE, "true",
                ],
            )
        });
        assert!(!ok && err.contains("secret nope not found"), "{err}");

        // One task on a worker, with the secret (0400, uid 1) and the config.
        bed.output(
            0,
            &[
                "service",
                "create",
                "--detach",
                "--name",
                "vault",
                "--constraint",
                "node.role==worker",
                "--secret",
                "source=db_pw,mode=0400,uid=1",
                "--config",
                "source=app_conf,target=/etc/app.conf",
                IMAGE,
                "sleep",
                "3600",
            ],
        );
        let task = wait_until(&bed, "the vault task running", WITHIN, || async {
            match bed.running_containers("vault").as_slice() {
                [task] => Ok(task.clone()),
                other => Err(format!("{other:?}")),
            }
        })
        .await;
        assert!(task.member >= 3, "a worker runs it: {task:?}");
        let (ok, shown) = exec(
            &bed,
            task.member,
            &task.id,
            &[
                "stat",
                "-c",
                "%a %u %g",
                "/run/secrets/db_pw",
                "/etc/app.conf",
            ],
        );
        assert!(ok, "{shown}");
        assert_eq!(shown.lines().collect::<Vec<_>>(), ["400 1 0", "444 0 0"]);
        let (ok, read) = exec(&bed, task.member, &task.id, &["cat", "/run/secrets/db_pw"]);
        assert!(ok && read == secret, "{read}");
        let (ok, read) = exec(&bed, task.member, &task.id, &["cat", "/etc/app.conf"]);
        assert!(ok && read == config, "{read}");
        let (ok, out) = exec(
            &bed,
            task.member,
            &task.id,
            &["sh", "-c", "echo x > /run/secrets/db_pw"],
        );
        assert!(!ok, "the secret is read-only: {out}");

        // The payload: on the task's node, only in its tmpfs under the run root; nowhere on
        // any other node (the managers' raft logs hold it sealed); in no log.
        for i in 0..bed.members.len() {
            let found = holders(&bed, i, secret.as_bytes());
            if i == task.member {
                let run_root = &roots(&bed, i)[1];
                assert!(!found.is_empty(), "node {i} holds no copy of the secret");
                for path in &found {
                    assert!(path.starts_with(run_root.join("agent/files")), "{path:?}");
                    assert!(
                        engine::memdir::on_tmpfs(path).unwrap(),
                        "{path:?} is on disk"
                    );
                }
            } else {
                assert_eq!(found, Vec::<PathBuf>::new(), "node {i} has the secret");
            }
            let agent_log = bed.agent_log(i);
            assert!(!agent_log.contains(&secret), "node {i}'s agent logged it");
        }
        assert!(!bed.logs().contains(&secret), "a daemon logged the secret");

        // Removal is refused while the service uses it, naming the service.
        let (ok, _, err) = blocking(|| bed.bosun(1, &["secret", "rm", "db_pw"]));
        assert!(!ok && err.contains("in use by service vault"), "{err}");
        let (ok, _, err) = blocking(|| bed.bosun(1, &["config", "rm", "app_conf"]));
        assert!(!ok && err.contains("in use by service vault"), "{err}");

        // Once the service is gone, so is the tmpfs, and the secret can go.
        bed.output(0, &["service", "rm", "vault"]);
        wait_until(&bed, "the vault task gone", WITHIN, || async {
            let found = holders(&bed, task.member, secret.as_bytes());
            match (bed.running_containers("vault").len(), found.len()) {
                (0, 0) => Ok(()),
                state => Err(format!("{state:?}")),
            }
        })
        .await;
        bed.output(2, &["secret", "rm", "db_pw"]);
        bed.output(2, &["config", "rm", "app_conf"]);
        assert_eq!(bed.output(0, &["secret", "ls", "-q"]).trim(), "");
        blocking(|| drop(bed));
        (tag, dir)
    };
    testbed::agents::assert_nothing_left(&tag, &dir);
}
