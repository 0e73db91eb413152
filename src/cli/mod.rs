//! One module per subcommand: glue between the CLI and the library, and all printing.

/// `print!` through [`print`]: a failing stdout is an error, never a panic.
macro_rules! out {
    ($($arg:tt)*) => {
        $crate::cli::print(&format!($($arg)*))
    };
}

/// `println!` through [`print`]: a failing stdout is an error, never a panic.
macro_rules! outln {
    ($($arg:tt)*) => {
        $crate::cli::print(&format!("{}\n", format_args!($($arg)*)))
    };
}

pub mod args;
mod bump;
mod changelog;
mod cut;
mod hooks;
mod image;
mod init;
mod lint;
mod plan;
mod rollout;

use anyhow::{Context as _, Result};
use clap::CommandFactory as _;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use crate::adapters::git::history;
use crate::cli::args::{Cli, Command, HooksAction, VersionArgs};
use crate::config::environ::Environ;
use crate::config::{self, Config};
use crate::core::plan::{Forced, PlanOptions};
use crate::core::version::Bump;

/// The async runtime the AWS and registry calls of one command run on.
pub fn runtime() -> Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?)
}

/// Logs go to stderr through tracing; `RUST_LOG` overrides the level.
pub fn init_logging(verbose: u8, quiet: bool) {
    crate::util::progress::set_quiet(quiet);
    let level = match (quiet, verbose) {
        (true, _) => "error",
        (false, 0) => "warn",
        (false, 1) => "info",
        _ => "debug",
    };
    // octocrab logs every non-2xx answer as an error, also those we retry and recover from;
    // our own retry warnings say what matters.
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(format!("{level},octocrab=off")));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(|| crate::util::redact::RedactingWriter(std::io::stderr()))
        .without_time()
        .with_target(false)
        .try_init();
}

/// The error and its causes on one line, each cause once, secrets masked and terminal controls
/// made visible.
pub fn describe(e: &anyhow::Error) -> String {
    let text = describe_raw(e);
    crate::util::redact::redact(&crate::util::redact::escape_controls(&text)).into_owned()
}

fn describe_raw(e: &anyhow::Error) -> String {
    let mut parts: Vec<String> = Vec::new();
    for cause in e.chain() {
        let text = cause.to_string();
        if !parts.iter().any(|p| p.contains(&text)) {
            parts.push(text);
        }
    }
    parts.join(": ")
}

/// Print `value` as pretty JSON on stdout, secrets masked.
pub fn print_json<T: serde::Serialize>(value: &T) -> Result<()> {
    let text = serde_json::to_string_pretty(value)?;
    print(&format!("{}\n", crate::util::redact::redact(&text)))
}

/// The reader of stdout went away (`release plan | head -c10`): not a failure of the command,
/// which ends quietly with [`STDOUT_CLOSED_EXIT`].
#[derive(Debug, thiserror::Error)]
#[error("stdout was closed by its reader")]
pub struct StdoutClosed;

/// The exit code after [`StdoutClosed`]: 141 (128 + SIGPIPE), what a shell reports for a
/// program a SIGPIPE ended, without dying of the signal so that locks are released.
pub const STDOUT_CLOSED_EXIT: u8 = 141;

/// Write `text` to stdout and flush. Every command's stdout goes through here: Rust ignores
/// SIGPIPE, so `print!` would panic on a closed pipe or a full disk.
pub fn print(text: &str) -> Result<()> {
    let mut out = std::io::stdout().lock();
    out.write_all(text.as_bytes())
        .and_then(|()| out.flush())
        .map_err(stdout_error)
}

/// A failed write to stdout as an error: [`StdoutClosed`] for a broken pipe, else
/// `writing to stdout: <why>`.
pub fn stdout_error(e: std::io::Error) -> anyhow::Error {
    if e.kind() == std::io::ErrorKind::BrokenPipe {
        return StdoutClosed.into();
    }
    let why = e.to_string();
    // "No space left on device (os error 28)": the number tells a person nothing.
    let why = match why.rfind(" (os error ") {
        Some(i) if why.ends_with(')') => why[..i].to_string(),
        _ => why,
    };
    anyhow::anyhow!("writing to stdout: {why}")
}

/// Run one command; the exit code is for outcomes that are not errors (a failed lint).
pub fn run(cli: Cli) -> Result<ExitCode> {
    let env = environ();
    crate::util::fault::arm(env.lookup(crate::util::fault::FAULT_ENV));
    crate::util::time::fix_epoch(env.get("SOURCE_DATE_EPOCH").and_then(|s| s.parse().ok()));
    match run_interruptible(cli) {
        Err(e) if e.downcast_ref::<StdoutClosed>().is_some() => {
            Ok(ExitCode::from(STDOUT_CLOSED_EXIT))
        }
        other => other,
    }
}

/// Run the command; one stopped by SIGINT/SIGTERM exits as a shell reports that signal.
fn run_interruptible(cli: Cli) -> Result<ExitCode> {
    // rustls panics at the first TLS client when more than one crypto provider is compiled in
    // and none was chosen; choose the one the AWS SDK uses, for GitHub too.
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    for var in ["GITHUB_TOKEN", "GH_TOKEN"] {
        if let Ok(token) = std::env::var(var) {
            crate::util::redact::register(&token);
        }
    }
    let dir = match &cli.dir {
        Some(d) => d.clone(),
        None => std::env::current_dir().context("cannot read the current directory")?,
    };
    // The one async runtime: the library is async where it talks to GitHub and AWS.
    let rt = runtime()?;
    let result = dispatch(cli, &dir, &rt);
    // A run stopped by SIGINT/SIGTERM exits as the shell would report the signal (130, 143).
    match (result, crate::util::signals::interrupted()) {
        (Err(e), Some(signal)) => {
            let text = describe(&e);
            eprintln!("error: {text}");
            if !text.contains("interrupted by") {
                eprintln!("{signal} meanwhile: run the same command again to finish the release");
            }
            Ok(ExitCode::from(signal.exit_code()))
        }
        (result, _) => result,
    }
}

/// Run the command; the commands that talk to GitHub or AWS run on the one async runtime.
fn dispatch(cli: Cli, dir: &Path, rt: &tokio::runtime::Runtime) -> Result<ExitCode> {
    let dir = dir.to_path_buf();
    match cli.command {
        Command::Plan(args) => plan::run(&Workspace::open(&dir, cli.config.as_deref())?, &args),
        Command::Bump(args) => rt.block_on(bump::run(
            &Workspace::open(&dir, cli.config.as_deref())?,
            &args,
        )),
        Command::Cut(args) => rt.block_on(cut::cut(
            &Workspace::open(&dir, cli.config.as_deref())?,
            &args,
        )),
        Command::Ci(args) => rt.block_on(cut::ci(
            &Workspace::open(&dir, cli.config.as_deref())?,
            &args,
        )),
        Command::Changelog(args) => {
            changelog::run(&Workspace::open(&dir, cli.config.as_deref())?, &args)
        }
        Command::Lint(args) => lint::run(&dir, cli.config.as_deref(), &args),
        Command::Config { default, schema } => {
            if schema {
                print_json(&schemars::schema_for!(Config))?;
                return Ok(ExitCode::SUCCESS);
            }
            let config = if default {
                // An explicit file that is not there is a mistake even when it is not read.
                if let Some(p) = cli.config.as_deref() {
                    explicit_config_exists(p)?;
                }
                Config::default()
            } else {
                Workspace::open(&dir, cli.config.as_deref())?.config
            };
            print(&config.to_toml()?)?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Completions { shell } => {
            let mut out = Vec::new();
            clap_complete::generate(shell, &mut Cli::command(), "release", &mut out);
            print(&String::from_utf8_lossy(&out))?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Man => {
            let mut out = Vec::new();
            clap_mangen::Man::new(Cli::command())
                .render(&mut out)
                .context("cannot render the man page")?;
            print(&String::from_utf8_lossy(&out))?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Image { action } => rt.block_on(image::run(
            &Workspace::open(&dir, cli.config.as_deref())?,
            &action,
        )),
        Command::Deploy(args) => rt.block_on(rollout::deploy(
            &Workspace::open(&dir, cli.config.as_deref())?,
            &args,
        )),
        Command::Promote(args) => rt.block_on(rollout::promote(
            &Workspace::open(&dir, cli.config.as_deref())?,
            &args,
        )),
        Command::Approve(args) => rt.block_on(rollout::decide(
            &Workspace::open(&dir, cli.config.as_deref())?,
            &args,
            crate::ledger::Decision::Approved,
        )),
        Command::Reject(args) => rt.block_on(rollout::decide(
            &Workspace::open(&dir, cli.config.as_deref())?,
            &args,
            crate::ledger::Decision::Rejected,
        )),
        Command::Continue(args) => rt.block_on(rollout::continue_deploy(
            &Workspace::open(&dir, cli.config.as_deref())?,
            &args,
        )),
        Command::Rollback(args) => rt.block_on(rollout::rollback(
            &Workspace::open(&dir, cli.config.as_deref())?,
            &args,
        )),
        Command::Status(args) => rt.block_on(rollout::status(
            &Workspace::open(&dir, cli.config.as_deref())?,
            &args,
        )),
        Command::History(args) => rt.block_on(rollout::history(
            &Workspace::open(&dir, cli.config.as_deref())?,
            &args,
        )),
        Command::Unlock { env } => rt.block_on(rollout::unlock(
            &Workspace::open(&dir, cli.config.as_deref())?,
            &env,
        )),
        Command::Init(args) => init::run(&dir, cli.config.as_deref(), &args),
        Command::Hooks {
            action: HooksAction::Install { force },
        } => hooks::install(&Workspace::open(&dir, cli.config.as_deref())?, force),
    }
}

/// The process environment, read once: the rest of the program gets what it needs from this.
pub fn environ() -> Environ {
    Environ::from_vars(std::env::vars_os().map(|(k, v)| {
        (
            k.to_string_lossy().into_owned(),
            v.to_string_lossy().into_owned(),
        )
    }))
}

/// An opened repository with its configuration.
pub struct Workspace {
    /// The repository.
    pub repo: git2::Repository,
    /// Its worktree root.
    pub root: PathBuf,
    /// The loaded configuration.
    pub config: Config,
    /// The environment variables, read once.
    pub environ: Environ,
}

impl Workspace {
    /// Open the repository around `dir` and load its configuration.
    pub fn open(dir: &Path, config_path: Option<&Path>) -> Result<Workspace> {
        let repo = history::open(dir)?;
        let root = repo
            .workdir()
            .map(Path::to_path_buf)
            .unwrap_or_else(|| repo.path().to_path_buf());
        let config = load_config(&root, config_path)?;
        Ok(Workspace {
            repo,
            root,
            config,
            environ: environ(),
        })
    }

    /// The template directory in use: configured, else `.release/templates` when it exists;
    /// refused unless it is a real directory inside the worktree (see [`crate::util::safe_path`]).
    pub fn templates_dir(&self) -> Result<Option<PathBuf>, crate::util::safe_path::UnsafePath> {
        const KEY: &str = "changelog.templates";
        match &self.config.changelog.templates {
            Some(dir) => {
                let path = crate::util::safe_path::check_dir(&self.root, dir, KEY)?;
                Ok(Some(path))
            }
            None => {
                let default = self.root.join(".release/templates");
                match std::fs::symlink_metadata(&default) {
                    Err(_) => return Ok(None),
                    Ok(meta) if meta.is_file() => return Ok(None),
                    Ok(_) => {}
                }
                crate::util::safe_path::check_dir(&self.root, ".release/templates", KEY).map(Some)
            }
        }
    }

    /// The GitHub repository of `origin`, for links.
    pub fn github(&self) -> Option<crate::core::remote::GithubRepo> {
        let url = crate::adapters::git::remote_url(&self.repo, "origin").ok()?;
        crate::core::remote::parse_github(&url, self.environ.get("GITHUB_SERVER_URL"))
    }
}

/// Load `path`, or `release.toml` at `root`; a missing explicit file is an error.
pub(super) fn load_config(root: &Path, path: Option<&Path>) -> Result<Config> {
    match path {
        Some(p) => {
            explicit_config_exists(p)?;
            Ok(Config::load_or_default(p)?)
        }
        None => Ok(Config::load_or_default(&root.join(config::FILE_NAME))?),
    }
}

/// `--config FILE` names a file that must be there: falling back to the defaults would run
/// with settings nobody chose.
fn explicit_config_exists(path: &Path) -> Result<()> {
    if !path.exists() {
        anyhow::bail!(
            "config file {} does not exist: check the path given to --config",
            path.display()
        );
    }
    Ok(())
}

/// `major|minor|patch|X.Y.Z` and `--pre` into plan options.
pub fn plan_options(args: &VersionArgs) -> Result<PlanOptions> {
    let forced = match args.level.as_deref() {
        None => None,
        Some("major") => Some(Forced::Level(Bump::Major)),
        Some("minor") => Some(Forced::Level(Bump::Minor)),
        Some("patch") => Some(Forced::Level(Bump::Patch)),
        Some(v) => {
            let v = v.strip_prefix('v').unwrap_or(v);
            let version = semver::Version::parse(v).map_err(|e| {
                anyhow::anyhow!(
                    "`{v}` is neither major, minor, patch nor a version like 1.2.3 ({e})"
                )
            })?;
            Some(Forced::Version(version))
        }
    };
    Ok(PlanOptions {
        forced,
        pre: args.pre.clone(),
        branch: None,
    })
}

/// Whether this runs in CI (`CI` set and not false), where nothing ever asks.
pub fn is_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| !v.is_empty() && v != "false" && v != "0")
}

/// The steps of `bump` or `cut`, one line each, as people read them.
pub fn step_lines(steps: &[crate::core::step::StepReport]) -> String {
    use crate::core::step::StepState;
    let mut out = String::new();
    for s in steps {
        let mark = match s.state {
            StepState::Todo => "would run   ",
            StepState::Applied => "applied     ",
            StepState::Done => "already done",
            StepState::Skipped => "skipped     ",
        };
        out.push_str(&format!("  [{mark}] {}\n", s.name));
    }
    out
}

pub use crate::util::time::now;
