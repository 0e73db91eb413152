//! `release image build|push|promote`

use anyhow::Result;
use std::process::ExitCode;

use super::Workspace;
use crate::app::image::{self, ImageJob};
use crate::cli::args::ImageAction;

pub async fn run(ws: &Workspace, action: &ImageAction) -> Result<ExitCode> {
    match action {
        ImageAction::Build { version, json } => {
            let version = image::resolve_version(&ws.repo, &ws.config, version.as_deref())?;
            let job = ImageJob::new(&ws.repo, &ws.root, &ws.config, version, &ws.environ)?;
            let built = job.build(super::now()).await?;
            if *json {
                super::print_json(&built)?;
            } else {
                for t in &built.tags {
                    outln!("built {t}")?;
                }
            }
        }
        ImageAction::Push { version, json } => {
            let version = image::resolve_version(&ws.repo, &ws.config, version.as_deref())?;
            let job = ImageJob::new(&ws.repo, &ws.root, &ws.config, version, &ws.environ)?;
            let pushed = job.push().await?;
            if !ws.config.environments.is_empty() {
                record_digest(ws, &pushed.record).await?;
            }
            if *json {
                super::print_json(&pushed)?;
            } else if pushed.pushed {
                outln!("pushed {}", pushed.record.reference)?;
            } else {
                outln!("already pushed {}", pushed.record.reference)?;
            }
        }
        ImageAction::Prune {
            keep,
            older_than,
            dry_run,
            json,
        } => {
            let options = crate::app::prune::PruneOptions {
                keep: *keep,
                older_than: *older_than,
                dry_run: *dry_run,
            };
            let report =
                crate::app::prune::prune(&ws.repo, &ws.config, &ws.environ, &options).await?;
            if *json {
                super::print_json(&report)?;
                return Ok(ExitCode::SUCCESS);
            }
            let mut out = String::new();
            for i in &report.images {
                let tags = if i.image.tags.is_empty() {
                    "untagged".to_string()
                } else {
                    i.image.tags.join(", ")
                };
                match &i.verdict {
                    crate::core::retention::Verdict::Keep(why) => {
                        out.push_str(&format!("keep   {} ({tags}): {why}\n", i.image.digest))
                    }
                    crate::core::retention::Verdict::Delete => out.push_str(&format!(
                        "{} {} ({tags})\n",
                        if report.dry_run {
                            "would delete"
                        } else {
                            "delete"
                        },
                        i.image.digest
                    )),
                }
            }
            out.push_str(&format!(
                "{} {} of {} image(s) in {}\n",
                if report.dry_run {
                    "would delete"
                } else {
                    "deleted"
                },
                report.deleted,
                report.images.len(),
                report.repository
            ));
            outln!("{}", out.trim_end())?;
        }
        ImageAction::Promote { version, tag, json } => {
            let version = image::resolve_version(&ws.repo, &ws.config, Some(version))?;
            let image = image::image_config(&ws.config)?;
            let promotion =
                image::promote(ws.repo.path(), image, &version, tag, &ws.environ).await?;
            if *json {
                super::print_json(&promotion)?;
            } else if promotion.changed {
                outln!(
                    "tagged {}:{} -> {}",
                    image.repository,
                    tag,
                    promotion.digest
                )?;
            } else {
                outln!(
                    "{}:{} already at {}",
                    image.repository,
                    tag,
                    promotion.digest
                )?;
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Fix the pushed digest as its version's digest in the rollout ledger, so every clone deploys
/// that one. One recorded before stands; a different one is an error (deploys will refuse the
/// new image). A ledger that cannot be written is only warned about: the first deploy records
/// the digest then.
async fn record_digest(
    ws: &Workspace,
    record: &crate::adapters::image_record::ImageRecord,
) -> Result<()> {
    let ledger = crate::ledger::Ledger::open(&ws.config.ledger, ws.repo.path()).await;
    let wanted = crate::ledger::ImageDigest {
        version: record.version.clone(),
        digest: record.digest.clone(),
        image: Some(record.reference.clone()),
        by: {
            let aws = crate::adapters::aws::config().await;
            crate::app::rollout::who(&ws.repo, &ws.config, &aws, &ws.environ)
                .await
                .identity
                .by()
                .to_string()
        },
        at: crate::ledger::timestamp(),
    };
    match ledger.fix_digest(&wanted).await {
        Ok(fixed) if fixed.digest != record.digest => anyhow::bail!(
            "pushed {}, but {} was first recorded as {} in the ledger ({}): deploys of {} refuse the new image; release it as a new version",
            record.reference,
            record.version,
            fixed.digest,
            ledger.location(),
            record.version
        ),
        Ok(_) => Ok(()),
        Err(e) => {
            tracing::warn!(
                "cannot record the digest of {} in the ledger ({e}); its first deploy records it",
                record.version
            );
            Ok(())
        }
    }
}
