//! The health gate's probe: one GET of the environment's `health_url`.

use std::time::Duration;

/// Probes one URL.
pub struct Probe {
    agent: ureq::Agent,
    url: String,
    expect: Option<String>,
}

impl Probe {
    /// A probe of `url`; with `expect`, the answer must also contain that text (the version).
    pub fn new(url: &str, expect: Option<String>, timeout: Duration) -> Probe {
        let agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(timeout))
            .build()
            .new_agent();
        Probe {
            agent,
            url: url.to_string(),
            expect,
        }
    }

    /// The URL, secrets masked.
    pub fn url(&self) -> String {
        crate::core::remote::redact_url(&self.url)
    }

    /// `Ok` when the URL answers 2xx (showing the expected text); otherwise what it answered.
    pub fn check(&self) -> Result<(), String> {
        let mut response = self
            .agent
            .get(&self.url)
            .call()
            .map_err(|e| crate::util::redact::redact(&e.to_string()).into_owned())?;
        let status = response.status().as_u16();
        let body = response
            .body_mut()
            .with_config()
            .limit(64 * 1024)
            .read_to_string()
            .unwrap_or_default();
        if !(200..300).contains(&status) {
            return Err(format!("HTTP {status}"));
        }
        match &self.expect {
            Some(text) if !body.contains(text.as_str()) => Err(format!(
                "HTTP {status} without `{text}` in the answer: {}",
                body.trim().chars().take(80).collect::<String>()
            )),
            _ => Ok(()),
        }
    }
}
