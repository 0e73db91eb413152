//! What `changelog --all` keeps of each commit of a whole history.
//!
//! A changelog of every release needs the whole history split by release before the first
//! release renders, and a long history's messages outweigh everything else (1,000,000 commits:
//! 150 MB of text, plus an allocation or four per commit). Each message is parsed as it is read,
//! and only what a release's template model
//! ([`release_model`](crate::core::changelog::release_model)) can show is kept: the type and author
//! of every counted commit (sections, contributors), and the text (scope, summary, breaking-change
//! note, and the body when the template may show it) only of commits that a section or the
//! breaking list shows, packed into one buffer. Commits that are not Conventional Commits keep
//! nothing but the id they may revert.
//!
//! [`CompactCommits::planned`] turns one release's digests back into the commits
//! [`plan::classify_commits`] would have counted, so the model, and every output byte, is the
//! same as when the whole history was kept.

use git2::Oid;
use std::collections::{HashMap, HashSet};

use crate::adapters::git::history::CommitView;
use crate::config::ChangelogConfig;
use crate::core::commit::{self, Conventional};
use crate::core::plan::{self, PlannedCommit};
use crate::core::version::BumpRules;

/// What is kept of one commit: 16 bytes, plus its text when the changelog shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CompactCommit {
    /// Where its text starts in [`CompactCommits`]'s buffer; [`NO_TEXT`] when no section shows it.
    text: u64,
    /// Its type, an index into the interned types; [`NOT_COUNTED`] when the message is not a
    /// Conventional Commit.
    kind: u32,
    /// Its author, an index into the interned `name\0email` pairs.
    author: u32,
}

const NO_TEXT: u64 = u64::MAX;
const NOT_COUNTED: u32 = u32::MAX;

// Which optional fields follow in a packed text.
const BREAKING: u8 = 1;
const SCOPE: u8 = 2;
const BODY: u8 = 4;
const BREAKING_DESCRIPTION: u8 = 8;

/// The shared part of the digests of one history: packed texts and interned strings.
#[derive(Debug)]
pub struct CompactCommits {
    /// Per shown commit: a flags byte, then the present fields of scope, summary, body and
    /// breaking description, each as a LEB128 length and UTF-8 bytes.
    text: Vec<u8>,
    kinds: Interner,
    authors: Interner,
    /// The abbreviated id each revert names ("This reverts commit ..."): few commits.
    reverts: HashMap<Oid, Box<str>>,
    /// The types some section lists.
    shown: HashSet<String>,
    /// Whether bodies are kept (the template may show them).
    keep_body: bool,
    /// Room to join an author's name and email without an allocation per commit.
    scratch: String,
}

impl CompactCommits {
    /// CompactCommits for rendering with `config`'s sections. `keep_body: false` drops commit bodies,
    /// for templates that do not show them.
    pub fn new(config: &ChangelogConfig, keep_body: bool) -> CompactCommits {
        CompactCommits {
            text: Vec::new(),
            kinds: Interner::default(),
            authors: Interner::default(),
            reverts: HashMap::new(),
            shown: config
                .sections
                .iter()
                .flat_map(|s| s.types.iter().cloned())
                .collect(),
            keep_body,
            scratch: String::new(),
        }
    }

    /// Read one commit; keep what the changelog can show of it.
    pub fn add(&mut self, c: &CommitView<'_>) -> CompactCommit {
        if let Some(target) = commit::reverted_commit(c.message) {
            self.reverts.insert(c.id, target.into());
        }
        // Every commit's author, counted or not: whether someone contributed before a release
        // depends on all their commits. Names and emails hold no NUL (made inert on reading).
        self.scratch.clear();
        self.scratch.push_str(c.author);
        self.scratch.push('\0');
        self.scratch.push_str(c.email);
        let author = self.authors.intern(&self.scratch);
        let Ok(message) = commit::classify(c.message) else {
            return CompactCommit {
                text: NO_TEXT,
                kind: NOT_COUNTED,
                author,
            };
        };
        let text = if message.breaking || self.shown.contains(&message.kind) {
            self.pack(&message)
        } else {
            NO_TEXT
        };
        CompactCommit {
            text,
            kind: self.kinds.intern(&message.kind),
            author,
        }
    }

    fn pack(&mut self, m: &Conventional) -> u64 {
        let start = self.text.len() as u64;
        let body = m.body.as_deref().filter(|_| self.keep_body);
        let mut flags = 0;
        for (present, flag) in [
            (m.breaking, BREAKING),
            (m.scope.is_some(), SCOPE),
            (body.is_some(), BODY),
            (m.breaking_description.is_some(), BREAKING_DESCRIPTION),
        ] {
            if present {
                flags |= flag;
            }
        }
        self.text.push(flags);
        for field in [
            m.scope.as_deref(),
            Some(m.summary.as_str()),
            body,
            m.breaking_description.as_deref(),
        ]
        .into_iter()
        .flatten()
        {
            let mut len = field.len();
            loop {
                let low = (len & 0x7f) as u8;
                len >>= 7;
                if len == 0 {
                    self.text.push(low);
                    break;
                }
                self.text.push(low | 0x80);
            }
            self.text.extend_from_slice(field.as_bytes());
        }
        start
    }

    /// The message of a counted commit, as far as the changelog model reads it: the fields
    /// of a shown commit; the type alone of one that no section shows. Footers are left out
    /// (the model reads the breaking-change note, kept on its own).
    fn message(&self, d: CompactCommit) -> Conventional {
        let mut m = Conventional {
            kind: self.kinds.get(d.kind).to_string(),
            scope: None,
            breaking: false,
            breaking_description: None,
            summary: String::new(),
            body: None,
            footers: Vec::new(),
        };
        if d.text == NO_TEXT {
            return m;
        }
        let mut at = d.text as usize;
        let flags = self.text[at];
        at += 1;
        let mut field = || {
            let mut len = 0usize;
            let mut shift = 0;
            loop {
                let b = self.text[at];
                at += 1;
                len |= usize::from(b & 0x7f) << shift;
                shift += 7;
                if b & 0x80 == 0 {
                    break;
                }
            }
            let bytes = &self.text[at..at + len];
            at += len;
            // Packed from a `&str` by `pack`, field by field.
            String::from_utf8_lossy(bytes).into_owned()
        };
        m.breaking = flags & BREAKING != 0;
        m.scope = (flags & SCOPE != 0).then(&mut field);
        m.summary = field();
        m.body = (flags & BODY != 0).then(&mut field);
        m.breaking_description = (flags & BREAKING_DESCRIPTION != 0).then(&mut field);
        m
    }

    /// The commits of one release that count, as [`plan::classify_commits`] returns them from
    /// the full commits, with what [`release_model`](crate::core::changelog::release_model) reads
    /// filled in (`time` is 0). `commits` index `ids` and `digests`, newest
    /// first.
    pub fn planned(
        &self,
        ids: &[Oid],
        digests: &[CompactCommit],
        commits: &[u32],
        rules: &BumpRules,
    ) -> Vec<PlannedCommit> {
        let reverts = |k: usize| self.reverts.get(&ids[commits[k] as usize]).map(|s| &**s);
        let cancelled = if (0..commits.len()).any(|k| reverts(k).is_some()) {
            let full: Vec<String> = commits
                .iter()
                .map(|&i| ids[i as usize].to_string())
                .collect();
            plan::cancelled_among(&full, reverts)
        } else {
            HashMap::new()
        };
        let mut out = Vec::new();
        for (k, &i) in commits.iter().enumerate() {
            let d = digests[i as usize];
            if d.kind == NOT_COUNTED || cancelled.contains_key(&k) {
                continue;
            }
            let message = self.message(d);
            let id = ids[i as usize].to_string();
            out.push(PlannedCommit {
                short_id: plan::short(&id),
                id,
                level: rules.level_of(&message),
                message,
                author: self.author(d.author).0.to_string(),
                email: self.author(d.author).1.to_string(),
                time: 0,
            });
        }
        out
    }
}

impl CompactCommits {
    /// The number of distinct authors (name and email) read so far.
    pub fn author_count(&self) -> usize {
        self.authors.strings.len()
    }

    /// Name and email of the author numbered `n` (below [`CompactCommits::author_count`]).
    pub fn author(&self, n: u32) -> (&str, &str) {
        self.authors.get(n).split_once('\0').unwrap_or(("", ""))
    }

    /// The number of a commit's author, for [`CompactCommits::author`].
    pub fn author_of(d: CompactCommit) -> u32 {
        d.author
    }
}

/// Each distinct string once, numbered.
#[derive(Debug, Default)]
struct Interner {
    numbers: HashMap<Box<str>, u32>,
    strings: Vec<Box<str>>,
}

impl Interner {
    fn intern(&mut self, s: &str) -> u32 {
        if let Some(&n) = self.numbers.get(s) {
            return n;
        }
        let n = u32::try_from(self.strings.len()).expect("fewer than 4 billion distinct names");
        self.strings.push(s.into());
        self.numbers.insert(s.into(), n);
        n
    }

    fn get(&self, n: u32) -> &str {
        &self.strings[n as usize]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::changelog;
    use crate::core::commit::RawCommit;

    fn view(raw: &RawCommit) -> CommitView<'_> {
        CommitView {
            id: Oid::from_bytes(&raw.id.0).unwrap(),
            message: &raw.message,
            lossy: raw.lossy,
            author: &raw.author,
            email: &raw.email,
            time: raw.time,
            parents: raw.parents,
            tree: Oid::ZERO_SHA1,
            first_parent: None,
        }
    }

    fn raw(n: u8, message: &str, author: &str) -> RawCommit {
        RawCommit {
            id: crate::core::commit::CommitId([n; 20]),
            message: message.into(),
            lossy: false,
            author: author.into(),
            email: format!("{author}@example.com"),
            time: 1_000 - i64::from(n),
            parents: 1,
        }
    }

    /// The digests give the same model as the full commits, for shown and hidden types,
    /// breaking changes, bodies, footers, non-conventional commits and reverts.
    #[test]
    fn same_model_as_the_full_commits() {
        let reverted = Oid::from_bytes(&[9; 20]).unwrap();
        let commits = vec![
            raw(
                1,
                "feat(api)!: new thing\n\nA body\nover lines.\n\nBREAKING CHANGE: gone\nRefs: #1\n",
                "Ann",
            ),
            raw(2, "chore: tidy\n\nbody that no section shows\n", "Bob"),
            raw(
                3,
                &format!("Revert \"fix: bad\"\n\nThis reverts commit {reverted}.\n"),
                "Cy",
            ),
            raw(4, "not conventional at all", "Dee"),
            raw(5, "docs: explain ünïcödé <b>\n", "Ann"),
            raw(
                6,
                "test!: breaking but hidden\n\nBREAKING-CHANGE: still shown\n",
                "Eve",
            ),
            raw(
                7,
                "fix(core): with body\n\nLong body ".repeat(40).as_str(),
                "Fay",
            ),
            raw(8, "perf: fast\n\nCloses #3\n", "Gus"),
            raw(9, "fix: bad\n", "Hal"),
            raw(10, "ci: pipeline\n", "Ivy"),
        ];
        let config = ChangelogConfig::default();
        let rules =
            crate::core::version::BumpRules::from_config(&crate::config::Config::default().bump);
        let info = changelog::ReleaseInfo {
            version: Some("1.0.0".into()),
            time: 1_600_000_000,
            ..Default::default()
        };
        let (expected, _, reverted_commits) = plan::classify_commits(&commits, &rules);
        assert_eq!(reverted_commits.len(), 2, "the revert pair cancels out");
        let expected = changelog::release_model(&expected, &info, &config);
        for keep_body in [true, false] {
            let mut digests = CompactCommits::new(&config, keep_body);
            let kept: Vec<CompactCommit> = commits.iter().map(|c| digests.add(&view(c))).collect();
            let ids: Vec<Oid> = commits
                .iter()
                .map(|c| Oid::from_bytes(&c.id.0).unwrap())
                .collect();
            let order: Vec<u32> = (0..commits.len() as u32).collect();
            let planned = digests.planned(&ids, &kept, &order, &rules);
            let model = changelog::release_model(&planned, &info, &config);
            if keep_body {
                assert_eq!(model, expected);
            } else {
                let mut without = expected.clone();
                for c in without
                    .breaking
                    .iter_mut()
                    .chain(without.sections.iter_mut().flat_map(|s| &mut s.commits))
                {
                    c.body = None;
                }
                assert_eq!(model, without);
            }
            // Hidden and non-conventional commits keep no text.
            assert_eq!(kept[1].text, NO_TEXT);
            assert_eq!(kept[3].kind, NOT_COUNTED);
            assert_eq!(kept[9].text, NO_TEXT);
            assert_ne!(kept[5].text, NO_TEXT);
        }
    }
}
