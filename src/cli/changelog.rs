//! `release changelog`

use anyhow::{Context as _, Result};
use std::io::{Read, Seek as _, SeekFrom, Write as _};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use super::{now, Workspace};
use crate::adapters::templates::Templates;
use crate::app::changelog;
use crate::cli::args::ChangelogArgs;

pub fn run(ws: &Workspace, args: &ChangelogArgs) -> Result<ExitCode> {
    let templates = Templates::load(ws.templates_dir()?.as_deref())?;
    let github = ws.github();
    let source = changelog::Source {
        repo: &ws.repo,
        config: &ws.config,
        templates: &templates,
        github: github.as_ref(),
        now: now(),
        environ: &ws.environ,
        package: args.package.as_deref(),
    };
    let mut out = Output::new();
    if args.all {
        changelog::whole_history(&source, |text| out.push(text))?;
    } else {
        out.push(&changelog::unreleased(&source)?)?;
    }
    out.finish(args.output.as_deref())?;
    Ok(ExitCode::SUCCESS)
}

/// Where the changelog goes while it renders: an unlinked temporary file (memory, when none
/// can be made), copied to the destination once everything rendered, so a failure writes
/// nothing. The text is the concatenation of what was pushed with trailing whitespace removed
/// and one newline added, written without holding it all in memory.
struct Output {
    spool: Spool,
    /// Whitespace pushed after the last non-blank text: written only if more text follows.
    pending: String,
    /// The temporary file's name, where it could not be unlinked while open.
    remove: Option<PathBuf>,
}

enum Spool {
    File(std::io::BufWriter<std::fs::File>),
    Memory(Vec<u8>),
}

impl Output {
    fn new() -> Output {
        let (spool, remove) = match temp_file() {
            Some((f, remove)) => (
                Spool::File(std::io::BufWriter::with_capacity(1 << 16, f)),
                remove,
            ),
            None => (Spool::Memory(Vec::new()), None),
        };
        Output {
            spool,
            pending: String::new(),
            remove,
        }
    }

    fn push(&mut self, text: &str) -> std::io::Result<()> {
        let content = text.trim_end();
        if !content.is_empty() {
            let pending = std::mem::take(&mut self.pending);
            self.write(pending.as_bytes())?;
            self.write(content.as_bytes())?;
        }
        self.pending.push_str(&text[content.len()..]);
        Ok(())
    }

    fn write(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        match &mut self.spool {
            Spool::File(f) => f.write_all(bytes),
            Spool::Memory(v) => {
                v.extend_from_slice(bytes);
                Ok(())
            }
        }
    }

    /// Write everything to `path` (stdout for `None` or `-`).
    fn finish(mut self, path: Option<&Path>) -> Result<()> {
        self.write(b"\n")
            .context("cannot write the changelog to a temporary file")?;
        let path = path.filter(|p| p.as_os_str() != "-");
        let mut source: Box<dyn Read> =
            match std::mem::replace(&mut self.spool, Spool::Memory(Vec::new())) {
                Spool::File(f) => {
                    let mut f = f
                        .into_inner()
                        .map_err(|e| e.into_error())
                        .context("cannot write the changelog to a temporary file")?;
                    f.seek(SeekFrom::Start(0))
                        .context("cannot read the changelog back from its temporary file")?;
                    Box::new(f)
                }
                Spool::Memory(v) => Box::new(std::io::Cursor::new(v)),
            };
        match path {
            Some(path) => {
                let mut write = || -> std::io::Result<()> {
                    let mut file = std::fs::File::create(path)?;
                    std::io::copy(&mut source, &mut file)?;
                    Ok(())
                };
                write().with_context(|| format!("cannot write {}", path.display()))
            }
            None => {
                let mut stdout = std::io::stdout().lock();
                std::io::copy(&mut source, &mut stdout)
                    .and_then(|_| stdout.flush())
                    .map_err(super::stdout_error)
            }
        }
    }
}

impl Drop for Output {
    fn drop(&mut self) {
        if let Some(path) = &self.remove {
            let _ = std::fs::remove_file(path);
        }
    }
}

/// A new temporary file, unlinked at once on Unix (the open file outlives its name); elsewhere
/// with the name to remove after use.
fn temp_file() -> Option<(std::fs::File, Option<PathBuf>)> {
    let dir = std::env::temp_dir();
    for n in 0..16 {
        let path = dir.join(format!(".release-changelog-{}-{n}", std::process::id()));
        match std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create_new(true)
            .open(&path)
        {
            Ok(file) if cfg!(unix) => {
                let _ = std::fs::remove_file(&path);
                return Some((file, None));
            }
            Ok(file) => return Some((file, Some(path))),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(_) => return None,
        }
    }
    None
}
