use crate::config::Config;

fn problems(text: &str) -> Vec<String> {
    match Config::from_toml_str(text) {
        Ok(c) => panic!("expected problems in:\n{text}\ngot {c:?}"),
        Err(p) => p.into_iter().map(|p| p.to_string()).collect(),
    }
}

#[test]
fn off_unless_named() {
    let c = Config::from_toml_str("").unwrap();
    assert_eq!(c.metrics.listen, None);
    assert_eq!(c.metrics.textfile, None);
    assert!(!c.metrics.enabled());
    assert!(c.summary().ends_with("metrics off"), "{}", c.summary());
    let c = Config::from_toml_str("[metrics]\n").unwrap();
    assert!(!c.metrics.enabled(), "an empty section opens nothing");
    assert!(!Config::embedded_default().metrics.enabled());
}

#[test]
fn takes_an_ip_and_port_and_a_prom_file() {
    let c = Config::from_toml_str(
        "[metrics]\nlisten = \"[::1]:9464\"\ntextfile = \"/var/lib/ne/jetgate.prom\"\n",
    )
    .unwrap();
    assert_eq!(c.metrics.listen.unwrap().0, "[::1]:9464".parse().unwrap());
    assert!(c.metrics.enabled());
    assert_eq!(
        c.metrics.summary(),
        "metrics on ([::1]:9464, textfile /var/lib/ne/jetgate.prom)"
    );
}

#[test]
fn refuses_a_host_name_a_missing_port_and_port_zero_at_their_line() {
    for (listen, says) in [
        ("localhost:9464", "is not an IP address and port"),
        ("127.0.0.1", "is not an IP address and port"),
        ("9464", "is not an IP address and port"),
        ("127.0.0.1:0", "needs a port other than 0"),
    ] {
        let p = problems(&format!("[device]\n[metrics]\nlisten = \"{listen}\"\n"));
        assert_eq!(p.len(), 1, "{p:?}");
        assert!(p[0].starts_with("3:"), "{p:?}");
        assert!(p[0].contains(says), "{listen}: {p:?}");
    }
}

#[test]
fn refuses_unknown_keys_and_a_textfile_node_exporter_would_not_read() {
    let p = problems("[metrics]\nport = 9464\n");
    assert!(
        p[0].contains("unknown field `port`, expected `listen` or `textfile`"),
        "{p:?}"
    );
    let p = problems("[metrics]\ntextfile = \"/var/lib/ne/jetgate.txt\"\n");
    assert!(p[0].contains("must name a file ending in .prom"), "{p:?}");
    let p = problems("[metrics]\ntextfile = \"jetgate.prom\"\n");
    assert!(p[0].contains("must be an absolute path"), "{p:?}");
}
