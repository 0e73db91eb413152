//! The layers of `src/` and their one-way dependencies, checked on the source text.
//!
//! `cli → app → core | adapters | ledger → config | util`: a module may use its own layer and
//! the layers below it, never one above. The core stays pure (no git2, AWS, tokio, octocrab,
//! HTTP, file or process IO), only the CLI reads the environment, and no two modules depend
//! on each other in a cycle. ARCHITECTURE.md explains the layers; this test keeps them true.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// The layers, and the layers each may use besides itself.
const LAYERS: [(&str, &[&str]); 7] = [
    ("util", &[]),
    ("config", &["util"]),
    ("core", &["config", "util"]),
    ("adapters", &["core", "config", "util"]),
    ("ledger", &["adapters", "core", "config", "util"]),
    ("app", &["ledger", "adapters", "core", "config", "util"]),
    (
        "cli",
        &["app", "ledger", "adapters", "core", "config", "util"],
    ),
];

/// What a layer must not name at all (crates and std modules), with why.
const FORBIDDEN: [(&str, &str, &str); 16] = [
    (
        "core",
        "git2::",
        "the core is pure: git goes through adapters::git",
    ),
    (
        "core",
        "aws_sdk_",
        "the core is pure: AWS goes through adapters::aws",
    ),
    (
        "core",
        "aws_config",
        "the core is pure: AWS goes through adapters::aws",
    ),
    ("core", "tokio", "the core is pure: no runtime"),
    (
        "core",
        "octocrab",
        "the core is pure: GitHub goes through adapters::github",
    ),
    (
        "core",
        "ureq",
        "the core is pure: HTTP goes through adapters",
    ),
    ("core", "std::fs", "the core is pure: no file IO"),
    ("core", "std::process", "the core is pure: no processes"),
    ("core", "std::env", "the core is pure: no environment"),
    ("config", "git2::", "config is data"),
    ("config", "aws_sdk_", "config is data"),
    ("config", "tokio", "config is data"),
    ("util", "git2::", "util is shared by every layer"),
    ("util", "aws_sdk_", "util is shared by every layer"),
    ("app", "clap", "the CLI parses arguments"),
    ("core", "clap", "the CLI parses arguments"),
];

/// Layers that must not read the process environment: the CLI reads it once
/// (`config::environ::Environ`) and passes it down.
const NO_ENV_READS: [&str; 6] = ["app", "adapters", "ledger", "core", "config", "util"];

struct Module {
    /// `core::plan`, `adapters::git`, ... (two levels: a folder's files count as one unit).
    unit: String,
    layer: String,
    file: PathBuf,
    /// Its text without comments and without its `#[cfg(test)]` module.
    code: String,
}

fn modules() -> Vec<Module> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    collect(&src, &mut files);
    let mut out = Vec::new();
    for file in files {
        let rel = file.strip_prefix(&src).expect("under src");
        let parts: Vec<String> = rel
            .with_extension("")
            .components()
            .map(|c| c.as_os_str().to_string_lossy().into_owned())
            .filter(|p| p != "mod")
            .collect();
        if parts.len() < 2 && rel.parent().is_none_or(|p| p.as_os_str().is_empty()) {
            continue; // lib.rs and main.rs
        }
        let text = std::fs::read_to_string(&file).expect("readable source");
        out.push(Module {
            // A layer's own mod.rs is the layer itself (`ledger`, `config`).
            unit: parts[..parts.len().min(2)].join("::"),
            layer: parts[0].clone(),
            file,
            code: without_tests_and_comments(&text),
        });
    }
    out
}

fn collect(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("src is readable") {
        let path = entry.expect("a directory entry").path();
        if path.is_dir() {
            collect(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

fn without_tests_and_comments(text: &str) -> String {
    let body = match text.find("#[cfg(test)]\nmod tests") {
        Some(i) => &text[..i],
        None => text,
    };
    body.lines()
        .map(|l| match l.find("//") {
            Some(i) => &l[..i],
            None => l,
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// Every `crate::LAYER::MODULE` a module names, as units.
fn uses(code: &str) -> BTreeSet<String> {
    let mut found = BTreeSet::new();
    for (i, _) in code.match_indices("crate::") {
        let rest = &code[i + "crate::".len()..];
        let path: Vec<&str> = rest
            .split(|c: char| !(c.is_alphanumeric() || c == '_' || c == ':'))
            .next()
            .unwrap_or("")
            .split("::")
            .collect();
        let layer = path[0];
        if !LAYERS.iter().any(|(l, _)| *l == layer) {
            continue;
        }
        match path
            .get(1)
            .filter(|m| !m.is_empty() && m.starts_with(char::is_lowercase))
        {
            Some(module) if layer != "config" && layer != "util" => {
                found.insert(format!("{layer}::{module}"));
            }
            _ => {
                found.insert(layer.to_string());
            }
        }
    }
    found
}

fn layer_of(unit: &str) -> &str {
    unit.split("::").next().unwrap_or(unit)
}

#[test]
fn every_layer_uses_only_the_layers_below_it() {
    let mut wrong = Vec::new();
    for m in modules() {
        let allowed = LAYERS
            .iter()
            .find(|(l, _)| *l == m.layer)
            .map(|(_, a)| *a)
            .unwrap_or_else(|| panic!("{}: `{}` is no layer", m.file.display(), m.layer));
        for used in uses(&m.code) {
            let to = layer_of(&used);
            if to != m.layer && !allowed.contains(&to) {
                wrong.push(format!("{} ({}) uses {used}", m.unit, m.file.display()));
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
fn the_core_stays_pure_and_only_the_cli_reads_the_environment() {
    let mut wrong = Vec::new();
    for m in modules() {
        for (layer, needle, why) in FORBIDDEN {
            if m.layer == layer && m.code.contains(needle) {
                wrong.push(format!("{} names `{needle}`: {why}", m.file.display()));
            }
        }
        if NO_ENV_READS.contains(&m.layer.as_str()) && m.code.contains("env::var") {
            wrong.push(format!(
                "{} reads the environment: the CLI does, and passes what it read",
                m.file.display()
            ));
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

#[test]
fn no_two_modules_depend_on_each_other() {
    let mut graph: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for m in modules() {
        let edges = graph.entry(m.unit.clone()).or_default();
        for used in uses(&m.code) {
            if used != m.unit && used.contains("::") {
                edges.insert(used);
            }
        }
    }
    let cycles = cycles(&graph);
    assert!(
        cycles.is_empty(),
        "modules in an import cycle (move what both need below them):\n{}",
        cycles
            .iter()
            .map(|c| c.join(" -> "))
            .collect::<Vec<_>>()
            .join("\n")
    );
}

/// The strongly connected components with more than one module (Tarjan).
fn cycles(graph: &BTreeMap<String, BTreeSet<String>>) -> Vec<Vec<String>> {
    struct State<'g> {
        graph: &'g BTreeMap<String, BTreeSet<String>>,
        index: BTreeMap<&'g str, usize>,
        low: BTreeMap<&'g str, usize>,
        stack: Vec<&'g str>,
        on_stack: BTreeSet<&'g str>,
        found: Vec<Vec<String>>,
    }
    fn visit<'g>(s: &mut State<'g>, v: &'g str) {
        let i = s.index.len();
        s.index.insert(v, i);
        s.low.insert(v, i);
        s.stack.push(v);
        s.on_stack.insert(v);
        for w in s.graph.get(v).into_iter().flatten() {
            let w = w.as_str();
            if !s.index.contains_key(w) {
                visit(s, w);
                let low = s.low[v].min(s.low[w]);
                s.low.insert(v, low);
            } else if s.on_stack.contains(w) {
                let low = s.low[v].min(s.index[w]);
                s.low.insert(v, low);
            }
        }
        if s.low[v] == s.index[v] {
            let mut component = Vec::new();
            while let Some(w) = s.stack.pop() {
                s.on_stack.remove(w);
                component.push(w.to_string());
                if w == v {
                    break;
                }
            }
            if component.len() > 1 {
                component.sort();
                s.found.push(component);
            }
        }
    }
    let mut s = State {
        graph,
        index: BTreeMap::new(),
        low: BTreeMap::new(),
        stack: Vec::new(),
        on_stack: BTreeSet::new(),
        found: Vec::new(),
    };
    for v in graph.keys() {
        if !s.index.contains_key(v.as_str()) {
            visit(&mut s, v);
        }
    }
    s.found
}

#[test]
fn the_checks_see_a_cycle_and_a_wrong_import() {
    let mut graph: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    graph.insert("app::a".into(), ["app::b".to_string()].into());
    graph.insert("app::b".into(), ["app::a".to_string()].into());
    assert_eq!(
        cycles(&graph),
        [vec!["app::a".to_string(), "app::b".to_string()]]
    );
    let used = uses("use crate::app::cut::CutError;\nfn f() { crate::util::fault::point(\"x\") }");
    assert_eq!(
        used.into_iter().collect::<Vec<_>>(),
        ["app::cut".to_string(), "util".to_string()]
    );
}
