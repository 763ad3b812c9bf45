//! `cargo xtask codegen` (not built yet).

pub(crate) fn run(_args: &[String]) -> anyhow::Result<()> {
    anyhow::bail!("`cargo xtask codegen` is not built yet")
}
