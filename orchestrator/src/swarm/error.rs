//! The errors of the swarm logic, gathered in one enum for callers that handle them alike.

use thiserror::Error;

use crate::swarm::constraint::ConstraintError;
use crate::swarm::schedule::ReasonParseError;
use crate::swarm::task_state::TransitionError;

/// Any error of [`crate::swarm`].
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum SwarmError {
    /// A placement constraint or preference did not parse.
    #[error(transparent)]
    Constraint(#[from] ConstraintError),
    /// A task state move that is not forward.
    #[error(transparent)]
    Transition(#[from] TransitionError),
    /// A stored pending reason did not parse.
    #[error(transparent)]
    Reason(#[from] ReasonParseError),
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::swarm::constraint::Constraint;

    #[test]
    fn module_errors_convert_and_keep_their_message() {
        let err: SwarmError = "zone".parse::<Constraint>().unwrap_err().into();
        assert_eq!(
            err.to_string(),
            "invalid constraint \"zone\": expected KEY==VALUE or KEY!=VALUE"
        );
    }
}
