//! The key walk's rows for `[mqtt]`: each key shows in the client options or in the link the
//! agent builds.

use super::super::Row;
use super::{given, manifest_file, row};

pub(super) fn rows() -> Vec<Row> {
    let mut rows = vec![
        row(
            "mqtt.url",
            &[("mqtt.url", Some("\"mqtts://other:9999\""))],
            |d, _| d.mqtt_options(),
        ),
        row(
            "mqtt.prefix",
            &[("mqtt.prefix", Some("\"fleet/site\""))],
            |d, _| d.link(),
        ),
        row(
            "mqtt.ca",
            &[("mqtt.ca", Some("\"/nonexistent/ca.pem\""))],
            |d, _| d.mqtt_options(),
        ),
        row(
            "mqtt.username",
            &[("mqtt.username", Some("\"walker\""))],
            |d, _| d.mqtt_options(),
        ),
        row(
            "mqtt.state_interval",
            &[("mqtt.state_interval", Some("\"1m\""))],
            |d, _| d.link(),
        ),
        row(
            "mqtt.telemetry_interval",
            &[("mqtt.telemetry_interval", Some("\"1m\""))],
            |d, _| d.link(),
        ),
        row(
            "mqtt.outbox_limit",
            &[("mqtt.outbox_limit", Some("\"8MiB\""))],
            |d, _| d.link(),
        ),
        row(
            "mqtt.client_id",
            &[("mqtt.client_id", Some("\"me\""))],
            |d, _| d.mqtt_options(),
        ),
        row(
            "mqtt.homeassistant",
            &[("mqtt.homeassistant", Some("true"))],
            |d, _| d.link(),
        ),
        row(
            "mqtt.connect_spread",
            &[("mqtt.connect_spread", Some("\"1m\""))],
            |d, _| d.link(),
        ),
        row(
            "mqtt.backlog_rate",
            &[("mqtt.backlog_rate", Some("50"))],
            |d, _| d.link(),
        ),
        row(
            "mqtt.max_payload",
            &[("mqtt.max_payload", Some("\"64KiB\""))],
            |d, _| d.link(),
        ),
        row(
            "mqtt.protocol",
            &[("mqtt.protocol", Some("\"5\""))],
            |d, _| d.link(),
        ),
    ];
    let v5 = [("mqtt.protocol", Some("\"5\""))];
    rows.push(given(
        row(
            "mqtt.session_expiry",
            &[("mqtt.session_expiry", Some("\"2h\""))],
            |d, _| d.link(),
        ),
        &v5,
    ));
    rows.push(given(
        row(
            "mqtt.will_delay",
            &[("mqtt.will_delay", Some("\"5s\""))],
            |d, _| d.link(),
        ),
        &v5,
    ));
    let file = format!("\"{}\"", manifest_file());
    let both = [
        ("mqtt.cert", Some(file.as_str())),
        ("mqtt.key", Some(file.as_str())),
    ];
    rows.push(given(
        row(
            "mqtt.cert",
            &[("mqtt.cert", Some("\"/nonexistent/cert.pem\""))],
            |d, _| d.mqtt_options(),
        ),
        &both,
    ));
    rows.push(given(
        row(
            "mqtt.key",
            &[("mqtt.key", Some("\"/nonexistent/key.pem\""))],
            |d, _| d.mqtt_options(),
        ),
        &both,
    ));
    rows.push(given(
        row(
            "mqtt.password_file",
            &[("mqtt.password_file", Some(file.as_str()))],
            |d, _| d.mqtt_options(),
        ),
        &[("mqtt.username", Some("\"walker\""))],
    ));
    rows
}
