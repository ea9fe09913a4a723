use crate::config::Config;

fn problems(text: &str) -> String {
    match Config::from_toml_str(text) {
        Ok(_) => String::new(),
        Err(p) => format!("{p:?}"),
    }
}

const PIN: &str = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

#[test]
fn a_container_unit_reads_engine_image_args_and_options() {
    let text = format!(
        r#"
[[model]]
name = "llm"
container = {{ engine = "podman", image = "localhost/llama@{PIN}", args = ["-m", "/m.gguf"], options = ["--runtime", "nvidia"] }}
memory = "1GiB"
ready = {{ tcp = "127.0.0.1:8080" }}

[[service]]
name = "web"
container = {{ engine = "docker", image = "nginx:1", cgroup_manager = "systemd" }}
"#
    );
    let config = Config::from_toml_str(&text).unwrap();
    let c = config.models[0].program.container.as_ref().unwrap();
    assert_eq!(c.engine, super::Engine::Podman);
    assert_eq!(c.args, ["-m", "/m.gguf"]);
    assert_eq!(c.options, ["--runtime", "nvidia"]);
    assert_eq!(c.digest().as_deref(), Some(PIN));
    assert_eq!(c.cgroup_manager, super::CgroupManager::Cgroupfs);
    let web = config.services[0].program.container.as_ref().unwrap();
    assert_eq!(web.engine, super::Engine::Docker);
    assert_eq!(web.cgroup_manager, super::CgroupManager::Systemd);
    assert_eq!(web.digest(), None);
    assert!(config.models[0].program.command.is_none());
}

#[test]
fn a_command_that_runs_an_engine_is_refused_with_a_pointer_to_container() {
    for engine in ["docker", "podman", "/usr/bin/podman"] {
        let p = problems(&format!(
            "[[service]]\nname = \"s\"\ncommand = [\"{engine}\", \"run\", \"--rm\", \"img\"]\n"
        ));
        assert!(p.contains("container = {"), "{engine}: {p}");
        assert!(p.contains("`command` runs"), "{p}");
    }
    // Other engine subcommands, and a `run` of some other program, are commands like any.
    assert_eq!(
        problems("[[service]]\nname = \"s\"\ncommand = [\"docker\", \"logs\", \"-f\", \"x\"]\n"),
        ""
    );
    assert_eq!(
        problems("[[service]]\nname = \"s\"\ncommand = [\"/bin/task\", \"run\"]\n"),
        ""
    );
}

#[test]
fn exactly_one_of_command_and_container_says_what_to_run() {
    let both = problems(
        "[[service]]\nname = \"s\"\ncommand = [\"/bin/x\"]\ncontainer = { engine = \"podman\", image = \"i\" }\n",
    );
    assert!(both.contains("keep one"), "{both}");
    let neither = problems("[[service]]\nname = \"s\"\n");
    assert!(neither.contains("say what to run"), "{neither}");
}

#[test]
fn options_jetgate_owns_and_bad_images_are_refused() {
    let p = |c: &str| problems(&format!("[[service]]\nname = \"s\"\ncontainer = {c}\n"));
    for option in [
        "\"--name\", \"x\"",
        "\"--rm\"",
        "\"-d\"",
        "\"--cgroup-parent=/x\"",
        "\"--replace\"",
    ] {
        let text = p(&format!(
            "{{ engine = \"podman\", image = \"i\", options = [{option}] }}"
        ));
        assert!(text.contains("may not set"), "{option}: {text}");
    }
    for label in [
        "\"--label\", \"io.jetgate.unit=x\"",
        "\"--label=io.jetgate.instance=y\"",
    ] {
        let text = p(&format!(
            "{{ engine = \"podman\", image = \"i\", options = [{label}] }}"
        ));
        assert!(text.contains("io.jetgate."), "{label}: {text}");
    }
    assert_eq!(
        p("{ engine = \"podman\", image = \"i\", options = [\"--label\", \"team=ml\"] }"),
        ""
    );
    assert!(p("{ engine = \"podman\", image = \"\" }").contains("non-empty"));
    assert!(p("{ engine = \"podman\", image = \"a b\" }").contains("without spaces"));
    assert!(p("{ engine = \"podman\", image = \"i@sha256:abc\" }").contains("64 hex"));
    assert!(p("{ engine = \"podman\", image = \"i@md5:abc\" }").contains("64 hex"));
    assert!(p("{ engine = \"lxc\", image = \"i\" }").contains("podman"));
    assert!(p("{ engine = \"podman\", image = \"i\", volume = \"/x\" }").contains("volume"));
}

#[test]
fn a_container_has_no_cwd_of_its_own() {
    let text = problems(
        "[[service]]\nname = \"s\"\ncwd = \"/tmp\"\ncontainer = { engine = \"podman\", image = \"i\" }\n",
    );
    assert!(text.contains("--workdir"), "{text}");
}
