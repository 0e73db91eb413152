//! The test-only fault switch: exit at a named step boundary, as if killed.
//!
//! The CLI arms it from the environment ([`FAULT_ENV`]); library code only calls [`point`].

use std::sync::OnceLock;

/// The environment variable of the fault switch: the name of a step after which the process
/// exits at once (code 86), as if killed.
pub const FAULT_ENV: &str = "RELEASE_AGENT_FAIL_AFTER";

static ARMED: OnceLock<Option<String>> = OnceLock::new();

/// Arm the switch with the step it names (the CLI passes the value of [`FAULT_ENV`]).
pub fn arm(step: Option<String>) {
    let _ = ARMED.set(step.filter(|s| !s.is_empty()));
}

/// A step boundary: exit at once if the switch names `step`. For tests of resumability only.
pub fn point(step: &str) {
    if ARMED.get().and_then(Option::as_deref) == Some(step) {
        eprintln!("fault injected after step `{step}` ({FAULT_ENV})");
        std::process::exit(86);
    }
}
