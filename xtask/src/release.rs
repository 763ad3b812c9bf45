//! `cargo xtask release <version> [--dry-run] [--date YYYY-MM-DD] [--spec <dir>]`: cut a release.
//!
//! 1. Preflight, before anything is written: the working tree is clean, `<version>` is semver and
//!    greater than `[workspace.package] version`, `CHANGELOG.md` has entries under `## Unreleased`
//!    and no section for `<version>` yet, the tag `v<version>` does not exist, every publishable
//!    crate inherits the workspace version, and the spec directory exists.
//! 2. Staging, in a temporary clone of `HEAD` (beside the repository, so `../shared` resolves):
//!    set the version in `[workspace.package]` and on the internal entries of
//!    `[workspace.dependencies]`, move Unreleased under `## <version> - <date>`, refresh
//!    `Cargo.lock`, commit `release <version>`, run every check a release must pass (see
//!    [`release_checks`]), make sure they left the tree as committed, and tag `v<version>`.
//! 3. Without `--dry-run`, and only if all of that passed: fast-forward the real repository to the
//!    release commit and fetch the tag (refusing if its `HEAD` moved or its tree got dirty in the
//!    meantime). With `--dry-run`, nothing outside the temporary clone changes.
//!
//! It never pushes and never publishes; it prints the `cargo publish` commands, in dependency
//! order, for a person to run. The temporary clone is removed on every exit path but a kill (it is
//! a `tempfile::TempDir`); after a Ctrl-C, delete the `.acs-chat-release-*` directory by hand.
//!
//! Staging in a clone for the real run too means a failed check leaves the working tree untouched,
//! and the checks run on exactly the committed tree that is then released. The steps build into
//! `<target dir>/xtask-release`, a cache kept between releases (only the workspace crates are
//! rebuilt each time) and separate from the workspace's own builds.
//!
//! MSRV: `rust-version = "1.95"` in `[workspace.package]`. 1.95 is the toolchain the checks run on,
//! and it is the only stable toolchain available where this was written (rustup cannot download
//! another one there), so it is the oldest version we can honestly claim to test.
//!
//! The date is the caller's: `--date`, or today's UTC date read from the clock in [`run`] only.
//! Everything else is a pure function over strings ([`manifest`], [`changelog`]) or a thin
//! wrapper over `git` and `cargo` processes.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail};
use semver::Version;
use time::macros::format_description;

mod changelog;
mod git;
mod manifest;

/// The publishable crates, in dependency order (the order they must be published in).
const PUBLISHABLE: [&str; 6] = [
    "acs-chat-protocol",
    "acs-chat-events",
    "acs-chat-transport",
    "acs-chat",
    "acs-chat-emulator",
    "acs-chat-cli",
];

/// The spec directory used by `codegen --check` when `--spec` is not given, relative to the
/// workspace root.
const DEFAULT_SPEC_DIR: &str = "../shared/acs-chat-spec";

const USAGE: &str =
    "usage: cargo xtask release <version> [--dry-run] [--date YYYY-MM-DD] [--spec <dir>]
  <version>            the new version (semver, greater than the current one)
  --dry-run            do everything in a temporary clone and change nothing
  --date YYYY-MM-DD    the release date for CHANGELOG.md (default: today, UTC)
  --spec <dir>         the spec for `codegen --check` and `conformance` (default:
                       ../shared/acs-chat-spec relative to the workspace root)
It never pushes and never publishes.";

pub(crate) fn run(args: &[String]) -> Result<()> {
    let Some(args) = Args::parse(args)? else {
        println!("{USAGE}");
        return Ok(());
    };
    let root = crate::workspace_root();
    let date = match &args.date {
        Some(date) => parse_date(date)?,
        // The only clock read of the whole command.
        None => time::OffsetDateTime::now_utc().date(),
    };
    let spec = match &args.spec {
        Some(spec) => std::path::absolute(spec)
            .with_context(|| format!("cannot resolve --spec {}", spec.display()))?,
        None => root.join(DEFAULT_SPEC_DIR),
    };
    if !spec.is_dir() {
        bail!(
            "the spec directory {} does not exist (pass --spec <dir>)",
            spec.display()
        );
    }
    let plan = Plan {
        version: args.version,
        date: format_date(date)?,
        dry_run: args.dry_run,
        packages: PUBLISHABLE.iter().map(|&p| p.to_owned()).collect(),
        prepare: vec![cargo(&["update", "--workspace"])],
        checks: release_checks(&spec),
        // A directory of its own under the workspace's target directory: third-party crates are
        // built once and reused by later releases, and the clone's binaries (`xtask` itself, the
        // CLI) never overwrite the workspace's own `target/debug/*`, which `cargo run` would then
        // keep running as if they were fresh.
        target_dir: crate::target_dir(&root).join("xtask-release"),
    };
    let outcome = release(&root, &plan)?;

    println!();
    if outcome.dry_run {
        println!(
            "Dry run of {} passed; the temporary clone {} was removed and nothing was changed.",
            outcome.tag,
            outcome.staging.display()
        );
        println!("A real run would end with these commands for a person to run:");
    } else {
        println!(
            "Released {} locally: commit {} \"release {}\" and tag {}.",
            outcome.version, outcome.commit, outcome.version, outcome.tag
        );
        println!("Nothing was pushed or published. When ready, run in this order:");
    }
    println!("  git push origin HEAD {}", outcome.tag);
    for command in publish_commands() {
        println!("  {command}");
    }
    Ok(())
}

/// The command line of `cargo xtask release`.
#[derive(Debug, PartialEq)]
struct Args {
    version: String,
    dry_run: bool,
    date: Option<String>,
    spec: Option<PathBuf>,
}

impl Args {
    /// `Ok(None)` means help was asked for.
    fn parse(args: &[String]) -> Result<Option<Self>> {
        if crate::has_flag(args, "-h") || crate::has_flag(args, "--help") {
            return Ok(None);
        }
        let mut version = None;
        let mut dry_run = false;
        let mut date = None;
        let mut spec = None;
        let mut args = args.iter();
        while let Some(arg) = args.next() {
            match arg.as_str() {
                "--dry-run" => dry_run = true,
                "--date" | "--spec" => {
                    let value = args
                        .next()
                        .with_context(|| format!("{arg} needs a value\n\n{USAGE}"))?;
                    if arg == "--date" {
                        date = Some(value.clone());
                    } else {
                        spec = Some(PathBuf::from(value));
                    }
                }
                flag if flag.starts_with("--") => bail!("unknown option `{flag}`\n\n{USAGE}"),
                positional => {
                    if let Some(first) = &version {
                        bail!("expected one version, got `{first}` and `{positional}`\n\n{USAGE}");
                    }
                    version = Some(positional.to_owned());
                }
            }
        }
        let version = version.with_context(|| format!("missing <version>\n\n{USAGE}"))?;
        Ok(Some(Self {
            version,
            dry_run,
            date,
            spec,
        }))
    }
}

fn parse_date(text: &str) -> Result<time::Date> {
    time::Date::parse(text, format_description!("[year]-[month]-[day]"))
        .map_err(|err| anyhow::anyhow!("--date `{text}` is not a YYYY-MM-DD date ({err})"))
}

fn format_date(date: time::Date) -> Result<String> {
    date.format(format_description!("[year]-[month]-[day]"))
        .context("cannot format the release date")
}

/// A process to run in the staging clone.
#[derive(Debug, Clone)]
struct Step {
    program: String,
    args: Vec<String>,
    env: Vec<(String, String)>,
}

impl Step {
    fn new(program: &str, args: &[&str]) -> Self {
        Self {
            program: program.to_owned(),
            args: args.iter().map(|&a| a.to_owned()).collect(),
            env: Vec::new(),
        }
    }

    fn env(mut self, key: &str, value: &str) -> Self {
        self.env.push((key.to_owned(), value.to_owned()));
        self
    }

    fn label(&self) -> String {
        let env = self.env.iter().map(|(k, v)| format!("{k}=\"{v}\" "));
        let mut label: String = env.collect();
        label.push_str(&self.program);
        for arg in &self.args {
            label.push(' ');
            label.push_str(arg);
        }
        label
    }

    fn run(&self, dir: &Path, target_dir: &Path) -> Result<()> {
        let status = Command::new(&self.program)
            .args(&self.args)
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .env("CARGO_TARGET_DIR", target_dir)
            .current_dir(dir)
            .status()
            .with_context(|| format!("could not start `{}`", self.label()))?;
        if !status.success() {
            bail!("`{}` failed ({status})", self.label());
        }
        Ok(())
    }
}

fn cargo(args: &[&str]) -> Step {
    Step::new("cargo", args)
}

/// The checks a release must pass, in order: everything CI (`.ci/run`) runs, then the docs and the
/// packages. `--locked` makes sure `Cargo.lock`, as committed, is what gets built.
fn release_checks(spec: &Path) -> Vec<Step> {
    let spec = spec.display().to_string();
    let packages: Vec<&str> = PUBLISHABLE.iter().flat_map(|&p| ["-p", p]).collect();
    let mut checks = vec![
        cargo(&["fmt", "--all", "--check"]),
        cargo(&[
            "clippy",
            "--locked",
            "--workspace",
            "--all-targets",
            "--all-features",
            "--",
            "-D",
            "warnings",
        ]),
        cargo(&["xtask", "check-deps"]),
        cargo(&["test", "--locked", "--workspace", "--all-features"]),
        cargo(&["xtask", "codegen", "--check", "--spec", &spec]),
        cargo(&["xtask", "conformance", "--spec", &spec]),
    ];
    // What docs.rs builds: nightly rustdoc with `--cfg docsrs` (which turns on the `doc_cfg`
    // badges) and all features, each crate on its own (a binary crate's docs would collide with
    // the library of the same name), broken links and other rustdoc warnings refused.
    for package in PUBLISHABLE {
        checks.push(
            cargo(&[
                "+nightly",
                "doc",
                "--locked",
                "--no-deps",
                "--all-features",
                "-p",
                package,
            ])
            .env("RUSTDOCFLAGS", "--cfg docsrs -D warnings"),
        );
    }
    for package in PUBLISHABLE {
        checks.push(cargo(&["package", "--list", "-p", package]));
    }
    // `cargo publish --dry-run`, all crates in one invocation: cargo resolves acs-chat's
    // dependency on the not-yet-published acs-chat-protocol (and so on) from the set being
    // published (a temporary local registry), verifies each package by building it from its
    // `.crate` contents in dependency order, and checks what the registry would check, stopping
    // short of the upload.
    checks.push(cargo(
        &[["publish", "--dry-run"].as_slice(), &packages].concat(),
    ));
    checks
}

/// `cargo publish` for each crate, in the order they must be run.
fn publish_commands() -> Vec<String> {
    PUBLISHABLE
        .iter()
        .map(|p| format!("cargo publish -p {p}"))
        .collect()
}

/// Everything `release` needs; `run` fills it from the command line and the clock.
#[derive(Debug)]
struct Plan {
    version: String,
    /// `YYYY-MM-DD`.
    date: String,
    dry_run: bool,
    /// Crates (under `crates/`) that must inherit the workspace version.
    packages: Vec<String>,
    /// Run after the files are rewritten, before the release commit.
    prepare: Vec<Step>,
    /// Run on the release commit, before tagging.
    checks: Vec<Step>,
    /// The `CARGO_TARGET_DIR` for the steps.
    target_dir: PathBuf,
}

/// What `release` did.
#[derive(Debug)]
struct Outcome {
    version: Version,
    tag: String,
    dry_run: bool,
    /// The release commit (in the temporary clone only, for a dry run).
    commit: String,
    /// The temporary clone, already removed.
    staging: PathBuf,
}

/// The release itself, on the workspace at `root`; see the module documentation.
fn release(root: &Path, plan: &Plan) -> Result<Outcome> {
    println!("==> preflight in {}", root.display());
    let (top, prefix) = git::toplevel_and_prefix(root)?;
    git::ensure_clean(&top)?;
    let base = git::head(&top)?;

    let manifest_text = read(&root.join("Cargo.toml"))?;
    let current = manifest::current_version(&manifest_text).context("root Cargo.toml")?;
    let version = manifest::parse_new_version(&plan.version, &current)?;
    let tag = format!("v{version}");
    println!("    {current} -> {version}, released on {}", plan.date);

    let new_manifest =
        manifest::bump_manifest(&manifest_text, &version).context("root Cargo.toml")?;
    let internal = manifest::internal_dependencies(&manifest_text)?;
    let changelog_text = read(&root.join("CHANGELOG.md"))?;
    let new_changelog = changelog::rewrite_changelog(&changelog_text, &version, &plan.date)?;
    for package in &plan.packages {
        let path = root.join("crates").join(package).join("Cargo.toml");
        manifest::check_inherits_version(&read(&path)?)
            .with_context(|| format!("{}", path.display()))?;
    }
    if git::tag_exists(&top, &tag)? {
        bail!("the tag {tag} already exists");
    }
    let identity = git::identity(&top);

    let staging = staging_dir(&top)?;
    let result = stage(StageInput {
        staging: staging.path(),
        top: &top,
        prefix: &prefix,
        base: &base,
        plan,
        identity: &identity,
        version: &version,
        tag: &tag,
        files: &[
            ("Cargo.toml", &new_manifest),
            ("CHANGELOG.md", &new_changelog),
        ],
        internal: &internal,
    })
    .and_then(|commit| {
        if !plan.dry_run {
            apply(&top, staging.path(), &base, &commit, &tag)?;
        }
        Ok(commit)
    });
    let staging_path = staging.path().to_path_buf();
    // `TempDir` also removes it when dropped on an early return; `close` reports errors, which
    // must not hide the outcome of the release itself.
    match staging.close() {
        Ok(()) => println!("==> removed the temporary clone {}", staging_path.display()),
        Err(err) => eprintln!(
            "warning: cannot remove the temporary clone {}: {err}",
            staging_path.display()
        ),
    }
    let commit = result?;
    Ok(Outcome {
        version,
        tag,
        dry_run: plan.dry_run,
        commit,
        staging: staging_path,
    })
}

/// The temporary clone goes beside the repository when possible, so that paths relative to it
/// (`../shared`, as in CI) resolve the same way; otherwise in the system's temporary directory.
fn staging_dir(top: &Path) -> Result<tempfile::TempDir> {
    let mut builder = tempfile::Builder::new();
    builder.prefix(".acs-chat-release-");
    if let Some(parent) = top.parent()
        && let Ok(dir) = builder.tempdir_in(parent)
    {
        return Ok(dir);
    }
    builder
        .tempdir()
        .context("cannot create a temporary directory")
}

/// Step 3 of the module docs: bring the checked release commit and its tag into the real
/// repository, unless someone changed it meanwhile.
fn apply(top: &Path, staging: &Path, base: &str, commit: &str, tag: &str) -> Result<()> {
    println!("==> applying {tag} to {}", top.display());
    git::ensure_clean(top)
        .context("the working tree changed during the release; nothing was applied")?;
    let now = git::head(top)?;
    if now != base {
        bail!("HEAD moved from {base} to {now} during the release; nothing was applied");
    }
    if git::tag_exists(top, tag)? {
        bail!("the tag {tag} appeared during the release; nothing was applied");
    }
    git::fast_forward_from(top, staging, commit, tag)
}

struct StageInput<'a> {
    staging: &'a Path,
    top: &'a Path,
    prefix: &'a Path,
    base: &'a str,
    plan: &'a Plan,
    identity: &'a [String],
    version: &'a Version,
    tag: &'a str,
    files: &'a [(&'a str, &'a str)],
    internal: &'a [String],
}

/// Step 2 of the module docs, in the temporary clone; returns the release commit.
fn stage(input: StageInput<'_>) -> Result<String> {
    let repo = input.staging;
    println!(
        "==> cloning {} into {}",
        input.top.display(),
        repo.display()
    );
    git::clone(input.top, repo)?;
    if git::head(repo)? != input.base {
        bail!("the temporary clone is not at {}", input.base);
    }
    let root = repo.join(input.prefix);

    println!(
        "==> setting version {} in [workspace.package] and on {}",
        input.version,
        if input.internal.is_empty() {
            "no internal dependencies".to_owned()
        } else {
            input.internal.join(", ")
        }
    );
    println!(
        "==> moving `## Unreleased` of CHANGELOG.md under `## {} - {}`",
        input.version, input.plan.date
    );
    for (name, contents) in input.files {
        let path = root.join(name);
        std::fs::write(&path, contents)
            .with_context(|| format!("cannot write {}", path.display()))?;
    }
    run_steps(&input.plan.prepare, &root, &input.plan.target_dir)?;

    let message = format!("release {}", input.version);
    println!("==> git commit -m \"{message}\"");
    git::commit_tracked(repo, input.identity, &message)?;
    git::ensure_clean(repo).context("the release left files git does not track")?;

    forget_unpublished_sources(input.version, &input.plan.target_dir)?;
    run_steps(&input.plan.checks, &root, &input.plan.target_dir)?;
    git::ensure_clean(repo).context("the checks changed the release commit's files")?;

    println!("==> git tag {}", input.tag);
    git::tag(repo, input.identity, input.tag, &message)?;
    git::head(repo)
}

/// Removes what cargo extracted from its temporary local registries for the crates of this
/// release at `version`, and what it compiled from them. `cargo publish --dry-run` of several
/// crates serves the not-yet-published ones from such a registry
/// (`$CARGO_HOME/registry/src/-<hash>/`); cargo does not extract a `name-version` again once it
/// has, and does not look at a registry crate's files to decide whether its build is fresh (a
/// registry version is taken as immutable). A second dry run of the same version would build the
/// next crates against the first run's sources or artifacts, stale (seen: `acs-chat-cli` built
/// against an `acs-chat 0.1.0` from hours before, without the API it uses). Forgetting the
/// fingerprints of the release's crates under `target_dir` makes cargo rebuild them.
fn forget_unpublished_sources(version: &Version, target_dir: &Path) -> Result<()> {
    let home = std::env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cargo")));
    if let Some(home) = home
        && let Ok(registries) = std::fs::read_dir(home.join("registry").join("src"))
    {
        for registry in registries.flatten() {
            // Local registries are named `-<hash>`; crates.io's and other remote ones are not.
            if !registry.file_name().to_string_lossy().starts_with('-') {
                continue;
            }
            for package in PUBLISHABLE {
                remove_dir(&registry.path().join(format!("{package}-{version}")))?;
            }
        }
    }
    // `<target>/<profile>/.fingerprint/<package>-<hash>`
    let Ok(profiles) = std::fs::read_dir(target_dir) else {
        return Ok(());
    };
    let mut forgotten = 0;
    for profile in profiles.flatten() {
        let Ok(fingerprints) = std::fs::read_dir(profile.path().join(".fingerprint")) else {
            continue;
        };
        for fingerprint in fingerprints.flatten() {
            let name = fingerprint.file_name().to_string_lossy().into_owned();
            let is_ours = name.rsplit_once('-').is_some_and(|(package, hash)| {
                PUBLISHABLE.contains(&package) && hash.chars().all(|c| c.is_ascii_hexdigit())
            });
            if is_ours {
                let path = fingerprint.path();
                std::fs::remove_dir_all(&path)
                    .with_context(|| format!("cannot remove {}", path.display()))?;
                forgotten += 1;
            }
        }
    }
    println!("==> forgot {forgotten} build fingerprints of this release's crates");
    Ok(())
}

fn remove_dir(dir: &Path) -> Result<()> {
    if dir.exists() {
        println!("==> forgetting the stale {}", dir.display());
        std::fs::remove_dir_all(dir).with_context(|| format!("cannot remove {}", dir.display()))?;
    }
    Ok(())
}

fn run_steps(steps: &[Step], dir: &Path, target_dir: &Path) -> Result<()> {
    for step in steps {
        println!("==> {}", step.label());
        step.run(dir, target_dir)?;
    }
    Ok(())
}

fn read(path: &Path) -> Result<String> {
    std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))
}

#[cfg(test)]
mod tests;
