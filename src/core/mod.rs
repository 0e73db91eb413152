//! The pure core: commits, versions, the plan, the changelog model, lint rules and rollout
//! decisions. No git2, AWS, tokio or file IO here (a test in `tests/` checks the imports).

pub mod changelog;
pub mod commit;
pub mod deployment;
pub mod identity;
pub mod image;
pub mod init;
pub mod lint;
pub mod migration;
pub mod packages;
pub mod plan;
pub mod record;
pub mod release_gate;
pub mod remote;
pub mod retention;
pub mod scan;
pub mod service;
pub mod step;
pub mod version;
