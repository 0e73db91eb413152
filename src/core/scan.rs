//! Image scan findings and the gate they pass (`max_severity` of an environment): severities,
//! the reports of Trivy (JSON) and of any SARIF scanner, and which findings block.

use serde::Serialize;

pub use crate::config::environments::Severity;

/// One vulnerability found in an image.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Finding {
    /// `CVE-2024-1234`, `GHSA-...`.
    pub id: String,
    /// Its severity.
    pub severity: Severity,
    /// `name version` of the package, when the scanner says.
    pub package: Option<String>,
}

/// How a finding names its package: `name version`, or the name alone.
pub fn package(name: &str, version: Option<&str>) -> String {
    match version {
        Some(v) => format!("{name} {v}"),
        None => name.to_string(),
    }
}

impl std::fmt::Display for Finding {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} ({}", self.id, self.severity.as_str())?;
        if let Some(p) = &self.package {
            write!(f, ", {p}")?;
        }
        write!(f, ")")
    }
}

/// The findings above `max` that no one accepted (ids in `accepted`, any case), each once,
/// worst first.
pub fn blocking<'a>(
    findings: &'a [Finding],
    max: Severity,
    accepted: &[String],
) -> Vec<&'a Finding> {
    let mut out: Vec<&Finding> = findings
        .iter()
        .filter(|f| f.severity > max && f.severity != Severity::Undefined)
        .filter(|f| !accepted.iter().any(|a| a.eq_ignore_ascii_case(&f.id)))
        .collect();
    out.sort_by(|a, b| b.severity.cmp(&a.severity).then(a.id.cmp(&b.id)));
    out.dedup_by(|a, b| a.id == b.id && a.package == b.package);
    out
}

/// A scan report that cannot be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the scan report is neither Trivy JSON nor SARIF: {0}")]
pub struct ReportError(pub String);

/// The findings of a Trivy JSON report (`trivy image --format json`) or a SARIF 2.1 log.
pub fn parse_report(text: &str) -> Result<Vec<Finding>, ReportError> {
    let value: serde_json::Value =
        serde_json::from_str(text).map_err(|e| ReportError(e.to_string()))?;
    if value.get("runs").is_some() {
        return Ok(sarif(&value));
    }
    if value.get("Results").is_some() || value.get("SchemaVersion").is_some() {
        return Ok(trivy(&value));
    }
    Err(ReportError(
        "no `Results` (Trivy) or `runs` (SARIF) at the top".into(),
    ))
}

fn text<'a>(v: &'a serde_json::Value, key: &str) -> Option<&'a str> {
    v.get(key).and_then(|x| x.as_str())
}

fn trivy(report: &serde_json::Value) -> Vec<Finding> {
    let mut out = Vec::new();
    for result in report["Results"].as_array().into_iter().flatten() {
        for v in result["Vulnerabilities"].as_array().into_iter().flatten() {
            let Some(id) = text(v, "VulnerabilityID") else {
                continue;
            };
            let package = text(v, "PkgName").map(|name| package(name, text(v, "InstalledVersion")));
            out.push(Finding {
                id: id.to_string(),
                severity: Severity::parse(text(v, "Severity").unwrap_or_default()),
                package,
            });
        }
    }
    out
}

/// SARIF: the severity from the rule's `security-severity` (a CVSS score, as GitHub reads it),
/// else the result's `level`.
fn sarif(log: &serde_json::Value) -> Vec<Finding> {
    let mut out = Vec::new();
    for run in log["runs"].as_array().into_iter().flatten() {
        let rules = run["tool"]["driver"]["rules"].as_array();
        let rule_of = |id: &str| rules.and_then(|r| r.iter().find(|x| text(x, "id") == Some(id)));
        for result in run["results"].as_array().into_iter().flatten() {
            let Some(id) = text(result, "ruleId") else {
                continue;
            };
            let score = rule_of(id)
                .and_then(|r| r["properties"]["security-severity"].as_str())
                .and_then(|s| s.parse::<f64>().ok());
            let severity = match score {
                Some(s) if s >= 9.0 => Severity::Critical,
                Some(s) if s >= 7.0 => Severity::High,
                Some(s) if s >= 4.0 => Severity::Medium,
                Some(s) if s > 0.0 => Severity::Low,
                Some(_) => Severity::Informational,
                None => match text(result, "level").unwrap_or("warning") {
                    "error" => Severity::High,
                    "warning" => Severity::Medium,
                    "note" => Severity::Low,
                    _ => Severity::Undefined,
                },
            };
            out.push(Finding {
                id: id.to_string(),
                severity,
                package: None,
            });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn f(id: &str, s: Severity) -> Finding {
        Finding {
            id: id.into(),
            severity: s,
            package: None,
        }
    }

    #[test]
    fn only_what_is_above_the_maximum_and_not_accepted_blocks() {
        let all = [
            f("CVE-1", Severity::High),
            f("CVE-2", Severity::Critical),
            f("CVE-3", Severity::Undefined),
            f("CVE-4", Severity::Medium),
        ];
        let ids = |v: Vec<&Finding>| v.iter().map(|f| f.id.clone()).collect::<Vec<_>>();
        assert_eq!(ids(blocking(&all, Severity::High, &[])), ["CVE-2"]);
        assert_eq!(
            ids(blocking(&all, Severity::Medium, &[])),
            ["CVE-2", "CVE-1"]
        );
        assert!(blocking(&all, Severity::Medium, &["cve-2".into(), "CVE-1".into()]).is_empty());
        assert!(blocking(&all, Severity::Critical, &[]).is_empty());
        assert_eq!(Severity::parse("moderate"), Severity::Medium);
        assert_eq!(Severity::parse("UNTRIAGED"), Severity::Undefined);
    }

    #[test]
    fn reads_trivy_and_sarif() {
        let trivy = r#"{"SchemaVersion": 2, "Results": [{"Target": "x", "Vulnerabilities": [
            {"VulnerabilityID": "CVE-2024-1", "PkgName": "openssl", "InstalledVersion": "3.0.1", "Severity": "CRITICAL"},
            {"VulnerabilityID": "CVE-2024-2", "Severity": "LOW"}]}, {"Target": "y"}]}"#;
        let found = parse_report(trivy).unwrap();
        assert_eq!(found.len(), 2);
        assert_eq!(found[0].to_string(), "CVE-2024-1 (CRITICAL, openssl 3.0.1)");
        let sarif = r#"{"version": "2.1.0", "runs": [{"tool": {"driver": {"name": "grype", "rules": [
            {"id": "CVE-2024-3", "properties": {"security-severity": "9.8"}},
            {"id": "CVE-2024-4", "properties": {"security-severity": "5.0"}}]}},
            "results": [{"ruleId": "CVE-2024-3", "level": "error"}, {"ruleId": "CVE-2024-4"}, {"ruleId": "X-1", "level": "note"}]}]}"#;
        let found = parse_report(sarif).unwrap();
        let sev: Vec<Severity> = found.iter().map(|f| f.severity).collect();
        assert_eq!(sev, [Severity::Critical, Severity::Medium, Severity::Low]);
        assert!(parse_report("{}").is_err());
        assert!(parse_report("not json").is_err());
    }
}
