//! BuildKit's parser test files (tests/fixtures/parser/<name>/{Dockerfile,result}): each
//! Dockerfile is parsed and dumped in the same S-expression form as the `result` file.
//! Test files whose constructs the parser crate reads differently are listed in
//! tests/fixtures/README.md with the reason; for those the test checks that they still differ,
//! so the list cannot go stale.

use super::{CommandForm, CopySource, Flag, HealthDef, Instr, Instruction, parse, parse_trigger};

/// Test files known to differ, with the reason (also in tests/fixtures/README.md).
const KNOWN_DIFFERENCES: &[(&str, &str)] = &[
    (
        "flags",
        "flags on CMD (`CMD --doit [...]`) are read as a shell-form command",
    ),
    (
        "health",
        "HEALTHCHECK without arguments, with an empty CMD or CONNECT is an error",
    ),
    (
        "trailing-backslash",
        "an escaped backslash at the end of an ENV line continues the line",
    ),
];

/// Go's `%q`: a double-quoted string with Go escapes.
fn q(s: &str) -> String {
    let mut out = String::from('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            '\u{7}' => out.push_str("\\a"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '\u{b}' => out.push_str("\\v"),
            c if (c as u32) < 0x20 || c as u32 == 0x7f => {
                out.push_str(&format!("\\x{:02x}", c as u32))
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

fn flags(f: &[Flag]) -> Vec<String> {
    if f.is_empty() {
        return Vec::new();
    }
    let items: Vec<String> = f
        .iter()
        .map(|f| match &f.value {
            Some(v) => q(&format!("--{}={v}", f.name)),
            None => q(&format!("--{}", f.name)),
        })
        .collect();
    vec![format!("[{}]", items.join(" "))]
}

fn command(c: &CommandForm) -> Vec<String> {
    match c {
        CommandForm::Exec(v) => v.iter().map(|s| q(s)).collect(),
        CommandForm::Shell(s) => vec![q(s)],
    }
}

fn pairs(p: &[(String, String)], legacy: bool) -> Vec<String> {
    let mut out = Vec::new();
    for (k, v) in p {
        out.push(q(k));
        out.push(q(v));
        out.push(q(if legacy { "" } else { "=" }));
    }
    out
}

fn dump(i: &Instr) -> String {
    let legacy = |s: &str| {
        let rest = s
            .split_once(char::is_whitespace)
            .map_or("", |(_, r)| r)
            .trim_start();
        let first = rest.split_whitespace().next().unwrap_or_default();
        !first.contains('=')
    };
    let parts: Vec<String> = match &i.kind {
        Instruction::From {
            flags: f,
            image,
            name,
        } => {
            let mut v = flags(f);
            v.push(q(image));
            if let Some(n) = name {
                v.extend([q("AS"), q(n)]);
            }
            v
        }
        Instruction::Arg(a) => a
            .iter()
            .map(|(k, v)| q(&v.as_ref().map_or(k.clone(), |v| format!("{k}={v}"))))
            .collect(),
        Instruction::Env(p) | Instruction::Label(p) => pairs(p, legacy(&i.source)),
        Instruction::Run {
            flags: f,
            command: c,
            ..
        } => [flags(f), command(c)].concat(),
        Instruction::Cmd(c) | Instruction::Entrypoint(c) => command(c),
        Instruction::Copy(c) | Instruction::Add(c) => {
            let mut v = flags(&c.flags);
            for s in &c.sources {
                match s {
                    CopySource::Path(p) => v.push(q(p)),
                    CopySource::HereDoc(h) => v.push(q(&format!("<<{}", h.delimiter))),
                }
            }
            v.push(q(&c.dest));
            v
        }
        Instruction::Workdir(s)
        | Instruction::User(s)
        | Instruction::StopSignal(s)
        | Instruction::Maintainer(s) => vec![q(s)],
        Instruction::Expose(v) | Instruction::Volume(v) | Instruction::Shell(v) => {
            v.iter().map(|s| q(s)).collect()
        }
        Instruction::Healthcheck(HealthDef::None) => vec![q("NONE")],
        Instruction::Healthcheck(HealthDef::Cmd {
            flags: f,
            command: c,
        }) => [flags(f), vec![q("CMD")], command(c)].concat(),
        Instruction::Onbuild(trigger) => {
            let inner = parse_trigger(trigger, '\\').unwrap();
            vec![dump(&inner)]
        }
    };
    let keyword = i.kind.keyword().to_ascii_lowercase();
    if parts.is_empty() {
        format!("({keyword})")
    } else {
        format!("({keyword} {})", parts.join(" "))
    }
}

/// Dumps every instruction. BuildKit's parser reads files without FROM (some test files have
/// none); the parser crate requires one, so such a file is read behind a `FROM scratch` line
/// that is left out of the dump.
fn dump_all(text: &str) -> Result<String, String> {
    let has_from = text
        .lines()
        .any(|l| l.trim_start().to_ascii_uppercase().starts_with("FROM"));
    let text = if has_from {
        text.to_string()
    } else {
        format!("FROM scratch\n{text}")
    };
    let d = parse(&text).map_err(|e| e.to_string())?;
    let mut out = String::new();
    let all = d.global_args.iter().chain(
        d.stages
            .iter()
            .flat_map(|s| std::iter::once(&s.from).chain(&s.instructions)),
    );
    for i in all {
        out.push_str(&dump(i));
        out.push('\n');
    }
    if !has_from {
        out = out
            .split_once('\n')
            .map_or(String::new(), |(_, rest)| rest.to_string());
    }
    Ok(out)
}

#[test]
fn buildkit_parser_testfiles() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/parser");
    let mut matched = 0;
    let mut failures = Vec::new();
    let mut entries: Vec<_> = std::fs::read_dir(&root)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    entries.sort();
    for dir in entries {
        let name = dir.file_name().unwrap().to_string_lossy().into_owned();
        let text = std::fs::read_to_string(dir.join("Dockerfile")).unwrap();
        let expected = std::fs::read_to_string(dir.join("result")).unwrap();
        let got = dump_all(&text);
        let same = got.as_deref() == Ok(expected.as_str());
        let known = KNOWN_DIFFERENCES.iter().any(|(n, _)| *n == name);
        match (same, known) {
            (true, false) => matched += 1,
            (false, true) => {}
            (true, true) => failures.push(format!("{name}: listed as differing but matches")),
            (false, false) => failures.push(format!(
                "{name}:\n--- expected\n{expected}--- got\n{}",
                got.unwrap_or_else(|e| format!("error: {e}\n"))
            )),
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert!(matched >= 20, "{matched}");
}
