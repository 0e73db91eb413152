//! `branches`: where releases are cut, and which release each branch makes.
//!
//! A plain name is a stable release branch, as it always was (`branches = ["main"]`). A table
//! says more, in semantic-release's model:
//!
//! ```toml
//! [[branches]]
//! name = "main"                 # stable releases
//! [[branches]]
//! name = "next"
//! prerelease = "next"           # 2.0.0-next.1, -next.2 ...
//! [[branches]]
//! name = "1.x"                  # maintenance: only 1.y.z (the range comes from the name)
//! ```

use semver::Version;
use serde::{Deserialize, Serialize};

/// One entry of `branches`: a name, or a rule.
#[derive(Debug, Clone, PartialEq, Serialize, schemars::JsonSchema)]
#[serde(untagged)]
pub enum BranchEntry {
    /// A stable release branch.
    Name(String),
    /// A branch with a rule.
    Rule(BranchRule),
}

/// A string is a name, a table a rule; a table's own errors (an unknown key, a wrong type)
/// come through with their place, which an untagged enum would lose.
impl<'de> Deserialize<'de> for BranchEntry {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Entry;
        impl<'de> serde::de::Visitor<'de> for Entry {
            type Value = BranchEntry;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(
                    "a branch name, or a table with `name` and optionally `prerelease` or `range`",
                )
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<BranchEntry, E> {
                Ok(BranchEntry::Name(v.to_string()))
            }
            fn visit_map<M: serde::de::MapAccess<'de>>(
                self,
                map: M,
            ) -> Result<BranchEntry, M::Error> {
                BranchRule::deserialize(serde::de::value::MapAccessDeserializer::new(map))
                    .map(BranchEntry::Rule)
            }
        }
        deserializer.deserialize_any(Entry)
    }
}

/// `[[branches]]`
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct BranchRule {
    /// The branch.
    pub name: String,
    /// Releases from here are pre-releases on this channel (`2.0.0-next.1`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prerelease: Option<String>,
    /// A maintenance branch's versions: `1.x` or `1.2.x`. Default: the name, when it has
    /// that form.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub range: Option<String>,
}

/// What a branch releases.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BranchKind {
    /// Stable versions.
    Stable,
    /// Pre-releases on a channel.
    Prerelease(String),
    /// Stable versions within a range, below every release of a later line.
    Maintenance(Range),
}

/// A maintenance range: `1.x` (major 1) or `1.2.x` (major 1, minor 2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Range {
    /// The major version.
    pub major: u64,
    /// The minor version, for a `1.2.x` range.
    pub minor: Option<u64>,
}

impl Range {
    /// `1.x` or `1.2.x`; anything else is not a range.
    pub fn parse(text: &str) -> Option<Range> {
        let rest = text.strip_suffix(".x")?;
        let mut parts = rest.split('.');
        let number = |p: Option<&str>| -> Option<u64> {
            let p = p?;
            (!p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()))
                .then(|| p.parse().ok())
                .flatten()
        };
        let major = number(parts.next())?;
        let minor = match parts.next() {
            None => None,
            Some(m) => Some(number(Some(m))?),
        };
        parts.next().is_none().then_some(Range { major, minor })
    }

    /// Whether `v` is in the range.
    pub fn contains(&self, v: &Version) -> bool {
        v.major == self.major && self.minor.is_none_or(|m| v.minor == m)
    }
}

impl std::fmt::Display for Range {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.minor {
            Some(m) => write!(f, "{}.{m}.x", self.major),
            None => write!(f, "{}.x", self.major),
        }
    }
}

impl BranchEntry {
    /// The branch's name.
    pub fn name(&self) -> &str {
        match self {
            BranchEntry::Name(n) => n,
            BranchEntry::Rule(r) => &r.name,
        }
    }

    /// What it releases. A plain name is stable, whatever it looks like: `1.x` listed as a
    /// name stays what it was before rules existed.
    pub fn kind(&self) -> BranchKind {
        let BranchEntry::Rule(rule) = self else {
            return BranchKind::Stable;
        };
        if let Some(channel) = &rule.prerelease {
            return BranchKind::Prerelease(channel.clone());
        }
        match rule
            .range
            .as_deref()
            .and_then(Range::parse)
            .or_else(|| Range::parse(&rule.name))
        {
            Some(range) => BranchKind::Maintenance(range),
            None => BranchKind::Stable,
        }
    }

    /// How `release plan` names the rule.
    pub fn describe(&self) -> String {
        match self.kind() {
            BranchKind::Stable => format!("{}: stable releases", self.name()),
            BranchKind::Prerelease(ch) => {
                format!("{}: pre-releases on the `{ch}` channel", self.name())
            }
            BranchKind::Maintenance(r) => format!(
                "{}: maintenance of {r}, below every release of a later line",
                self.name()
            ),
        }
    }
}

/// Whether `channel` can serve as a pre-release identifier (`rc`, `beta-2`; not `1`, `rc.1`).
pub fn valid_channel(channel: &str) -> bool {
    !channel.is_empty()
        && channel
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-')
        && !channel.bytes().all(|b| b.is_ascii_digit())
        && semver::Prerelease::new(channel).is_ok()
}

/// Why `branches` cannot be used: (key, message).
pub fn validate(branches: &[BranchEntry]) -> Result<(), (String, String)> {
    for (i, b) in branches.iter().enumerate() {
        if b.name().trim().is_empty() {
            return Err(("name".into(), format!("branches[{i}] has an empty name")));
        }
        if branches[..i].iter().any(|o| o.name() == b.name()) {
            return Err((
                "name".into(),
                format!("branch `{}` is listed twice", b.name()),
            ));
        }
        let BranchEntry::Rule(rule) = b else { continue };
        if let Some(ch) = &rule.prerelease {
            if !valid_channel(ch) {
                return Err((
                    "prerelease".into(),
                    format!("branch `{}`: `{ch}` cannot be a pre-release channel: use letters, digits and `-`", rule.name),
                ));
            }
            if rule.range.is_some() {
                return Err((
                    "range".into(),
                    format!(
                        "branch `{}` has both prerelease and range: a maintenance branch makes stable releases",
                        rule.name
                    ),
                ));
            }
        }
        if let Some(r) = &rule.range {
            if Range::parse(r).is_none() {
                return Err((
                    "range".into(),
                    format!(
                        "branch `{}`: `{r}` is not a range like \"1.x\" or \"1.2.x\"",
                        rule.name
                    ),
                ));
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(s: &str) -> Version {
        Version::parse(s).unwrap()
    }

    #[test]
    fn ranges() {
        let one = Range::parse("1.x").unwrap();
        assert!(one.contains(&v("1.9.3")) && !one.contains(&v("2.0.0")));
        let one_two = Range::parse("1.2.x").unwrap();
        assert!(one_two.contains(&v("1.2.7")) && !one_two.contains(&v("1.3.0")));
        assert_eq!(one_two.to_string(), "1.2.x");
        for bad in ["x", "1", "1.x.x", "a.x", ".x", "1..x", "1.2.3.x", "main"] {
            assert_eq!(Range::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn kinds() {
        let rule = |name: &str, pre: Option<&str>, range: Option<&str>| {
            BranchEntry::Rule(BranchRule {
                name: name.into(),
                prerelease: pre.map(str::to_string),
                range: range.map(str::to_string),
            })
        };
        assert_eq!(BranchEntry::Name("1.x".into()).kind(), BranchKind::Stable);
        assert_eq!(rule("main", None, None).kind(), BranchKind::Stable);
        assert_eq!(
            rule("next", Some("next"), None).kind(),
            BranchKind::Prerelease("next".into())
        );
        assert_eq!(
            rule("1.x", None, None).kind(),
            BranchKind::Maintenance(Range {
                major: 1,
                minor: None
            })
        );
        assert_eq!(
            rule("support/one", None, Some("1.4.x")).kind(),
            BranchKind::Maintenance(Range {
                major: 1,
                minor: Some(4)
            })
        );
        assert!(validate(&[rule("a", Some("rc"), Some("1.x"))]).is_err());
        assert!(validate(&[rule("a", None, Some("one"))]).is_err());
        assert!(validate(&[BranchEntry::Name("a".into()), rule("a", None, None)]).is_err());
        assert!(validate(&[rule("b", Some("no dots."), None)]).is_err());
    }
}
