//! Time as the executor's waits see it. The caller hands it in — the real clock in the CLI, a
//! manual one (`testing::ManualClock`) in tests — so that nothing in this crate reads the
//! wall clock or sleeps on its own, and a test of a timeout asserts what was polled, not how
//! long it took.

use std::fmt::Debug;
use std::time::{Duration, Instant};

/// A source of the current time that can also wait.
pub trait Clock: Debug + Send + Sync {
    /// The current instant.
    fn now(&self) -> Instant;
    /// Waits `duration`.
    fn sleep(&self, duration: Duration);
}

/// The real clock: [`Instant::now`] and [`std::thread::sleep`].
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Instant {
        Instant::now()
    }

    fn sleep(&self, duration: Duration) {
        std::thread::sleep(duration);
    }
}
