//! Capability sets of the entrypoint.

use caps::{CapSet, CapsHashSet};

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
