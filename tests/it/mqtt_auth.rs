//! Broker credentials: a username with a password read from a file connects; refused
//! credentials give one clear error event, retries in minutes (the broker sees one attempt
//! in 20 s, not the five or so of the normal backoff), and an agent that stays up, over MQTT
//! 3.1.1 and 5 alike, the event carrying the broker's reason code.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::disallowed_methods)]

use std::process::Command;
use std::time::Duration;

use jetgate::event::EventKind;

use crate::broker::Broker;
use crate::harness::{wait_for, Agent};
use crate::mqtt::mqtt_section;

#[test]
fn a_password_from_a_file_connects_and_refused_credentials_back_off_without_crashing() {
    let mut broker = Broker::start("");
    let dir = broker.dir.path().to_path_buf();
    let passwords = dir.join("passwd");
    let made = Command::new("mosquitto_passwd")
        .args(["-c", "-b"])
        .arg(&passwords)
        .args(["dev-auth", "s3cret-Pass"])
        .status()
        .expect("mosquitto_passwd (package mosquitto) must be installed");
    assert!(made.success());
    let conf = std::fs::read_to_string(dir.join("mosquitto.conf")).unwrap();
    let conf = conf.replace("allow_anonymous true", "allow_anonymous false")
        + &format!("password_file {}\n", passwords.display());
    std::fs::write(dir.join("mosquitto.conf"), conf).unwrap();
    broker.stop();
    broker.spawn();

    let secret = |name: &str, text: &str| {
        let path = dir.join(name);
        std::fs::write(&path, text).unwrap();
        format!(
            "username = \"dev-auth\"\npassword_file = \"{}\"\n",
            path.display()
        )
    };
    let good = Agent::start(&mqtt_section(
        "dev-auth",
        &broker.url(),
        &secret("good.pw", "s3cret-Pass\n"),
    ));
    let connected = wait_for(Duration::from_secs(30), "the good agent connected", || {
        good.events()
            .into_iter()
            .find(|e| e["kind"] == EventKind::MqttConnected.as_str())
    });
    assert_eq!(connected["subject"], serde_json::Value::Null, "{connected}");

    // Wrong passwords over both protocols at once, as two devices of the same user.
    let wrong = secret("bad.pw", "wrong\n");
    let bad = Agent::start(&mqtt_section("dev-bad4", &broker.url(), &wrong));
    let bad5 = Agent::start(&mqtt_section(
        "dev-bad5",
        &broker.url(),
        &format!("{wrong}protocol = \"5\"\n"),
    ));
    for (agent, protocol) in [(&bad, "3.1.1"), (&bad5, "5")] {
        let failed = wait_for(Duration::from_secs(30), "the refusal event", || {
            agent
                .events()
                .into_iter()
                .find(|e| e["kind"] == EventKind::MqttConnectFailed.as_str())
        });
        assert_eq!(
            failed["severity"], "error",
            "refused credentials need an operator: {failed}"
        );
        let error = failed["figures"]["error"].as_str().unwrap().to_lowercase();
        assert!(
            error.contains("refused")
                || error.contains("not authorized")
                || error.contains("bad user"),
            "the error names the refusal: {failed}"
        );
        let f = &failed["figures"];
        assert!(
            f["refusal"].is_string(),
            "the CONNACK code is named: {failed}"
        );
        assert_eq!(f["backoff"], "refused", "{protocol}: {failed}");
        assert!(
            f["retry_in_ms"].as_u64() >= Some(60_000),
            "a refusal waits at least a minute: {failed}"
        );
        // The broker's own code: 3.1.1's return code 5 (not authorized), MQTT 5's reason code
        // 0x86 (bad user name or password) or 0x87 (not authorized: Mosquitto 2).
        let codes: &[u64] = if protocol == "5" { &[0x86, 0x87] } else { &[5] };
        let code = f["reason_code"].as_u64().unwrap();
        assert!(codes.contains(&code), "{protocol}: {failed}");
        assert!(
            f["reason"].as_str().unwrap().starts_with("connack "),
            "{failed}"
        );
    }
    // Over 20 s the broker sees one refused attempt of each (the normal backoff, 1 → 2 → 4 →
    // 8 s ceilings, would have made about five each), and the agents stay up.
    std::thread::sleep(Duration::from_secs(20));
    let log = std::fs::read_to_string(broker.path("mosquitto.log")).unwrap();
    // Mosquitto logs a refused client as `<unknown>`: two devices, two refusals in all.
    let refused = log.lines().filter(|l| l.contains("not authorised")).count();
    assert_eq!(refused, 2, "refused CONNECTs in 20 s:\n{log}");
    for agent in [&bad, &bad5] {
        assert!(std::path::Path::new(&format!("/proc/{}", agent.pid())).exists());
        assert!(agent
            .events()
            .iter()
            .all(|e| e["kind"] != EventKind::MqttConnected.as_str()));
        let status = agent.json(&["status", "--json"]);
        assert!(status["agent"]["pid"].as_u64().is_some(), "{status}");
    }
    drop(good);
}
