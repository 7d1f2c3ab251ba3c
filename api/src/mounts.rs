//! A mount on the wire, as Docker shows it.

use crate::agent::Mount;

impl Mount {
    /// The mount's source as Docker shows it: a volume's place on the host when the agent
    /// said it, else the source as given (a bind's host path, a volume's name).
    pub fn docker_source(&self) -> &str {
        if self.r#type == "volume" && !self.host_path.is_empty() {
            &self.host_path
        } else {
            &self.source
        }
    }
}
