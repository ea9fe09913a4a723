//! How the agent writes its diagnostics to stderr: coloured for a person at a terminal, plain
//! for a pipe or a file, and with a syslog priority prefix for the systemd journal.
//!
//! The choice is [`LogStyle::choose`], a pure function of what the process sees:
//!
//! | stderr                                        | style                               |
//! |-----------------------------------------------|-------------------------------------|
//! | the journal (`JOURNAL_STREAM` names its dev:ino) | `<6>load of llm admitted ...`    |
//! | a terminal, `NO_COLOR` unset or empty         | timestamp, coloured level, message  |
//! | anything else (pipe, file, terminal + `NO_COLOR`) | timestamp, plain level, message |
//!
//! In the journal each line starts with `<N>`, the priority of `sd-daemon(3)` that journald
//! strips and stores (error 3, warning 4, info 6, debug and trace 7), so `journalctl -p warning`
//! selects the agent's warnings; the journal adds its own timestamp and unit name, so the line
//! carries neither. `JOURNAL_STREAM` is inherited by children whose stderr may be a file, so it
//! counts only when its `DEVICE:INODE` is stderr's own (the check systemd.exec(5) describes).

use std::fmt;

use tracing::{Event, Level, Subscriber};
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields};
use tracing_subscriber::registry::LookupSpan;

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogStyle {
    /// Priority prefix, no timestamp, no colour: stderr is connected to the journal.
    Journal,
    /// Timestamp and a coloured level: stderr is a terminal and colour is allowed.
    Colour,
    /// Timestamp and a plain level: a pipe, a file, or `NO_COLOR`.
    Plain,
}

/// What [`LogStyle::choose`] decides from, read from the process by [`Surroundings::read`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Surroundings {
    pub stderr_is_terminal: bool,
    /// `NO_COLOR` is set to a non-empty value (<https://no-color.org>).
    pub no_color: bool,
    /// `JOURNAL_STREAM` as given: `DEVICE:INODE` of the journal's stream.
    pub journal_stream: Option<String>,
    /// Device and inode of the file open on stderr.
    pub stderr_id: Option<(u64, u64)>,
}

impl Surroundings {
    /// Reads the environment and stderr of this process.
    pub fn read() -> Surroundings {
        use std::io::IsTerminal;
        let stderr_id = nix::sys::stat::fstat(libc::STDERR_FILENO)
            .ok()
            .map(|st| (st.st_dev, st.st_ino));
        Surroundings {
            stderr_is_terminal: std::io::stderr().is_terminal(),
            no_color: std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty()),
            journal_stream: std::env::var("JOURNAL_STREAM").ok(),
            stderr_id,
        }
    }
}

impl LogStyle {
    pub fn choose(s: &Surroundings) -> LogStyle {
        let journal = match (&s.journal_stream, s.stderr_id) {
            (Some(stream), Some(id)) => parse_journal_stream(stream) == Some(id),
            _ => false,
        };
        if journal {
            LogStyle::Journal
        } else if s.stderr_is_terminal && !s.no_color {
            LogStyle::Colour
        } else {
            LogStyle::Plain
        }
    }
}

/// `DEVICE:INODE` (decimal) as systemd writes `JOURNAL_STREAM`.
fn parse_journal_stream(value: &str) -> Option<(u64, u64)> {
    let (dev, ino) = value.split_once(':')?;
    Some((dev.parse().ok()?, ino.parse().ok()?))
}

/// The syslog priority of a tracing level (sd-daemon(3): `<3>` error ... `<7>` debug).
pub fn syslog_priority(level: Level) -> u8 {
    match level {
        Level::ERROR => 3,
        Level::WARN => 4,
        Level::INFO => 6,
        Level::DEBUG | Level::TRACE => 7,
    }
}

/// The journal's line format: `<PRIORITY>` then the message and its fields.
pub struct JournalFormat;

impl<S, N> FormatEvent<S, N> for JournalFormat
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        ctx: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        write!(writer, "<{}>", syslog_priority(*event.metadata().level()))?;
        ctx.field_format().format_fields(writer.by_ref(), event)?;
        writeln!(writer)
    }
}

/// Installs the global subscriber: `filter` (or `RUST_LOG`) in the chosen style, on stderr.
pub fn init(filter: &str, style: LogStyle) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(filter));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false);
    let _ = match style {
        LogStyle::Journal => builder
            .with_ansi(false)
            .event_format(JournalFormat)
            .try_init(),
        LogStyle::Colour => builder.with_ansi(true).try_init(),
        LogStyle::Plain => builder.with_ansi(false).try_init(),
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seen(terminal: bool, no_color: bool, stream: Option<&str>) -> Surroundings {
        Surroundings {
            stderr_is_terminal: terminal,
            no_color,
            journal_stream: stream.map(str::to_string),
            stderr_id: Some((64769, 123456)),
        }
    }

    #[test]
    fn a_terminal_gets_colour_unless_no_color() {
        assert_eq!(LogStyle::choose(&seen(true, false, None)), LogStyle::Colour);
        assert_eq!(LogStyle::choose(&seen(true, true, None)), LogStyle::Plain);
    }

    #[test]
    fn a_pipe_or_file_is_plain() {
        assert_eq!(LogStyle::choose(&seen(false, false, None)), LogStyle::Plain);
    }

    #[test]
    fn the_journal_only_when_its_stream_is_stderr() {
        let ours = seen(false, false, Some("64769:123456"));
        assert_eq!(LogStyle::choose(&ours), LogStyle::Journal);
        // Inherited from a parent whose stderr was the journal; ours is a file now.
        let inherited = seen(false, false, Some("64769:999"));
        assert_eq!(LogStyle::choose(&inherited), LogStyle::Plain);
        let garbage = seen(true, false, Some("not-a-stream"));
        assert_eq!(LogStyle::choose(&garbage), LogStyle::Colour);
    }

    #[test]
    fn priorities_follow_sd_daemon() {
        let p: Vec<u8> = [
            Level::ERROR,
            Level::WARN,
            Level::INFO,
            Level::DEBUG,
            Level::TRACE,
        ]
        .into_iter()
        .map(syslog_priority)
        .collect();
        assert_eq!(p, [3, 4, 6, 7, 7]);
    }
}
