//! `release.toml` loading must take any text without panicking: every problem is a
//! `ConfigError` naming the file, line and key. A file that loads prints back (`release config`)
//! as TOML that loads to the same configuration.
//!
//! Input: arbitrary bytes, decoded lossily (a file that is not UTF-8 is an I/O error before
//! parsing, so only text reaches the parser).
#![no_main]

use libfuzzer_sys::fuzz_target;
use release_agent::config::{Config, ConfigError};
use release_agent::config::environments::Span;
use std::path::Path;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let path = Path::new("release.toml");
    match Config::parse(&text, path) {
        Ok(config) => {
            let printed = config
                .to_toml()
                .expect("a loaded configuration prints as TOML");
            let again = Config::parse(&printed, path)
                .unwrap_or_else(|e| panic!("printed configuration does not load: {e}\n{printed}"));
            assert_eq!(again, config, "printing and loading changed the configuration");
        }
        Err(ConfigError::Invalid { line, column, .. }) => {
            assert!(line >= 1 && column >= 1, "locations are 1-based");
        }
        Err(ConfigError::Read { .. }) => unreachable!("parsing reads nothing"),
    }
    // Durations alone, as `--wait` gives them: an error or at most the maximum.
    if let Ok(span) = Span::parse(&text) {
        assert!(span.0 <= Span::MAX, "{text:?} parsed past the maximum");
    }
});
