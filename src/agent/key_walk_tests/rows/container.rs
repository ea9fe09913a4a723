//! The key walk's rows for `container = { ... }` of a `[[model]]` or `[[service]]`: each key
//! shows in the runner's spec of the unit.

use super::super::{Observe, Row};
use super::{given, row};

/// The rows for `kind` (`model` or `service`), every path already prefixed with it.
pub(super) fn rows(kind: &str) -> Vec<Row> {
    let k = |suffix: &str| format!("{kind}.{suffix}");
    let spec: Observe = |d, n| format!("{:?}", d.launch(n).spec);
    let image = "{ engine = \"podman\", image = \"localhost/i:1\" }";
    let as_container = [
        (k("command"), None),
        (k("container"), Some(image.to_string())),
    ];
    let owned: Vec<(&str, Option<&str>)> = as_container
        .iter()
        .map(|(p, v)| (p.as_str(), v.as_deref()))
        .collect();
    let mut rows = vec![row(&k("container"), &owned, spec)];
    for (key, value) in [
        ("engine", "\"docker\""),
        ("image", "\"localhost/i@sha256:0000000000000000000000000000000000000000000000000000000000000000\""),
        ("args", "[\"--port\", \"8080\"]"),
        ("options", "[\"--runtime\", \"nvidia\"]"),
        ("cgroup_manager", "\"systemd\""),
    ] {
        let path = k(&format!("container.{key}"));
        rows.push(given(row(&path, &[(&path, Some(value))], spec), &owned));
    }
    rows
}
