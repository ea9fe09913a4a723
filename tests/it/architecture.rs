//! `docs/architecture.md` draws the agent with the names of real types and functions: every
//! name in its data-flow diagram must exist in the source, so the drawing cannot drift from
//! the code unnoticed.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a test: a missing file or heading is its failure

use std::path::{Path, PathBuf};

use regex::Regex;

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Every `.rs` file under `dir`, with its text.
fn sources(dir: &Path, out: &mut Vec<(PathBuf, String)>) {
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        let path = entry.path();
        if path.is_dir() {
            sources(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push((path.clone(), std::fs::read_to_string(&path).unwrap()));
        }
    }
}

/// The first fenced block under the "Data flows one way" heading.
fn diagram(doc: &str) -> &str {
    let section = &doc[doc
        .find("## Data flows one way")
        .expect("the diagram's heading")..];
    let start = section.find("```text\n").expect("a text block") + "```text\n".len();
    let end = section[start..].find("```").expect("the block's end");
    &section[start..start + end]
}

/// Why `name` does not resolve in `code` (`None`: it exists). Names are `Type`,
/// `Type::method`, `Type::Variant` or `module::function`.
fn missing(name: &str, code: &[(PathBuf, String)]) -> Option<String> {
    let defines = |kind: &str, ty: &str| {
        let re = Regex::new(&format!(r"(?m)^\s*pub(\([a-z]+\))? {kind} {ty}\b")).unwrap();
        code.iter().find(|(_, text)| re.is_match(text))
    };
    let type_def = |ty: &str| {
        ["struct", "enum", "trait", "type"]
            .iter()
            .find_map(|kind| defines(kind, ty))
    };
    let Some((head, tail)) = name.split_once("::") else {
        return type_def(name).is_none().then(|| format!("no type {name}"));
    };
    let fn_re = Regex::new(&format!(r"\bfn {tail}\b")).unwrap();
    if head.chars().next().is_some_and(|c| c.is_ascii_lowercase()) {
        // module::function: a file named after the module defines it.
        let found = code.iter().any(|(path, text)| {
            let stem = path.file_stem().and_then(|s| s.to_str());
            let parent = path
                .parent()
                .and_then(|p| p.file_name())
                .and_then(|s| s.to_str());
            (stem == Some(head) || (stem == Some("mod") && parent == Some(head)))
                && fn_re.is_match(text)
        });
        return (!found).then(|| format!("no fn {tail} in a module {head}"));
    }
    if tail.chars().next().is_some_and(|c| c.is_ascii_uppercase()) {
        // Type::Variant: in the enum's body.
        let Some((_, text)) = defines("enum", head) else {
            return Some(format!("no enum {head}"));
        };
        let re = Regex::new(&format!(r"(?m)^\s*pub(\([a-z]+\))? enum {head}\b")).unwrap();
        let start = re.find(text).unwrap().start();
        let body = &text[start..start + text[start..].find("\n}").unwrap_or(text.len() - start)];
        let variant = Regex::new(&format!(r"(?m)^\s+{tail}\b")).unwrap();
        return (!variant.is_match(body)).then(|| format!("enum {head} has no variant {tail}"));
    }
    // Type::method: a file with an impl of the type defines the fn after it.
    let impl_re = Regex::new(&format!(r"(?m)^impl(<[^>]*>)? ([\w:<>]+ for )?{head}\b")).unwrap();
    let found = code.iter().any(|(_, text)| {
        impl_re
            .find_iter(text)
            .any(|m| fn_re.is_match(&text[m.start()..]))
    });
    (!found).then(|| format!("no fn {tail} in an impl of {head}"))
}

/// The names the diagram uses: paths like `Engine::input` and CamelCase type names.
fn names(diagram: &str) -> Vec<String> {
    let re = Regex::new(
        r"\b[A-Za-z_][A-Za-z0-9_]*(::[A-Za-z_][A-Za-z0-9_]*)+|\b[A-Z][a-z]+[A-Z]?[A-Za-z0-9]*\b",
    )
    .unwrap();
    let mut out: Vec<String> = re
        .find_iter(diagram)
        .map(|m| m.as_str().to_string())
        .filter(|n| !["Vec"].contains(&n.as_str()))
        .collect();
    out.sort();
    out.dedup();
    out
}

fn code() -> Vec<(PathBuf, String)> {
    let mut code = Vec::new();
    sources(&repo().join("src"), &mut code);
    code
}

#[test]
fn every_name_in_the_architecture_diagram_exists_in_the_code() {
    let doc = std::fs::read_to_string(repo().join("docs/architecture.md")).unwrap();
    let names = names(diagram(&doc));
    assert!(
        names.len() >= 20,
        "the diagram names the real parts: {names:?}"
    );
    let code = code();
    let missing: Vec<String> = names.iter().filter_map(|n| missing(n, &code)).collect();
    assert!(
        missing.is_empty(),
        "docs/architecture.md names what the code does not have: {missing:?}"
    );
}

#[test]
fn the_check_tells_a_made_up_name_from_a_real_one() {
    let code = code();
    for real in [
        "Engine",
        "Engine::input",
        "Input::Tree",
        "sampling::run",
        "Tasks::shutdown",
    ] {
        assert_eq!(missing(real, &code), None, "{real}");
    }
    for made_up in [
        "Scheduler",
        "Engine::step",
        "Input::Command",
        "ChildEvent",
        "sampling::step",
    ] {
        assert!(
            missing(made_up, &code).is_some(),
            "{made_up} does not exist"
        );
    }
}

#[test]
fn every_module_of_the_library_is_in_the_architecture_table() {
    let doc = std::fs::read_to_string(repo().join("docs/architecture.md")).unwrap();
    let lib = std::fs::read_to_string(repo().join("src/lib.rs")).unwrap();
    let modules: Vec<&str> = lib
        .lines()
        .filter_map(|l| l.strip_prefix("pub mod "))
        .map(|m| m.trim_end_matches(';'))
        .collect();
    assert!(modules.len() >= 20, "{modules:?}");
    for m in modules {
        assert!(
            doc.contains(&format!("| `src/{m}.rs")) || doc.contains(&format!("| `src/{m}/")),
            "docs/architecture.md's module table lacks src/{m}"
        );
        assert!(
            lib.contains(&format!("[`{m}`]")),
            "src/lib.rs's overview lacks [`{m}`]"
        );
    }
}

#[test]
fn modules_follow_the_file_convention_no_mod_rs_and_no_path_attributes() {
    let mut code = code();
    for krate in std::fs::read_dir(repo().join("crates")).unwrap().flatten() {
        sources(&krate.path().join("src"), &mut code);
    }
    assert!(code.len() > 100, "the sources were found");
    let breaks: Vec<String> = code
        .iter()
        .filter_map(|(path, text)| {
            let name = path.file_name()?.to_str()?;
            if name == "mod.rs" {
                return Some(format!("{}: a mod.rs", path.display()));
            }
            text.lines()
                .any(|l| l.trim_start().starts_with("#[path"))
                .then(|| format!("{}: a #[path] attribute", path.display()))
        })
        .collect();
    assert!(
        breaks.is_empty(),
        "docs/architecture.md's conventions: {breaks:?}"
    );
}

/// The agent builds every event from its kind's typed figures (`NewEvent::new`); the untyped
/// builder is left to tests and examples that need a map no kind has. Production code is the
/// part of each file in `src/` before its `#[cfg(test)]`, in files that are not test files.
#[test]
fn the_agent_builds_no_event_from_untyped_figures() {
    let untyped: Vec<String> = code()
        .iter()
        .filter(|(path, _)| {
            path.file_name().is_some_and(|n| n != "tests.rs")
                && !path.components().any(|c| c.as_os_str() == "tests")
        })
        .filter_map(|(path, text)| {
            let production = text.split("#[cfg(test)]").next().unwrap_or(text);
            let calls = production
                .lines()
                .filter(|l| l.contains("untyped(") && !l.contains("pub fn untyped("))
                .count();
            (calls > 0).then(|| format!("{} ({calls})", path.display()))
        })
        .collect();
    assert!(
        untyped.is_empty(),
        "events built from untyped figures outside tests: {untyped:?}"
    );
}
