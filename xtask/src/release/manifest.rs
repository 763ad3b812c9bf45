//! Pure functions over `Cargo.toml` text: read the workspace version, check a requested version,
//! and bump it (keeping the file's formatting and comments, thanks to `toml_edit`).

use anyhow::{Context, Result, bail};
use semver::Version;
use toml_edit::{DocumentMut, Item, TableLike, Value};

/// The version in `[workspace.package]` of the root manifest.
pub(crate) fn current_version(root_manifest: &str) -> Result<Version> {
    let doc = parse(root_manifest)?;
    let raw = workspace_package(&doc)?
        .get("version")
        .and_then(Item::as_str)
        .context("`[workspace.package]` has no `version = \"...\"` string")?;
    Version::parse(raw).with_context(|| {
        format!("`[workspace.package] version = \"{raw}\"` is not a semver version")
    })
}

/// Checks the version asked for on the command line: it must be semver (no leading `v`, no build
/// metadata, which crates.io ignores when comparing versions) and greater than `current`.
pub(crate) fn parse_new_version(input: &str, current: &Version) -> Result<Version> {
    let new = Version::parse(input).map_err(|err| {
        let hint = match input.strip_prefix('v') {
            Some(rest) if Version::parse(rest).is_ok() => {
                format!(" (write `{rest}`, without the `v`)")
            }
            _ => String::new(),
        };
        anyhow::anyhow!("`{input}` is not a semver version: {err}{hint}")
    })?;
    if !new.build.is_empty() {
        bail!(
            "`{input}` has build metadata (`+{}`), which crates.io ignores; release a plain version",
            new.build
        );
    }
    if new <= *current {
        bail!("{new} is not greater than the current version {current}");
    }
    Ok(new)
}

/// Sets `[workspace.package] version` and the `version` of every internal entry of
/// `[workspace.dependencies]` (those with a `path`) to `new`; everything else is left byte for byte.
pub(crate) fn bump_manifest(root_manifest: &str, new: &Version) -> Result<String> {
    let mut doc = parse(root_manifest)?;
    let new = new.to_string();
    let workspace = doc
        .get_mut("workspace")
        .and_then(Item::as_table_like_mut)
        .context("the root Cargo.toml has no `[workspace]` table")?;

    let package = workspace
        .get_mut("package")
        .and_then(Item::as_table_like_mut)
        .context("the root Cargo.toml has no `[workspace.package]` table")?;
    let version = package
        .get_mut("version")
        .context("`[workspace.package]` has no `version`")?;
    set_string(version, &new).context("`[workspace.package] version`")?;

    if let Some(deps) = workspace
        .get_mut("dependencies")
        .and_then(Item::as_table_like_mut)
    {
        for (name, dep) in deps.iter_mut() {
            let Some(dep) = dep.as_table_like_mut() else {
                continue; // `name = "1"`: a registry dependency
            };
            if !dep.contains_key("path") {
                continue;
            }
            match dep.get_mut("version") {
                Some(version) => set_string(version, &new)
                    .with_context(|| format!("`[workspace.dependencies] {name}`"))?,
                None => {
                    dep.insert("version", Item::Value(Value::from(new.as_str())));
                    dep.fmt(); // `{ path = "x" , version = ".." }` otherwise
                }
            }
        }
    }
    Ok(doc.to_string())
}

/// The names of the internal (`path`) entries of `[workspace.dependencies]`.
pub(crate) fn internal_dependencies(root_manifest: &str) -> Result<Vec<String>> {
    let doc = parse(root_manifest)?;
    let Some(deps) = doc
        .get("workspace")
        .and_then(|ws| ws.get("dependencies"))
        .and_then(Item::as_table_like)
    else {
        return Ok(Vec::new());
    };
    Ok(deps
        .iter()
        .filter(|(_, dep)| dep.as_table_like().is_some_and(|t| t.contains_key("path")))
        .map(|(name, _)| name.to_owned())
        .collect())
}

/// Checks that a member manifest takes its version from the workspace (`version.workspace = true`),
/// so that setting `[workspace.package] version` releases it.
pub(crate) fn check_inherits_version(member_manifest: &str) -> Result<()> {
    let doc = parse(member_manifest)?;
    let inherits = doc
        .get("package")
        .and_then(|p| p.get("version"))
        .and_then(Item::as_table_like)
        .and_then(|v| v.get("workspace"))
        .and_then(Item::as_bool)
        == Some(true);
    if !inherits {
        bail!("`[package] version` must be `version.workspace = true`");
    }
    Ok(())
}

fn parse(text: &str) -> Result<DocumentMut> {
    text.parse::<DocumentMut>().context("not valid TOML")
}

fn workspace_package(doc: &DocumentMut) -> Result<&dyn TableLike> {
    doc.get("workspace")
        .and_then(|ws| ws.get("package"))
        .and_then(Item::as_table_like)
        .context("the root Cargo.toml has no `[workspace.package]` table")
}

/// Replaces a string value, keeping the whitespace and comments around it.
fn set_string(item: &mut Item, new: &str) -> Result<()> {
    let value = item
        .as_value_mut()
        .filter(|v| v.is_str())
        .context("`version` is not a string")?;
    let decor = value.decor().clone();
    *value = Value::from(new);
    *value.decor_mut() = decor;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const ROOT: &str = r#"[workspace]
members = ["crates/a", "crates/b"]

[workspace.package]
version = "0.1.0" # bumped by `cargo xtask release`
edition = "2024"

[workspace.dependencies]
# internal crates
a = { path = "crates/a", version = "0.1.0" }
b = { path = "crates/b",   version = "0.1.0", default-features = false }
c = { path = "crates/c" }
serde = { version = "0.1.0", features = ["derive"] }
anyhow = "0.1.0"

[workspace.dependencies.d]
path = "crates/d"
version = "0.1.0"
"#;

    fn v(s: &str) -> Version {
        Version::parse(s).unwrap()
    }

    #[test]
    fn reads_the_workspace_version() {
        assert_eq!(current_version(ROOT).unwrap(), v("0.1.0"));
    }

    #[test]
    fn missing_or_bad_workspace_version_is_an_error() {
        let err = current_version("[workspace]\n").unwrap_err();
        assert!(err.to_string().contains("[workspace.package]"), "{err}");
        let err = current_version("[workspace.package]\nversion = \"one\"\n").unwrap_err();
        assert!(err.to_string().contains("not a semver version"), "{err}");
        assert!(current_version("[workspace.package\n").is_err());
    }

    #[test]
    fn accepts_greater_versions() {
        let current = v("0.1.0");
        assert_eq!(parse_new_version("0.1.1", &current).unwrap(), v("0.1.1"));
        assert_eq!(parse_new_version("0.2.0", &current).unwrap(), v("0.2.0"));
        assert_eq!(
            parse_new_version("1.0.0-rc.1", &current).unwrap(),
            v("1.0.0-rc.1")
        );
        // A final release is greater than its own pre-releases.
        assert_eq!(
            parse_new_version("1.0.0", &v("1.0.0-rc.1")).unwrap(),
            v("1.0.0")
        );
    }

    #[test]
    fn refuses_non_semver() {
        for bad in ["", "0.2", "1", "latest", "0.2.0.1", " 0.2.0", "0.02.0"] {
            let err = parse_new_version(bad, &v("0.1.0")).unwrap_err();
            assert!(
                err.to_string().contains("is not a semver version"),
                "{bad}: {err}"
            );
        }
        let err = parse_new_version("v0.2.0", &v("0.1.0")).unwrap_err();
        assert!(err.to_string().contains("without the `v`"), "{err}");
        let err = parse_new_version("0.2.0+build.5", &v("0.1.0")).unwrap_err();
        assert!(err.to_string().contains("build metadata"), "{err}");
    }

    #[test]
    fn refuses_versions_not_greater() {
        for not_greater in ["0.1.0", "0.0.9", "0.1.0-rc.1"] {
            let err = parse_new_version(not_greater, &v("0.1.0")).unwrap_err();
            assert!(
                err.to_string()
                    .contains("is not greater than the current version 0.1.0"),
                "{not_greater}: {err}"
            );
        }
    }

    #[test]
    fn bumps_the_workspace_version_and_internal_dependencies_only() {
        let bumped = bump_manifest(ROOT, &v("0.2.0")).unwrap();
        let expected = r#"[workspace]
members = ["crates/a", "crates/b"]

[workspace.package]
version = "0.2.0" # bumped by `cargo xtask release`
edition = "2024"

[workspace.dependencies]
# internal crates
a = { path = "crates/a", version = "0.2.0" }
b = { path = "crates/b",   version = "0.2.0", default-features = false }
c = { path = "crates/c", version = "0.2.0" }
serde = { version = "0.1.0", features = ["derive"] }
anyhow = "0.1.0"

[workspace.dependencies.d]
path = "crates/d"
version = "0.2.0"
"#;
        assert_eq!(bumped, expected);
        assert_eq!(current_version(&bumped).unwrap(), v("0.2.0"));
        // Bumping is idempotent and only touches what it must.
        assert_eq!(bump_manifest(&bumped, &v("0.2.0")).unwrap(), bumped);
    }

    #[test]
    fn bump_needs_a_workspace_package_version() {
        let err = bump_manifest("[workspace]\nmembers = []\n", &v("0.2.0")).unwrap_err();
        assert!(err.to_string().contains("[workspace.package]"), "{err}");
        let err = bump_manifest("[workspace.package]\nversion = 1\n", &v("0.2.0")).unwrap_err();
        assert!(format!("{err:#}").contains("not a string"), "{err:#}");
    }

    #[test]
    fn lists_internal_dependencies() {
        assert_eq!(internal_dependencies(ROOT).unwrap(), ["a", "b", "c", "d"]);
        assert!(internal_dependencies("[workspace]\n").unwrap().is_empty());
    }

    #[test]
    fn members_must_inherit_the_version() {
        check_inherits_version("[package]\nname = \"a\"\nversion.workspace = true\n").unwrap();
        check_inherits_version("[package]\nname = \"a\"\nversion = { workspace = true }\n")
            .unwrap();
        let err =
            check_inherits_version("[package]\nname = \"a\"\nversion = \"0.1.0\"\n").unwrap_err();
        assert!(
            err.to_string().contains("version.workspace = true"),
            "{err}"
        );
        assert!(check_inherits_version("[package]\nname = \"a\"\n").is_err());
    }
}
