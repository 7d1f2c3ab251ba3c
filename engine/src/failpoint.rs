//! Crash points for fault-injection tests.
//!
//! With the `failpoints` feature, [`failpoint!`](crate::failpoint) marks a place where a test
//! can make the process die at once, as `kill -9` would, by naming it in the `FAILPOINTS`
//! environment variable (`FAILPOINTS=start-released=return`, the `fail` crate's syntax) of the
//! process that reaches it. Without the feature the macro expands to nothing.

/// Reads the crash points configured in `FAILPOINTS`; call once at process start. Does nothing
/// without the `failpoints` feature.
pub fn setup_from_env() {
    #[cfg(feature = "failpoints")]
    {
        // The scenario is leaked on purpose: the configuration lives as long as the process.
        std::mem::forget(fail::FailScenario::setup());
    }
}

/// Whether the crash point `name` is configured to fire now (never without the feature).
#[inline(always)]
pub fn fires(name: &str) -> bool {
    #[cfg(feature = "failpoints")]
    return fail::eval(name, |_| ()).is_some();
    #[cfg(not(feature = "failpoints"))]
    {
        let _ = name;
        false
    }
}

/// Ends the process at once with SIGKILL: nothing is flushed, unwound or cleaned up.
pub fn crash(name: &str) -> ! {
    eprintln!("failpoint {name}: killing the process");
    let _ = nix::sys::signal::raise(nix::sys::signal::Signal::SIGKILL);
    std::process::abort()
}

/// Marks a crash point; see the [module documentation](crate::failpoint).
#[macro_export]
macro_rules! failpoint {
    ($name:literal) => {
        if $crate::failpoint::fires($name) {
            $crate::failpoint::crash($name);
        }
    };
}
