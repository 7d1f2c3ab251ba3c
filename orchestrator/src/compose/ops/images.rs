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
