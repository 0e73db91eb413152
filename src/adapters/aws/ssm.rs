//! AWS Systems Manager Parameter Store: secrets (the GitHub token) read as SecureString, and
//! the plain `String` parameters the SSM ledger is built on ([`Parameters`]).
//!
//! The SDK's standard configuration applies: `AWS_REGION`, credentials from the environment or
//! profile, and `AWS_ENDPOINT_URL` (tests point it at a moto server).

use aws_sdk_ssm::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_ssm::operation::delete_parameter::DeleteParameterError;
use aws_sdk_ssm::operation::get_parameter::GetParameterError;
use aws_sdk_ssm::operation::put_parameter::PutParameterError;
use aws_sdk_ssm::types::{ParameterTier, ParameterType};

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

/// A Parameter Store call that failed: which call, on which parameter, and why (masked).
#[derive(Debug, thiserror::Error)]
#[error("{call}: {message}")]
pub struct CallError {
    /// The API call.
    pub call: &'static str,
    /// The parameter (or path).
    pub name: String,
    /// Why, from the SDK, with what to do.
    pub message: String,
}

fn failed<E>(call: &'static str, name: &str, e: &SdkError<E>) -> CallError
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    CallError {
        call,
        name: name.to_string(),
        message: crate::adapters::aws::error::reason("ssm", call, e),
    }
}

/// Standard parameters hold 4 KB; larger values need the advanced tier.
const STANDARD_LIMIT: usize = 4096;

/// Plain `String` parameters, by full name: one small function per API call.
#[derive(Clone)]
pub struct Parameters {
    client: aws_sdk_ssm::Client,
}

impl Parameters {
    /// A client from the SDK configuration.
    pub fn new(config: &aws_config::SdkConfig) -> Parameters {
        Parameters {
            client: aws_sdk_ssm::Client::new(config),
        }
    }

    /// `GetParameter`: the value and its version; `None` when there is no such parameter.
    pub async fn get(&self, name: &str) -> Result<Option<(String, i64)>, CallError> {
        match self.client.get_parameter().name(name).send().await {
            Ok(out) => Ok(out
                .parameter()
                .and_then(|p| Some((p.value()?.to_string(), p.version())))),
            Err(SdkError::ServiceError(e))
                if matches!(e.err(), GetParameterError::ParameterNotFound(_)) =>
            {
                Ok(None)
            }
            Err(e) => Err(failed("GetParameter", name, &e)),
        }
    }

    /// `PutParameter`; with `overwrite = false` only when absent (`None` then). The new
    /// version. Values past 4 KB go to the advanced tier.
    pub async fn put(
        &self,
        name: &str,
        value: &str,
        overwrite: bool,
    ) -> Result<Option<i64>, CallError> {
        let tier = if value.len() > STANDARD_LIMIT {
            ParameterTier::Advanced
        } else {
            ParameterTier::Standard
        };
        match self
            .client
            .put_parameter()
            .name(name)
            .value(value)
            .r#type(ParameterType::String)
            .tier(tier)
            .overwrite(overwrite)
            .send()
            .await
        {
            Ok(out) => Ok(Some(out.version())),
            Err(SdkError::ServiceError(e))
                if !overwrite
                    && matches!(e.err(), PutParameterError::ParameterAlreadyExists(_)) =>
            {
                Ok(None)
            }
            Err(e) => Err(failed("PutParameter", name, &e)),
        }
    }

    /// `GetParameterHistory`: every value the parameter had (SSM keeps the last 100), oldest
    /// first, with its version; empty when there is no such parameter.
    pub async fn history(&self, name: &str) -> Result<Vec<(i64, String)>, CallError> {
        let mut all = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let result = self
                .client
                .get_parameter_history()
                .name(name)
                .max_results(50)
                .set_next_token(token.take())
                .send()
                .await;
            let out = match result {
                Ok(out) => out,
                Err(SdkError::ServiceError(e))
                    if e.err().meta().code() == Some("ParameterNotFound") =>
                {
                    return Ok(Vec::new())
                }
                Err(e) => return Err(failed("GetParameterHistory", name, &e)),
            };
            for p in out.parameters() {
                if let Some(v) = p.value() {
                    all.push((p.version(), v.to_string()));
                }
            }
            match out.next_token() {
                Some(t) if !t.is_empty() => token = Some(t.to_string()),
                _ => break,
            }
        }
        all.sort_by_key(|(version, _)| *version);
        Ok(all)
    }

    /// `GetParametersByPath` (not recursive): the parameters right under `path`, as
    /// `(name, value)`.
    pub async fn children(&self, path: &str) -> Result<Vec<(String, String)>, CallError> {
        let mut values = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let out = self
                .client
                .get_parameters_by_path()
                .path(path)
                .recursive(false)
                .max_results(10)
                .set_next_token(token.take())
                .send()
                .await
                .map_err(|e| failed("GetParametersByPath", path, &e))?;
            values.extend(
                out.parameters()
                    .iter()
                    .filter_map(|p| Some((p.name()?.to_string(), p.value()?.to_string()))),
            );
            match out.next_token() {
                Some(t) if !t.is_empty() => token = Some(t.to_string()),
                _ => break,
            }
        }
        Ok(values)
    }

    /// `DeleteParameter`; a parameter that is not there is deleted already.
    pub async fn delete(&self, name: &str) -> Result<(), CallError> {
        match self.client.delete_parameter().name(name).send().await {
            Ok(_) => Ok(()),
            Err(SdkError::ServiceError(e))
                if matches!(e.err(), DeleteParameterError::ParameterNotFound(_)) =>
            {
                Ok(())
            }
            Err(e) => Err(failed("DeleteParameter", name, &e)),
        }
    }
}
