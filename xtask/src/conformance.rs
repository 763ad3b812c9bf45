//! `cargo xtask conformance` (not built yet).

pub(crate) fn run(_args: &[String]) -> anyhow::Result<()> {
    anyhow::bail!("`cargo xtask conformance` is not built yet")
}
