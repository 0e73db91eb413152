//! What the ledger records: deployments and their history, approvals, released versions and
//! their digests. Plain data with its serde shape; storing it is [`crate::ledger`]'s.

use serde::{Deserialize, Serialize};

use crate::core::identity::Identity;

/// What a record is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    /// A version deployed (or promoted) here.
    Deploy,
    /// A return to an earlier completed deployment, automatic or asked for.
    Rollback,
    /// What ran before release-agent first deployed here, read from ECS.
    Adopted,
}

/// Where a deployment stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// Task definitions registered, services updated, waiting.
    InProgress,
    /// Every service completed and the health gate passed.
    Completed,
    /// ECS failed, the gate failed, or it timed out.
    Failed,
}

/// One service of a deployment.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServiceState {
    /// The ECS service name.
    pub service: String,
    /// The task definition ARN it runs (or is moving to).
    pub task_definition: String,
    /// The deployment `UpdateService` created, once known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deployment_id: Option<String>,
    /// Its service deployment (ECS's service-deployment API), followed with a staged
    /// strategy.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_deployment: Option<String>,
    /// The lifecycle stages it passed, in order, as they were seen.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub stages: Vec<String>,
}

/// What completed in an environment: enough to go back to it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Snapshot {
    /// The version, unknown for what ran before release-agent.
    pub version: Option<String>,
    /// The image digest.
    pub digest: Option<String>,
    /// `repository@digest`.
    #[serde(default)]
    pub image: Option<String>,
    /// Task definition per service.
    pub services: Vec<ServiceState>,
    /// When it completed.
    pub at: String,
}

/// The state of one environment, written at every change; the history is every value it had.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Record {
    /// The environment.
    pub env: String,
    /// Deploy or rollback.
    pub action: Action,
    /// Where it stands.
    pub status: Status,
    /// The version being deployed (or rolled back to).
    pub version: Option<String>,
    /// Its image digest.
    pub digest: Option<String>,
    /// `repository@digest`.
    pub image: Option<String>,
    /// Per service: task definition and deployment.
    pub services: Vec<ServiceState>,
    /// Who ran it.
    pub by: String,
    /// Who wrote this record, and from which credential (absent in older records).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub identity: Option<Identity>,
    /// When (RFC 3339, UTC).
    pub at: String,
    /// Why it failed, or why it was rolled back.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// The latest deployment that completed here (this one, once it completes).
    pub last_completed: Option<Snapshot>,
    /// Alarms in ALARM when the deploy started, overridden with `--force` (not watched).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub forced_alarms: Vec<String>,
    /// The strategy ECS deployed with, when the environment names one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub strategy: Option<crate::config::environments::Strategy>,
}

impl Record {
    /// The ECS service deployments this deploy follows, one per service that has one.
    pub fn service_deployments(&self) -> Vec<String> {
        self.services
            .iter()
            .filter_map(|s| s.service_deployment.clone())
            .collect()
    }

    /// This record as the snapshot a rollback returns to.
    pub fn snapshot(&self) -> Snapshot {
        Snapshot {
            version: self.version.clone(),
            digest: self.digest.clone(),
            image: self.image.clone(),
            services: without_deployments(&self.services),
            at: self.at.clone(),
        }
    }
}

/// An approval or a rejection of one version for one environment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Approval {
    /// The version.
    pub version: String,
    /// The environment.
    pub env: String,
    /// Who (as [`Identity::by`] names them).
    pub by: String,
    /// Who wrote it, and from which credential (absent in older, unverified, approvals).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub identity: Option<Identity>,
    /// When (RFC 3339, UTC).
    pub at: String,
    /// Approved or rejected.
    pub decision: Decision,
    /// Free text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    /// The image digest decided on. Records from before digests were bound have none: they
    /// count only for the version's first recorded digest (`Ledger::digest`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub digest: Option<String>,
    /// Scan findings (`CVE-...`) this approver accepts the risk of, for the digest decided on.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub accepted_risks: Vec<String>,
}

impl Approval {
    /// Who wrote it; an approval without a recorded identity is unverified.
    pub fn identity(&self) -> Identity {
        self.identity
            .clone()
            .unwrap_or_else(|| Identity::unverified(&self.by))
    }
}

/// An approver's decision.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Decision {
    /// The version may go there.
    Approved,
    /// It may not.
    Rejected,
}

/// A major release `release ci` holds until it is approved (`[bump] major_requires_approval`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PendingRelease {
    /// The version.
    pub version: String,
    /// The commit it was planned at.
    pub commit: String,
    /// Who ran the `release ci` that held it.
    pub by: String,
    /// When (RFC 3339).
    pub at: String,
    /// The authors of its breaking commits, who may not approve it.
    pub authors: Vec<String>,
}

/// Facts about a released version that outlive one clone: who cut it and its image.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReleaseRecord {
    /// The version.
    pub version: String,
    /// Who cut it.
    pub cut_by: String,
    /// Who cut it, and from which credential (absent in older records).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub identity: Option<Identity>,
    /// The image digest.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub digest: Option<String>,
}

/// The digest a version was first recorded with: by `release cut`, or by its first deploy
/// (from the local image record of `release image push`, else the registry's version tag).
/// Never replaced: a version tag moved later is refused, not deployed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImageDigest {
    /// The version.
    pub version: String,
    /// The digest.
    pub digest: String,
    /// `repository@digest`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image: Option<String>,
    /// Who recorded it.
    pub by: String,
    /// When (RFC 3339, UTC).
    pub at: String,
}

/// The approvals of a version as stored, and the entries that could not be read.
#[derive(Debug, Clone, Default)]
pub struct Approvals {
    /// Readable approvals and rejections, oldest first.
    pub approvals: Vec<Approval>,
    /// Unreadable entries, each named with why (one could be a rejection).
    pub unreadable: Vec<String>,
}

/// `services` as task definitions alone: the deployments that ran them are not carried over.
pub fn without_deployments(services: &[ServiceState]) -> Vec<ServiceState> {
    services
        .iter()
        .map(|s| ServiceState {
            deployment_id: None,
            ..s.clone()
        })
        .collect()
}
