//! Resolving `services.*.extends`: a service is merged onto the service it extends, from the same
//! file or from another one, recursively and with cycles detected.
//!
//! `extends: base` and `extends: {service: base}` name a service of the same file;
//! `extends: {file: other.yaml, service: base}` one of another file, relative to the directory of
//! the file that names it. The extending service is merged onto the extended one with the rules
//! of [`crate::merge`]; everything is inherited, `depends_on`, `volumes_from` and
//! `network_mode: service:…` included (a reference the extending file cannot satisfy is reported
//! later, by semantic validation). A service taken from another file has its relative paths made
//! absolute against that file's directory ([`paths`]), so they keep pointing where they did.
//! Once resolved, the `extends` key is removed.

#[cfg(test)]
mod tests;

use std::collections::{HashMap, HashSet};
use std::path::{Component, Path, PathBuf};

use crate::env::Environment;
use crate::error::{Error, ErrorKind, Result};
use crate::merge;
use crate::path::KeyPath;
use crate::yaml::{Node, Value};

/// A service in a file.
type ServiceRef = (PathBuf, String);

/// Resolves every `services.*.extends` of `doc`, the document read from `file`.
///
/// `load` reads, parses and interpolates another compose file and returns its document; it is
/// called at most once per file. Relative `extends.file` paths are taken relative to the
/// directory of the file naming them; pass an absolute `file` so that rebased paths come out
/// absolute.
///
/// Errors: [`ErrorKind::Cycle`] for a service that extends itself through others
/// (`extends cycle: web -> base -> web`), [`ErrorKind::UndefinedReference`] for an unknown
/// service or a file that cannot be read, [`ErrorKind::Schema`] for an `extends` without a
/// service name. `load`'s own errors are passed on, except I/O errors (reported as undefined
/// references at `services.<name>.extends.file`).
pub(crate) fn resolve_extends(
    doc: &mut Node,
    file: &Path,
    load: &mut dyn FnMut(&Path) -> Result<Node>,
) -> Result<()> {
    let names: Vec<String> = match doc.get("services").and_then(Node::as_map) {
        Some(services) => services.keys().cloned().collect(),
        None => return Ok(()),
    };
    let root = normalize(file);
    let placeholder = Node::new(Value::Null, doc.mark.clone());
    let mut resolver = Resolver {
        load,
        docs: HashMap::from([(root.clone(), std::mem::replace(doc, placeholder))]),
        done: HashSet::new(),
        root_dir: root.parent().map(Path::to_path_buf).unwrap_or_default(),
    };
    let result = names
        .iter()
        .try_for_each(|name| resolver.resolve(&root, name, &mut Vec::new()));
    if let Some(resolved) = resolver.docs.remove(&root) {
        *doc = resolved;
    }
    result
}

/// The state of one [`resolve_extends`] call.
struct Resolver<'a> {
    /// Reads another compose file.
    load: &'a mut dyn FnMut(&Path) -> Result<Node>,
    /// The documents read so far, by normalized path; resolved services are written back.
    docs: HashMap<PathBuf, Node>,
    /// The services already resolved.
    done: HashSet<ServiceRef>,
    /// The directory of the first document, to shorten file names in messages.
    root_dir: PathBuf,
}

impl Resolver<'_> {
    /// Resolves service `name` of `file` (loaded already), writing the resolved definition back
    /// into its document. `chain` holds the services whose resolution led here.
    fn resolve(&mut self, file: &Path, name: &str, chain: &mut Vec<ServiceRef>) -> Result<()> {
        let key: ServiceRef = (file.to_path_buf(), name.to_owned());
        if self.done.contains(&key) {
            return Ok(());
        }
        let Some(extends) = self
            .service(file, name)
            .and_then(|s| s.get("extends"))
            .cloned()
        else {
            return Ok(());
        };
        let path = KeyPath::root().key("services").key(name).key("extends");
        let (target, base_name) = self.target(file, &extends, &path)?;
        let target_ref: ServiceRef = (target.clone(), base_name.clone());
        chain.push(key.clone());
        if chain.contains(&target_ref) {
            let message = format!("extends cycle: {}", self.describe(chain, &target_ref));
            return Err(Error::invalid(
                ErrorKind::Cycle,
                Some(extends.mark.clone()),
                path,
                message,
            ));
        }
        self.ensure_loaded(&target, &extends, &path)?;
        if self.service(&target, &base_name).is_none() {
            let mut message = format!("service {base_name:?} not found");
            if target != file {
                message.push_str(&format!(" in {}", self.display(&target)));
            }
            let mark = Some(extends.mark.clone());
            return Err(Error::invalid(
                ErrorKind::UndefinedReference,
                mark,
                path,
                message,
            ));
        }
        let resolved_base = self.resolve(&target, &base_name, chain);
        chain.pop();
        resolved_base?;
        let mut base = match self.service(&target, &base_name) {
            Some(base) => base.clone(),
            None => Node::new(Value::Null, extends.mark.clone()),
        };
        if target != file {
            let dir = target.parent().unwrap_or(Path::new(""));
            crate::paths::absolutize_service(&mut base, dir, &Environment::default());
            crate::paths::default_build_context(&mut base, dir);
        }
        // The service is taken out of its document while it is merged and put back after.
        let Some(slot) = self.service_mut(file, name) else {
            return Ok(());
        };
        let placeholder = Node::new(Value::Null, slot.mark.clone());
        let mut own = std::mem::replace(slot, placeholder);
        if let Some(map) = own.as_map_mut() {
            map.shift_remove("extends");
        }
        let resolved = if base.is_null() {
            own
        } else {
            merge::extend_service(base, own, name)?
        };
        if let Some(slot) = self.service_mut(file, name) {
            *slot = resolved;
        }
        self.done.insert(key);
        Ok(())
    }

    /// The file and service an `extends` value names.
    fn target(&self, file: &Path, extends: &Node, path: &KeyPath) -> Result<(PathBuf, String)> {
        let invalid = |message: &str| {
            Error::invalid(
                ErrorKind::Schema,
                Some(extends.mark.clone()),
                path.clone(),
                message,
            )
        };
        let (service, other) = match &extends.value {
            Value::String(service) => (service.clone(), None),
            Value::Map(_) => {
                let service = extends.get("service").and_then(Node::as_str);
                let service = service.ok_or_else(|| invalid("extends requires a service name"))?;
                let other = match extends.get("file") {
                    None => None,
                    Some(f) if f.is_null() => None,
                    Some(f) => Some(
                        f.as_str()
                            .ok_or_else(|| invalid("extends.file must be a string"))?,
                    ),
                };
                (service.to_owned(), other)
            }
            _ => {
                return Err(invalid(
                    "expected a service name or a mapping with service and file",
                ));
            }
        };
        let target = match other {
            Some(other) => normalize(&file.parent().unwrap_or(Path::new("")).join(other)),
            None => file.to_path_buf(),
        };
        Ok((target, service))
    }

    /// Reads `file` through the loader unless it has been read already.
    fn ensure_loaded(&mut self, file: &Path, extends: &Node, path: &KeyPath) -> Result<()> {
        if self.docs.contains_key(file) {
            return Ok(());
        }
        let (mark, path) = match extends.get("file") {
            Some(named) => (named.mark.clone(), path.clone().key("file")),
            None => (extends.mark.clone(), path.clone()),
        };
        let doc = (self.load)(file).map_err(|err| match err {
            Error::Io { path: read, source } => Error::invalid(
                ErrorKind::UndefinedReference,
                Some(mark),
                path,
                format!(
                    "cannot read extended file {}: {}",
                    self.display(&read),
                    crate::error::describe_io(&source)
                ),
            ),
            other => other,
        })?;
        self.docs.insert(file.to_path_buf(), doc);
        Ok(())
    }

    /// Service `name` of the loaded document of `file`.
    fn service(&self, file: &Path, name: &str) -> Option<&Node> {
        self.docs.get(file)?.get("services")?.get(name)
    }

    /// Service `name` of the loaded document of `file`, mutably.
    fn service_mut(&mut self, file: &Path, name: &str) -> Option<&mut Node> {
        let services = self.docs.get_mut(file)?.as_map_mut()?.get_mut("services")?;
        services.as_map_mut()?.get_mut(name)
    }

    /// `web -> base -> web`, with the files named when the chain crosses files.
    fn describe(&self, chain: &[ServiceRef], last: &ServiceRef) -> String {
        let all: Vec<&ServiceRef> = chain.iter().chain(std::iter::once(last)).collect();
        let one_file = all.iter().all(|(f, _)| *f == all[0].0);
        let step = |(f, s): &&ServiceRef| match one_file {
            true => s.clone(),
            false => format!("{s} ({})", self.display(f)),
        };
        all.iter().map(step).collect::<Vec<_>>().join(" -> ")
    }

    /// A file as shown in messages: relative to the first document's directory when inside it.
    fn display(&self, file: &Path) -> String {
        file.strip_prefix(&self.root_dir)
            .unwrap_or(file)
            .display()
            .to_string()
    }
}

/// `a/./b/../c` → `a/c`, without touching the file system (a leading `..` is kept).
fn normalize(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for component in path.components() {
        match component {
            Component::CurDir => {}
            Component::ParentDir => match out.components().next_back() {
                Some(Component::Normal(_)) => {
                    out.pop();
                }
                Some(Component::RootDir | Component::Prefix(_)) => {}
                _ => out.push(".."),
            },
            other => out.push(other),
        }
    }
    out
}
