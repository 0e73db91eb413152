//! Version arithmetic: bump levels, 0.x rules, pre-release channels. Pure.

use semver::{Prerelease, Version};

use std::collections::BTreeMap;

use crate::config::BumpConfig;
use crate::core::commit::Conventional;

pub use crate::config::Bump;

/// The rules that turn commits into a bump level.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BumpRules {
    /// Level per commit type; types not listed bump nothing.
    pub types: BTreeMap<String, Bump>,
    /// In 0.x, a breaking change still bumps major (git-cliff's flag; `false`: it bumps minor).
    pub breaking_always_bump_major: bool,
    /// In 0.x, a feature still bumps minor (`false`: it bumps patch).
    pub features_always_bump_minor: bool,
}

impl Default for BumpRules {
    fn default() -> Self {
        BumpRules {
            types: crate::config::default_type_levels(),
            breaking_always_bump_major: true,
            features_always_bump_minor: true,
        }
    }
}

impl BumpRules {
    /// The effective rules of `[bump]`: defaults overlaid with the configured types.
    pub fn from_config(config: &BumpConfig) -> BumpRules {
        let mut types = crate::config::default_type_levels();
        for (k, v) in &config.types {
            types.insert(k.to_ascii_lowercase(), *v);
        }
        types.retain(|_, v| *v != Bump::None);
        BumpRules {
            types,
            breaking_always_bump_major: config.breaking_always_bump_major,
            features_always_bump_minor: config.features_always_bump_minor,
        }
    }

    /// The level one commit asks for, before 0.x rules.
    pub fn level_of(&self, commit: &Conventional) -> Bump {
        if commit.breaking {
            return Bump::Major;
        }
        self.types.get(&commit.kind).copied().unwrap_or(Bump::None)
    }

    /// The level a set of commits asks for: the highest of them.
    pub fn level<'a>(&self, commits: impl IntoIterator<Item = &'a Conventional>) -> Bump {
        commits
            .into_iter()
            .map(|c| self.level_of(c))
            .max()
            .unwrap_or(Bump::None)
    }

    /// Apply 0.x rules: what `level` really does to `current`.
    pub fn effective(&self, current: &Version, level: Bump) -> Bump {
        if current.major != 0 {
            return level;
        }
        match level {
            Bump::Major if !self.breaking_always_bump_major => Bump::Minor,
            Bump::Minor if !self.features_always_bump_minor => Bump::Patch,
            other => other,
        }
    }
}

/// `current` moved by `bump`, dropping any pre-release and build metadata; `None` when a
/// component would overflow (a tag such as `v1.2.18446744073709551615`).
pub fn bumped(current: &Version, bump: Bump) -> Option<Version> {
    let (major, minor, patch) = (current.major, current.minor, current.patch);
    let (major, minor, patch) = match bump {
        Bump::None => (major, minor, patch),
        Bump::Patch => (major, minor, patch.checked_add(1)?),
        Bump::Minor => (major, minor.checked_add(1)?, 0),
        Bump::Major => (major.checked_add(1)?, 0, 0),
    };
    Some(Version::new(major, minor, patch))
}

/// The pre-release `stable-channel.N`, with N one more than the highest among `existing` versions
/// of the same `stable` and channel (1 when there are none).
pub fn next_prerelease<'a>(
    stable: &Version,
    channel: &str,
    existing: impl IntoIterator<Item = &'a Version>,
) -> Option<Version> {
    let n = match existing
        .into_iter()
        .filter(|v| v.major == stable.major && v.minor == stable.minor && v.patch == stable.patch)
        .filter_map(|v| prerelease_number(v, channel))
        .max()
    {
        Some(n) => n.checked_add(1)?,
        None => 1,
    };
    let mut v = stable.clone();
    // A channel name that semver rejects was refused at the CLI; fall back to no pre-release.
    v.pre = Prerelease::new(&format!("{channel}.{n}")).unwrap_or(Prerelease::EMPTY);
    Some(v)
}

/// `N` of a `channel.N` pre-release.
fn prerelease_number(v: &Version, channel: &str) -> Option<u64> {
    let rest = v.pre.as_str().strip_prefix(channel)?.strip_prefix('.')?;
    rest.parse().ok()
}

pub use crate::config::branches::valid_channel;

/// The moving major tag (`v1`) that `version` should carry, given every released version: none
/// for a pre-release, a 0.x version (no stable API to follow), or a release older than the
/// newest of its major (a fix to an older line leaves `v1` where it is).
pub fn major_tag(prefix: &str, version: &Version, released: &[Version]) -> Option<String> {
    if !version.pre.is_empty() || version.major == 0 {
        return None;
    }
    let newer = released
        .iter()
        .any(|r| r.major == version.major && r.pre.is_empty() && r > version);
    (!newer).then(|| format!("{prefix}{}", version.major))
}

#[cfg(test)]
mod tests {
    #[test]
    fn major_tags_follow_the_newest_stable_release_of_their_major() {
        let released = [v("1.0.0"), v("1.4.0"), v("1.5.0-rc.1"), v("2.0.0")];
        assert_eq!(
            major_tag("v", &v("1.4.1"), &released).as_deref(),
            Some("v1")
        );
        assert_eq!(
            major_tag("v", &v("1.4.0"), &released).as_deref(),
            Some("v1")
        );
        assert_eq!(major_tag("v", &v("1.3.9"), &released), None);
        assert_eq!(major_tag("v", &v("2.1.0-rc.1"), &released), None);
        assert_eq!(major_tag("v", &v("0.9.0"), &[]), None);
        assert_eq!(
            major_tag("api-v", &v("3.0.0"), &released).as_deref(),
            Some("api-v3")
        );
    }

    use super::*;

    fn c(kind: &str, breaking: bool) -> Conventional {
        Conventional {
            kind: kind.into(),
            scope: None,
            breaking,
            breaking_description: None,
            summary: "s".into(),
            body: None,
            footers: vec![],
        }
    }

    fn v(s: &str) -> Version {
        Version::parse(s).unwrap()
    }

    #[test]
    fn type_levels() {
        let r = BumpRules::default();
        let table = [
            ("feat", false, Bump::Minor),
            ("fix", false, Bump::Patch),
            ("perf", false, Bump::Patch),
            ("revert", false, Bump::Patch),
            ("chore", false, Bump::None),
            ("docs", false, Bump::None),
            ("ci", false, Bump::None),
            ("chore", true, Bump::Major),
            ("feat", true, Bump::Major),
        ];
        for (kind, breaking, want) in table {
            assert_eq!(r.level_of(&c(kind, breaking)), want, "{kind} {breaking}");
        }
    }

    #[test]
    fn highest_level_wins() {
        let r = BumpRules::default();
        let commits = [c("fix", false), c("feat", false), c("docs", false)];
        assert_eq!(r.level(&commits), Bump::Minor);
        assert_eq!(r.level(&[c("docs", false)]), Bump::None);
        assert_eq!(r.level(&[]), Bump::None);
    }

    #[test]
    fn configured_types() {
        let mut r = BumpRules::default();
        r.types.insert("docs".into(), Bump::Patch);
        r.types.remove("perf");
        assert_eq!(r.level_of(&c("docs", false)), Bump::Patch);
        assert_eq!(r.level_of(&c("perf", false)), Bump::None);
    }

    #[test]
    fn bump_arithmetic() {
        assert_eq!(bumped(&v("1.2.3"), Bump::Patch), Some(v("1.2.4")));
        assert_eq!(bumped(&v("1.2.3"), Bump::Minor), Some(v("1.3.0")));
        assert_eq!(bumped(&v("1.2.3"), Bump::Major), Some(v("2.0.0")));
        assert_eq!(bumped(&v("1.2.3-rc.1+b"), Bump::None), Some(v("1.2.3")));
        let max = u64::MAX;
        assert_eq!(bumped(&v(&format!("1.2.{max}")), Bump::Patch), None);
        assert_eq!(bumped(&v(&format!("1.{max}.0")), Bump::Minor), None);
        assert_eq!(bumped(&v(&format!("{max}.0.0")), Bump::Major), None);
    }

    #[test]
    fn zero_x_rules() {
        let both_true = BumpRules::default();
        assert_eq!(both_true.effective(&v("0.3.1"), Bump::Major), Bump::Major);
        assert_eq!(both_true.effective(&v("0.3.1"), Bump::Minor), Bump::Minor);
        let both_false = BumpRules {
            breaking_always_bump_major: false,
            features_always_bump_minor: false,
            ..BumpRules::default()
        };
        assert_eq!(both_false.effective(&v("0.3.1"), Bump::Major), Bump::Minor);
        assert_eq!(both_false.effective(&v("0.3.1"), Bump::Minor), Bump::Patch);
        assert_eq!(both_false.effective(&v("0.3.1"), Bump::Patch), Bump::Patch);
        // From 1.0 on the flags change nothing.
        assert_eq!(both_false.effective(&v("1.3.1"), Bump::Major), Bump::Major);
        assert_eq!(both_false.effective(&v("1.3.1"), Bump::Minor), Bump::Minor);
    }

    #[test]
    fn prerelease_numbers_continue() {
        let tags = [
            v("1.3.0-rc.1"),
            v("1.3.0-rc.2"),
            v("1.3.0-beta.7"),
            v("1.2.0-rc.9"),
        ];
        let next = |stable: &str, ch: &str| next_prerelease(&v(stable), ch, &tags);
        assert_eq!(next("1.3.0", "rc"), Some(v("1.3.0-rc.3")));
        assert_eq!(next("1.3.0", "beta"), Some(v("1.3.0-beta.8")));
        assert_eq!(next("1.3.0", "alpha"), Some(v("1.3.0-alpha.1")));
        assert_eq!(next("1.4.0", "rc"), Some(v("1.4.0-rc.1")));
        let last = v(&format!("1.4.0-rc.{}", u64::MAX));
        assert_eq!(next_prerelease(&v("1.4.0"), "rc", [&last]), None);
    }

    #[test]
    fn channel_names() {
        assert!(valid_channel("rc"));
        assert!(valid_channel("beta-2"));
        assert!(!valid_channel(""));
        assert!(!valid_channel("1"));
        assert!(!valid_channel("r c"));
        assert!(!valid_channel("rc.1"));
    }
}
