//! Integration cases of the exec, init, healthcheck, restart, logs, events, /etc files, sealed
//! binary and cpu features, each a function returning a test result.

pub(crate) mod etc_files;
pub(crate) mod exec;
pub(crate) mod health;
pub(crate) mod init;
pub(crate) mod logs_events;
pub(crate) mod restart;
pub(crate) mod sealed;
pub(crate) mod seccomp;
pub(crate) mod tty;
pub(crate) mod usage;
pub(crate) mod v2;

use libtest_mimic::Failed;

/// A test's outcome.
pub(crate) type TestResult = Result<(), Failed>;
/// A named test.
pub(crate) type Case = (&'static str, fn() -> TestResult);

/// Every case of this directory.
pub(crate) fn all() -> Vec<Case> {
    vec![
        (
            "exec_enters_namespaces_cgroup_and_identity",
            exec::enters_everything,
        ),
        (
            "exec_exit_codes_stdin_and_refusals",
            exec::codes_stdin_refusals,
        ),
        (
            "init_forwards_signals_and_reaps_zombies",
            init::forwards_and_reaps,
        ),
        ("healthcheck_real_probes", health::real_probes),
        (
            "restart_policies_and_backoff",
            restart::policies_and_backoff,
        ),
        (
            "logs_follow_across_rotation_tail_since",
            logs_events::follow_tail_since,
        ),
        ("events_of_a_lifecycle", logs_events::lifecycle_events),
        ("etc_hosts_hostname_resolv_conf", etc_files::generated_files),
        (
            "sealed_binary_cannot_be_overwritten",
            sealed::proc_exe_is_sealed,
        ),
        (
            "cpu_quota_throttles_and_top_lists",
            usage::cpu_quota_and_top,
        ),
        ("tty_output_is_logged", tty::terminal_output_is_logged),
        ("cgroup_v2_layout_lifecycle", v2::container_lifecycle_on_v2),
        (
            "seccomp_default_profile_blocks_user_namespaces",
            seccomp::default_profile_blocks_user_namespaces,
        ),
        (
            "seccomp_unconfined_and_privileged_have_no_filter",
            seccomp::unconfined_and_privileged_have_no_filter,
        ),
        (
            "seccomp_custom_profile_is_honoured",
            seccomp::a_custom_profile_is_honoured,
        ),
        (
            "seccomp_exec_gets_the_filter",
            seccomp::exec_gets_the_filter,
        ),
        (
            "capabilities_the_creator_lacks_are_left_out",
            seccomp::capabilities_the_creator_lacks_are_left_out,
        ),
    ]
}
