//! The whole-history changelog.

pub mod compact;
