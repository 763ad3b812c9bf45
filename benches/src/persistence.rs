//! Section 4, continued: restarting a persisted emulator. The parent fills a data directory
//! through the API, stops the emulator, and re-executes this binary (`restart-child`) to start
//! it again on that directory: the child reports the start time and its peak memory.

use std::fmt::Write as _;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use acs_chat_emulator::Emulator;

use crate::load::{self, Budget};
use crate::{
    BoxError, Op, Plan, Protocol, client_driver, emulator_thread, fmt_rps, start_emulator_in,
};

/// The child: starts the emulator on `data_dir`, prints `elapsed_us=<t> peak_kb=<VmHWM>`.
pub(crate) fn restart_child(data_dir: &Path) -> Result<(), BoxError> {
    let runtime = crate::multi_thread_runtime()?;
    runtime.block_on(async {
        let started = Instant::now();
        let emulator = Emulator::builder()
            .port(0)
            .data_dir(data_dir)
            .start()
            .await?;
        let elapsed = started.elapsed();
        let peak = crate::paging::peak_rss_kb().unwrap_or(0);
        println!("elapsed_us={} peak_kb={peak}", elapsed.as_micros());
        emulator.shutdown().await;
        Ok(())
    })
}

fn field(text: &str, name: &str) -> Option<u64> {
    text.split_whitespace()
        .find_map(|kv| kv.strip_prefix(name)?.strip_prefix('='))
        .and_then(|v| v.parse().ok())
}

pub(crate) async fn restart_section(plan: &Plan, protocol: Protocol) -> Result<String, BoxError> {
    let messages: u64 = if plan.quick { 1_000 } else { 100_000 };
    let dir = tempfile::tempdir()?;
    eprintln!("acs-chat-bench: filling a data directory with {messages} messages");
    let (emulator, client) = start_emulator_in(protocol, Some(dir.path())).await?;
    let thread = emulator_thread(&client, Op::SendMessage).await?;
    let fill = load::round(
        &client_driver(thread, Op::SendMessage),
        64,
        Budget::Count(messages),
    )
    .await?;
    emulator.shutdown().await;
    let db = dir.path().join(acs_chat_emulator::persist::DATABASE_FILE);
    let size = std::fs::metadata(&db).map(|m| m.len()).unwrap_or(0)
        + std::fs::metadata(db.with_extension("sqlite3-wal"))
            .map(|m| m.len())
            .unwrap_or(0);

    // Three restarts, each in a fresh process; the median start time and the largest peak.
    let mut times = Vec::new();
    let mut peaks = Vec::new();
    for _ in 0..3 {
        let out = Command::new(std::env::current_exe()?)
            .arg("restart-child")
            .arg("--data-dir")
            .arg(dir.path())
            .stdin(Stdio::null())
            .stderr(Stdio::inherit())
            .output()?;
        if !out.status.success() {
            return Err(format!("the restart child failed: {}", out.status).into());
        }
        let text = String::from_utf8_lossy(&out.stdout);
        times.push(Duration::from_micros(
            field(&text, "elapsed_us").ok_or("no elapsed_us")?,
        ));
        peaks.push(field(&text, "peak_kb").ok_or("no peak_kb")?);
    }
    times.sort();
    let median = times[times.len() / 2];
    let peak = peaks.iter().copied().max().unwrap_or(0);

    let mut s = String::new();
    let _ = writeln!(
        s,
        "\nRestart of a persisted emulator: {messages} messages sent through the API into one \
         thread at 64 in flight ({} messages/s with persistence on), the emulator stopped, then \
         started again on the directory ({:.1} MB of SQLite) in a fresh process, three times:\n",
        fmt_rps(fill.rps()),
        size as f64 / 1e6
    );
    s.push_str("| messages | start time (median of 3) | peak RSS of the restarted process |\n|---|---|---|\n");
    let _ = writeln!(
        s,
        "| {messages} | **{:.0} ms** | **{:.1} MB** |",
        median.as_secs_f64() * 1e3,
        peak as f64 / 1024.0
    );
    Ok(s)
}
