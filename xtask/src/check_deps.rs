//! `cargo xtask check-deps`: the dependency invariants of the layers.
//!
//! - `acs-chat-protocol` is sans-IO: its normal dependency tree has no tokio, hyper, mio, socket2 or
//!   rustls; neither has `acs-chat-events` (the events layer is sans-IO too).
//! - `acs-chat` without default features compiles no async runtime and no HTTP stack: no tokio,
//!   mio, hyper, h2, hyper-util, hyper-rustls or rustls (bring your own transport and runtime; the
//!   Azure SDK guidelines' "never depend unconditionally on one async runtime").

use std::process::Command;

use anyhow::{Context, bail};

pub(crate) fn run(_args: &[String]) -> anyhow::Result<()> {
    check(
        &["-p", "acs-chat-protocol", "-e", "normal"],
        &["tokio", "hyper", "mio", "socket2", "rustls"],
    )?;
    check(
        &["-p", "acs-chat-events", "-e", "normal"],
        &["tokio", "hyper", "mio", "socket2", "rustls"],
    )?;
    check(
        &["-p", "acs-chat", "--no-default-features", "-e", "normal"],
        &[
            "tokio",
            "mio",
            "hyper",
            "h2",
            "hyper-util",
            "hyper-rustls",
            "rustls",
        ],
    )?;
    Ok(())
}

fn check(tree_args: &[&str], forbidden: &[&str]) -> anyhow::Result<()> {
    let output = Command::new(env!("CARGO"))
        .arg("tree")
        .args(tree_args)
        .args(["--prefix", "none", "--format", "{p}"])
        .current_dir(crate::workspace_root())
        .output()
        .context("running cargo tree")?;
    if !output.status.success() {
        bail!(
            "cargo tree {} failed:\n{}",
            tree_args.join(" "),
            String::from_utf8_lossy(&output.stderr)
        );
    }
    let tree = String::from_utf8_lossy(&output.stdout);
    let mut crates: Vec<&str> = tree
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .collect();
    crates.sort_unstable();
    crates.dedup();
    let found: Vec<&str> = crates
        .iter()
        .copied()
        .filter(|c| forbidden.contains(c))
        .collect();
    if !found.is_empty() {
        bail!(
            "`cargo tree {}` contains forbidden crates: {}",
            tree_args.join(" "),
            found.join(", ")
        );
    }
    println!(
        "ok: `cargo tree {}` ({} crates) has none of {}",
        tree_args.join(" "),
        crates.len(),
        forbidden.join(", ")
    );
    Ok(())
}
