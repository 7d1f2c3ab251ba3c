//! Secrets and configs: named payloads the managers keep in the store (a secret's sealed at
//! rest, see `cluster_state::SealKey`) and hand to the nodes that run a task using them.
//!
//! - [`check`]: the pure rules — names, the payload size limit, which services use one.
//! - `api`: the calls of the services API (`CreateBlob`, `ListBlobs`, `InspectBlob`,
//!   `RemoveBlob`), on the leader for writes.
//!
//! Delivery is in [`crate::dispatcher::files`] (what an assignment carries) and the node's
//! `crate::tasks::translate` (the container's in-memory file mounts).

pub(crate) mod api;
pub(crate) mod check;
