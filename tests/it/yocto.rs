//! The Yocto layer (`yocto/meta-jetgate`) kept in step with the code: the generated
//! `jetgate-crates.inc` must list exactly the crates.io packages of `Cargo.lock` with their
//! checksums (regenerate with `scripts/yocto-crates.sh`), and the recipe must install what
//! it names: the unit and the default config of `packaging/`, the files the Debian package
//! installs too (the config must parse), from a pinned source revision.
//!
//! ```text
//! crate://crates.io/anyhow/1.0.98 \                       one per package, lockfile order
//! SRC_URI[anyhow-1.0.98.sha256sum] = "<lockfile checksum>"
//! ```

#![allow(clippy::expect_used)]

use std::path::{Path, PathBuf};

const RECIPE_DIR: &str = "yocto/meta-jetgate/recipes-jetgate/jetgate";

/// One registry package: name, version, sha256 (`None` when the lockfile has no checksum).
type Crate = (String, String, Option<String>);

fn repo(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(path)
}

fn read(path: &str) -> String {
    std::fs::read_to_string(repo(path)).unwrap_or_else(|e| panic!("cannot read {path}: {e}"))
}

/// The crates.io packages of a lockfile, in file order (as oe-core's class selects them).
fn lock_crates(lock: &str) -> Vec<Crate> {
    let doc: toml::Table = lock.parse().expect("Cargo.lock parses");
    let packages = doc["package"].as_array().expect("[[package]] entries");
    let field = |p: &toml::Value, k: &str| p.get(k).and_then(|v| v.as_str()).map(str::to_string);
    packages
        .iter()
        .filter(|p| field(p, "source").is_some_and(|s| s.contains("crates.io")))
        .map(|p| {
            (
                field(p, "name").expect("name"),
                field(p, "version").expect("version"),
                field(p, "checksum"),
            )
        })
        .collect()
}

/// The crates an `.inc` fetches, in file order, each with its `sha256sum` flag.
fn inc_crates(inc: &str) -> Vec<Crate> {
    let sum = |key: &str| {
        let prefix = format!("SRC_URI[{key}.sha256sum] = \"");
        inc.lines()
            .find_map(|l| l.trim().strip_prefix(prefix.as_str()))
            .map(|rest| rest.trim_end_matches('"').to_string())
    };
    inc.lines()
        .filter_map(|l| l.trim().strip_prefix("crate://crates.io/"))
        .map(|rest| {
            let spec = rest.trim_end_matches('\\').trim();
            let spec = spec.split(';').next().unwrap_or(spec);
            let (name, version) = spec.split_once('/').expect("NAME/VERSION");
            let checksum = sum(&format!("{name}-{version}"));
            (name.to_string(), version.to_string(), checksum)
        })
        .collect()
}

/// Every difference between the lockfile's crates and the `.inc`'s, one line each.
fn staleness(lock: &[Crate], inc: &[Crate]) -> Vec<String> {
    let mut out = Vec::new();
    for c in lock.iter().filter(|c| !inc.contains(c)) {
        out.push(format!(
            "missing or wrong in .inc: {}/{} {:?}",
            c.0, c.1, c.2
        ));
    }
    for c in inc.iter().filter(|c| !lock.contains(c)) {
        out.push(format!("not in Cargo.lock: {}/{} {:?}", c.0, c.1, c.2));
    }
    if out.is_empty() && lock != inc {
        out.push("same crates in a different order".to_string());
    }
    out
}

#[test]
fn crates_inc_matches_cargo_lock() {
    let lock = lock_crates(&read("Cargo.lock"));
    let inc = inc_crates(&read(&format!("{RECIPE_DIR}/jetgate-crates.inc")));
    assert!(
        lock.len() > 50,
        "too few crates read from Cargo.lock: {}",
        lock.len()
    );
    let stale = staleness(&lock, &inc);
    assert!(
        stale.is_empty(),
        "jetgate-crates.inc is stale: run scripts/yocto-crates.sh and commit it\n{}",
        stale.join("\n")
    );
}

#[test]
fn a_new_or_bumped_crate_makes_the_inc_stale() {
    let lock = r#"
[[package]]
name = "jetgate"
version = "0.1.0"

[[package]]
name = "anyhow"
version = "1.0.98"
source = "registry+https://github.com/rust-lang/crates.io-index"
checksum = "aaaa"

[[package]]
name = "rumqttc"
version = "0.24.0"
source = "registry+https://github.com/rust-lang/crates.io-index"
checksum = "bbbb"
"#;
    let inc = "SRC_URI += \" \\\n    crate://crates.io/anyhow/1.0.97 \\\n\"\n\
               SRC_URI[anyhow-1.0.97.sha256sum] = \"aaaa\"\n";
    let stale = staleness(&lock_crates(lock), &inc_crates(inc));
    assert_eq!(stale.len(), 3, "{stale:?}");
    assert!(stale[0].contains("anyhow/1.0.98"), "{stale:?}");
    assert!(stale[1].contains("rumqttc/0.24.0"), "{stale:?}");
    assert!(
        stale[2].contains("not in Cargo.lock: anyhow/1.0.97"),
        "{stale:?}"
    );
    // A wrong checksum alone is stale too.
    let bad_sum = inc.replace("1.0.97", "1.0.98").replace("aaaa", "cccc");
    assert!(!staleness(&lock_crates(lock)[..1], &inc_crates(&bad_sum)).is_empty());
}

#[test]
fn recipe_fetches_offline_and_installs_binary_config_and_unit() {
    let recipe = read(&format!("{RECIPE_DIR}/jetgate_0.1.0.bb"));
    for needle in [
        "inherit cargo",
        "systemd",
        "require jetgate-crates.inc",
        "${S}/packaging/jetgate.service",
        "${S}/packaging/jetgate.toml",
        "${sysconfdir}/jetgate/jetgate.toml",
        "${systemd_system_unitdir}/jetgate.service",
        "JEMALLOC_SYS_WITH_LG_PAGE",
        "SYSTEMD_SERVICE:${PN} = \"jetgate.service\"",
    ] {
        assert!(recipe.contains(needle), "the recipe lacks `{needle}`");
    }
    // A pinned source, never AUTOREV (unreproducible, and it needs the network to parse).
    assert!(!recipe.contains("AUTOREV"), "the recipe must pin SRCREV");
    // The config the recipe installs must parse, and run models in the cgroup the unit
    // creates outside its own (the unit's MemoryMax= bounds the agent alone).
    let config = jetgate::config::Config::from_toml_str(&read("packaging/jetgate.toml"))
        .expect("the installed config parses");
    let scope = match &config.memory.scope {
        jetgate::config::MemoryScope::Cgroup(path) => path.display().to_string(),
        other => panic!("the installed config must use a cgroup scope, not {other:?}"),
    };
    // The control socket's group is the one the package and the recipe create.
    assert_eq!(config.control.group.as_deref(), Some("jetgate"));
    assert!(recipe.contains("GROUPADD_PARAM:${PN} = \"--system jetgate\""));
    let unit = read("packaging/jetgate.service");
    assert!(unit.contains("MemoryMax="));
    assert!(unit.contains("Delegate=yes"));
    assert!(
        unit.contains(&format!("/sys/fs/cgroup/memory{scope}"))
            && unit.contains(&format!("/sys/fs/cgroup{scope}")),
        "the unit must create the scope {scope} on cgroup v1 and v2"
    );
    let layer = read("yocto/meta-jetgate/conf/layer.conf");
    assert!(layer.contains("LAYERSERIES_COMPAT_meta-jetgate"));
    assert!(layer.contains("scarthgap") && layer.contains("kirkstone"));
}
