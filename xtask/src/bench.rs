//! `cargo xtask bench [--quick]`: runs the benchmarks and writes `BENCHMARKS.md`.
//!
//! 1. Protocol (criterion, `crates/acs-chat-protocol/benches/protocol.rs`): building a send-message
//!    request; parsing a page of 200 messages and one of 20, each next to `serde_json` into a
//!    plain struct of the same shape, in the same run. Reported as MB/s and our/baseline.
//! 2. to 4. Client overhead against raw hyper, paging memory and the emulator: the
//!    `acs-chat-bench` binary (`benches/`), which prints its Markdown section.
//!
//! 6. Syscalls and instructions per request (`strace -c`, callgrind; full runs only, when both
//!    tools are installed): see [`profile`]. `--profile-only` prints this section alone.
//!
//! `--quick` is the CI smoke run: short measurement times and the dev profile (already built by
//! the tests), so the harness keeps compiling and running in seconds; its numbers mean little
//! and it does not rewrite `BENCHMARKS.md`.

use std::fmt::Write as _;
use std::path::Path;
use std::process::Command;

use anyhow::{Context, bail};
use serde_json::Value;
use time::macros::format_description;

mod profile;

pub(crate) fn run(args: &[String]) -> anyhow::Result<()> {
    let quick = crate::has_flag(args, "--quick");
    let root = crate::workspace_root();
    if crate::has_flag(args, "--profile-only") {
        // Section 6 alone, printed (BENCHMARKS.md is left as it is).
        build_bench(&root)?;
        println!("{}", profile::section(&bench_binary(&root))?);
        return Ok(());
    }
    let criterion_home =
        std::env::temp_dir().join(format!("acs-chat-criterion-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&criterion_home);

    let mut cmd = Command::new(env!("CARGO"));
    cmd.current_dir(&root)
        .env("CRITERION_HOME", &criterion_home)
        .args(["bench", "-p", "acs-chat-protocol", "--bench", "protocol"]);
    if quick {
        cmd.args(["--profile", "dev"]);
    }
    cmd.arg("--");
    if quick {
        cmd.args([
            "--warm-up-time",
            "0.05",
            "--measurement-time",
            "0.1",
            "--sample-size",
            "10",
        ]);
    } else {
        cmd.args(["--warm-up-time", "2", "--measurement-time", "5"]);
    }
    println!("running {cmd:?}");
    let status = cmd.status().context("running cargo bench")?;
    if !status.success() {
        bail!("cargo bench -p acs-chat-protocol failed");
    }
    let protocol = protocol_section(&criterion_home)?;
    let _ = std::fs::remove_dir_all(&criterion_home);
    println!("\n{protocol}");

    let mut sections = vec![protocol];
    if root.join("benches/Cargo.toml").exists() {
        let mut cmd = Command::new(env!("CARGO"));
        cmd.current_dir(&root)
            .args(["run", "-q", "-p", "acs-chat-bench"]);
        if !quick {
            cmd.arg("--release");
        }
        cmd.arg("--");
        if quick {
            cmd.arg("--quick");
        }
        println!("running {cmd:?}");
        let output = cmd.output().context("running acs-chat-bench")?;
        if !output.status.success() {
            bail!(
                "acs-chat-bench failed:\n{}",
                String::from_utf8_lossy(&output.stderr)
            );
        }
        let text = String::from_utf8_lossy(&output.stdout).into_owned();
        println!("{text}");
        sections.push(text);
        if !quick {
            let bench = bench_binary(&root);
            println!("profiling {}", bench.display());
            let text = profile::section(&bench)?;
            println!("{text}");
            sections.push(text);
        }
    }

    if quick {
        println!("bench --quick: the harness ran; BENCHMARKS.md is left as it is");
        return Ok(());
    }
    let report = format!("{}{}", header(), sections.join("\n"));
    std::fs::write(root.join("BENCHMARKS.md"), report)?;
    println!("wrote BENCHMARKS.md");
    Ok(())
}

/// Builds the release `acs-chat-bench` (which `cargo run --release` also does).
fn build_bench(root: &Path) -> anyhow::Result<()> {
    let status = Command::new(env!("CARGO"))
        .current_dir(root)
        .args(["build", "-q", "--release", "-p", "acs-chat-bench"])
        .status()
        .context("building acs-chat-bench")?;
    if !status.success() {
        bail!("cargo build -p acs-chat-bench failed");
    }
    Ok(())
}

/// Where cargo puts the release `acs-chat-bench`.
fn bench_binary(root: &Path) -> std::path::PathBuf {
    crate::target_dir(root)
        .join("release")
        .join("acs-chat-bench")
}

fn header() -> String {
    let rustc = Command::new("rustc")
        .arg("--version")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_else(|_| "unknown".into());
    let cores = std::thread::available_parallelism().map_or(0, usize::from);
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split(':').nth(1))
                .map(|s| s.trim().to_string())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    let date = time::OffsetDateTime::now_utc()
        .format(format_description!(
            "[year]-[month]-[day] [hour]:[minute] UTC"
        ))
        .unwrap_or_default();
    format!(
        "# Benchmarks\n\nWritten by `cargo xtask bench` on {date}: {cores} cores ({cpu}), {rustc}.\n\
         The machines are shared and noisy, so every figure that matters is a ratio of two measurements\n\
         taken in the same run. Targets are reported, never asserted in tests.\n\n"
    )
}

/// One of criterion's records (`new/<file>`) for a benchmark id (`group` or `group/function`).
fn record(home: &Path, id: &str, file: &str) -> anyhow::Result<Value> {
    crate::read_json(&home.join(id).join("new").join(file))
}

/// Criterion's mean estimate, in ns.
fn mean_ns(home: &Path, id: &str) -> anyhow::Result<f64> {
    record(home, id, "estimates.json")?
        .pointer("/mean/point_estimate")
        .and_then(Value::as_f64)
        .context("estimates.json has no mean")
}

fn protocol_section(home: &Path) -> anyhow::Result<String> {
    let build = mean_ns(home, "build_send_message_request")?;
    let mut s = String::from("## 1. Protocol (criterion)\n\n");
    let _ = writeln!(
        s,
        "| benchmark | mean | throughput |\n|---|---|---|\n\
         | build + authorize a send-message request | {:.2} µs | |",
        build / 1000.0,
    );
    let mut verdicts = Vec::new();
    for n in [200, 20] {
        let group = format!("parse_list_messages_{n}");
        let ours = mean_ns(home, &format!("{group}/acs_chat_protocol"))?;
        let base = mean_ns(home, &format!("{group}/serde_json_plain_baseline"))?;
        let bytes = page_bytes(home, &format!("{group}/acs_chat_protocol"))?;
        let mbps = |ns: f64| bytes / ns * 1e9 / 1e6;
        let _ = writeln!(
            s,
            "| parse a list-messages page of {n} messages ({:.1} KB), acs-chat-protocol | {} | {:.1} MB/s |\n\
             | same bytes, `serde_json` into a plain struct of the same shape (baseline) | {} | {:.1} MB/s |",
            bytes / 1000.0,
            fmt_us(ours),
            mbps(ours),
            fmt_us(base),
            mbps(base),
        );
        verdicts.push((n, mbps(ours) / mbps(base)));
    }
    s.push('\n');
    for (n, ratio) in verdicts {
        let _ = writeln!(
            s,
            "- {n} messages: **our/baseline parse throughput {ratio:.2}** (target ≥ 1.00: {}).",
            if ratio >= 1.0 { "met" } else { "missed" }
        );
    }
    s.push('\n');
    Ok(s)
}

/// Nanoseconds as µs, with two decimals below 10 µs.
fn fmt_us(ns: f64) -> String {
    if ns < 10_000.0 {
        format!("{:.2} µs", ns / 1000.0)
    } else {
        format!("{:.0} µs", ns / 1000.0)
    }
}

/// The page size, from criterion's throughput record.
fn page_bytes(home: &Path, id: &str) -> anyhow::Result<f64> {
    record(home, id, "benchmark.json")?
        .pointer("/throughput/Bytes")
        .and_then(Value::as_f64)
        .context("benchmark.json has no byte throughput")
}
