//! release-agent: turns git history into releases and rolls them out.
//!
//! The library holds all logic; the `release` binary only parses arguments and dispatches.
//! Pure core: [`commit`], [`version`], [`plan`] (building), [`changelog`] (model), [`compact`]
//! (what a whole-history changelog keeps of each commit), [`lint`], [`remote`], [`rollout`]
//! (deployment decisions). Adapters: [`history`] (reading git), [`git`] (writing git),
//! [`hooks`], [`version_files`], [`github`], [`image`] (builders and registries), [`ecs`],
//! [`ledger`] (file or SSM), [`identity`] (who runs it, from a credential), [`health`].
//! [`bump`] orders the steps of a local release,
//! [`pipeline`] those of `cut` and `ci`, [`deploy`] those of a rollout; [`config`] and
//! [`environments`] read `release.toml`; [`redact`] keeps secrets out of every output and
//! [`progress`] prints what people follow; [`commands`] is the CLI glue.

pub mod aws_error;
pub mod bump;
pub mod changelog;
pub mod cli;
pub mod commands;
pub mod commit;
pub mod compact;
pub mod config;
pub mod deploy;
pub mod ecs;
pub mod environments;
pub mod git;
pub mod github;
pub mod health;
pub mod history;
pub mod hooks;
pub mod identity;
pub mod image;
pub mod ledger;
pub mod lint;
pub mod pipeline;
pub mod plan;
pub mod progress;
pub mod redact;
pub mod remote;
pub mod rollout;
pub mod safe_path;
pub mod ssm;
pub mod version;
pub mod version_files;
