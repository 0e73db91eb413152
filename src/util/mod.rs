//! Helpers every layer may use: redaction, safe paths, hashing, progress lines.

pub mod arn;
pub mod fault;
pub mod process;
pub mod progress;
pub mod redact;
pub mod safe_path;
pub mod sha256;
pub mod signals;
pub mod time;
