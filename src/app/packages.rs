//! The plan of a repository with several packages (`[packages]`): for each package, its own
//! tags, the commits since its last release that belong to it (by path, see
//! [`history::PathFilter`], or by scope), and its next version by the same rules as one
//! package's; then the packages a release pulls along through `depends_on`.

use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};

use crate::adapters::git::history::{self, HistoryError, PathFilter};
use crate::adapters::npm;
use crate::adapters::templates::Templates;
use crate::adapters::version_files::{self, Kind, VersionFileError};
use crate::app::bump::{self, BumpError, FileChange, MoreTag, Prepared};
use crate::config::environ::Environ;
use crate::config::packages::PackageConfig;
use crate::config::Config;
use crate::core::commit::{CommitId, RawCommit};
use crate::core::packages;
use crate::core::plan::{self, Forced, PlanError, PlanOptions, ReleasePlan};
use crate::core::remote::GithubRepo;
use crate::core::version::{Bump, BumpRules};

/// One package's plan.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct PackagePlan {
    /// The package's name.
    pub name: String,
    /// Its directory (`None`: matched by scopes only).
    pub path: Option<String>,
    /// The tag its release creates (`None`: nothing to release).
    pub tag: Option<String>,
    /// Released packages it depends on that pull it along (empty: its own commits decide).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub pulled_by: Vec<String>,
    /// The plan, as one package's.
    #[serde(flatten)]
    pub plan: ReleasePlan,
}

/// The plan of every package.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct PackagesPlan {
    /// Every package considered, by name.
    pub packages: Vec<PackagePlan>,
    /// The message of the one release commit (`None`: nothing to release).
    pub release_commit: Option<String>,
}

impl PackagesPlan {
    /// The packages with a release, by name.
    pub fn released(&self) -> impl Iterator<Item = &PackagePlan> {
        self.packages
            .iter()
            .filter(|p| p.plan.next_version.is_some())
    }
}

/// A plan of several packages that cannot be made.
#[derive(Debug, thiserror::Error)]
pub enum PackagesError {
    /// Reading history failed.
    #[error(transparent)]
    History(#[from] HistoryError),
    /// One package's commits cannot make a release.
    #[error("package {package}: {source}")]
    Plan {
        /// The package.
        package: String,
        /// Why (boxed: the error travels through every function of the plan).
        source: Box<PlanError>,
    },
    /// `--package` names no package.
    #[error("no package `{name}` in release.toml: the packages are {known}")]
    UnknownPackage {
        /// The name given.
        name: String,
        /// The configured names.
        known: String,
    },
    /// `--package` given without `[packages]`.
    #[error("--package {0}: release.toml has no [packages]; the repository is one package")]
    NoPackages(String),
    /// A forced level or version without `--package`.
    #[error("a forced level or version applies to one package: add --package NAME (one of {0})")]
    ForcedNeedsPackage(String),
}

/// The configured package names, for messages.
fn known(config: &Config) -> String {
    config
        .packages
        .keys()
        .map(String::as_str)
        .collect::<Vec<_>>()
        .join(", ")
}

/// Check `--package NAME` against the configuration.
pub fn check_selection(config: &Config, only: Option<&str>) -> Result<(), PackagesError> {
    match only {
        Some(name) if !config.has_packages() => Err(PackagesError::NoPackages(name.to_string())),
        Some(name) if !config.packages.contains_key(name) => Err(PackagesError::UnknownPackage {
            name: name.to_string(),
            known: known(config),
        }),
        _ => Ok(()),
    }
}

/// Read the repository and plan every package (or only `only`, without the packages it would
/// pull along).
pub fn gather(
    repo: &git2::Repository,
    config: &Config,
    options: &PlanOptions,
    only: Option<&str>,
) -> Result<PackagesPlan, PackagesError> {
    check_selection(config, only)?;
    if options.forced.is_some() && only.is_none() && config.packages.len() > 1 {
        return Err(PackagesError::ForcedNeedsPackage(known(config)));
    }
    let options = crate::app::plan::with_branch_rule(repo, config, options);
    let rules = BumpRules::from_config(&config.bump);
    let head = history::head_commit(repo)?;
    let _cache = (config.packages.len() > 1 && only.is_none()).then(history::SharedReads::on);
    let tag_names = history::tag_names(repo)?;
    let mut plans = Vec::new();
    let mut inputs = BTreeMap::new();
    for (name, package) in &config.packages {
        if only.is_some_and(|o| o != name) {
            continue;
        }
        warn_if_missing(repo, head, name, package);
        let input = input_of(repo, config, name, package, head, &tag_names)?;
        let plan = plan::build(&input, &rules, &options).map_err(|source| PackagesError::Plan {
            package: name.clone(),
            source: Box::new(source),
        })?;
        inputs.insert(name.clone(), input);
        plans.push(PackagePlan {
            name: name.clone(),
            path: package.path.clone(),
            tag: plan.next_tag.clone(),
            pulled_by: Vec::new(),
            plan,
        });
    }
    if only.is_none() {
        let graph = dependency_graph(repo, config);
        // Released now, or by HEAD itself when it is a release commit whose run stopped
        // before tagging every package: what it released still pulls its dependents along.
        let at_head = released_at_head(repo, config, head)?;
        let released: BTreeSet<String> = plans
            .iter()
            .filter(|p| {
                p.plan.next_version.is_some()
                    || inputs
                        .get(&p.name)
                        .is_some_and(|i| !i.head_versions.is_empty())
                        && at_head.contains(&p.name)
            })
            .map(|p| p.name.clone())
            .collect();
        for (name, why) in packages::dependents(&graph, &released) {
            // Released on HEAD already: not again.
            if inputs
                .get(&name)
                .is_some_and(|i| !i.head_versions.is_empty())
            {
                continue;
            }
            let (Some(p), Some(input)) = (
                plans.iter_mut().find(|p| p.name == name),
                inputs.get_mut(&name),
            ) else {
                continue;
            };
            p.plan = pulled_plan(input, &rules, &options, &why).map_err(|source| {
                PackagesError::Plan {
                    package: name.clone(),
                    source: Box::new(source),
                }
            })?;
            p.tag = p.plan.next_tag.clone();
            p.pulled_by = why;
        }
    }
    let released: Vec<(String, String)> = plans
        .iter()
        .filter_map(|p| Some((p.name.clone(), p.plan.next_version.clone()?)))
        .collect();
    Ok(PackagesPlan {
        release_commit: (!released.is_empty())
            .then(|| packages::release_message(&config.commit.message, &released)),
        packages: plans,
    })
}

/// Warn when a package's `path` is not in HEAD's tree: no commit would ever belong to it, and
/// a typo there would otherwise only show as a package that never has anything to release.
fn warn_if_missing(repo: &git2::Repository, head: git2::Oid, name: &str, package: &PackageConfig) {
    let Some(path) = package
        .path
        .as_deref()
        .map(crate::config::packages::normalize)
    else {
        return;
    };
    if path.is_empty() {
        return;
    }
    let lookup = repo
        .find_commit(head)
        .and_then(|c| c.tree())
        .and_then(|t| t.get_path(std::path::Path::new(&path)));
    if lookup.is_err_and(|e| e.code() == git2::ErrorCode::NotFound) {
        tracing::warn!(
            "package {name}: `{path}` is not in the repository at HEAD, so no commit changes it; \
             check its `path` in release.toml"
        );
    }
}

/// What each package depends on: its `depends_on`, or, when that is empty, the packages whose
/// names (a version file's `[package] name` or `"name"`) its own version files list as
/// dependencies. Files that cannot be read count as listing nothing.
pub fn dependency_graph(repo: &git2::Repository, config: &Config) -> BTreeMap<String, Vec<String>> {
    let root = crate::adapters::git::workdir(repo).ok();
    let read = |path: &str| -> Option<String> {
        let full = crate::util::safe_path::check(root.as_deref()?, path, "version_files").ok()?;
        std::fs::read_to_string(full).ok()
    };
    let manifests = |p: &PackageConfig| -> Vec<(Kind, String)> {
        p.version_files()
            .iter()
            .filter_map(|f| {
                let kind = Kind::from_path(&f.path, f.regex.as_deref());
                matches!(kind, Kind::CargoToml | Kind::PackageJson)
                    .then(|| read(&f.path).map(|t| (kind, t)))
                    .flatten()
            })
            .collect()
    };
    // The names each package is known by in manifests.
    let mut known: BTreeMap<String, String> = BTreeMap::new();
    for (name, p) in &config.packages {
        for (kind, text) in manifests(p) {
            let own = match kind {
                Kind::CargoToml => version_files::cargo_package_name(&text),
                _ => version_files::package_json_name(&text),
            };
            if let Some(own) = own {
                known.insert(own, name.clone());
            }
        }
    }
    config
        .packages
        .iter()
        .map(|(name, p)| {
            if !p.depends_on.is_empty() {
                return (name.clone(), p.depends_on.clone());
            }
            let mut deps: Vec<String> = manifests(p)
                .iter()
                .flat_map(|(kind, text)| version_files::dependency_names(kind, text))
                .filter_map(|d| known.get(&d).cloned())
                .filter(|d| d != name)
                .collect();
            deps.sort();
            deps.dedup();
            (name.clone(), deps)
        })
        .collect()
}

/// The packages HEAD's release commit names, when HEAD is one.
fn released_at_head(
    repo: &git2::Repository,
    config: &Config,
    head: git2::Oid,
) -> Result<BTreeSet<String>, HistoryError> {
    let commit = history::read_commit(repo, head)?;
    if commit.parents > 1 {
        return Ok(BTreeSet::new());
    }
    let header = commit.message.lines().next().unwrap_or_default();
    Ok(packages::released_in(header, &config.commit.message)
        .unwrap_or_default()
        .into_iter()
        .map(|(n, _)| n)
        .collect())
}

/// The plan of a package pulled along by the release of packages it depends on (`why`): at
/// least a patch, by the same rules (pre-releases, 0.x, branches) as its own commits'.
fn pulled_plan(
    input: &mut plan::Input,
    rules: &BumpRules,
    options: &PlanOptions,
    why: &[String],
) -> Result<ReleasePlan, PlanError> {
    let own = plan::build(input, rules, options)?;
    let reason = format!("depends on {}, released now", why.join(", "));
    if own.next_version.is_some() {
        let mut own = own;
        own.reason = format!("{}; {reason}", own.reason);
        return Ok(own);
    }
    // A stand-in commit lets the same rules compute the patch release; it is not shown.
    let stand_in = CommitId([0; 20]);
    input.commits.insert(
        0,
        RawCommit {
            id: stand_in,
            message: format!("chore(deps): release with {}", why.join(", ")),
            lossy: false,
            author: String::new(),
            email: String::new(),
            time: 0,
            parents: 1,
        },
    );
    let forced = PlanOptions {
        forced: Some(Forced::Level(Bump::Patch)),
        ..options.clone()
    };
    let mut plan = plan::build(input, rules, &forced)?;
    let hidden = stand_in.to_string();
    plan.commits.retain(|c| c.id != hidden);
    plan.reason = reason;
    Ok(plan)
}

/// What [`plan::build`] needs of one package: its tags, and the commits since its last stable
/// release that belong to it, release commits left out.
fn input_of(
    repo: &git2::Repository,
    config: &Config,
    name: &str,
    package: &PackageConfig,
    head: git2::Oid,
    tag_names: &[String],
) -> Result<plan::Input, PackagesError> {
    let prefix = package.tag_prefix_of(name);
    let tags = history::prefixed_tags_among(repo, tag_names, &prefix)?;
    let current = history::latest_reachable(repo, head, &tags, true)?;
    let filter = PathFilter {
        paths: package.paths(),
        exclude: package.excludes(),
    };
    let commits: Vec<RawCommit> =
        history::commits_since_touching(repo, head, current.map(|t| t.commit), &filter)?
            .into_iter()
            .filter(|(c, touched)| *touched || packages::scope_matches(&c.message, &package.scopes))
            .map(|(c, _)| c)
            .collect();
    let commits = packages::without_release_commits(commits, &config.commit.message);
    Ok(crate::app::plan::input_of(
        prefix, config, &tags, current, head, commits,
    ))
}

/// The configuration one package's release is prepared with: its tag prefix, changelog and
/// version files in place of the root's, and no plain version file.
pub fn package_config(config: &Config, name: &str, package: &PackageConfig) -> Config {
    let mut c = config.clone();
    c.tag_prefix = package.tag_prefix_of(name);
    c.changelog.path = package.changelog_of(name);
    c.version_files = package.version_files();
    c.version_file = String::new();
    c.packages = BTreeMap::new();
    c
}

/// `e` with the keys of a refused path named as they are written for package `name`
/// (`packages.api.changelog`, not the root's `changelog.path`).
fn in_package(e: BumpError, name: &str) -> BumpError {
    match e {
        BumpError::UnsafePath(mut refused) => {
            refused.key = match refused.key.as_str() {
                "changelog.path" => format!("packages.{name}.changelog"),
                key if key.starts_with("version_files") => format!("packages.{name}.{key}"),
                _ => refused.key,
            };
            BumpError::UnsafePath(refused)
        }
        other => other,
    }
}

/// Every write of a release of several packages: each package's files (its changelog with only
/// its commits, its version files), one release commit naming them all, and one tag each.
/// When HEAD is this very release commit with some of its tags missing (a run stopped before
/// tagging), nothing is written and the missing tags are created on it.
pub fn prepare(
    repo: &git2::Repository,
    config: &Config,
    plan: &PackagesPlan,
    templates: &Templates,
    time: i64,
    github: Option<&GithubRepo>,
    environ: &Environ,
) -> Result<Prepared, BumpError> {
    let released: Vec<&PackagePlan> = plan.released().collect();
    let (Some(message), Some(_)) = (&plan.release_commit, released.first()) else {
        let why =
            plan.packages
                .first()
                .map_or("no package has anything to release".to_string(), |p| {
                    if plan.packages.len() == 1 {
                        format!("package {}: {}", p.name, p.plan.reason)
                    } else {
                        "no package has anything to release".to_string()
                    }
                });
        return Err(BumpError::NothingToRelease(why));
    };
    let finishing = unfinished(repo, config, &released)?;
    let mut files: Vec<FileChange> = Vec::new();
    let mut parts: Vec<Prepared> = Vec::new();
    let summary_path = config.changelog.packages_summary.as_deref();
    let mut summary = packages::PackagesSummary {
        date: String::new(),
        packages: Vec::new(),
    };
    for p in &released {
        let Some(package) = config.packages.get(&p.name) else {
            continue;
        };
        let pc = package_config(config, &p.name, package);
        let release = bump::release_of(repo, &p.plan, time, github, &pc, environ);
        let prepared = bump::prepare_release(repo, &pc, &p.plan, templates, &release, false)
            .map_err(|e| in_package(e, &p.name))?;
        if let Some(path) = summary_path {
            summary.date.clone_from(&release.date);
            summary.packages.push(packages::SummaryEntry {
                name: p.name.clone(),
                version: prepared.version.clone(),
                tag: prepared.tag.clone(),
                previous_tag: release.previous_tag.clone(),
                compare_url: release.compare_url.clone(),
                changelog: packages::relative_link(path, &pc.changelog.path),
                pulled_by: p.pulled_by.clone(),
            });
        }
        if finishing.is_none() {
            for f in &prepared.files {
                if !files.iter().any(|g| g.path == f.path) {
                    files.push(f.clone());
                }
            }
        }
        parts.push(prepared);
    }
    if finishing.is_none() {
        write_dependency_versions(repo, config, &released, &mut files)?;
        write_npm_lockfiles(repo, config, &released, &mut files)?;
        if let Some(path) = summary_path {
            write_summary(repo, path, templates, &summary, &mut files)?;
        }
    }
    let mut parts = parts.into_iter();
    let Some(first) = parts.next() else {
        return Err(BumpError::NothingToRelease(
            "no package has anything to release".into(),
        ));
    };
    Ok(Prepared {
        version: first.version,
        tag: first.tag,
        commit_message: message.clone(),
        notes: first.notes,
        files,
        release_commit: finishing.map(|id| id.to_string()),
        more_tags: parts
            .map(|p| MoreTag {
                tag: p.tag,
                version: p.version,
                notes: p.notes,
            })
            .collect(),
    })
}

/// The root Cargo.lock of a workspace gets each released crate's new version, and each
/// released package's manifests (its Cargo.toml and package.json version files) ask for
/// the new version of every released package it depends on: a Cargo path dependency's
/// `version`, an npm `dependencies` entry. A dependency's names are read from its own version
/// files (`[package] name`, `"name"`), else its package name.
fn write_dependency_versions(
    repo: &git2::Repository,
    config: &Config,
    released: &[&PackagePlan],
    files: &mut Vec<FileChange>,
) -> Result<(), BumpError> {
    let root = crate::adapters::git::workdir(repo)?;
    let graph = dependency_graph(repo, config);
    let version_of = |name: &str| {
        released
            .iter()
            .find(|p| p.name == name)
            .and_then(|p| p.plan.next_version.clone())
    };
    let text_of = |files: &[FileChange], path: &str| pending_text(&root, files, path);
    let set = |files: &mut Vec<FileChange>, path: &str, content: String| {
        set_file(&root, files, path, content)
    };
    for p in released {
        let Some(package) = config.packages.get(&p.name) else {
            continue;
        };
        let Some(version) = p.plan.next_version.as_deref() else {
            continue;
        };
        // A Cargo workspace has one Cargo.lock, at its root: each released crate's entry in it.
        for f in package.version_files() {
            if Kind::from_path(&f.path, f.regex.as_deref()) != Kind::CargoToml {
                continue;
            }
            let Some(name) =
                text_of(files, &f.path).and_then(|t| version_files::cargo_package_name(&t))
            else {
                continue;
            };
            let mut dir = std::path::Path::new(&f.path).parent();
            while let Some(d) = dir {
                let lock = d.join("Cargo.lock").to_string_lossy().into_owned();
                if let Some(text) = text_of(files, &lock) {
                    if let Ok(updated) =
                        version_files::rewrite(&Kind::CargoLock(name.clone()), &text, version)
                    {
                        set(files, &lock, updated);
                    }
                    break;
                }
                dir = d.parent();
            }
        }
        for dep in graph.get(&p.name).into_iter().flatten() {
            let (Some(dep_version), Some(dep_config)) = (version_of(dep), config.packages.get(dep))
            else {
                continue;
            };
            let mut cargo_name = None;
            let mut npm_name = None;
            for f in dep_config.version_files() {
                let Some(text) = text_of(files, &f.path) else {
                    continue;
                };
                match Kind::from_path(&f.path, f.regex.as_deref()) {
                    Kind::CargoToml => cargo_name = version_files::cargo_package_name(&text),
                    Kind::PackageJson => npm_name = version_files::package_json_name(&text),
                    _ => {}
                }
            }
            for f in package.version_files() {
                let kind = Kind::from_path(&f.path, f.regex.as_deref());
                let Some(text) = text_of(files, &f.path) else {
                    continue;
                };
                let rewritten = match kind {
                    Kind::CargoToml => version_files::cargo_dependency(
                        &text,
                        cargo_name.as_deref().unwrap_or(dep),
                        &dep_version,
                    ),
                    Kind::PackageJson => version_files::npm_dependency(
                        &text,
                        npm_name.as_deref().unwrap_or(dep),
                        &dep_version,
                    ),
                    _ => continue,
                }
                .map_err(|message| VersionFileError::NoVersion {
                    path: root.join(&f.path),
                    message,
                })?;
                if let Some(content) = rewritten {
                    set(files, &f.path, content);
                }
            }
        }
    }
    Ok(())
}

/// The text of `path` as the release leaves it: its pending content in `files`, else the file
/// in the worktree (`None`: missing, or not a file release reads).
fn pending_text(root: &std::path::Path, files: &[FileChange], path: &str) -> Option<String> {
    files
        .iter()
        .find(|f| f.path == path)
        .map(|f| f.content.clone())
        .or_else(|| {
            let full = crate::util::safe_path::check(root, path, "version_files").ok()?;
            std::fs::read_to_string(full).ok()
        })
}

/// Record `content` as what the release writes to `path`, replacing an earlier pending write.
fn set_file(root: &std::path::Path, files: &mut Vec<FileChange>, path: &str, content: String) {
    let on_disk = std::fs::read_to_string(root.join(path)).ok();
    let changed = on_disk.as_deref() != Some(content.as_str());
    match files.iter_mut().find(|g| g.path == path) {
        Some(g) => {
            g.content = content;
            g.changed = changed;
        }
        None => files.push(FileChange {
            path: path.to_string(),
            content,
            changed,
        }),
    }
}

/// `[changelog] packages_summary` gets a section for this release commit: each released
/// package with its version, tag and links, merged like a package's changelog (an
/// `[Unreleased]` section and hand-written text are kept, and a run that stopped after writing
/// it does not add a second section).
fn write_summary(
    repo: &git2::Repository,
    path: &str,
    templates: &Templates,
    summary: &packages::PackagesSummary,
    files: &mut Vec<FileChange>,
) -> Result<(), BumpError> {
    let root = crate::adapters::git::workdir(repo)?;
    let section = templates.packages_summary(summary)?;
    let (content, _) =
        bump::merged_changelog(repo, &root, path, "changelog.packages_summary", |text| {
            crate::core::changelog::merge(text, &section)
        })?;
    set_file(&root, files, path, content);
    Ok(())
}

/// An npm workspace has one lockfile (`package-lock.json` or `npm-shrinkwrap.json`), in the
/// workspace root: each released package whose package.json is a version file gets its entry
/// there made to agree with that package.json as the release writes it (its version, and its
/// ranges of the released packages; see [`npm::lockfile`]). The lockfile is the nearest one
/// in the package's directory or above it; a lockfile without an entry for the package is
/// not its workspace's and is left alone, and no lockfile is created. A lockfile that cannot
/// be read or is not valid JSON stops the release before anything is written.
fn write_npm_lockfiles(
    repo: &git2::Repository,
    config: &Config,
    released: &[&PackagePlan],
    files: &mut Vec<FileChange>,
) -> Result<(), BumpError> {
    let root = crate::adapters::git::workdir(repo)?;
    let manifests: Vec<(&str, String)> = released
        .iter()
        .filter_map(|p| Some((p.name.as_str(), config.packages.get(&p.name)?)))
        .flat_map(|(name, package)| {
            package
                .version_files()
                .into_iter()
                .filter(|f| Kind::from_path(&f.path, f.regex.as_deref()) == Kind::PackageJson)
                .map(move |f| (name, f.path))
        })
        .collect();
    // The npm names of the released packages: their ranges in the lockfile follow the
    // manifests.
    let names: Vec<String> = manifests
        .iter()
        .filter_map(|(_, path)| {
            version_files::package_json_name(&pending_text(&root, files, path)?)
        })
        .collect();
    for (name, path) in &manifests {
        let Some(manifest) = pending_text(&root, files, path) else {
            continue;
        };
        let key = format!("npm lockfile of packages.{name}.version_files");
        let Some((lock, workspace, text)) = find_lockfile(&root, files, path, &key)? else {
            continue;
        };
        let updated = npm::lockfile(&text, &workspace, &manifest, &names).map_err(|reason| {
            BumpError::Unreadable {
                path: lock.clone(),
                key: key.clone(),
                reason: format!(
                    "{reason}; fix it (`npm install` writes it again) and run release again"
                ),
            }
        })?;
        if let Some(updated) = updated {
            set_file(&root, files, &lock, updated);
        }
    }
    Ok(())
}

/// The lockfile nearest to the package.json at `manifest` (in its directory, then each one
/// above it up to the repository root): its path, the package's directory relative to it
/// (npm's key for the package), and its text as the release leaves it so far.
fn find_lockfile(
    root: &std::path::Path,
    files: &[FileChange],
    manifest: &str,
    key: &str,
) -> Result<Option<(String, String, String)>, BumpError> {
    let dir: Vec<&str> = manifest
        .split('/')
        .filter(|p| !p.is_empty() && *p != ".")
        .collect();
    let dir = &dir[..dir.len().saturating_sub(1)];
    for depth in (0..=dir.len()).rev() {
        for name in npm::LOCKFILES {
            let lock = dir[..depth]
                .iter()
                .copied()
                .chain([name])
                .collect::<Vec<_>>()
                .join("/");
            let text = match files.iter().find(|f| f.path == lock) {
                Some(f) => Some(f.content.clone()),
                None => bump::read_text(root, &lock, key)?,
            };
            if let Some(text) = text {
                return Ok(Some((lock, dir[depth..].join("/"), text)));
            }
        }
    }
    Ok(None)
}

/// HEAD, when it is the release commit of exactly the packages `released` would release now
/// with their tags missing; an error when it is a release commit of other packages or
/// versions whose tags are missing (releasing on top of it would leave them untagged).
fn unfinished(
    repo: &git2::Repository,
    config: &Config,
    released: &[&PackagePlan],
) -> Result<Option<git2::Oid>, BumpError> {
    let head = history::head_commit(repo)?;
    let commit = history::read_commit(repo, head)?;
    if commit.parents > 1 {
        return Ok(None);
    }
    let header = commit.message.lines().next().unwrap_or_default();
    let Some(listed) = packages::released_in(header, &config.commit.message) else {
        return Ok(None);
    };
    let mut missing = Vec::new();
    for (name, version) in &listed {
        let prefix = config
            .packages
            .get(name)
            .map_or_else(|| format!("{name}-v"), |p| p.tag_prefix_of(name));
        let tag = format!("{prefix}{version}");
        if crate::adapters::git::tag_target(repo, &tag)?.is_none() {
            missing.push((name.clone(), version.clone(), tag));
        }
    }
    if missing.is_empty() {
        return Ok(None);
    }
    let now: BTreeSet<(String, String)> = released
        .iter()
        .filter_map(|p| Some((p.name.clone(), p.plan.next_version.clone()?)))
        .collect();
    let wanted: BTreeSet<(String, String)> = missing
        .iter()
        .map(|(n, v, _)| (n.clone(), v.clone()))
        .collect();
    if now == wanted {
        return Ok(Some(head));
    }
    let tags: Vec<&str> = missing.iter().map(|(_, _, t)| t.as_str()).collect();
    Err(BumpError::UntaggedRelease(format!(
        "HEAD is the release commit \"{header}\", which lacks the tag(s) {}, but this run would release other packages or versions: tag it (`git tag -a TAG HEAD -m TAG` for each), or `git revert HEAD` if that release was abandoned; nothing was written",
        tags.join(", ")
    )))
}
