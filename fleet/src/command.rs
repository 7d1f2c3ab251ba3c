//! The commands `bosun-fleet` reads on its standard input, one a line; it answers each with
//! one line of JSON on its standard output.

use std::time::Duration;

/// A command to the running simulator.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// `status`: the census of running tasks.
    Status,
    /// `wait-running N [TIMEOUT]`: until exactly N tasks run, none twice (default timeout
    /// 60s).
    WaitRunning {
        /// The count waited for.
        tasks: usize,
        /// How long to wait at most.
        timeout: Duration,
    },
    /// `kill N`: N nodes die at once (their containers with them).
    Kill(usize),
    /// `restore`: the dead nodes come back.
    Restore,
    /// `crash N`: N running tasks exit with a failure.
    Crash(usize),
    /// `quit`: stop every node and exit.
    Quit,
}

/// The wait of `wait-running` without a timeout.
pub const DEFAULT_WAIT: Duration = Duration::from_secs(60);

fn count(word: Option<&str>, command: &str) -> Result<usize, String> {
    let word = word.ok_or_else(|| format!("{command}: a count is missing"))?;
    word.parse()
        .map_err(|_| format!("{command}: {word:?} is not a whole number"))
}

/// Parses one line; `Ok(None)` for a blank line.
pub fn parse(line: &str) -> Result<Option<Command>, String> {
    let mut words = line.split_whitespace();
    let Some(name) = words.next() else {
        return Ok(None);
    };
    let command = match name {
        "status" => Command::Status,
        "wait-running" => {
            let tasks = count(words.next(), name)?;
            let timeout = match words.next() {
                Some(text) => humantime::parse_duration(text)
                    .map_err(|e| format!("{name}: bad timeout {text:?}: {e}"))?,
                None => DEFAULT_WAIT,
            };
            Command::WaitRunning { tasks, timeout }
        }
        "kill" => Command::Kill(count(words.next(), name)?),
        "restore" => Command::Restore,
        "crash" => Command::Crash(count(words.next(), name)?),
        "quit" => Command::Quit,
        other => {
            return Err(format!(
                "unknown command {other:?}; expected status, wait-running N [TIMEOUT], kill N, restore, crash N or quit"
            ));
        }
    };
    if let Some(extra) = words.next() {
        return Err(format!("{name}: unexpected {extra:?}"));
    }
    Ok(Some(command))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands_parse_with_their_arguments() {
        assert_eq!(parse("  "), Ok(None));
        assert_eq!(parse("status"), Ok(Some(Command::Status)));
        assert_eq!(
            parse("wait-running 3000 2m"),
            Ok(Some(Command::WaitRunning {
                tasks: 3000,
                timeout: Duration::from_secs(120)
            }))
        );
        assert_eq!(
            parse("wait-running 5"),
            Ok(Some(Command::WaitRunning {
                tasks: 5,
                timeout: DEFAULT_WAIT
            }))
        );
        assert_eq!(parse("kill 100"), Ok(Some(Command::Kill(100))));
        assert_eq!(parse("crash 7"), Ok(Some(Command::Crash(7))));
        assert_eq!(parse("restore"), Ok(Some(Command::Restore)));
        assert_eq!(parse("quit"), Ok(Some(Command::Quit)));
    }

    #[test]
    fn bad_lines_say_what_is_wrong() {
        assert_eq!(parse("kill"), Err("kill: a count is missing".into()));
        assert_eq!(
            parse("kill ten"),
            Err("kill: \"ten\" is not a whole number".into())
        );
        assert!(parse("wait-running 3 soon").is_err());
        assert_eq!(
            parse("restore now"),
            Err("restore: unexpected \"now\"".into())
        );
        assert!(parse("explode").unwrap_err().starts_with("unknown command"));
    }
}
