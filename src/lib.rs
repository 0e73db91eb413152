//! release-agent: turns git history into releases and rolls them out.
//!
//! The tree shows the layers; each depends only on those below it:
//! [`cli`] → [`app`] → [`core`] / [`adapters`] / [`ledger`] → [`config`] / [`util`].
//! See ARCHITECTURE.md for the path commits → plan → steps → adapters.

pub mod adapters;
pub mod app;
pub mod cli;
pub mod config;
pub mod core;
pub mod ledger;
pub mod util;
