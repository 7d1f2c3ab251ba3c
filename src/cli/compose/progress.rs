//! Progress of an execution: live spinners per action on a terminal (indicatif), each finished
//! action with the reason the plan gave for it; Compose's own lines otherwise (`plain`, or
//! `auto` on a pipe: ` Container demo-web-1  Started`, what scripts written for Compose
//! read); JSON lines with `--progress json`; nothing with `quiet`.

use std::collections::HashMap;
use std::io::IsTerminal;
use std::time::Duration;

use indicatif::{MultiProgress, ProgressBar, ProgressStyle};
use orchestrator::compose::{Plan, Progress, ProgressEvent, StepId, compose_lines};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    Tty,
    Plain,
    Quiet,
    Json,
}

/// Renders the executor's progress events.
pub(super) struct Printer<'p> {
    mode: Mode,
    plan: &'p Plan,
    bars: MultiProgress,
    running: HashMap<StepId, ProgressBar>,
}

/// Whether `--progress <mode>` draws live spinners (`tty`, or `auto` on a terminal).
pub(super) fn is_tty(mode: &str) -> bool {
    mode == "tty" || mode == "auto" && std::io::stderr().is_terminal()
}

impl<'p> Printer<'p> {
    /// A printer for `--progress <mode>` over `plan`, drawing its spinners on `bars` (which
    /// other output, such as build steps, prints above).
    pub(super) fn new(mode: &str, plan: &'p Plan, bars: MultiProgress) -> Self {
        let mode = match mode {
            "plain" => Mode::Plain,
            "quiet" => Mode::Quiet,
            "json" => Mode::Json,
            _ if is_tty(mode) => Mode::Tty,
            _ => Mode::Plain,
        };
        Self {
            mode,
            plan,
            bars,
            running: HashMap::new(),
        }
    }

    /// The line shown for a finished step.
    fn line(&self, progress: &Progress) -> String {
        let reason = &self.plan.step(progress.step).reason;
        match &progress.event {
            ProgressEvent::Started => format!(" ⠿ {} ...", progress.action),
            ProgressEvent::Done => format!(" ✔ {} ({reason})", progress.action),
            ProgressEvent::Warning(w) => format!(" ! {}: {w}", progress.action),
            ProgressEvent::Failed(m) => format!(" ✘ {}: {m}", progress.action),
            ProgressEvent::Skipped => format!(" - {}: skipped", progress.action),
        }
    }

    /// Shows one event.
    pub(super) fn event(&mut self, progress: Progress) {
        match self.mode {
            Mode::Quiet => {}
            Mode::Plain => {
                let step = self.plan.step(progress.step);
                for line in compose_lines(&step.action, &step.reason, &progress.event) {
                    eprintln!("{line}");
                }
            }
            Mode::Json => {
                let (status, message) = match &progress.event {
                    ProgressEvent::Started => ("started", String::new()),
                    ProgressEvent::Done => ("done", String::new()),
                    ProgressEvent::Warning(w) => ("warning", w.clone()),
                    ProgressEvent::Failed(m) => ("failed", m.clone()),
                    ProgressEvent::Skipped => ("skipped", String::new()),
                };
                let line = serde_json::json!({
                    "action": progress.action,
                    "target": progress.target,
                    "status": status,
                    "reason": self.plan.step(progress.step).reason,
                    "message": message,
                });
                eprintln!("{line}");
            }
            Mode::Tty => self.tty(progress),
        }
    }

    fn tty(&mut self, progress: Progress) {
        let line = self.line(&progress);
        if progress.event == ProgressEvent::Started {
            let bar = self.bars.add(ProgressBar::new_spinner());
            if let Ok(style) = ProgressStyle::with_template(" {spinner} {msg} {elapsed}") {
                bar.set_style(style);
            }
            bar.set_message(progress.action.clone());
            bar.enable_steady_tick(Duration::from_millis(100));
            self.running.insert(progress.step, bar);
            return;
        }
        match self.running.remove(&progress.step) {
            Some(bar) => {
                bar.set_style(
                    ProgressStyle::default_spinner()
                        .template("{msg}")
                        .unwrap_or_else(|_| ProgressStyle::default_spinner()),
                );
                bar.finish_with_message(line);
            }
            None => {
                let _ = self.bars.println(line);
            }
        }
    }

    /// Ends the live display.
    pub(super) fn finish(&mut self) {
        for (_, bar) in self.running.drain() {
            bar.abandon();
        }
    }
}
