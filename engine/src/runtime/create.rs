//! Creating and starting containers: spawning the shim and releasing the entrypoint.

use std::io::{Read, Write};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use nix::errno::Errno;
use nix::fcntl::{OFlag, open};
use nix::sys::stat::Mode;

use super::{Runtime, RuntimeError, check_id, conflict};
use crate::atomic::{Durability, write_private};
use crate::events::{Action, Event};
use crate::shim::protocol::{Report, ShimConfig};
use crate::spec::ContainerSpec;
use crate::state::{ContainerState, StateRecord, StateStore, Transition};

/// How long `start` waits for the setup to be ready at the fifo.
const START_TIMEOUT: Duration = Duration::from_secs(10);

/// How often `start` tries the fifo again while the setup is not holding it yet.
const RELEASE_RETRY: Duration = Duration::from_millis(5);

impl Runtime {
    /// Creates the container: namespaces, cgroup, rootfs and process are set up and the
    /// entrypoint waits for [`Runtime::start`]. Returns the `created` record.
    pub fn create(&self, id: &str, spec: &ContainerSpec) -> crate::Result<StateRecord> {
        check_id(id)?;
        spec.validate()?;
        let dir = self.container_dir(id);
        if dir.exists() {
            return Err(RuntimeError::AlreadyExists(id.to_string()).into());
        }
        let run_dir = self.run_dir(id);
        for d in [&dir, &run_dir] {
            create_private_dir(d)?;
        }
        let result = self.prepare_rootfs(id, spec).and_then(|()| {
            crate::failpoint!("create-rootfs-ready");
            self.spawn_shim(id, spec)
        });
        match &result {
            Ok(_) => self
                .events
                .emit_or_warn(&Event::of_container(id, Action::Create, spec)),
            Err(_) => {
                if let Err(err) = self.release_rootfs(id) {
                    tracing::warn!(container = id, cause = %err, "cannot remove the rootfs of a failed container");
                    // Never delete through a rootfs that is still mounted.
                    let _ = std::fs::remove_dir_all(&run_dir);
                    return result;
                }
                let _ = std::fs::remove_dir_all(&dir);
                let _ = std::fs::remove_dir_all(&run_dir);
            }
        }
        result
    }

    pub(super) fn spawn_shim(&self, id: &str, spec: &ContainerSpec) -> crate::Result<StateRecord> {
        let dir = self.container_dir(id);
        let run_dir = self.run_dir(id);
        let spec_text = serde_json::to_vec_pretty(spec).map_err(|e| create_err(id, e))?;
        let fifo = run_dir.join("exec.fifo");
        // A fifo left by a create or restart that died half-way is replaced.
        match std::fs::remove_file(&fifo) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(create_err(id, format!("remove {}: {e}", fifo.display()))),
        }
        nix::unistd::mkfifo(&fifo, Mode::from_bits_truncate(0o600))
            .map_err(|e| create_err(id, format!("mkfifo: {e}")))?;
        // The generated /etc files go first, so that the user's mounts may still replace them.
        let mut effective = spec.clone();
        self.resolve_volumes(&mut effective)?;
        self.resolve_image_mounts(id, &mut effective)?;
        let join_netns =
            match &spec.network.namespace {
                crate::spec::NetworkNamespace::Container(other) => {
                    let record = self.state(other)?;
                    let pid = record.pid.filter(|_| record.state.is_alive()).ok_or_else(|| {
                    create_err(
                        id,
                        format!("cannot join the network of container {other}: it is not running"),
                    )
                })?;
                    Some(std::path::PathBuf::from(format!("/proc/{pid}/ns/net")))
                }
                _ => None,
            };
        // Another container's IPC namespace comes with its /dev/shm, found through its
        // mount namespace, as Docker shares a shareable container's.
        let (join_ipcns, shm_of) = match spec.ipc.container() {
            Some(other) => {
                let record = self.state(other)?;
                let pid = record.pid.filter(|_| record.state.is_alive()).ok_or_else(|| {
                    create_err(
                        id,
                        format!("cannot join the IPC namespace of container {other}: it is not running"),
                    )
                })?;
                (
                    Some(std::path::PathBuf::from(format!("/proc/{pid}/ns/ipc"))),
                    Some(std::path::PathBuf::from(format!("/proc/{pid}/ns/mnt"))),
                )
            }
            None => (None, None),
        };
        if spec.ipc == crate::spec::IpcNamespace::Host {
            effective.mounts.push(crate::spec::Mount {
                kind: crate::spec::MountKind::Bind {
                    source: std::path::PathBuf::from("/dev/shm"),
                },
                target: std::path::PathBuf::from("/dev/shm"),
                read_only: false,
            });
        }
        let shared = match &spec.network.namespace {
            crate::spec::NetworkNamespace::Container(other) => {
                super::etc_files::Shared::Container(self.container_dir(other))
            }
            crate::spec::NetworkNamespace::Host => super::etc_files::Shared::Host,
            crate::spec::NetworkNamespace::Own => super::etc_files::Shared::Own,
        };
        let mut mounts = super::etc_files::write(&dir, id, spec, &shared)?;
        mounts.append(&mut effective.mounts);
        effective.mounts = mounts;
        let config = ShimConfig {
            id: id.to_string(),
            container_dir: dir.clone(),
            run_dir,
            data_root: self.config.data_root.clone(),
            layout: self.layout.clone(),
            cgroup_path: self.cgroup_path(id),
            spec: effective,
            join_netns,
            join_ipcns,
            shm_of,
        };
        let shim_log =
            std::fs::File::create(dir.join("shim.log")).map_err(|source| crate::Error::Io {
                op: "create",
                path: dir.join("shim.log"),
                source,
            })?;
        let mut child = Command::new(self.sealed.path())
            .arg(crate::entry::SHIM_COMMAND)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(shim_log)
            .spawn()
            .map_err(|e| {
                create_err(id, format!("spawn shim {}: {e}", self.config.exe.display()))
            })?;
        if let Some(mut stdin) = child.stdin.take() {
            // One write: the shim reads its config in as few reads as the pipe allows.
            let text = serde_json::to_vec(&config).map_err(|e| create_err(id, e))?;
            stdin.write_all(&text).map_err(|e| create_err(id, e))?;
        }
        crate::failpoint!("create-shim-spawned");
        // The spec record is flushed while the shim starts, sets up the cgroup and clones the
        // container: the flush costs no time of its own on the way to `created`.
        let saved = write_private(&dir.join("config.json"), &spec_text, Durability::Atomic);
        let mut out = String::new();
        if let Some(mut stdout) = child.stdout.take() {
            stdout
                .read_to_string(&mut out)
                .map_err(|e| create_err(id, e))?;
        }
        // The launcher exits at once; the detached shim lives on.
        let _ = child.wait();
        match serde_json::from_str::<Report>(out.trim()) {
            Ok(Report::Ok { .. }) => match saved {
                Ok(()) => self.state(id),
                Err(err) => {
                    // Without its spec the container cannot be managed: take it down again.
                    if let Err(cause) = self.remove(id, true) {
                        tracing::warn!(container = id, cause = %cause, "cannot remove a container whose spec was not saved");
                    }
                    Err(err)
                }
            },
            Ok(Report::Error { message }) => Err(create_err(id, message)),
            Err(_) => Err(create_err(
                id,
                format!(
                    "shim failed without a report (see {})",
                    dir.join("shim.log").display()
                ),
            )),
        }
    }

    /// Releases the entrypoint of a created container.
    ///
    /// Crash-consistent: the release is one byte written into the exec fifo, which the setup
    /// holds open until it has read it. Should a caller die between the release and the
    /// `running` record, the fifo has no reader left, and the next `start` (or
    /// [`Runtime::recover`]) only completes the record.
    pub fn start(&self, id: &str) -> crate::Result<()> {
        let store = self.store(id)?;
        let record = store.load()?;
        if record.state != ContainerState::Created {
            return Err(conflict(id, record.state, "start"));
        }
        let fifo_path = self.run_dir(id).join("exec.fifo");
        let spec = self.spec(id)?;
        if let Some(pid) = record.pid {
            if released(&fifo_path)? {
                tracing::info!(
                    container = id,
                    "the entrypoint was released by a start that did not finish: recording it"
                );
                return self.record_started(id, &store);
            }
            self.connect(id, &spec, pid)?;
        }
        crate::failpoint!("start-connected");
        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            // The start event goes out before the byte: whatever the entrypoint does (its exit
            // included) is logged after it.
            let announce = || {
                self.events
                    .emit_or_warn(&Event::of_container(id, Action::Start, &spec))
            };
            match release(&fifo_path, announce) {
                Ok(true) => break,
                Ok(false) => {}
                Err(e) => {
                    return Err(create_err(
                        id,
                        format!("release {}: {e}", fifo_path.display()),
                    ));
                }
            }
            if !store.load()?.state.is_alive() {
                return Err(create_err(id, "the container exited before it started"));
            }
            if Instant::now() > deadline {
                return Err(RuntimeError::Timeout {
                    id: id.to_string(),
                    action: "start",
                }
                .into());
            }
            std::thread::sleep(RELEASE_RETRY);
        }
        crate::failpoint!("start-released");
        self.record_transition(id, &store)
    }

    /// Records that the entrypoint of a created container was released by a start that died
    /// before recording it.
    pub(super) fn record_started(&self, id: &str, store: &StateStore) -> crate::Result<()> {
        self.events.emit_or_warn(&self.event(id, Action::Start));
        self.record_transition(id, store)
    }

    /// Records the `running` state (the fifo is no longer needed).
    fn record_transition(&self, id: &str, store: &StateStore) -> crate::Result<()> {
        let _ = std::fs::remove_file(self.run_dir(id).join("exec.fifo"));
        // The entrypoint may already have exited and been recorded; that is not an error.
        match store.transition(Transition::Start, "start") {
            Ok(_) => Ok(()),
            Err(_) if !store.load()?.state.is_alive() => Ok(()),
            Err(e) => Err(e.into()),
        }
    }

    /// An event of container `id`, with the attributes its spec asks its events to carry
    /// (read from its record; see [`Event::of_container`] with the spec in hand).
    pub(super) fn event(&self, id: &str, action: Action) -> Event {
        match self.spec(id) {
            Ok(spec) => Event::of_container(id, action, &spec),
            Err(_) => Event::new(id, action),
        }
    }

    /// The spec the container was created with.
    pub fn spec(&self, id: &str) -> crate::Result<ContainerSpec> {
        let path = self.container_dir(id).join("config.json");
        let text = std::fs::read(&path).map_err(|source| crate::Error::Io {
            op: "read",
            path: path.clone(),
            source,
        })?;
        serde_json::from_slice(&text)
            .map_err(|e| create_err(id, format!("{}: {e}", path.display())))
    }
}

/// Creates a directory (and its parents) only root may enter.
pub(super) fn create_private_dir(dir: &Path) -> crate::Result<()> {
    use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
    let io = |op: &'static str| {
        move |source| crate::Error::Io {
            op,
            path: dir.to_path_buf(),
            source,
        }
    };
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .map_err(io("create"))?;
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700)).map_err(io("chmod"))
}

/// Writes the release byte into the exec fifo. `Ok(false)`: nobody holds the fifo yet.
/// Opens the exec fifo for writing without waiting: `None` when nobody holds it for reading
/// (the setup has not opened it yet, or has read its release byte and closed it) or it is gone.
fn open_writer(fifo: &Path) -> std::io::Result<Option<std::os::fd::OwnedFd>> {
    match open(
        fifo,
        OFlag::O_WRONLY | OFlag::O_NONBLOCK | OFlag::O_CLOEXEC,
        Mode::empty(),
    ) {
        Ok(fd) => Ok(Some(fd)),
        Err(Errno::ENXIO) | Err(Errno::ENOENT) => Ok(None),
        Err(e) => Err(e.into()),
    }
}

/// Writes the release byte into the exec fifo, calling `before` once the setup is known to
/// hold the fifo, just before the byte is written. `Ok(false)`: nobody holds the fifo yet.
fn release(fifo: &Path, before: impl FnOnce()) -> std::io::Result<bool> {
    let Some(fd) = open_writer(fifo)? else {
        return Ok(false);
    };
    before();
    nix::unistd::write(&fd, b"0")?;
    Ok(true)
}

/// Whether the setup of a `created` container has already been released: its fifo is gone or
/// nobody holds it any more. The setup opens the fifo before it reports the container created
/// and closes it once it has read the release byte, so for a created container "nobody holds
/// it" can only mean "released". Opening and closing without writing releases nothing.
pub(super) fn released(fifo: &Path) -> crate::Result<bool> {
    open_writer(fifo)
        .map(|held| held.is_none())
        .map_err(|source| crate::Error::Io {
            op: "open",
            path: fifo.to_path_buf(),
            source,
        })
}

fn create_err(id: &str, message: impl ToString) -> crate::Error {
    RuntimeError::Create {
        id: id.to_string(),
        message: message.to_string(),
    }
    .into()
}
