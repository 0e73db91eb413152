//! A fleet on the emulator for rollout tests: moto (with the launcher's ECS deployments), an
//! ECR repository with one image per version, and ECS clusters whose services run task
//! definitions with the fields a deploy must keep (secrets, environment, a sidecar, tags).

#![allow(dead_code)]

use aws_sdk_ecs::types::{
    Compatibility, ContainerDefinition, KeyValuePair, LaunchType, NetworkMode, Secret, Tag,
    TaskDefinitionField,
};

use super::moto::Moto;

/// The ECR repository the tests deploy from.
pub const REPOSITORY: &str = "123456789012.dkr.ecr.eu-north-1.amazonaws.com/app";
const MEDIA_TYPE: &str = "application/vnd.oci.image.manifest.v1+json";

/// The emulator and clients to set it up and inspect it.
pub struct Fleet {
    /// The server.
    pub moto: Moto,
    rt: tokio::runtime::Runtime,
    ecs: aws_sdk_ecs::Client,
    ecr: aws_sdk_ecr::Client,
    /// SSM, for tests of the SSM ledger.
    pub ssm: aws_sdk_ssm::Client,
    cloudwatch: aws_sdk_cloudwatch::Client,
    /// The SDK configuration (its region is the tests' default, eu-north-1).
    config: aws_config::SdkConfig,
    /// Credentials of a session of the shared role `release-ci`: (key id, secret, token).
    session: (String, String, String),
}

impl Fleet {
    /// A fresh emulator whose deployments settle after `deploy_seconds`, with the ECR
    /// repository `app`.
    pub fn start(deploy_seconds: f64) -> Fleet {
        let moto = Moto::start_with(deploy_seconds);
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let config = rt.block_on(moto.sdk_config());
        let creds = rt
            .block_on(
                aws_sdk_sts::Client::new(&config)
                    .assume_role()
                    .role_arn("arn:aws:iam::123456789012:role/release-ci")
                    .role_session_name("ci")
                    .send(),
            )
            .unwrap()
            .credentials()
            .cloned()
            .unwrap();
        let fleet = Fleet {
            ecs: aws_sdk_ecs::Client::new(&config),
            ecr: aws_sdk_ecr::Client::new(&config),
            ssm: aws_sdk_ssm::Client::new(&config),
            cloudwatch: aws_sdk_cloudwatch::Client::new(&config),
            config: config.clone(),
            session: (
                creds.access_key_id().to_string(),
                creds.secret_access_key().to_string(),
                creds.session_token().to_string(),
            ),
            moto,
            rt,
        };
        fleet
            .rt
            .block_on(fleet.ecr.create_repository().repository_name("app").send())
            .unwrap();
        fleet
    }

    /// Environment for `release`: the emulator's endpoint and the credentials of a session of
    /// the shared role `release-ci`, as a CI job assumes one through OIDC. With the SSM ledger
    /// the AWS caller is then that role, whose sessions name nobody, and `GITHUB_ACTOR` (in
    /// Actions) names the person; moto's own dummy caller is an IAM user, one person for all.
    pub fn env(&self) -> Vec<(&'static str, String)> {
        let (id, secret, token) = self.session.clone();
        self.moto
            .env()
            .into_iter()
            .filter(|(k, _)| !k.starts_with("AWS_ACCESS") && !k.starts_with("AWS_SECRET"))
            .chain([
                ("AWS_ACCESS_KEY_ID", id),
                ("AWS_SECRET_ACCESS_KEY", secret),
                ("AWS_SESSION_TOKEN", token),
            ])
            .collect()
    }

    /// A CloudWatch metric alarm named `name`, in state OK.
    pub fn create_alarm(&self, name: &str) {
        self.rt
            .block_on(
                self.cloudwatch
                    .put_metric_alarm()
                    .alarm_name(name)
                    .metric_name("5XXError")
                    .namespace("AWS/ApplicationELB")
                    .statistic(aws_sdk_cloudwatch::types::Statistic::Sum)
                    .period(60)
                    .evaluation_periods(1)
                    .threshold(1.0)
                    .comparison_operator(
                        aws_sdk_cloudwatch::types::ComparisonOperator::GreaterThanThreshold,
                    )
                    .send(),
            )
            .unwrap();
        self.set_alarm(name, "OK", "quiet");
    }

    /// Put alarm `name` in `state` (`OK`, `ALARM`) with `reason`, as CloudWatch would.
    pub fn set_alarm(&self, name: &str, state: &str, reason: &str) {
        self.rt
            .block_on(
                self.cloudwatch
                    .set_alarm_state()
                    .alarm_name(name)
                    .state_value(aws_sdk_cloudwatch::types::StateValue::from(state))
                    .state_reason(reason)
                    .send(),
            )
            .unwrap();
    }

    /// Store an image tagged `tag` in ECR; its digest.
    pub fn push(&self, tag: &str) -> String {
        self.push_image(tag, tag)
    }

    /// Store the image made from `content` as `tag` (a tag already there moves to it); its
    /// digest.
    pub fn push_image(&self, tag: &str, content: &str) -> String {
        self.push_to("app", tag, content)
    }

    /// Create the ECR repository `name` (host and account as [`REPOSITORY`]'s).
    pub fn create_repository(&self, name: &str) {
        self.rt
            .block_on(self.ecr.create_repository().repository_name(name).send())
            .unwrap();
    }

    /// Store the image made from `content` as `tag` in ECR repository `name`; its digest.
    pub fn push_to(&self, name: &str, tag: &str, content: &str) -> String {
        let manifest = serde_json::json!({
            "schemaVersion": 2,
            "mediaType": MEDIA_TYPE,
            "config": {
                "mediaType": "application/vnd.oci.image.config.v1+json",
                "digest": format!("sha256:{}", super::registry::sha256_hex(content.as_bytes())),
                "size": content.len()
            },
            // moto's digest covers the layers: one per version keeps the digests apart.
            "layers": [{
                "mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
                "digest": format!("sha256:{}", super::registry::sha256_hex(format!("layer {content}").as_bytes())),
                "size": 10
            }]
        })
        .to_string();
        let out = self
            .rt
            .block_on(
                self.ecr
                    .put_image()
                    .repository_name(name)
                    .image_manifest(manifest)
                    .image_manifest_media_type(MEDIA_TYPE)
                    .image_tag(tag)
                    .send(),
            )
            .unwrap();
        out.image()
            .and_then(|i| i.image_id())
            .and_then(|i| i.image_digest())
            .unwrap()
            .to_string()
    }

    /// The digest under `tag` in ECR, if any.
    pub fn ecr_digest(&self, tag: &str) -> Option<String> {
        let out = self.rt.block_on(
            self.ecr
                .batch_get_image()
                .repository_name("app")
                .image_ids(
                    aws_sdk_ecr::types::ImageIdentifier::builder()
                        .image_tag(tag)
                        .build(),
                )
                .send(),
        );
        out.ok()?
            .images()
            .first()?
            .image_id()?
            .image_digest()
            .map(str::to_string)
    }

    /// A cluster whose `services` each run a task definition (family = service name) with the
    /// container `app` at `image`, a sidecar, secrets, environment, sizes and tags.
    pub fn create_environment(&self, cluster: &str, services: &[&str], image: &str) {
        self.create_environment_in(None, cluster, services, image);
    }

    /// ECS in `region` (`None`: the default one).
    fn ecs_in(&self, region: Option<&str>) -> aws_sdk_ecs::Client {
        match region {
            None => self.ecs.clone(),
            Some(r) => aws_sdk_ecs::Client::from_conf(
                aws_sdk_ecs::config::Builder::from(&self.config)
                    .region(aws_sdk_ecs::config::Region::new(r.to_string()))
                    .build(),
            ),
        }
    }

    /// [`Self::create_environment`] in `region`.
    pub fn create_environment_in(
        &self,
        region: Option<&str>,
        cluster: &str,
        services: &[&str],
        image: &str,
    ) {
        self.create_environment_with(region, cluster, services, image, None);
    }

    /// [`Self::create_environment`] whose task definitions also run a second app container
    /// `(name, image)`.
    pub fn create_two_container_environment(
        &self,
        cluster: &str,
        services: &[&str],
        image: &str,
        other: (&str, &str),
    ) {
        self.create_environment_with(None, cluster, services, image, Some(other));
    }

    fn create_environment_with(
        &self,
        region: Option<&str>,
        cluster: &str,
        services: &[&str],
        image: &str,
        other: Option<(&str, &str)>,
    ) {
        let ecs = self.ecs_in(region);
        self.rt
            .block_on(ecs.create_cluster().cluster_name(cluster).send())
            .unwrap();
        for service in services {
            let app = ContainerDefinition::builder()
                .name("app")
                .image(image)
                .essential(true)
                .memory(256)
                .environment(
                    KeyValuePair::builder()
                        .name("MODE")
                        .value(format!("{cluster}-{service}"))
                        .build(),
                )
                .secrets(
                    Secret::builder()
                        .name("DB_PASSWORD")
                        .value_from("arn:aws:ssm:eu-north-1:123456789012:parameter/db")
                        .build()
                        .unwrap(),
                )
                .build();
            let sidecar = ContainerDefinition::builder()
                .name("log-router")
                .image("public.ecr.aws/aws-observability/aws-for-fluent-bit:2.32.0")
                .essential(false)
                .memory(64)
                .build();
            let others = other.map(|(name, image)| {
                ContainerDefinition::builder()
                    .name(name)
                    .image(image)
                    .essential(true)
                    .memory(128)
                    .build()
            });
            let mut definition = ecs
                .register_task_definition()
                .family(*service)
                .container_definitions(app)
                .container_definitions(sidecar);
            if let Some(o) = others {
                definition = definition.container_definitions(o);
            }
            self.rt
                .block_on(
                    definition
                        .network_mode(NetworkMode::Awsvpc)
                        .requires_compatibilities(Compatibility::Fargate)
                        .cpu("256")
                        .memory("512")
                        .execution_role_arn("arn:aws:iam::123456789012:role/exec")
                        .task_role_arn("arn:aws:iam::123456789012:role/task")
                        .tags(Tag::builder().key("team").value("payments").build())
                        .send(),
                )
                .unwrap();
            self.rt
                .block_on(
                    ecs.create_service()
                        .cluster(cluster)
                        .service_name(*service)
                        .task_definition(*service)
                        .desired_count(2)
                        .launch_type(LaunchType::Fargate)
                        .send(),
                )
                .unwrap();
        }
    }

    /// Point `service` at `task_definition` behind release-agent's back.
    pub fn update_service(&self, cluster: &str, service: &str, task_definition: &str) {
        self.rt
            .block_on(
                self.ecs
                    .update_service()
                    .cluster(cluster)
                    .service(service)
                    .task_definition(task_definition)
                    .send(),
            )
            .unwrap();
    }

    /// The task definition ARN `service` is set to.
    pub fn task_definition_of(&self, cluster: &str, service: &str) -> String {
        let out = self
            .rt
            .block_on(
                self.ecs
                    .describe_services()
                    .cluster(cluster)
                    .services(service)
                    .send(),
            )
            .unwrap();
        out.services()[0].task_definition().unwrap().to_string()
    }

    /// The task definition, its tags.
    pub fn task_definition(
        &self,
        arn: &str,
    ) -> (
        aws_sdk_ecs::types::TaskDefinition,
        Vec<aws_sdk_ecs::types::Tag>,
    ) {
        let out = self
            .rt
            .block_on(
                self.ecs
                    .describe_task_definition()
                    .task_definition(arn)
                    .include(TaskDefinitionField::Tags)
                    .send(),
            )
            .unwrap();
        (out.task_definition().unwrap().clone(), out.tags().to_vec())
    }

    /// The image of container `app` that `service` is set to run.
    pub fn image_of(&self, cluster: &str, service: &str) -> String {
        self.image_of_in(None, cluster, service)
    }

    /// [`Self::image_of`] in `region`.
    pub fn image_of_in(&self, region: Option<&str>, cluster: &str, service: &str) -> String {
        self.container_image(region, cluster, service, "app")
    }

    /// The image of `container` that `service` is set to run.
    pub fn image_of_container(&self, cluster: &str, service: &str, container: &str) -> String {
        self.container_image(None, cluster, service, container)
    }

    fn container_image(
        &self,
        region: Option<&str>,
        cluster: &str,
        service: &str,
        container: &str,
    ) -> String {
        let ecs = self.ecs_in(region);
        let arn = self
            .rt
            .block_on(
                ecs.describe_services()
                    .cluster(cluster)
                    .services(service)
                    .send(),
            )
            .unwrap()
            .services()[0]
            .task_definition()
            .unwrap()
            .to_string();
        let out = self
            .rt
            .block_on(ecs.describe_task_definition().task_definition(arn).send())
            .unwrap();
        let td = out.task_definition().unwrap().clone();
        td.container_definitions()
            .iter()
            .find(|c| c.name() == Some(container))
            .and_then(|c| c.image())
            .unwrap()
            .to_string()
    }

    /// Set `service`'s desired count behind release-agent's back.
    pub fn scale(&self, cluster: &str, service: &str, desired: i32) {
        self.rt
            .block_on(
                self.ecs
                    .update_service()
                    .cluster(cluster)
                    .service(service)
                    .desired_count(desired)
                    .send(),
            )
            .unwrap();
    }

    /// Delete `service` (it stays listed as INACTIVE, as in ECS).
    pub fn delete_service(&self, cluster: &str, service: &str) {
        self.rt
            .block_on(
                self.ecs
                    .delete_service()
                    .cluster(cluster)
                    .service(service)
                    .force(true)
                    .send(),
            )
            .unwrap();
    }

    /// The ECS calls of `action` the emulator served (`MOTO_ECS_LOG` lines).
    pub fn calls(&self, action: &str) -> Vec<serde_json::Value> {
        self.moto
            .log_lines()
            .into_iter()
            .filter(|l| l["kind"] == "call" && l["action"] == action)
            .collect()
    }
}

/// `repository@digest`.
pub fn reference(digest: &str) -> String {
    format!("{REPOSITORY}@{digest}")
}
