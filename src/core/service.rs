//! ECS services as the rollout decisions see them: plain data, with ECS's states as enums.

use serde::Serialize;

pub use crate::config::environments::Strategy;

/// Declares an enum of ECS's upper-case state names, with a catch-all for names added later.
macro_rules! ecs_states {
    ($(#[$doc:meta])* $name:ident { $($(#[$vdoc:meta])* $variant:ident = $text:literal,)* }) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq)]
        pub enum $name {
            $($(#[$vdoc])* $variant,)*
            /// A state this version of release does not know, as ECS names it.
            Other(String),
        }

        impl $name {
            /// The name ECS gives it.
            pub fn as_str(&self) -> &str {
                match self {
                    $($name::$variant => $text,)*
                    $name::Other(text) => text,
                }
            }
        }

        impl From<&str> for $name {
            fn from(text: &str) -> $name {
                match text {
                    $($text => $name::$variant,)*
                    other => $name::Other(other.to_string()),
                }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.as_str())
            }
        }
    };
}

ecs_states! {
    /// The status of a service.
    ServiceStatus {
        /// Running (or able to run) tasks.
        Active = "ACTIVE",
        /// Being deleted.
        Draining = "DRAINING",
        /// Deleted.
        Inactive = "INACTIVE",
    }
}

ecs_states! {
    /// The status of one deployment of a service.
    DeploymentStatus {
        /// The newest deployment: the one the service moves to.
        Primary = "PRIMARY",
        /// An older deployment still running tasks.
        Active = "ACTIVE",
        /// A finished deployment.
        Inactive = "INACTIVE",
    }
}

ecs_states! {
    /// How far a deployment has rolled out (rolling-update controller).
    RolloutState {
        /// Tasks are being replaced.
        InProgress = "IN_PROGRESS",
        /// Every task runs the deployment's task definition.
        Completed = "COMPLETED",
        /// The circuit breaker stopped it.
        Failed = "FAILED",
    }
}

/// A service as the rollout decisions see it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ServiceView {
    /// The service name.
    pub name: String,
    /// Active, draining or inactive (deleted).
    pub status: ServiceStatus,
    /// The task definition the service is set to.
    pub task_definition: String,
    /// Desired tasks.
    pub desired: i32,
    /// Running tasks, over all deployments.
    pub running: i32,
    /// Deployments, newest first as ECS lists them.
    pub deployments: Vec<DeploymentView>,
    /// Service events, newest first.
    pub events: Vec<EventView>,
}

/// One deployment of a service.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DeploymentView {
    /// `ecs-svc/...`.
    pub id: String,
    /// Primary, active or inactive.
    pub status: DeploymentStatus,
    /// Its task definition.
    pub task_definition: String,
    /// Desired tasks.
    pub desired: i32,
    /// Running tasks.
    pub running: i32,
    /// Pending tasks.
    pub pending: i32,
    /// Tasks that failed to start.
    pub failed: i32,
    /// In progress, completed or failed (absent without the rolling-update controller).
    pub rollout_state: Option<RolloutState>,
    /// Why it is in that state.
    pub rollout_reason: Option<String>,
}

/// One service event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct EventView {
    /// Its id.
    pub id: String,
    /// The message.
    pub message: String,
}

impl ServiceView {
    /// The deployment with `id`.
    pub fn deployment(&self, id: &str) -> Option<&DeploymentView> {
        self.deployments.iter().find(|d| d.id == id)
    }

    /// The PRIMARY deployment.
    pub fn primary(&self) -> Option<&DeploymentView> {
        self.deployments
            .iter()
            .find(|d| d.status == DeploymentStatus::Primary)
    }
}

impl DeploymentView {
    /// Whether its rollout completed (a deployment without a rollout state, from another
    /// controller, counts as completed).
    pub fn rollout_completed(&self) -> bool {
        matches!(self.rollout_state, None | Some(RolloutState::Completed))
    }
}

ecs_states! {
    /// Where a service deployment (ECS's service-deployment API) stands.
    ServiceDeploymentStatus {
        /// Not started yet.
        Pending = "PENDING",
        /// Moving through its lifecycle stages.
        InProgress = "IN_PROGRESS",
        /// Every stage passed: the new revision takes all traffic.
        Successful = "SUCCESSFUL",
        /// Stopped where it stood (superseded, or stopped without a rollback).
        Stopped = "STOPPED",
        /// A stop was asked for.
        StopRequested = "STOP_REQUESTED",
        /// A rollback was asked for.
        RollbackRequested = "ROLLBACK_REQUESTED",
        /// Going back to the source revision.
        RollbackInProgress = "ROLLBACK_IN_PROGRESS",
        /// Back on the source revision.
        RollbackSuccessful = "ROLLBACK_SUCCESSFUL",
        /// The way back failed too.
        RollbackFailed = "ROLLBACK_FAILED",
    }
}

/// One lifecycle hook of a service deployment that ECS reports.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct HookView {
    /// The id `ContinueServiceDeployment` takes.
    pub id: String,
    /// `PAUSE` or `AWS_LAMBDA`.
    pub target_type: String,
    /// `AWAITING_ACTION`, `IN_PROGRESS`, `SUCCEEDED`, `FAILED`, `TIMED_OUT`.
    pub status: String,
    /// When ECS takes the timeout action (RFC 3339), if it said.
    pub expires_at: Option<String>,
}

/// A service deployment as the rollout decisions see it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ServiceDeploymentView {
    /// Its ARN.
    pub arn: String,
    /// The service's name (the last part of its ARN).
    pub service: String,
    /// Where it stands.
    pub status: ServiceDeploymentStatus,
    /// Its lifecycle stage (`SCALE_UP`, `PRODUCTION_TRAFFIC_SHIFT`, `BAKE_TIME`, ...).
    pub stage: Option<String>,
    /// Why it is in its status (ECS's words).
    pub reason: Option<String>,
    /// Why it was rolled back, if it was.
    pub rollback_reason: Option<String>,
    /// The share of production traffic the new revision was asked to take, in percent.
    pub production_weight: Option<f64>,
    /// The alarms that stopped it.
    pub triggered_alarms: Vec<String>,
    /// Its lifecycle hooks now.
    pub hooks: Vec<HookView>,
}

impl ServiceDeploymentStatus {
    /// Still moving (forward or back).
    pub fn is_active(&self) -> bool {
        matches!(
            self,
            ServiceDeploymentStatus::Pending
                | ServiceDeploymentStatus::InProgress
                | ServiceDeploymentStatus::StopRequested
                | ServiceDeploymentStatus::RollbackRequested
                | ServiceDeploymentStatus::RollbackInProgress
        )
    }
}

impl ServiceDeploymentView {
    /// The pause hook it waits at for someone to continue it.
    pub fn awaiting(&self) -> Option<&HookView> {
        self.hooks
            .iter()
            .find(|h| h.status == "AWAITING_ACTION" && h.target_type == "PAUSE")
    }

    /// Its stage as people read it: `PRODUCTION_TRAFFIC_SHIFT (10% of production traffic)`.
    pub fn stage_line(&self) -> String {
        let stage = self.stage.as_deref().unwrap_or("starting");
        match self.production_weight {
            Some(w) if stage == "PRODUCTION_TRAFFIC_SHIFT" => {
                format!("{stage} ({} of production traffic)", percent(w))
            }
            _ => stage.to_string(),
        }
    }
}

/// `10%`, `12.5%`.
pub fn percent(value: f64) -> String {
    if value.fract() == 0.0 {
        format!("{value:.0}%")
    } else {
        format!("{value}%")
    }
}

/// What a deploy sets in a service's `deploymentConfiguration`; everything else there is
/// kept as it is.
#[derive(Debug, Clone, PartialEq)]
pub struct StrategyPlan {
    /// The strategy.
    pub strategy: Strategy,
    /// `bakeTimeInMinutes`: how long the old revision stays after all traffic moved.
    pub bake_minutes: Option<i32>,
    /// Canary: percent of production traffic first, and minutes before the rest.
    pub canary: Option<(f64, i32)>,
    /// Linear: percent per step, and minutes between steps.
    pub linear: Option<(f64, i32)>,
    /// CloudWatch alarms ECS watches and rolls back on.
    pub alarms: Vec<String>,
    /// A pause hook after test traffic, timing out (and rolling back) after these minutes.
    pub pause_minutes: Option<i32>,
}
