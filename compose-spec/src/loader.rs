//! Runs the loading stages in order: files → documents → one merged document → typed project.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::discovery::{self, ProjectOptions};
use crate::env::Environment;
use crate::error::{Error, ErrorKind, Result, Warning};
use crate::model::{self, Project};
use crate::path::KeyPath;
use crate::yaml::{self, Mark, Node, Value};
use crate::{
    dotenv, extends, interpolate, merge, normalize, paths, profiles, read, schema, validate,
};

/// What to load and how.
#[derive(Debug, Clone, Default)]
pub struct LoadOptions {
    /// Files, directories, name, profiles and environment.
    pub project: ProjectOptions,
    /// Services named on the command line: they are enabled with their dependencies whatever
    /// their profiles. Empty means all services of the active profiles.
    pub services: Vec<String>,
    /// Services named on the command line of a command that acts on them (`up web`,
    /// `run web`): enabled with their dependencies whatever their profiles, in addition to the
    /// services of the active profiles, which stay enabled.
    pub enabled: Vec<String>,
    /// Substitute `${VAR}` references (`--no-interpolate` turns this off).
    pub interpolate: bool,
    /// Skip the semantic checks ([`validate`]: undefined references, a service without an
    /// image, dependency cycles…), as `config --no-consistency` does; the schema still
    /// applies.
    pub no_consistency: bool,
}

/// A loaded project and what the user should know about it.
#[derive(Debug, Clone)]
pub struct Loaded {
    /// The canonical project.
    pub project: Project,
    /// Problems that did not stop loading.
    pub warnings: Vec<Warning>,
    /// Every profile named by any service, enabled or not, sorted.
    pub all_profiles: Vec<String>,
    /// The compose files, in merge order.
    pub files: Vec<PathBuf>,
    /// The project directory.
    pub project_directory: PathBuf,
    /// The environment the project was interpolated with.
    pub environment: Environment,
    /// How to write `$` when rendering this project so that the output loads back to it.
    pub dollars: crate::render::Dollars,
    /// Services whose `env_file` could not be read, with the error (file, line, key): a
    /// command that acts on one of them fails with it ([`Loaded::check_env_files`]); the
    /// others work, as in Compose.
    pub env_file_errors: BTreeMap<String, String>,
}

impl Loaded {
    /// The error of the first of `services` (every enabled service when empty) whose
    /// `env_file` could not be read.
    pub fn check_env_files(&self, services: &[String]) -> std::result::Result<(), String> {
        let mut wanted = services.iter().map(String::as_str).collect::<Vec<_>>();
        if wanted.is_empty() {
            wanted = self.project.services.keys().map(String::as_str).collect();
        }
        match wanted.iter().find_map(|s| self.env_file_errors.get(*s)) {
            Some(error) => Err(error.clone()),
            None => Ok(()),
        }
    }
}

/// The project's files merged into one document (includes and `extends` resolved, relative
/// paths made absolute, interpolated when `options.interpolate`), before profiles, the typed
/// model and normalization: what `config --no-interpolate` shows, since values such as
/// `"${PORT:-8080}:80"` only fit the model once interpolated.
pub fn load_document(options: &LoadOptions) -> Result<serde_json::Value> {
    let found = discovery::discover(&options.project)?;
    let mut loader = Loader {
        interpolate: options.interpolate,
        warnings: found.warnings.clone(),
        cache: HashMap::new(),
        working_dir: options.project.working_dir.clone(),
        stdin: found.stdin.clone(),
    };
    let doc = loader
        .load_project_files(
            &found.files,
            &found.project_directory,
            &found.environment,
            &mut Vec::new(),
        )
        .map_err(|e| e.reading(ErrorKind::Discovery, "compose file", None, KeyPath::root()))?;
    Ok(doc.to_json())
}

/// Loads, validates and normalizes a compose project.
pub fn load(options: &LoadOptions) -> Result<Loaded> {
    let found = discovery::discover(&options.project)?;
    let mut loader = Loader {
        interpolate: options.interpolate,
        warnings: found.warnings.clone(),
        cache: HashMap::new(),
        working_dir: options.project.working_dir.clone(),
        stdin: found.stdin.clone(),
    };
    let mut include_stack = Vec::new();
    let mut doc = loader
        .load_project_files(
            &found.files,
            &found.project_directory,
            &found.environment,
            &mut include_stack,
        )
        .map_err(|e| e.reading(ErrorKind::Discovery, "compose file", None, KeyPath::root()))?;
    let all_profiles = collect_profiles(&doc);
    let disabled = profiles::select_enabling(
        &mut doc,
        &found.profiles,
        &options.services,
        &options.enabled,
    )?;
    let top_level_name = doc.get("name").and_then(Node::as_str).map(str::to_string);
    let name = discovery::project_name(
        options.project.project_name.as_deref(),
        &found.environment,
        top_level_name.as_deref(),
        &found.project_directory,
    )?;
    if let Some(map) = doc.as_map_mut() {
        map.shift_remove("name");
    }
    let mut project = to_model(&doc)?;
    project.name = name;
    for (service_name, node) in disabled {
        let mark = node.mark.clone();
        let mut services = yaml::Map::default();
        services.insert(service_name.clone(), node);
        let mut top = yaml::Map::default();
        top.insert(
            "services".into(),
            Node::new(Value::Map(services), mark.clone()),
        );
        let mut partial = to_model(&Node::new(Value::Map(top), mark))?;
        if let Some(service) = partial.services.remove(&service_name) {
            project.disabled_services.insert(service_name, service);
        }
    }
    let context = normalize::Context {
        project_directory: &found.project_directory,
        environment: &found.environment,
        document: &doc,
    };
    let env_file_errors = normalize::normalize(&mut project, &context)?;
    if !options.no_consistency {
        validate::validate(&project, &doc)?;
    }
    Ok(Loaded {
        project,
        warnings: loader.warnings,
        all_profiles,
        files: found.files,
        project_directory: found.project_directory,
        environment: found.environment,
        env_file_errors,
        dollars: if options.interpolate {
            crate::render::Dollars::Escaped
        } else {
            crate::render::Dollars::Verbatim
        },
    })
}

/// The typed project of a merged document; a model error points at the offending line.
fn to_model(doc: &Node) -> Result<Project> {
    model::from_json(&doc.to_json()).map_err(|e| {
        let mark = doc.closest_mark(&e.path).clone();
        Error::invalid(ErrorKind::InvalidValue, Some(mark), e.path, e.message)
    })
}

struct Loader {
    interpolate: bool,
    warnings: Vec<Warning>,
    /// Files already read for `extends`, by absolute path (one base file is often extended by
    /// hundreds of services).
    cache: HashMap<PathBuf, Node>,
    working_dir: PathBuf,
    /// The path that stands for standard input, and the text read from it.
    stdin: Option<(PathBuf, String)>,
}

impl Loader {
    /// Loads and merges the files of one project (the main one or an included one); relative
    /// paths are made absolute against `project_directory`.
    fn load_project_files(
        &mut self,
        files: &[PathBuf],
        project_directory: &Path,
        env: &Environment,
        include_stack: &mut Vec<PathBuf>,
    ) -> Result<Node> {
        let mut merged: Option<Node> = None;
        for file in files {
            include_stack.push(file.clone());
            let mut doc = self.read_document(file, env)?;
            paths::absolutize_document(&mut doc, project_directory, env);
            let mut load = |path: &Path| self.read_extended(path, env);
            extends::resolve_extends(&mut doc, file, &mut load)?;
            self.resolve_includes(&mut doc, project_directory, env, include_stack)?;
            include_stack.pop();
            merged = Some(match merged {
                None => doc,
                Some(base) => merge::merge(base, doc)?,
            });
        }
        let doc = match merged {
            Some(doc) => doc,
            None => empty_document(files.first().map(|p| p.as_path())),
        };
        let mut doc = merge::enforce_unicity(merge::apply_tags(doc));
        paths::default_build_contexts(&mut doc, project_directory);
        Ok(doc)
    }

    /// One file: parsed, interpolated, schema-checked; several YAML documents are merged.
    fn read_document(&mut self, file: &Path, env: &Environment) -> Result<Node> {
        let shown: Arc<Path> = Arc::from(Path::new(&self.display(file)));
        let text = match &self.stdin {
            Some((path, text)) if path == file => text.clone(),
            _ => read::text(file, read::Role::Compose, shown.clone())?,
        };
        let mut merged: Option<Node> = None;
        for mut doc in yaml::parse(&text, shown.clone())? {
            if doc.is_null() {
                continue;
            }
            null_services_as_empty(&mut doc);
            if self.interpolate {
                interpolate::interpolate_node(&mut doc, env, &KeyPath::root(), &mut self.warnings)?;
            }
            schema::validate(&doc)?;
            if let Some(map) = doc.as_map_mut()
                && let Some(version) = map.shift_remove("version")
            {
                self.warnings.push(Warning {
                    mark: Some(version.mark),
                    path: KeyPath::root().key("version"),
                    message: "the attribute `version` is obsolete, it will be ignored, please \
                              remove it to avoid potential confusion"
                        .to_string(),
                });
            }
            merged = Some(match merged {
                None => doc,
                Some(base) => merge::merge(base, doc)?,
            });
        }
        merged.ok_or_else(|| {
            Error::invalid(
                ErrorKind::Discovery,
                Some(Mark::new(shown, 1, 1)),
                KeyPath::root(),
                "empty compose file",
            )
        })
    }

    /// A file named by `extends: {file: …}`: read once, its paths relative to its own directory.
    fn read_extended(&mut self, path: &Path, env: &Environment) -> Result<Node> {
        if let Some(doc) = self.cache.get(path) {
            return Ok(doc.clone());
        }
        let mut doc = self.read_document(path, env)?;
        let dir = path.parent().unwrap_or(Path::new("/"));
        paths::absolutize_document(&mut doc, dir, env);
        self.cache.insert(path.to_path_buf(), doc.clone());
        Ok(doc)
    }

    /// `include:` entries: each included project is loaded on its own (own project directory,
    /// own env file) and its resources added; a resource defined differently on both sides is
    /// a conflict.
    fn resolve_includes(
        &mut self,
        doc: &mut Node,
        project_directory: &Path,
        env: &Environment,
        include_stack: &mut Vec<PathBuf>,
    ) -> Result<()> {
        let Some(map) = doc.as_map_mut() else {
            return Ok(());
        };
        let Some(include) = map.shift_remove("include") else {
            return Ok(());
        };
        let Some(entries) = include.as_seq() else {
            return Ok(());
        };
        for (i, entry) in entries.iter().enumerate() {
            let path = KeyPath::root().key("include").index(i);
            let spec = IncludeSpec::from_node(entry, project_directory, env, &path)?;
            for file in &spec.files {
                if include_stack.contains(file) {
                    let mut chain: Vec<String> =
                        include_stack.iter().map(|p| self.display(p)).collect();
                    chain.push(self.display(file));
                    return Err(Error::invalid(
                        ErrorKind::Cycle,
                        Some(entry.mark.clone()),
                        path.clone(),
                        format!("include cycle: {}", chain.join(" -> ")),
                    ));
                }
                if !file.exists() {
                    return Err(Error::invalid(
                        ErrorKind::Discovery,
                        Some(entry.mark.clone()),
                        path.clone(),
                        format!("included file {} not found", file.display()),
                    ));
                }
            }
            // The include's env files fill in what the including project's environment does
            // not already set: the shell (and the main `.env`) win, as they do over `.env`.
            let mut included_env = env.clone();
            // A file that cannot be read is reported at the key that names it.
            let located = |e: Error, key: &str, what: &str| {
                let (mark, path) = match entry.get(key) {
                    Some(node) => (node.mark.clone(), path.clone().key(key)),
                    None => (entry.mark.clone(), path.clone()),
                };
                e.reading(ErrorKind::Discovery, what, Some(mark), path)
            };
            for env_file in &spec.env_files {
                let values = dotenv::read(env_file, &|k: &str| env.get(k).map(str::to_string))
                    .map_err(|e| located(e, "env_file", "env file"))?;
                for (k, v) in values {
                    if env.get(&k).is_none() {
                        included_env.set(k, v);
                    }
                }
            }
            let included = self
                .load_project_files(
                    &spec.files,
                    &spec.project_directory,
                    &included_env,
                    include_stack,
                )
                .map_err(|e| located(e, "path", "included file"))?;
            add_included(map, included)?;
        }
        Ok(())
    }

    /// A path as shown in messages: relative to the working directory when below it.
    fn display(&self, path: &Path) -> String {
        path.strip_prefix(&self.working_dir)
            .unwrap_or(path)
            .display()
            .to_string()
    }
}

/// One `include:` entry, resolved.
struct IncludeSpec {
    files: Vec<PathBuf>,
    project_directory: PathBuf,
    env_files: Vec<PathBuf>,
}

impl IncludeSpec {
    fn from_node(entry: &Node, base: &Path, env: &Environment, path: &KeyPath) -> Result<Self> {
        let strings = |node: Option<&Node>| -> Vec<String> {
            match node.map(|n| &n.value) {
                Some(Value::String(s)) => vec![s.clone()],
                Some(Value::Seq(items)) => items
                    .iter()
                    .filter_map(Node::as_str)
                    .map(str::to_string)
                    .collect(),
                _ => Vec::new(),
            }
        };
        let (files, project_directory, env_files) = match &entry.value {
            Value::String(s) => (vec![s.clone()], None, Vec::new()),
            Value::Map(_) => (
                strings(entry.get("path")),
                entry
                    .get("project_directory")
                    .and_then(Node::as_str)
                    .map(str::to_string),
                strings(entry.get("env_file")),
            ),
            _ => (Vec::new(), None, Vec::new()),
        };
        if files.is_empty() {
            return Err(Error::invalid(
                ErrorKind::InvalidValue,
                Some(entry.mark.clone()),
                path.clone(),
                "an include entry needs a path",
            ));
        }
        if let Some(remote) = files.iter().find(|f| is_remote_include(f)) {
            return Err(Error::invalid(
                ErrorKind::Discovery,
                Some(entry.mark.clone()),
                path.clone(),
                format!("cannot include remote resource {remote}: only local files are supported"),
            ));
        }
        let files: Vec<PathBuf> = files.iter().map(|f| paths::resolve(f, base, env)).collect();
        let project_directory = match project_directory {
            Some(dir) => paths::resolve(&dir, base, env),
            None => files[0]
                .parent()
                .map_or_else(|| base.to_path_buf(), Path::to_path_buf),
        };
        let mut env_files: Vec<PathBuf> = env_files
            .iter()
            .map(|f| paths::resolve(f, base, env))
            .collect();
        if env_files.is_empty() {
            let default = project_directory.join(".env");
            if default.is_file() {
                env_files.push(default);
            }
        }
        Ok(Self {
            files,
            project_directory,
            env_files,
        })
    }
}

/// Adds an included project's resources to the including document. A resource the including
/// file defines too is merged: the including file's definition over the included one (its
/// `!reset` and `!override` tags acting on the included definition), as Compose does.
fn add_included(map: &mut yaml::Map, included: Node) -> Result<()> {
    let Value::Map(included) = included.value else {
        return Ok(());
    };
    for (section, node) in included {
        let Value::Map(items) = node.value else {
            continue;
        };
        if !matches!(
            section.as_str(),
            "services" | "networks" | "volumes" | "secrets" | "configs" | "models"
        ) {
            continue;
        }
        let target = map
            .entry(section.clone())
            .or_insert_with(|| Node::new(Value::Map(yaml::Map::default()), node.mark.clone()));
        let Some(target) = target.as_map_mut() else {
            continue;
        };
        for (name, item) in items {
            match target.get_mut(&name) {
                Some(local) => {
                    let wrap = |node: Node| {
                        let mark = node.mark.clone();
                        let mut inner = yaml::Map::default();
                        inner.insert(name.clone(), node);
                        let mut outer = yaml::Map::default();
                        outer.insert(section.clone(), Node::new(Value::Map(inner), mark.clone()));
                        Node::new(Value::Map(outer), mark)
                    };
                    let local_node =
                        std::mem::replace(local, Node::new(Value::Null, item.mark.clone()));
                    let merged = merge::merge(wrap(item), wrap(local_node))?;
                    if let Some(merged) = merged.get(&section).and_then(|s| s.get(&name)) {
                        *local = merged.clone();
                    }
                }
                None => {
                    target.insert(name, item);
                }
            }
        }
    }
    Ok(())
}

/// A service written with no definition (`web:`) is an empty one, as in Compose.
fn null_services_as_empty(doc: &mut Node) {
    let Some(services) = doc.get_mut("services").and_then(Node::as_map_mut) else {
        return;
    };
    for service in services.values_mut() {
        if service.is_null() && service.tag.is_none() {
            service.value = Value::Map(yaml::Map::default());
        }
    }
}

/// A remote include (git repository, URL, OCI artifact) cannot be read by an offline loader.
fn is_remote_include(path: &str) -> bool {
    path.contains("://") || path.starts_with("git@")
}

fn empty_document(file: Option<&Path>) -> Node {
    let file: Arc<Path> = Arc::from(file.unwrap_or(Path::new("compose.yaml")));
    Node::new(Value::Map(yaml::Map::default()), Mark::new(file, 1, 1))
}

fn collect_profiles(doc: &Node) -> Vec<String> {
    let mut all: Vec<String> = doc
        .get("services")
        .and_then(Node::as_map)
        .into_iter()
        .flat_map(|services| services.values())
        .filter_map(|service| service.get("profiles").and_then(Node::as_seq))
        .flatten()
        .filter_map(Node::as_str)
        .map(str::to_string)
        .collect();
    all.sort();
    all.dedup();
    all
}
