//! The build: stages in order, each step from the cache or run (RUN in an engine container,
//! COPY and ADD as layers written directly), the image registered in the engine's store.

use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Instant, SystemTime};

use engine::Runtime;
use engine::image::{BuiltLayer, Digest, ImageError, ImageRef, ImageStore};

use crate::cache::{Cache, Snapshot, key, root_key};
use crate::config::{History, ImageConfig};
use crate::error::{BuildError, Result};
use crate::eval::{Scope, apply, meta_args};
use crate::ignore::Ignore;
use crate::layers::Layer;
use crate::lex::Lexer;
use crate::options::{BuildOptions, Built, Puller};
use crate::parse::{Dockerfile, Instr, Instruction, parse, parse_trigger};
use crate::progress::{Event, StepRef};
use crate::stages::{Base, StagePlan, plan};

/// Builds images on one node's engine.
pub struct Builder {
    runtime: Runtime,
    data_root: PathBuf,
    cache: Cache,
    puller: Option<Box<dyn Puller>>,
}

impl std::fmt::Debug for Builder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Builder")
            .field("data_root", &self.data_root)
            .finish_non_exhaustive()
    }
}

/// A stage's result: its state and cache key.
#[derive(Debug, Clone)]
pub(crate) struct Done {
    pub snapshot: Snapshot,
    pub key: Digest,
}

/// One build in progress.
pub(crate) struct Session<'a> {
    pub builder: &'a Builder,
    pub options: &'a BuildOptions,
    pub lexer: Lexer,
    pub ignore: Ignore,
    pub context: PathBuf,
    pub plans: Vec<StagePlan>,
    pub results: Vec<Option<Done>>,
    /// The progress callback, shared by the stages that run in parallel.
    pub events: Mutex<&'a mut (dyn FnMut(&Event) + Send)>,
    pub cached: AtomicUsize,
    pub executed: AtomicUsize,
    /// Set when a stage failed: the others stop before their next step.
    pub failed: AtomicBool,
}

/// The callback type of [`Builder::build`].
pub type EventSink<'a> = &'a mut (dyn FnMut(&Event) + Send);

/// Now, as the image config writes times.
pub(crate) fn now() -> String {
    humantime::format_rfc3339_seconds(SystemTime::now()).to_string()
}

/// An instruction's source on one line, for progress and history.
pub(crate) fn one_line(source: &str) -> String {
    source.split_whitespace().collect::<Vec<_>>().join(" ")
}

impl Builder {
    /// A builder over `runtime` (its image store and data root). Removes what builder
    /// processes that died left behind (step containers, mounts, temporary files).
    pub fn new(runtime: Runtime) -> Result<Self> {
        let data_root = runtime
            .images()
            .root()
            .parent()
            .map(Path::to_path_buf)
            .ok_or_else(|| BuildError::Invalid("the image store has no data root".into()))?;
        let cache = Cache::open(&data_root)?;
        crate::recover::sweep(&runtime, &data_root);
        Ok(Self {
            runtime,
            data_root,
            cache,
            puller: None,
        })
    }

    /// Lets the builder pull base images it does not have (and all of them with `pull`).
    pub fn with_puller(mut self, puller: Box<dyn Puller>) -> Self {
        self.puller = Some(puller);
        self
    }

    /// The image store builds write to.
    pub fn store(&self) -> &ImageStore {
        self.runtime.images()
    }

    pub(crate) fn runtime(&self) -> &Runtime {
        &self.runtime
    }

    pub(crate) fn data_root(&self) -> &Path {
        &self.data_root
    }

    pub(crate) fn cache(&self) -> &Cache {
        &self.cache
    }

    /// Builds the image `options` describe; `events` receives the progress. Stages that do
    /// not depend on each other are built in parallel.
    pub fn build(&self, options: &BuildOptions, events: EventSink<'_>) -> Result<Built> {
        let context = options.context.clone();
        if !context.is_dir() {
            return Err(BuildError::Invalid(format!(
                "build context {} is not a directory",
                context.display()
            )));
        }
        let dockerfile_path = options
            .dockerfile
            .as_ref()
            .map(|p| {
                if p.is_absolute() {
                    p.clone()
                } else {
                    context.join(p)
                }
            })
            .unwrap_or_else(|| context.join("Dockerfile"));
        let text = match &options.dockerfile_text {
            Some(t) => t.clone(),
            None => std::fs::read_to_string(&dockerfile_path)
                .map_err(BuildError::io("read Dockerfile", &dockerfile_path))?,
        };
        let names = options
            .tags
            .iter()
            .map(|t| {
                let r = ImageRef::parse(t)?;
                Ok(r.with_tag(r.tag().unwrap_or("latest")))
            })
            .collect::<Result<Vec<_>>>()?;
        let df = parse(&text)?;
        let lexer = Lexer::new(df.escape);
        let ignore_from = options
            .dockerfile_text
            .is_none()
            .then_some(dockerfile_path.as_path());
        let ignore = Ignore::for_build(&context, ignore_from)
            .map_err(BuildError::io("read .dockerignore in", &context))?;
        let global = global_args(&df);
        let meta = meta_args(&lexer, &global, &options.build_args)?;
        let (plans, order) = plan(&df, &lexer, &meta, options.target.as_deref())?;
        let target = *order
            .last()
            .ok_or_else(|| BuildError::Invalid("no stage to build".into()))?;
        let mut session = Session {
            builder: self,
            options,
            lexer,
            ignore,
            context,
            results: vec![None; plans.len()],
            plans,
            events: Mutex::new(events),
            cached: AtomicUsize::new(0),
            executed: AtomicUsize::new(0),
            failed: AtomicBool::new(false),
        };
        let mut pending = order;
        while !pending.is_empty() {
            // A wave: the stages whose dependencies are all built.
            let (wave, rest): (Vec<usize>, Vec<usize>) = pending.iter().partition(|&&i| {
                crate::stages::dependencies(&df, &session.plans, &session.lexer, &meta, i)
                    .iter()
                    .all(|d| session.results[*d].is_some() || !pending.contains(d))
            });
            if wave.is_empty() {
                return Err(BuildError::Invalid(
                    "the stages depend on each other in a cycle".into(),
                ));
            }
            let outcomes: Vec<(usize, Result<Done>)> = std::thread::scope(|scope| {
                let (session, df, meta) = (&session, &df, &meta);
                let handles: Vec<_> = wave
                    .iter()
                    .map(|&i| (i, scope.spawn(move || session.stage(df, i, meta))))
                    .collect();
                handles
                    .into_iter()
                    .map(|(i, h)| {
                        let result = h.join().unwrap_or_else(|_| {
                            Err(BuildError::Invalid(format!(
                                "the build of stage {i} panicked"
                            )))
                        });
                        (i, result)
                    })
                    .collect()
            });
            let mut first_error = None;
            for (i, outcome) in outcomes {
                match outcome {
                    Ok(done) => session.results[i] = Some(done),
                    Err(e) if first_error.is_none() && !matches!(e, BuildError::Cancelled) => {
                        first_error = Some(e)
                    }
                    Err(_) => {}
                }
            }
            if let Some(e) = first_error {
                return Err(e);
            }
            pending = rest;
        }
        let done = session.results[target]
            .take()
            .ok_or_else(|| BuildError::Invalid("the target stage was not built".into()))?;
        let image = self.write_image(done.snapshot, options, &names)?;
        session.emit(&Event::Written {
            id: image.id.to_string(),
            tags: names.iter().map(ImageRef::familiar).collect(),
        });
        Ok(Built {
            image,
            cached_steps: session.cached.load(Ordering::Relaxed),
            executed_steps: session.executed.load(Ordering::Relaxed),
        })
    }

    fn write_image(
        &self,
        snapshot: Snapshot,
        options: &BuildOptions,
        names: &[ImageRef],
    ) -> Result<engine::image::ImageRecord> {
        let mut config = snapshot.config;
        if !options.labels.is_empty() {
            let labels = config.config.labels.get_or_insert_with(Default::default);
            labels.extend(options.labels.clone());
        }
        config.created = config
            .history
            .iter()
            .filter_map(|h| h.created.clone())
            .max()
            .or(config.created)
            .or_else(|| Some(now()));
        config.rootfs.diff_ids = snapshot
            .layers
            .iter()
            .map(|l| l.diff_id.to_string())
            .collect();
        let bytes = serde_json::to_vec(&config)
            .map_err(|e| BuildError::Invalid(format!("encode the image config: {e}")))?;
        let layers: Vec<BuiltLayer> = snapshot
            .layers
            .iter()
            .map(|l| BuiltLayer {
                blob: l.blob.clone(),
                media_type: l.media_type.clone(),
            })
            .collect();
        Ok(self.store().add_built(&bytes, &layers, names)?)
    }

    /// The snapshot of an image in the store, pulled first when asked or missing (with a
    /// puller).
    pub(crate) fn image_snapshot(&self, reference: &str, pull: bool) -> Result<Done> {
        if pull {
            let puller = self.puller.as_ref().ok_or_else(|| {
                BuildError::Unsupported(format!("pulling {reference} (no registry client)"))
            })?;
            puller
                .pull(reference)
                .map_err(|e| BuildError::Invalid(format!("pull {reference}: {e}")))?;
        }
        let record = match self.store().resolve(reference) {
            Ok(r) => r,
            Err(ImageError::NotFound(_)) if self.puller.is_some() && !pull => {
                return self.image_snapshot(reference, true);
            }
            Err(ImageError::NotFound(_)) => {
                return Err(BuildError::Invalid(format!(
                    "base image {reference} is not in the image store (pull it first)"
                )));
            }
            Err(e) => return Err(e.into()),
        };
        let data = self.store().blobs().read(&record.id)?;
        let config: ImageConfig = serde_json::from_slice(&data)
            .map_err(|e| BuildError::Invalid(format!("config of image {reference}: {e}")))?;
        Ok(Done {
            snapshot: Snapshot {
                config,
                layers: record.layers.iter().map(Layer::from).collect(),
            },
            key: root_key(&record.id.to_string()),
        })
    }
}

fn global_args(df: &Dockerfile) -> Vec<(String, Option<String>)> {
    df.global_args
        .iter()
        .flat_map(|i| match &i.kind {
            Instruction::Arg(p) => p.clone(),
            _ => Vec::new(),
        })
        .collect()
}

impl<'a> Session<'a> {
    /// Sends a progress event.
    pub(crate) fn emit(&self, event: &Event) {
        let mut sink = self.events.lock().unwrap_or_else(|p| p.into_inner());
        (*sink)(event);
    }

    /// The snapshot of a `--from` source: an earlier stage's result or an image.
    pub(crate) fn source_snapshot(&self, reference: &str, before: usize) -> Result<Done> {
        if let Some(i) = crate::stages::find_stage(&self.plans, reference, before) {
            return self.results[i]
                .clone()
                .ok_or_else(|| BuildError::Invalid(format!("stage {reference} was not built")));
        }
        self.builder.image_snapshot(reference, self.options.pull)
    }

    fn stage(&self, df: &Dockerfile, index: usize, meta: &[(String, String)]) -> Result<Done> {
        let plan = self.plans[index].clone();
        let stage = &df.stages[index];
        let from = &stage.from;
        let Done {
            mut snapshot,
            mut key,
        } = match &plan.base {
            Base::Scratch => Done {
                snapshot: Snapshot {
                    config: ImageConfig::scratch(),
                    layers: Vec::new(),
                },
                key: root_key("scratch"),
            },
            Base::Stage(j) => self.results[*j]
                .clone()
                .ok_or_else(|| BuildError::Invalid(format!("stage {j} was not built")))?,
            Base::Image(r) => self
                .builder
                .image_snapshot(r, self.options.pull)
                .map_err(|e| e.at(from.line, &from.source))?,
        };
        if snapshot.config.ensure_path() {
            key = crate::cache::key(&key, "ENV PATH (default)");
        }
        let mut instructions: Vec<Instr> = Vec::new();
        for trigger in snapshot.config.config.on_build.take().unwrap_or_default() {
            let mut instr = parse_trigger(&trigger, df.escape)
                .map_err(|e| BuildError::from(e).at(from.line, &from.source))?;
            instr.line = from.line;
            instr.source = trigger;
            instructions.push(instr);
        }
        instructions.extend(stage.instructions.iter().cloned());
        let steps = instructions.len() + 1;
        let step_ref = |n: usize, text: String| StepRef {
            stage: plan.display(),
            step: n,
            steps,
            text,
        };
        let first = step_ref(1, one_line(&from.source));
        self.emit(&Event::Started(first.clone()));
        self.emit(&Event::Finished {
            step: first,
            elapsed: std::time::Duration::ZERO,
        });
        let mut scope = Scope::new(meta.to_vec(), self.options.build_args.clone());
        for (n, instr) in instructions.iter().enumerate() {
            if self.failed.load(Ordering::Relaxed) {
                return Err(BuildError::Cancelled);
            }
            let step = step_ref(n + 2, one_line(&instr.source));
            self.emit(&Event::Started(step.clone()));
            let started = Instant::now();
            let cached = self
                .step(index, instr, &mut snapshot, &mut key, &mut scope, &step)
                .map_err(|e| {
                    self.failed.store(true, Ordering::Relaxed);
                    e.at(instr.line, &instr.source)
                })?;
            if cached {
                self.cached.fetch_add(1, Ordering::Relaxed);
                self.emit(&Event::Cached(step));
            } else {
                self.emit(&Event::Finished {
                    step,
                    elapsed: started.elapsed(),
                });
            }
        }
        Ok(Done { snapshot, key })
    }

    /// Runs one instruction; returns whether it came from the cache.
    fn step(
        &self,
        stage: usize,
        instr: &Instr,
        snapshot: &mut Snapshot,
        parent: &mut Digest,
        scope: &mut Scope,
        step: &StepRef,
    ) -> Result<bool> {
        let filesystem = matches!(
            instr.kind,
            Instruction::Run { .. } | Instruction::Copy(_) | Instruction::Add(_)
        );
        if !filesystem {
            let definition = apply(&instr.kind, &mut snapshot.config, scope, &self.lexer)?;
            if matches!(instr.kind, Instruction::Workdir(_))
                && let Some(prepared) = self.prepare_workdir(snapshot)
            {
                // A missing WORKDIR is made in a layer of its own, as Docker does.
                let new_key = key(parent, &definition);
                let created_by = one_line(&instr.source);
                return self.commit(prepared, created_by, new_key, snapshot, parent, step);
            }
            *parent = key(parent, &definition);
            if !matches!(instr.kind, Instruction::Arg(_)) {
                let created = snapshot
                    .config
                    .history
                    .iter()
                    .filter_map(|h| h.created.clone())
                    .max();
                snapshot.config.history.push(History {
                    created,
                    created_by: Some(one_line(&instr.source)),
                    comment: None,
                    empty_layer: true,
                });
            }
            return Ok(false);
        }
        let prepared = match &instr.kind {
            Instruction::Run {
                flags,
                command,
                heredocs,
            } => self.prepare_run(stage, flags, command, heredocs, snapshot, scope)?,
            Instruction::Copy(def) => self.prepare_copy(stage, def, false, snapshot, scope)?,
            Instruction::Add(def) => self.prepare_copy(stage, def, true, snapshot, scope)?,
            _ => return Err(BuildError::Invalid("not a filesystem step".into())),
        };
        let new_key = key(parent, &prepared.definition());
        let created_by = prepared.created_by(&instr.source);
        self.commit(prepared, created_by, new_key, snapshot, parent, step)
    }

    /// Runs a prepared filesystem step under cache key `new_key` (or takes its result from
    /// the cache); returns whether it came from the cache.
    fn commit(
        &self,
        prepared: crate::steps::Prepared<'a>,
        created_by: String,
        new_key: Digest,
        snapshot: &mut Snapshot,
        parent: &mut Digest,
        step: &StepRef,
    ) -> Result<bool> {
        if !self.options.no_cache
            && let Some(hit) = self.builder.cache().get(self.builder.store(), &new_key)?
        {
            *snapshot = hit;
            *parent = new_key;
            return Ok(true);
        }
        let layer = self.execute(prepared, snapshot, step)?;
        self.executed.fetch_add(1, Ordering::Relaxed);
        snapshot.config.history.push(History {
            created: Some(now()),
            created_by: Some(created_by),
            comment: None,
            empty_layer: layer.is_none(),
        });
        if let Some(layer) = layer {
            snapshot
                .config
                .rootfs
                .diff_ids
                .push(layer.diff_id.to_string());
            snapshot.layers.push(layer);
        }
        self.builder.cache().put(&new_key, snapshot)?;
        *parent = new_key;
        Ok(false)
    }
}
