//! Desired-state logic for compose projects: the desired and observed models, the planner (a
//! dependency graph of actions, each with its reason), and the executor that runs a plan through
//! the [`compose::Backend`] trait on a clock the caller hands in. Nothing here touches the
//! kernel, the network or the wall clock itself.
//!
//! And the same for services across a cluster ([`swarm`]): reconcilers per service mode and a
//! scheduler over store snapshots, with the time handed in; and the mapping of a compose
//! project to the services of a stack ([`stack`]).

pub mod compose;
pub mod stack;
pub mod swarm;
