//! The log readiness probe: a regex matched against a child's output lines.
//!
//! Pure: the supervisor feeds it the [`ChildOutput`](crate::runner::ChildOutput) lines of the
//! child being loaded; once one matches it stays matched (until [`LogMatcher::reset`] for the
//! next start).
//!
//! ```text
//! pattern  "listening on .*:8080"     line "INFO server listening on 0.0.0.0:8080" → ready
//! ```

use regex::Regex;

use super::{ProbeError, ProbeOutcome};

#[derive(Debug, Clone)]
pub struct LogMatcher {
    regex: Regex,
    matched: Option<String>,
}

impl LogMatcher {
    pub fn new(pattern: &str) -> Result<LogMatcher, ProbeError> {
        let regex = Regex::new(pattern).map_err(|source| ProbeError::BadRegex {
            pattern: pattern.to_string(),
            source,
        })?;
        Ok(LogMatcher {
            regex,
            matched: None,
        })
    }

    /// Feeds one line; returns true once any line so far has matched.
    pub fn feed(&mut self, line: &str) -> bool {
        if self.matched.is_none() && self.regex.is_match(line) {
            self.matched = Some(line.to_string());
        }
        self.matched.is_some()
    }

    pub fn matched(&self) -> bool {
        self.matched.is_some()
    }

    /// Forgets the match, for the child's next start.
    pub fn reset(&mut self) {
        self.matched = None;
    }

    /// The state as an outcome (`took` is zero: nothing is waited on).
    pub fn outcome(&self) -> ProbeOutcome {
        match &self.matched {
            Some(line) => ProbeOutcome::pass(
                format!("log line matched /{}/: {line}", self.regex.as_str()),
                Default::default(),
            ),
            None => ProbeOutcome::fail(
                format!("no log line matched /{}/ yet", self.regex.as_str()),
                Default::default(),
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_once_and_stays_matched_until_reset() {
        let mut m = LogMatcher::new(r"listening on .*:(\d+)").unwrap();
        assert!(!m.feed("loading weights 40%"));
        assert!(!m.outcome().ok);
        assert!(m.feed("INFO listening on 0.0.0.0:8080"));
        assert!(m.feed("unrelated later line"));
        let outcome = m.outcome();
        assert!(outcome.ok);
        assert!(
            outcome.detail.contains("0.0.0.0:8080"),
            "{}",
            outcome.detail
        );
        m.reset();
        assert!(!m.matched());
    }

    #[test]
    fn a_bad_pattern_is_an_error_naming_it() {
        let err = LogMatcher::new("ready(").unwrap_err();
        assert!(err.to_string().contains("ready("), "{err}");
    }
}
