//! The `networks/*` endpoints: list, create, inspect, remove, connect and disconnect.

use std::collections::HashMap;

use api::agent as proto;
use hyper::body::Incoming;
use serde::Deserialize;
use serde_json::{Map, Value, json};

use super::containers::create::EndpointConfig;
use super::containers::read_json;
use super::context::Context;
use super::filters::Query;
use super::reply::{ApiError, Reply, created, json, no_content};

fn no_such_network(name: &str) -> impl FnOnce(tonic::Status) -> ApiError {
    ApiError::not_found_as(format!("network {name} not found"))
}

/// Docker's `Network` (the `Containers` map is keyed by container name: the agent's
/// endpoints carry names).
fn network(n: &proto::Network) -> Value {
    let mut config = Vec::new();
    if !n.subnet.is_empty() {
        let mut c = json!({ "Subnet": n.subnet, "Gateway": n.gateway });
        if !n.ip_range.is_empty() {
            c["IPRange"] = json!(n.ip_range);
        }
        config.push(c);
    }
    if !n.subnet_v6.is_empty() {
        config.push(json!({ "Subnet": n.subnet_v6, "Gateway": n.gateway_v6 }));
    }
    let containers: Map<String, Value> = n
        .endpoints
        .iter()
        .zip(&n.containers)
        .map(|(e, name)| {
            (
                name.clone(),
                json!({
                    "Name": name,
                    "EndpointID": e.network_id,
                    "MacAddress": e.mac_address,
                    "IPv4Address": e.ipv4_address,
                    "IPv6Address": e.ipv6_address,
                }),
            )
        })
        .collect();
    // Docker answers the options the network was created with, and clients compare them
    // with theirs (docker-compose recreates a network whose options differ); the agent keeps
    // none apart from what it applied, so none are reported.
    let options = Map::new();
    json!({
        "Name": n.name,
        "Id": n.id,
        "Created": n.created,
        "Scope": if n.driver == "overlay" { "swarm" } else { "local" },
        "Driver": n.driver,
        "EnableIPv6": !n.subnet_v6.is_empty(),
        "IPAM": { "Driver": "default", "Options": null, "Config": config },
        "Internal": n.internal,
        "Attachable": n.overlay.as_ref().is_some_and(|o| o.attachable),
        "Ingress": false,
        "ConfigFrom": { "Network": "" },
        "ConfigOnly": false,
        "Containers": containers,
        "Options": options,
        "Labels": n.labels,
    })
}

/// `GET /networks?filters=`.
pub(crate) async fn list(context: &Context, request: &hyper::Request<Incoming>) -> Reply {
    let query = Query::of(request.uri());
    let networks = context
        .networks()
        .list(proto::NetworkListRequest {
            filters: query.filters()?,
        })
        .await?
        .into_inner()
        .networks;
    json(&networks.iter().map(network).collect::<Vec<_>>())
}

/// `GET /networks/{id}`.
pub(crate) async fn inspect(context: &Context, id: &str) -> Reply {
    let n = context
        .networks()
        .inspect(proto::NetworkRef {
            network: id.to_string(),
        })
        .await
        .map_err(no_such_network(id))?
        .into_inner();
    json(&network(&n))
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
struct CreateBody {
    #[serde(deserialize_with = "crate::containers::nullable")]
    name: String,
    #[serde(deserialize_with = "crate::containers::nullable")]
    driver: String,
    #[serde(deserialize_with = "crate::containers::nullable")]
    internal: bool,
    #[serde(deserialize_with = "crate::containers::nullable")]
    attachable: bool,
    #[serde(rename = "EnableIPv6")]
    enable_ipv6: Option<bool>,
    #[serde(rename = "IPAM")]
    ipam: Option<Ipam>,
    options: Option<HashMap<String, String>>,
    labels: Option<HashMap<String, String>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
struct Ipam {
    config: Option<Vec<IpamPool>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
struct IpamPool {
    #[serde(deserialize_with = "crate::containers::nullable")]
    subnet: String,
    #[serde(rename = "IPRange")]
    #[serde(deserialize_with = "crate::containers::nullable")]
    ip_range: String,
    #[serde(deserialize_with = "crate::containers::nullable")]
    gateway: String,
}

/// The agent's create request for Docker's body.
fn create_request(body: CreateBody) -> Result<proto::NetworkCreateRequest, ApiError> {
    if body.name.is_empty() {
        return Err(ApiError::bad_request("network name is required"));
    }
    let mut request = proto::NetworkCreateRequest {
        name: body.name,
        driver: match body.driver.as_str() {
            "" => "bridge".into(),
            d => d.into(),
        },
        internal: body.internal,
        labels: body.labels.unwrap_or_default(),
        options: body.options.unwrap_or_default(),
        enable_ipv6: body.enable_ipv6.unwrap_or(false),
        ..Default::default()
    };
    // Docker takes `Attachable` on any driver and it only means something on overlays
    // (docker-compose sets it on every network it creates); the agent refuses it elsewhere.
    request.attachable = body.attachable && request.driver == "overlay";
    for pool in body.ipam.and_then(|i| i.config).unwrap_or_default() {
        if pool.subnet.contains(':') {
            request.subnet_v6 = pool.subnet;
            request.gateway_v6 = pool.gateway;
        } else {
            request.subnet = pool.subnet;
            request.gateway = pool.gateway;
            request.ip_range = pool.ip_range;
        }
    }
    Ok(request)
}

/// `POST /networks/create`.
pub(crate) async fn create(context: &Context, request: hyper::Request<Incoming>) -> Reply {
    let body: CreateBody = read_json(request).await?;
    let n = context
        .networks()
        .create(create_request(body)?)
        .await?
        .into_inner();
    created(&json!({ "Id": n.id, "Warning": "" }))
}

/// `DELETE /networks/{id}`.
pub(crate) async fn remove(context: &Context, id: &str) -> Reply {
    context
        .networks()
        .remove(proto::NetworkRef {
            network: id.to_string(),
        })
        .await
        .map_err(no_such_network(id))?;
    no_content()
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
struct ConnectBody {
    #[serde(deserialize_with = "crate::containers::nullable")]
    container: String,
    endpoint_config: Option<EndpointConfig>,
    #[serde(deserialize_with = "crate::containers::nullable")]
    force: bool,
}

/// `POST /networks/{id}/connect`.
pub(crate) async fn connect(
    context: &Context,
    id: &str,
    request: hyper::Request<Incoming>,
) -> Reply {
    let body: ConnectBody = read_json(request).await?;
    let config = body.endpoint_config.unwrap_or_default();
    let ipam = config.ipam_config.unwrap_or_default();
    let attachment = proto::NetworkAttachment {
        network: id.to_string(),
        aliases: config.aliases.unwrap_or_default(),
        ipv4_address: ipam.ipv4_address,
        ipv6_address: ipam.ipv6_address,
        mac_address: config.mac_address,
        ..Default::default()
    };
    context
        .networks()
        .connect_container(proto::NetworkConnectRequest {
            container: body.container,
            attachment: Some(attachment),
        })
        .await?;
    no_content()
}

/// `POST /networks/{id}/disconnect`.
pub(crate) async fn disconnect(
    context: &Context,
    id: &str,
    request: hyper::Request<Incoming>,
) -> Reply {
    let body: ConnectBody = read_json(request).await?;
    context
        .networks()
        .disconnect_container(proto::NetworkDisconnectRequest {
            container: body.container,
            network: id.to_string(),
            force: body.force,
        })
        .await?;
    no_content()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn create_bodies() {
        let body: CreateBody = serde_json::from_str(
            r#"{"Name":"front","Driver":"","Attachable":true,"IPAM":{"Config":[{"Subnet":"10.7.0.0/24","Gateway":"10.7.0.1"}]},"Labels":{"a":"b"}}"#,
        )
        .unwrap();
        let r = create_request(body).unwrap();
        assert_eq!((r.name.as_str(), r.driver.as_str()), ("front", "bridge"));
        assert!(!r.attachable, "attachable is for overlays only");
        assert_eq!(
            (r.subnet.as_str(), r.gateway.as_str()),
            ("10.7.0.0/24", "10.7.0.1")
        );
        assert!(create_request(CreateBody::default()).is_err());
    }

    #[test]
    fn network_shape() {
        let n = proto::Network {
            id: "abc".into(),
            name: "front".into(),
            driver: "bridge".into(),
            subnet: "10.7.0.0/24".into(),
            gateway: "10.7.0.1".into(),
            ..Default::default()
        };
        let v = network(&n);
        assert_eq!(v["IPAM"]["Config"][0]["Subnet"], "10.7.0.0/24");
        assert_eq!(v["Scope"], "local");
    }
}
