//! `release image prune`: delete the images nothing needs, never one that runs, that an
//! environment could roll back to, that waits for approval, or that a moving tag names.

use serde::Serialize;
use std::collections::HashMap;

use crate::app::image::{image_config, PublishError, PushTarget};
use crate::app::rollout::{DeployError, Rollout};
use crate::config::environ::Environ;
use crate::config::Config;
use crate::core::image::Repository;
use crate::core::retention::{self, Retention, StoredImage, Verdict};

/// The switches of a prune.
#[derive(Debug, Clone, Copy)]
pub struct PruneOptions {
    /// The newest versions kept whatever their age.
    pub keep: usize,
    /// Only images pushed longer ago than this (seconds) go.
    pub older_than: Option<i64>,
    /// Say what would go; delete nothing.
    pub dry_run: bool,
}

/// One image and what became of it.
#[derive(Debug, Clone, Serialize)]
pub struct PrunedImage {
    /// The image.
    #[serde(flatten)]
    pub image: StoredImage,
    /// Kept (and why) or deleted.
    #[serde(flatten)]
    pub verdict: Verdict,
    /// Whether it was deleted (false on a dry run).
    pub deleted: bool,
}

/// What a prune did.
#[derive(Debug, Clone, Serialize)]
pub struct PruneReport {
    /// The repository.
    pub repository: String,
    /// Every image, newest version first.
    pub images: Vec<PrunedImage>,
    /// How many were deleted (or would be, on a dry run).
    pub deleted: usize,
    /// Whether this was a dry run.
    pub dry_run: bool,
}

/// A prune that cannot go on.
#[derive(Debug, thiserror::Error)]
pub enum PruneError {
    /// The registry or the image configuration.
    #[error(transparent)]
    Image(#[from] PublishError),
    /// What must stay cannot be known (the ledger or ECS cannot be read): nothing is deleted.
    #[error("cannot tell which images are still needed, so none was deleted: {0}")]
    Needed(Box<DeployError>),
    /// Deleting failed part way; the report says which were deleted before.
    #[error("deleted {deleted} image(s), then: {source}")]
    Delete {
        /// How many went before the failure.
        deleted: usize,
        /// The failure.
        source: PublishError,
    },
}

/// Judge every image of `[image] repository` and delete those nothing needs.
pub async fn prune(
    repo: &git2::Repository,
    config: &Config,
    environ: &Environ,
    options: &PruneOptions,
) -> Result<PruneReport, PruneError> {
    let image = image_config(config)?;
    let repository = Repository::parse(&image.repository).map_err(PublishError::from)?;
    let target = PushTarget::open(image, &repository, environ).await?;
    let mut images = target.images().await?;
    for image in &mut images {
        image.tags.sort();
    }
    let tags: HashMap<String, String> = images
        .iter()
        .flat_map(|i| i.tags.iter().map(|t| (t.clone(), i.digest.clone())))
        .collect();
    let rollout = Rollout::open(repo, config, environ).await;
    let protected = rollout
        .protected_images(image.keep_deployments, &tags)
        .await
        .map_err(|e| PruneError::Needed(Box::new(e)))?;
    let verdicts = retention::judge(
        &images,
        &protected,
        &Retention {
            keep: options.keep,
            older_than: options.older_than,
            now: crate::util::time::now(),
        },
    );
    let mut report = PruneReport {
        repository: repository.full(),
        images: Vec::new(),
        deleted: 0,
        dry_run: options.dry_run,
    };
    for (image, verdict) in images.into_iter().zip(verdicts) {
        let mut deleted = false;
        if verdict == Verdict::Delete {
            if !options.dry_run {
                target
                    .delete(&image.digest)
                    .await
                    .map_err(|source| PruneError::Delete {
                        deleted: report.deleted,
                        source,
                    })?;
                deleted = true;
            }
            report.deleted += 1;
        }
        report.images.push(PrunedImage {
            image,
            verdict,
            deleted,
        });
    }
    Ok(report)
}
