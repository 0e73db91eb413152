//! Commit-message parsing must take any input — huge, odd or hostile — without panicking.
//!
//! Input: arbitrary bytes, decoded lossily as git's message reader does. When the first byte is
//! 0xFF the rest is repeated past the 64 KiB full-parse limit, to reach the large-message path.
#![no_main]

use libfuzzer_sys::fuzz_target;
use release_agent::core::commit;

const LARGE: usize = 64 * 1024 + 1;

fn message(data: &[u8]) -> String {
    match data.split_first() {
        Some((0xFF, rest)) if !rest.is_empty() => {
            // Header once, then the remainder repeated: a message past the full-parse limit.
            let text = String::from_utf8_lossy(rest);
            let mut big = String::with_capacity(LARGE + text.len());
            big.push_str(&text);
            big.push('\n');
            while big.len() < LARGE {
                big.push_str(&text);
            }
            big
        }
        _ => String::from_utf8_lossy(data).into_owned(),
    }
}

fuzz_target!(|data: &[u8]| {
    let msg = message(data);

    let _ = commit::classify(&msg);
    let _ = commit::parse(&msg);
    let _ = commit::parse_git_revert(&msg);
    let _ = commit::reverted_commit(&msg);

    for strip in [false, true] {
        let cleaned = commit::clean_message(&msg, strip);
        // Cleaning is what git does before storing: doing it twice changes nothing.
        assert_eq!(
            commit::clean_message(&cleaned, strip),
            cleaned,
            "clean_message is not idempotent (strip_comments = {strip})"
        );
        let _ = commit::classify(&cleaned);
    }
});
