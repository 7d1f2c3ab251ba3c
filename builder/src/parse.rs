//! Dockerfile parsing: the `parse-dockerfile` crate reads the text (parser directives, line
//! continuations, heredocs, JSON forms); this module turns its syntax tree into typed
//! [`Instruction`]s that carry their line numbers and are independent of the source text.
//!
//! Heredocs are recognized where the parser crate recognizes them: right after the
//! instruction (`RUN <<EOF [command]`, `COPY <<EOF /dest`).

use parse_dockerfile as pd;

/// A parse error with the line it was found on.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("Dockerfile line {line}: {message}")]
pub struct ParseError {
    /// The 1-based line.
    pub line: usize,
    /// What is wrong.
    pub message: String,
}

/// A parsed Dockerfile.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Dockerfile {
    /// The escape character (`\` unless `# escape=` says otherwise).
    pub escape: char,
    /// The `# syntax=` directive, which is ignored (there is no frontend to switch to).
    pub syntax: Option<String>,
    /// The ARG instructions before the first FROM.
    pub global_args: Vec<Instr>,
    /// The stages, in order.
    pub stages: Vec<Stage>,
}

/// One stage: its FROM and the instructions after it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Stage {
    /// The FROM instruction (an [`Instruction::From`]).
    pub from: Instr,
    /// The instructions of the stage, in order.
    pub instructions: Vec<Instr>,
}

/// An instruction and where it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Instr {
    /// The 1-based line of its keyword.
    pub line: usize,
    /// Its source text (continuations kept), for messages and history.
    pub source: String,
    /// What it says.
    pub kind: Instruction,
}

/// A `--name[=value]` flag of an instruction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Flag {
    /// The name without dashes.
    pub name: String,
    /// The value after `=`, if any.
    pub value: Option<String>,
}

/// The exec (JSON) or shell form of a command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum CommandForm {
    /// `["a", "b"]`.
    Exec(Vec<String>),
    /// A command line for the shell, line continuations removed.
    Shell(String),
}

/// A here-document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct HereDoc {
    /// The delimiter word.
    pub delimiter: String,
    /// The content (with its final newline).
    pub content: String,
    /// Whether variables in it are expanded (the delimiter was not quoted).
    pub expand: bool,
}

/// A source of COPY or ADD.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum CopySource {
    /// A path, glob or URL (unexpanded).
    Path(String),
    /// An inline file.
    HereDoc(HereDoc),
}

/// What COPY and ADD say.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct CopyDef {
    /// Flags (`--from`, `--chown`, `--chmod`, ...).
    pub flags: Vec<Flag>,
    /// Sources (unexpanded).
    pub sources: Vec<CopySource>,
    /// The destination (unexpanded).
    pub dest: String,
}

/// HEALTHCHECK's arguments.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum HealthDef {
    /// `HEALTHCHECK NONE`.
    None,
    /// `HEALTHCHECK [flags] CMD …`.
    Cmd {
        /// `--interval`, `--timeout`, `--start-period`, `--start-interval`, `--retries`.
        flags: Vec<Flag>,
        /// The test command.
        command: CommandForm,
    },
}

/// One instruction, its words not yet expanded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Instruction {
    /// `FROM [--platform=…] image [AS name]`.
    From {
        /// Flags (`--platform`).
        flags: Vec<Flag>,
        /// The image reference, `scratch` or a stage name.
        image: String,
        /// The stage name.
        name: Option<String>,
    },
    /// `ARG name[=default] …`.
    Arg(Vec<(String, Option<String>)>),
    /// `ENV k=v …` (or the legacy `ENV k v`): keys and values as written.
    Env(Vec<(String, String)>),
    /// `LABEL k=v …`.
    Label(Vec<(String, String)>),
    /// `RUN [flags] command` with its here-documents.
    Run {
        /// Flags (`--mount`, `--network`, ...).
        flags: Vec<Flag>,
        /// The command.
        command: CommandForm,
        /// Here-documents, in order.
        heredocs: Vec<HereDoc>,
    },
    /// `CMD`.
    Cmd(CommandForm),
    /// `ENTRYPOINT`.
    Entrypoint(CommandForm),
    /// `COPY`.
    Copy(CopyDef),
    /// `ADD`.
    Add(CopyDef),
    /// `WORKDIR path`.
    Workdir(String),
    /// `USER user[:group]`.
    User(String),
    /// `EXPOSE port[/proto] …`.
    Expose(Vec<String>),
    /// `VOLUME path …`.
    Volume(Vec<String>),
    /// `STOPSIGNAL signal`.
    StopSignal(String),
    /// `SHELL ["exe", "arg"]`.
    Shell(Vec<String>),
    /// `HEALTHCHECK`.
    Healthcheck(HealthDef),
    /// `ONBUILD instruction`: the trigger's source text.
    Onbuild(String),
    /// `MAINTAINER name`.
    Maintainer(String),
}

impl Instruction {
    /// The instruction's keyword, upper case.
    pub(crate) fn keyword(&self) -> &'static str {
        match self {
            Self::From { .. } => "FROM",
            Self::Arg(_) => "ARG",
            Self::Env(_) => "ENV",
            Self::Label(_) => "LABEL",
            Self::Run { .. } => "RUN",
            Self::Cmd(_) => "CMD",
            Self::Entrypoint(_) => "ENTRYPOINT",
            Self::Copy(_) => "COPY",
            Self::Add(_) => "ADD",
            Self::Workdir(_) => "WORKDIR",
            Self::User(_) => "USER",
            Self::Expose(_) => "EXPOSE",
            Self::Volume(_) => "VOLUME",
            Self::StopSignal(_) => "STOPSIGNAL",
            Self::Shell(_) => "SHELL",
            Self::Healthcheck(_) => "HEALTHCHECK",
            Self::Onbuild(_) => "ONBUILD",
            Self::Maintainer(_) => "MAINTAINER",
        }
    }
}

/// Parses a Dockerfile.
pub(crate) fn parse(text: &str) -> Result<Dockerfile, ParseError> {
    let parsed = pd::parse(text).map_err(|e| ParseError {
        line: e.line(),
        message: e.to_string(),
    })?;
    let escape = parsed
        .parser_directives
        .escape
        .as_ref()
        .map_or('\\', |d| d.value.value);
    let syntax = parsed
        .parser_directives
        .syntax
        .as_ref()
        .map(|d| d.value.value.to_string());
    if let Some(syntax) = &syntax {
        tracing::info!(syntax, "ignoring the syntax directive");
    }
    let cx = Cx { text, escape };
    let global_args = parsed
        .global_args()
        .map(|a| {
            let kind = Instruction::Arg(cx.arg_pairs(&a.arguments.value, &a.arg.span)?);
            Ok(cx.instr(&a.arg.span, kind))
        })
        .collect::<Result<Vec<_>, ParseError>>()?;
    let mut stages = Vec::new();
    for stage in parsed.stages() {
        let from = cx.from(stage.from);
        let instructions = stage
            .instructions
            .iter()
            .map(|i| cx.convert(i))
            .collect::<Result<Vec<_>, _>>()?;
        stages.push(Stage { from, instructions });
    }
    Ok(Dockerfile {
        escape,
        syntax,
        global_args,
        stages,
    })
}

/// Parses the text of one ONBUILD trigger (`RUN echo hi`) as an instruction.
pub(crate) fn parse_trigger(trigger: &str, escape: char) -> Result<Instr, ParseError> {
    let text = format!("# escape={escape}\nFROM scratch\n{trigger}\n");
    let bad = |message: String| ParseError { line: 1, message };
    let parsed = pd::parse(&text).map_err(|e| bad(format!("ONBUILD {trigger}: {e}")))?;
    let stage = parsed
        .stages()
        .next()
        .ok_or_else(|| bad(format!("ONBUILD {trigger}: no instruction")))?;
    let [instruction] = stage.instructions else {
        return Err(bad(format!("ONBUILD {trigger}: not one instruction")));
    };
    Cx {
        text: &text,
        escape,
    }
    .convert(instruction)
}

struct Cx<'t> {
    text: &'t str,
    escape: char,
}

fn flags<'a, 'b: 'a>(flags: impl IntoIterator<Item = &'a pd::Flag<'b>>) -> Vec<Flag> {
    flags
        .into_iter()
        // A bare `--` ends the flags.
        .filter(|f| !f.name.value.is_empty())
        .map(|f| Flag {
            name: f.name.value.to_string(),
            value: f.value.as_ref().map(|v| v.value.to_string()),
        })
        .collect()
}

fn strings<'a, 'b: 'a>(
    items: impl IntoIterator<Item = &'a pd::UnescapedString<'b>>,
) -> Vec<String> {
    items.into_iter().map(|s| s.value.to_string()).collect()
}

impl Cx<'_> {
    fn line_of(&self, offset: usize) -> usize {
        self.text.as_bytes()[..offset.min(self.text.len())]
            .iter()
            .filter(|b| **b == b'\n')
            .count()
            + 1
    }

    /// The logical line starting at `offset`: physical lines joined while they end with the
    /// escape character (continuations kept as written).
    fn logical_line(&self, offset: usize) -> String {
        let mut out = String::new();
        for line in self.text[offset.min(self.text.len())..].lines() {
            out.push_str(line);
            if !line.trim_end().ends_with(self.escape) {
                break;
            }
            out.push('\n');
        }
        out
    }

    fn instr(&self, keyword: &pd::Span, kind: Instruction) -> Instr {
        Instr {
            line: self.line_of(keyword.start),
            source: self.logical_line(keyword.start),
            kind,
        }
    }

    fn err(&self, keyword: &pd::Span, message: impl Into<String>) -> ParseError {
        ParseError {
            line: self.line_of(keyword.start),
            message: message.into(),
        }
    }

    fn from(&self, f: &pd::FromInstruction<'_>) -> Instr {
        let kind = Instruction::From {
            flags: flags(&f.options),
            image: f.image.value.to_string(),
            name: f.as_.as_ref().map(|(_, n)| n.value.to_string()),
        };
        self.instr(&f.from.span, kind)
    }

    fn command(&self, keyword: &pd::Span, c: &pd::Command<'_>) -> Result<CommandForm, ParseError> {
        match c {
            pd::Command::Exec(v) => Ok(CommandForm::Exec(strings(&v.value))),
            pd::Command::Shell(s) => {
                Ok(CommandForm::Shell(join_continuations(s.value, self.escape)))
            }
            _ => Err(self.err(keyword, "unsupported command form")),
        }
    }

    /// The here-documents with the delimiters written in `self.text[markers]`.
    fn heredocs(&self, markers: std::ops::Range<usize>, docs: &[&pd::HereDoc<'_>]) -> Vec<HereDoc> {
        let names = heredoc_delimiters(self.text.get(markers).unwrap_or_default());
        docs.iter()
            .enumerate()
            .map(|(n, d)| HereDoc {
                delimiter: names.get(n).cloned().unwrap_or_else(|| "EOF".to_string()),
                content: d.value.to_string(),
                expand: d.expand,
            })
            .collect()
    }

    fn copy(
        &self,
        keyword: &pd::Span,
        options: &[pd::Flag<'_>],
        src: &[pd::Source<'_>],
        dest: &pd::UnescapedString<'_>,
    ) -> CopyDef {
        let docs: Vec<&pd::HereDoc<'_>> = src
            .iter()
            .filter_map(|s| match s {
                pd::Source::HereDoc(d) => Some(d),
                pd::Source::Path(_) => None,
                _ => None,
            })
            .collect();
        let mut heredocs = self
            .heredocs(keyword.end..dest.span.start, &docs)
            .into_iter();
        let sources = src
            .iter()
            .map(|s| match s {
                pd::Source::Path(p) => CopySource::Path(p.value.to_string()),
                pd::Source::HereDoc(d) => CopySource::HereDoc(heredocs.next().unwrap_or(HereDoc {
                    delimiter: "EOF".into(),
                    content: d.value.to_string(),
                    expand: d.expand,
                })),
                _ => CopySource::Path(String::new()),
            })
            .collect();
        CopyDef {
            flags: flags(options),
            sources,
            dest: dest.value.to_string(),
        }
    }

    fn pairs(
        &self,
        text: &str,
        keyword: &pd::Span,
        what: &str,
    ) -> Result<Vec<(String, String)>, ParseError> {
        let words = split_words(text, self.escape);
        let Some(first) = words.first() else {
            return Err(self.err(keyword, format!("{what} requires at least one argument")));
        };
        if !first.contains('=') {
            // The legacy form `ENV key value …`: the rest of the line is the value.
            let rest = text.trim_start()[first.len()..].trim();
            if rest.is_empty() {
                return Err(self.err(
                    keyword,
                    format!("{what} {first} requires a value (use {first}=value)"),
                ));
            }
            return Ok(vec![(first.clone(), rest.to_string())]);
        }
        words
            .into_iter()
            .map(|w| match w.split_once('=') {
                Some((k, v)) if !k.is_empty() => Ok((k.to_string(), v.to_string())),
                _ => Err(self.err(keyword, format!("{what} {w:?}: expected key=value"))),
            })
            .collect()
    }

    fn arg_pairs(
        &self,
        text: &str,
        keyword: &pd::Span,
    ) -> Result<Vec<(String, Option<String>)>, ParseError> {
        let words = split_words(text, self.escape);
        if words.is_empty() {
            return Err(self.err(keyword, "ARG requires at least one argument"));
        }
        words
            .into_iter()
            .map(|w| match w.split_once('=') {
                Some(("", _)) => Err(self.err(keyword, format!("ARG {w:?}: the name is empty"))),
                Some((k, v)) => Ok((k.to_string(), Some(v.to_string()))),
                None => Ok((w, None)),
            })
            .collect()
    }

    fn convert(&self, i: &pd::Instruction<'_>) -> Result<Instr, ParseError> {
        use pd::Instruction as P;
        let (span, kind) = match i {
            P::From(f) => return Ok(self.from(f)),
            P::Arg(a) => (
                &a.arg.span,
                Instruction::Arg(self.arg_pairs(&a.arguments.value, &a.arg.span)?),
            ),
            P::Env(e) => (
                &e.env.span,
                Instruction::Env(self.pairs(&e.arguments.value, &e.env.span, "ENV")?),
            ),
            P::Label(l) => (
                &l.label.span,
                Instruction::Label(self.pairs(&l.arguments.value, &l.label.span, "LABEL")?),
            ),
            P::Run(r) => {
                let markers_end = match &r.arguments {
                    pd::Command::Shell(s) => s.span.start,
                    pd::Command::Exec(e) => e.span.start,
                    _ => r.run.span.end,
                };
                let docs: Vec<&pd::HereDoc<'_>> = r.here_docs.iter().collect();
                let kind = Instruction::Run {
                    flags: flags(&r.options),
                    command: self.command(&r.run.span, &r.arguments)?,
                    heredocs: self.heredocs(r.run.span.end..markers_end, &docs),
                };
                (&r.run.span, kind)
            }
            P::Cmd(c) => (
                &c.cmd.span,
                Instruction::Cmd(self.command(&c.cmd.span, &c.arguments)?),
            ),
            P::Entrypoint(e) => (
                &e.entrypoint.span,
                Instruction::Entrypoint(self.command(&e.entrypoint.span, &e.arguments)?),
            ),
            P::Copy(c) => (
                &c.copy.span,
                Instruction::Copy(self.copy(&c.copy.span, &c.options, &c.src, &c.dest)),
            ),
            P::Add(a) => (
                &a.add.span,
                Instruction::Add(self.copy(&a.add.span, &a.options, &a.src, &a.dest)),
            ),
            P::Workdir(w) => (
                &w.workdir.span,
                Instruction::Workdir(w.arguments.value.to_string()),
            ),
            P::User(u) => (
                &u.user.span,
                Instruction::User(u.arguments.value.to_string()),
            ),
            P::Expose(e) => (&e.expose.span, Instruction::Expose(strings(&e.arguments))),
            P::Volume(v) => {
                let paths = match &v.arguments {
                    pd::JsonOrStringArray::Json(j) => strings(&j.value),
                    pd::JsonOrStringArray::String(s) => strings(s),
                };
                (&v.volume.span, Instruction::Volume(paths))
            }
            P::Stopsignal(s) => (
                &s.stopsignal.span,
                Instruction::StopSignal(s.arguments.value.to_string()),
            ),
            P::Shell(s) => (&s.shell.span, Instruction::Shell(strings(&s.arguments))),
            P::Healthcheck(h) => {
                let def = match &h.arguments {
                    pd::HealthcheckArguments::None { .. } => HealthDef::None,
                    pd::HealthcheckArguments::Cmd { arguments, .. } => HealthDef::Cmd {
                        flags: flags(&h.options),
                        command: self.command(&h.healthcheck.span, arguments)?,
                    },
                    _ => return Err(self.err(&h.healthcheck.span, "HEALTHCHECK: unsupported form")),
                };
                (&h.healthcheck.span, Instruction::Healthcheck(def))
            }
            P::Onbuild(o) => {
                let inner = self.convert(&o.instruction)?;
                if matches!(
                    inner.kind,
                    Instruction::From { .. } | Instruction::Onbuild(_) | Instruction::Maintainer(_)
                ) {
                    return Err(self.err(
                        &o.onbuild.span,
                        format!("ONBUILD {} is not allowed", inner.kind.keyword()),
                    ));
                }
                (&o.onbuild.span, Instruction::Onbuild(inner.source))
            }
            P::Maintainer(m) => (
                &m.maintainer.span,
                Instruction::Maintainer(m.name.value.to_string()),
            ),
            _ => {
                return Err(ParseError {
                    line: 0,
                    message: "unknown instruction".into(),
                });
            }
        };
        Ok(self.instr(span, kind))
    }
}

/// Removes line continuations from a shell-form command as a Dockerfile frontend does: the
/// escape character at the end of a line (trailing blanks allowed) joins it with the next;
/// empty and comment lines inside the continuation are dropped.
pub(crate) fn join_continuations(text: &str, escape: char) -> String {
    let mut out = String::new();
    let mut continued = false;
    for line in text.split('\n') {
        if continued {
            let t = line.trim_start();
            if t.is_empty() || t.starts_with('#') {
                continue;
            }
        }
        let trimmed = line.trim_end_matches([' ', '\t', '\r']);
        match trimmed.strip_suffix(escape) {
            Some(head) => {
                out.push_str(head);
                continued = true;
            }
            None => {
                if !out.is_empty() && !continued {
                    out.push('\n');
                }
                out.push_str(line);
                continued = false;
            }
        }
    }
    out.trim_end().to_string()
}

/// The delimiters of `<<WORD`, `<<-WORD`, `<<"WORD"` and `<<'WORD'` markers, in order.
fn heredoc_delimiters(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(at) = rest.find("<<") {
        rest = &rest[at + 2..];
        let r = rest.strip_prefix('-').unwrap_or(rest).trim_start();
        let (quote, r) = match r.chars().next() {
            Some(q @ ('"' | '\'')) => (Some(q), &r[1..]),
            _ => (None, r),
        };
        let end = r
            .find(|c: char| {
                Some(c) == quote
                    || c.is_whitespace()
                    || (quote.is_none() && matches!(c, '<' | '>' | ';' | '|' | '&'))
            })
            .unwrap_or(r.len());
        if end > 0 {
            out.push(r[..end].to_string());
        }
        rest = &r[end..];
    }
    out
}

/// Splits on whitespace outside quotes, keeping quotes and escapes (they are removed by the
/// expansion that follows).
pub(crate) fn split_words(text: &str, escape: char) -> Vec<String> {
    let mut words = Vec::new();
    let mut word = String::new();
    let mut quote: Option<char> = None;
    let mut chars = text.chars();
    let mut in_word = false;
    while let Some(c) = chars.next() {
        if c == escape && quote != Some('\'') {
            word.push(c);
            if let Some(n) = chars.next() {
                word.push(n);
            }
            in_word = true;
            continue;
        }
        match quote {
            Some(q) if c == q => quote = None,
            Some(_) => {}
            None if c == '"' || c == '\'' => quote = Some(c),
            None if c.is_whitespace() => {
                if in_word {
                    words.push(std::mem::take(&mut word));
                    in_word = false;
                }
                continue;
            }
            None => {}
        }
        word.push(c);
        in_word = true;
    }
    if in_word {
        words.push(word);
    }
    words
}

#[cfg(test)]
mod fixture_tests;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_heredocs_and_forms() {
        let text = "# syntax=docker/dockerfile:1\n\
                    ARG BASE=busybox\n\
                    FROM $BASE AS build\n\
                    \n\
                    RUN echo a \\\n    && echo b\n\
                    RUN <<EOF\n\
                    echo one\n\
                    EOF\n\
                    RUN <<'RAW' cat > /f\n\
                    $NOT_EXPANDED\n\
                    RAW\n\
                    COPY --chown=1:2 <<conf /etc/app.conf\n\
                    x=1\n\
                    conf\n\
                    ENV LEGACY some value\n\
                    ONBUILD RUN echo later\n\
                    CMD [\"a\", \"b\"]\n";
        let df = parse(text).expect("parse");
        assert_eq!(df.syntax.as_deref(), Some("docker/dockerfile:1"));
        assert_eq!(df.global_args[0].line, 2);
        let s = &df.stages[0];
        assert_eq!(s.from.line, 3);
        let lines: Vec<usize> = s.instructions.iter().map(|i| i.line).collect();
        assert_eq!(lines, [5, 7, 10, 13, 16, 17, 18]);
        assert_eq!(
            s.instructions[0].kind,
            Instruction::Run {
                flags: vec![],
                command: CommandForm::Shell("echo a     && echo b".into()),
                heredocs: vec![],
            }
        );
        let Instruction::Run {
            heredocs, command, ..
        } = &s.instructions[2].kind
        else {
            panic!("RUN");
        };
        assert_eq!(command, &CommandForm::Shell(" cat > /f".into()));
        assert_eq!(
            heredocs,
            &[HereDoc {
                delimiter: "RAW".into(),
                content: "$NOT_EXPANDED\n".into(),
                expand: false,
            }]
        );
        let Instruction::Copy(copy) = &s.instructions[3].kind else {
            panic!("COPY");
        };
        assert_eq!(copy.dest, "/etc/app.conf");
        assert!(
            matches!(&copy.sources[0], CopySource::HereDoc(h) if h.delimiter == "conf" && h.content == "x=1\n")
        );
        assert_eq!(
            s.instructions[4].kind,
            Instruction::Env(vec![("LEGACY".into(), "some value".into())])
        );
        assert_eq!(
            s.instructions[5].kind,
            Instruction::Onbuild("RUN echo later".into())
        );
        assert_eq!(
            s.instructions[6].kind,
            Instruction::Cmd(CommandForm::Exec(vec!["a".into(), "b".into()]))
        );
    }

    #[test]
    fn errors_name_the_line() {
        let err = parse("FROM busybox\nRUN ok\nFROB x\n").expect_err("unknown instruction");
        assert_eq!(err.line, 3, "{err}");
        assert!(parse("RUN before from\n").is_err());
        let err = parse("FROM a\nENV =x\n").expect_err("empty key");
        assert_eq!(err.line, 2);
    }

    #[test]
    fn escape_directive_and_words() {
        let df = parse("# escape=`\nFROM a\nRUN echo a `\n  b\n").expect("parse");
        assert_eq!(df.escape, '`');
        assert_eq!(
            df.stages[0].instructions[0].kind,
            Instruction::Run {
                flags: vec![],
                command: CommandForm::Shell("echo a   b".into()),
                heredocs: vec![],
            }
        );
        assert_eq!(
            split_words(r#"a="x y" b='1 2' c\ d"#, '\\'),
            [r#"a="x y""#, "b='1 2'", r"c\ d"]
        );
    }
}
