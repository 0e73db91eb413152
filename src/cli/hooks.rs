//! `release hooks`

use anyhow::Result;
use std::process::ExitCode;

use super::Workspace;
use crate::adapters::hooks;

pub fn install(ws: &Workspace, force: bool) -> Result<ExitCode> {
    let path = hooks::install_commit_msg(&ws.repo, force)?;
    outln!("installed {}", path.display())?;
    Ok(ExitCode::SUCCESS)
}
