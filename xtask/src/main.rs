//! Maintainer tasks: codegen, conformance, bench, release.
fn main() {}
