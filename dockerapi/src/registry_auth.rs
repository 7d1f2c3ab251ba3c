//! `X-Registry-Auth`: the credentials a Docker client sends with a pull, base64url-encoded JSON
//! of its `AuthConfig` (`username`/`password`, or `auth` as base64 `user:password`, or an
//! `identitytoken`), handed to the agent's puller for the image's registry.

use api::agent as proto;
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE};
use serde::Deserialize;

use super::reply::ApiError;

/// The header's name.
pub(crate) const HEADER: &str = "x-registry-auth";

/// Docker's `AuthConfig`, the fields that carry credentials.
#[derive(Debug, Default, Deserialize)]
struct AuthConfig {
    #[serde(default)]
    username: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    auth: String,
    #[serde(default, rename = "identitytoken")]
    identity_token: String,
}

/// Base64 in either alphabet, padded or not.
fn decode_base64(text: &str) -> Option<Vec<u8>> {
    let trimmed = text.trim().trim_end_matches('=');
    let padded = format!("{trimmed}{}", "=".repeat((4 - trimmed.len() % 4) % 4));
    URL_SAFE
        .decode(&padded)
        .or_else(|_| STANDARD.decode(&padded))
        .ok()
}

/// The credentials of a header value: `None` for an empty header or one without credentials
/// (the CLI sends `{}` when it has none), an error for one that cannot be read.
pub(crate) fn decode(value: &str) -> Result<Option<proto::RegistryAuth>, ApiError> {
    if value.trim().is_empty() {
        return Ok(None);
    }
    let invalid = |why: String| ApiError::bad_request(format!("invalid X-Registry-Auth: {why}"));
    let json = decode_base64(value).ok_or_else(|| invalid("not base64".into()))?;
    let config: AuthConfig =
        serde_json::from_slice(&json).map_err(|e| invalid(format!("not an auth config: {e}")))?;
    let (mut username, mut password) = (config.username, config.password);
    if username.is_empty() && !config.auth.is_empty() {
        let pair = decode_base64(&config.auth)
            .and_then(|b| String::from_utf8(b).ok())
            .ok_or_else(|| invalid("its auth is not base64 of user:password".into()))?;
        let (user, pass) = pair
            .split_once(':')
            .ok_or_else(|| invalid("its auth is not user:password".into()))?;
        (username, password) = (user.to_string(), pass.to_string());
    }
    if username.is_empty() && config.identity_token.is_empty() {
        return Ok(None);
    }
    Ok(Some(proto::RegistryAuth {
        username,
        password,
        identity_token: config.identity_token,
    }))
}

/// The credentials of a request's `X-Registry-Auth` header, if any.
pub(crate) fn of<B>(request: &hyper::Request<B>) -> Result<Option<proto::RegistryAuth>, ApiError> {
    match request.headers().get(HEADER) {
        None => Ok(None),
        Some(value) => decode(
            value
                .to_str()
                .map_err(|_| ApiError::bad_request("invalid X-Registry-Auth: not text"))?,
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_forms_docker_clients_send() {
        let encode = |json: &str| URL_SAFE.encode(json);
        let auth = decode(&encode(
            r#"{"username":"u","password":"p?>","serveraddress":"r:5000"}"#,
        ))
        .expect("decodes")
        .expect("has credentials");
        assert_eq!(
            (auth.username.as_str(), auth.password.as_str()),
            ("u", "p?>")
        );
        let from_auth = decode(&encode(&format!(
            r#"{{"auth":"{}"}}"#,
            STANDARD.encode("a:b:c")
        )))
        .expect("decodes")
        .expect("has credentials");
        assert_eq!(
            (from_auth.username.as_str(), from_auth.password.as_str()),
            ("a", "b:c")
        );
        let token = decode(&encode(r#"{"identitytoken":"t"}"#))
            .expect("decodes")
            .expect("has a token");
        assert_eq!(token.identity_token, "t");
        // Unpadded, standard alphabet; and the CLI's "no credentials".
        assert!(
            decode(STANDARD.encode(r#"{"username":"u"}"#).trim_end_matches('='))
                .expect("decodes")
                .is_some()
        );
        assert!(decode("e30=").expect("decodes").is_none());
        assert!(decode("").expect("empty").is_none());
        assert!(decode("%%%").is_err());
    }
}
