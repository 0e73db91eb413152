//! `release image build|push|promote`

use anyhow::Result;
use std::process::ExitCode;

use super::Workspace;
use crate::cli::ImageAction;
use crate::image::publish::{self, ImageJob};

pub fn run(ws: &Workspace, action: &ImageAction) -> Result<ExitCode> {
    let rt = super::runtime()?;
    match action {
        ImageAction::Build { version, json } => {
            let version = publish::resolve_version(&ws.repo, &ws.config, version.as_deref())?;
            let job = ImageJob::new(&ws.repo, &ws.root, &ws.config, version)?;
            let built = job.build(&rt, super::now())?;
            if *json {
                super::print_json(&built)?;
            } else {
                for t in &built.tags {
                    outln!("built {t}")?;
                }
            }
        }
        ImageAction::Push { version, json } => {
            let version = publish::resolve_version(&ws.repo, &ws.config, version.as_deref())?;
            let job = ImageJob::new(&ws.repo, &ws.root, &ws.config, version)?;
            let pushed = job.push(&rt)?;
            if *json {
                super::print_json(&pushed)?;
            } else if pushed.pushed {
                outln!("pushed {}", pushed.record.reference)?;
            } else {
                outln!("already pushed {}", pushed.record.reference)?;
            }
        }
        ImageAction::Promote { version, tag, json } => {
            let version = publish::resolve_version(&ws.repo, &ws.config, Some(version))?;
            let image = publish::image_config(&ws.config)?;
            let promotion = publish::promote(&rt, ws.repo.path(), image, &version, tag)?;
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
