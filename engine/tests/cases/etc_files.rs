//! The generated /etc/hosts, /etc/hostname and /etc/resolv.conf.

use engine::spec::{DnsConfig, HostEntry};

use super::TestResult;
use crate::support::Env;

pub(crate) fn generated_files() -> TestResult {
    let env = Env::new();
    let show = "cat /etc/hosts; echo ---; cat /etc/hostname; echo ---; cat /etc/resolv.conf; \
        echo ---; grep -c ' /etc/' /proc/self/mountinfo";
    let mut spec = env.spec(show);
    spec.hostname = Some("web".into());
    spec.extra_hosts = vec![HostEntry {
        name: "db".into(),
        ip: "10.0.0.7".into(),
    }];
    spec.dns = DnsConfig {
        servers: vec!["10.0.0.53".into()],
        search: vec!["svc.test".into()],
        options: vec!["ndots:2".into()],
    };
    spec.read_only_root = true;
    let (_, out) = env.run("c1", &spec);
    let parts: Vec<&str> = out.split("---\n").collect();
    assert_eq!(parts.len(), 4, "{out}");
    assert_eq!(parts[0], engine::runtime::hosts(&spec.extra_hosts));
    assert!(parts[0].ends_with("10.0.0.7\tdb\n"), "{out}");
    assert_eq!(parts[1], "web\n");
    assert_eq!(
        parts[2],
        "search svc.test\nnameserver 10.0.0.53\noptions ndots:2\n"
    );
    assert_eq!(parts[3], "3\n", "three bind mounts under /etc");
    // By default: the host's resolver settings without loopback servers, the id as hostname.
    let (_, out) = env.run("abcdef0123456789", &env.spec(show));
    let parts: Vec<&str> = out.split("---\n").collect();
    assert_eq!(parts[1], "abcdef012345\n");
    let host = std::fs::read_to_string("/etc/resolv.conf").unwrap_or_default();
    assert_eq!(
        parts[2],
        engine::runtime::resolv_conf(&host, &DnsConfig::default())
    );
    assert!(
        !parts[2].contains("nameserver 127.") && parts[2].contains("nameserver "),
        "{out}"
    );
    Ok(())
}
