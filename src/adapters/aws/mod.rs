//! AWS: one place for the SDK configuration and for turning SDK errors into redacted text.

pub mod ecr;
pub mod ecs;
pub mod error;
pub mod ssm;
pub mod sts;
