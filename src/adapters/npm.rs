//! npm manifests and lockfiles as text: a dependent's ranges in a `package.json`, and a
//! workspace's entries in its `package-lock.json` (or `npm-shrinkwrap.json`). Every rewrite
//! replaces only the JSON strings it changes, so the rest of the file (indentation, key order,
//! the final newline) stays byte for byte what npm wrote.

use regex::Regex;
use std::collections::BTreeMap;
use std::ops::Range;
use std::sync::OnceLock;

/// The dependency sections of a package.json, in the order npm lists them.
pub const SECTIONS: [&str; 4] = [
    "dependencies",
    "devDependencies",
    "peerDependencies",
    "optionalDependencies",
];

/// The lockfile names npm reads, in its order of preference: a shrinkwrap wins over a
/// package-lock when both exist.
pub const LOCKFILES: [&str; 2] = ["npm-shrinkwrap.json", "package-lock.json"];

/// `range` asking for `version` instead, keeping its operator: `^1.0.0` -> `^1.1.0`,
/// `~1.0` -> `~1.1.0`, `1.0.0` -> `1.1.0`. `None` for any other range (`>=1`, `1.x`,
/// `^1 || ^2`, `*`, `latest`) and for protocols (`workspace:^`, `file:`, `npm:`): those say
/// something the new version does not replace (a `workspace:` range is resolved when the
/// package is published).
pub fn bumped_range(range: &str, version: &str) -> Option<String> {
    static PLAIN: OnceLock<Regex> = OnceLock::new();
    let plain = PLAIN.get_or_init(|| {
        Regex::new(r"^([\^~]?)\d+(?:\.\d+){0,2}(?:-[0-9A-Za-z.-]+)?(?:\+[0-9A-Za-z.-]+)?$")
            .expect("a valid regex")
    });
    let op = plain.captures(range)?.get(1).map_or("", |m| m.as_str());
    Some(format!("{op}{version}"))
}

/// A package.json whose entries for `name` in [`SECTIONS`] ask for `version` (see
/// [`bumped_range`] for which ranges change). `None` when no entry changes.
pub fn dependency(content: &str, name: &str, version: &str) -> Result<Option<String>, String> {
    let doc = Node::parse(content)?;
    let mut edits = Edits::default();
    for section in SECTIONS {
        if let Some(entry) = doc.get(section).and_then(|s| s.get(name)) {
            if let Some(range) = entry.as_str().and_then(|r| bumped_range(r, version)) {
                edits.set(entry, &range);
            }
        }
    }
    Ok(edits.apply(content))
}

/// A lockfile's entries for the workspace package in directory `key` (relative to the
/// lockfile's directory, `""` when the package is the lockfile's own root) made to agree with
/// the package's `manifest` (its package.json, as the release writes it): the entry's
/// `version`, and its ranges of each package in `names` (the released packages' npm names).
///
/// - lockfileVersion 2 and 3: `packages[key]`; the `node_modules/NAME` link entries hold no
///   version and stay as they are;
/// - lockfileVersion 2 (and 1): the `requires` of the legacy `dependencies[NAME]` entry that
///   links to the workspace (`"version": "file:KEY"`); a legacy entry with a plain version is a
///   copy from the registry, not the workspace, and is left alone;
/// - the root package (`key` empty): also the top-level `version`.
///
/// `None` when the lockfile has no entry for `key`: the package is not one of its workspaces.
/// An error says what is wrong with the lockfile or the manifest.
pub fn lockfile(
    content: &str,
    key: &str,
    manifest: &str,
    names: &[String],
) -> Result<Option<String>, String> {
    let doc = Node::parse(content)?;
    let manifest: serde_json::Value = serde_json::from_str(manifest)
        .map_err(|e| format!("its package.json is not valid JSON: {e}"))?;
    let lockfile_version = doc
        .get("lockfileVersion")
        .and_then(|v| v.as_u64(content))
        .ok_or("no numeric \"lockfileVersion\": this is not an npm lockfile")?;
    let version = manifest.get("version").and_then(|v| v.as_str());
    // The ranges the manifest gives the released packages, per section.
    let range = |section: &str, name: &str| {
        manifest
            .get(section)
            .and_then(|s| s.get(name))
            .and_then(|r| r.as_str())
    };
    let mut edits = Edits::default();
    let mut found = false;
    if lockfile_version >= 2 {
        let packages = doc
            .get("packages")
            .ok_or_else(|| format!("lockfileVersion {lockfile_version} without \"packages\""))?;
        if let Some(entry) = packages.get(key) {
            found = true;
            if let (Some(v), Some(at)) = (version, entry.get("version")) {
                edits.set_str(at, v);
            }
            for section in SECTIONS {
                for name in names {
                    if let (Some(r), Some(at)) = (
                        range(section, name),
                        entry.get(section).and_then(|s| s.get(name)),
                    ) {
                        edits.set_str(at, r);
                    }
                }
            }
        }
    }
    if key.is_empty() {
        found = true;
        if let (Some(v), Some(at)) = (version, doc.get("version")) {
            edits.set_str(at, v);
        }
    } else if let Some(link) = manifest
        .get("name")
        .and_then(|n| n.as_str())
        .and_then(|n| doc.get("dependencies")?.get(n))
        .filter(|entry| {
            entry
                .get("version")
                .and_then(|v| v.as_str())
                .and_then(|v| v.strip_prefix("file:"))
                .is_some_and(|path| same_dir(path, key))
        })
    {
        found = true;
        if let Some(requires) = link.get("requires") {
            for name in names {
                let wanted = SECTIONS.iter().find_map(|s| range(s, name));
                if let (Some(r), Some(at)) = (wanted, requires.get(name)) {
                    edits.set_str(at, r);
                }
            }
        }
    }
    if !found {
        return Ok(None);
    }
    Ok(Some(
        edits.apply(content).unwrap_or_else(|| content.to_string()),
    ))
}

/// Whether two directory paths relative to the same root name the same directory
/// (`./services/web/` and `services/web`).
fn same_dir(a: &str, b: &str) -> bool {
    let parts = |p: &str| -> Vec<String> {
        p.split('/')
            .filter(|s| !s.is_empty() && *s != ".")
            .map(str::to_string)
            .collect()
    };
    parts(a) == parts(b)
}

/// Replacements of whole JSON values, by their place in the text.
#[derive(Default)]
struct Edits(BTreeMap<usize, (usize, String)>);

impl Edits {
    /// Replace the value `at` with the JSON string `text`, if it is a string that differs.
    fn set_str(&mut self, at: &Node, text: &str) {
        if at.as_str().is_some_and(|current| current != text) {
            self.set(at, text);
        }
    }

    /// Replace the value `at` with the JSON string `text`.
    fn set(&mut self, at: &Node, text: &str) {
        let quoted = serde_json::Value::String(text.to_string()).to_string();
        self.0.insert(at.span.start, (at.span.end, quoted));
    }

    /// `content` with the replacements made; `None` when it would not change.
    fn apply(self, content: &str) -> Option<String> {
        let mut out = String::with_capacity(content.len());
        let mut last = 0;
        for (start, (end, text)) in self.0 {
            out.push_str(&content[last..start]);
            out.push_str(&text);
            last = end;
        }
        out.push_str(&content[last..]);
        (out != content).then_some(out)
    }
}

/// A JSON value with its place (byte range) in the text it was read from.
#[derive(Debug)]
struct Node {
    span: Range<usize>,
    value: Value,
}

#[derive(Debug)]
enum Value {
    Object(Vec<(String, Node)>),
    Array,
    String(String),
    /// A number, `true`, `false` or `null`, kept as text.
    Scalar,
}

impl Node {
    /// Parse `text`, which must be one JSON document. serde_json checks it first, so errors
    /// name the line and column.
    fn parse(text: &str) -> Result<Node, String> {
        serde_json::from_str::<serde::de::IgnoredAny>(text)
            .map_err(|e| format!("not valid JSON: {e}"))?;
        let mut p = Parser {
            text,
            bytes: text.as_bytes(),
            at: 0,
            depth: 0,
        };
        p.value().ok_or_else(|| {
            format!("cannot read it as one JSON document (nested deeper than {MAX_DEPTH} levels?)")
        })
    }

    /// The member `key` of an object (the last one, as JSON parsers read duplicates).
    fn get(&self, key: &str) -> Option<&Node> {
        match &self.value {
            Value::Object(members) => members.iter().rev().find(|(k, _)| k == key).map(|m| &m.1),
            _ => None,
        }
    }

    fn as_str(&self) -> Option<&str> {
        match &self.value {
            Value::String(s) => Some(s),
            _ => None,
        }
    }

    fn as_u64(&self, text: &str) -> Option<u64> {
        match self.value {
            Value::Scalar => text[self.span.clone()].parse().ok(),
            _ => None,
        }
    }
}

/// How deep [`Parser`] follows nested values: each level is a call, and a manifest or
/// lockfile is a few levels deep.
const MAX_DEPTH: usize = 128;

/// A reader of text serde_json has accepted: it only finds where each value is.
struct Parser<'a> {
    text: &'a str,
    bytes: &'a [u8],
    at: usize,
    depth: usize,
}

impl Parser<'_> {
    fn skip_space(&mut self) {
        while self
            .bytes
            .get(self.at)
            .is_some_and(|b| b.is_ascii_whitespace())
        {
            self.at += 1;
        }
    }

    fn eat(&mut self, byte: u8) -> Option<()> {
        self.skip_space();
        (self.bytes.get(self.at) == Some(&byte)).then(|| self.at += 1)
    }

    fn value(&mut self) -> Option<Node> {
        self.depth += 1;
        let node = (self.depth <= MAX_DEPTH)
            .then(|| self.value_here())
            .flatten();
        self.depth -= 1;
        node
    }

    fn value_here(&mut self) -> Option<Node> {
        self.skip_space();
        let start = self.at;
        let value = match *self.bytes.get(self.at)? {
            b'{' => {
                self.at += 1;
                let mut members = Vec::new();
                if self.eat(b'}').is_none() {
                    loop {
                        self.skip_space();
                        let key = self.string()?;
                        self.eat(b':')?;
                        members.push((key, self.value()?));
                        if self.eat(b',').is_none() {
                            self.eat(b'}')?;
                            break;
                        }
                    }
                }
                Value::Object(members)
            }
            b'[' => {
                self.at += 1;
                if self.eat(b']').is_none() {
                    loop {
                        self.value()?;
                        if self.eat(b',').is_none() {
                            self.eat(b']')?;
                            break;
                        }
                    }
                }
                Value::Array
            }
            b'"' => Value::String(self.string()?),
            _ => {
                while self
                    .bytes
                    .get(self.at)
                    .is_some_and(|b| !b",]} \t\r\n".contains(b))
                {
                    self.at += 1;
                }
                Value::Scalar
            }
        };
        Some(Node {
            span: start..self.at,
            value,
        })
    }

    /// A string at the cursor, unescaped (serde_json decodes the escapes).
    fn string(&mut self) -> Option<String> {
        let start = self.at;
        if self.bytes.get(self.at) != Some(&b'"') {
            return None;
        }
        self.at += 1;
        loop {
            match *self.bytes.get(self.at)? {
                b'\\' => self.at += 2,
                b'"' => {
                    self.at += 1;
                    break;
                }
                _ => self.at += 1,
            }
        }
        serde_json::from_str(self.text.get(start..self.at)?).ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What `npm install --lockfile-version 2` (npm 11) writes for a workspace of `libs/core`
    /// and two services depending on it (web also on api, as a dev dependency).
    const LOCK_V2: &str = include_str!("../../tests/data/npm-workspace-lock-v2.json");

    fn names() -> Vec<String> {
        ["@acme/core", "@acme/api", "@acme/web"]
            .map(String::from)
            .to_vec()
    }

    #[test]
    fn ranges_keep_their_operator_and_leave_other_ranges_alone() {
        for (range, out) in [
            ("^1.0.0", Some("^1.2.0")),
            ("~1.0", Some("~1.2.0")),
            ("1.0.0", Some("1.2.0")),
            ("1.0.0-rc.1", Some("1.2.0")),
            ("workspace:^", None),
            ("workspace:^1.0.0", None),
            ("file:../core", None),
            (">=1.0.0", None),
            ("^1.0.0 || ^2.0.0", None),
            ("1.x", None),
            ("*", None),
            ("latest", None),
        ] {
            assert_eq!(bumped_range(range, "1.2.0").as_deref(), out, "{range}");
        }
    }

    #[test]
    fn a_manifest_changes_only_the_entries_of_the_dependency() {
        let json = "{\n  \"name\": \"web\",\n  \"dependencies\": {\"@acme/core\": \"^1.0.0\", \"x\": \"1.0.0\"},\n  \"devDependencies\": {\n    \"@acme/core\": \"1.0.0\"\n  },\n  \"peerDependencies\": {\n    \"@acme/core\": \"workspace:^\"\n  },\n  \"optionalDependencies\": {\n    \"@acme/core\": \"~1.0.0\"\n  },\n  \"overrides\": {\"@acme/core\": \"1.0.0\"}\n}";
        let out = dependency(json, "@acme/core", "1.2.0").unwrap().unwrap();
        assert_eq!(
            out,
            json.replacen("\"^1.0.0\"", "\"^1.2.0\"", 1)
                .replacen(
                    "\"@acme/core\": \"1.0.0\"\n",
                    "\"@acme/core\": \"1.2.0\"\n",
                    1
                )
                .replacen("\"~1.0.0\"", "\"~1.2.0\"", 1)
        );
        assert!(out.contains("\"workspace:^\""), "{out}");
        assert!(
            out.contains("\"overrides\": {\"@acme/core\": \"1.0.0\"}"),
            "{out}"
        );
        assert!(out.contains("\"x\": \"1.0.0\""), "{out}");
        assert_eq!(dependency(json, "other", "1.2.0").unwrap(), None);
        assert!(dependency("{", "a", "1.0.0")
            .unwrap_err()
            .contains("not valid JSON"));
    }

    #[test]
    fn a_workspace_entry_follows_its_manifest_in_lockfile_version_2() {
        let web = "{\"name\":\"@acme/web\",\"version\":\"2.0.1\",\"dependencies\":{\"@acme/core\":\"~1.1.0\"},\"devDependencies\":{\"@acme/api\":\"1.0.1\"}}";
        let out = lockfile(LOCK_V2, "services/web", web, &names())
            .unwrap()
            .unwrap();
        let expected = LOCK_V2
            .replace(
                "\"version\": \"2.0.0\",\n      \"dependencies\": {\n        \"@acme/core\": \"~1.0.0\"\n      },\n      \"devDependencies\": {\n        \"@acme/api\": \"1.0.0\"",
                "\"version\": \"2.0.1\",\n      \"dependencies\": {\n        \"@acme/core\": \"~1.1.0\"\n      },\n      \"devDependencies\": {\n        \"@acme/api\": \"1.0.1\"",
            )
            .replace(
                "\"@acme/api\": \"1.0.0\",\n        \"@acme/core\": \"~1.0.0\"",
                "\"@acme/api\": \"1.0.1\",\n        \"@acme/core\": \"~1.1.0\"",
            );
        assert_ne!(expected, LOCK_V2);
        assert_eq!(out, expected);
        // The other workspaces' entries, the links and the root are as they were.
        assert!(out.contains(
            "\"libs/core\": {\n      \"name\": \"@acme/core\",\n      \"version\": \"1.0.0\""
        ));
        assert!(out.contains("\"@acme/core\": \"^1.0.0\""));
        // Once more: nothing left to change.
        assert_eq!(
            lockfile(&out, "services/web", web, &names()).unwrap(),
            Some(out.clone())
        );
    }

    #[test]
    fn lockfile_version_3_and_the_root_package() {
        let lock = "{\n  \"name\": \"acme\",\n  \"version\": \"0.1.0\",\n  \"lockfileVersion\": 3,\n  \"requires\": true,\n  \"packages\": {\n    \"\": {\n      \"name\": \"acme\",\n      \"version\": \"0.1.0\",\n      \"workspaces\": [\"libs/*\"]\n    },\n    \"libs/core\": {\n      \"name\": \"@acme/core\",\n      \"version\": \"1.0.0\"\n    },\n    \"node_modules/@acme/core\": {\n      \"resolved\": \"libs/core\",\n      \"link\": true\n    }\n  }\n}\n";
        let core = "{\"name\": \"@acme/core\", \"version\": \"1.1.0\"}";
        assert_eq!(
            lockfile(lock, "libs/core", core, &names())
                .unwrap()
                .unwrap(),
            lock.replace(
                "\"version\": \"1.0.0\"\n    },\n    \"node_modules",
                "\"version\": \"1.1.0\"\n    },\n    \"node_modules"
            )
        );
        let root = "{\"name\": \"acme\", \"version\": \"0.2.0\"}";
        assert_eq!(
            lockfile(lock, "", root, &names()).unwrap().unwrap(),
            lock.replace("0.1.0", "0.2.0")
        );
        // Not one of its workspaces.
        assert_eq!(lockfile(lock, "tools/cli", core, &names()).unwrap(), None);
        // lockfileVersion 1 (npm 6) knows no workspaces.
        let v1 = "{\"name\": \"x\", \"version\": \"1.0.0\", \"lockfileVersion\": 1, \"dependencies\": {}}";
        assert_eq!(lockfile(v1, "libs/core", core, &names()).unwrap(), None);
    }

    #[test]
    fn a_registry_copy_of_the_same_name_is_left_alone() {
        let lock = "{\n  \"lockfileVersion\": 2,\n  \"packages\": {\n    \"services/web\": {\"name\": \"@acme/web\", \"version\": \"2.0.0\"},\n    \"node_modules/@acme/web\": {\"version\": \"1.9.0\", \"resolved\": \"https://registry.npmjs.org/@acme/web/-/web-1.9.0.tgz\"}\n  },\n  \"dependencies\": {\n    \"@acme/web\": {\"version\": \"1.9.0\", \"requires\": {\"@acme/core\": \"^1.0.0\"}}\n  }\n}\n";
        let web = "{\"name\": \"@acme/web\", \"version\": \"2.0.1\", \"dependencies\": {\"@acme/core\": \"^1.1.0\"}}";
        let out = lockfile(lock, "services/web", web, &names())
            .unwrap()
            .unwrap();
        assert_eq!(
            out,
            lock.replacen("\"version\": \"2.0.0\"", "\"version\": \"2.0.1\"", 1)
        );
    }

    #[test]
    fn malformed_lockfiles_are_errors() {
        let web = "{\"name\": \"@acme/web\", \"version\": \"2.0.1\"}";
        let err = lockfile("{\n  \"packages\": {\n", "services/web", web, &names()).unwrap_err();
        assert!(
            err.contains("not valid JSON") && err.contains("line 3"),
            "{err}"
        );
        let err = lockfile("{\"packages\": {}}", "services/web", web, &names()).unwrap_err();
        assert!(err.contains("lockfileVersion"), "{err}");
        let err = lockfile("{\"lockfileVersion\": 3}", "services/web", web, &names()).unwrap_err();
        assert!(err.contains("without \"packages\""), "{err}");
        let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
        assert!(lockfile(&deep, "a", web, &names()).is_err());
        let escaped = "{\"lockfileVersion\": 3, \"packages\": {\"services\\/web\": {\"version\": \"2.0.0\", \"note\": \"a \\\"quoted\\\" } [\"}}}";
        assert_eq!(
            lockfile(escaped, "services/web", web, &names())
                .unwrap()
                .unwrap(),
            escaped.replace("2.0.0", "2.0.1")
        );
    }
}
