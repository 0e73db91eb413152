//! Command-line interface types (clap).

use clap::{Args, Parser, Subcommand};
use std::path::PathBuf;

/// Turn git history into releases: next version from Conventional Commits, changelog, tag.
#[derive(Debug, Parser)]
#[command(name = "release", version, about, propagate_version = true)]
pub struct Cli {
    /// Run as if started in DIR (like `git -C`).
    #[arg(short = 'C', global = true, value_name = "DIR")]
    pub dir: Option<PathBuf>,
    /// Configuration file (default: release.toml at the repository root).
    #[arg(long, global = true, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// More log output on stderr (-v info, -vv debug).
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
    /// Only errors on stderr.
    #[arg(short, long, global = true, conflicts_with = "verbose")]
    pub quiet: bool,
    /// The command.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Show the next release and why, without changing anything.
    Plan(PlanArgs),
    /// Write the next release: version files, CHANGELOG.md, commit, annotated tag.
    Bump(BumpArgs),
    /// Release and publish: bump, push branch and tag atomically, create the GitHub release.
    Cut(CutArgs),
    /// The automatic run on a merge: a non-interactive `cut` that exits 0 when there is nothing
    /// to do, and writes `$GITHUB_OUTPUT` and `$GITHUB_STEP_SUMMARY`.
    Ci(CiArgs),
    /// Print the changelog of unreleased commits, or of the whole history.
    Changelog(ChangelogArgs),
    /// Check commit messages against Conventional Commits.
    Lint(LintArgs),
    /// Print the configuration in effect as TOML (`--default`: the built-in defaults;
    /// `--schema`: the JSON Schema of release.toml).
    Config {
        /// Print the defaults instead of the loaded configuration.
        #[arg(long, conflicts_with = "schema")]
        default: bool,
        /// Print the JSON Schema of release.toml, for editors (taplo, Even Better TOML).
        #[arg(long)]
        schema: bool,
    },
    /// Build, push and promote the container image (`[image]` in release.toml).
    Image {
        /// What to do.
        #[command(subcommand)]
        action: ImageAction,
    },
    /// Deploy a version's image to an environment's ECS services, wait, roll back on failure.
    #[command(disable_version_flag = true)]
    Deploy(DeployArgs),
    /// Deploy a version to an environment once its gates (required environment, approvals)
    /// are met: the digest that passed there is the one that goes.
    #[command(disable_version_flag = true)]
    Promote(PromoteArgs),
    /// Approve a version for an environment.
    #[command(disable_version_flag = true)]
    Approve(DecideArgs),
    /// Reject a version for an environment: it cannot be promoted there.
    #[command(disable_version_flag = true)]
    Reject(DecideArgs),
    /// Let a deploy paused before production traffic (`pause_before_shift`) go on: an
    /// approval by the environment's rules; once enough are in, ECS shifts the traffic.
    #[command(disable_version_flag = true)]
    Continue(ContinueArgs),
    /// Return an environment to an earlier completed deployment.
    Rollback(RollbackArgs),
    /// What runs in each environment and what waits for approval.
    Status(StatusArgs),
    /// The deployments of an environment, newest first.
    History(HistoryArgs),
    /// Remove an environment's lock left by a run that is gone.
    Unlock {
        /// The environment.
        #[arg(long)]
        env: String,
    },
    /// Write a release.toml holding what this repository does differently from the defaults
    /// (tag prefix, version files, image), and optionally a GitHub Actions workflow.
    Init(crate::cli::init::InitArgs),
    /// Manage git hooks.
    Hooks {
        /// What to do.
        #[command(subcommand)]
        action: HooksAction,
    },
    /// Print the shell completion script (e.g. `release completions bash > /etc/bash_completion.d/release`).
    Completions {
        /// The shell.
        shell: clap_complete::Shell,
    },
    /// Print the man page (roff), e.g. `release man > release.1`.
    Man,
}

/// Arguments shared by `plan` and `bump` that decide the version.
#[derive(Debug, Args)]
pub struct VersionArgs {
    /// Force the level (`major`, `minor`, `patch`) or give the exact version (`X.Y.Z`).
    #[arg(value_name = "LEVEL|VERSION")]
    pub level: Option<String>,
    /// Make a pre-release on this channel (`rc` gives X.Y.Z-rc.N).
    #[arg(long, value_name = "CHANNEL")]
    pub pre: Option<String>,
    /// Only this package of `[packages]` (its dependents are not pulled along).
    #[arg(long, value_name = "NAME")]
    pub package: Option<String>,
}

/// `release plan`
#[derive(Debug, Args)]
pub struct PlanArgs {
    /// Level or version.
    #[command(flatten)]
    pub version: VersionArgs,
    /// Print the plan as one JSON object on stdout.
    #[arg(long)]
    pub json: bool,
}

/// `release bump`
#[derive(Debug, Args)]
pub struct BumpArgs {
    /// Level or version.
    #[command(flatten)]
    pub version: VersionArgs,
    /// Release even with uncommitted changes to tracked files.
    #[arg(long)]
    pub allow_dirty: bool,
    /// Write the files but do not commit or tag.
    #[arg(long)]
    pub no_commit: bool,
    /// Commit but do not tag.
    #[arg(long)]
    pub no_tag: bool,
    /// Run no `pre_bump`/`post_bump` hooks, and drop the pending `post_bump` hooks of a release
    /// whose hooks failed.
    #[arg(long)]
    pub skip_hooks: bool,
    /// Print the steps and change nothing.
    #[arg(long, short = 'n')]
    pub dry_run: bool,
    /// Print the result as JSON on stdout.
    #[arg(long)]
    pub json: bool,
}

/// `release cut`
#[derive(Debug, Args)]
pub struct CutArgs {
    /// Level or version.
    #[command(flatten)]
    pub version: VersionArgs,
    /// Do not ask for confirmation before the first write.
    #[arg(long, short = 'y')]
    pub yes: bool,
    /// Switches shared with `ci`.
    #[command(flatten)]
    pub publish: PublishArgs,
}

/// `release ci`
#[derive(Debug, Args)]
pub struct CiArgs {
    /// Switches shared with `cut`.
    #[command(flatten)]
    pub publish: PublishArgs,
}

/// Switches of `cut` and `ci`.
#[derive(Debug, Args)]
pub struct PublishArgs {
    /// Print the steps and change nothing.
    #[arg(long, short = 'n')]
    pub dry_run: bool,
    /// Do not create a GitHub release.
    #[arg(long)]
    pub no_github: bool,
    /// Do not deploy to the environments that take every release (`on_cut`).
    #[arg(long)]
    pub no_deploy: bool,
    /// Run the environments' migrations even where they completed for this version.
    #[arg(long)]
    pub rerun_migrations: bool,
    /// The remote to push to.
    #[arg(long, default_value = "origin")]
    pub remote: String,
    /// Print the result as JSON on stdout.
    #[arg(long)]
    pub json: bool,
}

/// `release changelog`
#[derive(Debug, Args)]
pub struct ChangelogArgs {
    /// Render the whole history, one section per release tag.
    #[arg(long)]
    pub all: bool,
    /// Write to FILE instead of stdout.
    #[arg(short, long, value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Only this package of `[packages]`: its tags and commits.
    #[arg(long, value_name = "NAME")]
    pub package: Option<String>,
}

/// `release lint`
#[derive(Debug, Args)]
pub struct LintArgs {
    /// Check the message in FILE (what a commit-msg hook receives).
    #[arg(long, value_name = "FILE", conflicts_with_all = ["range", "message"])]
    pub edit: Option<PathBuf>,
    /// Check every non-merge commit in a range (`A..B`, or a single ref for all its history).
    #[arg(long, value_name = "A..B", conflicts_with = "message")]
    pub range: Option<String>,
    /// The message to check; read from stdin when neither this nor a flag is given.
    pub message: Option<String>,
}

/// `release hooks ...`
#[derive(Debug, Subcommand)]
pub enum HooksAction {
    /// Install the commit-msg hook (honours core.hooksPath).
    Install {
        /// Replace an existing hook.
        #[arg(long)]
        force: bool,
    },
}

/// `release image ...`
#[derive(Debug, Subcommand)]
pub enum ImageAction {
    /// Build the image, tagged `X.Y.Z`, `sha-<commit>` and the extra tags, with OCI labels.
    #[command(disable_version_flag = true)]
    Build {
        /// The version (default: the latest release tag on HEAD).
        #[arg(long, value_name = "X.Y.Z")]
        version: Option<String>,
        /// Print the result as JSON on stdout.
        #[arg(long)]
        json: bool,
    },
    /// Push the built image, read its digest back from the registry and record it.
    #[command(disable_version_flag = true)]
    Push {
        /// The version (default: the latest release tag on HEAD).
        #[arg(long, value_name = "X.Y.Z")]
        version: Option<String>,
        /// Print the result as JSON on stdout.
        #[arg(long)]
        json: bool,
    },
    /// Delete the images nothing needs: never one that runs, that an environment could roll
    /// back to, that waits for approval, or that a moving tag names.
    Prune {
        /// Keep the newest versions, whatever their age.
        #[arg(long, default_value_t = 20)]
        keep: usize,
        /// Only delete images pushed longer ago than this (`90d`, `12w`, `36h`).
        #[arg(long, value_name = "AGE", value_parser = crate::core::retention::parse_age)]
        older_than: Option<i64>,
        /// Say what would be deleted; delete nothing.
        #[arg(long)]
        dry_run: bool,
        /// Print the result as JSON on stdout.
        #[arg(long)]
        json: bool,
    },
    /// Put a tag on the digest of a version, moving no layer.
    #[command(disable_version_flag = true)]
    Promote {
        /// The version whose image is promoted.
        #[arg(value_name = "X.Y.Z")]
        version: String,
        /// The tag to put on it (e.g. `production`).
        #[arg(long)]
        tag: String,
        /// Print the result as JSON on stdout.
        #[arg(long)]
        json: bool,
    },
}

/// `release deploy`
#[derive(Debug, Args)]
pub struct DeployArgs {
    /// The version (`1.2.3` or `v1.2.3`).
    #[arg(value_name = "X.Y.Z")]
    pub version: String,
    /// The environment.
    #[arg(long)]
    pub env: String,
    /// Run the environment's migration even if it completed for this version already.
    #[arg(long)]
    pub rerun_migrations: bool,
    /// Switches shared with promote and rollback.
    #[command(flatten)]
    pub run: RunArgs,
}

/// `release promote`
#[derive(Debug, Args)]
pub struct PromoteArgs {
    /// The version.
    #[arg(value_name = "X.Y.Z")]
    pub version: String,
    /// The environment it goes to.
    #[arg(long)]
    pub to: String,
    /// Never ask (for an approval) at the prompt.
    #[arg(long, short = 'y')]
    pub yes: bool,
    /// Run the environment's migration even if it completed for this version already.
    #[arg(long)]
    pub rerun_migrations: bool,
    /// Switches shared with deploy and rollback.
    #[command(flatten)]
    pub run: RunArgs,
}

/// Switches of the commands that deploy.
#[derive(Debug, Args)]
pub struct RunArgs {
    /// Wait up to this long (`10m`) for another run that holds the environment.
    #[arg(long, value_name = "DURATION", default_value = "0s")]
    pub wait: String,
    /// Deploy even though one of the environment's alarms is already in ALARM (recorded in
    /// the ledger; that alarm is not watched during this deploy).
    #[arg(long)]
    pub force: bool,
    /// Print the result as JSON on stdout.
    #[arg(long)]
    pub json: bool,
}

/// `release approve` / `release reject`
#[derive(Debug, Args)]
pub struct DecideArgs {
    /// The version.
    #[arg(value_name = "X.Y.Z")]
    pub version: String,
    /// The environment.
    #[arg(long, required_unless_present = "release", conflicts_with = "release")]
    pub env: Option<String>,
    /// Decide on a major release held by `release ci` (`[bump] major_requires_approval`)
    /// instead of an environment.
    #[arg(long)]
    pub release: bool,
    /// Accept the risk of an image scan finding (`CVE-...`) that `max_severity` would block;
    /// recorded with your name. Repeat for several.
    #[arg(long = "accept-risk", value_name = "ID", conflicts_with = "release")]
    pub accept_risk: Vec<String>,
    /// Why.
    #[arg(long)]
    pub note: Option<String>,
    /// Print the result as JSON on stdout.
    #[arg(long)]
    pub json: bool,
}

/// `release continue`
#[derive(Debug, Args)]
pub struct ContinueArgs {
    /// The version whose deploy is paused.
    #[arg(value_name = "X.Y.Z")]
    pub version: String,
    /// The environment.
    #[arg(long)]
    pub env: String,
    /// Why.
    #[arg(long)]
    pub note: Option<String>,
    /// Print the result as JSON on stdout.
    #[arg(long)]
    pub json: bool,
}

/// `release rollback`
#[derive(Debug, Args)]
pub struct RollbackArgs {
    /// The environment.
    #[arg(long)]
    pub env: String,
    /// The version to return to (default: the completed deployment before the current one).
    #[arg(long, value_name = "X.Y.Z")]
    pub to: Option<String>,
    /// Switches shared with deploy and promote.
    #[command(flatten)]
    pub run: RunArgs,
}

/// `release status`
#[derive(Debug, Args)]
pub struct StatusArgs {
    /// Only this environment.
    #[arg(long)]
    pub env: Option<String>,
    /// Print as JSON on stdout.
    #[arg(long)]
    pub json: bool,
}

/// `release history`
#[derive(Debug, Args)]
pub struct HistoryArgs {
    /// The environment.
    #[arg(long)]
    pub env: String,
    /// Print as JSON on stdout.
    #[arg(long)]
    pub json: bool,
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_command_line_is_consistent() {
        use clap::CommandFactory as _;
        super::Cli::command().debug_assert();
    }
}
