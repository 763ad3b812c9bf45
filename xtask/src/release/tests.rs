//! Tests of the release command: argument parsing, the check list, and whole releases on temporary
//! git repositories (with the cargo steps replaced by small shell commands).

use std::fs;
use std::path::{Path, PathBuf};

use tempfile::TempDir;

use super::*;

fn strings(args: &[&str]) -> Vec<String> {
    args.iter().map(|&a| a.to_owned()).collect()
}

#[test]
fn parses_arguments() {
    let args = Args::parse(&strings(&["0.2.0", "--dry-run", "--date", "2026-11-23"]))
        .unwrap()
        .unwrap();
    assert_eq!(
        args,
        Args {
            version: "0.2.0".to_owned(),
            dry_run: true,
            date: Some("2026-11-23".to_owned()),
            spec: None,
        }
    );
    let args = Args::parse(&strings(&["--spec", "../spec", "1.0.0"]))
        .unwrap()
        .unwrap();
    assert_eq!(args.version, "1.0.0");
    assert_eq!(args.spec, Some(PathBuf::from("../spec")));
    assert!(!args.dry_run);
    assert!(Args::parse(&strings(&["--help"])).unwrap().is_none());
}

#[test]
fn refuses_bad_arguments() {
    for (args, message) in [
        (&[][..], "missing <version>"),
        (&["--dry-run"][..], "missing <version>"),
        (&["0.2.0", "0.3.0"][..], "expected one version"),
        (&["0.2.0", "--push"][..], "unknown option `--push`"),
        (&["0.2.0", "--date"][..], "--date needs a value"),
    ] {
        let err = Args::parse(&strings(args)).unwrap_err();
        assert!(err.to_string().contains(message), "{args:?}: {err}");
    }
}

#[test]
fn dates_are_yyyy_mm_dd() {
    let date = parse_date("2026-02-03").unwrap();
    assert_eq!(format_date(date).unwrap(), "2026-02-03");
    for bad in ["2026-2-3", "2026-02-30", "03/02/2026", "today", ""] {
        let err = parse_date(bad).unwrap_err();
        assert!(
            err.to_string().contains("is not a YYYY-MM-DD date"),
            "{bad}: {err}"
        );
    }
}

fn docs(package: &str) -> String {
    format!(
        "RUSTDOCFLAGS=\"--cfg docsrs -D warnings\" cargo +nightly doc --locked --no-deps \
         --all-features -p {package}"
    )
}

#[test]
fn checks_run_in_release_order() {
    let labels: Vec<String> = release_checks(Path::new("/spec"))
        .iter()
        .map(Step::label)
        .collect();
    let all = "-p acs-chat-protocol -p acs-chat-events -p acs-chat-transport -p acs-chat -p acs-chat-emulator -p acs-chat-cli";
    assert_eq!(
        labels,
        [
            "cargo fmt --all --check".to_owned(),
            "cargo clippy --locked --workspace --all-targets --all-features -- -D warnings"
                .to_owned(),
            "cargo xtask check-deps".to_owned(),
            "cargo test --locked --workspace --all-features".to_owned(),
            "cargo xtask codegen --check --spec /spec".to_owned(),
            "cargo xtask conformance --spec /spec".to_owned(),
            docs("acs-chat-protocol"),
            docs("acs-chat-events"),
            docs("acs-chat-transport"),
            docs("acs-chat"),
            docs("acs-chat-emulator"),
            docs("acs-chat-cli"),
            "cargo package --list -p acs-chat-protocol".to_owned(),
            "cargo package --list -p acs-chat-events".to_owned(),
            "cargo package --list -p acs-chat-transport".to_owned(),
            "cargo package --list -p acs-chat".to_owned(),
            "cargo package --list -p acs-chat-emulator".to_owned(),
            "cargo package --list -p acs-chat-cli".to_owned(),
            format!("cargo publish --dry-run {all}"),
        ]
    );
}

/// Every publishable crate comes after the workspace crates it depends on, as its real manifest
/// says; otherwise `cargo publish` in this order would fail on a crate not yet on crates.io.
#[test]
fn publish_commands_follow_dependency_order() {
    use toml_edit::{DocumentMut, Item};

    let root = crate::workspace_root();
    for (i, package) in PUBLISHABLE.iter().enumerate() {
        let path = root.join("crates").join(package).join("Cargo.toml");
        let doc: DocumentMut = read(&path).unwrap().parse().unwrap();
        let targets = doc
            .get("target")
            .and_then(Item::as_table_like)
            .into_iter()
            .flat_map(|t| t.iter().map(|(_, item)| item));
        for tables in std::iter::once(doc.as_item()).chain(targets) {
            for kind in ["dependencies", "build-dependencies"] {
                let deps = tables.get(kind).and_then(Item::as_table_like);
                for (dep, _) in deps.into_iter().flat_map(|d| d.iter()) {
                    if let Some(j) = PUBLISHABLE.iter().position(|&p| p == dep) {
                        assert!(j < i, "{package} depends on {dep}, published after it");
                    }
                }
            }
        }
    }
    assert_eq!(
        publish_commands(),
        [
            "cargo publish -p acs-chat-protocol",
            "cargo publish -p acs-chat-events",
            "cargo publish -p acs-chat-transport",
            "cargo publish -p acs-chat",
            "cargo publish -p acs-chat-emulator",
            "cargo publish -p acs-chat-cli",
        ]
    );
}

/// The real workspace's manifests are in the shape `release` expects.
#[test]
fn the_real_workspace_is_releasable() {
    let root = crate::workspace_root();
    let manifest_text = read(&root.join("Cargo.toml")).unwrap();
    let current = manifest::current_version(&manifest_text).unwrap();
    let next = Version::new(current.major, current.minor + 1, 0);
    let bumped = manifest::bump_manifest(&manifest_text, &next).unwrap();
    assert_eq!(manifest::current_version(&bumped).unwrap(), next);
    let internal = manifest::internal_dependencies(&manifest_text).unwrap();
    for package in PUBLISHABLE {
        let path = root.join("crates").join(package).join("Cargo.toml");
        manifest::check_inherits_version(&read(&path).unwrap()).unwrap();
        if package != "acs-chat-cli" {
            assert!(internal.iter().any(|d| d == package), "{package}");
        }
    }
}

const MANIFEST: &str = r#"[workspace]
resolver = "3"
members = ["crates/demo"]

[workspace.package]
version = "0.1.0"
edition = "2024"

[workspace.dependencies]
demo = { path = "crates/demo", version = "0.1.0" }
"#;

const DEMO: &str = r#"[package]
name = "demo"
version.workspace = true
edition.workspace = true
"#;

const CHANGELOG: &str = "# Changelog

## Unreleased

### Added
- Everything.

## 0.1.0 - 2026-01-02

### Added
- The start.
";

/// A workspace in a fresh git repository, with one commit.
struct Fixture {
    dir: TempDir,
    /// The workspace root: the repository root, or a directory inside it.
    root: PathBuf,
}

impl Fixture {
    fn new() -> Self {
        Self::in_subdirectory("")
    }

    fn in_subdirectory(sub: &str) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join(sub);
        fs::create_dir_all(root.join("crates/demo/src")).unwrap();
        fs::write(root.join("Cargo.toml"), MANIFEST).unwrap();
        fs::write(root.join("crates/demo/Cargo.toml"), DEMO).unwrap();
        fs::write(root.join("crates/demo/src/lib.rs"), "//! Demo.\n").unwrap();
        fs::write(root.join("CHANGELOG.md"), CHANGELOG).unwrap();
        fs::write(dir.path().join(".gitignore"), "target/\n").unwrap();
        let fixture = Self { dir, root };
        fixture.git(&["init", "--quiet", "--initial-branch=main"]);
        fixture.git(&["config", "user.name", "Release Tester"]);
        fixture.git(&["config", "user.email", "tester@example.com"]);
        fixture.git(&["config", "commit.gpgsign", "false"]);
        fixture.git(&["config", "tag.gpgsign", "false"]);
        fixture.commit_all("initial");
        fixture
    }

    fn git(&self, args: &[&str]) -> String {
        git::git(self.dir.path(), args).unwrap()
    }

    fn commit_all(&self, message: &str) {
        self.git(&["add", "--all"]);
        self.git(&["commit", "--quiet", "--message", message]);
    }

    fn write(&self, name: &str, contents: &str) {
        fs::write(self.root.join(name), contents).unwrap();
    }

    fn read(&self, name: &str) -> String {
        fs::read_to_string(self.root.join(name)).unwrap()
    }

    /// Everything a release could change.
    fn snapshot(&self) -> (String, String, String, String, String) {
        (
            self.git(&["rev-parse", "HEAD"]),
            self.git(&["status", "--porcelain", "--untracked-files=all"]),
            self.git(&["tag", "--list"]),
            self.read("Cargo.toml"),
            self.read("CHANGELOG.md"),
        )
    }

    fn plan(&self, version: &str, dry_run: bool) -> Plan {
        Plan {
            version: version.to_owned(),
            date: "2026-11-23".to_owned(),
            dry_run,
            packages: vec!["demo".to_owned()],
            prepare: Vec::new(),
            checks: Vec::new(),
            target_dir: self.dir.path().join("target"),
        }
    }
}

fn sh(script: &str) -> Step {
    Step::new("sh", &["-c", script])
}

fn expect_refusal(fixture: &Fixture, plan: &Plan, message: &str) {
    let before = fixture.snapshot();
    let err = release(&fixture.root, plan).unwrap_err();
    assert!(format!("{err:#}").contains(message), "{err:#}");
    assert_eq!(
        fixture.snapshot(),
        before,
        "a refused release changed something"
    );
}

#[test]
fn dry_run_does_everything_in_a_temporary_clone_and_changes_nothing() {
    let fixture = Fixture::new();
    let before = fixture.snapshot();
    let mut plan = fixture.plan("0.2.0", true);
    // The steps run in the clone, on the rewritten files, and the checks on the release commit.
    let root = fixture.root.display().to_string();
    plan.prepare = vec![sh(&format!(
        r#"test "$PWD" != "{root}" && grep -q '^version = "0.2.0"' Cargo.toml \
           && grep -q '^## 0.2.0 - 2026-11-23$' CHANGELOG.md && test -n "$CARGO_TARGET_DIR""#
    ))];
    plan.checks = vec![sh(
        r#"test "$(git log -1 --format=%s)" = "release 0.2.0" && test -z "$(git status --porcelain)""#,
    )];

    let outcome = release(&fixture.root, &plan).unwrap();

    assert!(outcome.dry_run);
    assert_eq!(outcome.version, Version::new(0, 2, 0));
    assert_eq!(outcome.tag, "v0.2.0");
    assert_ne!(outcome.commit, before.0);
    assert!(
        !outcome.staging.exists(),
        "the temporary clone was not removed"
    );
    assert_eq!(fixture.snapshot(), before);
}

#[test]
fn release_commits_and_tags_without_pushing() {
    let fixture = Fixture::new();
    let base = fixture.git(&["rev-parse", "HEAD"]);

    let outcome = release(&fixture.root, &fixture.plan("0.2.0", false)).unwrap();

    assert!(
        !outcome.staging.exists(),
        "the temporary clone was not removed"
    );
    assert_eq!(fixture.git(&["rev-parse", "HEAD"]), outcome.commit);
    assert_eq!(fixture.git(&["rev-parse", "HEAD^"]), base);
    assert_eq!(fixture.git(&["log", "-1", "--format=%s"]), "release 0.2.0");
    assert_eq!(
        fixture.git(&["log", "-1", "--format=%an <%ae>"]),
        "Release Tester <tester@example.com>"
    );
    assert_eq!(
        fixture.git(&["rev-parse", "v0.2.0^{commit}"]),
        outcome.commit
    );
    assert_eq!(fixture.git(&["cat-file", "-t", "v0.2.0"]), "tag");
    assert_eq!(fixture.git(&["status", "--porcelain"]), "");
    assert_eq!(fixture.git(&["remote"]), "", "no remote was added");
    assert_eq!(
        fixture.git(&["diff", "--name-only", "HEAD^", "HEAD"]),
        "CHANGELOG.md\nCargo.toml"
    );
    assert_eq!(
        fixture.read("Cargo.toml"),
        MANIFEST.replace("0.1.0", "0.2.0")
    );
    assert!(
        fixture
            .read("CHANGELOG.md")
            .starts_with("# Changelog\n\n## Unreleased\n\n## 0.2.0 - 2026-11-23\n\n### Added\n- Everything.\n\n## 0.1.0")
    );

    // The next release needs new Unreleased entries.
    expect_refusal(
        &fixture,
        &fixture.plan("0.3.0", false),
        "`## Unreleased` section of CHANGELOG.md is empty",
    );
}

#[test]
fn works_when_the_workspace_is_inside_the_repository() {
    let fixture = Fixture::in_subdirectory("rust/sdk");
    release(&fixture.root, &fixture.plan("1.0.0-rc.1", false)).unwrap();
    assert_eq!(
        fixture.git(&["log", "-1", "--format=%s"]),
        "release 1.0.0-rc.1"
    );
    assert!(
        fixture
            .read("Cargo.toml")
            .contains("version = \"1.0.0-rc.1\"")
    );
}

#[test]
fn a_failing_check_changes_nothing() {
    let fixture = Fixture::new();
    let mut plan = fixture.plan("0.2.0", false);
    plan.checks = vec![
        sh("true"),
        sh("echo 'simulated clippy failure' >&2; exit 3"),
    ];
    expect_refusal(&fixture, &plan, "simulated clippy failure");
    let err = release(&fixture.root, &plan).unwrap_err();
    assert!(err.to_string().contains("failed (exit status: 3)"), "{err}");
}

#[test]
fn nothing_is_applied_when_the_repository_moved_during_the_checks() {
    let fixture = Fixture::new();
    let root = fixture.root.display();
    let mut plan = fixture.plan("0.2.0", false);
    plan.checks = vec![sh(&format!(
        "git -C '{root}' commit --quiet --allow-empty --message 'meanwhile'"
    ))];
    let err = release(&fixture.root, &plan).unwrap_err();
    assert!(
        err.to_string()
            .contains("during the release; nothing was applied"),
        "{err}"
    );
    assert_eq!(fixture.git(&["log", "-1", "--format=%s"]), "meanwhile");
    assert_eq!(fixture.git(&["tag", "--list"]), "");
    assert_eq!(fixture.read("Cargo.toml"), MANIFEST);

    let fixture = Fixture::new();
    let before = fixture.snapshot();
    let root = fixture.root.display();
    plan.checks = vec![sh(&format!("echo edit >> '{root}/CHANGELOG.md'"))];
    let err = release(&fixture.root, &plan).unwrap_err();
    assert!(
        format!("{err:#}").contains("the working tree changed during the release"),
        "{err:#}"
    );
    let after = fixture.snapshot();
    assert_eq!(
        (&after.0, &after.2, &after.3),
        (&before.0, &before.2, &before.3)
    );
}

#[test]
fn a_check_changing_files_fails_the_release() {
    let fixture = Fixture::new();
    let mut plan = fixture.plan("0.2.0", false);
    plan.checks = vec![sh("echo '// reformatted' >> crates/demo/src/lib.rs")];
    expect_refusal(
        &fixture,
        &plan,
        "the checks changed the release commit's files",
    );
}

#[test]
fn a_step_leaving_untracked_files_fails_the_release() {
    let fixture = Fixture::new();
    let mut plan = fixture.plan("0.2.0", false);
    plan.prepare = vec![sh("touch stray.txt")];
    expect_refusal(&fixture, &plan, "the release left files git does not track");
}

#[test]
fn refuses_a_dirty_working_tree() {
    let fixture = Fixture::new();
    fixture.write("CHANGELOG.md", &format!("{CHANGELOG}\n- uncommitted\n"));
    expect_refusal(&fixture, &fixture.plan("0.2.0", true), "is not clean");
    expect_refusal(&fixture, &fixture.plan("0.2.0", false), "CHANGELOG.md");

    let fixture = Fixture::new();
    fixture.write("notes.txt", "untracked\n");
    expect_refusal(&fixture, &fixture.plan("0.2.0", true), "?? notes.txt");

    let fixture = Fixture::new();
    fixture.write("Cargo.toml", &MANIFEST.replace("2024", "2021"));
    fixture.git(&["add", "Cargo.toml"]);
    expect_refusal(&fixture, &fixture.plan("0.2.0", false), "M  Cargo.toml");
}

#[test]
fn refuses_a_version_that_is_not_semver() {
    let fixture = Fixture::new();
    for version in ["0.2", "v0.2.0", "next"] {
        expect_refusal(
            &fixture,
            &fixture.plan(version, false),
            "is not a semver version",
        );
    }
}

#[test]
fn refuses_a_version_that_is_not_greater() {
    let fixture = Fixture::new();
    for version in ["0.1.0", "0.0.1", "0.1.0-alpha.1"] {
        expect_refusal(
            &fixture,
            &fixture.plan(version, true),
            "is not greater than the current version 0.1.0",
        );
    }
}

#[test]
fn refuses_an_empty_unreleased_section() {
    let fixture = Fixture::new();
    fixture.write(
        "CHANGELOG.md",
        "# Changelog\n\n## Unreleased\n\n### Added\n\n## 0.1.0 - 2026-01-02\n- The start.\n",
    );
    fixture.commit_all("empty unreleased");
    expect_refusal(
        &fixture,
        &fixture.plan("0.2.0", false),
        "`## Unreleased` section of CHANGELOG.md is empty",
    );
}

#[test]
fn refuses_an_existing_tag() {
    let fixture = Fixture::new();
    fixture.git(&["tag", "v0.2.0"]);
    expect_refusal(
        &fixture,
        &fixture.plan("0.2.0", false),
        "the tag v0.2.0 already exists",
    );
}

#[test]
fn refuses_a_crate_with_its_own_version() {
    let fixture = Fixture::new();
    fixture.write(
        "crates/demo/Cargo.toml",
        &DEMO.replace("version.workspace = true", "version = \"0.1.0\""),
    );
    fixture.commit_all("own version");
    expect_refusal(
        &fixture,
        &fixture.plan("0.2.0", false),
        "must be `version.workspace = true`",
    );
}

#[test]
fn refuses_outside_a_git_repository() {
    let dir = tempfile::tempdir().unwrap();
    fs::write(dir.path().join("Cargo.toml"), MANIFEST).unwrap();
    let plan = Plan {
        version: "0.2.0".to_owned(),
        date: "2026-11-23".to_owned(),
        dry_run: true,
        packages: Vec::new(),
        prepare: Vec::new(),
        checks: Vec::new(),
        target_dir: dir.path().join("target"),
    };
    let err = release(dir.path(), &plan).unwrap_err();
    assert!(
        format!("{err:#}").contains("is not inside a git repository"),
        "{err:#}"
    );
}

/// What crates.io and docs.rs need from every publishable crate, and `publish = false` elsewhere.
#[test]
fn the_real_crates_carry_publish_metadata() {
    use toml_edit::{DocumentMut, Item};

    let root = crate::workspace_root();
    let workspace: DocumentMut = read(&root.join("Cargo.toml")).unwrap().parse().unwrap();
    let inherited = &workspace["workspace"]["package"];
    assert_eq!(inherited["license"].as_str(), Some("MIT"));
    assert_eq!(inherited["rust-version"].as_str(), Some("1.95"));
    assert!(inherited["repository"].as_str().is_some());

    for package in PUBLISHABLE {
        let path = root.join("crates").join(package).join("Cargo.toml");
        let doc: DocumentMut = read(&path).unwrap().parse().unwrap();
        let manifest = &doc["package"];
        let has = |key: &str| match &manifest[key] {
            Item::None => false,
            // `key.workspace = true` needs the workspace to define it.
            item if item.get("workspace").is_some() => !inherited[key].is_none(),
            _ => true,
        };
        for key in [
            "description",
            "license",
            "repository",
            "readme",
            "keywords",
            "categories",
            "rust-version",
        ] {
            assert!(has(key), "{package}: missing `{key}`");
        }
        assert!(
            manifest.get("publish").is_none(),
            "{package} must be publishable"
        );
        let readme = manifest["readme"].as_str().unwrap();
        assert!(
            path.with_file_name(readme).is_file(),
            "{package}: no {readme}"
        );
        let docs_rs = &manifest["metadata"]["docs"]["rs"];
        assert_eq!(docs_rs["all-features"].as_bool(), Some(true), "{package}");
        let rustdoc_args: Vec<&str> = docs_rs["rustdoc-args"]
            .as_array()
            .unwrap_or_else(|| panic!("{package}: no docs.rs rustdoc-args"))
            .iter()
            .filter_map(|a| a.as_str())
            .collect();
        assert_eq!(rustdoc_args, ["--cfg", "docsrs"], "{package}");
    }
    for private in ["xtask", "tests"] {
        let doc: DocumentMut = read(&root.join(private).join("Cargo.toml"))
            .unwrap()
            .parse()
            .unwrap();
        assert_eq!(
            doc["package"]["publish"].as_bool(),
            Some(false),
            "{private}"
        );
    }
}
