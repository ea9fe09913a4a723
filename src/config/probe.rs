//! Commands and probes of a `[[model]]` or `[[service]]`: the argv that starts it, the probe
//! that says it is ready (a load is done only when it passes), and the probe that keeps
//! checking it is alive (K failures in a row restart it).
//!
//! Each probe names exactly one kind of check; durations are human strings.
//!
//! ```toml
//! command = ["/opt/llm/server", "--port", "8080"]     # argv array, never a shell string
//! ready  = { http = "http://127.0.0.1:8080/health", timeout = "5m" }
//! health = { tcp = "127.0.0.1:8080", interval = "5s", timeout = "1s", failures = 3 }
//! # or:  ready = { log = "listening on" }     health = { exec = ["/opt/llm/ping"] }
//! #      ready = { file = "/run/llm.ready" }  health = { heartbeat = "/run/llm.beat", stale_after = "30s" }
//! ```

use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use serde::de::{self, Deserializer, SeqAccess, Visitor};
use serde::Deserialize;

use crate::config::problem::{Issues, KeyPath};
use crate::units::HumanDuration;

/// Why a probe table has the wrong shape.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProbeError {
    #[error("`{probe}` needs exactly one of {expected}; found {}", found_list(.found))]
    NotExactlyOne {
        probe: &'static str,
        expected: &'static str,
        found: Vec<&'static str>,
    },
    #[error("`health.stale_after` only applies to a `heartbeat` check")]
    StaleAfterWithoutHeartbeat,
}

fn found_list(found: &[&str]) -> String {
    if found.is_empty() {
        "none".to_string()
    } else {
        found.join(" and ")
    }
}

/// A program and its arguments, run directly (no shell). Never empty.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Argv(pub Vec<String>);

impl Argv {
    /// The program to run (the first element).
    pub fn program(&self) -> &str {
        self.0.first().map_or("", String::as_str)
    }
}

impl<'de> Deserialize<'de> for Argv {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Argv, D::Error> {
        struct ArgvVisitor;
        impl<'de> Visitor<'de> for ArgvVisitor {
            type Value = Argv;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an argv array of strings")
            }

            fn visit_str<E: de::Error>(self, s: &str) -> Result<Argv, E> {
                let words: Vec<String> = s.split_whitespace().map(|w| format!("{w:?}")).collect();
                Err(E::custom(format!(
                    "expected an argv array, never a shell string: write [{}]",
                    words.join(", ")
                )))
            }

            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Argv, A::Error> {
                let mut argv = Vec::new();
                while let Some(arg) = seq.next_element::<String>()? {
                    argv.push(arg);
                }
                match argv.first() {
                    None => Err(de::Error::custom(
                        "the argv array is empty: name the program to run",
                    )),
                    Some(p) if p.trim().is_empty() => Err(de::Error::custom(
                        "the first argv element (the program) is empty",
                    )),
                    Some(_) => Ok(Argv(argv)),
                }
            }
        }
        d.deserialize_any(ArgvVisitor)
    }
}

/// What proves a process is ready to serve.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReadyCheck {
    /// An HTTP GET answered with a 2xx status, e.g. `http://127.0.0.1:8080/health`.
    Http(String),
    /// A TCP connect to `host:port` succeeds.
    Tcp(String),
    /// A line of the process's output matches this regular expression.
    Log(String),
    /// This file exists.
    File(PathBuf),
}

/// `ready = { <one check>, timeout = "5m" }`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(try_from = "RawReady")]
pub struct ReadyProbe {
    pub check: ReadyCheck,
    /// How long the check may take to pass before the start counts as failed (default 5m).
    pub timeout: HumanDuration,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawReady {
    http: Option<String>,
    tcp: Option<String>,
    log: Option<String>,
    file: Option<PathBuf>,
    timeout: Option<HumanDuration>,
}

pub const DEFAULT_READY_TIMEOUT: Duration = Duration::from_secs(300);

impl TryFrom<RawReady> for ReadyProbe {
    type Error = ProbeError;

    fn try_from(raw: RawReady) -> Result<ReadyProbe, ProbeError> {
        let checks = [
            raw.http.map(|u| ("http", ReadyCheck::Http(u))),
            raw.tcp.map(|a| ("tcp", ReadyCheck::Tcp(a))),
            raw.log.map(|r| ("log", ReadyCheck::Log(r))),
            raw.file.map(|p| ("file", ReadyCheck::File(p))),
        ];
        let check = exactly_one("ready", "http, tcp, log or file", checks)?;
        Ok(ReadyProbe {
            check,
            timeout: raw.timeout.unwrap_or(HumanDuration(DEFAULT_READY_TIMEOUT)),
        })
    }
}

fn exactly_one<T, const N: usize>(
    probe: &'static str,
    expected: &'static str,
    checks: [Option<(&'static str, T)>; N],
) -> Result<T, ProbeError> {
    let mut present: Vec<(&'static str, T)> = checks.into_iter().flatten().collect();
    if present.len() == 1 {
        if let Some((_, check)) = present.pop() {
            return Ok(check);
        }
    }
    Err(ProbeError::NotExactlyOne {
        probe,
        expected,
        found: present.iter().map(|(name, _)| *name).collect(),
    })
}

/// What proves a running process is still alive.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HealthCheck {
    Http(String),
    Tcp(String),
    /// A command that exits 0 when healthy (argv array, run without a shell).
    Exec(Argv),
    /// A file the process touches; stale when not modified within `stale_after`.
    Heartbeat {
        path: PathBuf,
        stale_after: HumanDuration,
    },
}

/// `health = { <one check>, interval = "5s", timeout = "1s", failures = 3 }`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(try_from = "RawHealth")]
pub struct HealthProbe {
    pub check: HealthCheck,
    /// Time between checks (default 5s).
    pub interval: HumanDuration,
    /// How long one check may take (default 1s).
    pub timeout: HumanDuration,
    /// Consecutive failures that restart the process (default 3).
    pub failures: u32,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawHealth {
    http: Option<String>,
    tcp: Option<String>,
    exec: Option<Argv>,
    heartbeat: Option<PathBuf>,
    stale_after: Option<HumanDuration>,
    interval: Option<HumanDuration>,
    timeout: Option<HumanDuration>,
    failures: Option<u32>,
}

pub const DEFAULT_STALE_AFTER: Duration = Duration::from_secs(30);

impl TryFrom<RawHealth> for HealthProbe {
    type Error = ProbeError;

    fn try_from(raw: RawHealth) -> Result<HealthProbe, ProbeError> {
        if raw.stale_after.is_some() && raw.heartbeat.is_none() {
            return Err(ProbeError::StaleAfterWithoutHeartbeat);
        }
        let stale_after = raw
            .stale_after
            .unwrap_or(HumanDuration(DEFAULT_STALE_AFTER));
        let checks = [
            raw.http.map(|u| ("http", HealthCheck::Http(u))),
            raw.tcp.map(|a| ("tcp", HealthCheck::Tcp(a))),
            raw.exec.map(|a| ("exec", HealthCheck::Exec(a))),
            raw.heartbeat
                .map(|path| ("heartbeat", HealthCheck::Heartbeat { path, stale_after })),
        ];
        Ok(HealthProbe {
            check: exactly_one("health", "http, tcp, exec or heartbeat", checks)?,
            interval: raw
                .interval
                .unwrap_or(HumanDuration(Duration::from_secs(5))),
            timeout: raw.timeout.unwrap_or(HumanDuration(Duration::from_secs(1))),
            failures: raw.failures.unwrap_or(3),
        })
    }
}

impl ReadyProbe {
    pub(crate) fn check(&self, at: &KeyPath, issues: &mut Issues) {
        match &self.check {
            ReadyCheck::Http(url) => check_http(url, &at.key("http"), issues),
            ReadyCheck::Tcp(addr) => check_tcp(addr, &at.key("tcp"), issues),
            ReadyCheck::Log(pattern) => {
                if let Err(e) = regex::Regex::new(pattern) {
                    let first = e.to_string().lines().last().unwrap_or("").to_string();
                    issues.report(
                        at.key("log"),
                        format!("`log` is not a valid regular expression: {first}"),
                    );
                }
            }
            ReadyCheck::File(path) => check_absolute(path, &at.key("file"), issues),
        }
        positive(self.timeout, &at.key("timeout"), issues);
    }
}

impl HealthProbe {
    pub(crate) fn check(&self, at: &KeyPath, issues: &mut Issues) {
        match &self.check {
            HealthCheck::Http(url) => check_http(url, &at.key("http"), issues),
            HealthCheck::Tcp(addr) => check_tcp(addr, &at.key("tcp"), issues),
            HealthCheck::Exec(_) => {}
            HealthCheck::Heartbeat { path, stale_after } => {
                check_absolute(path, &at.key("heartbeat"), issues);
                positive(*stale_after, &at.key("stale_after"), issues);
            }
        }
        positive(self.interval, &at.key("interval"), issues);
        positive(self.timeout, &at.key("timeout"), issues);
        issues.require(self.timeout <= self.interval, at.key("timeout"), || {
            format!(
                "`timeout` ({}) is longer than `interval` ({}): checks would overlap",
                self.timeout, self.interval
            )
        });
        issues.require(self.failures >= 1, at.key("failures"), || {
            "`failures` must be at least 1".to_string()
        });
    }
}

/// Reports a zero duration at `path`: a zero interval or timeout is never meant.
pub(crate) fn positive(d: HumanDuration, path: &KeyPath, issues: &mut Issues) {
    issues.require(!d.0.is_zero(), path.clone(), || {
        format!("`{path}` must be longer than zero")
    });
}

pub(crate) fn check_absolute(path: &std::path::Path, at: &KeyPath, issues: &mut Issues) {
    issues.require(path.is_absolute(), at.clone(), || {
        format!(
            "`{at}` must be an absolute path, got {:?} (the agent's working directory is not yours)",
            path.display().to_string()
        )
    });
}

fn check_http(url: &str, at: &KeyPath, issues: &mut Issues) {
    let Some(rest) = url.strip_prefix("http://") else {
        issues.report(
            at.clone(),
            format!("`{at}` must be an http:// URL of a local endpoint, got {url:?}"),
        );
        return;
    };
    let authority = rest.split('/').next().unwrap_or("");
    if let Err(why) = host_port(authority, true) {
        issues.report(at.clone(), format!("`{at}`: {why} in {url:?}"));
    }
}

fn check_tcp(addr: &str, at: &KeyPath, issues: &mut Issues) {
    if let Err(why) = host_port(addr, false) {
        issues.report(
            at.clone(),
            format!("`{at}` must be host:port, {why} in {addr:?}"),
        );
    }
}

/// Checks `host[:port]` (port required unless `port_optional`); IPv6 hosts in brackets.
pub(crate) fn host_port(s: &str, port_optional: bool) -> Result<(), String> {
    let (host, port) = if let Some(rest) = s.strip_prefix('[') {
        match rest.split_once(']') {
            Some((h, tail)) => (h, tail.strip_prefix(':')),
            None => return Err("unclosed '[' around the host".to_string()),
        }
    } else {
        match s.rsplit_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (s, None),
        }
    };
    if host.is_empty() {
        return Err("the host is missing".to_string());
    }
    match port {
        None if port_optional => Ok(()),
        None => Err("the port is missing".to_string()),
        Some(p) => match p.parse::<u16>() {
            Ok(n) if n > 0 => Ok(()),
            _ => Err(format!("{p:?} is not a port number (1-65535)")),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Deserialize)]
    struct T {
        command: Option<Argv>,
        ready: Option<ReadyProbe>,
        health: Option<HealthProbe>,
    }

    fn parse(s: &str) -> Result<T, String> {
        toml::from_str::<T>(s).map_err(|e| e.message().to_string())
    }

    #[test]
    fn a_shell_string_command_is_refused_with_the_array_it_should_be() {
        let err = parse("command = \"/opt/srv --port 80\"").unwrap_err();
        assert!(err.contains("argv array, never a shell string"), "{err}");
        assert!(err.contains(r#"["/opt/srv", "--port", "80"]"#), "{err}");
    }

    #[test]
    fn an_empty_argv_is_refused() {
        assert!(parse("command = []").unwrap_err().contains("empty"));
        assert!(parse("command = [\"\"]").unwrap_err().contains("empty"));
        let ok = parse("command = [\"a\", \"b\"]").unwrap();
        assert_eq!(ok.command.unwrap().program(), "a");
    }

    #[test]
    fn a_ready_probe_needs_exactly_one_check() {
        let err = parse("ready = { http = \"http://a/\", tcp = \"a:1\" }").unwrap_err();
        assert!(
            err.contains("exactly one") && err.contains("http and tcp"),
            "{err}"
        );
        assert!(parse("ready = { timeout = \"1s\" }")
            .unwrap_err()
            .contains("found none"));
        let t = parse("ready = { file = \"/run/x\" }").unwrap();
        let ready = t.ready.unwrap();
        assert_eq!(ready.check, ReadyCheck::File("/run/x".into()));
        assert_eq!(ready.timeout.0, DEFAULT_READY_TIMEOUT);
    }

    #[test]
    fn health_defaults_apply_and_stale_after_needs_a_heartbeat() {
        let h = parse("health = { exec = [\"/bin/true\"] }")
            .unwrap()
            .health
            .unwrap();
        assert_eq!(
            (h.interval.0, h.timeout.0, h.failures),
            (Duration::from_secs(5), Duration::from_secs(1), 3)
        );
        let err = parse("health = { tcp = \"a:1\", stale_after = \"1s\" }").unwrap_err();
        assert!(err.contains("heartbeat"), "{err}");
        assert!(parse("health = { exec = \"/bin/true\" }")
            .unwrap_err()
            .contains("shell string"));
    }

    #[test]
    fn host_port_accepts_names_ipv4_and_bracketed_ipv6() {
        assert!(host_port("127.0.0.1:8080", false).is_ok());
        assert!(host_port("[::1]:8080", false).is_ok());
        assert!(host_port("localhost", true).is_ok());
        assert!(host_port("localhost", false).is_err());
        assert!(host_port(":80", false).is_err());
        assert!(host_port("a:99999", false).is_err());
        assert!(host_port("a:0", false).is_err());
    }

    #[test]
    fn semantic_checks_catch_bad_regex_urls_and_timeouts() {
        let t = parse(
            "ready = { log = \"([unclosed\" }\nhealth = { http = \"https://x/\", interval = \"1s\", timeout = \"2s\", failures = 0 }",
        )
        .unwrap();
        let mut issues = Issues::default();
        t.ready
            .unwrap()
            .check(&KeyPath::root().key("ready"), &mut issues);
        t.health
            .unwrap()
            .check(&KeyPath::root().key("health"), &mut issues);
        let paths: Vec<String> = issues.0.iter().map(|i| i.path.to_string()).collect();
        assert_eq!(
            paths,
            [
                "ready.log",
                "health.http",
                "health.timeout",
                "health.failures"
            ]
        );
    }
}
