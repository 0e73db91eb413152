//! Amazon ECS: one small function per API call, and the plain views of services and
//! deployments that [`crate::core::deployment`] decides on.
//!
//! The SDK's standard configuration applies (`AWS_REGION`, `AWS_ENDPOINT_URL`, credentials).

use aws_sdk_ecs::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_ecs::types::{
    CanaryConfiguration, ContainerDefinition, DeploymentAlarms, DeploymentConfiguration,
    DeploymentLifecycleHook, DeploymentLifecycleHookAction, DeploymentLifecycleHookStage,
    DeploymentLifecycleHookTargetType, DeploymentLifecycleHookTimeoutConfiguration,
    DeploymentRolloutState, DeploymentStrategy, LinearConfiguration, Service,
    StopServiceDeploymentStopType, TaskDefinition, TaskDefinitionField,
};
use futures_util::future::join_all;

use crate::adapters::aws::error as aws_error;
use crate::core::service::{
    DeploymentStatus, DeploymentView, EventView, HookView, RolloutState, ServiceDeploymentStatus,
    ServiceDeploymentView, ServiceStatus, ServiceView, StrategyPlan,
};

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

/// The core's view of an ECS service.
fn service_view(s: &Service) -> ServiceView {
    ServiceView {
        name: s.service_name().unwrap_or_default().to_string(),
        status: ServiceStatus::from(s.status().unwrap_or("ACTIVE")),
        task_definition: s.task_definition().unwrap_or_default().to_string(),
        desired: s.desired_count(),
        running: s.running_count(),
        deployments: s
            .deployments()
            .iter()
            .map(|d| DeploymentView {
                id: d.id().unwrap_or_default().to_string(),
                status: DeploymentStatus::from(d.status().unwrap_or_default()),
                task_definition: d.task_definition().unwrap_or_default().to_string(),
                desired: d.desired_count(),
                running: d.running_count(),
                pending: d.pending_count(),
                failed: d.failed_tasks(),
                rollout_state: d.rollout_state().map(rollout_state),
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

/// The SDK's rollout state as the core's.
fn rollout_state(state: &DeploymentRolloutState) -> RolloutState {
    match state {
        DeploymentRolloutState::Completed => RolloutState::Completed,
        DeploymentRolloutState::Failed => RolloutState::Failed,
        DeploymentRolloutState::InProgress => RolloutState::InProgress,
        other => RolloutState::Other(other.as_str().to_string()),
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

    /// Whether it has a container named `name`.
    pub fn has_container(&self, name: &str) -> bool {
        self.definition
            .container_definitions()
            .iter()
            .any(|c| c.name() == Some(name))
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

/// The most services one `DescribeServices` takes.
pub const DESCRIBE_SERVICES_MAX: usize = 10;

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

    /// `DescribeServices`: the named services of `cluster`, in the given order, in one call
    /// per 10 services (the API's limit), the calls made together.
    pub async fn describe_services(
        &self,
        cluster: &str,
        services: &[String],
    ) -> Result<Vec<ServiceView>, EcsError> {
        let calls = services
            .chunks(DESCRIBE_SERVICES_MAX)
            .map(|chunk| self.describe_some_services(cluster, chunk));
        let mut views = Vec::with_capacity(services.len());
        for answer in join_all(calls).await {
            views.extend(answer?);
        }
        Ok(views)
    }

    /// One `DescribeServices` of at most [`DESCRIBE_SERVICES_MAX`] services.
    async fn describe_some_services(
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
        let found: Vec<ServiceView> = out.services().iter().map(service_view).collect();
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

    /// `RegisterTaskDefinition`: a new revision of `from` where only the named containers'
    /// images change, each to its `(container, image)` pair; every other field (secrets,
    /// environment, sizes, roles, tags) is kept. The ARN.
    pub async fn register_task_definition(
        &self,
        from: &TaskDefinitionCopy,
        images: &[(&str, &str)],
    ) -> Result<String, EcsError> {
        for (container, _) in images {
            from.container(container)?;
        }
        let td = &from.definition;
        let containers = td
            .container_definitions()
            .iter()
            .map(|c| {
                let mut c = c.clone();
                if let Some((_, image)) = images.iter().find(|(n, _)| c.name() == Some(*n)) {
                    c.image = Some(image.to_string());
                }
                c
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
    /// the service is already set to it; with `plan`, the deployment goes out with that
    /// strategy. The service as ECS answered (with the new deployment).
    pub async fn update_service(
        &self,
        cluster: &str,
        service: &str,
        task_definition: &str,
        force: bool,
        plan: Option<&StrategyPlan>,
    ) -> Result<ServiceView, EcsError> {
        let configuration = match plan {
            Some(plan) => Some(
                self.deployment_configuration(cluster, service, plan)
                    .await?,
            ),
            None => None,
        };
        let out = self
            .client
            .update_service()
            .cluster(cluster)
            .service(service)
            .task_definition(task_definition)
            .force_new_deployment(force)
            .set_deployment_configuration(configuration)
            .send()
            .await
            .map_err(|e| {
                failed(
                    "UpdateService",
                    &format!("service {service} in cluster {cluster}"),
                    &e,
                )
            })?;
        out.service().map(service_view).ok_or(EcsError::Incomplete {
            call: "UpdateService",
            what: "the service",
        })
    }

    /// The service's deployment configuration with `plan` applied: the strategy and its
    /// settings, the alarms and the pause hook are set; everything else (percentages, the
    /// circuit breaker, hooks of your own) stays as it is.
    async fn deployment_configuration(
        &self,
        cluster: &str,
        service: &str,
        plan: &StrategyPlan,
    ) -> Result<DeploymentConfiguration, EcsError> {
        let out = self
            .client
            .describe_services()
            .cluster(cluster)
            .services(service)
            .send()
            .await
            .map_err(|e| failed("DescribeServices", &format!("cluster {cluster}"), &e))?;
        let mut c = out
            .services()
            .first()
            .and_then(|s| s.deployment_configuration().cloned())
            .unwrap_or_else(|| DeploymentConfiguration::builder().build());
        c.strategy = Some(DeploymentStrategy::from(plan.strategy.ecs_name()));
        c.bake_time_in_minutes = plan.bake_minutes.or(c.bake_time_in_minutes);
        c.canary_configuration = plan.canary.map(|(percent, minutes)| {
            CanaryConfiguration::builder()
                .canary_percent(percent)
                .canary_bake_time_in_minutes(minutes)
                .build()
        });
        c.linear_configuration = plan.linear.map(|(percent, minutes)| {
            LinearConfiguration::builder()
                .step_percent(percent)
                .step_bake_time_in_minutes(minutes)
                .build()
        });
        if !plan.alarms.is_empty() {
            c.alarms = Some(
                DeploymentAlarms::builder()
                    .set_alarm_names(Some(plan.alarms.clone()))
                    .enable(true)
                    .rollback(true)
                    .build()
                    .map_err(|_| EcsError::Incomplete {
                        call: "UpdateService",
                        what: "a complete alarm configuration",
                    })?,
            );
        }
        let mut hooks: Vec<DeploymentLifecycleHook> = c
            .lifecycle_hooks
            .take()
            .unwrap_or_default()
            .into_iter()
            .filter(|h| !is_pause_before_shift(h))
            .collect();
        if let Some(minutes) = plan.pause_minutes {
            hooks.push(
                DeploymentLifecycleHook::builder()
                    .target_type(DeploymentLifecycleHookTargetType::Pause)
                    .lifecycle_stages(PAUSE_STAGE)
                    .timeout_configuration(
                        DeploymentLifecycleHookTimeoutConfiguration::builder()
                            .timeout_in_minutes(minutes)
                            .action(DeploymentLifecycleHookAction::Rollback)
                            .build(),
                    )
                    .build(),
            );
        }
        c.lifecycle_hooks = Some(hooks);
        Ok(c)
    }

    /// The newest service deployment of `service` to `task_definition`: ECS names service
    /// deployments after service revisions, not task definitions, so the revisions are read.
    pub async fn service_deployment_for(
        &self,
        cluster: &str,
        service: &str,
        task_definition: &str,
    ) -> Result<Option<String>, EcsError> {
        let target = format!("service {service} in cluster {cluster}");
        let out = self
            .client
            .list_service_deployments()
            .cluster(cluster)
            .service(service)
            .send()
            .await
            .map_err(|e| failed("ListServiceDeployments", &target, &e))?;
        let mut briefs: Vec<_> = out.service_deployments().to_vec();
        briefs.sort_by_key(|b| std::cmp::Reverse(b.created_at().map(|t| t.as_nanos())));
        briefs.truncate(DESCRIBE_REVISIONS_MAX);
        let revisions: Vec<String> = briefs
            .iter()
            .filter_map(|b| b.target_service_revision_arn().map(str::to_string))
            .collect();
        if revisions.is_empty() {
            return Ok(None);
        }
        let described = self
            .client
            .describe_service_revisions()
            .set_service_revision_arns(Some(revisions))
            .send()
            .await
            .map_err(|e| failed("DescribeServiceRevisions", &target, &e))?;
        let ours: Vec<&str> = described
            .service_revisions()
            .iter()
            .filter(|r| r.task_definition() == Some(task_definition))
            .filter_map(|r| r.service_revision_arn())
            .collect();
        Ok(briefs
            .iter()
            .find(|b| {
                b.target_service_revision_arn()
                    .is_some_and(|r| ours.contains(&r))
            })
            .and_then(|b| b.service_deployment_arn().map(str::to_string)))
    }

    /// `DescribeServiceDeployments` of `arns`, in calls of 20 (the API's limit), in order.
    pub async fn describe_service_deployments(
        &self,
        arns: &[String],
    ) -> Result<Vec<ServiceDeploymentView>, EcsError> {
        let calls = arns.chunks(DESCRIBE_SERVICE_DEPLOYMENTS_MAX).map(|chunk| {
            self.client
                .describe_service_deployments()
                .set_service_deployment_arns(Some(chunk.to_vec()))
                .send()
        });
        let mut views = Vec::with_capacity(arns.len());
        for answer in join_all(calls).await {
            let out = answer
                .map_err(|e| failed("DescribeServiceDeployments", "the deploy's services", &e))?;
            views.extend(
                out.service_deployments()
                    .iter()
                    .map(service_deployment_view),
            );
        }
        Ok(views)
    }

    /// `StopServiceDeployment` with a rollback: ECS takes the service back to the revision the
    /// deployment started from.
    pub async fn roll_back_service_deployment(&self, arn: &str) -> Result<(), EcsError> {
        self.client
            .stop_service_deployment()
            .service_deployment_arn(arn)
            .stop_type(StopServiceDeploymentStopType::Rollback)
            .send()
            .await
            .map_err(|e| failed("StopServiceDeployment", arn, &e))?;
        Ok(())
    }

    /// `ContinueServiceDeployment`: the deployment paused at hook `hook_id` goes on.
    pub async fn continue_service_deployment(
        &self,
        arn: &str,
        hook_id: &str,
    ) -> Result<(), EcsError> {
        self.client
            .continue_service_deployment()
            .service_deployment_arn(arn)
            .hook_id(hook_id)
            .action(DeploymentLifecycleHookAction::Continue)
            .send()
            .await
            .map_err(|e| failed("ContinueServiceDeployment", arn, &e))?;
        Ok(())
    }
}

/// The most service revisions one `DescribeServiceRevisions` takes.
const DESCRIBE_REVISIONS_MAX: usize = 20;

/// The most service deployments one `DescribeServiceDeployments` takes.
const DESCRIBE_SERVICE_DEPLOYMENTS_MAX: usize = 20;

/// Where `pause_before_shift` pauses: test traffic has moved, production traffic has not.
const PAUSE_STAGE: DeploymentLifecycleHookStage =
    DeploymentLifecycleHookStage::PostTestTrafficShift;

/// Whether `hook` is the pause `pause_before_shift` sets (replaced at every deploy).
fn is_pause_before_shift(hook: &DeploymentLifecycleHook) -> bool {
    hook.target_type() == Some(&DeploymentLifecycleHookTargetType::Pause)
        && hook.lifecycle_stages() == [PAUSE_STAGE]
}

/// The core's view of a service deployment.
fn service_deployment_view(d: &aws_sdk_ecs::types::ServiceDeployment) -> ServiceDeploymentView {
    let time = |t: Option<&aws_sdk_ecs::primitives::DateTime>| {
        t.and_then(|t| {
            t.fmt(aws_sdk_ecs::primitives::DateTimeFormat::DateTime)
                .ok()
        })
    };
    ServiceDeploymentView {
        arn: d.service_deployment_arn().unwrap_or_default().to_string(),
        service: d
            .service_arn()
            .and_then(|a| a.rsplit('/').next())
            .unwrap_or_default()
            .to_string(),
        status: ServiceDeploymentStatus::from(d.status().map_or("PENDING", |s| s.as_str())),
        stage: d.lifecycle_stage().map(|s| s.as_str().to_string()),
        reason: d.status_reason().map(str::to_string),
        rollback_reason: d.rollback().and_then(|r| r.reason()).map(str::to_string),
        production_weight: d
            .target_service_revision()
            .and_then(|r| r.requested_production_traffic_weight()),
        triggered_alarms: d
            .alarms()
            .map(|a| a.triggered_alarm_names().to_vec())
            .unwrap_or_default(),
        hooks: d
            .lifecycle_hook_details()
            .iter()
            .map(|h| HookView {
                id: h.hook_id().unwrap_or_default().to_string(),
                target_type: h
                    .target_type()
                    .map_or("AWS_LAMBDA", |t| t.as_str())
                    .to_string(),
                status: h.status().map_or("", |s| s.as_str()).to_string(),
                expires_at: time(h.expires_at()),
            })
            .collect(),
    }
}

// Migrations: one-off tasks run before a deploy (`app::rollout::migrate`).

/// How a service's tasks are placed (network, launch type or capacity providers, platform),
/// copied onto a migration's `RunTask` so it runs where the service does.
#[derive(Debug, Clone, Default)]
pub struct Placement {
    network_configuration: Option<aws_sdk_ecs::types::NetworkConfiguration>,
    launch_type: Option<aws_sdk_ecs::types::LaunchType>,
    capacity_provider_strategy: Vec<aws_sdk_ecs::types::CapacityProviderStrategyItem>,
    platform_version: Option<String>,
}

/// A migration's `RunTask`.
#[derive(Debug, Clone)]
pub struct RunTaskRequest<'a> {
    /// The cluster.
    pub cluster: &'a str,
    /// The task definition ARN.
    pub task_definition: &'a str,
    /// The container whose command is replaced.
    pub container: &'a str,
    /// The command override; `None` keeps the task definition's.
    pub command: Option<&'a [String]>,
    /// `startedBy`, which a later run finds the task by.
    pub started_by: &'a str,
    /// Tags of the task.
    pub tags: &'a [(String, String)],
    /// Where it runs (from a service).
    pub placement: &'a Placement,
}

/// A container's `awslogs` log configuration: where its lines go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AwsLogs {
    /// `awslogs-group`.
    pub group: String,
    /// `awslogs-region`, when set.
    pub region: Option<String>,
    /// `awslogs-stream-prefix`: without one the stream is named after the container's id,
    /// which the API does not give.
    pub stream_prefix: Option<String>,
}

impl TaskDefinitionCopy {
    /// The names of the containers whose exit ends the task (`essential` is the default).
    pub fn essential_containers(&self) -> Vec<String> {
        self.definition
            .container_definitions()
            .iter()
            .filter(|c| c.essential() != Some(false))
            .filter_map(|c| c.name().map(str::to_string))
            .collect()
    }

    /// The `awslogs` configuration of `container`, if it logs there.
    pub fn awslogs(&self, container: &str) -> Option<AwsLogs> {
        let config = self.container(container).ok()?.log_configuration()?;
        if config.log_driver().as_str() != "awslogs" {
            return None;
        }
        let options = config.options()?;
        Some(AwsLogs {
            group: options.get("awslogs-group")?.clone(),
            region: options.get("awslogs-region").cloned(),
            stream_prefix: options.get("awslogs-stream-prefix").cloned(),
        })
    }

    /// Whether `container` is in the task definition (the error names the ones it has).
    pub fn check_container(&self, container: &str) -> Result<(), EcsError> {
        self.container(container).map(|_| ())
    }
}

fn task_view(t: &aws_sdk_ecs::types::Task) -> crate::core::migration::TaskView {
    crate::core::migration::TaskView {
        arn: t.task_arn().unwrap_or_default().to_string(),
        last_status: t.last_status().unwrap_or_default().to_string(),
        stopped_reason: t.stopped_reason().map(str::to_string),
        stop_code: t.stop_code().map(|c| c.as_str().to_string()),
        containers: t
            .containers()
            .iter()
            .map(|c| crate::core::migration::ContainerExit {
                name: c.name().unwrap_or_default().to_string(),
                exit_code: c.exit_code(),
                reason: c.reason().map(str::to_string),
            })
            .collect(),
    }
}

impl Ecs {
    /// `DescribeServices` of one service: how its tasks are placed.
    pub async fn placement(&self, cluster: &str, service: &str) -> Result<Placement, EcsError> {
        let out = self
            .client
            .describe_services()
            .cluster(cluster)
            .services(service)
            .send()
            .await
            .map_err(|e| {
                failed(
                    "DescribeServices",
                    &format!("service {service} in cluster {cluster}"),
                    &e,
                )
            })?;
        let s = out
            .services()
            .iter()
            .find(|s| s.service_name() == Some(service))
            .ok_or_else(|| EcsError::MissingService {
                cluster: cluster.to_string(),
                service: service.to_string(),
                reason: "MISSING".into(),
            })?;
        let strategy = s.capacity_provider_strategy().to_vec();
        Ok(Placement {
            network_configuration: s.network_configuration().cloned(),
            launch_type: s.launch_type().cloned().filter(|_| strategy.is_empty()),
            capacity_provider_strategy: strategy,
            platform_version: s.platform_version().map(str::to_string),
        })
    }

    /// `RunTask` of one task; its ARN.
    pub async fn run_task(&self, r: &RunTaskRequest<'_>) -> Result<String, EcsError> {
        use aws_sdk_ecs::types::{ContainerOverride, TaskOverride};
        let target = format!(
            "task definition {} in cluster {}",
            r.task_definition, r.cluster
        );
        let overrides = r.command.map(|command| {
            TaskOverride::builder()
                .container_overrides(
                    ContainerOverride::builder()
                        .name(r.container)
                        .set_command(Some(command.to_vec()))
                        .build(),
                )
                .build()
        });
        let tags = r
            .tags
            .iter()
            .map(|(k, v)| aws_sdk_ecs::types::Tag::builder().key(k).value(v).build())
            .collect();
        let p = r.placement;
        let out = self
            .client
            .run_task()
            .cluster(r.cluster)
            .task_definition(r.task_definition)
            .count(1)
            .started_by(r.started_by)
            .set_overrides(overrides)
            .set_tags(Some(tags))
            .set_network_configuration(p.network_configuration.clone())
            .set_launch_type(p.launch_type.clone())
            .set_capacity_provider_strategy(nonempty(&p.capacity_provider_strategy))
            .set_platform_version(p.platform_version.clone())
            .send()
            .await
            .map_err(|e| failed("RunTask", &target, &e))?;
        if let Some(arn) = out.tasks().first().and_then(|t| t.task_arn()) {
            return Ok(arn.to_string());
        }
        let reasons: Vec<String> = out
            .failures()
            .iter()
            .map(|f| {
                format!(
                    "{}{}",
                    f.reason().unwrap_or("no reason"),
                    f.detail().map(|d| format!(" ({d})")).unwrap_or_default()
                )
            })
            .collect();
        Err(EcsError::Call {
            call: "RunTask",
            target: target.clone(),
            message: format!(
                "ECS RunTask of {target} started no task: {}; check the cluster's capacity and the service's network configuration",
                if reasons.is_empty() {
                    "no failure given".to_string()
                } else {
                    reasons.join("; ")
                }
            ),
        })
    }

    /// `DescribeTasks` of one task; `None` when ECS no longer knows it.
    pub async fn describe_task(
        &self,
        cluster: &str,
        arn: &str,
    ) -> Result<Option<crate::core::migration::TaskView>, EcsError> {
        let out = self
            .client
            .describe_tasks()
            .cluster(cluster)
            .tasks(arn)
            .send()
            .await
            .map_err(|e| failed("DescribeTasks", &format!("task {arn}"), &e))?;
        Ok(out
            .tasks()
            .iter()
            .find(|t| t.task_arn() == Some(arn))
            .map(task_view))
    }

    /// `ListTasks` by `startedBy`, running and stopped: the ARNs of the tasks of one attempt.
    pub async fn tasks_started_by(
        &self,
        cluster: &str,
        started_by: &str,
    ) -> Result<Vec<String>, EcsError> {
        use aws_sdk_ecs::types::DesiredStatus;
        let mut arns = Vec::new();
        for status in [DesiredStatus::Running, DesiredStatus::Stopped] {
            let mut pages = self
                .client
                .list_tasks()
                .cluster(cluster)
                .started_by(started_by)
                .desired_status(status)
                .into_paginator()
                .send();
            while let Some(page) = pages.next().await {
                let page = page.map_err(|e| {
                    failed(
                        "ListTasks",
                        &format!("tasks started by {started_by} in cluster {cluster}"),
                        &e,
                    )
                })?;
                for arn in page.task_arns() {
                    if !arns.contains(arn) {
                        arns.push(arn.clone());
                    }
                }
            }
        }
        Ok(arns)
    }

    /// `StopTask` with `reason`.
    pub async fn stop_task(&self, cluster: &str, arn: &str, reason: &str) -> Result<(), EcsError> {
        self.client
            .stop_task()
            .cluster(cluster)
            .task(arn)
            .reason(reason)
            .send()
            .await
            .map_err(|e| failed("StopTask", &format!("task {arn}"), &e))?;
        Ok(())
    }
}
