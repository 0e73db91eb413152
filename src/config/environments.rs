//! `[ledger]` and `[environments.<name>]` in `release.toml`: where deployments are recorded and
//! where they go (ECS cluster and services), with the gates of each environment.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

/// `[ledger]`: where deployments, approvals and locks are kept.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, schemars::JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct LedgerConfig {
    /// `file` (under `.git/`, no AWS needed) or `ssm` (Parameter Store, shared by CI and
    /// laptops).
    pub backend: LedgerBackend,
    /// The parameter path prefix of the `ssm` backend.
    pub prefix: String,
    /// How long an `ssm` lock is honoured before a later run may break it.
    pub lock_ttl: Span,
}

impl Default for LedgerConfig {
    fn default() -> Self {
        LedgerConfig {
            backend: LedgerBackend::File,
            prefix: "/release-agent".into(),
            lock_ttl: Span(Duration::from_secs(30 * 60)),
        }
    }
}

/// The ledger backends.
#[derive(
    Debug, Clone, Copy, Default, Deserialize, Serialize, PartialEq, Eq, schemars::JsonSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum LedgerBackend {
    /// JSON files under `.git/release-agent/ledger/`.
    #[default]
    File,
    /// SSM Parameter Store under `prefix`.
    Ssm,
}

/// `[environments.<name>]`: one ECS deployment target.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct EnvironmentConfig {
    /// The package (`[packages.NAME]`) this environment runs: its versions, tags and images
    /// instead of the root's (absent: the root's).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub package: Option<String>,
    /// The ECS cluster.
    pub cluster: String,
    /// The services deployed together; one failing rolls back all.
    pub services: Vec<String>,
    /// The container of each task definition whose image changes.
    pub container: String,
    /// A URL that must answer 2xx `health_checks` times in a row after ECS completes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub health_url: Option<String>,
    /// The health answer must contain the version being deployed.
    #[serde(default)]
    pub expect_version: bool,
    /// Consecutive 2xx answers that pass the health gate.
    #[serde(default = "default_health_checks")]
    pub health_checks: u32,
    /// Consecutive failed answers that fail the health gate at once.
    #[serde(default = "default_health_checks")]
    pub health_failures: u32,
    /// The longest a deploy (ECS and the health gate) may take.
    #[serde(default = "default_timeout")]
    pub timeout: Span,
    /// How often ECS and the health URL are polled.
    #[serde(default = "default_poll_interval")]
    pub poll_interval: Span,
    /// The environment a version must have completed in before it may come here.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub requires: Option<String>,
    /// Approvals needed before a version may come here.
    #[serde(default)]
    pub approvals: u32,
    /// Who may approve: GitHub logins, AWS principals (caller, role or user ARN, role name,
    /// SSO user name); empty: anyone.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub approvers: Vec<String>,
    /// Whoever cut the release may approve it.
    #[serde(default)]
    pub self_approval: bool,
    /// The moving image tag put on the digest that runs here (default: the environment's
    /// name; `""`: none).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tag: Option<String>,
    /// `release cut` deploys here (default: when nothing is required first and no approval).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub on_cut: Option<bool>,
    /// The worst severity an image may have findings of (`"HIGH"`: refuse CRITICAL ones),
    /// judged by ECR's scan, or by `scan_command`'s report.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_severity: Option<Severity>,
    /// A scanner run against the image (`{image}` becomes `repository@digest`), as an argument
    /// list without a shell, printing Trivy JSON or SARIF; for registries other than ECR, or to
    /// use your own scanner on ECR.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub scan_command: Vec<String>,
    /// CloudWatch alarms (metric or composite) that judge a deploy: one in ALARM before it
    /// starts refuses it (unless `--force`), one going to ALARM from the update until the
    /// bake ends fails it and rolls it back.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub alarms: Vec<String>,
    /// Rolling: how long after the health gate the alarms are still watched before the deploy
    /// counts as completed. Blue/green, canary, linear: ECS's `bakeTimeInMinutes`, how long the
    /// old revision stays ready after all traffic moved (the alarms are watched throughout).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bake: Option<Span>,
    /// How ECS moves traffic: `rolling` (the default), or ECS's own `blue_green`, `canary` or
    /// `linear` (services behind a load balancer with a second target group).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub strategy: Option<Strategy>,
    /// With `strategy = "canary"`: the share of production traffic first, and how long it
    /// runs before the rest follows.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub canary: Option<CanaryConfig>,
    /// With `strategy = "linear"`: the share moved per step, and the time between steps.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub linear: Option<LinearConfig>,
    /// Blue/green, canary, linear: stop after test traffic, before production traffic moves,
    /// until `release continue VERSION --env NAME` (an approval by this environment's rules).
    #[serde(default)]
    pub pause_before_shift: bool,
    /// How long a pause waits before ECS rolls the deploy back (default 1h, at most 24h).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pause_timeout: Option<Span>,
    /// The wave of this environment's own `cluster` when it has `targets` (default 1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wave: Option<u32>,
    /// More clusters, maybe in other regions, deployed with this one in waves: waves in
    /// order, the targets of one wave together; a failure anywhere rolls back every target.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub targets: Vec<TargetConfig>,
    /// A one-off task (database migrations) run to completion before any service changes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub migrate: Option<MigrateConfig>,
}

/// `[[environments.<name>.targets]]`: one more cluster of an environment.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TargetConfig {
    /// The AWS region (default: the one `release` runs with, `AWS_REGION`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    /// The ECS cluster.
    pub cluster: String,
    /// Its services (default: the environment's `services`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub services: Option<Vec<String>>,
    /// Its wave (default 1): waves go in order, the targets of one wave together.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wave: Option<u32>,
}

impl TargetConfig {
    /// Its name in the ledger and in messages: `<env>.<region>.<cluster>`, or
    /// `<env>.<cluster>` in the default region.
    pub fn ledger_name(&self, env_name: &str) -> String {
        match &self.region {
            Some(r) => format!("{env_name}.{r}.{}", self.cluster),
            None => format!("{env_name}.{}", self.cluster),
        }
    }
}

/// `canary = { percent = 10, bake = "5m" }`.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CanaryConfig {
    /// Percent of production traffic the new version takes first (0.1 to 100).
    pub percent: f64,
    /// How long the canary runs before the rest of the traffic moves (whole minutes).
    pub bake: Span,
}

/// `linear = { step_percent = 25, interval = "2m" }`.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct LinearConfig {
    /// Percent of production traffic moved per step (3 to 100).
    pub step_percent: f64,
    /// Time between steps (whole minutes).
    pub interval: Span,
}

/// A pause waits this long unless `pause_timeout` says otherwise.
pub const DEFAULT_PAUSE_TIMEOUT: Duration = Duration::from_secs(3600);

/// ECS takes minute-valued settings up to a day.
const MAX_ECS_MINUTES: u64 = 1440;

/// `span` in ECS's whole minutes, rounded up; `Err` past a day.
pub fn ecs_minutes(span: Span) -> Result<i32, String> {
    let minutes = span.0.as_secs().div_ceil(60);
    if minutes > MAX_ECS_MINUTES {
        return Err(format!(
            "`{span}` is longer than ECS allows (24h, 1440 minutes)"
        ));
    }
    Ok(minutes as i32)
}

/// How ECS moves traffic to a new revision: its own deployment strategies.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, Serialize, schemars::JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Strategy {
    /// ECS's rolling update.
    #[default]
    Rolling,
    /// All at once to a second target group, after test traffic.
    BlueGreen,
    /// A share first, then the rest.
    Canary,
    /// Equal steps.
    Linear,
}

impl Strategy {
    /// ECS's name for it.
    pub fn ecs_name(self) -> &'static str {
        match self {
            Strategy::Rolling => "ROLLING",
            Strategy::BlueGreen => "BLUE_GREEN",
            Strategy::Canary => "CANARY",
            Strategy::Linear => "LINEAR",
        }
    }

    /// The name in `release.toml` and the ledger.
    pub fn as_str(self) -> &'static str {
        match self {
            Strategy::Rolling => "rolling",
            Strategy::BlueGreen => "blue_green",
            Strategy::Canary => "canary",
            Strategy::Linear => "linear",
        }
    }

    /// Whether ECS moves the traffic in stages that the service-deployment API reports.
    pub fn is_staged(self) -> bool {
        self != Strategy::Rolling
    }
}

impl EnvironmentConfig {
    /// An environment of the unit tests: `cluster`, `services` and `container`, every other
    /// field as release.toml leaves it. Parsed rather than written out, so a new field (which
    /// has a default, or release.toml would not parse without it) needs no edit here or in
    /// the tests that build on it with `..EnvironmentConfig::for_test(...)`.
    #[cfg(test)]
    pub(crate) fn for_test(cluster: &str, services: &[&str], container: &str) -> EnvironmentConfig {
        let mut table = toml::Table::new();
        table.insert("cluster".into(), cluster.into());
        table.insert(
            "services".into(),
            toml::Value::Array(services.iter().map(|s| (*s).into()).collect()),
        );
        table.insert("container".into(), container.into());
        table
            .try_into()
            .expect("cluster, services and container make an environment")
    }

    /// The strategy (`rolling` when unset).
    pub fn strategy(&self) -> Strategy {
        self.strategy.unwrap_or_default()
    }
}

/// `[environments.<name>.migrate]`: a one-off ECS task that must exit 0 before any service of
/// the environment is updated; run once per version and environment.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct MigrateConfig {
    /// The task definition family to run: its new revision gets the version's image. Exactly
    /// one of `task_family` and `service`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub task_family: Option<String>,
    /// A service of the environment whose new task definition is run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service: Option<String>,
    /// The container's command: a string runs through `/bin/sh -c` (Docker's shell form), a
    /// list as is (exec form); default: the task definition's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub command: Option<MigrateCommand>,
    /// The longest the task may take; then it is stopped and the deploy fails.
    #[serde(default = "default_migrate_timeout")]
    pub timeout: Span,
    /// The container that gets the image and the command (default: the environment's
    /// `container`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub container: Option<String>,
}

fn default_migrate_timeout() -> Span {
    Span(Duration::from_secs(15 * 60))
}

/// A migration's command, in either of Docker's forms.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Eq, schemars::JsonSchema)]
#[serde(untagged)]
pub enum MigrateCommand {
    /// Shell form: run as `["/bin/sh", "-c", text]`.
    Shell(String),
    /// Exec form: the argument list as is.
    Exec(Vec<String>),
}

impl MigrateCommand {
    /// The argument list ECS runs.
    pub fn argv(&self) -> Vec<String> {
        match self {
            MigrateCommand::Shell(text) => vec!["/bin/sh".into(), "-c".into(), text.clone()],
            MigrateCommand::Exec(args) => args.clone(),
        }
    }
}

impl MigrateConfig {
    /// The container the migration runs in.
    pub fn container<'a>(&'a self, env: &'a EnvironmentConfig) -> &'a str {
        self.container.as_deref().unwrap_or(&env.container)
    }
}

fn default_health_checks() -> u32 {
    3
}

fn default_timeout() -> Span {
    Span(Duration::from_secs(600))
}

fn default_poll_interval() -> Span {
    Span(Duration::from_secs(2))
}

/// Who may approve, and how many must: an environment's rules, or those of major releases
/// (`[bump]`).
#[derive(Debug, Clone, Copy)]
pub struct ApprovalRules<'a> {
    /// Approvals needed.
    pub approvals: u32,
    /// Who may approve (empty: anyone).
    pub approvers: &'a [String],
    /// Whether the people a release is theirs (who cut it, who wrote it) may approve it.
    pub self_approval: bool,
}

impl ApprovalRules<'_> {
    /// Whether `approvals` more than there are `approvers` can never be reached (an SSO
    /// role stands for all its users, so it may give more than one).
    pub fn unreachable(&self) -> bool {
        self.approvals > 0
            && !self.approvers.is_empty()
            && !self.approvers.iter().any(|a| is_group(a))
            && (self.approvers.len() as u32) < self.approvals
    }
}

impl EnvironmentConfig {
    /// The approval rules of this environment.
    pub fn rules(&self) -> ApprovalRules<'_> {
        ApprovalRules {
            approvals: self.approvals,
            approvers: &self.approvers,
            self_approval: self.self_approval,
        }
    }

    /// Whether `release cut` deploys here.
    pub fn deploys_on_cut(&self) -> bool {
        // `release cut` deploys the root's version: a package's environment gets its own.
        self.package.is_none() && self.takes_every_release()
    }

    /// Whether `release cut` deploys each release of package `name` here: the environment
    /// runs that package, by the same rule as [`Self::deploys_on_cut`].
    pub fn deploys_package_on_cut(&self, name: &str) -> bool {
        self.package.as_deref() == Some(name) && self.takes_every_release()
    }

    /// `on_cut`, by default true without `requires` and approvals.
    fn takes_every_release(&self) -> bool {
        self.on_cut
            .unwrap_or(self.requires.is_none() && self.approvals == 0)
    }

    /// The moving image tag of this environment, if any.
    pub fn image_tag<'a>(&'a self, name: &'a str) -> Option<&'a str> {
        match self.tag.as_deref() {
            Some("") => None,
            Some(t) => Some(t),
            None => Some(name),
        }
    }
}

/// A finding's severity, as ECR, Trivy and Inspector name them.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Serialize,
    Deserialize,
    schemars::JsonSchema,
)]
#[serde(rename_all = "UPPERCASE")]
pub enum Severity {
    /// No severity given (ECR's `UNDEFINED`, Inspector's `UNTRIAGED`): never blocks, listed.
    Undefined,
    /// Informational.
    Informational,
    /// Low.
    Low,
    /// Medium.
    Medium,
    /// High.
    High,
    /// Critical.
    Critical,
}

impl Severity {
    /// A scanner's name for a severity (any case); unknown names are `Undefined`.
    pub fn parse(text: &str) -> Severity {
        match text.trim().to_ascii_uppercase().as_str() {
            "CRITICAL" => Severity::Critical,
            "HIGH" => Severity::High,
            "MEDIUM" | "MODERATE" => Severity::Medium,
            "LOW" => Severity::Low,
            "INFORMATIONAL" | "INFO" | "NEGLIGIBLE" => Severity::Informational,
            _ => Severity::Undefined,
        }
    }

    /// The name, upper case.
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Undefined => "UNDEFINED",
            Severity::Informational => "INFORMATIONAL",
            Severity::Low => "LOW",
            Severity::Medium => "MEDIUM",
            Severity::High => "HIGH",
            Severity::Critical => "CRITICAL",
        }
    }
}

/// IAM Identity Center's roles: their session name is the user's, set by AWS.
pub fn is_sso_role(role: &str) -> bool {
    role.starts_with("AWSReservedSSO_")
}

/// Whether an approvers entry names many people: an IAM Identity Center (SSO) role, whose
/// every user approves under their own session name.
pub fn is_group(approver: &str) -> bool {
    let role = match crate::util::arn::parse(approver) {
        Some(a) if a.service == "iam" => a.resource.rsplit('/').next().unwrap_or(""),
        Some(_) => return false,
        None => approver,
    };
    is_sso_role(role)
}

/// The shortest `poll_interval`: polling ECS and the health URL faster only earns throttling.
pub const MIN_POLL_INTERVAL: Duration = Duration::from_secs(1);

/// Check what serde cannot: names usable as SSM path parts and file names, `requires` pointing
/// at a known environment without cycles, distinct non-empty services, usable image tags and
/// polling intervals. Errors are `(dotted key, message)`.
pub fn validate(
    ledger: &LedgerConfig,
    environments: &BTreeMap<String, EnvironmentConfig>,
) -> Result<(), (String, String)> {
    // `..` would leave the prefix (and, for the file ledger, its folder).
    if !ledger.prefix.starts_with('/')
        || !ledger.prefix[1..]
            .split('/')
            .all(|p| path_part(p) && !p.bytes().all(|b| b == b'.'))
    {
        return Err((
            "ledger.prefix".into(),
            format!(
                "`{}` is not an SSM parameter path such as \"/release-agent/app\" (parts of letters, digits, `-`, `_` and `.`, none of them `.` or `..`)",
                ledger.prefix
            ),
        ));
    }
    for (name, env) in environments {
        // The name is a file name in the file ledger and a path part in SSM: a plain name only.
        if !path_part(name) || !name.starts_with(|c: char| c.is_ascii_alphanumeric()) {
            return Err((
                format!("environments.{name}"),
                "an environment name starts with a letter or digit and uses letters, digits, `-`, `_` and `.` only, e.g. `staging`".into(),
            ));
        }
        if env.services.is_empty() || env.services.iter().any(|s| s.trim().is_empty()) {
            return Err((
                format!("environments.{name}.services"),
                "list at least one ECS service".to_string(),
            ));
        }
        if let Some((i, twice)) = env
            .services
            .iter()
            .enumerate()
            .find(|(i, s)| env.services[..*i].contains(s))
        {
            return Err((
                format!("environments.{name}.services"),
                format!(
                    "`{twice}` is listed twice (entry {}): list each service once",
                    i + 1
                ),
            ));
        }
        if let Some(tag) = env.image_tag(name) {
            let key = format!("environments.{name}.tag");
            if !super::image::is_valid_tag(tag) {
                return Err((
                    key,
                    format!("`{tag}` is not a valid image tag (letters, digits, `_`, `.` and `-`, not first `.` or `-`, at most 128): set `tag` to one, or `\"\"` for none"),
                ));
            }
            if super::image::is_version_tag(tag) {
                return Err((
                    key,
                    format!("`{tag}` is a version: version tags never move; choose another `tag`"),
                ));
            }
        }
        if env.health_checks == 0 || env.health_failures == 0 {
            return Err((
                format!("environments.{name}.health_checks"),
                "health_checks and health_failures must be at least 1".to_string(),
            ));
        }
        if env.poll_interval.0 < MIN_POLL_INTERVAL {
            return Err((
                format!("environments.{name}.poll_interval"),
                format!(
                    "`{}` is too short: poll at most once a second (\"1s\" or more)",
                    env.poll_interval
                ),
            ));
        }
        if env.timeout.0 < env.poll_interval.0 {
            return Err((
                format!("environments.{name}.timeout"),
                "timeout must be longer than poll_interval".to_string(),
            ));
        }
        if env
            .scan_command
            .first()
            .is_some_and(|p| p.trim().is_empty())
        {
            return Err((
                "scan_command".into(),
                format!("environments.{name}: scan_command is an argument list whose first item is the program, e.g. [\"trivy\", \"image\", \"--format\", \"json\", \"{{image}}\"]"),
            ));
        }
        strategy_settings(name, env)?;
        targets(name, env, environments)?;
        if env.rules().unreachable() {
            return Err((
                "approvals".into(),
                format!(
                    "environments.{name}: {} approvals needed but only {} approvers listed",
                    env.approvals,
                    env.approvers.len()
                ),
            ));
        }
        if let Some(m) = &env.migrate {
            validate_migrate(name, env, m)?;
        }
        // Follow `requires` to its end: every link must exist and never come back.
        let mut seen = vec![name.as_str()];
        let mut next = env.requires.as_deref();
        while let Some(required) = next {
            if !environments.contains_key(required) {
                return Err((
                    "requires".into(),
                    format!("environments.{name}: no environment named `{required}`"),
                ));
            }
            if seen.contains(&required) {
                return Err((
                    "requires".into(),
                    format!("environments.{name}: `requires` makes a cycle through `{required}`"),
                ));
            }
            seen.push(required);
            next = environments[required].requires.as_deref();
        }
    }
    Ok(())
}

/// Targets are distinct clusters with usable names, services and waves.
fn targets(
    name: &str,
    env: &EnvironmentConfig,
    environments: &BTreeMap<String, EnvironmentConfig>,
) -> Result<(), (String, String)> {
    let key = || format!("environments.{name}.targets");
    if env.wave == Some(0) || env.targets.iter().any(|t| t.wave == Some(0)) {
        return Err((key(), "waves count from 1".into()));
    }
    let own = env.wave.unwrap_or(1);
    if env.migrate.is_some() && env.targets.iter().any(|t| t.wave.unwrap_or(1) <= own) {
        return Err((
            key(),
            format!("a migration runs once, with the environment's own cluster, before any service changes: put every target in a later wave than the cluster's ({own}; set `wave` of the targets, or of the environment)"),
        ));
    }
    let mut seen = vec![(None, env.cluster.as_str())];
    for t in &env.targets {
        let target = t.ledger_name(name);
        if !t
            .cluster
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_".contains(c))
            || t.cluster.is_empty()
        {
            return Err((
                key(),
                format!(
                    "`{}` is not an ECS cluster name (letters, digits, `-` and `_`)",
                    t.cluster
                ),
            ));
        }
        if let Some(r) = &t.region {
            if r.is_empty()
                || !r
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
            {
                return Err((
                    key(),
                    format!("`{r}` is not an AWS region such as \"eu-west-1\""),
                ));
            }
        }
        if t.services
            .as_ref()
            .is_some_and(|s| s.is_empty() || s.iter().any(|x| x.trim().is_empty()))
        {
            return Err((key(), format!("{target}: list at least one ECS service, or leave `services` out to use the environment's")));
        }
        let here = (t.region.as_deref(), t.cluster.as_str());
        if seen.contains(&here) {
            return Err((key(), format!("{target} is listed twice (the environment's own `cluster` counts): list each cluster once")));
        }
        seen.push(here);
        if environments.contains_key(&target) {
            return Err((key(), format!("{target} is also the name of an environment: the ledger would mix them up; rename that environment")));
        }
    }
    Ok(())
}

/// The settings of `strategy` fit it and ECS's limits.
fn strategy_settings(name: &str, env: &EnvironmentConfig) -> Result<(), (String, String)> {
    let key = |k: &str| format!("environments.{name}.{k}");
    let strategy = env.strategy();
    let minutes = |k: &str, span: Span| ecs_minutes(span).map(|_| ()).map_err(|e| (key(k), e));
    if env.canary.is_some() && strategy != Strategy::Canary {
        return Err((
            key("canary"),
            format!("`canary` goes with strategy = \"canary\" (this environment's is `{}`): set the strategy, or remove `canary`", strategy.as_str()),
        ));
    }
    if env.linear.is_some() && strategy != Strategy::Linear {
        return Err((
            key("linear"),
            format!("`linear` goes with strategy = \"linear\" (this environment's is `{}`): set the strategy, or remove `linear`", strategy.as_str()),
        ));
    }
    if let Some(c) = &env.canary {
        if !(0.1..=100.0).contains(&c.percent) {
            return Err((
                key("canary.percent"),
                format!(
                    "{} is not a share ECS takes: 0.1 to 100 (percent of production traffic)",
                    c.percent
                ),
            ));
        }
        minutes("canary.bake", c.bake)?;
    }
    if let Some(l) = &env.linear {
        if !(3.0..=100.0).contains(&l.step_percent) {
            return Err((
                key("linear.step_percent"),
                format!(
                    "{} is not a step ECS takes: 3 to 100 (percent of production traffic per step)",
                    l.step_percent
                ),
            ));
        }
        minutes("linear.interval", l.interval)?;
    }
    if env.pause_before_shift && !strategy.is_staged() {
        return Err((
            key("pause_before_shift"),
            "a rolling update has no test traffic to pause after: set strategy = \"blue_green\", \"canary\" or \"linear\"".into(),
        ));
    }
    if let Some(t) = env.pause_timeout {
        if !env.pause_before_shift {
            return Err((
                key("pause_timeout"),
                "`pause_timeout` goes with pause_before_shift = true".into(),
            ));
        }
        minutes("pause_timeout", t)?;
        if t.0 < Duration::from_secs(60) {
            return Err((
                key("pause_timeout"),
                "ECS waits at least a minute: \"1m\" or more".into(),
            ));
        }
    }
    if let (true, Some(b)) = (strategy.is_staged(), env.bake) {
        minutes("bake", b)?;
    }
    Ok(())
}

/// `[environments.<name>.migrate]`: one task to run, a usable command.
fn validate_migrate(
    name: &str,
    env: &EnvironmentConfig,
    m: &MigrateConfig,
) -> Result<(), (String, String)> {
    let key = |k: &str| format!("environments.{name}.migrate.{k}");
    match (&m.task_family, &m.service) {
        (Some(_), Some(_)) => {
            return Err((
                key("service"),
                "set either `task_family` (a task definition family whose new revision gets the version's image) or `service` (run that service's new task definition), not both".into(),
            ))
        }
        (None, None) => {
            return Err((
                key("task_family"),
                "say which task runs the migration: `task_family = \"<family>\"` or `service = \"<one of services>\"`".into(),
            ))
        }
        (Some(f), None) if !path_part(f) || f.len() > 255 => {
            return Err((
                key("task_family"),
                format!("`{f}` is not a task definition family (letters, digits, `-` and `_`, at most 255)"),
            ))
        }
        (None, Some(s)) if !env.services.contains(s) => {
            return Err((
                key("service"),
                format!(
                    "`{s}` is not one of the environment's services ({}): name one of them, or use `task_family`",
                    env.services.join(", ")
                ),
            ))
        }
        _ => {}
    }
    let bad_command = match &m.command {
        Some(MigrateCommand::Shell(text)) => text.trim().is_empty(),
        Some(MigrateCommand::Exec(args)) => args.first().is_none_or(|a| a.trim().is_empty()),
        None => false,
    };
    if bad_command {
        return Err((
            key("command"),
            "give a command: a string run by /bin/sh -c, or an argument list whose first item is the program, e.g. [\"alembic\", \"upgrade\", \"head\"]".into(),
        ));
    }
    if m.timeout.0 < env.poll_interval.0 {
        return Err((
            key("timeout"),
            "timeout must be longer than the environment's poll_interval".into(),
        ));
    }
    if m.container.as_deref().is_some_and(|c| c.trim().is_empty()) {
        return Err((
            key("container"),
            "name a container of the task definition".into(),
        ));
    }
    Ok(())
}

fn path_part(s: &str) -> bool {
    !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
}

/// A duration written as `"10m"`, `"2s"`, `"500ms"`, `"1h30m"`, or a number of seconds; at most
/// [`Span::MAX`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Span(pub Duration);

impl Span {
    /// The longest duration accepted (7 days): longer is a typo, and adding it to the clock
    /// could overflow.
    pub const MAX: Duration = Duration::from_secs(7 * 24 * 3600);

    fn too_long(text: &str) -> String {
        format!("`{text}` is longer than the maximum of 7 days (\"168h\")")
    }

    /// A number of seconds, checked against [`Span::MAX`].
    pub fn from_secs(secs: u64) -> Result<Span, String> {
        if secs > Span::MAX.as_secs() {
            return Err(Span::too_long(&format!("{secs}")));
        }
        Ok(Span(Duration::from_secs(secs)))
    }

    /// Parse `"1h30m"`, `"90s"`, `"250ms"`.
    pub fn parse(text: &str) -> Result<Span, String> {
        let text = text.trim();
        if text.is_empty() {
            return Err("an empty duration".into());
        }
        let mut total = Duration::ZERO;
        let mut rest = text;
        while !rest.is_empty() {
            let digits = rest
                .find(|c: char| !c.is_ascii_digit())
                .unwrap_or(rest.len());
            if digits == 0 {
                return Err(format!("`{text}` is not a duration like \"10m\" or \"2s\""));
            }
            // Too many digits for u64 is too long as well.
            let number: u64 = rest[..digits].parse().map_err(|_| Span::too_long(text))?;
            rest = &rest[digits..];
            let unit_len = rest
                .find(|c: char| c.is_ascii_digit())
                .unwrap_or(rest.len());
            let millis_per_unit: u64 = match &rest[..unit_len] {
                "ms" => 1,
                "s" => 1_000,
                "m" => 60_000,
                "h" => 3_600_000,
                other => {
                    return Err(format!(
                        "`{text}`: unknown unit `{other}` (use ms, s, m or h)"
                    ))
                }
            };
            total = number
                .checked_mul(millis_per_unit)
                .map(Duration::from_millis)
                .and_then(|part| total.checked_add(part))
                .filter(|t| *t <= Span::MAX)
                .ok_or_else(|| Span::too_long(text))?;
            rest = &rest[unit_len..];
        }
        Ok(Span(total))
    }
}

impl fmt::Display for Span {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ms = self.0.as_millis();
        if ms == 0 {
            return write!(f, "0s");
        }
        if !ms.is_multiple_of(1000) {
            return write!(f, "{ms}ms");
        }
        let mut s = ms / 1000;
        for (unit, size) in [("h", 3600), ("m", 60), ("s", 1)] {
            if s >= size {
                write!(f, "{}{unit}", s / size)?;
                s %= size;
            }
        }
        Ok(())
    }
}

/// Seconds as a number, or text like `"90s"`, `"10m"`, `"1h30m"` (what [`Span::parse`] reads).
impl schemars::JsonSchema for Span {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Span".into()
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "description": "A duration: seconds as a number, or text like \"90s\", \"10m\", \"1h30m\", \"250ms\".",
            "oneOf": [
                { "type": "integer", "minimum": 0 },
                { "type": "string", "pattern": "^\\s*([0-9]+(ms|s|m|h))+\\s*$" }
            ]
        })
    }
}

impl Serialize for Span {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_string())
    }
}

impl<'de> Deserialize<'de> for Span {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Span, D::Error> {
        struct Visitor;
        impl serde::de::Visitor<'_> for Visitor {
            type Value = Span;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a duration such as \"10m\", \"2s\" or \"500ms\"")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Span, E> {
                Span::parse(v).map_err(E::custom)
            }
            fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<Span, E> {
                Span::from_secs(v).map_err(E::custom)
            }
            fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<Span, E> {
                let v = u64::try_from(v).map_err(|_| E::custom("a duration cannot be negative"))?;
                Span::from_secs(v).map_err(E::custom)
            }
        }
        d.deserialize_any(Visitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spans_parse_and_print_back() {
        for (text, ms, back) in [
            ("10m", 600_000, "10m"),
            ("2s", 2_000, "2s"),
            ("250ms", 250, "250ms"),
            ("1h30m", 5_400_000, "1h30m"),
            ("90s", 90_000, "1m30s"),
        ] {
            let span = Span::parse(text).unwrap();
            assert_eq!(span.0.as_millis(), ms, "{text}");
            assert_eq!(span.to_string(), back, "{text}");
        }
        for bad in ["", "m", "10", "10 minutes", "1d", "-5s"] {
            assert!(Span::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn spans_longer_than_seven_days_are_refused_not_wrapped() {
        assert_eq!(Span::parse("168h").unwrap().0, Span::MAX);
        assert_eq!(Span::parse("167h59m60s").unwrap().0, Span::MAX);
        for long in [
            "168h1ms",
            "604801s",
            "18446744073709551615s",
            "18446744073709551616s",
            "6148914691236517206s",
            "5124095576030431h",
            "18446744073709551615ms",
            "100000h100000h",
        ] {
            let e = Span::parse(long).unwrap_err();
            assert!(e.contains("maximum of 7 days"), "{long}: {e}");
        }
        assert!(Span::from_secs(604_800).is_ok());
        assert!(Span::from_secs(604_801).is_err());
    }

    fn env(requires: Option<&str>) -> EnvironmentConfig {
        EnvironmentConfig {
            requires: requires.map(str::to_string),
            ..EnvironmentConfig::for_test("c", &["web"], "app")
        }
    }

    #[test]
    fn requires_must_exist_and_not_loop() {
        let ledger = LedgerConfig::default();
        let mut envs = BTreeMap::new();
        envs.insert("staging".to_string(), env(None));
        envs.insert("production".to_string(), env(Some("staging")));
        assert!(validate(&ledger, &envs).is_ok());
        envs.insert("qa".to_string(), env(Some("nowhere")));
        assert!(validate(&ledger, &envs).unwrap_err().1.contains("nowhere"));
        envs.insert("qa".to_string(), env(Some("qa2")));
        envs.insert("qa2".to_string(), env(Some("qa")));
        assert!(validate(&ledger, &envs).unwrap_err().1.contains("cycle"));
    }

    #[test]
    fn cut_deploys_only_to_ungated_environments_by_default() {
        assert!(env(None).deploys_on_cut());
        assert!(!env(Some("staging")).deploys_on_cut());
        let mut e = env(Some("staging"));
        e.on_cut = Some(true);
        assert!(e.deploys_on_cut());
    }

    #[test]
    fn a_migration_runs_exactly_one_task_of_the_environment() {
        let ledger = LedgerConfig::default();
        let migrate = |family: Option<&str>, service: Option<&str>| MigrateConfig {
            task_family: family.map(str::to_string),
            service: service.map(str::to_string),
            command: None,
            timeout: default_migrate_timeout(),
            container: None,
        };
        let check = |m: MigrateConfig| {
            let mut e = env(None);
            e.migrate = Some(m);
            validate(&ledger, &BTreeMap::from([("prod".to_string(), e)]))
        };
        assert!(check(migrate(Some("api-migrate"), None)).is_ok());
        assert!(check(migrate(None, Some("web"))).is_ok());
        let (key, message) = check(migrate(Some("a"), Some("web"))).unwrap_err();
        assert_eq!(key, "environments.prod.migrate.service");
        assert!(message.contains("not both"), "{message}");
        let (key, _) = check(migrate(None, None)).unwrap_err();
        assert_eq!(key, "environments.prod.migrate.task_family");
        let (_, message) = check(migrate(None, Some("api"))).unwrap_err();
        assert!(message.contains("`api` is not one of"), "{message}");
        let mut m = migrate(Some("a"), None);
        m.command = Some(MigrateCommand::Exec(vec![]));
        assert_eq!(check(m).unwrap_err().0, "environments.prod.migrate.command");
    }

    #[test]
    fn a_command_string_is_the_shell_form() {
        assert_eq!(
            MigrateCommand::Shell("alembic upgrade head && echo ok".into()).argv(),
            ["/bin/sh", "-c", "alembic upgrade head && echo ok"]
        );
        assert_eq!(
            MigrateCommand::Exec(vec!["alembic".into(), "upgrade".into()]).argv(),
            ["alembic", "upgrade"]
        );
    }

    #[test]
    fn image_tag_defaults_to_the_name() {
        let mut e = env(None);
        assert_eq!(e.image_tag("staging"), Some("staging"));
        e.tag = Some(String::new());
        assert_eq!(e.image_tag("staging"), None);
    }
}
