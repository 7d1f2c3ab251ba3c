//! Which images `pull`/`push` transfer and `down --rmi` removes.

use std::collections::BTreeSet;

use compose_spec::model::Project;

use crate::compose::resources::image_of;

/// The `image:` of the named services (every enabled service when none is named), sorted,
/// each once: what `pull` and `push` transfer, one after the other.
pub fn images_to_transfer(project: &Project, services: &[String]) -> Vec<String> {
    let images: BTreeSet<String> = project
        .services
        .iter()
        .filter(|(name, _)| services.is_empty() || services.contains(name))
        .filter_map(|(_, s)| s.image.clone())
        .collect();
    images.into_iter().collect()
}

/// The images `build --push` pushes: of each selected service with `build:` (every one when
/// none is named), its image (`image:` or `<project>-<service>`) and its build `tags`.
pub fn images_built_to_push(project: &Project, services: &[String]) -> Vec<String> {
    let images: BTreeSet<String> = project
        .services
        .iter()
        .filter(|(name, _)| services.is_empty() || services.contains(name))
        .filter_map(|(name, s)| {
            let build = s.build.as_ref()?;
            Some(std::iter::once(image_of(&project.name, name, s)).chain(build.tags.clone()))
        })
        .flatten()
        .collect();
    images.into_iter().collect()
}

/// The images `down --rmi` removes: every service's image with `all`, else only those named
/// after the project (the images of services with `build:` and no `image:`).
pub fn images_to_remove(project: &Project, all: bool) -> BTreeSet<String> {
    project
        .services
        .iter()
        .filter(|(_, s)| all || s.image.is_none())
        .map(|(name, s)| image_of(&project.name, name, s))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn build_push_takes_the_built_services_images_and_tags() {
        let project: Project = serde_json::from_value(serde_json::json!({
            "name": "shop",
            "services": {
                "api": {"build": {"context": ".", "tags": ["reg.lan/api:1"]}, "image": "reg.lan/api:latest"},
                "web": {"build": {"context": "web"}},
                "db": {"image": "postgres"},
            },
        }))
        .expect("a project");
        assert_eq!(
            images_built_to_push(&project, &[]),
            ["reg.lan/api:1", "reg.lan/api:latest", "shop-web"]
        );
        assert_eq!(
            images_built_to_push(&project, &["web".into(), "db".into()]),
            ["shop-web"]
        );
    }
}
