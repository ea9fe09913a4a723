//! A child's environment: the parent's (the agent's, or one given) minus the agent's own
//! service-manager variables ([`STRIPPED_ENV`]), plus the unit's `env`, which wins.

use std::ffi::OsString;

/// Variables of the agent's own service manager that a child must never inherit: a child
/// holding `NOTIFY_SOCKET` could report "ready" or feed the watchdog for the agent.
pub const STRIPPED_ENV: [&str; 7] = [
    "NOTIFY_SOCKET",
    "WATCHDOG_PID",
    "WATCHDOG_USEC",
    "LISTEN_FDS",
    "LISTEN_PID",
    "LISTEN_FDNAMES",
    "INVOCATION_ID",
];

/// The environment a child starts from, before stripping and before `Spec::env`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum ParentEnv {
    /// The agent's own environment (the normal case).
    #[default]
    Agent,
    /// An explicit parent environment (tests, or a config that wants a clean slate).
    Given(Vec<(String, String)>),
}

/// Builds a child's full environment: `parent` minus [`STRIPPED_ENV`], then `extra` on top.
pub fn child_env(
    parent: impl IntoIterator<Item = (OsString, OsString)>,
    extra: &[(String, String)],
) -> Vec<(OsString, OsString)> {
    let mut env: Vec<(OsString, OsString)> = parent
        .into_iter()
        .filter(|(k, _)| !STRIPPED_ENV.iter().any(|s| k == s))
        .collect();
    for (k, v) in extra {
        env.retain(|(ek, _)| ek != k.as_str());
        env.push((k.into(), v.into()));
    }
    env
}
