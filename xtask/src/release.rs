//! `cargo xtask release` (not built yet).

pub(crate) fn run(_args: &[String]) -> anyhow::Result<()> {
    anyhow::bail!("`cargo xtask release` is not built yet")
}
