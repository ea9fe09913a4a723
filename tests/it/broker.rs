//! A real Mosquitto broker for the MQTT tests, on a free loopback port with a generated
//! config (persistence on, so a stopped and restarted broker keeps sessions and queues), and
//! a subscriber that records every message it gets.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::disallowed_methods,
    dead_code
)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rumqttc::{Client, Event, Incoming, MqttOptions, QoS};
use serde_json::Value;

use crate::harness::wait_for;

/// Where CI's package puts the broker (scripts/test.sh installs it).
pub fn mosquitto() -> PathBuf {
    let sbin = PathBuf::from("/usr/sbin/mosquitto");
    if sbin.exists() {
        sbin
    } else {
        PathBuf::from("mosquitto")
    }
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

pub struct Broker {
    pub port: u16,
    pub dir: tempfile::TempDir,
    conf: PathBuf,
    child: Option<Child>,
}

impl Broker {
    /// A plain listener on a free port; `extra` is appended to the config.
    pub fn start(extra: &str) -> Broker {
        let port = free_port();
        let dir = tempfile::tempdir().unwrap();
        let conf = dir.path().join("mosquitto.conf");
        // Mosquitto started as root drops to user `mosquitto`, which cannot read our 0600
        // keys or 0700 temp dirs: keep it as whoever runs the test.
        let user = nix::unistd::User::from_uid(nix::unistd::getuid())
            .ok()
            .flatten()
            .map_or("root".to_string(), |u| u.name);
        let text = format!(
            "user {user}\nper_listener_settings false\nallow_anonymous true\npersistence true\n\
             persistence_location {}/\nmax_queued_messages 200000\nlog_dest file {}\n\
             listener {port} 127.0.0.1\n{extra}\n",
            dir.path().display(),
            dir.path().join("mosquitto.log").display()
        );
        std::fs::write(&conf, text).unwrap();
        let mut broker = Broker {
            port,
            dir,
            conf,
            child: None,
        };
        broker.spawn();
        broker
    }

    /// Starts the broker (again) on the same port and config.
    pub fn spawn(&mut self) {
        let child = Command::new(mosquitto())
            .arg("-c")
            .arg(&self.conf)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("mosquitto must be installed (scripts/test.sh installs it)");
        self.child = Some(child);
        let port = self.port;
        wait_for(Duration::from_secs(10), "the broker to listen", || {
            std::net::TcpStream::connect(("127.0.0.1", port)).ok()
        });
    }

    /// SIGTERM (Mosquitto saves its persistence file) and wait.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let pid = nix::unistd::Pid::from_raw(child.id() as i32);
            let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM);
            let _ = child.wait();
        }
    }

    pub fn url(&self) -> String {
        format!("mqtt://127.0.0.1:{}", self.port)
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }
}

impl Drop for Broker {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

#[derive(Debug, Clone)]
pub struct Msg {
    pub topic: String,
    pub payload: Vec<u8>,
    pub retain: bool,
}

impl Msg {
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.payload).unwrap_or(Value::Null)
    }
}

/// A test client: subscribes (again at every ConnAck) and records every message.
pub struct Sub {
    pub client: Client,
    msgs: Arc<Mutex<Vec<Msg>>>,
    stop: Arc<AtomicBool>,
}

impl Sub {
    /// `clean = false` keeps a session on the broker (with persistence, across its restart).
    pub fn connect(port: u16, id: &str, clean: bool, topics: &[&str]) -> Sub {
        let mut o = MqttOptions::new(id, "127.0.0.1", port);
        o.set_clean_session(clean)
            .set_keep_alive(Duration::from_secs(5))
            .set_max_packet_size(4 << 20, 4 << 20);
        let (client, mut connection) = Client::new(o, 1024);
        let msgs = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let subscribed = Arc::new(AtomicBool::new(false));
        let topics: Vec<String> = topics.iter().map(|t| t.to_string()).collect();
        {
            let (client, msgs, stop, subscribed) = (
                client.clone(),
                msgs.clone(),
                stop.clone(),
                subscribed.clone(),
            );
            std::thread::spawn(move || {
                for event in connection.iter() {
                    if stop.load(Ordering::Relaxed) {
                        break;
                    }
                    match event {
                        Ok(Event::Incoming(Incoming::ConnAck(_))) => {
                            for t in &topics {
                                let _ = client.try_subscribe(t.clone(), QoS::AtLeastOnce);
                            }
                        }
                        Ok(Event::Incoming(Incoming::SubAck(_))) => {
                            subscribed.store(true, Ordering::Relaxed)
                        }
                        Ok(Event::Incoming(Incoming::Publish(p))) => {
                            msgs.lock().unwrap().push(Msg {
                                topic: p.topic,
                                payload: p.payload.to_vec(),
                                retain: p.retain,
                            })
                        }
                        Ok(_) => {}
                        Err(_) => std::thread::sleep(Duration::from_millis(200)),
                    }
                }
            });
        }
        wait_for(Duration::from_secs(10), "the subscription", || {
            subscribed.load(Ordering::Relaxed).then_some(())
        });
        Sub { client, msgs, stop }
    }

    /// Every message on every topic, in arrival order.
    pub fn all(&self) -> Vec<Msg> {
        self.msgs.lock().unwrap().clone()
    }

    pub fn messages(&self, topic: &str) -> Vec<Msg> {
        let all = self.msgs.lock().unwrap();
        all.iter().filter(|m| m.topic == topic).cloned().collect()
    }

    pub fn json(&self, topic: &str) -> Vec<Value> {
        self.messages(topic).iter().map(Msg::json).collect()
    }

    /// Waits until `f` finds what it wants among the JSON messages on `topic`.
    pub fn wait<T>(
        &self,
        topic: &str,
        what: &str,
        limit: Duration,
        f: impl Fn(&[Value]) -> Option<T>,
    ) -> T {
        wait_for(limit, what, || f(&self.json(topic)))
    }

    pub fn publish(&self, topic: &str, payload: Vec<u8>, retain: bool) {
        self.client
            .publish(topic, QoS::AtLeastOnce, retain, payload)
            .unwrap();
    }
}

impl Drop for Sub {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        let _ = self.client.try_disconnect();
    }
}

/// Runs the `openssl` CLI in `dir`; panics with its stderr on failure.
pub fn openssl(dir: &Path, args: &[&str]) {
    let out = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("the openssl CLI is needed to make test certificates");
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A CA (`<name>-ca.pem`, `<name>-ca.key`) and, signed by it, a leaf (`<name>-<leaf>.pem/.key`)
/// for each `(leaf, subjectAltName)`.
pub fn make_pki(dir: &Path, name: &str, leaves: &[(&str, &str)]) {
    let ca_key = format!("{name}-ca.key");
    let ca = format!("{name}-ca.pem");
    openssl(
        dir,
        &[
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
            "-keyout",
            &ca_key,
            "-out",
            &ca,
            "-days",
            "2",
            "-subj",
            &format!("/CN={name} test CA"),
            "-addext",
            "basicConstraints=critical,CA:TRUE",
            "-addext",
            "keyUsage=critical,keyCertSign,cRLSign",
        ],
    );
    for (leaf, san) in leaves {
        let key = format!("{name}-{leaf}.key");
        let csr = format!("{name}-{leaf}.csr");
        let pem = format!("{name}-{leaf}.pem");
        let ext = format!("{name}-{leaf}.ext");
        std::fs::write(
            dir.join(&ext),
            format!("basicConstraints=CA:FALSE\nsubjectAltName={san}\n"),
        )
        .unwrap();
        openssl(
            dir,
            &[
                "req",
                "-newkey",
                "ec",
                "-pkeyopt",
                "ec_paramgen_curve:P-256",
                "-nodes",
                "-keyout",
                &key,
                "-out",
                &csr,
                "-subj",
                &format!("/CN={leaf}"),
            ],
        );
        openssl(
            dir,
            &[
                "x509",
                "-req",
                "-in",
                &csr,
                "-CA",
                &ca,
                "-CAkey",
                &ca_key,
                "-CAcreateserial",
                "-out",
                &pem,
                "-days",
                "2",
                "-extfile",
                &ext,
            ],
        );
    }
}

/// VmRSS of a process in bytes.
pub fn rss(pid: i32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .unwrap()
        * 1024
}
