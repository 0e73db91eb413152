//! Every integration test, in one test binary: one module per area, sharing `support`. Each test
//! binary links the whole AWS SDK, so one binary instead of one per file saves most of the link
//! time and disk space of a build. Run one area with `cargo test --test all bump::`, one test
//! with its path, e.g. `cargo test --test all kill::two_racing_bumps`.

mod support;

mod architecture;
mod assets;
mod bad_input;
mod branches;
mod bump;
mod changelog;
mod ci;
mod cut;
mod end_to_end;
mod fixtures;
mod identity;
mod image;
mod image_ecr;
mod init;
mod kill;
mod ledger_ssm;
mod lint;
mod major_approval;
mod migrate;
mod package_assets;
mod package_cut;
mod package_major_tag;
mod package_rollout;
mod packages;
mod plan_output;
mod progressive;
mod release_files;
mod rollout;
mod security;
mod shell;
mod signing;
mod ssm_token;
mod version_rules;
