//! `cargo xtask bench [--quick]`: runs the benchmarks and writes `BENCHMARKS.md`.
//!
//! 1. Protocol (criterion, `crates/chat-protocol/benches/protocol.rs`): building a send-message
//!    request; parsing a page of 200 messages, next to `serde_json` into a plain struct of the
//!    same shape, in the same run. Reported as MB/s and our/baseline.
//! 2. to 4. Client overhead against raw hyper, paging memory and the emulator: the
//!    `chat-bench` binary (`benches/`), which prints its Markdown section.
//!
//! `--quick` is the CI smoke run: short measurement times and the dev profile (already built by
//! the tests), so the harness keeps compiling and running in seconds; its numbers mean little
//! and it does not rewrite `BENCHMARKS.md`.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, bail};
use serde_json::Value;

pub(crate) fn run(args: &[String]) -> anyhow::Result<()> {
    let quick = crate::has_flag(args, "--quick");
    let root = crate::workspace_root();
    let criterion_home =
        std::env::temp_dir().join(format!("acs-chat-criterion-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&criterion_home);

    let mut cmd = Command::new(env!("CARGO"));
    cmd.current_dir(&root)
        .env("CRITERION_HOME", &criterion_home)
        .args(["bench", "-p", "chat-protocol", "--bench", "protocol"]);
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
        bail!("cargo bench -p chat-protocol failed");
    }
    let protocol = protocol_section(&criterion_home)?;
    let _ = std::fs::remove_dir_all(&criterion_home);
    println!("\n{protocol}");

    let mut sections = vec![protocol];
    if root.join("benches/Cargo.toml").exists() {
        let mut cmd = Command::new(env!("CARGO"));
        cmd.current_dir(&root)
            .args(["run", "-q", "-p", "chat-bench"]);
        if !quick {
            cmd.arg("--release");
        }
        cmd.arg("--");
        if quick {
            cmd.arg("--quick");
        }
        println!("running {cmd:?}");
        let output = cmd.output().context("running chat-bench")?;
        if !output.status.success() {
            bail!(
                "chat-bench failed:\n{}",
                String::from_utf8_lossy(&output.stderr)
            );
        }
        let text = String::from_utf8_lossy(&output.stdout).into_owned();
        println!("{text}");
        sections.push(text);
    }

    if quick {
        println!("bench --quick: the harness ran; BENCHMARKS.md is left as it is");
        return Ok(());
    }
    let report = format!("{}{}", header(&root)?, sections.join("\n"));
    std::fs::write(root.join("BENCHMARKS.md"), report)?;
    println!("wrote BENCHMARKS.md");
    Ok(())
}

fn header(root: &Path) -> anyhow::Result<String> {
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
    let date = Command::new("date")
        .args(["-u", "+%Y-%m-%d %H:%M UTC"])
        .current_dir(root)
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_default();
    Ok(format!(
        "# Benchmarks\n\nWritten by `cargo xtask bench` on {date}: {cores} cores ({cpu}), {rustc}.\n\
         The machines are shared and noisy, so every figure that matters is a ratio of two measurements\n\
         taken in the same run. Targets are reported, never asserted in tests.\n\n"
    ))
}

/// Reads criterion's estimates (mean, ns) for one benchmark id.
fn mean_ns(home: &Path, group: &str, bench: Option<&str>) -> anyhow::Result<f64> {
    let mut dir = PathBuf::from(home);
    dir.push(group);
    if let Some(b) = bench {
        dir.push(b);
    }
    let path = dir.join("new").join("estimates.json");
    let text =
        std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
    let v: Value = serde_json::from_str(&text)?;
    v.pointer("/mean/point_estimate")
        .and_then(Value::as_f64)
        .context("estimates.json has no mean")
}

fn protocol_section(home: &Path) -> anyhow::Result<String> {
    let build = mean_ns(home, "build_send_message_request", None)?;
    let ours = mean_ns(home, "parse_list_messages_200", Some("chat_protocol"))?;
    let base = mean_ns(
        home,
        "parse_list_messages_200",
        Some("serde_json_plain_baseline"),
    )?;
    let bytes = page_bytes(home)?;
    let mbps = |ns: f64| bytes / ns * 1e9 / 1e6;
    let ratio = mbps(ours) / mbps(base);
    let mut s = String::from("## 1. Protocol (criterion)\n\n");
    let _ = writeln!(
        s,
        "| benchmark | mean | throughput |\n|---|---|---|\n\
         | build + authorize a send-message request | {:.2} µs | |\n\
         | parse a list-messages page of 200 messages ({:.0} KB), chat-protocol | {:.0} µs | {:.1} MB/s |\n\
         | same bytes, `serde_json` into a plain struct of the same shape (baseline) | {:.0} µs | {:.1} MB/s |\n",
        build / 1000.0,
        bytes / 1000.0,
        ours / 1000.0,
        mbps(ours),
        base / 1000.0,
        mbps(base),
    );
    let _ = writeln!(
        s,
        "**our/baseline parse throughput: {ratio:.2}** (target ≥ 0.80: {}).\n",
        if ratio >= 0.8 { "met" } else { "missed" }
    );
    Ok(s)
}

/// The page size, from criterion's throughput record.
fn page_bytes(home: &Path) -> anyhow::Result<f64> {
    let path = home
        .join("parse_list_messages_200")
        .join("chat_protocol")
        .join("new")
        .join("benchmark.json");
    let text =
        std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
    let v: Value = serde_json::from_str(&text)?;
    v.pointer("/throughput/Bytes")
        .and_then(Value::as_f64)
        .context("benchmark.json has no byte throughput")
}
