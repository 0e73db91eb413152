//! AWS: one place for the SDK configuration and for turning SDK errors into redacted text.

pub mod cloudwatch;
pub mod ecr;
pub mod ecs;
pub mod error;
pub mod logs;
pub mod ssm;
pub mod sts;

/// The SDK configuration, loaded from the environment once per process and shared by every
/// client: `AWS_REGION`, credentials from the environment, a profile or the instance, and
/// `AWS_ENDPOINT_URL` (tests point it at a moto server).
pub async fn config() -> aws_config::SdkConfig {
    static CONFIG: tokio::sync::OnceCell<aws_config::SdkConfig> =
        tokio::sync::OnceCell::const_new();
    CONFIG
        .get_or_init(|| aws_config::defaults(aws_config::BehaviorVersion::latest()).load())
        .await
        .clone()
}
