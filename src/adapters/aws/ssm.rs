//! AWS Systems Manager Parameter Store: secrets (the GitHub token) read as SecureString.
//!
//! The SDK's standard configuration applies: `AWS_REGION`, credentials from the environment or
//! profile, and `AWS_ENDPOINT_URL` (tests point it at a moto server).

use aws_sdk_ssm::error::SdkError;
use aws_sdk_ssm::operation::get_parameter::GetParameterError;

use crate::util::redact;

/// A parameter that could not be read.
#[derive(Debug, thiserror::Error)]
pub enum SsmError {
    /// No such parameter.
    #[error("SSM parameter {0} does not exist (in this account and region): create it as a SecureString, or check AWS_REGION")]
    NotFound(String),
    /// The parameter has no value.
    #[error("SSM parameter {0} is empty")]
    Empty(String),
    /// Any other failure (credentials, permissions, network).
    #[error("cannot read SSM parameter {name}: {message}")]
    Other {
        /// The parameter.
        name: String,
        /// Why, from the SDK.
        message: String,
    },
}

/// The SDK configuration from the environment.
pub async fn aws_config() -> aws_config::SdkConfig {
    aws_config::defaults(aws_config::BehaviorVersion::latest())
        .load()
        .await
}

/// Read a (SecureString) parameter, decrypted; its value is registered for redaction before it
/// is returned.
pub async fn secret(config: &aws_config::SdkConfig, name: &str) -> Result<String, SsmError> {
    let client = aws_sdk_ssm::Client::new(config);
    let result = client
        .get_parameter()
        .name(name)
        .with_decryption(true)
        .send()
        .await;
    let output = result.map_err(|e| match &e {
        SdkError::ServiceError(s) if matches!(s.err(), GetParameterError::ParameterNotFound(_)) => {
            SsmError::NotFound(name.to_string())
        }
        _ => SsmError::Other {
            name: name.to_string(),
            message: crate::adapters::aws::error::reason("ssm", "GetParameter", &e),
        },
    })?;
    let value = output
        .parameter()
        .and_then(|p| p.value())
        .filter(|v| !v.is_empty())
        .ok_or_else(|| SsmError::Empty(name.to_string()))?
        .to_string();
    redact::register(&value);
    Ok(value)
}
