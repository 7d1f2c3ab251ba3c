//! `develop`: file watch rules for development mode.

use serde::{Deserialize, Serialize};

use crate::model::hooks::ServiceHook;
use crate::model::lists;
use crate::model::scalar::{self, Extensions};

string_enum! {
    /// What happens when a watched file changes.
    pub enum WatchAction ("watch action") {
        /// Rebuild the image and recreate the service.
        Rebuild = "rebuild",
        /// Copy the files into the container.
        Sync = "sync",
        /// Restart the container.
        Restart = "restart",
        /// Copy, then restart.
        SyncRestart = "sync+restart",
        /// Copy, then run a command.
        SyncExec = "sync+exec",
    }
}

/// The development configuration of a service.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Develop {
    /// Watch rules.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub watch: Vec<Watch>,
    /// `x-*` keys.
    #[serde(flatten, deserialize_with = "scalar::extensions")]
    pub extensions: Extensions,
}

/// One watch rule.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Watch {
    /// The watched path (relative paths are resolved by the loader).
    #[serde(deserialize_with = "scalar::scalar")]
    pub path: String,
    /// What to do on change.
    pub action: WatchAction,
    /// Where to sync in the container.
    #[serde(
        default,
        deserialize_with = "scalar::opt",
        skip_serializing_if = "Option::is_none"
    )]
    pub target: Option<String>,
    /// Patterns to ignore.
    #[serde(
        default,
        deserialize_with = "lists::strings",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub ignore: Vec<String>,
    /// Patterns to include.
    #[serde(
        default,
        deserialize_with = "lists::strings",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub include: Vec<String>,
    /// Command for `sync+exec`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exec: Option<ServiceHook>,
    /// Sync everything when watching starts.
    #[serde(
        default,
        deserialize_with = "scalar::flag",
        skip_serializing_if = "scalar::is_false"
    )]
    pub initial_sync: bool,
    /// `x-*` keys.
    #[serde(flatten, deserialize_with = "scalar::extensions")]
    pub extensions: Extensions,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn watch_rules() {
        let d: Develop = serde_json::from_value(json!({"watch": [
            {"path": "./src", "action": "sync+exec", "target": "/app", "ignore": "node_modules",
             "include": ["*.js"], "exec": {"command": "kill -HUP 1"}, "initial_sync": true},
            {"path": "package.json", "action": "rebuild"}
        ]}))
        .unwrap();
        assert_eq!(d.watch[0].action, WatchAction::SyncExec);
        assert_eq!(d.watch[0].ignore, ["node_modules"]);
        assert_eq!(
            serde_json::from_value::<Develop>(serde_json::to_value(&d).unwrap()).unwrap(),
            d
        );
        for action in WatchAction::ALL {
            assert_eq!(action.as_str().parse::<WatchAction>(), Ok(*action));
        }
        assert!(serde_json::from_value::<Watch>(json!({"path": "a", "action": "copy"})).is_err());
    }
}
