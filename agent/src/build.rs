//! The `Build` call: a [`BuildRequest`](proto::BuildRequest) decoded into the builder's
//! options (its paths checked against the caller's credentials), the build run on the
//! blocking pool with a registry [`Puller`](builder::Puller) holding the client's registry
//! credentials, and its progress events sent back as they come, ending with `written` or
//! `failed`.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

use builder::{BuildError, BuildOptions, Builder, Built, Event, Network, StepRef, Stream};
use tokio::runtime::Handle;
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tonic::Status;

use super::access::Caller;
use super::node::Node;
use super::proto::{self, build_progress::Event as Wire};
use super::registry::{RegistryPuller, Settings};

/// What the stream carries.
pub(crate) type Progress = Result<proto::BuildProgress, Status>;

/// The registry credentials a request carries for its base images' pulls, by registry.
pub(crate) type Auths = std::collections::HashMap<String, proto::RegistryAuth>;

/// Decodes a request into build options and the credentials for its pulls; refuses paths
/// `caller` could not read itself.
#[allow(clippy::result_large_err)]
pub(crate) fn decode(
    mut request: proto::BuildRequest,
    caller: &Caller,
) -> Result<(BuildOptions, Auths), Status> {
    let auths = std::mem::take(&mut request.registry_auths);
    Ok((options(request, caller)?, auths))
}

/// Decodes a request into build options; refuses paths `caller` could not read itself.
#[allow(clippy::result_large_err)]
fn options(request: proto::BuildRequest, caller: &Caller) -> Result<BuildOptions, Status> {
    let refuse = |e: super::access::AccessError| Status::permission_denied(e.to_string());
    let context = PathBuf::from(&request.context);
    if !context.is_absolute() {
        return Err(Status::invalid_argument(format!(
            "the build context {:?} is not an absolute path",
            request.context
        )));
    }
    caller.check_readable(&context).map_err(refuse)?;
    let dockerfile = Some(request.dockerfile)
        .filter(|d| !d.is_empty())
        .map(|d| context.join(d));
    if request.dockerfile_text.is_empty()
        && let Some(path) = &dockerfile
    {
        caller.check_readable(path).map_err(refuse)?;
    }
    let mut secrets = BTreeMap::new();
    for (id, path) in request.secrets {
        let path = PathBuf::from(path);
        caller.check_readable(&path).map_err(refuse)?;
        secrets.insert(id, path);
    }
    let network = match request.network.as_str() {
        "" | "default" => Network::Default,
        "none" => Network::None,
        "host" => Network::Host,
        other => {
            return Err(Status::invalid_argument(format!(
                "unknown build network {other:?}: use default, none or host"
            )));
        }
    };
    Ok(BuildOptions {
        context,
        dockerfile,
        dockerfile_text: Some(request.dockerfile_text).filter(|t| !t.is_empty()),
        tags: request.tags,
        build_args: request.build_args.into_iter().collect(),
        target: Some(request.target).filter(|t| !t.is_empty()),
        labels: request.labels.into_iter().collect(),
        no_cache: request.no_cache,
        pull: request.pull,
        network,
        secrets,
    })
}

/// Runs the build on the blocking pool, pulling base images with `auths`; the stream ends
/// with `written` or `failed`. A client that goes away does not stop the build.
pub(crate) fn run(
    node: Arc<Node>,
    settings: Settings,
    options: BuildOptions,
    auths: Auths,
) -> ReceiverStream<Progress> {
    let (tx, rx) = mpsc::channel(256);
    let handle = Handle::current();
    tokio::task::spawn_blocking(move || {
        let puller = RegistryPuller::new(handle, node.images().clone(), settings).with_auths(auths);
        let events = tx.clone();
        let mut sink = move |event: &Event| {
            if let Some(wire) = wire_event(event) {
                let _ = events.blocking_send(Ok(proto::BuildProgress { event: Some(wire) }));
            }
        };
        let result = Builder::new(node.runtime().clone())
            .and_then(|b| b.with_puller(Box::new(puller)).build(&options, &mut sink));
        let last = match result {
            Ok(built) => {
                tracing::info!(image = %built.image.id, tags = ?options.tags, "built");
                written(&built, &options.tags)
            }
            Err(err) => {
                tracing::info!(cause = %err, context = %options.context.display(), "build failed");
                Wire::Failed(failed(&err))
            }
        };
        let _ = tx.blocking_send(Ok(proto::BuildProgress { event: Some(last) }));
    });
    ReceiverStream::new(rx)
}

fn step(step: &StepRef) -> proto::BuildStep {
    proto::BuildStep {
        stage: step.stage.clone(),
        step: u32::try_from(step.step).unwrap_or(u32::MAX),
        steps: u32::try_from(step.steps).unwrap_or(u32::MAX),
        text: step.text.clone(),
    }
}

/// A progress event on the wire; `Written` is left to the final message, which also counts
/// the steps.
pub(crate) fn wire_event(event: &Event) -> Option<Wire> {
    Some(match event {
        Event::Started(s) => Wire::Started(step(s)),
        Event::Cached(s) => Wire::Cached(step(s)),
        Event::Finished { step: s, elapsed } => Wire::Finished(proto::BuildStepFinished {
            step: Some(step(s)),
            elapsed_ms: u64::try_from(elapsed.as_millis()).unwrap_or(u64::MAX),
        }),
        Event::Output {
            step: s,
            stream,
            line,
        } => Wire::Output(proto::BuildOutput {
            step: Some(step(s)),
            stderr: *stream == Stream::Stderr,
            line: line.clone(),
        }),
        Event::Written { .. } => return None,
    })
}

fn written(built: &Built, tags: &[String]) -> Wire {
    Wire::Written(proto::BuildWritten {
        id: built.image.id.to_string(),
        tags: tags.to_vec(),
        cached_steps: u32::try_from(built.cached_steps).unwrap_or(u32::MAX),
        executed_steps: u32::try_from(built.executed_steps).unwrap_or(u32::MAX),
    })
}

/// The failure message: the error as one line (a failing RUN's output was streamed already,
/// so it is not repeated), the Dockerfile line and instruction, a RUN's exit code.
pub(crate) fn failed(err: &BuildError) -> proto::BuildFailed {
    let (line, instruction) = match err {
        BuildError::At {
            line, instruction, ..
        } => (
            u32::try_from(*line).unwrap_or(u32::MAX),
            instruction.clone(),
        ),
        _ => (0, String::new()),
    };
    let (message, run_failed, exit_code) = match err.cause() {
        BuildError::RunFailed { code, .. } => {
            let what = format!("the command exited with code {code}");
            let message = if instruction.is_empty() {
                what
            } else {
                format!("Dockerfile line {line}: {instruction}: {what}")
            };
            (message, true, *code)
        }
        _ => (err.to_string(), false, 0),
    };
    proto::BuildFailed {
        message,
        line,
        instruction,
        run_failed,
        exit_code,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failing_run_names_the_line_and_the_code_once() {
        let err = BuildError::RunFailed {
            code: 3,
            output: "boom\n".into(),
        }
        .at(4, "RUN sh -c 'echo boom; exit 3'\n  && more");
        let wire = failed(&err);
        assert_eq!(
            wire.message,
            "Dockerfile line 4: RUN sh -c 'echo boom; exit 3': the command exited with code 3"
        );
        assert_eq!((wire.line, wire.run_failed, wire.exit_code), (4, true, 3));
        let other = failed(&BuildError::Invalid("no FROM".into()).at(1, "ENV A=b"));
        assert_eq!(other.message, "Dockerfile line 1: ENV A=b: no FROM");
        assert!(!other.run_failed);
    }

    #[test]
    fn options_decode_and_refuse_relative_contexts_and_unknown_networks() {
        let dir = tempfile::tempdir().expect("tempdir");
        let request = proto::BuildRequest {
            context: dir.path().display().to_string(),
            dockerfile_text: "FROM scratch\n".into(),
            tags: vec!["app:1".into()],
            network: "none".into(),
            ..Default::default()
        };
        let options = options(request.clone(), &Caller::root()).expect("decodes");
        assert_eq!(options.network, Network::None);
        assert_eq!(options.dockerfile_text.as_deref(), Some("FROM scratch\n"));
        assert_eq!(options.dockerfile, None);
        let relative = proto::BuildRequest {
            context: "ctx".into(),
            ..request.clone()
        };
        assert_eq!(options_err(relative).code(), tonic::Code::InvalidArgument);
        let bad = proto::BuildRequest {
            network: "bridge".into(),
            ..request
        };
        assert!(options_err(bad).message().contains("unknown build network"));
    }

    fn options_err(request: proto::BuildRequest) -> Status {
        match options(request, &Caller::root()) {
            Ok(o) => panic!("accepted {o:?}"),
            Err(status) => status,
        }
    }
}
