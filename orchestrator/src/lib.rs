//! Desired-state logic: compose planning (graph, plan, executor) and swarm logic (tasks,
//! scheduler, supervisors), pure where it can be, talking to the world through traits.

pub mod compose;
