//! An image scanner of the user's choice (`scan_command`), run against a digest: an argument
//! list without a shell, `{image}` replaced by `repository@digest`, its report (Trivy JSON or
//! SARIF) read from stdout.

use std::process::{Command, Stdio};
use std::time::Duration;

use crate::core::scan::{self, Finding};
use crate::util::redact;

/// The scanner could not give findings.
#[derive(Debug, thiserror::Error)]
pub enum ScannerError {
    /// It did not start.
    #[error("cannot run the scanner `{program}`: {message}")]
    Start {
        /// The program.
        program: String,
        /// Why.
        message: String,
    },
    /// It failed.
    #[error("the scanner `{program}` failed ({status}): {stderr}")]
    Failed {
        /// The program.
        program: String,
        /// Its exit status.
        status: String,
        /// The end of what it printed on stderr.
        stderr: String,
    },
    /// It took too long.
    #[error("the scanner `{program}` did not finish within {seconds} s (the environment's timeout): it was stopped")]
    Timeout {
        /// The program.
        program: String,
        /// The limit.
        seconds: u64,
    },
    /// Its report cannot be read.
    #[error("the scanner `{program}`: {source}")]
    Report {
        /// The program.
        program: String,
        /// What is wrong with the report.
        source: scan::ReportError,
    },
}

/// Run `argv` against `image` and read its findings.
pub fn scan(argv: &[String], image: &str, timeout: Duration) -> Result<Vec<Finding>, ScannerError> {
    let program = argv.first().cloned().unwrap_or_default();
    let args: Vec<String> = argv
        .iter()
        .skip(1)
        .map(|a| a.replace("{image}", image))
        .collect();
    let child = Command::new(&program)
        .args(&args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| ScannerError::Start {
            program: program.clone(),
            message: e.to_string(),
        })?;
    let pid = child.id();
    let (send, receive) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = send.send(child.wait_with_output());
    });
    let output = match receive.recv_timeout(timeout) {
        Ok(Ok(output)) => output,
        Ok(Err(e)) => {
            return Err(ScannerError::Start {
                program,
                message: e.to_string(),
            })
        }
        Err(_) => {
            #[cfg(unix)]
            if let Ok(pid) = libc::pid_t::try_from(pid) {
                // SAFETY: kill(2) with a pid of our own child, which has not been reaped.
                unsafe {
                    libc::kill(pid, libc::SIGKILL);
                }
            }
            return Err(ScannerError::Timeout {
                program,
                seconds: timeout.as_secs(),
            });
        }
    };
    if !output.status.success() {
        let stderr = String::from_utf8_lossy(&output.stderr);
        let tail: Vec<&str> = stderr.lines().rev().take(5).collect();
        let tail: Vec<&str> = tail.into_iter().rev().collect();
        return Err(ScannerError::Failed {
            program,
            status: output.status.to_string(),
            stderr: redact::redact(&redact::escape_controls(&tail.join(" | "))).into_owned(),
        });
    }
    scan::parse_report(&String::from_utf8_lossy(&output.stdout))
        .map_err(|source| ScannerError::Report { program, source })
}
