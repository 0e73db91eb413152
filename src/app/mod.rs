//! Orchestration: each command is a list of steps run against the adapters.

pub mod authors;
pub mod bump;
pub mod changelog;
pub mod cut;
pub mod image;
pub mod init;
pub mod packages;
pub mod packages_cut;
pub mod plan;
pub mod prune;
pub mod rollout;
