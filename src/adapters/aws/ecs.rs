//! Amazon ECS: one small function per API call, and the plain views of services and
//! deployments that [`crate::core::deployment`] decides on.
//!
//! The SDK's standard configuration applies (`AWS_REGION`, `AWS_ENDPOINT_URL`, credentials).

use aws_sdk_ecs::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_ecs::types::{ContainerDefinition, Service, TaskDefinition, TaskDefinitionField};
use serde::Serialize;

use crate::adapters::aws::error as aws_error;

/// An ECS call that failed.
#[derive(Debug, thiserror::Error)]
pub enum EcsError {
    /// The API answered with an error, or could not be reached: one line that names the
    /// call, the resource and the fix.
    #[error("{message}")]
    Call {
        /// The API call.
        call: &'static str,
        /// What it was about.
        target: String,
        /// The whole line (see [`aws_error::describe`]).
        message: String,
    },
    /// A configured service does not exist.
    #[error("ECS service {service} does not exist in cluster {cluster} ({reason}): check `services` and `cluster` of the environment, and AWS_REGION")]
    MissingService {
        /// The cluster.
        cluster: String,
        /// The service.
        service: String,
        /// ECS's reason.
        reason: String,
    },
    /// The task definition has no container of the configured name.
    #[error("task definition {task_definition} has no container `{container}` (it has: {found}); set `container` of the environment")]
    MissingContainer {
        /// The task definition.
        task_definition: String,
        /// The configured container.
        container: String,
        /// The containers it has.
        found: String,
    },
    /// An answer lacked a field it always has.
    #[error("ECS {call} answered without {what}")]
    Incomplete {
        /// The API call.
        call: &'static str,
        /// The missing field.
        what: &'static str,
    },
}

fn failed<E>(call: &'static str, target: &str, e: &SdkError<E>) -> EcsError
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    EcsError::Call {
        call,
        target: target.to_string(),
        message: aws_error::describe("ecs", call, target, e),
    }
}

/// A service as the rollout decisions see it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ServiceView {
    /// The service name.
    pub name: String,
    /// `ACTIVE`, `DRAINING` or `INACTIVE` (deleted).
    pub status: String,
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
    /// `PRIMARY`, `ACTIVE` or `INACTIVE`.
    pub status: String,
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
    /// `IN_PROGRESS`, `COMPLETED` or `FAILED` (absent without the rolling-update controller).
    pub rollout_state: Option<String>,
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
    fn from_sdk(s: &Service) -> ServiceView {
        ServiceView {
            name: s.service_name().unwrap_or_default().to_string(),
            status: s.status().unwrap_or("ACTIVE").to_string(),
            task_definition: s.task_definition().unwrap_or_default().to_string(),
            desired: s.desired_count(),
            running: s.running_count(),
            deployments: s
                .deployments()
                .iter()
                .map(|d| DeploymentView {
                    id: d.id().unwrap_or_default().to_string(),
                    status: d.status().unwrap_or_default().to_string(),
                    task_definition: d.task_definition().unwrap_or_default().to_string(),
                    desired: d.desired_count(),
                    running: d.running_count(),
                    pending: d.pending_count(),
                    failed: d.failed_tasks(),
                    rollout_state: d.rollout_state().map(|r| r.as_str().to_string()),
                    rollout_reason: d.rollout_state_reason().map(str::to_string),
                })
                .collect(),
            events: s
                .events()
                .iter()
                .map(|e| EventView {
                    id: e.id().unwrap_or_default().to_string(),
                    message: e.message().unwrap_or_default().to_string(),
                })
                .collect(),
        }
    }

    /// The deployment with `id`.
    pub fn deployment(&self, id: &str) -> Option<&DeploymentView> {
        self.deployments.iter().find(|d| d.id == id)
    }

    /// The PRIMARY deployment.
    pub fn primary(&self) -> Option<&DeploymentView> {
        self.deployments.iter().find(|d| d.status == "PRIMARY")
    }
}

/// A task definition with its tags, as read.
#[derive(Debug, Clone)]
pub struct TaskDefinitionCopy {
    /// The definition.
    pub definition: TaskDefinition,
    /// Its tags.
    pub tags: Vec<aws_sdk_ecs::types::Tag>,
}

impl TaskDefinitionCopy {
    /// The ARN.
    pub fn arn(&self) -> &str {
        self.definition.task_definition_arn().unwrap_or_default()
    }

    /// The image of `container`.
    pub fn image(&self, container: &str) -> Result<&str, EcsError> {
        self.container(container)
            .map(|c| c.image().unwrap_or_default())
    }

    fn container(&self, name: &str) -> Result<&ContainerDefinition, EcsError> {
        let containers = self.definition.container_definitions();
        containers
            .iter()
            .find(|c| c.name() == Some(name))
            .ok_or_else(|| EcsError::MissingContainer {
                task_definition: self.arn().to_string(),
                container: name.to_string(),
                found: containers
                    .iter()
                    .filter_map(|c| c.name())
                    .collect::<Vec<_>>()
                    .join(", "),
            })
    }
}

/// The ECS client.
#[derive(Clone)]
pub struct Ecs {
    client: aws_sdk_ecs::Client,
}

fn nonempty<T: Clone>(items: &[T]) -> Option<Vec<T>> {
    (!items.is_empty()).then(|| items.to_vec())
}

impl Ecs {
    /// A client from the SDK configuration.
    pub fn new(config: &aws_config::SdkConfig) -> Ecs {
        Ecs {
            client: aws_sdk_ecs::Client::new(config),
        }
    }

    /// `DescribeServices`: the named services of `cluster` (at most 10), in the given order.
    pub async fn describe_services(
        &self,
        cluster: &str,
        services: &[String],
    ) -> Result<Vec<ServiceView>, EcsError> {
        let out = self
            .client
            .describe_services()
            .cluster(cluster)
            .set_services(Some(services.to_vec()))
            .send()
            .await
            .map_err(|e| failed("DescribeServices", &format!("cluster {cluster}"), &e))?;
        let found: Vec<ServiceView> = out.services().iter().map(ServiceView::from_sdk).collect();
        services
            .iter()
            .map(|name| {
                let arn_suffix = format!("/{name}");
                found
                    .iter()
                    .find(|s| &s.name == name)
                    .cloned()
                    .ok_or_else(|| {
                        let reason = out
                            .failures()
                            .iter()
                            .find(|f| f.arn().is_some_and(|a| a.ends_with(&arn_suffix)))
                            .and_then(|f| f.reason())
                            .unwrap_or("MISSING");
                        EcsError::MissingService {
                            cluster: cluster.to_string(),
                            service: name.clone(),
                            reason: reason.to_string(),
                        }
                    })
            })
            .collect()
    }

    /// `DescribeTaskDefinition` with its tags.
    pub async fn describe_task_definition(
        &self,
        arn: &str,
    ) -> Result<TaskDefinitionCopy, EcsError> {
        let out = self
            .client
            .describe_task_definition()
            .task_definition(arn)
            .include(TaskDefinitionField::Tags)
            .send()
            .await
            .map_err(|e| {
                failed(
                    "DescribeTaskDefinition",
                    &format!("task definition {arn}"),
                    &e,
                )
            })?;
        let definition = out.task_definition().cloned().ok_or(EcsError::Incomplete {
            call: "DescribeTaskDefinition",
            what: "a task definition",
        })?;
        Ok(TaskDefinitionCopy {
            definition,
            tags: out.tags().to_vec(),
        })
    }

    /// `RegisterTaskDefinition`: a new revision of `from` where only `container`'s image is
    /// `image`; every other field (secrets, environment, sizes, roles, tags) is kept. The ARN.
    pub async fn register_task_definition(
        &self,
        from: &TaskDefinitionCopy,
        container: &str,
        image: &str,
    ) -> Result<String, EcsError> {
        from.container(container)?;
        let td = &from.definition;
        let containers = td
            .container_definitions()
            .iter()
            .map(|c| {
                if c.name() == Some(container) {
                    let mut c = c.clone();
                    c.image = Some(image.to_string());
                    c
                } else {
                    c.clone()
                }
            })
            .collect();
        let out = self
            .client
            .register_task_definition()
            .set_family(td.family().map(str::to_string))
            .set_task_role_arn(td.task_role_arn().map(str::to_string))
            .set_execution_role_arn(td.execution_role_arn().map(str::to_string))
            .set_network_mode(td.network_mode().cloned())
            .set_container_definitions(Some(containers))
            .set_volumes(nonempty(td.volumes()))
            .set_placement_constraints(nonempty(td.placement_constraints()))
            .set_requires_compatibilities(nonempty(td.requires_compatibilities()))
            .set_cpu(td.cpu().map(str::to_string))
            .set_memory(td.memory().map(str::to_string))
            .set_tags(nonempty(&from.tags))
            .set_pid_mode(td.pid_mode().cloned())
            .set_ipc_mode(td.ipc_mode().cloned())
            .set_proxy_configuration(td.proxy_configuration().cloned())
            .set_ephemeral_storage(td.ephemeral_storage().cloned())
            .set_runtime_platform(td.runtime_platform().cloned())
            .set_enable_fault_injection(td.enable_fault_injection())
            .send()
            .await
            .map_err(|e| {
                failed(
                    "RegisterTaskDefinition",
                    &format!("a new revision of {}", from.arn()),
                    &e,
                )
            })?;
        out.task_definition()
            .and_then(|t| t.task_definition_arn())
            .map(str::to_string)
            .ok_or(EcsError::Incomplete {
                call: "RegisterTaskDefinition",
                what: "the new ARN",
            })
    }

    /// `UpdateService` to `task_definition`; with `force`, a new deployment starts even when
    /// the service is already set to it. The service as ECS answered (with the new
    /// deployment).
    pub async fn update_service(
        &self,
        cluster: &str,
        service: &str,
        task_definition: &str,
        force: bool,
    ) -> Result<ServiceView, EcsError> {
        let out = self
            .client
            .update_service()
            .cluster(cluster)
            .service(service)
            .task_definition(task_definition)
            .force_new_deployment(force)
            .send()
            .await
            .map_err(|e| {
                failed(
                    "UpdateService",
                    &format!("service {service} in cluster {cluster}"),
                    &e,
                )
            })?;
        out.service()
            .map(ServiceView::from_sdk)
            .ok_or(EcsError::Incomplete {
                call: "UpdateService",
                what: "the service",
            })
    }
}
