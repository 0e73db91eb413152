//! CloudWatch alarms that judge a deployment (`alarms` of an environment).

use aws_sdk_cloudwatch::types::{AlarmType, StateValue};
use aws_sdk_cloudwatch::Client;

/// An alarm's state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AlarmState {
    /// The alarm's name.
    pub name: String,
    /// `OK`, `ALARM` or `INSUFFICIENT_DATA`.
    pub state: String,
    /// CloudWatch's reason for the state.
    pub reason: String,
}

impl AlarmState {
    /// Whether it is firing.
    pub fn firing(&self) -> bool {
        self.state == StateValue::Alarm.as_str()
    }
}

/// Reading the alarms failed.
#[derive(Debug, thiserror::Error)]
pub enum AlarmError {
    /// Alarms named in release.toml that CloudWatch does not have.
    #[error("CloudWatch has no alarm named {}: check `alarms` of the environment (and the region)", .0.join(", "))]
    Missing(Vec<String>),
    /// The call failed.
    #[error("CloudWatch DescribeAlarms failed: {0}")]
    Sdk(String),
}

/// The alarms of one AWS configuration.
pub struct Alarms {
    client: Client,
}

impl Alarms {
    /// A client.
    pub fn new(config: &aws_config::SdkConfig) -> Alarms {
        Alarms {
            client: Client::new(config),
        }
    }

    /// The state of every alarm in `names` (metric and composite alarms, 100 names per call);
    /// a name CloudWatch does not know is an error.
    pub async fn states(&self, names: &[String]) -> Result<Vec<AlarmState>, AlarmError> {
        let mut out = Vec::new();
        for chunk in names.chunks(100) {
            let mut token: Option<String> = None;
            loop {
                let page = self
                    .client
                    .describe_alarms()
                    .set_alarm_names(Some(chunk.to_vec()))
                    .alarm_types(AlarmType::MetricAlarm)
                    .alarm_types(AlarmType::CompositeAlarm)
                    .set_next_token(token.clone())
                    .send()
                    .await
                    .map_err(|e| {
                        AlarmError::Sdk(crate::adapters::aws::error::reason(
                            "cloudwatch",
                            "DescribeAlarms",
                            &e,
                        ))
                    })?;
                for a in page.metric_alarms() {
                    out.push(state(a.alarm_name(), a.state_value(), a.state_reason()));
                }
                for a in page.composite_alarms() {
                    out.push(state(a.alarm_name(), a.state_value(), a.state_reason()));
                }
                token = page.next_token().map(str::to_string);
                if token.is_none() {
                    break;
                }
            }
        }
        let missing: Vec<String> = names
            .iter()
            .filter(|n| !out.iter().any(|a| &a.name == *n))
            .cloned()
            .collect();
        if !missing.is_empty() {
            return Err(AlarmError::Missing(missing));
        }
        Ok(out)
    }
}

fn state(name: Option<&str>, value: Option<&StateValue>, reason: Option<&str>) -> AlarmState {
    AlarmState {
        name: name.unwrap_or_default().to_string(),
        state: value.map(|v| v.as_str().to_string()).unwrap_or_default(),
        reason: reason.unwrap_or_default().to_string(),
    }
}
