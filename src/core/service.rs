//! ECS services as the rollout decisions see them: plain data, with ECS's states as enums.

use serde::Serialize;

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
