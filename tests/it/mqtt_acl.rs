//! Per-device access control with the shipped Mosquitto ACL (`packaging/mosquitto/jetgate.acl`)
//! on a TLS listener that makes each client certificate's CN its username: device A cannot
//! command device B, forge B's presence or events, nor read B's events, while each device's
//! own link and the operator's view of the fleet work.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::disallowed_methods)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use crate::broker::{free_port, make_pki, Broker};
use crate::harness::{wait_for, Agent};
use crate::mqtt::mqtt_section;

/// The shipped ACL, exactly as the packages install it.
fn shipped_acl() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("packaging/mosquitto/jetgate.acl")
}

/// A TLS listener of the broker and the certificates of every identity in the test.
struct Tls {
    dir: PathBuf,
    port: u16,
}

impl Tls {
    /// `mosquitto_sub`/`mosquitto_pub` arguments that connect as `identity` (its CN).
    fn client_args(&self, identity: &str) -> Vec<String> {
        let file = |ext: &str| format!("{}/fleet-{identity}.{ext}", self.dir.display());
        vec![
            "-h".into(),
            "localhost".into(),
            "-p".into(),
            self.port.to_string(),
            "--cafile".into(),
            format!("{}/fleet-ca.pem", self.dir.display()),
            "--cert".into(),
            file("pem"),
            "--key".into(),
            file("key"),
        ]
    }

    /// The agent's `[mqtt]` TLS keys for `identity`.
    fn agent_files(&self, identity: &str) -> String {
        format!(
            "ca = \"{0}/fleet-ca.pem\"\ncert = \"{0}/fleet-{identity}.pem\"\nkey = \"{0}/fleet-{identity}.key\"\n",
            self.dir.display()
        )
    }

    /// Publishes with MQTT 5 (so a refusal comes back as a reason code) and returns what the
    /// client printed.
    fn publish(&self, identity: &str, topic: &str, payload: &str, retain: bool) -> String {
        let mut cmd = Command::new("mosquitto_pub");
        cmd.args(self.client_args(identity))
            .args(["-V", "mqttv5", "-q", "1", "-t", topic, "-m", payload]);
        if retain {
            cmd.arg("-r");
        }
        let out = cmd
            .output()
            .expect("mosquitto_pub (package mosquitto-clients) must be installed");
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    }
}

/// A `mosquitto_sub` connected as one identity, its output (`topic payload` lines) in a file.
struct CliSub {
    child: Child,
    out: PathBuf,
}

impl CliSub {
    fn start(tls: &Tls, identity: &str, topics: &[&str]) -> CliSub {
        let out = tls.dir.join(format!("sub-{identity}-{}.txt", free_port()));
        // Line-buffered, so the debug line that says the subscription is granted reaches the file.
        let mut cmd = Command::new("stdbuf");
        cmd.args(["-oL", "mosquitto_sub"])
            .args(tls.client_args(identity))
            .args(["-V", "mqttv311", "-q", "1", "-v", "-d"]);
        for t in topics {
            cmd.args(["-t", t]);
        }
        let child = cmd
            .stdout(std::fs::File::create(&out).unwrap())
            .stderr(Stdio::null())
            .spawn()
            .expect("mosquitto_sub (package mosquitto-clients) must be installed");
        let sub = CliSub { child, out };
        wait_for(Duration::from_secs(10), "the subscription", || {
            sub.text().contains("Subscribed (mid").then_some(())
        });
        sub
    }

    fn text(&self) -> String {
        std::fs::read_to_string(&self.out).unwrap_or_default()
    }

    /// The message lines (`topic payload`), without the client's debug lines.
    fn messages(&self) -> Vec<String> {
        self.text()
            .lines()
            .filter(|l| l.starts_with("jetgate/"))
            .map(str::to_string)
            .collect()
    }

    fn wait(&self, what: &str, f: impl Fn(&str) -> bool) -> String {
        wait_for(Duration::from_secs(30), what, || {
            self.messages().into_iter().find(|m| f(m))
        })
    }
}

impl Drop for CliSub {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn with_the_shipped_acl_a_device_reaches_only_its_own_topics_and_the_operator_reaches_all() {
    let mut broker = Broker::start("");
    let dir = broker.dir.path().to_path_buf();
    make_pki(
        &dir,
        "fleet",
        &[
            ("server", "DNS:localhost,IP:127.0.0.1"),
            ("dev-a", "DNS:dev-a"),
            ("dev-b", "DNS:dev-b"),
            ("fleet-operator", "DNS:fleet-operator"),
        ],
    );
    let tls = Tls {
        dir: dir.clone(),
        port: free_port(),
    };
    let conf = std::fs::read_to_string(dir.join("mosquitto.conf")).unwrap();
    let conf = format!(
        "{conf}acl_file {acl}\nlistener {port} 127.0.0.1\ncafile {d}/fleet-ca.pem\n\
         certfile {d}/fleet-server.pem\nkeyfile {d}/fleet-server.key\nrequire_certificate true\n\
         use_identity_as_username true\n",
        acl = shipped_acl().display(),
        port = tls.port,
        d = dir.display()
    );
    std::fs::write(dir.join("mosquitto.conf"), conf).unwrap();
    broker.stop();
    broker.spawn();
    wait_for(Duration::from_secs(10), "the TLS listener", || {
        std::net::TcpStream::connect(("127.0.0.1", tls.port)).ok()
    });

    let operator = CliSub::start(
        &tls,
        "fleet-operator",
        &[
            "jetgate/+/status",
            "jetgate/+/events",
            "jetgate/+/cmd/response",
        ],
    );
    // Device A's identity listening to everything it can: only its own commands may arrive.
    let spy = CliSub::start(&tls, "dev-a", &["jetgate/#"]);
    let url = format!("mqtts://localhost:{}", tls.port);
    let _a = Agent::start(&mqtt_section("dev-a", &url, &tls.agent_files("dev-a")));
    let b = Agent::start(&mqtt_section("dev-b", &url, &tls.agent_files("dev-b")));
    for device in ["dev-a", "dev-b"] {
        let topic = format!("jetgate/{device}/status ");
        operator.wait(&format!("{device} online, seen by the operator"), |m| {
            m.starts_with(&topic) && m.contains("\"online\":true")
        });
    }

    // A's forgeries on B's topics: each refused by the broker (MQTT 5 reason "Not authorized").
    let forged_command = r#"{"id":"forged-by-a","action":"note","text":"forged by dev-a"}"#;
    let forgeries = [
        ("jetgate/dev-b/cmd/request", forged_command, false),
        ("jetgate/dev-b/status", r#"{"online":false}"#, true),
        ("jetgate/dev-b/events", r#"{"seq":1,"kind":"note"}"#, false),
    ];
    for (topic, payload, retain) in forgeries {
        let said = tls.publish("dev-a", topic, payload, retain);
        assert!(
            said.contains("Not authorized"),
            "dev-a publishing on {topic} was not refused: {said}"
        );
    }

    // The operator commands both devices; each answers on its own topics.
    let said = tls.publish(
        "fleet-operator",
        "jetgate/dev-b/cmd/request",
        r#"{"id":"op-b","action":"note","text":"operator to dev-b"}"#,
        false,
    );
    assert!(!said.contains("Not authorized"), "{said}");
    operator.wait("dev-b's answer to the operator", |m| {
        m.starts_with("jetgate/dev-b/cmd/response ") && m.contains("\"op-b\"")
    });
    operator.wait("dev-b's note event", |m| {
        m.starts_with("jetgate/dev-b/events ") && m.contains("operator to dev-b")
    });
    tls.publish(
        "fleet-operator",
        "jetgate/dev-a/cmd/request",
        r#"{"id":"op-a","action":"note","text":"operator to dev-a"}"#,
        false,
    );
    operator.wait("dev-a's answer to the operator", |m| {
        m.starts_with("jetgate/dev-a/cmd/response ") && m.contains("\"op-a\"")
    });
    // The broker queues to one subscriber in order: once the spy has the command to A, sent
    // after B's note event reached the broker, anything of B's it could read would be there.
    spy.wait("dev-a's own command, seen by dev-a's identity", |m| {
        m.starts_with("jetgate/dev-a/cmd/request ") && m.contains("\"op-a\"")
    });

    let leaked: Vec<String> = spy
        .messages()
        .into_iter()
        .filter(|m| !m.starts_with("jetgate/dev-a/cmd/request "))
        .collect();
    assert!(leaked.is_empty(), "dev-a's identity read: {leaked:?}");
    let answered_forgery = operator
        .messages()
        .into_iter()
        .find(|m| m.contains("forged"));
    assert_eq!(answered_forgery, None, "a forgery got through");
    assert!(
        !operator
            .messages()
            .iter()
            .any(|m| m.starts_with("jetgate/dev-b/status ") && m.contains("\"online\":false")),
        "dev-b's presence was forged"
    );
    let b_events = b.events();
    assert!(
        b_events
            .iter()
            .any(|e| e.to_string().contains("operator to dev-b")),
        "dev-b has no note from the operator: {b_events:?}"
    );
    assert!(
        !b_events.iter().any(|e| e.to_string().contains("forged")),
        "dev-b acted on dev-a's command: {b_events:?}"
    );
}
