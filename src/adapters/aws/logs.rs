//! CloudWatch Logs: the last lines of a log stream (a failed migration task's `awslogs`).

/// Reading a log stream failed.
#[derive(Debug, thiserror::Error)]
#[error("cannot read the log stream {stream} of group {group}: {message}")]
pub struct LogsError {
    /// The log group.
    pub group: String,
    /// The stream.
    pub stream: String,
    /// Why, from the SDK.
    pub message: String,
}

/// CloudWatch Logs of one AWS configuration.
pub struct Logs {
    config: aws_config::SdkConfig,
}

impl Logs {
    /// A reader with this configuration (a log group in another region gets its own client).
    pub fn new(config: &aws_config::SdkConfig) -> Logs {
        Logs {
            config: config.clone(),
        }
    }

    /// The last `n` lines of `stream` in `group`, oldest first; `region` when the group is in
    /// another region than the configuration's.
    pub async fn last_lines(
        &self,
        region: Option<&str>,
        group: &str,
        stream: &str,
        n: i32,
    ) -> Result<Vec<String>, LogsError> {
        let mut builder = aws_sdk_cloudwatchlogs::config::Builder::from(&self.config);
        if let Some(r) = region {
            builder = builder.region(aws_config::Region::new(r.to_string()));
        }
        let client = aws_sdk_cloudwatchlogs::Client::from_conf(builder.build());
        let out = client
            .get_log_events()
            .log_group_name(group)
            .log_stream_name(stream)
            .start_from_head(false)
            .limit(n)
            .send()
            .await
            .map_err(|e| LogsError {
                group: group.to_string(),
                stream: stream.to_string(),
                message: crate::adapters::aws::error::reason("logs", "GetLogEvents", &e),
            })?;
        Ok(out
            .events()
            .iter()
            .filter_map(|e| e.message().map(|m| m.trim_end().to_string()))
            .collect())
    }
}
