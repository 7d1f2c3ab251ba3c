//! Issue 18, "bounded inputs": every file the loader reads is refused, with one located line,
//! when it is not a regular file or is too large, instead of being read forever; bad encodings
//! are located; big integers come out exactly.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use compose_spec::discovery::ProjectOptions;
use compose_spec::env::Environment;
use compose_spec::loader::{self, LoadOptions, Loaded};
use compose_spec::{Result, render};

struct Project {
    dir: tempfile::TempDir,
    files: Vec<PathBuf>,
    env_files: Vec<PathBuf>,
}

impl Project {
    fn new(compose: &str) -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        std::fs::write(dir.path().join("compose.yaml"), compose).expect("write compose.yaml");
        Self {
            dir,
            files: Vec::new(),
            env_files: Vec::new(),
        }
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    fn load(&self) -> Result<Loaded> {
        loader::load(&LoadOptions {
            project: ProjectOptions {
                files: self.files.clone(),
                env_files: self.env_files.clone(),
                working_dir: self.path().to_path_buf(),
                environment: Environment::new(),
                ..Default::default()
            },
            interpolate: true,
            ..Default::default()
        })
    }

    /// The one-line error of a load that must fail, within a few seconds.
    fn error(&self) -> String {
        let started = Instant::now();
        let result = self.load();
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "took {:?}",
            started.elapsed()
        );
        // An unreadable env_file is reported to the commands that use its service.
        let message = match result {
            Ok(loaded) => loaded.check_env_files(&[]).expect_err("loaded"),
            Err(e) => e.to_string(),
        };
        assert!(!message.contains('\n'), "{message}");
        message
    }
}

const NOT_REGULAR: &str = "not a regular file (a character device)";

#[test]
fn env_file_devices_are_refused_at_their_key() {
    let project = Project::new("services:\n  web:\n    image: a\n    env_file: /dev/zero\n");
    assert_eq!(
        project.error(),
        format!(
            "compose.yaml:4:15: services.web.env_file[0]: cannot read env file /dev/zero: \
             {NOT_REGULAR}"
        )
    );
    let project = Project::new(
        "services:\n  web:\n    image: a\n    env_file:\n      - path: /dev/urandom\n        format: raw\n",
    );
    assert_eq!(
        project.error(),
        format!(
            "compose.yaml:5:13: services.web.env_file[0]: cannot read env file /dev/urandom: \
             {NOT_REGULAR}"
        )
    );
}

#[test]
fn included_and_extended_devices_are_refused_at_their_key() {
    let project = Project::new("include:\n  - /dev/zero\nservices:\n  web:\n    image: a\n");
    assert_eq!(
        project.error(),
        format!("compose.yaml:2:5: include[0]: cannot read included file /dev/zero: {NOT_REGULAR}")
    );
    let project = Project::new(
        "include:\n  - path: other.yaml\n    env_file: /dev/zero\nservices:\n  web:\n    image: a\n",
    );
    std::fs::write(
        project.path().join("other.yaml"),
        "services:\n  db:\n    image: b\n",
    )
    .unwrap();
    assert_eq!(
        project.error(),
        format!(
            "compose.yaml:3:15: include[0].env_file: cannot read env file /dev/zero: {NOT_REGULAR}"
        )
    );
    let project = Project::new(
        "services:\n  web:\n    extends:\n      file: /dev/zero\n      service: base\n",
    );
    assert_eq!(
        project.error(),
        format!(
            "compose.yaml:4:13: services.web.extends.file: cannot read extended file /dev/zero: \
             {NOT_REGULAR}"
        )
    );
}

#[test]
fn compose_and_dot_env_files_that_are_not_regular_are_refused() {
    let mut project = Project::new("services:\n  web:\n    image: a\n");
    project.files = vec![PathBuf::from("/dev/zero")];
    assert_eq!(
        project.error(),
        format!("cannot read compose file /dev/zero: {NOT_REGULAR}")
    );
    let mut project = Project::new("services:\n  web:\n    image: a\n");
    project.env_files = vec![PathBuf::from("/dev/zero")];
    assert_eq!(
        project.error(),
        format!("cannot read env file /dev/zero: {NOT_REGULAR}")
    );
    // A fifo as the compose file: refused at once, not waited on.
    let project = Project::new("");
    let fifo = project.path().join("compose.yaml");
    std::fs::remove_file(&fifo).unwrap();
    let status = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap();
    assert!(status.success());
    let mut project = project;
    project.files = vec![fifo.clone()];
    assert_eq!(
        project.error(),
        format!(
            "cannot read compose file {}: not a regular file (a fifo)",
            fifo.display()
        )
    );
}

#[test]
fn oversized_files_are_refused() {
    let project = Project::new("services:\n  web:\n    image: a\n    env_file: big.env\n");
    let big = std::fs::File::create(project.path().join("big.env")).unwrap();
    // One byte over the documented limit of an env file (docs/cli.md).
    big.set_len(4 * 1024 * 1024 + 1).unwrap();
    assert_eq!(
        project.error(),
        format!(
            "compose.yaml:4:15: services.web.env_file[0]: cannot read env file {}: larger than \
             the 4 MiB allowed",
            project.path().join("big.env").display()
        )
    );
}

#[test]
fn invalid_utf8_is_one_located_line() {
    let project = Project::new("");
    std::fs::write(
        project.path().join("compose.yaml"),
        b"services:\n  web:\n    image: a\xff\n",
    )
    .unwrap();
    assert_eq!(
        project.error(),
        "compose.yaml:3:13: invalid UTF-8: byte 0xff cannot start or continue a character here, \
         expected UTF-8 text"
    );
}

#[test]
fn byte_order_marks_are_skipped() {
    let project =
        Project::new("\u{feff}services:\n  web:\n    image: a\n    environment: [A=$A]\n");
    std::fs::write(project.path().join(".env"), "\u{feff}A=1\n").unwrap();
    let loaded = project.load().expect("loads");
    let web = &loaded.project.services["web"];
    assert_eq!(web.environment["A"].as_deref(), Some("1"));
}
#[test]
fn big_integers_are_printed_exactly() {
    let project = Project::new(
        "services:\n  web:\n    image: a\n    environment:\n      A: 18446744073709551616\n      \
         B: 18446744073709551615\n      C: -9223372036854775809\n    labels:\n      \
         x: 123456789012345678901234567890\n",
    );
    let loaded = project.load().expect("loads");
    let web = &loaded.project.services["web"];
    assert_eq!(
        web.environment["A"].as_deref(),
        Some("18446744073709551616")
    );
    assert_eq!(
        web.environment["B"].as_deref(),
        Some("18446744073709551615")
    );
    assert_eq!(
        web.environment["C"].as_deref(),
        Some("-9223372036854775809")
    );
    assert_eq!(web.labels["x"], "123456789012345678901234567890");
    let text = render::to_yaml(&loaded.project, loaded.dollars).expect("renders");
    assert!(text.contains("A: \"18446744073709551616\""), "{text}");
}
