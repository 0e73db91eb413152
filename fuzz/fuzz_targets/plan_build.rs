//! Building a release plan from any history must not panic: any commits, any current version,
//! any tags, forced level or version, pre-release channel, bump rules.
//!
//! The input is structured (via `arbitrary`) so the fuzzer reaches the interesting rules quickly:
//! commit messages are raw text, generated Conventional Commits or git reverts (optionally with a
//! `This reverts commit <id>` line pointing at another commit in the list); version numbers are
//! mostly small (so tags collide with the computed next version) and sometimes huge.
#![no_main]

use std::collections::HashSet;

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use release_agent::core::commit::{CommitId, RawCommit};
use release_agent::core::plan::{self, Forced, Input, PlanOptions};
use release_agent::core::version::{Bump, BumpRules};
use semver::{BuildMetadata, Prerelease, Version};

#[derive(Arbitrary, Debug)]
enum Num {
    Small(u8),
    Large(u64),
}

impl Num {
    fn get(&self) -> u64 {
        match self {
            Num::Small(n) => u64::from(*n % 8),
            Num::Large(n) => *n,
        }
    }
}

#[derive(Arbitrary, Debug)]
enum Channel {
    Rc,
    Beta,
    Alpha,
    Raw(String),
}

impl Channel {
    fn name(&self) -> &str {
        match self {
            Channel::Rc => "rc",
            Channel::Beta => "beta",
            Channel::Alpha => "alpha",
            Channel::Raw(s) => s,
        }
    }
}

#[derive(Arbitrary, Debug)]
enum Pre {
    Channel(Channel, Num),
    Raw(String),
}

#[derive(Arbitrary, Debug)]
struct V {
    major: Num,
    minor: Num,
    patch: Num,
    pre: Option<Pre>,
    build: Option<String>,
}

impl V {
    fn get(&self) -> Version {
        let mut v = Version::new(self.major.get(), self.minor.get(), self.patch.get());
        if let Some(pre) = &self.pre {
            let text = match pre {
                Pre::Channel(c, n) => format!("{}.{}", c.name(), n.get()),
                Pre::Raw(s) => s.clone(),
            };
            v.pre = Prerelease::new(&text).unwrap_or(Prerelease::EMPTY);
        }
        if let Some(b) = &self.build {
            v.build = BuildMetadata::new(b).unwrap_or(BuildMetadata::EMPTY);
        }
        v
    }
}

#[derive(Arbitrary, Debug)]
enum Kind {
    Feat,
    Fix,
    Perf,
    Revert,
    Chore,
    Docs,
    Raw(String),
}

#[derive(Arbitrary, Debug)]
enum Msg {
    Raw(String),
    Conventional {
        kind: Kind,
        scope: Option<String>,
        bang: bool,
        summary: String,
        body: Option<String>,
        breaking: Option<String>,
    },
    GitRevert(String),
}

impl Msg {
    fn text(&self) -> String {
        match self {
            Msg::Raw(s) => s.clone(),
            Msg::Conventional { kind, scope, bang, summary, body, breaking } => {
                let kind = match kind {
                    Kind::Feat => "feat",
                    Kind::Fix => "fix",
                    Kind::Perf => "perf",
                    Kind::Revert => "revert",
                    Kind::Chore => "chore",
                    Kind::Docs => "docs",
                    Kind::Raw(s) => s,
                };
                let mut m = kind.to_string();
                if let Some(s) = scope {
                    m.push_str(&format!("({s})"));
                }
                if *bang {
                    m.push('!');
                }
                m.push_str(": ");
                m.push_str(summary);
                if let Some(b) = body {
                    m.push_str("\n\n");
                    m.push_str(b);
                }
                if let Some(b) = breaking {
                    m.push_str("\n\nBREAKING CHANGE: ");
                    m.push_str(b);
                }
                m
            }
            Msg::GitRevert(header) => format!("Revert \"{header}\""),
        }
    }
}

#[derive(Arbitrary, Debug)]
struct Commit {
    id: [u8; 20],
    message: Msg,
    /// Append `This reverts commit <id>.`: (index into the commit list, abbreviation length).
    reverts: Option<(u8, u8)>,
    lossy: bool,
    author: String,
    email: String,
    time: i64,
    parents: u8,
}

#[derive(Arbitrary, Debug)]
enum Level {
    None,
    Patch,
    Minor,
    Major,
}

impl Level {
    fn get(&self) -> Bump {
        match self {
            Level::None => Bump::None,
            Level::Patch => Bump::Patch,
            Level::Minor => Bump::Minor,
            Level::Major => Bump::Major,
        }
    }
}

#[derive(Arbitrary, Debug)]
enum Force {
    Level(Level),
    Version(V),
}

#[derive(Arbitrary, Debug)]
struct Rules {
    default_types: bool,
    types: Vec<(String, Level)>,
    breaking_always_bump_major: bool,
    features_always_bump_minor: bool,
}

#[derive(Arbitrary, Debug)]
struct Case {
    tag_prefix: String,
    initial_version: Option<V>,
    current: Option<(String, V)>,
    /// Add the current version to `all_versions`, as `gather` would.
    current_in_all: bool,
    all_versions: Vec<V>,
    /// Indexes into `all_versions` of the versions tagged on HEAD.
    head_versions: Vec<u8>,
    commits: Vec<Commit>,
    forced: Option<Force>,
    pre: Option<Channel>,
    rules: Rules,
}

fn build_input(case: &Case) -> Input {
    let mut seen = HashSet::new();
    let mut commits: Vec<RawCommit> = case
        .commits
        .iter()
        .filter(|c| seen.insert(c.id)) // git ids are unique
        .map(|c| RawCommit {
            id: CommitId(c.id),
            message: c.message.text(),
            lossy: c.lossy,
            author: c.author.clone(),
            email: c.email.clone(),
            time: c.time,
            parents: usize::from(c.parents),
        })
        .collect();
    let ids: Vec<String> = commits.iter().map(|c| c.id.to_string()).collect();
    let kept: Vec<&Commit> = {
        let mut seen = HashSet::new();
        case.commits.iter().filter(|c| seen.insert(c.id)).collect()
    };
    for (raw, spec) in commits.iter_mut().zip(kept) {
        if let Some((target, len)) = spec.reverts {
            let id = &ids[usize::from(target) % ids.len()];
            let len = 7 + usize::from(len) % (id.len() - 6);
            raw.message.push_str(&format!("\n\nThis reverts commit {}.", &id[..len]));
        }
    }

    let mut all_versions: Vec<Version> = case.all_versions.iter().map(V::get).collect();
    let current = case.current.as_ref().map(|(tag, v)| (tag.clone(), v.get()));
    if case.current_in_all {
        if let Some((_, v)) = &current {
            all_versions.push(v.clone());
        }
    }
    let head_versions = if all_versions.is_empty() {
        Vec::new()
    } else {
        case.head_versions
            .iter()
            .map(|i| all_versions[usize::from(*i) % all_versions.len()].clone())
            .collect()
    };
    Input {
        tag_prefix: case.tag_prefix.clone(),
        initial_version: case.initial_version.as_ref().map(V::get),
        current,
        all_versions,
        head_versions,
        commits,
    }
}

fn build_rules(r: &Rules) -> BumpRules {
    let mut rules = BumpRules::default();
    if !r.default_types {
        rules.types.clear();
    }
    for (t, l) in &r.types {
        rules.types.insert(t.clone(), l.get());
    }
    rules.breaking_always_bump_major = r.breaking_always_bump_major;
    rules.features_always_bump_minor = r.features_always_bump_minor;
    rules
}

fuzz_target!(|case: Case| {
    let input = build_input(&case);
    let rules = build_rules(&case.rules);
    let options = PlanOptions {
        forced: case.forced.as_ref().map(|f| match f {
            Force::Level(l) => Forced::Level(l.get()),
            Force::Version(v) => Forced::Version(v.get()),
        }),
        pre: case.pre.as_ref().map(|c| c.name().to_string()),
        branch: None,
    };
    if let Ok(plan) = plan::build(&input, &rules, &options) {
        // What the plan says it will release must be a version and a tag.
        if let Some(next) = &plan.next_version {
            assert!(plan.next().is_some(), "next_version {next:?} does not parse");
            assert!(plan.next_tag.is_some(), "next_version without next_tag");
        }
    }
});
