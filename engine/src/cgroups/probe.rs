//! Finds the cgroup hierarchies of this host from /proc/self/mountinfo.

use std::collections::BTreeMap;
use std::path::PathBuf;

use super::CgroupError;

/// Which cgroup layout the host has.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Layout {
    /// Only the unified (v2) hierarchy.
    V2 {
        /// Its mount point.
        unified: PathBuf,
    },
    /// Only v1 controller hierarchies.
    V1 {
        /// Controller name to mount point (`cpu` and `cpuacct` may share one).
        controllers: BTreeMap<String, PathBuf>,
    },
    /// v1 controllers plus a (controller-less) unified hierarchy.
    Hybrid {
        /// Controller name to mount point.
        controllers: BTreeMap<String, PathBuf>,
        /// The unified hierarchy's mount point.
        unified: PathBuf,
    },
}

impl Layout {
    testing_pub! {
        /// Probes this host's layout from `/proc/self/mountinfo`.
        fn probe() -> Result<Layout, CgroupError> {
            let path = PathBuf::from("/proc/self/mountinfo");
            let text = std::fs::read_to_string(&path).map_err(|source| CgroupError::Io {
                op: "read",
                path,
                source,
            })?;
            parse_mountinfo(&text).ok_or(CgroupError::NoHierarchy)
        }
    }

    /// The mount point of every hierarchy of the layout, with duplicates (`cpu` and `cpuacct`
    /// sharing one) listed once. For tests, which clean up their cgroups with it.
    #[cfg(any(test, feature = "testing"))]
    pub fn hierarchies(&self) -> Vec<PathBuf> {
        let mut roots: Vec<PathBuf> = match self {
            Layout::V1 { controllers } => controllers.values().cloned().collect(),
            Layout::V2 { unified } => vec![unified.clone()],
            Layout::Hybrid {
                controllers,
                unified,
            } => controllers
                .values()
                .cloned()
                .chain([unified.clone()])
                .collect(),
        };
        roots.sort();
        roots.dedup();
        roots
    }
}

/// The v1 controllers the engine uses.
pub(crate) const V1_CONTROLLERS: [&str; 7] = [
    "cpu", "cpuacct", "cpuset", "memory", "pids", "freezer", "devices",
];

/// Parses mountinfo text into a layout; `None` when no cgroup hierarchy is mounted.
pub(crate) fn parse_mountinfo(text: &str) -> Option<Layout> {
    let mut controllers = BTreeMap::new();
    let mut unified = None;
    for line in text.lines() {
        // Fields: id parent major:minor root mountpoint options [optional...] - fstype source superopts
        let Some((left, right)) = line.split_once(" - ") else {
            continue;
        };
        let left: Vec<&str> = left.split(' ').collect();
        let right: Vec<&str> = right.split(' ').collect();
        let (Some(mount_point), Some(fstype)) = (left.get(4), right.first()) else {
            continue;
        };
        // The root field must be "/" so that we see the whole hierarchy, not a bind of a subtree.
        if left.get(3) != Some(&"/") {
            continue;
        }
        let mount_point = PathBuf::from(unescape(mount_point));
        match *fstype {
            "cgroup2" => {
                unified.get_or_insert(mount_point);
            }
            "cgroup" => {
                let superopts = right.get(2).copied().unwrap_or_default();
                for opt in superopts.split(',') {
                    if V1_CONTROLLERS.contains(&opt) {
                        controllers
                            .entry(opt.to_string())
                            .or_insert_with(|| mount_point.clone());
                    }
                }
            }
            _ => {}
        }
    }
    match (controllers.is_empty(), unified) {
        (true, Some(unified)) => Some(Layout::V2 { unified }),
        (false, Some(unified)) => Some(Layout::Hybrid {
            controllers,
            unified,
        }),
        (false, None) => Some(Layout::V1 { controllers }),
        (true, None) => None,
    }
}

/// Undoes mountinfo's octal escapes (`\040` for a space).
fn unescape(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'\\'
            && i + 3 < bytes.len()
            && let Ok(v) = u8::from_str_radix(&s[i + 1..i + 4], 8)
        {
            out.push(v);
            i += 4;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {

    #[test]
    fn hierarchies_lists_each_mount_point_once() {
        let shared = PathBuf::from("/sys/fs/cgroup/cpu,cpuacct");
        let layout = Layout::Hybrid {
            controllers: BTreeMap::from([
                ("cpu".to_string(), shared.clone()),
                ("cpuacct".to_string(), shared.clone()),
                ("memory".to_string(), PathBuf::from("/sys/fs/cgroup/memory")),
            ]),
            unified: PathBuf::from("/sys/fs/cgroup/unified"),
        };
        assert_eq!(
            layout.hierarchies(),
            [
                shared,
                "/sys/fs/cgroup/memory".into(),
                "/sys/fs/cgroup/unified".into()
            ]
        );
        let v2 = Layout::V2 {
            unified: "/sys/fs/cgroup".into(),
        };
        assert_eq!(v2.hierarchies(), [PathBuf::from("/sys/fs/cgroup")]);
    }
    use super::*;

    const HYBRID: &str = "\
31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
32 31 0:29 / /sys/fs/cgroup/cpu,cpuacct rw,relatime shared:9 - cgroup cgroup rw,cpu,cpuacct
35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,name=systemd
41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw
";

    #[test]
    fn layouts() {
        let Some(Layout::Hybrid {
            controllers,
            unified,
        }) = parse_mountinfo(HYBRID)
        else {
            panic!("not hybrid")
        };
        assert_eq!(unified, PathBuf::from("/sys/fs/cgroup/unified"));
        assert_eq!(
            controllers["cpu"],
            PathBuf::from("/sys/fs/cgroup/cpu,cpuacct")
        );
        assert_eq!(
            controllers["cpuacct"],
            PathBuf::from("/sys/fs/cgroup/cpu,cpuacct")
        );
        assert_eq!(
            controllers["memory"],
            PathBuf::from("/sys/fs/cgroup/memory")
        );
        assert!(!controllers.contains_key("systemd"));

        let v2 = "30 23 0:26 / /sys/fs/cgroup rw - cgroup2 cgroup2 rw,nsdelegate\n";
        assert_eq!(
            parse_mountinfo(v2),
            Some(Layout::V2 {
                unified: "/sys/fs/cgroup".into()
            })
        );

        let v1: String = HYBRID
            .lines()
            .filter(|l| !l.contains("cgroup2"))
            .map(|l| format!("{l}\n"))
            .collect();
        assert!(matches!(parse_mountinfo(&v1), Some(Layout::V1 { .. })));
        assert_eq!(parse_mountinfo("1 0 8:1 / / rw - ext4 /dev/sda rw\n"), None);

        let sub = "41 31 0:38 /sub /mnt/x rw - cgroup2 cgroup2 rw\n";
        assert_eq!(parse_mountinfo(sub), None);
    }

    #[test]
    fn unescapes_spaces() {
        assert_eq!(unescape(r"/a\040b"), "/a b");
        assert_eq!(unescape("/plain"), "/plain");
    }
}
