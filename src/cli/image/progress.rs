//! Rendering pull, push and load progress: one indicatif bar per layer on a terminal, plain
//! `id: status` lines otherwise (logs, pipes, tests).

use std::collections::HashMap;
use std::io::IsTerminal;

use agent::proto::ImageProgress;
use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

/// Shows progress messages as they arrive.
pub(super) enum Progress {
    /// Bars on a terminal.
    Bars {
        /// All bars.
        multi: MultiProgress,
        /// The bar of each layer id.
        bars: HashMap<String, ProgressBar>,
    },
    /// One line per message that changes a layer's status.
    Lines {
        /// The last status printed per id (repeated "Downloading" lines are skipped).
        last: HashMap<String, String>,
    },
    /// Nothing (`-q`).
    Quiet,
}

impl Progress {
    /// Bars when stderr is a terminal, lines otherwise; nothing when `quiet`.
    pub(super) fn new(quiet: bool) -> Self {
        if quiet {
            Progress::Quiet
        } else if std::io::stderr().is_terminal() {
            Progress::Bars {
                multi: MultiProgress::with_draw_target(ProgressDrawTarget::stderr()),
                bars: HashMap::new(),
            }
        } else {
            Progress::Lines {
                last: HashMap::new(),
            }
        }
    }

    /// Shows one message.
    pub(super) fn show(&mut self, p: &ImageProgress) {
        match self {
            Progress::Quiet => {}
            Progress::Lines { last } => {
                if last.get(&p.id) == Some(&p.status) {
                    return;
                }
                last.insert(p.id.clone(), p.status.clone());
                if p.id.is_empty() {
                    eprintln!("{}", p.status);
                } else {
                    eprintln!("{}: {}", p.id, p.status);
                }
            }
            Progress::Bars { multi, bars } => {
                if p.id.is_empty() || p.total == 0 && !bars.contains_key(&p.id) {
                    let _ = multi.println(if p.id.is_empty() {
                        p.status.clone()
                    } else {
                        format!("{}: {}", p.id, p.status)
                    });
                    return;
                }
                let bar = bars.entry(p.id.clone()).or_insert_with(|| {
                    let bar = multi.add(ProgressBar::new(p.total));
                    let style = ProgressStyle::with_template(
                        "{prefix}: {msg:<18} [{bar:30}] {bytes}/{total_bytes}",
                    )
                    .unwrap_or_else(|_| ProgressStyle::default_bar())
                    .progress_chars("=> ");
                    bar.set_style(style);
                    bar.set_prefix(p.id.clone());
                    bar
                });
                if p.total > 0 {
                    bar.set_length(p.total);
                }
                bar.set_position(p.current);
                bar.set_message(p.status.clone());
                if matches!(
                    p.status.as_str(),
                    "Pull complete" | "Already exists" | "Pushed" | "Layer already exists"
                ) {
                    bar.finish();
                }
            }
        }
    }

    /// Ends the display (bars are left as they are).
    pub(super) fn finish(&mut self) {
        if let Progress::Bars { bars, .. } = self {
            for bar in bars.values() {
                if !bar.is_finished() {
                    bar.finish();
                }
            }
        }
    }
}
