//! The environment variables `release` honours, read once by the CLI and handed down: no
//! library code reads the process environment behind its caller's back, and tests give each
//! part the variables they mean.
//!
//! The AWS SDK still reads its own (`AWS_*`) when it loads its configuration.

use std::collections::BTreeMap;

/// A snapshot of environment variables.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Environ {
    vars: BTreeMap<String, String>,
}

impl Environ {
    /// The variables given (the CLI passes `std::env::vars_os()`, lossily decoded).
    pub fn from_vars<K: Into<String>, V: Into<String>>(
        vars: impl IntoIterator<Item = (K, V)>,
    ) -> Environ {
        Environ {
            vars: vars
                .into_iter()
                .map(|(k, v)| (k.into(), v.into()))
                .collect(),
        }
    }

    /// A variable's value; an empty one counts as unset, as `VAR=` in a CI file means.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.vars
            .get(name)
            .map(String::as_str)
            .filter(|v| !v.is_empty())
    }

    /// A variable's value as set, even empty (`VAR=` can mean "turn this off").
    pub fn get_raw(&self, name: &str) -> Option<&str> {
        self.vars.get(name).map(String::as_str)
    }

    /// [`Environ::get`], owned: the shape of the lookups some adapters take.
    pub fn lookup(&self, name: &str) -> Option<String> {
        self.get(name).map(str::to_string)
    }
}

/// Names only: values may be secrets.
impl std::fmt::Debug for Environ {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_set().entries(self.vars.keys()).finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_is_unset_and_debug_shows_no_value() {
        let e = Environ::from_vars([("GITHUB_TOKEN", "ghp_secret"), ("EMPTY", "")]);
        assert_eq!(e.get("GITHUB_TOKEN"), Some("ghp_secret"));
        assert_eq!(e.get("EMPTY"), None);
        assert_eq!(e.get_raw("EMPTY"), Some(""));
        assert_eq!(e.get("MISSING"), None);
        let debug = format!("{e:?}");
        assert!(
            debug.contains("GITHUB_TOKEN") && !debug.contains("ghp_secret"),
            "{debug}"
        );
    }
}
