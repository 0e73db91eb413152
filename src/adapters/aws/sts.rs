//! STS: who the AWS credentials belong to.

/// The caller ARN of the AWS credentials in `config`.
pub async fn aws_caller(config: &aws_config::SdkConfig) -> Result<String, String> {
    let out = aws_sdk_sts::Client::new(config)
        .get_caller_identity()
        .send()
        .await
        .map_err(|e| crate::adapters::aws::error::reason("sts", "GetCallerIdentity", &e))?;
    out.arn()
        .map(str::to_string)
        .ok_or_else(|| "the answer names no caller ARN".into())
}
