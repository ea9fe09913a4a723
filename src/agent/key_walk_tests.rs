//! Every key `docs/configuration.md` documents, walked to its effect: for each, a base
//! configuration and the same with that key set (or removed) go through what the agent builds
//! from a configuration (the launch plan, the watcher's specs, the boot plan, the daemon's
//! [`Settings`], and the consumers behind them: board detection, MQTT options and topics), and
//! the part the key should change must change. The table must cover the documented keys
//! exactly, so a key documented without an effect here fails the walk.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeSet;

use toml_edit::{DocumentMut, Item};

use crate::agent::launch::{self, Launch, Plan};
use crate::agent::settings::Settings;
use crate::agent::watch::WatchSpec;
use crate::config::boot::{self, BootStep};
use crate::config::Config;
use crate::units::Bytes;

mod rows;
use rows::{base, row, rows};

/// What the agent builds from one configuration; no part of it is the `Config` itself.
struct Derived {
    plan: Plan,
    watch: Vec<(String, WatchSpec)>,
    boot: Vec<BootStep>,
    settings: Settings,
}

fn derive(config: &Config) -> Derived {
    let programs = config.models.iter().map(|m| &m.program);
    let programs = programs.chain(config.services.iter().map(|s| &s.program));
    Derived {
        plan: launch::plan(config, Bytes::from_mib(512)),
        watch: programs
            .map(|p| (p.name.clone(), WatchSpec::from_program(p)))
            .collect(),
        boot: boot::plan(config),
        settings: Settings::from_config(config, || "host".into(), None),
    }
}

impl Derived {
    fn unit(&self, name: &str) -> String {
        let u = self.plan.units.iter().find(|u| u.name == name).unwrap();
        format!("{u:?}")
    }
    fn launch(&self, name: &str) -> &Launch {
        &self.plan.launches[name]
    }
    fn watch(&self, name: &str) -> String {
        format!(
            "{:?}",
            self.watch.iter().find(|(n, _)| n == name).unwrap().1
        )
    }
    fn names(&self) -> String {
        format!("{:?}", self.plan.launches.keys().collect::<Vec<_>>())
    }
    fn mqtt_options(&self) -> String {
        let link = self.settings.link.as_ref().unwrap();
        match crate::mqtt::tls::options(&link.mqtt, &link.client_id(), None) {
            Ok(o) => format!(
                "{:?} {:?} {}",
                o.broker_address(),
                o.credentials(),
                o.client_id()
            ),
            Err(e) => e.to_string(),
        }
    }
    fn link(&self) -> String {
        let link = self.settings.link.as_ref().unwrap();
        format!(
            "{} {:?} {:?} {:?} {} homeassistant={} spread={:?} rate={} max_payload={} \
             protocol={} session_expiry={:?} will_delay={:?}",
            link.client_id(),
            crate::mqtt::topics::Topics::new(&link.mqtt.prefix, &link.device_id),
            link.mqtt.state_interval,
            link.mqtt.telemetry_interval,
            link.mqtt.outbox_limit,
            link.mqtt.homeassistant,
            link.mqtt.connect_spread,
            link.mqtt.backlog_rate,
            link.mqtt.max_payload,
            link.mqtt.protocol,
            link.mqtt.session_expiry(),
            link.mqtt.will_delay()
        )
    }
}

/// How one key shows: what is observed of the derived parts for unit `name`.
type Observe = fn(&Derived, &str) -> String;

/// One row: `given` applies to both sides, `set` to the changed side only (`None` removes).
struct Row {
    key: String,
    given: Vec<(String, Option<String>)>,
    set: Vec<(String, Option<String>)>,
    observe: Observe,
}

/// `doc` with `path` (`model.x` meaning the first `[[model]]`) set to `value`, or removed.
fn apply(doc: &mut DocumentMut, path: &str, value: Option<&str>) {
    let mut parts: Vec<&str> = path.split('.').collect();
    let last = parts.pop().unwrap();
    let mut item: &mut Item = doc.as_item_mut();
    for (i, part) in parts.iter().enumerate() {
        item = &mut item[*part];
        if i == 0 && matches!(*part, "model" | "service") {
            item = &mut item[0];
        }
    }
    let table = item
        .as_table_like_mut()
        .unwrap_or_else(|| panic!("no table at {path}"));
    match value {
        Some(v) => {
            let v: toml_edit::Value = v.parse().unwrap_or_else(|e| panic!("{v}: {e}"));
            table.insert(last, Item::Value(v));
        }
        None => {
            table.remove(last);
        }
    }
}

fn config(text: &str, pairs: &[(String, Option<String>)]) -> Config {
    let mut doc: DocumentMut = text.parse().unwrap();
    for (path, value) in pairs {
        apply(&mut doc, path, value.as_deref());
    }
    let text = doc.to_string();
    Config::from_toml_str(&text).unwrap_or_else(|p| panic!("{p:#?}\n{text}"))
}

#[test]
fn the_walk_covers_every_documented_key_exactly() {
    let documented = crate::config::reference_tests::documented_keys();
    let walked: BTreeSet<String> = rows().into_iter().map(|r| r.key).collect();
    let missing: Vec<_> = documented.difference(&walked).collect();
    let extra: Vec<_> = walked.difference(&documented).collect();
    assert!(
        missing.is_empty(),
        "documented keys without an effect in the walk: {missing:?}"
    );
    assert!(
        extra.is_empty(),
        "walked keys that are not documented: {extra:?}"
    );
}

#[test]
fn every_documented_key_changes_what_the_agent_builds() {
    let base = base();
    let mut ignored = Vec::new();
    for r in rows() {
        let before = derive(&config(&base, &r.given));
        let mut both = r.given.clone();
        both.extend(r.set.iter().cloned());
        let after = derive(&config(&base, &both));
        let unit = if r.key.starts_with("service.") {
            "s"
        } else {
            "m"
        };
        let (was, now) = ((r.observe)(&before, unit), (r.observe)(&after, unit));
        if was == now {
            ignored.push(format!("{}: {was}", r.key));
        }
    }
    assert!(
        ignored.is_empty(),
        "keys whose setting changed nothing:\n{}",
        ignored.join("\n")
    );
}

#[test]
fn the_walk_sees_a_key_that_changes_nothing() {
    // The walk can fail: an observation that does not depend on the key is caught.
    let base = base();
    let r = row(
        "memory.headroom",
        &[("memory.headroom", Some("0.3"))],
        |d, _| format!("{:?}", d.settings.retention),
    );
    let before = derive(&config(&base, &r.given));
    let after = derive(&config(&base, &r.set));
    assert_eq!((r.observe)(&before, "m"), (r.observe)(&after, "m"));
}
