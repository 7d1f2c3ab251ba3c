//! The per-task lines shown under `overall progress` while `create`, `scale` or `update` waits
//! (docker's shape: `2/3: preparing [=========================>                        ]`), and
//! how they are drawn: redrawn in place on a terminal, one line per change otherwise.

use std::collections::BTreeMap;
use std::io::Write;

use orchestrator::swarm::{Task, TaskSlot, TaskState};

/// Above this many tasks only the overall line is shown (as docker does).
pub(crate) const MAX_TASK_LINES: usize = 20;
/// Width of a bar between its brackets.
const BAR_WIDTH: usize = 50;

/// The line of each task slot (or node, for a global service), in slot order: the newest task
/// of the current spec version in each slot, with slots `1..=replicas` that have no task yet
/// shown as `new`. Empty when there are more than [`MAX_TASK_LINES`] slots.
pub(crate) fn task_lines(current: &[&Task], replicas: Option<u64>) -> Vec<String> {
    let mut newest: BTreeMap<SlotKey, &Task> = BTreeMap::new();
    for task in current {
        let key = SlotKey::of(&task.slot);
        match newest.get(&key) {
            Some(seen) if seen.created_at >= task.created_at => {}
            _ => {
                newest.insert(key, task);
            }
        }
    }
    if let Some(replicas) = replicas {
        let wanted = usize::try_from(replicas).unwrap_or(usize::MAX);
        if wanted > MAX_TASK_LINES {
            return Vec::new();
        }
        return (1..=replicas)
            .map(|n| {
                let label = format!("{n}/{replicas}");
                match newest.get(&SlotKey::Slot(n)) {
                    Some(task) => line(&label, task.status.state, detail(task)),
                    None => line(&label, TaskState::New, None),
                }
            })
            .collect();
    }
    if newest.len() > MAX_TASK_LINES {
        return Vec::new();
    }
    newest
        .iter()
        .map(|(key, task)| line(&key.label(), task.status.state, detail(task)))
        .collect()
}

/// Orders slots by number and nodes by id.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum SlotKey {
    Slot(u64),
    Node(String),
}

impl SlotKey {
    fn of(slot: &TaskSlot) -> Self {
        match slot {
            TaskSlot::Slot(n) => SlotKey::Slot(*n),
            TaskSlot::Node(node) => SlotKey::Node(node.to_string()),
        }
    }

    fn label(&self) -> String {
        match self {
            SlotKey::Slot(n) => n.to_string(),
            SlotKey::Node(id) => id.chars().take(12).collect(),
        }
    }
}

/// What a task's line adds after its state: the error of a task that failed or was refused, or
/// why a pending task waits.
fn detail(task: &Task) -> Option<&str> {
    let status = &task.status;
    match status.state {
        TaskState::Failed | TaskState::Rejected | TaskState::Orphaned => status
            .error
            .as_deref()
            .or(Some(status.message.as_str()))
            .filter(|m| !m.is_empty()),
        TaskState::Pending => Some(status.message.as_str()).filter(|m| !m.is_empty()),
        _ => None,
    }
}

/// `label: state [bar]`, or `label: state  detail` when there is something to say.
fn line(label: &str, state: TaskState, detail: Option<&str>) -> String {
    let name = state.as_str();
    match detail {
        Some(detail) => format!("{label}: {name:<9} {detail}"),
        None => format!("{label}: {name:<9} [{}]", bar(state)),
    }
}

/// Filled in proportion to how far the task is on its way to running (a complete task is
/// full; a task that stopped otherwise is empty).
fn bar(state: TaskState) -> String {
    let steps = TaskState::ALL
        .iter()
        .position(|s| *s == TaskState::Running)
        .unwrap_or(1);
    let at = match state {
        TaskState::Complete => steps,
        s if s.is_terminal() => 0,
        s => TaskState::ALL.iter().position(|x| *x == s).unwrap_or(0),
    };
    let filled = BAR_WIDTH * at / steps;
    match filled {
        0 => " ".repeat(BAR_WIDTH),
        n if n >= BAR_WIDTH => format!("{}>", "=".repeat(BAR_WIDTH - 1)),
        n => format!("{}>{}", "=".repeat(n - 1), " ".repeat(BAR_WIDTH - n)),
    }
}

/// Draws successive blocks of lines: on a terminal the block is redrawn in place; otherwise
/// each line is printed when it differs from what was printed for its row before.
pub(crate) struct Board {
    tty: bool,
    shown: Vec<String>,
}

impl Board {
    /// A board on stdout.
    pub(crate) fn new(tty: bool) -> Self {
        Self {
            tty,
            shown: Vec::new(),
        }
    }

    /// Shows `lines` in place of the block drawn before.
    pub(crate) fn draw(&mut self, lines: Vec<String>) {
        if lines == self.shown {
            return;
        }
        let mut out = std::io::stdout().lock();
        if self.tty {
            if !self.shown.is_empty() {
                let _ = write!(out, "\x1b[{}A", self.shown.len());
            }
            for line in &lines {
                let _ = writeln!(out, "\r\x1b[2K{line}");
            }
            // A block that shrank leaves rows below it: clear them.
            for _ in lines.len()..self.shown.len() {
                let _ = writeln!(out, "\r\x1b[2K");
            }
            if self.shown.len() > lines.len() {
                let _ = write!(out, "\x1b[{}A", self.shown.len() - lines.len());
            }
        } else {
            for (i, line) in lines.iter().enumerate() {
                if self.shown.get(i) != Some(line) {
                    let _ = writeln!(out, "{line}");
                }
            }
        }
        let _ = out.flush();
        self.shown = lines;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use orchestrator::swarm::{NodeId, ServiceId, TaskId, Timestamp};

    fn task(slot: TaskSlot, state: TaskState, created: u64) -> Task {
        Task {
            id: TaskId(format!("t{created}")),
            service_id: ServiceId("s".to_owned()),
            slot,
            spec_version: 1,
            spec: Default::default(),
            desired_state: Default::default(),
            shutdown_reason: None,
            status: orchestrator::swarm::TaskStatus {
                state,
                ..Default::default()
            },
            node: None,
            created_at: Timestamp::from_millis(created),
            not_before: None,
            replaces: None,
            preferred_node: None,
        }
    }

    #[test]
    fn replicated_lines_follow_slots_and_show_missing_ones_as_new() {
        let a = task(TaskSlot::Slot(1), TaskState::Running, 1);
        let b = task(TaskSlot::Slot(2), TaskState::Preparing, 2);
        let lines = task_lines(&[&a, &b], Some(3));
        assert_eq!(lines.len(), 3);
        assert!(
            lines[0].starts_with("1/3: running   [=========="),
            "{}",
            lines[0]
        );
        assert!(lines[0].ends_with(">]"), "{}", lines[0]);
        assert!(
            lines[1].starts_with("2/3: preparing [====="),
            "{}",
            lines[1]
        );
        assert!(lines[1].ends_with(" ]"), "{}", lines[1]);
        assert_eq!(
            lines[2],
            format!("3/3: new       [{}]", " ".repeat(BAR_WIDTH))
        );
    }

    #[test]
    fn the_newest_task_of_a_slot_wins_and_errors_are_shown() {
        let old = task(TaskSlot::Slot(1), TaskState::Running, 1);
        let mut new = task(TaskSlot::Slot(1), TaskState::Rejected, 5);
        new.status.error = Some("no such image: web:2".to_owned());
        let lines = task_lines(&[&new, &old], Some(1));
        assert_eq!(
            lines,
            vec!["1/1: rejected  no such image: web:2".to_owned()]
        );
    }

    #[test]
    fn global_lines_are_keyed_by_short_node_id() {
        let node = NodeId("abcdefghijklmnopqrst".to_owned());
        let a = task(TaskSlot::Node(node), TaskState::Starting, 1);
        let lines = task_lines(&[&a], None);
        assert_eq!(lines.len(), 1);
        assert!(
            lines[0].starts_with("abcdefghijkl: starting  ["),
            "{}",
            lines[0]
        );
    }

    #[test]
    fn many_tasks_show_no_task_lines() {
        assert!(task_lines(&[], Some(MAX_TASK_LINES as u64 + 1)).is_empty());
        assert_eq!(
            task_lines(&[], Some(MAX_TASK_LINES as u64)).len(),
            MAX_TASK_LINES
        );
    }

    #[test]
    fn bars_fill_as_the_task_moves_on() {
        let widths: Vec<usize> = [
            TaskState::New,
            TaskState::Assigned,
            TaskState::Starting,
            TaskState::Running,
        ]
        .into_iter()
        .map(|s| bar(s).matches('=').count())
        .collect();
        assert!(widths.windows(2).all(|w| w[0] < w[1]), "{widths:?}");
        assert_eq!(bar(TaskState::Complete), bar(TaskState::Running));
        assert_eq!(bar(TaskState::Failed).trim(), "");
        assert_eq!(bar(TaskState::Running).len(), BAR_WIDTH);
    }
}
