//! Which stored images `release image prune` deletes: never one that runs, that an environment
//! could roll back to, that waits for approval or that a moving tag names; then the `keep`
//! newest versions; then, with `older_than`, only images known to be older.

use semver::Version;
use serde::Serialize;
use std::collections::HashMap;

use crate::config::image::is_version_tag;

/// One image in the repository: a digest and its tags.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StoredImage {
    /// `sha256:...`.
    pub digest: String,
    /// Its tags (none: untagged).
    pub tags: Vec<String>,
    /// When it was pushed (seconds since the epoch), when the registry says.
    pub pushed_at: Option<i64>,
}

/// The retention switches.
#[derive(Debug, Clone, Copy)]
pub struct Retention {
    /// Versions kept whatever their age, newest first.
    pub keep: usize,
    /// Only images pushed longer ago than this many seconds go.
    pub older_than: Option<i64>,
    /// Now, in seconds since the epoch.
    pub now: i64,
}

/// What happens to one image.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "verdict", content = "why", rename_all = "snake_case")]
pub enum Verdict {
    /// It stays, and why.
    Keep(String),
    /// It goes.
    Delete,
}

/// A tag that moves (`production`, `latest`): not a version and not `sha-<commit>`.
pub fn is_moving_tag(tag: &str) -> bool {
    !is_version_tag(tag) && !tag.starts_with("sha-")
}

/// The verdict on every image, in the order given. `protected` maps digests that must stay
/// to why (what runs, what an environment can roll back to, what waits for approval).
pub fn judge(
    images: &[StoredImage],
    protected: &HashMap<String, String>,
    retention: &Retention,
) -> Vec<Verdict> {
    // Rank the versioned images by their highest version, newest first.
    let mut versioned: Vec<(Version, &str)> = images
        .iter()
        .filter_map(|i| {
            let top = i
                .tags
                .iter()
                .filter_map(|t| Version::parse(&t.replace('_', "+")).ok())
                .max()?;
            Some((top, i.digest.as_str()))
        })
        .collect();
    versioned.sort_by(|a, b| b.0.cmp(&a.0));
    let newest: HashMap<&str, usize> = versioned
        .iter()
        .enumerate()
        .map(|(rank, (_, d))| (*d, rank))
        .collect();
    images
        .iter()
        .map(|image| {
            if let Some(why) = protected.get(&image.digest) {
                return Verdict::Keep(why.clone());
            }
            if let Some(tag) = image.tags.iter().find(|t| is_moving_tag(t)) {
                return Verdict::Keep(format!("the moving tag `{tag}` points at it"));
            }
            if let Some(rank) = newest
                .get(image.digest.as_str())
                .filter(|r| **r < retention.keep)
            {
                return Verdict::Keep(format!(
                    "one of the {} newest versions (#{})",
                    retention.keep,
                    rank + 1
                ));
            }
            if let Some(age) = retention.older_than {
                match image.pushed_at {
                    None => {
                        return Verdict::Keep(
                            "its age is unknown (the registry does not say when it was pushed)"
                                .into(),
                        )
                    }
                    Some(at) if retention.now.saturating_sub(at) < age => {
                        return Verdict::Keep(format!(
                            "pushed {} day(s) ago, not older than {} day(s)",
                            retention.now.saturating_sub(at) / 86_400,
                            age / 86_400
                        ))
                    }
                    Some(_) => {}
                }
            }
            Verdict::Delete
        })
        .collect()
}

/// `90d`, `12w`, `36h`, `30m` or a number of seconds: an age, up to 100 years.
pub fn parse_age(text: &str) -> Result<i64, String> {
    let text = text.trim();
    let (number, unit) = text
        .find(|c: char| !c.is_ascii_digit())
        .map_or((text, "s"), |at| text.split_at(at));
    let n: i64 = number
        .parse()
        .map_err(|_| format!("`{text}` is not an age like 90d, 12w or 36h"))?;
    let unit = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3_600,
        "d" => 86_400,
        "w" => 604_800,
        _ => return Err(format!("`{text}`: the unit is one of s, m, h, d, w")),
    };
    n.checked_mul(unit)
        .filter(|s| *s <= 100 * 365 * 86_400)
        .ok_or_else(|| format!("`{text}` is longer than 100 years"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn image(digest: &str, tags: &[&str], pushed_at: Option<i64>) -> StoredImage {
        StoredImage {
            digest: digest.into(),
            tags: tags.iter().map(|t| t.to_string()).collect(),
            pushed_at,
        }
    }

    const DAY: i64 = 86_400;

    #[test]
    fn what_stays_and_what_goes() {
        let now = 1000 * DAY;
        let images = [
            image("a", &["1.0.0", "sha-aaaaaaa"], Some(now - 400 * DAY)),
            image("b", &["1.1.0"], Some(now - 300 * DAY)),
            image("c", &["1.2.0", "production"], Some(now - 200 * DAY)),
            image("d", &["1.3.0"], Some(now - 100 * DAY)),
            image("e", &["2.0.0"], Some(now - 5 * DAY)),
            image("f", &[], Some(now - 500 * DAY)),
            image("g", &["sha-bbbbbbb"], None),
        ];
        let protected =
            HashMap::from([("b".to_string(), "staging can roll back to it".to_string())]);
        let verdicts = judge(
            &images,
            &protected,
            &Retention {
                keep: 1,
                older_than: Some(90 * DAY),
                now,
            },
        );
        let deleted: Vec<&str> = images
            .iter()
            .zip(&verdicts)
            .filter(|(_, v)| **v == Verdict::Delete)
            .map(|(i, _)| i.digest.as_str())
            .collect();
        assert_eq!(deleted, ["a", "d", "f"]);
        assert_eq!(
            verdicts[1],
            Verdict::Keep("staging can roll back to it".into())
        );
        assert_eq!(
            verdicts[2],
            Verdict::Keep("the moving tag `production` points at it".into())
        );
        assert!(matches!(&verdicts[4], Verdict::Keep(w) if w.contains("newest")));
        assert!(matches!(&verdicts[6], Verdict::Keep(w) if w.contains("age is unknown")));
        // Without an age limit, d and the sha-only g go too.
        let verdicts = judge(
            &images,
            &protected,
            &Retention {
                keep: 1,
                older_than: None,
                now,
            },
        );
        assert_eq!(verdicts[6], Verdict::Delete);
    }

    #[test]
    fn ages() {
        assert_eq!(parse_age("90d"), Ok(90 * DAY));
        assert_eq!(parse_age("2w"), Ok(14 * DAY));
        assert_eq!(parse_age("3600"), Ok(3600));
        assert!(parse_age("9y").is_err());
        assert!(parse_age("d").is_err());
        assert!(parse_age("99999999999999d").is_err());
    }
}
