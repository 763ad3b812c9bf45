//! Thin wrappers over the `git` command line. Nothing here pushes.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail};

/// Runs `git -C <dir> <args>` and returns its trimmed standard output; fails with git's stderr.
pub(crate) fn git(dir: &Path, args: &[&str]) -> Result<String> {
    let output = Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(args)
        .output()
        .context("could not run `git`; is it installed?")?;
    if !output.status.success() {
        bail!(
            "`git {}` in {} failed ({}): {}",
            args.join(" "),
            dir.display(),
            output.status,
            String::from_utf8_lossy(&output.stderr).trim()
        );
    }
    Ok(String::from_utf8_lossy(&output.stdout).trim().to_owned())
}

/// The top of the repository holding `dir`, and `dir`'s path inside it (empty at the top).
pub(crate) fn toplevel_and_prefix(dir: &Path) -> Result<(PathBuf, PathBuf)> {
    let top = git(dir, &["rev-parse", "--show-toplevel"])
        .with_context(|| format!("{} is not inside a git repository", dir.display()))?;
    let prefix = git(dir, &["rev-parse", "--show-prefix"])?;
    Ok((PathBuf::from(top), PathBuf::from(prefix)))
}

/// Fails unless `git status` shows nothing: no modified, staged or untracked (non-ignored) files.
pub(crate) fn ensure_clean(dir: &Path) -> Result<()> {
    let status = git(dir, &["status", "--porcelain", "--untracked-files=all"])?;
    if !status.is_empty() {
        bail!(
            "the working tree at {} is not clean; commit or stash these changes first:\n{status}",
            dir.display()
        );
    }
    Ok(())
}

/// The commit id of `HEAD`.
pub(crate) fn head(dir: &Path) -> Result<String> {
    git(dir, &["rev-parse", "--verify", "HEAD^{commit}"])
}

/// Whether the tag exists.
pub(crate) fn tag_exists(dir: &Path, tag: &str) -> Result<bool> {
    let output = Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(["rev-parse", "--quiet", "--verify"])
        .arg(format!("refs/tags/{tag}"))
        .output()
        .context("could not run `git`; is it installed?")?;
    Ok(output.status.success())
}

/// `-c user.name=... -c user.email=...` from `dir`'s effective configuration (a clone does not
/// inherit the repository-local identity of its origin).
pub(crate) fn identity(dir: &Path) -> Vec<String> {
    ["user.name", "user.email"]
        .into_iter()
        .filter_map(|key| {
            let value = git(dir, &["config", "--get", key]).ok()?;
            (!value.is_empty()).then(|| format!("{key}={value}"))
        })
        .flat_map(|kv| ["-c".to_owned(), kv])
        .collect()
}

/// `git clone --quiet <from> <to>`; `to` must be missing or empty.
pub(crate) fn clone(from: &Path, to: &Path) -> Result<()> {
    let output = Command::new("git")
        .args(["clone", "--quiet", "--no-hardlinks"])
        .arg(from)
        .arg(to)
        .output()
        .context("could not run `git`; is it installed?")?;
    if !output.status.success() {
        bail!(
            "`git clone {} {}` failed: {}",
            from.display(),
            to.display(),
            String::from_utf8_lossy(&output.stderr).trim()
        );
    }
    Ok(())
}

/// Commits every change to tracked files with `message`, as `identity`.
pub(crate) fn commit_tracked(dir: &Path, identity: &[String], message: &str) -> Result<()> {
    git(dir, &["add", "--update"])?;
    let mut args: Vec<&str> = identity.iter().map(String::as_str).collect();
    args.extend(["commit", "--quiet", "--message", message]);
    git(dir, &args)?;
    Ok(())
}

/// Creates the annotated tag `tag` on `HEAD`.
pub(crate) fn tag(dir: &Path, identity: &[String], tag: &str, message: &str) -> Result<()> {
    let mut args: Vec<&str> = identity.iter().map(String::as_str).collect();
    args.extend(["tag", "--annotate", tag, "--message", message]);
    git(dir, &args)?;
    Ok(())
}

/// Brings the commit `HEAD` of the repository at `from` (a descendant of `dir`'s `HEAD`) and the
/// tag `tag` into `dir`: fetch, then fast-forward only.
pub(crate) fn fast_forward_from(dir: &Path, from: &Path, commit: &str, tag: &str) -> Result<()> {
    let from = from
        .to_str()
        .context("the temporary repository's path is not UTF-8")?;
    git(dir, &["fetch", "--quiet", "--no-tags", from, "HEAD"])?;
    let fetched = git(dir, &["rev-parse", "--verify", "FETCH_HEAD^{commit}"])?;
    if fetched != commit {
        bail!("fetched {fetched} from {from}, expected the release commit {commit}");
    }
    git(dir, &["merge", "--quiet", "--ff-only", commit])?;
    let refspec = format!("refs/tags/{tag}:refs/tags/{tag}");
    git(dir, &["fetch", "--quiet", "--no-tags", from, &refspec])?;
    Ok(())
}
