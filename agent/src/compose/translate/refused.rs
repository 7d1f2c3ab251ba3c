//! Keys of a service the agent cannot honour and that would change what the container is if
//! dropped: refused, naming the key, before anything is created (Compose honours them; a
//! warning would let the service run as something else).

use compose_spec::model::{Service, VolumeType};

use super::TranslateError;

/// The first key of `service` the agent cannot honour, as an error naming it.
pub(crate) fn check(name: &str, service: &Service) -> Result<(), TranslateError> {
    let refuse = |message: String| Err(TranslateError::new(name, message));
    if let Some(volume) = service.volumes.iter().find(|v| {
        !matches!(
            v.kind,
            VolumeType::Bind | VolumeType::Volume | VolumeType::Tmpfs | VolumeType::Image
        )
    }) {
        return refuse(format!(
            "volumes: mounts of type {} are not supported by bosun (at {})",
            volume.kind.as_str(),
            volume.target
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn refused(value: serde_json::Value) -> Result<(), String> {
        let project = compose_spec::model::from_json(&json!({"services": {"web": value}})).unwrap();
        check("web", &project.services["web"]).map_err(|e| e.to_string())
    }

    #[test]
    fn each_refused_key_is_named() {
        let cases = [(
            json!({"image": "a", "volumes": [{"type": "npipe", "source": "\\\\.\\pipe\\x", "target": "/i"}]}),
            "service web: volumes: mounts of type npipe",
        )];
        for (service, want) in cases {
            let err = refused(service).unwrap_err();
            assert!(err.starts_with(want), "{err}");
        }
    }

    #[test]
    fn what_the_agent_does_is_accepted() {
        for service in [
            json!({"image": "a"}),
            json!({"image": "a", "ipc": "private"}),
            json!({"image": "a", "ipc": "shareable"}),
            json!({"image": "a", "ipc": "host"}),
            json!({"image": "a", "ipc": "service:db"}),
            json!({"image": "a", "volumes_from": ["db:ro", "container:other"]}),
            json!({"image": "a", "links": ["db"]}),
            json!({"image": "a", "links": ["db:database"]}),
            json!({"image": "a", "volumes": [{"type": "image", "source": "alpine", "target": "/i"}]}),
            json!({"image": "a", "networks": {"front": {"aliases": ["x"]}}}),
            json!({"image": "a", "networks": {"front": {"interface_name": "eth7"}}}),
        ] {
            assert_eq!(refused(service.clone()), Ok(()), "{service}");
        }
    }
}
