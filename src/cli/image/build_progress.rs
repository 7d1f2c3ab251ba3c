//! Rendering a build's progress as users know it: one line per step, `[stage 2/5] RUN …`
//! with CACHED or the time it took, the RUN output streamed under it. `plain` prints every
//! line as it comes; `tty` keeps the running step on one line that its result overwrites;
//! `quiet` prints nothing but keeps the output of the steps that have not finished, so that a
//! failing RUN still shows what it printed.

use std::collections::BTreeMap;
use std::io::{IsTerminal, Write};

use agent::proto::{BuildFailed, BuildProgress, BuildStep, build_progress::Event};

/// How progress is shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Mode {
    /// Every line as it comes.
    Plain,
    /// The running step on a line of its own that its result overwrites.
    Tty,
    /// Nothing, unless a step fails.
    Quiet,
}

impl Mode {
    /// The mode for `--progress` (`auto`: tty on a terminal, plain otherwise) and `-q`.
    pub(crate) fn from_flag(flag: &str, quiet: bool) -> Self {
        match flag {
            _ if quiet => Self::Quiet,
            "quiet" => Self::Quiet,
            "plain" | "json" => Self::Plain,
            "tty" => Self::Tty,
            _ if std::io::stderr().is_terminal() => Self::Tty,
            _ => Self::Plain,
        }
    }
}

/// Renders one build's events to stderr (or to any writer, for tests).
pub(crate) struct Renderer<W: Write> {
    mode: Mode,
    out: W,
    /// Printed before every line (`web | ` when compose builds several services).
    prefix: String,
    /// The step whose header is on the current, unfinished line (tty).
    open: Option<String>,
    /// Steps whose header was printed because they wrote output.
    headed: Vec<String>,
    /// Quiet: the output of the steps that have not finished.
    held: BTreeMap<String, String>,
}

fn header(step: Option<&BuildStep>) -> String {
    match step {
        Some(s) => format!("[{} {}/{}] {}", s.stage, s.step, s.steps, s.text),
        None => "[?]".to_string(),
    }
}

impl Renderer<std::io::Stderr> {
    /// A renderer to stderr.
    pub(crate) fn stderr(mode: Mode, prefix: impl Into<String>) -> Self {
        Self::new(mode, std::io::stderr(), prefix)
    }
}

impl<W: Write> Renderer<W> {
    /// A renderer to `out`.
    pub(crate) fn new(mode: Mode, out: W, prefix: impl Into<String>) -> Self {
        Self {
            mode,
            out,
            prefix: prefix.into(),
            open: None,
            headed: Vec::new(),
            held: BTreeMap::new(),
        }
    }

    /// Shows one event (the final `written` or `failed` shows nothing: see [`Self::failed`]).
    pub(crate) fn event(&mut self, progress: &BuildProgress) {
        let Some(event) = &progress.event else {
            return;
        };
        // Rendering goes to a terminal or a pipe; a closed one must not stop the build.
        let _ = match event {
            Event::Started(step) => self.started(step),
            Event::Cached(step) => self.result(&header(Some(step)), "CACHED"),
            Event::Finished(done) => self.result(
                &header(done.step.as_ref()),
                &format!("{:.1}s", done.elapsed_ms as f64 / 1000.0),
            ),
            Event::Output(output) => self.output(&header(output.step.as_ref()), &output.line),
            Event::Written(_) | Event::Failed(_) => Ok(()),
        };
    }

    /// Shows what a failure leaves to see: in quiet mode, the output of the steps that had not
    /// finished (the failing RUN's).
    pub(crate) fn failed(&mut self, _failure: &BuildFailed) {
        let _ = self.close_line();
        for (step, output) in std::mem::take(&mut self.held) {
            let _ = writeln!(self.out, "{}{step}", self.prefix);
            let _ = self.out.write_all(output.as_bytes());
        }
        let _ = self.out.flush();
    }

    fn started(&mut self, step: &BuildStep) -> std::io::Result<()> {
        if self.mode != Mode::Tty {
            return Ok(());
        }
        self.close_line()?;
        let text = header(Some(step));
        write!(self.out, "{}{text} ...", self.prefix)?;
        self.open = Some(text);
        self.out.flush()
    }

    fn result(&mut self, step: &str, result: &str) -> std::io::Result<()> {
        self.held.remove(step);
        match self.mode {
            Mode::Quiet => return Ok(()),
            Mode::Tty if self.open.as_deref() == Some(step) => {
                self.open = None;
                write!(self.out, "\r\x1b[K")?;
            }
            _ => self.close_line()?,
        }
        writeln!(self.out, "{}{step} {result}", self.prefix)?;
        self.out.flush()
    }

    fn output(&mut self, step: &str, line: &str) -> std::io::Result<()> {
        if self.mode == Mode::Quiet {
            self.held
                .entry(step.to_string())
                .or_default()
                .push_str(&terminated(line));
            return Ok(());
        }
        if self.open.as_deref() == Some(step) {
            // The header stays; the output goes under it.
            writeln!(self.out)?;
            self.open = None;
            self.headed.push(step.to_string());
        } else {
            self.close_line()?;
            if !self.headed.iter().any(|h| h == step) {
                writeln!(self.out, "{}{step}", self.prefix)?;
                self.headed.push(step.to_string());
            }
        }
        write!(self.out, "{}  {}", self.prefix, terminated(line))?;
        self.out.flush()
    }

    /// Ends an unfinished tty line.
    fn close_line(&mut self) -> std::io::Result<()> {
        if self.open.take().is_some() {
            writeln!(self.out)?;
        }
        Ok(())
    }
}

fn terminated(line: &str) -> String {
    if line.ends_with('\n') {
        line.to_string()
    } else {
        format!("{line}\n")
    }
}

#[cfg(test)]
mod tests {
    use agent::proto::{BuildOutput, BuildStepFinished};

    use super::*;

    fn step(n: u32, text: &str) -> BuildStep {
        BuildStep {
            stage: "stage-0".into(),
            step: n,
            steps: 3,
            text: text.into(),
        }
    }

    fn events() -> Vec<BuildProgress> {
        let run = step(2, "RUN echo hi");
        [
            Event::Started(step(1, "FROM busybox")),
            Event::Cached(step(1, "FROM busybox")),
            Event::Started(run.clone()),
            Event::Output(BuildOutput {
                step: Some(run.clone()),
                stderr: false,
                line: "hi\n".into(),
            }),
            Event::Finished(BuildStepFinished {
                step: Some(run),
                elapsed_ms: 1250,
            }),
            Event::Started(step(3, "COPY f /f")),
        ]
        .into_iter()
        .map(|e| BuildProgress { event: Some(e) })
        .collect()
    }

    fn render(mode: Mode) -> String {
        let mut out = Vec::new();
        let mut renderer = Renderer::new(mode, &mut out, "");
        for e in events() {
            renderer.event(&e);
        }
        renderer.failed(&BuildFailed::default());
        String::from_utf8(out).expect("utf-8")
    }

    #[test]
    fn plain_shows_cached_times_and_output_under_its_step() {
        assert_eq!(
            render(Mode::Plain),
            "[stage-0 1/3] FROM busybox CACHED\n\
             [stage-0 2/3] RUN echo hi\n  hi\n\
             [stage-0 2/3] RUN echo hi 1.2s\n"
        );
    }

    #[test]
    fn tty_overwrites_the_running_step_with_its_result() {
        assert_eq!(
            render(Mode::Tty),
            "[stage-0 1/3] FROM busybox ...\r\x1b[K[stage-0 1/3] FROM busybox CACHED\n\
             [stage-0 2/3] RUN echo hi ...\n  hi\n\
             [stage-0 2/3] RUN echo hi 1.2s\n\
             [stage-0 3/3] COPY f /f ...\n"
        );
    }

    #[test]
    fn quiet_shows_only_the_output_of_an_unfinished_step_on_failure() {
        let mut out = Vec::new();
        let mut renderer = Renderer::new(Mode::Quiet, &mut out, "");
        let events = events();
        for e in &events[..4] {
            renderer.event(e);
        }
        renderer.failed(&BuildFailed::default());
        assert_eq!(
            String::from_utf8(out).expect("utf-8"),
            "[stage-0 2/3] RUN echo hi\nhi\n"
        );
        assert_eq!(render(Mode::Quiet), "");
    }
}
