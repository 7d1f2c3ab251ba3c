//! Docker's default seccomp profile (moby `profiles/seccomp/default.json`), as a Rust table:
//! an allow-list with EPERM for everything else, calls that need a capability the container
//! holds, calls of some architectures, and argument filters on `socket` (no AF_VSOCK),
//! `personality` (the harmless personas) and `clone` (no new namespaces without
//! CAP_SYS_ADMIN); `clone3` fails with ENOSYS, since its flags cannot be inspected, so libc
//! falls back to `clone`.

use caps::Capability;

use super::profile::{Action, ArgCmp, CmpOp, Profile, Rule, Scope};

/// Calls allowed whatever the container's capabilities.
#[rustfmt::skip]
const ALLOWED: &[&str] = &[
    "accept", "accept4", "access", "adjtimex", "alarm", "bind", "brk", "capget", "capset", "chdir",
    "chmod", "chown", "chown32", "clock_adjtime", "clock_adjtime64", "clock_getres",
    "clock_getres_time64", "clock_gettime", "clock_gettime64", "clock_nanosleep",
    "clock_nanosleep_time64", "close", "close_range", "connect", "copy_file_range", "creat", "dup",
    "dup2", "dup3", "epoll_create", "epoll_create1", "epoll_ctl", "epoll_ctl_old", "epoll_pwait",
    "epoll_pwait2", "epoll_wait", "epoll_wait_old", "eventfd", "eventfd2", "execve", "execveat",
    "exit", "exit_group", "faccessat", "faccessat2", "fadvise64", "fadvise64_64", "fallocate",
    "fanotify_mark", "fchdir", "fchmod", "fchmodat", "fchown", "fchown32", "fchownat", "fcntl",
    "fcntl64", "fdatasync", "fgetxattr", "flistxattr", "flock", "fork", "fremovexattr", "fsetxattr",
    "fstat", "fstat64", "fstatat64", "fstatfs", "fstatfs64", "fsync", "ftruncate", "ftruncate64",
    "futex", "futex_time64", "futex_waitv", "futimesat", "getcpu", "getcwd", "getdents",
    "getdents64", "getegid", "getegid32", "geteuid", "geteuid32", "getgid", "getgid32", "getgroups",
    "getgroups32", "getitimer", "getpeername", "getpgid", "getpgrp", "getpid", "getppid",
    "getpriority", "getrandom", "getresgid", "getresgid32", "getresuid", "getresuid32", "getrlimit",
    "get_robust_list", "getrusage", "getsid", "getsockname", "getsockopt", "get_thread_area",
    "gettid", "gettimeofday", "getuid", "getuid32", "getxattr", "inotify_add_watch", "inotify_init",
    "inotify_init1", "inotify_rm_watch", "io_cancel", "ioctl", "io_destroy", "io_getevents",
    "io_pgetevents", "io_pgetevents_time64", "ioprio_get", "ioprio_set", "io_setup", "io_submit",
    "io_uring_enter", "io_uring_register", "io_uring_setup", "ipc", "kill", "landlock_add_rule",
    "landlock_create_ruleset", "landlock_restrict_self", "lchown", "lchown32", "lgetxattr", "link",
    "linkat", "listen", "listxattr", "llistxattr", "_llseek", "lremovexattr", "lseek", "lsetxattr",
    "lstat", "lstat64", "madvise", "membarrier", "memfd_create", "memfd_secret", "mincore", "mkdir",
    "mkdirat", "mknod", "mknodat", "mlock", "mlock2", "mlockall", "mmap", "mmap2", "mprotect",
    "mq_getsetattr", "mq_notify", "mq_open", "mq_timedreceive", "mq_timedreceive_time64",
    "mq_timedsend", "mq_timedsend_time64", "mq_unlink", "mremap", "msgctl", "msgget", "msgrcv",
    "msgsnd", "msync", "munlock", "munlockall", "munmap", "name_to_handle_at", "nanosleep",
    "newfstatat", "_newselect", "open", "openat", "openat2", "pause", "pidfd_open",
    "pidfd_send_signal", "pipe", "pipe2", "pkey_alloc", "pkey_free", "pkey_mprotect", "poll",
    "ppoll", "ppoll_time64", "prctl", "pread64", "preadv", "preadv2", "prlimit64",
    "process_mrelease", "pselect6", "pselect6_time64", "pwrite64", "pwritev", "pwritev2", "read",
    "readahead", "readlink", "readlinkat", "readv", "recv", "recvfrom", "recvmmsg",
    "recvmmsg_time64", "recvmsg", "remap_file_pages", "removexattr", "rename", "renameat",
    "renameat2", "restart_syscall", "rmdir", "rseq", "rt_sigaction", "rt_sigpending",
    "rt_sigprocmask", "rt_sigqueueinfo", "rt_sigreturn", "rt_sigsuspend", "rt_sigtimedwait",
    "rt_sigtimedwait_time64", "rt_tgsigqueueinfo", "sched_getaffinity", "sched_getattr",
    "sched_getparam", "sched_get_priority_max", "sched_get_priority_min", "sched_getscheduler",
    "sched_rr_get_interval", "sched_rr_get_interval_time64", "sched_setaffinity", "sched_setattr",
    "sched_setparam", "sched_setscheduler", "sched_yield", "seccomp", "select", "semctl", "semget",
    "semop", "semtimedop", "semtimedop_time64", "send", "sendfile", "sendfile64", "sendmmsg",
    "sendmsg", "sendto", "setfsgid", "setfsgid32", "setfsuid", "setfsuid32", "setgid", "setgid32",
    "setgroups", "setgroups32", "setitimer", "setpgid", "setpriority", "setregid", "setregid32",
    "setresgid", "setresgid32", "setresuid", "setresuid32", "setreuid", "setreuid32", "setrlimit",
    "set_robust_list", "setsid", "setsockopt", "set_thread_area", "set_tid_address", "setuid",
    "setuid32", "setxattr", "shmat", "shmctl", "shmdt", "shmget", "shutdown", "sigaltstack",
    "signalfd", "signalfd4", "sigprocmask", "sigreturn", "socketcall", "socketpair", "splice",
    "stat", "stat64", "statfs", "statfs64", "statx", "symlink", "symlinkat", "sync",
    "sync_file_range", "syncfs", "sysinfo", "tee", "tgkill", "time", "timer_create", "timer_delete",
    "timer_getoverrun", "timer_gettime", "timer_gettime64", "timer_settime", "timer_settime64",
    "timerfd_create", "timerfd_gettime", "timerfd_gettime64", "timerfd_settime",
    "timerfd_settime64", "times", "tkill", "truncate", "truncate64", "ugetrlimit", "umask", "uname",
    "unlink", "unlinkat", "utime", "utimensat", "utimensat_time64", "utimes", "vfork", "vmsplice",
    "wait4", "waitid", "waitpid", "write", "writev",
];

/// Calls allowed when the container holds the capability.
const BY_CAPABILITY: &[(Capability, &[&str])] = &[
    (Capability::CAP_DAC_READ_SEARCH, &["open_by_handle_at"]),
    (
        Capability::CAP_SYS_ADMIN,
        &[
            "bpf",
            "clone",
            "clone3",
            "fanotify_init",
            "fsconfig",
            "fsmount",
            "fsopen",
            "fspick",
            "lookup_dcookie",
            "mount",
            "mount_setattr",
            "move_mount",
            "name_to_handle_at",
            "open_tree",
            "perf_event_open",
            "quotactl",
            "quotactl_fd",
            "setdomainname",
            "sethostname",
            "setns",
            "syslog",
            "umount",
            "umount2",
            "unshare",
        ],
    ),
    (Capability::CAP_SYS_BOOT, &["reboot"]),
    (Capability::CAP_SYS_CHROOT, &["chroot"]),
    (
        Capability::CAP_SYS_MODULE,
        &["delete_module", "init_module", "finit_module"],
    ),
    (Capability::CAP_SYS_PACCT, &["acct"]),
    (
        Capability::CAP_SYS_PTRACE,
        &[
            "kcmp",
            "pidfd_getfd",
            "process_madvise",
            "process_vm_readv",
            "process_vm_writev",
            "ptrace",
        ],
    ),
    (Capability::CAP_SYS_RAWIO, &["iopl", "ioperm"]),
    (
        Capability::CAP_SYS_TIME,
        &["settimeofday", "stime", "clock_settime", "clock_settime64"],
    ),
    (Capability::CAP_SYS_TTY_CONFIG, &["vhangup"]),
    (
        Capability::CAP_SYS_NICE,
        &[
            "get_mempolicy",
            "mbind",
            "set_mempolicy",
            "set_mempolicy_home_node",
        ],
    ),
    (Capability::CAP_SYSLOG, &["syslog"]),
    (Capability::CAP_BPF, &["bpf"]),
    (Capability::CAP_PERFMON, &["perf_event_open"]),
];

/// Calls allowed on the listed architectures (Go's names) only.
const BY_ARCH: &[(&[&str], &[&str])] = &[
    (&["ppc64le"], &["sync_file_range2", "swapcontext"]),
    (
        &["arm", "arm64"],
        &[
            "arm_fadvise64_64",
            "arm_sync_file_range",
            "sync_file_range2",
            "breakpoint",
            "cacheflush",
            "set_tls",
        ],
    ),
    (&["amd64", "x32"], &["arch_prctl"]),
    (&["amd64", "x32", "x86"], &["modify_ldt"]),
    (
        &["s390", "s390x"],
        &[
            "s390_pci_mmio_read",
            "s390_pci_mmio_write",
            "s390_runtime_instr",
        ],
    ),
    (&["riscv64"], &["riscv_flush_icache"]),
];

/// The `personality` values allowed: PER_LINUX, PER_LINUX32, UNAME26, UNAME26|PER_LINUX32, and
/// the query 0xffffffff.
const PERSONAS: [u64; 5] = [0x0, 0x8, 0x20000, 0x20008, 0xffff_ffff];

/// The namespace flags `clone` may not carry without CAP_SYS_ADMIN: CLONE_NEWNS, NEWCGROUP,
/// NEWUTS, NEWIPC, NEWUSER, NEWPID and NEWNET.
const CLONE_NAMESPACE_FLAGS: u64 = 0x7E02_0000;

/// The address family `socket` may not create: AF_VSOCK.
const AF_VSOCK: u64 = 40;

/// ENOSYS, which `clone3` returns so that libc falls back to `clone`.
const ENOSYS: u32 = 38;

/// Docker's default profile.
pub(super) fn profile() -> Profile {
    let caps = |caps: &[Capability]| Scope {
        caps: caps.to_vec(),
        ..Scope::default()
    };
    let arches = |arches: &[&str]| Scope {
        arches: arches.iter().map(|a| a.to_string()).collect(),
        ..Scope::default()
    };
    let allow = |names: &[&str], args: Vec<ArgCmp>, includes: Scope, excludes: Scope| Rule {
        names: names.iter().map(|n| n.to_string()).collect(),
        action: Action::Allow,
        args,
        includes,
        excludes,
    };
    let arg = |index, op, value, value_two| ArgCmp {
        index,
        op,
        value,
        value_two,
    };
    let mut rules = vec![
        allow(ALLOWED, vec![], Scope::default(), Scope::default()),
        allow(
            &["process_vm_readv", "process_vm_writev", "ptrace"],
            vec![],
            Scope {
                min_kernel: Some((4, 8)),
                ..Scope::default()
            },
            Scope::default(),
        ),
        allow(
            &["socket"],
            vec![arg(0, CmpOp::Ne, AF_VSOCK, 0)],
            Scope::default(),
            Scope::default(),
        ),
    ];
    for persona in PERSONAS {
        rules.push(allow(
            &["personality"],
            vec![arg(0, CmpOp::Eq, persona, 0)],
            Scope::default(),
            Scope::default(),
        ));
    }
    for (on, names) in BY_ARCH {
        rules.push(allow(names, vec![], arches(on), Scope::default()));
    }
    for (cap, names) in BY_CAPABILITY {
        rules.push(allow(names, vec![], caps(&[*cap]), Scope::default()));
    }
    let s390 = ["s390", "s390x"];
    rules.push(allow(
        &["clone"],
        vec![arg(0, CmpOp::MaskedEq, CLONE_NAMESPACE_FLAGS, 0)],
        Scope::default(),
        Scope {
            arches: s390.iter().map(|a| a.to_string()).collect(),
            ..caps(&[Capability::CAP_SYS_ADMIN])
        },
    ));
    // s390 passes the flags of clone as its second argument.
    rules.push(allow(
        &["clone"],
        vec![arg(1, CmpOp::MaskedEq, CLONE_NAMESPACE_FLAGS, 0)],
        arches(&s390),
        caps(&[Capability::CAP_SYS_ADMIN]),
    ));
    rules.push(Rule {
        names: vec!["clone3".into()],
        action: Action::Errno(ENOSYS),
        args: vec![],
        includes: Scope::default(),
        excludes: caps(&[Capability::CAP_SYS_ADMIN]),
    });
    Profile {
        default_action: Action::Errno(libc::EPERM as u32),
        rules,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::seccomp::profile::Target;
    use crate::spec::DEFAULT_CAPABILITIES;

    /// The action and argument count of each applicable rule naming `call`.
    fn rules_for(call: &str, caps: &[Capability]) -> Vec<(Action, usize)> {
        let profile = profile();
        let target = Target {
            caps: caps.iter().copied().collect(),
            arch: "amd64",
            kernel: (6, 1),
        };
        profile
            .applicable(&target)
            .filter(|r| r.names.iter().any(|n| n == call))
            .map(|r| (r.action, r.args.len()))
            .collect()
    }

    #[test]
    fn default_capabilities_get_dockers_rules() {
        let caps = DEFAULT_CAPABILITIES;
        for denied in [
            "unshare", "mount", "setns", "keyctl", "add_key", "bpf", "reboot",
        ] {
            assert_eq!(rules_for(denied, &caps), [], "{denied}");
        }
        assert_eq!(rules_for("read", &caps), [(Action::Allow, 0)]);
        assert_eq!(rules_for("chroot", &caps), [(Action::Allow, 0)]);
        assert_eq!(rules_for("arch_prctl", &caps), [(Action::Allow, 0)]);
        assert_eq!(rules_for("socket", &caps), [(Action::Allow, 1)]);
        assert_eq!(rules_for("personality", &caps).len(), PERSONAS.len());
        assert_eq!(rules_for("clone", &caps), [(Action::Allow, 1)]);
        assert_eq!(rules_for("clone3", &caps), [(Action::Errno(ENOSYS), 0)]);
    }

    #[test]
    fn capabilities_open_their_calls() {
        let admin = [Capability::CAP_SYS_ADMIN];
        assert_eq!(rules_for("unshare", &admin), [(Action::Allow, 0)]);
        assert_eq!(rules_for("clone", &admin), [(Action::Allow, 0)]);
        assert_eq!(rules_for("clone3", &admin), [(Action::Allow, 0)]);
        let ptrace = [Capability::CAP_SYS_PTRACE];
        assert_eq!(rules_for("kcmp", &ptrace), [(Action::Allow, 0)]);
        assert_eq!(rules_for("kcmp", &[]), []);
    }

    #[test]
    fn the_allow_list_has_no_duplicates() {
        let unique: std::collections::BTreeSet<_> = ALLOWED.iter().collect();
        assert_eq!(unique.len(), ALLOWED.len());
    }
}
