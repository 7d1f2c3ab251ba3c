//! `.dockerignore` with Docker's semantics: one pattern per line, `#` comments, patterns
//! cleaned and anchored at the context root (a leading `/` is dropped), `**` for any number of
//! directories, `!` to re-include, the last matching pattern wins, and a pattern that matches
//! a directory matches everything below it. A `<Dockerfile>.dockerignore` beside the
//! Dockerfile is used instead of the context's `.dockerignore`.

use std::path::{Path, PathBuf};

use crate::pattern;

/// One pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Rule {
    pattern: String,
    /// `!pattern`: matching paths are included again.
    include: bool,
}

/// The exclusion rules of a build context.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Ignore {
    rules: Vec<Rule>,
}

impl Ignore {
    /// Parses the text of a `.dockerignore`.
    pub(crate) fn parse(text: &str) -> Self {
        let mut rules = Vec::new();
        for line in text.lines() {
            if line.starts_with('#') {
                continue;
            }
            let line = line.trim();
            if line.is_empty() {
                continue;
            }
            let (include, raw) = match line.strip_prefix('!') {
                Some(rest) => (true, rest.trim()),
                None => (false, line),
            };
            let cleaned = clean(raw);
            let pattern = cleaned
                .strip_prefix('/')
                .filter(|p| !p.is_empty())
                .unwrap_or(&cleaned)
                .to_string();
            rules.push(Rule { pattern, include });
        }
        Self { rules }
    }

    /// The rules for a build: `<dockerfile>.dockerignore` beside the Dockerfile when it
    /// exists, else `<context>/.dockerignore`, else none.
    pub(crate) fn for_build(context: &Path, dockerfile: Option<&Path>) -> std::io::Result<Self> {
        let mut candidates: Vec<PathBuf> = Vec::new();
        if let Some(df) = dockerfile {
            let mut name = df.as_os_str().to_owned();
            name.push(".dockerignore");
            candidates.push(PathBuf::from(name));
        }
        candidates.push(context.join(".dockerignore"));
        for path in candidates {
            match std::fs::read_to_string(&path) {
                Ok(text) => return Ok(Self::parse(&text)),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(e),
            }
        }
        Ok(Self::default())
    }

    /// Whether a path relative to the context root (slash-separated) is excluded.
    pub(crate) fn excludes(&self, path: &str) -> bool {
        let path = clean(path);
        let parents: Vec<&str> = path.match_indices('/').map(|(i, _)| &path[..i]).collect();
        let mut excluded = false;
        for rule in &self.rules {
            let hit = pattern::matches(&rule.pattern, &path, true)
                || parents
                    .iter()
                    .any(|p| pattern::matches(&rule.pattern, p, true));
            if hit {
                excluded = !rule.include;
            }
        }
        excluded
    }

    /// Whether nothing below an excluded directory can be included again, so that a walk
    /// may skip it.
    pub(crate) fn may_skip_dir(&self, dir: &str) -> bool {
        self.excludes(dir) && !self.rules.iter().any(|r| r.include)
    }
}

/// Lexical cleaning as Go's `filepath.Clean`: `.` and empty components dropped, `..`
/// resolved, `.` for nothing.
pub(crate) fn clean(path: &str) -> String {
    let absolute = path.starts_with('/');
    let mut parts: Vec<&str> = Vec::new();
    for part in path.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                if parts.last().is_some_and(|p| *p != "..") {
                    parts.pop();
                } else if !absolute {
                    parts.push("..");
                }
            }
            p => parts.push(p),
        }
    }
    let joined = parts.join("/");
    match (absolute, joined.is_empty()) {
        (true, _) => format!("/{joined}"),
        (false, true) => ".".to_string(),
        (false, false) => joined,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn docker_semantics_table() {
        let ignore = Ignore::parse(
            "# comment\n\
             /secret.txt\n\
             *.log\n\
             !keep.log\n\
             build\n\
             docs/**/*.md\n\
             !docs/**/README.md\n\
             node_modules\n\
             !node_modules/keep/\n\
             ./tmp/../cache\n",
        );
        let cases = [
            ("secret.txt", true),
            ("sub/secret.txt", false),
            ("a.log", true),
            ("sub/a.log", false),
            ("keep.log", false),
            ("build", true),
            ("build/out/x.o", true),
            ("docs/a.md", true),
            ("docs/x/y/a.md", true),
            ("docs/x/README.md", false),
            ("node_modules/x/index.js", true),
            ("node_modules/keep", false),
            ("node_modules/keep/index.js", false),
            ("cache/file", true),
            ("src/main.rs", false),
        ];
        for (path, excluded) in cases {
            assert_eq!(ignore.excludes(path), excluded, "{path}");
        }
        assert!(!ignore.may_skip_dir("node_modules"), "exceptions exist");
    }

    #[test]
    fn last_match_wins_in_both_directions() {
        let ignore = Ignore::parse("!a.txt\n*.txt\n");
        assert!(ignore.excludes("a.txt"), "the later exclusion wins");
        let ignore = Ignore::parse("*\n!src\n");
        assert!(!ignore.excludes("src/lib.rs"));
        assert!(ignore.excludes("README.md"));
    }

    #[test]
    fn dockerfile_specific_file_wins() {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::write(dir.path().join(".dockerignore"), "a\n").expect("write");
        let df = dir.path().join("app.Dockerfile");
        assert!(
            Ignore::for_build(dir.path(), Some(&df))
                .expect("read")
                .excludes("a")
        );
        std::fs::write(dir.path().join("app.Dockerfile.dockerignore"), "b\n").expect("write");
        let ignore = Ignore::for_build(dir.path(), Some(&df)).expect("read");
        assert!(!ignore.excludes("a") && ignore.excludes("b"));
    }

    #[test]
    fn clean_table() {
        for (input, want) in [
            ("a/./b", "a/b"),
            ("a//b/", "a/b"),
            ("a/../b", "b"),
            ("../a", "../a"),
            ("/../a", "/a"),
            ("", "."),
            ("./", "."),
        ] {
            assert_eq!(clean(input), want, "{input}");
        }
    }
}
