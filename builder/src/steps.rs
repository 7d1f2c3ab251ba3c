//! RUN, COPY and ADD steps: what they will do (and so their cache definition), then doing it.

use std::path::{Path, PathBuf};

use engine::spec::{Mount, MountKind};
use serde_json::json;

use crate::build::Session;
use crate::cache::Snapshot;
use crate::copy::{CopyOptions, Entry, EntryKind, SourceRoot, parse_chmod, plan_data, plan_path};
use crate::error::{BuildError, Result};
use crate::eval::{Scope, default_shell};
use crate::ignore::Ignore;
use crate::layers::{Layer, commit_tar, diff_dirs, lookup};
use crate::mounts::{MountSpec, parse_mount};
use crate::parse::{CommandForm, CopyDef, CopySource, Flag, HereDoc};
use crate::progress::{Event, StepRef};
use crate::run::{Network, RunRequest, StepRootfs};

/// A step ready to run.
pub(crate) enum Prepared<'a> {
    /// A RUN.
    Run {
        request: RunRequest,
        mounts: Vec<MountSpec>,
        /// A here-document run as a script file (it starts with `#!`).
        script: Option<String>,
    },
    /// A COPY or ADD.
    Copy {
        add: bool,
        entries: Vec<Entry>,
        checksum: String,
        owner: (u32, u32),
        /// The source stage or image, mounted while the plan's files are read.
        mounted: Option<StepRootfs<'a>>,
        /// The destination as expanded.
        dest: String,
    },
}

/// Where a here-document script is mounted in a RUN container.
const SCRIPT_PATH: &str = "/.bosun-heredoc-script";

impl Prepared<'_> {
    /// The step's definition for the cache key.
    pub(crate) fn definition(&self) -> String {
        match self {
            Self::Run {
                request,
                mounts,
                script,
            } => json!({
                "run": request.argv,
                "env": request.env,
                "user": request.user,
                "cwd": request.cwd,
                "network": request.network.name(),
                "mounts": mounts.iter().map(MountSpec::definition).collect::<Vec<_>>(),
                "script": script,
            })
            .to_string(),
            Self::Copy {
                add,
                checksum,
                dest,
                ..
            } => {
                json!({"op": if *add { "ADD" } else { "COPY" }, "checksum": checksum, "dest": dest})
                    .to_string()
            }
        }
    }

    /// The history entry of the step.
    pub(crate) fn created_by(&self, source: &str) -> String {
        match self {
            Self::Run { request, .. } => format!("RUN {}", request.argv.join(" ")),
            Self::Copy { .. } => crate::build::one_line(source),
        }
    }
}

/// The script of a shell-form RUN with here-documents: the first here-document alone is
/// the script (`RUN <<EOF`); otherwise the command keeps its here-documents, written back
/// for the shell to read.
fn heredoc_script(command: &str, heredocs: &[HereDoc]) -> String {
    if command.trim().is_empty()
        && let [only] = heredocs
    {
        return only.content.clone();
    }
    let mut script = String::new();
    for h in heredocs {
        if h.expand {
            script.push_str(&format!("<<{} ", h.delimiter));
        } else {
            script.push_str(&format!("<<'{}' ", h.delimiter));
        }
    }
    script.push_str(command.trim_start());
    script.push('\n');
    for h in heredocs {
        script.push_str(&h.content);
        if !h.content.ends_with('\n') {
            script.push('\n');
        }
        script.push_str(&h.delimiter);
        script.push('\n');
    }
    script
}

fn unknown_flag(f: &Flag, keyword: &str) -> BuildError {
    BuildError::Invalid(format!("unknown flag --{} for {keyword}", f.name))
}

impl<'a> Session<'a> {
    pub(crate) fn prepare_run(
        &self,
        _stage: usize,
        flags: &[Flag],
        command: &CommandForm,
        heredocs: &[HereDoc],
        snapshot: &Snapshot,
        scope: &Scope,
    ) -> Result<Prepared<'a>> {
        let vars = scope.vars(&snapshot.config);
        let mut network = self.options.network;
        let mut mounts = Vec::new();
        for f in flags {
            let value = f.value.as_deref().unwrap_or_default();
            match f.name.as_str() {
                "network" => network = Network::parse(&self.lexer.word(value, &vars)?)?,
                "mount" => mounts.push(parse_mount(&self.lexer.word(value, &vars)?)?),
                "security" => {
                    return Err(BuildError::Unsupported(format!("RUN --security={value}")));
                }
                _ => return Err(unknown_flag(f, "RUN")),
            }
        }
        let config = &snapshot.config.config;
        let shell = config.shell.clone().unwrap_or_else(default_shell);
        let mut script = None;
        let argv = match command {
            CommandForm::Exec(v) => v.clone(),
            CommandForm::Shell(text) if heredocs.is_empty() => {
                let mut v = shell.clone();
                v.push(text.clone());
                v
            }
            CommandForm::Shell(text) => {
                let body = heredoc_script(text, heredocs);
                if text.trim().is_empty() && body.starts_with("#!") {
                    script = Some(body);
                    vec![SCRIPT_PATH.to_string()]
                } else {
                    let mut v = shell.clone();
                    v.push(body);
                    v
                }
            }
        };
        let request = RunRequest {
            argv,
            env: scope.run_env(&snapshot.config),
            cwd: config.working_dir.clone().unwrap_or_else(|| "/".into()),
            user: config.user.clone().filter(|u| !u.is_empty()),
            network,
            mounts: Vec::new(),
        };
        Ok(Prepared::Run {
            request,
            mounts,
            script,
        })
    }

    /// The layer that makes the image's working directory when it does not exist (with its
    /// missing parents, 0755, owned by root, as Docker's WORKDIR makes them); `None` when it
    /// exists.
    pub(crate) fn prepare_workdir(&self, snapshot: &Snapshot) -> Option<Prepared<'a>> {
        let dir = snapshot.config.config.working_dir.clone()?;
        let diffs = diff_dirs(self.builder.store(), &snapshot.layers);
        let path = PathBuf::from(&dir);
        if path == Path::new("/") || lookup(&diffs, &path).is_some() {
            return None;
        }
        Some(Prepared::Copy {
            add: false,
            entries: vec![Entry {
                dest: path,
                kind: EntryKind::Dir,
                mode: 0o755,
                uid: 0,
                gid: 0,
                mtime: 0,
            }],
            checksum: String::new(),
            owner: (0, 0),
            mounted: None,
            dest: dir,
        })
    }

    pub(crate) fn prepare_copy(
        &self,
        stage: usize,
        def: &CopyDef,
        add: bool,
        snapshot: &Snapshot,
        scope: &Scope,
    ) -> Result<Prepared<'a>> {
        let keyword = if add { "ADD" } else { "COPY" };
        let vars = scope.vars(&snapshot.config);
        let word = |t: &str| self.lexer.word(t, &vars);
        let (mut from, mut chown, mut chmod) = (None, None, None);
        for f in &def.flags {
            let value = f.value.clone().unwrap_or_default();
            match f.name.as_str() {
                "from" if !add => from = Some(word(&value)?),
                "chown" => chown = Some(word(&value)?),
                "chmod" => chmod = Some(parse_chmod(&word(&value)?)?),
                // Layers are always written as a diff of their own, as `--link` asks.
                "link" => {}
                "parents" | "exclude" | "checksum" | "keep-git-dir" => {
                    return Err(BuildError::Unsupported(format!("{keyword} --{}", f.name)));
                }
                _ => return Err(unknown_flag(f, keyword)),
            }
        }
        let builder: &'a crate::build::Builder = self.builder;
        let store = builder.store();
        let diffs = diff_dirs(store, &snapshot.layers);
        let owner = chown
            .as_deref()
            .map(|c| crate::users::resolve_chown(c, &diffs))
            .transpose()?;
        let options = CopyOptions {
            owner,
            mode: chmod,
            extract: add,
        };
        let raw_dest = word(&def.dest)?;
        let workdir = snapshot
            .config
            .config
            .working_dir
            .clone()
            .unwrap_or_else(|| "/".into());
        let dest_text = if raw_dest.starts_with('/') {
            raw_dest.clone()
        } else {
            format!("{workdir}/{raw_dest}")
        };
        let slash = raw_dest.ends_with('/') || raw_dest == "." || raw_dest.ends_with("/.");
        let dest =
            crate::layers::resolve_parents(&diffs, Path::new(&crate::ignore::clean(&dest_text)));
        let existing_dir = lookup(&diffs, &crate::layers::resolve_all(&diffs, &dest))
            .is_some_and(|(_, m)| m.is_dir());
        let from_layers = match &from {
            Some(f) => Some(self.source_snapshot(f, stage)?.snapshot.layers),
            None => None,
        };
        // A stage or image source is read through a mount of its layers.
        let mounted = match &from_layers {
            Some(layers) if !layers.is_empty() => {
                Some(StepRootfs::mount(store, builder.data_root(), layers)?)
            }
            _ => None,
        };
        let empty_dir;
        let no_ignore = Ignore::default();
        let root = match (&from_layers, &mounted) {
            (None, _) => SourceRoot {
                dir: &self.context,
                ignore: &self.ignore,
            },
            (Some(_), Some(m)) => SourceRoot {
                dir: m.merged(),
                ignore: &no_ignore,
            },
            (Some(_), None) => {
                empty_dir = tempfile_dir(self.builder.data_root())?;
                SourceRoot {
                    dir: empty_dir.path(),
                    ignore: &no_ignore,
                }
            }
        };
        let mut paths = Vec::new();
        let mut docs = Vec::new();
        for source in &def.sources {
            match source {
                CopySource::Path(p) => {
                    if add && (p.starts_with("http://") || p.starts_with("https://")) {
                        return Err(crate::url::add_url_error(&word(p)?));
                    }
                    if !add && p.contains("://") {
                        return Err(BuildError::Invalid(format!(
                            "COPY {p}: source can't be a URL (use ADD)"
                        )));
                    }
                    let p = word(p)?;
                    paths.extend(root.resolve(&p)?);
                }
                CopySource::HereDoc(h) => {
                    let content = if h.expand {
                        self.lexer.expand_raw(&h.content, &vars)?
                    } else {
                        h.content.clone()
                    };
                    docs.push((h.delimiter.clone(), content));
                }
            }
        }
        let several = paths.len() + docs.len() > 1;
        if several && !slash && !existing_dir {
            return Err(BuildError::Invalid(format!(
                "when using {keyword} with more than one source file, the destination must be a directory and end with a /"
            )));
        }
        let into_dir = slash || several || existing_dir;
        let mut entries = Vec::new();
        for rel in &paths {
            plan_path(&root, rel, &dest, into_dir, &options, &mut entries)?;
        }
        for (name, content) in docs {
            let target = if into_dir {
                dest.join(name)
            } else {
                dest.clone()
            };
            entries.push(plan_data(target, content.into_bytes(), &options));
        }
        if owner.is_none() && chmod.is_none() {
            // A directory that exists keeps its mode and owner.
            entries.retain(|e| {
                !(e.kind == EntryKind::Dir
                    && lookup(&diffs, &crate::layers::resolve_all(&diffs, &e.dest))
                        .is_some_and(|(_, m)| m.is_dir()))
            });
        }
        let checksum = crate::copy::checksum(&entries)?;
        Ok(Prepared::Copy {
            add,
            entries,
            checksum,
            owner: owner.unwrap_or((0, 0)),
            mounted,
            dest: dest.display().to_string(),
        })
    }

    /// Runs a prepared step on top of the snapshot; returns its layer (`None`: no change).
    pub(crate) fn execute(
        &self,
        prepared: Prepared<'a>,
        snapshot: &Snapshot,
        step: &StepRef,
    ) -> Result<Option<Layer>> {
        let builder = self.builder;
        let store = builder.store();
        match prepared {
            Prepared::Run {
                mut request,
                mounts,
                script,
            } => {
                let mut guards = Vec::new();
                let scripts = tempfile_dir(builder.data_root())?;
                if let Some(body) = script {
                    let path = scripts.path().join("script");
                    write_executable(&path, &body)?;
                    request.mounts.push(Mount {
                        kind: MountKind::Bind { source: path },
                        target: PathBuf::from(SCRIPT_PATH),
                        read_only: true,
                    });
                }
                for spec in &mounts {
                    if let Some(m) = crate::mounts::resolve(self, spec, &mut guards)? {
                        request.mounts.push(m);
                    }
                }
                let mut output = |stream, line: &str| {
                    self.emit(&Event::Output {
                        step: step.clone(),
                        stream,
                        line: line.to_string(),
                    })
                };
                let result = crate::run::run(
                    builder.runtime(),
                    builder.data_root(),
                    &snapshot.layers,
                    &request,
                    &mut output,
                );
                drop(guards);
                result
            }
            Prepared::Copy {
                entries,
                owner,
                mounted,
                ..
            } => {
                let diffs = diff_dirs(store, &snapshot.layers);
                let layer = commit_tar(store, snapshot.layers.last(), |w| {
                    crate::copy_tar::write_plan(&entries, &diffs, owner, w)
                });
                drop(mounted);
                layer
            }
        }
    }
}

/// A private temporary directory under `<data_root>/build/tmp`, removed when dropped.
pub(crate) struct TempDir(PathBuf);

impl TempDir {
    pub(crate) fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

pub(crate) fn tempfile_dir(data_root: &Path) -> Result<TempDir> {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    let dir = data_root.join("build").join("tmp").join(format!(
        "{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    ));
    std::fs::create_dir_all(&dir).map_err(BuildError::io("create", &dir))?;
    Ok(TempDir(dir))
}

fn write_executable(path: &Path, body: &str) -> Result<()> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::write(path, body).map_err(BuildError::io("write", path))?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755))
        .map_err(BuildError::io("chmod", path))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn doc(d: &str, content: &str, expand: bool) -> HereDoc {
        HereDoc {
            delimiter: d.into(),
            content: content.into(),
            expand,
        }
    }

    #[test]
    fn heredoc_scripts() {
        assert_eq!(
            heredoc_script("", &[doc("EOF", "echo a\necho b\n", true)]),
            "echo a\necho b\n"
        );
        assert_eq!(
            heredoc_script(" cat > /f", &[doc("EOF", "x $A\n", false)]),
            "<<'EOF' cat > /f\nx $A\nEOF\n"
        );
    }
}
