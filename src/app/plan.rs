//! The plan of the repository as it is: history read through the git adapter, decided by the core.

use crate::adapters::git::history::{self, HistoryError};
use crate::config::branches::BranchEntry;
use crate::config::Config;
use crate::core::plan::{self, PlanError, PlanOptions, ReleasePlan};

/// A plan that cannot be made.
#[derive(Debug, thiserror::Error)]
pub enum GatherError {
    /// Reading history failed.
    #[error(transparent)]
    History(#[from] HistoryError),
    /// The commits cannot make a release.
    #[error(transparent)]
    Plan(#[from] PlanError),
}

/// `options` with the branch's rule, when `branches` gives HEAD's branch one (plain names
/// change nothing).
pub fn with_branch_rule(
    repo: &git2::Repository,
    config: &Config,
    options: &PlanOptions,
) -> PlanOptions {
    let mut options = options.clone();
    if options.branch.is_none() {
        options.branch = history::head_branch(repo)
            .and_then(|b| config.branch(&b))
            .filter(|e| matches!(e, BranchEntry::Rule(_)))
            .cloned();
    }
    options
}

/// The plan input of a release line tagged `tags` with prefix `tag_prefix`, whose latest
/// reachable release is `current`, for the commits since it up to `head`.
pub fn input_of(
    tag_prefix: String,
    config: &Config,
    tags: &[history::ReleaseTag],
    current: Option<&history::ReleaseTag>,
    head: git2::Oid,
    commits: Vec<crate::core::commit::RawCommit>,
) -> plan::Input {
    let head = history::commit_id(head);
    plan::Input {
        tag_prefix,
        initial_version: Some(config.initial_version.clone()),
        current: current.map(|t| (t.name.clone(), t.version.clone())),
        all_versions: tags.iter().map(|t| t.version.clone()).collect(),
        head_versions: tags
            .iter()
            .filter(|t| history::commit_id(t.commit) == head)
            .map(|t| t.version.clone())
            .collect(),
        commits,
    }
}

/// Read the repository and build the plan.
pub fn gather(
    repo: &git2::Repository,
    config: &Config,
    options: &PlanOptions,
) -> Result<ReleasePlan, GatherError> {
    let options = with_branch_rule(repo, config, options);
    let head = history::head_commit(repo)?;
    let tags = history::version_tags(repo, &config.tag_prefix)?;
    let current = history::latest_reachable(repo, head, &tags, true)?;
    let commits = plan::without_release_commits(
        history::commits_since(repo, head, current.map(|t| t.commit))?,
        &config.commit.message,
    );
    if current.is_none() && repo.is_shallow() {
        return Err(HistoryError::ShallowWithoutTags.into());
    }
    let prefix = plan::tag_prefix_in_use(tags.first().map(|t| t.name.as_str()), &config.tag_prefix);
    let input = input_of(prefix, config, &tags, current, head, commits);
    Ok(plan::build(
        &input,
        &crate::core::version::BumpRules::from_config(&config.bump),
        &options,
    )?)
}
