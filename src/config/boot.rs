//! What the agent does with each model and service when it starts, as `jetgate config check`
//! prints it: services start at once (they are not gated), then models queue for the gate in
//! file order, and units with `autostart = false` stay stopped until asked for. The agent's
//! engine starts them in the same order (`Engine::start`).
//!
//! ```text
//! at agent start:
//!   service  api       starts at once (not gated)
//!   model    detector  queues for the gate, 1st
//!   model    llm       queues for the gate, 2nd
//!   model    tracker   stays stopped (autostart = false): `jetgate load tracker` starts it
//! ```
//!
//! `autostart` defaults to `true` for both: an appliance must come back by itself after a
//! power cut, and the gate still admits the models one at a time, each only when it fits.

use crate::config::Config;

/// What happens to one unit when the agent starts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AtStart {
    /// A service: started at once.
    Starts,
    /// A model: queued for the gate at this place (1 = first).
    Queued(usize),
    /// `autostart = false`: stopped until `jetgate load`/`restart`.
    StaysStopped,
}

/// One line of the plan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BootStep {
    /// `model` or `service`.
    pub kind: &'static str,
    pub name: String,
    pub at_start: AtStart,
}

/// Every unit in start-up order: services, then models, each in file order.
pub fn plan(config: &Config) -> Vec<BootStep> {
    let services = config.services.iter().map(|s| BootStep {
        kind: "service",
        name: s.name().to_string(),
        at_start: if s.program.autostart {
            AtStart::Starts
        } else {
            AtStart::StaysStopped
        },
    });
    let mut place = 0;
    let models = config.models.iter().map(move |m| BootStep {
        kind: "model",
        name: m.name().to_string(),
        at_start: if m.program.autostart {
            place += 1;
            AtStart::Queued(place)
        } else {
            AtStart::StaysStopped
        },
    });
    services.chain(models).collect()
}

/// `1st`, `2nd`, `3rd`, `4th`, ..., `11th`, `21st`.
fn ordinal(n: usize) -> String {
    let suffix = match (n % 10, n % 100) {
        (_, 11..=13) => "th",
        (1, _) => "st",
        (2, _) => "nd",
        (3, _) => "rd",
        _ => "th",
    };
    format!("{n}{suffix}")
}

/// The plan as `config check` prints it (empty when the file has no units).
pub fn render(steps: &[BootStep]) -> String {
    if steps.is_empty() {
        return "at agent start: no models or services (monitor only)\n".to_string();
    }
    let width = steps.iter().map(|s| s.name.len()).max().unwrap_or(0);
    let mut out = String::from("at agent start:\n");
    for s in steps {
        let what = match s.at_start {
            AtStart::Starts => "starts at once (not gated)".to_string(),
            AtStart::Queued(n) => format!("queues for the gate, {}", ordinal(n)),
            AtStart::StaysStopped => {
                let verb = if s.kind == "model" { "load" } else { "restart" };
                format!(
                    "stays stopped (autostart = false): `jetgate {verb} {}` starts it",
                    s.name
                )
            }
        };
        out.push_str(&format!("  {:<8} {:<width$}  {what}\n", s.kind, s.name));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn services_start_first_then_models_queue_in_file_order() {
        let text = r#"
[[model]]
name = "detector"
command = ["/bin/true"]
memory = "1GiB"
ready = { log = "READY" }

[[model]]
name = "tracker"
command = ["/bin/true"]
memory = "1GiB"
ready = { log = "READY" }
autostart = false

[[model]]
name = "llm"
command = ["/bin/true"]
memory = "1GiB"
ready = { log = "READY" }

[[service]]
name = "api"
command = ["/bin/true"]
"#;
        let config = Config::from_toml_str(text).unwrap();
        let steps = plan(&config);
        let order: Vec<(&str, AtStart)> = steps
            .iter()
            .map(|s| (s.name.as_str(), s.at_start.clone()))
            .collect();
        assert_eq!(
            order,
            [
                ("api", AtStart::Starts),
                ("detector", AtStart::Queued(1)),
                ("tracker", AtStart::StaysStopped),
                ("llm", AtStart::Queued(2)),
            ]
        );
        let text = render(&steps);
        assert!(
            text.contains("  service  api       starts at once"),
            "{text}"
        );
        assert!(
            text.contains("llm       queues for the gate, 2nd"),
            "{text}"
        );
        assert!(
            text.contains("stays stopped (autostart = false): `jetgate load tracker` starts it"),
            "{text}"
        );
    }

    #[test]
    fn ordinals() {
        let got: Vec<String> = [1, 2, 3, 4, 11, 12, 13, 21, 22, 101, 111]
            .into_iter()
            .map(ordinal)
            .collect();
        assert_eq!(
            got,
            [
                "1st", "2nd", "3rd", "4th", "11th", "12th", "13th", "21st", "22nd", "101st",
                "111th"
            ]
        );
    }

    #[test]
    fn a_monitor_only_file_says_so() {
        assert_eq!(
            render(&plan(&Config::embedded_default())),
            "at agent start: no models or services (monitor only)\n"
        );
    }
}
