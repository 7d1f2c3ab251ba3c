//! An event on the wire: Docker's type, and Docker's event filters.

impl crate::agent::Event {
    /// Docker's event type: `container` (also for an agent that sent none), `network`,
    /// `volume` or `image`.
    pub fn docker_type(&self) -> &str {
        if self.r#type.is_empty() {
            "container"
        } else {
            &self.r#type
        }
    }

    /// Whether the event passes Docker's event filters (`key=value` each; values of one key
    /// are alternatives, keys all apply): `type` and `event` match exactly; `container`,
    /// `network`, `volume` and `image` match when the value begins the id of what the event
    /// is about or its `name` attribute, as Docker matches them; `label=K` and `label=K=V`
    /// match an attribute (a container's labels are among its events' attributes); `scope`
    /// is `local` for every event here. Other keys pass everything.
    pub fn passes_docker_filters(&self, filters: &[String]) -> bool {
        let mut by_key: std::collections::BTreeMap<&str, Vec<&str>> = Default::default();
        for filter in filters {
            if let Some((key, value)) = filter.split_once('=') {
                by_key.entry(key).or_default().push(value);
            }
        }
        let name = self.attributes.get("name").map_or("", String::as_str);
        by_key.iter().all(|(key, values)| match *key {
            "type" => values.contains(&self.docker_type()),
            "event" | "status" => values.contains(&self.action.as_str()),
            "container" | "network" | "volume" | "image" => values
                .iter()
                .any(|v| self.id.starts_with(v) || name.starts_with(v)),
            "label" => values.iter().any(|v| match v.split_once('=') {
                Some((key, value)) => self.attributes.get(key).is_some_and(|a| a == value),
                None => self.attributes.contains_key(*v),
            }),
            "scope" => values.contains(&"local"),
            _ => true,
        })
    }
}
