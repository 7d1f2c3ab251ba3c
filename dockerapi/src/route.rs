//! Requests decoded at the edge: the `/v1.xx` prefix stripped, the method and path matched to
//! one [`Route`]; anything else is [`Route::NotServed`], answered with 501 naming it.

use std::sync::Arc;

use http::Method;
use hyper::body::Incoming;

use super::context::Context;
use super::reply::{ApiError, Reply};

/// What a container sub-path asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ContainerOp {
    Start,
    Stop,
    Kill,
    Restart,
    Wait,
    Inspect,
    Logs,
    Attach,
    Exec,
    Top,
    Stats,
    Resize,
    Pause,
    Unpause,
    Rename,
}

/// One endpoint served, with the names in its path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Route {
    Ping,
    Version,
    Info,
    Events,
    ContainerList,
    ContainerCreate,
    Container(String, ContainerOp),
    ContainerDelete(String),
    ExecStart(String),
    ExecInspect(String),
    ExecResize(String),
    ImageList,
    ImageCreate,
    ImageInspect(String),
    ImageTag(String),
    ImageDelete(String),
    ImageHistory(String),
    /// `images/get?names=…` (the names are in the query) or `images/{name}/get`.
    ImageGet(Option<String>),
    ImageLoad,
    NetworkList,
    NetworkCreate,
    NetworkInspect(String),
    NetworkDelete(String),
    NetworkConnect(String),
    NetworkDisconnect(String),
    VolumeList,
    VolumeCreate,
    VolumeInspect(String),
    VolumeDelete(String),
    /// Not served: the method and path, as named in the 501.
    NotServed(String),
}

/// The path without its `/v1.xx` prefix.
pub(crate) fn strip_version(path: &str) -> &str {
    let Some(rest) = path.strip_prefix("/v") else {
        return path;
    };
    let end = rest.find('/').unwrap_or(rest.len());
    let version = &rest[..end];
    let numeric = !version.is_empty()
        && version.contains('.')
        && version.chars().all(|c| c.is_ascii_digit() || c == '.');
    if numeric { &rest[end..] } else { path }
}

/// Decodes a percent-encoded path segment.
fn decode(segment: &str) -> String {
    form_urlencoded::parse(format!("x={}", segment.replace('+', "%2B")).as_bytes())
        .next()
        .map(|(_, v)| v.into_owned())
        .unwrap_or_default()
}

/// The route of `method` on `path`.
pub(crate) fn parse(method: &Method, path: &str) -> Route {
    let path = strip_version(path);
    let trimmed = path.trim_matches('/');
    let parts: Vec<&str> = trimmed.split('/').collect();
    let get = *method == Method::GET || *method == Method::HEAD;
    let post = *method == Method::POST;
    let delete = *method == Method::DELETE;
    let name = |i: usize| decode(parts[i]);
    let route = match parts.as_slice() {
        ["_ping"] if get => Some(Route::Ping),
        ["version"] if get => Some(Route::Version),
        ["info"] if get => Some(Route::Info),
        ["events"] if get => Some(Route::Events),
        ["containers", "json"] if get => Some(Route::ContainerList),
        ["containers", "create"] if post => Some(Route::ContainerCreate),
        ["containers", _] if delete => Some(Route::ContainerDelete(name(1))),
        ["containers", _, op] => container_op(method, op).map(|op| Route::Container(name(1), op)),
        ["exec", _, "start"] if post => Some(Route::ExecStart(name(1))),
        ["exec", _, "json"] if get => Some(Route::ExecInspect(name(1))),
        ["exec", _, "resize"] if post => Some(Route::ExecResize(name(1))),
        ["images", "json"] if get => Some(Route::ImageList),
        ["images", "create"] if post => Some(Route::ImageCreate),
        ["networks"] if get => Some(Route::NetworkList),
        ["networks", "create"] if post => Some(Route::NetworkCreate),
        ["networks", _] if get => Some(Route::NetworkInspect(name(1))),
        ["networks", _] if delete => Some(Route::NetworkDelete(name(1))),
        ["networks", _, "connect"] if post => Some(Route::NetworkConnect(name(1))),
        ["networks", _, "disconnect"] if post => Some(Route::NetworkDisconnect(name(1))),
        ["volumes"] if get => Some(Route::VolumeList),
        ["volumes", "create"] if post => Some(Route::VolumeCreate),
        ["volumes", _] if get => Some(Route::VolumeInspect(name(1))),
        ["volumes", _] if delete => Some(Route::VolumeDelete(name(1))),
        ["images", ..] => image_route(method, &parts[1..]),
        _ => None,
    };
    route.unwrap_or_else(|| Route::NotServed(format!("{method} {path}")))
}

fn container_op(method: &Method, op: &str) -> Option<ContainerOp> {
    let get = *method == Method::GET;
    let post = *method == Method::POST;
    Some(match op {
        "start" if post => ContainerOp::Start,
        "stop" if post => ContainerOp::Stop,
        "kill" if post => ContainerOp::Kill,
        "restart" if post => ContainerOp::Restart,
        "wait" if post => ContainerOp::Wait,
        "json" if get => ContainerOp::Inspect,
        "logs" if get => ContainerOp::Logs,
        "attach" if post => ContainerOp::Attach,
        "exec" if post => ContainerOp::Exec,
        "top" if get => ContainerOp::Top,
        "stats" if get => ContainerOp::Stats,
        "resize" if post => ContainerOp::Resize,
        "pause" if post => ContainerOp::Pause,
        "unpause" if post => ContainerOp::Unpause,
        "rename" if post => ContainerOp::Rename,
        _ => return None,
    })
}

/// Image names hold slashes (`library/busybox`), which clients do not escape: the name is
/// everything between `images/` and the operation.
fn image_route(method: &Method, rest: &[&str]) -> Option<Route> {
    let joined = |parts: &[&str]| decode(&parts.join("/"));
    match rest {
        [] => None,
        ["get"] if *method == Method::GET => Some(Route::ImageGet(None)),
        ["load"] if *method == Method::POST => Some(Route::ImageLoad),
        [name @ .., "get"] if *method == Method::GET && !name.is_empty() => {
            Some(Route::ImageGet(Some(joined(name))))
        }
        [name @ .., "history"] if *method == Method::GET && !name.is_empty() => {
            Some(Route::ImageHistory(joined(name)))
        }
        [name @ .., "json"] if *method == Method::GET && !name.is_empty() => {
            Some(Route::ImageInspect(joined(name)))
        }
        [name @ .., "tag"] if *method == Method::POST && !name.is_empty() => {
            Some(Route::ImageTag(joined(name)))
        }
        name if *method == Method::DELETE => Some(Route::ImageDelete(joined(name))),
        _ => None,
    }
}

/// Answers `route`.
pub(crate) async fn dispatch(
    context: Arc<Context>,
    route: Route,
    request: hyper::Request<Incoming>,
) -> Reply {
    use super::{containers, exec, image_archive, images, networks, system, volumes};
    let c = &context;
    match route {
        Route::Ping => system::ping(&request),
        Route::Version => system::version(c).await,
        Route::Info => system::info(c).await,
        Route::Events => super::events::events(c, &request).await,
        Route::ContainerList => containers::list::list(c, &request).await,
        Route::ContainerCreate => containers::create::create(c, request).await,
        Route::Container(id, op) => containers::operate(c, &id, op, request).await,
        Route::ContainerDelete(id) => containers::control::remove(c, &id, &request).await,
        Route::ExecStart(id) => exec::start(c, &id, request).await,
        Route::ExecInspect(id) => exec::inspect(c, &id),
        Route::ExecResize(id) => exec::resize(c, &id, &request).await,
        Route::ImageList => images::list(c).await,
        Route::ImageCreate => images::pull(c, &request).await,
        Route::ImageInspect(name) => images::inspect(c, &name).await,
        Route::ImageTag(name) => images::tag(c, &name, &request).await,
        Route::ImageDelete(name) => images::remove(c, &name, &request).await,
        Route::ImageHistory(name) => images::history(c, &name).await,
        Route::ImageGet(name) => image_archive::get(c, name, &request).await,
        Route::ImageLoad => image_archive::load(c, request).await,
        Route::NetworkList => networks::list(c, &request).await,
        Route::NetworkCreate => networks::create(c, request).await,
        Route::NetworkInspect(id) => networks::inspect(c, &id).await,
        Route::NetworkDelete(id) => networks::remove(c, &id).await,
        Route::NetworkConnect(id) => networks::connect(c, &id, request).await,
        Route::NetworkDisconnect(id) => networks::disconnect(c, &id, request).await,
        Route::VolumeList => volumes::list(c, &request).await,
        Route::VolumeCreate => volumes::create(c, request).await,
        Route::VolumeInspect(name) => volumes::inspect(c, &name).await,
        Route::VolumeDelete(name) => volumes::remove(c, &name, &request).await,
        Route::NotServed(endpoint) => Err(ApiError::not_served(&endpoint)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_are_stripped() {
        assert_eq!(strip_version("/v1.45/containers/json"), "/containers/json");
        assert_eq!(strip_version("/v1.24/_ping"), "/_ping");
        assert_eq!(strip_version("/volumes"), "/volumes");
        assert_eq!(strip_version("/version"), "/version");
    }

    #[test]
    fn routes_table() {
        let cases: &[(Method, &str, Route)] = &[
            (Method::HEAD, "/_ping", Route::Ping),
            (Method::GET, "/v1.45/version", Route::Version),
            (
                Method::POST,
                "/v1.41/containers/create",
                Route::ContainerCreate,
            ),
            (
                Method::POST,
                "/v1.45/containers/abc/wait",
                Route::Container("abc".into(), ContainerOp::Wait),
            ),
            (
                Method::DELETE,
                "/containers/web",
                Route::ContainerDelete("web".into()),
            ),
            (
                Method::POST,
                "/exec/e1/start",
                Route::ExecStart("e1".into()),
            ),
            (
                Method::GET,
                "/v1.45/images/docker.io/library/busybox:latest/json",
                Route::ImageInspect("docker.io/library/busybox:latest".into()),
            ),
            (
                Method::POST,
                "/images/busybox/tag",
                Route::ImageTag("busybox".into()),
            ),
            (
                Method::DELETE,
                "/images/sha256%3Aabc",
                Route::ImageDelete("sha256:abc".into()),
            ),
            (
                Method::GET,
                "/networks/front",
                Route::NetworkInspect("front".into()),
            ),
            (
                Method::DELETE,
                "/volumes/data",
                Route::VolumeDelete("data".into()),
            ),
            (
                Method::POST,
                "/v1.45/build",
                Route::NotServed("POST /build".into()),
            ),
            (
                Method::POST,
                "/containers/abc/pause",
                Route::Container("abc".into(), ContainerOp::Pause),
            ),
            (
                Method::POST,
                "/v1.45/containers/abc/rename",
                Route::Container("abc".into(), ContainerOp::Rename),
            ),
            (
                Method::POST,
                "/containers/prune",
                Route::NotServed("POST /containers/prune".into()),
            ),
            (
                Method::GET,
                "/v1.45/images/library/busybox:1/history",
                Route::ImageHistory("library/busybox:1".into()),
            ),
            (Method::GET, "/images/get", Route::ImageGet(None)),
            (
                Method::GET,
                "/images/busybox/get",
                Route::ImageGet(Some("busybox".into())),
            ),
            (Method::POST, "/images/load", Route::ImageLoad),
            (
                Method::GET,
                "/images/get/json",
                Route::ImageInspect("get".into()),
            ),
        ];
        for (method, path, route) in cases {
            assert_eq!(&parse(method, path), route, "{method} {path}");
        }
    }
}
