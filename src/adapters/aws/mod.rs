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
/// `AWS_ENDPOINT_URL` (tests point it at a moto server). Throttled and passing errors are
/// retried with exponential backoff and full jitter (the SDK's standard mode), up to
/// [`MAX_ATTEMPTS`] tries unless `AWS_MAX_ATTEMPTS`/`AWS_RETRY_MODE` (or the profile) ask for
/// something other than the SDK's default.
pub async fn config() -> aws_config::SdkConfig {
    static CONFIG: tokio::sync::OnceCell<aws_config::SdkConfig> =
        tokio::sync::OnceCell::const_new();
    CONFIG
        .get_or_init(|| async {
            // What AWS_MAX_ATTEMPTS, AWS_RETRY_MODE or the profile ask for, read by the SDK.
            let asked = aws_config::default_provider::retry_config::default_provider()
                .retry_config()
                .await;
            let standard = aws_config::retry::RetryConfig::standard();
            let retry = if asked.mode() == standard.mode()
                && asked.max_attempts() == standard.max_attempts()
            {
                standard.with_max_attempts(MAX_ATTEMPTS)
            } else {
                asked
            };
            aws_config::defaults(aws_config::BehaviorVersion::latest())
                .retry_config(retry)
                .load()
                .await
        })
        .await
        .clone()
}

/// Tries per AWS call: a rollout polls ECS and CloudWatch for minutes across many services,
/// where ECS's API rate limits bite first; the SDK's default of 3 gives up within a second or
/// two of throttling.
pub const MAX_ATTEMPTS: u32 = 5;
