//! Progress lines for people (a deploy's events and counts): on stderr, secrets masked, left
//! out under `-q`. Machine output (`--json`) never goes here.

use std::sync::atomic::{AtomicBool, Ordering};

static QUIET: AtomicBool = AtomicBool::new(false);

/// `-q`: leave progress lines out from now on.
pub fn set_quiet(quiet: bool) {
    QUIET.store(quiet, Ordering::Relaxed);
}

/// Print one progress line on stderr, unless quiet.
pub fn line(text: &str) {
    if !QUIET.load(Ordering::Relaxed) {
        eprintln!("{}", crate::util::redact::redact(text));
    }
}
