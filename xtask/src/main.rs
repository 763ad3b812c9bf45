//! Maintainer tasks for the acs-chat workspace, run as `cargo xtask <task>`.
//!
//! - `codegen --spec <dir> [--check]`: regenerate the protocol models from the official spec.
//! - `conformance --spec <dir>`: run every x-ms-example through `acs-chat-protocol`.
//! - `check-deps`: assert the dependency invariants (sans-IO protocol, hyper-free client without defaults).
//! - `bench [--quick]`: run the benchmarks and write `BENCHMARKS.md`.
//! - `interop [--keep]`: run the official Python and JavaScript SDKs against the emulator.
//! - `release <version> [--dry-run]`: cut a release.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

mod bench;
mod check_deps;
mod codegen;
#[cfg(feature = "conformance")]
mod conformance;
mod interop;
mod release;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some((task, rest)) = args.split_first() else {
        eprintln!("{USAGE}");
        return ExitCode::from(2);
    };
    let result = match task.as_str() {
        "codegen" => codegen::run(rest),
        #[cfg(feature = "conformance")]
        "conformance" => conformance::run(rest),
        "check-deps" => check_deps::run(rest),
        "bench" => bench::run(rest),
        "interop" => interop::run(rest),
        "release" => release::run(rest),
        "-h" | "--help" | "help" => {
            println!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        other => {
            eprintln!("unknown task `{other}`\n\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {err:#}");
            ExitCode::FAILURE
        }
    }
}

const USAGE: &str = "usage: cargo xtask <task>
  codegen --spec <dir> [--check]   generate acs-chat-protocol models from the spec
  conformance --spec <dir>         run every x-ms-example through acs-chat-protocol
  check-deps                       check the dependency invariants
  bench [--quick]                  run benchmarks, write BENCHMARKS.md
  interop [--keep]                 run the official Python and JS SDKs against the emulator
  release <version> [--dry-run]    cut a release (never pushes or publishes)";

/// The workspace root (the parent of `xtask/`).
pub(crate) fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask lives one level below the workspace root")
        .to_path_buf()
}

/// Cargo's target directory for the workspace at `root`: `CARGO_TARGET_DIR` (relative to `root`
/// when relative, as cargo reads it) or `root/target`.
pub(crate) fn target_dir(root: &Path) -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .map(|t| if t.is_relative() { root.join(t) } else { t })
        .unwrap_or_else(|| root.join("target"))
}

/// Reads and parses a JSON file.
pub(crate) fn read_json(path: &Path) -> anyhow::Result<serde_json::Value> {
    use anyhow::Context as _;
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    serde_json::from_str(&text).with_context(|| format!("parsing {}", path.display()))
}

/// Reads `--name value` from an argument list.
pub(crate) fn flag_value<'a>(args: &'a [String], name: &str) -> Option<&'a str> {
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .map(String::as_str)
}

/// Whether `--name` is present.
pub(crate) fn has_flag(args: &[String], name: &str) -> bool {
    args.iter().any(|a| a == name)
}
