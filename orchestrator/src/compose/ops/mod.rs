//! The commands over a project's existing containers (`start`, `stop`, `restart`, `kill`,
//! `rm`, `pause`, `unpause`), the image commands (`pull`, `push`, `down --rmi`), and what
//! `up --wait`, attached `up` and `run` act on, as Compose decides them.
//!
//! Each command is a pure function of the project, its dependency graph and the [`Observed`]
//! state that returns what to do: [`Batch`]es of one [`ContainerOp`] over named containers,
//! run one after the other, every container of a batch at once ([`run_batch`], through the
//! [`Backend`]). The caller observes, asks, runs and reports; nothing here prints.
//!
//! [`Observed`]: crate::compose::Observed
//! [`Backend`]: crate::compose::Backend

pub mod batch;
pub mod images;
pub mod order;
pub mod ready;
mod select;
pub mod start;
pub mod stop;

pub use batch::{Batch, ContainerOp, Outcome, run_batch};
pub use images::{images_built_to_push, images_to_remove, images_to_transfer};
pub use order::{restart_order, run_dependencies, start_order};
pub use ready::{Readiness, WaitError, readiness, wait_ready};
pub use select::{attached_services, scope};
pub use start::{restart, start};
pub use stop::{kill, pause, remove, stop, unpause};
