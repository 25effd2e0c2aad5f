//! The house rules, checked on the source itself (as rust-analyzer's tidy tests do):
//! each layer uses only the layers below it, only `scenario` knows TOML, no source file
//! grows past 600 lines unless ARCHITECTURE.md says why, and every `unsafe` block says
//! why it is sound.

use std::fs;
use std::path::{Path, PathBuf};

use crate::support::repo;

/// The layers, lowest first. A module may use its own layer and those before it.
const LAYERS: &[&[&str]] = &[
    &["model"],
    &["scenario"],
    &["error", "event"],
    &["engine"],
    &["log", "projection"],
    &["output"],
    &["commands"],
    &["cli"],
];

/// Longest source file, in lines, that needs no word in ARCHITECTURE.md.
const MAX_LINES: usize = 600;

fn layer_of(module: &str) -> Option<usize> {
    LAYERS.iter().position(|l| l.contains(&module))
}

/// Every `.rs` file under `dir`, sorted.
fn sources(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for entry in fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            out.extend(sources(&path));
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
    out.sort();
    out
}

/// `src/engine/hub.rs` -> `engine`; `src/error.rs` -> `error`.
fn module_of(src: &Path, file: &Path) -> String {
    let rel = file.strip_prefix(src).unwrap();
    let first = rel
        .components()
        .next()
        .unwrap()
        .as_os_str()
        .to_string_lossy();
    first.trim_end_matches(".rs").to_string()
}

/// The file's code before its tests.
fn code(text: &str) -> &str {
    text.find("#[cfg(test)]").map_or(text, |i| &text[..i])
}

/// The top-level modules a text names through `crate::` (`crate::Error` is `error`).
fn crate_paths(code: &str) -> Vec<String> {
    let mut found = Vec::new();
    let mut rest = code;
    while let Some(i) = rest.find("crate::") {
        rest = &rest[i + "crate::".len()..];
        let names: Vec<&str> = if let Some(group) = rest.strip_prefix('{') {
            let end = group.find('}').unwrap_or(group.len());
            group[..end].split(',').collect()
        } else {
            vec![rest]
        };
        for name in names {
            let name: String = name
                .trim()
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_')
                .collect();
            found.push(if name == "Error" {
                "error".to_string()
            } else {
                name
            });
        }
    }
    found
}

#[test]
fn each_layer_uses_only_the_layers_below_it() {
    let src = repo().join("src");
    let mut wrong = Vec::new();
    for file in sources(&src) {
        let module = module_of(&src, &file);
        let Some(own) = layer_of(&module) else {
            // lib.rs and main.rs stand above every layer.
            assert!(
                ["lib", "main"].contains(&module.as_str()),
                "{}: a module in no layer; add it to LAYERS and ARCHITECTURE.md",
                file.display()
            );
            continue;
        };
        let text = fs::read_to_string(&file).unwrap();
        for used in crate_paths(code(&text)) {
            match layer_of(&used) {
                Some(l) if l <= own => {}
                Some(_) => wrong.push(format!("{}: {module} uses {used}", file.display())),
                None => wrong.push(format!("{}: crate::{used} is in no layer", file.display())),
            }
        }
    }
    assert!(
        wrong.is_empty(),
        "imports against the layers:\n{}",
        wrong.join("\n")
    );
}

#[test]
fn only_the_scenario_layer_knows_toml() {
    let src = repo().join("src");
    let knows: Vec<String> = sources(&src)
        .into_iter()
        .filter(|f| module_of(&src, f) != "scenario")
        .filter(|f| {
            let text = fs::read_to_string(f).unwrap();
            let code = code(&text);
            code.contains("toml::") || code.contains("use toml")
        })
        .map(|f| f.display().to_string())
        .collect();
    assert!(knows.is_empty(), "TOML outside src/scenario: {knows:?}");
}

#[test]
fn long_files_are_explained_in_architecture_md() {
    let architecture = fs::read_to_string(repo().join("ARCHITECTURE.md")).unwrap();
    let src = repo().join("src");
    let mut unexplained = Vec::new();
    for file in sources(&src) {
        let lines = fs::read_to_string(&file).unwrap().lines().count();
        let rel = file.strip_prefix(repo()).unwrap().display().to_string();
        if lines > MAX_LINES && !architecture.contains(&format!("`{rel}` (")) {
            unexplained.push(format!("{rel}: {lines} lines"));
        }
    }
    assert!(
        unexplained.is_empty(),
        "files over {MAX_LINES} lines without an entry (`path` (why)) under ARCHITECTURE.md's \
         long files: {unexplained:?}"
    );
}

#[test]
fn every_unsafe_block_says_why_it_is_sound() {
    let src = repo().join("src");
    let mut silent = Vec::new();
    for file in sources(&src) {
        let text = fs::read_to_string(&file).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        for (i, line) in lines.iter().enumerate() {
            let code = line.split("//").next().unwrap_or("");
            if !code.contains("unsafe {") {
                continue;
            }
            let said = lines[i.saturating_sub(4)..=i]
                .iter()
                .any(|l| l.contains("SAFETY:"));
            if !said {
                silent.push(format!("{}:{}", file.display(), i + 1));
            }
        }
    }
    assert!(
        silent.is_empty(),
        "unsafe blocks without a SAFETY comment: {silent:?}"
    );
}

#[test]
fn the_tidy_checks_see_what_they_look_for() {
    // The checks above would pass vacuously if the parsing went wrong.
    assert_eq!(
        crate_paths("use crate::{model::Scenario, Error};\nlet x = crate::engine::DAY_S;"),
        ["model", "error", "engine"]
    );
    assert_eq!(code("a\n#[cfg(test)]\nb"), "a\n");
    assert!(sources(&repo().join("src")).len() > 20);
}
