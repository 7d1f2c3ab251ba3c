//! End-to-end: `bosun volume …` through the agent (run as root), and the refusals to remove a
//! volume or an image a container uses.

#![allow(clippy::unwrap_used)]

mod image_env;
use testkit::teardown;
mod test_images;

use image_env::Env;
use serde_json::Value;

#[test]
fn create_ls_inspect_filter_rm_prune() {
    let env = Env::new();
    env.start_agent();
    assert_eq!(
        env.ok("volume", &["create", "--label", "tier=db", "data"]),
        "data\n"
    );
    let anonymous = env.ok("volume", &["create"]).trim().to_string();
    assert_eq!(anonymous.len(), 64, "{anonymous}");
    let ls = env.ok("volume", &["ls"]);
    assert!(ls.starts_with("DRIVER   VOLUME NAME\n"), "{ls}");
    assert!(ls.contains("local    data\n"), "{ls}");
    assert_eq!(
        env.ok("volume", &["ls", "-q", "--filter", "label=tier=db"]),
        "data\n"
    );
    assert_eq!(
        env.ok("volume", &["ls", "-q", "--filter", "label=tier=web"]),
        ""
    );
    let docs: Value = serde_json::from_str(&env.ok("volume", &["inspect", "data"])).unwrap();
    assert_eq!(docs[0]["Name"], "data");
    assert_eq!(docs[0]["Labels"]["tier"], "db");
    let mountpoint = docs[0]["Mountpoint"].as_str().unwrap().to_string();
    assert!(std::path::Path::new(&mountpoint).is_dir());

    // Prune without -a removes only the anonymous volume.
    let out = env.ok("volume", &["prune", "-f"]);
    assert!(out.contains(&anonymous), "{out}");
    assert_eq!(env.ok("volume", &["ls", "-q"]), "data\n");

    let err = env.fails("volume", &["create", "-d", "nfs", "x1"]);
    assert!(
        err.contains("volume driver \"nfs\" is not supported"),
        "{err}"
    );
    let err = env.fails("volume", &["create", "a/b"]);
    assert!(err.contains("invalid volume name"), "{err}");
    assert_eq!(env.ok("volume", &["rm", "data"]), "data\n");
    let err = env.fails("volume", &["rm", "data"]);
    assert!(err.contains("no such volume: data"), "{err}");
}

#[test]
fn in_use_volume_and_image_are_not_removed_and_data_survives() {
    let env = Env::new();
    let id = env.import_busybox("busybox:test");
    env.ok(
        "container",
        &[
            "run",
            "-d",
            "--name",
            "keeper",
            "--network",
            "none",
            "-v",
            "kept:/data",
            "busybox:test",
            "sh",
            "-c",
            "echo hello > /data/f; sleep 1000",
        ],
    );
    let mountpoint = {
        let docs: Value = serde_json::from_str(&env.ok("volume", &["inspect", "kept"])).unwrap();
        assert_eq!(docs[0]["UsedBy"], serde_json::json!(["keeper"]));
        docs[0]["Mountpoint"].as_str().unwrap().to_string()
    };
    let err = env.fails("volume", &["rm", "kept"]);
    assert!(
        err.contains("remove kept (used by keeper): volume is in use"),
        "{err}"
    );
    let err = env.fails("volume", &["rm", "-f", "kept"]);
    assert!(err.contains("volume is in use"), "{err}");
    let err = env.fails("image", &["rm", "busybox:test"]);
    assert!(err.contains("is being used by a container"), "{err}");
    assert_eq!(env.ok("image", &["ls", "-q"]).trim(), &id[7..19]);
    let out = env.ok("image", &["prune", "-a", "-f"]);
    assert!(!out.contains(&id), "prune keeps the image in use: {out}");

    // The container goes; the volume and its data stay, across an agent restart too.
    env.ok("container", &["rm", "-f", "keeper"]);
    env.stop_agent();
    env.start_agent();
    assert_eq!(env.ok("volume", &["ls", "-q"]), "kept\n");
    assert_eq!(
        std::fs::read_to_string(format!("{mountpoint}/f")).unwrap(),
        "hello\n"
    );
    assert_eq!(env.ok("volume", &["rm", "kept"]), "kept\n");
    env.ok("image", &["rm", "busybox:test"]);
}

#[test]
fn local_driver_options_bind_a_host_directory_and_mount_a_tmpfs() {
    let env = Env::new();
    env.import_busybox("busybox:test");
    let host = tempfile::tempdir().unwrap();
    std::fs::write(host.path().join("hostfile"), "from host\n").unwrap();
    let device = format!("device={}", host.path().display());
    env.ok(
        "volume",
        &[
            "create",
            "-o",
            "type=none",
            "-o",
            "o=bind",
            "-o",
            &device,
            "hostvol",
        ],
    );
    let out = env.ok(
        "container",
        &[
            "run",
            "--rm",
            "--network",
            "none",
            "-v",
            "hostvol:/data",
            "busybox:test",
            "sh",
            "-c",
            "cat /data/hostfile; echo written > /data/new",
        ],
    );
    assert_eq!(out, "from host\n");
    assert_eq!(
        std::fs::read_to_string(host.path().join("new")).unwrap(),
        "written\n"
    );

    env.ok(
        "volume",
        &[
            "create",
            "-o",
            "type=tmpfs",
            "-o",
            "device=tmpfs",
            "-o",
            "o=size=1m,uid=1000",
            "tv",
        ],
    );
    let out = env.ok(
        "container",
        &[
            "run",
            "--rm",
            "--network",
            "none",
            "-v",
            "tv:/scratch",
            "busybox:test",
            "sh",
            "-c",
            "grep ' /scratch ' /proc/mounts; stat -c %u /scratch",
        ],
    );
    assert!(
        out.starts_with("tmpfs /scratch tmpfs ") && out.contains("size=1024k"),
        "{out}"
    );
    assert!(out.ends_with("\n1000\n"), "{out}");
    // The tmpfs lived in the container's mount namespace only: nothing is left on the host.
    let mountinfo = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    assert!(
        !mountinfo.contains("/volumes/tv/"),
        "a tmpfs volume mount leaked: {mountinfo}"
    );

    let refusals = [
        (vec!["-o", "foo=bar"], "invalid option \"foo\""),
        (
            vec!["-o", "type=nfs", "-o", "device=:/export"],
            "unsupported volume type \"nfs\"",
        ),
        (
            vec![
                "-o",
                "type=none",
                "-o",
                "o=bind",
                "-o",
                "device=/nonexistent/dir",
            ],
            "device /nonexistent/dir: no such directory on the host to bind",
        ),
        (
            vec![
                "-o",
                "type=tmpfs",
                "-o",
                "device=tmpfs",
                "-o",
                "o=size=1m,exec=yes",
            ],
            "invalid tmpfs option \"exec=yes\"",
        ),
    ];
    for (flags, want) in refusals {
        let mut args = vec!["create"];
        args.extend(flags.iter().copied());
        args.push("refused");
        let err = env.fails("volume", &args);
        assert!(err.contains(want), "{flags:?}: want {want:?}, got {err}");
        assert_eq!(err.lines().count(), 1, "{err}");
    }
    assert_eq!(env.ok("volume", &["ls", "-q"]), "hostvol\ntv\n");
    env.ok("volume", &["rm", "hostvol", "tv"]);
    assert!(
        host.path().join("hostfile").exists(),
        "rm deleted the host directory"
    );
}
