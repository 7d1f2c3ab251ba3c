//! Capability sets of the entrypoint.

use caps::{CapSet, Capability, CapsHashSet};

use crate::sys::SetupError;

fn err(what: &str, e: caps::errors::CapsError) -> SetupError {
    SetupError::Invalid(format!("{what}: {e}"))
}

/// Drops every capability outside `keep` from the bounding set (needs CAP_SETPCAP, so before
/// switching user).
pub(super) fn limit_bounding(keep: &CapsHashSet) -> Result<(), SetupError> {
    for cap in caps::all() {
        if !keep.contains(&cap) && caps::has_cap(None, CapSet::Bounding, cap).unwrap_or(false) {
            caps::drop(None, CapSet::Bounding, cap)
                .map_err(|e| err(&format!("drop {cap} from the bounding set"), e))?;
        }
    }
    Ok(())
}

/// Sets effective and permitted to `set` for root (a non-root user already lost them at
/// setuid, as with Docker) and clears the inheritable and ambient sets.
pub(super) fn set_process(set: &CapsHashSet, root: bool) -> Result<(), SetupError> {
    caps::clear(None, CapSet::Ambient).map_err(|e| err("clear ambient capabilities", e))?;
    caps::clear(None, CapSet::Inheritable).map_err(|e| err("clear inheritable capabilities", e))?;
    if root {
        caps::set(None, CapSet::Effective, set)
            .map_err(|e| err("set effective capabilities", e))?;
        caps::set(None, CapSet::Permitted, set)
            .map_err(|e| err("set permitted capabilities", e))?;
    }
    Ok(())
}

/// The capabilities of `wanted` that a process with `bounding` as its bounding set can grant,
/// and those it cannot, sorted by name (a node agent started with a reduced bounding set can
/// only hand out what it has).
pub fn grantable(wanted: &CapsHashSet, bounding: &CapsHashSet) -> (CapsHashSet, Vec<Capability>) {
    let granted = wanted.intersection(bounding).copied().collect();
    let mut missing: Vec<Capability> = wanted.difference(bounding).copied().collect();
    missing.sort_by_key(|c| c.to_string());
    (granted, missing)
}

/// This process's bounding set (empty if it cannot be read).
pub fn own_bounding() -> CapsHashSet {
    caps::read(None, CapSet::Bounding).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_what_the_bounding_set_holds_is_granted() {
        let wanted: CapsHashSet = [
            Capability::CAP_CHOWN,
            Capability::CAP_SYS_RESOURCE,
            Capability::CAP_SYS_ADMIN,
        ]
        .into();
        let bounding: CapsHashSet = [Capability::CAP_CHOWN, Capability::CAP_KILL].into();
        let (granted, missing) = grantable(&wanted, &bounding);
        assert_eq!(granted, [Capability::CAP_CHOWN].into());
        assert_eq!(
            missing,
            [Capability::CAP_SYS_ADMIN, Capability::CAP_SYS_RESOURCE]
        );
        let (all, none) = grantable(&wanted, &caps::all());
        assert_eq!((all, none), (wanted, vec![]));
    }
}
