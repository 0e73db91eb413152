//! One thin module per outside system. Adapters translate; they do not decide.

pub mod aws;
pub mod builder;
pub mod git;
pub mod github;
pub mod github_logins;
pub mod health;
pub mod hooks;
pub mod image_record;
pub mod npm;
pub mod registry;
pub mod release_assets;
pub mod scanner;
pub mod templates;
pub mod version_files;
