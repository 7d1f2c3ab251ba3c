//! Volume integration tests (run as root): copy-up from an image, nocopy, data surviving the
//! removal of the container that wrote it, and removal of a volume in use refused.

#![allow(clippy::unwrap_used)]

use std::collections::BTreeMap;
use std::fs;
use std::os::unix::fs::MetadataExt;
use std::path::Path;

use engine::ContainerState;
use engine::spec::{ContainerSpec, Mount, MountKind};
use engine::volume::{VolumeError, VolumeStore};
use libtest_mimic::{Arguments, Failed, Trial};
use testkit::image::{E, Env, mounts_under, tar_of};

type TestResult = Result<(), Failed>;
type Case = (&'static str, fn() -> TestResult);

fn copy_up_on_first_mount_only() -> TestResult {
    let env = Env::new();
    let mut layer = tar_of(&[E::Dir("data/"), E::File("data/seed", b"from image")]);
    // Give the seed an owner, as a real image would.
    {
        let mut a = tar::Archive::new(&layer[..]);
        let mut b = tar::Builder::new(Vec::new());
        for e in a.entries()? {
            let e = e?;
            let mut h = e.header().clone();
            h.set_uid(1000);
            h.set_gid(1000);
            h.set_cksum();
            b.append(&h, e)?;
        }
        layer = b.into_inner()?;
    }
    let options = engine::image::ImportOptions {
        reference: Some("seeded:1".into()),
        ..Default::default()
    };
    env.store
        .import(engine::image::ImportSource::Tar(&mut &layer[..]), &options)?;
    let dir = env.tmp.path().join("rfs");
    let rootfs = env.store.create_rootfs("c1", "seeded:1", &dir)?;
    let volumes = VolumeStore::open(&env.data_root())?;
    volumes.create(Some("vol"), BTreeMap::new(), BTreeMap::new())?;
    volumes.create(Some("bare"), BTreeMap::new(), BTreeMap::new())?;
    let data = volumes.prepare_mount("vol", &rootfs, Path::new("/data"), false)?;
    assert_eq!(fs::read(data.join("seed"))?, b"from image");
    assert_eq!(fs::metadata(data.join("seed"))?.uid(), 1000);
    assert_eq!(
        fs::metadata(&data)?.uid(),
        1000,
        "the volume root takes the directory's owner"
    );
    fs::write(data.join("seed"), b"changed")?;
    volumes.prepare_mount("vol", &rootfs, Path::new("/data"), false)?;
    assert_eq!(
        fs::read(data.join("seed"))?,
        b"changed",
        "a non-empty volume is never overwritten"
    );
    let bare = volumes.prepare_mount("bare", &rootfs, Path::new("/data"), true)?;
    assert_eq!(fs::read_dir(&bare)?.count(), 0, "nocopy");
    env.store.remove_rootfs("c1", &dir)?;
    Ok(())
}

fn volume_data_survives_container_removal() -> TestResult {
    let env = Env::new();
    env.import_busybox("bb:1", &[]);
    let volumes = VolumeStore::open(&env.data_root())?;
    let vol = volumes.create(Some("keep"), BTreeMap::new(), BTreeMap::new())?;
    let rt = env.runtime();
    let mut lines = Vec::new();
    for (n, script) in [(1, "echo persisted > /data/f"), (2, "cat /data/f")] {
        let id = format!("c{n}");
        let dir = env.tmp.path().join(format!("rfs{n}"));
        let rootfs = env.store.create_rootfs(&id, "bb:1", &dir)?;
        let source = volumes.prepare_mount("keep", &rootfs, Path::new("/data"), false)?;
        let mut spec = ContainerSpec::new(&rootfs, ["sh", "-c", script]);
        spec.mounts.push(Mount {
            kind: MountKind::Bind { source },
            target: "/data".into(),
            read_only: false,
        });
        let (state, out) = env.run(&rt, &id, &spec);
        assert_eq!(
            state,
            ContainerState::Exited {
                code: 0,
                oom_killed: false
            }
        );
        lines.push(out);
        rt.remove(&id, true)?;
        env.store.remove_rootfs(&id, &dir)?;
    }
    assert_eq!(lines[1], "persisted\n");
    assert_eq!(fs::read_to_string(vol.mountpoint.join("f"))?, "persisted\n");
    // A new store over the same data root (an agent restart) still has it.
    let reopened = VolumeStore::open(&env.data_root())?;
    assert_eq!(reopened.inspect("keep")?.mountpoint, vol.mountpoint);
    assert!(mounts_under(env.tmp.path()).is_empty());
    Ok(())
}

fn removal_of_a_volume_in_use_is_refused() -> TestResult {
    let env = Env::new();
    let volumes = VolumeStore::open(&env.data_root())?;
    let labels: BTreeMap<String, String> =
        [("com.docker.compose.project".to_string(), "p".to_string())].into();
    volumes.create(Some("busy"), labels, BTreeMap::new())?;
    volumes.create(Some("idle"), BTreeMap::new(), BTreeMap::new())?;
    volumes.create(Some("external"), BTreeMap::new(), BTreeMap::new())?;
    let in_use = |n: &str| n == "busy";
    let err = volumes.remove("busy", &in_use).unwrap_err();
    assert!(matches!(err, VolumeError::InUse(_)), "{err}");
    let report = volumes.prune(true, &in_use, &|v| v.name == "external")?;
    assert_eq!(report.deleted, vec!["idle".to_string()]);
    let names: Vec<String> = volumes.list()?.into_iter().map(|v| v.name).collect();
    assert_eq!(names, vec!["busy".to_string(), "external".to_string()]);
    assert_eq!(
        volumes.inspect("busy")?.labels["com.docker.compose.project"],
        "p"
    );
    Ok(())
}

fn main() {
    if let Some(code) = engine::entry::dispatch_from_env() {
        std::process::exit(code);
    }
    let args = Arguments::from_args();
    let tests: Vec<Case> = vec![
        ("copy_up_on_first_mount_only", copy_up_on_first_mount_only),
        (
            "volume_data_survives_container_removal",
            volume_data_survives_container_removal,
        ),
        (
            "removal_of_a_volume_in_use_is_refused",
            removal_of_a_volume_in_use_is_refused,
        ),
    ];
    let trials = tests.into_iter().map(|(n, f)| Trial::test(n, f)).collect();
    libtest_mimic::run(&args, trials).exit();
}
