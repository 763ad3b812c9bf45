//! Section 4, continued: restarting a persisted emulator. The parent fills a data directory
//! through the API, stops the emulator, and re-executes this binary (`restart-child`) to start
//! it again on that directory: the child reports the start time and its peak memory.

use std::fmt::Write as _;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use acs_chat_emulator::Emulator;
use rusqlite::Connection;

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

/// What writing the emulator's message rows costs SQLite alone.
pub(crate) struct Floor {
    /// Bytes of the message's JSON.
    json_bytes: usize,
    /// (rows per transaction, CPU per row).
    per_row: Vec<(usize, Duration)>,
}

/// Writes rows like the last message row of the persisted emulator's database in `data_dir`
/// (its table's own `CREATE` statement, its row), in a new database next to it with the
/// emulator's settings (WAL, `synchronous=NORMAL`), one multi-row `INSERT` per transaction
/// as the emulator writes a batch of messages (foreign keys checked, as the emulator has them),
/// on this thread alone: the process's CPU time
/// per row, for 1, 20 and 64 rows a transaction. Nothing else (no HTTP, no store, no
/// checkpoint thread), so it is the least a persisted send-message can cost more than one in
/// memory.
pub(crate) fn sqlite_floor(data_dir: &Path, quick: bool) -> Result<Floor, BoxError> {
    let source = Connection::open(data_dir.join(acs_chat_emulator::persist::DATABASE_FILE))?;
    // The messages table and the threads table its rows refer to.
    let create = |table: &str| -> rusqlite::Result<String> {
        source.query_row(
            "SELECT sql FROM sqlite_master WHERE type = 'table' AND name = ?1",
            [table],
            |r| r.get(0),
        )
    };
    let create = format!("{};\n{};", create("threads")?, create("messages")?);
    let (thread, sender, json): (String, Option<String>, String) = source.query_row(
        "SELECT thread_id, sender, message FROM messages ORDER BY rowid DESC LIMIT 1",
        [],
        |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
    )?;
    let thread_row: (String, String, i64) = source.query_row(
        "SELECT properties, last_message_received_on, next_seq FROM threads WHERE id = ?1",
        [&thread],
        |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
    )?;
    drop(source);
    let rows: usize = if quick { 640 } else { 64_000 };
    let mut per_row = Vec::new();
    for batch in [1, 20, 64] {
        let dir = tempfile::tempdir_in(data_dir)?;
        let mut conn = Connection::open(dir.path().join("floor.sqlite3"))?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "NORMAL")?;
        conn.pragma_update(None, "foreign_keys", true)?;
        conn.execute_batch(&create)?;
        conn.execute(
            "INSERT INTO threads (id, properties, last_message_received_on, next_seq) \
             VALUES (?1, ?2, ?3, ?4)",
            rusqlite::params![thread, thread_row.0, thread_row.1, thread_row.2],
        )?;
        let mut sql = String::from(
            "INSERT OR REPLACE INTO messages (thread_id, seq, id, sender, message) VALUES ",
        );
        for i in 0..batch {
            sql.push_str(if i == 0 {
                "(?, ?, ?, ?, ?)"
            } else {
                ", (?, ?, ?, ?, ?)"
            });
        }
        // A single row a transaction costs far more: fewer of them keep the run short.
        let rows = if batch == 1 { rows / 8 } else { rows };
        let before = load::process_cpu();
        let mut seq: i64 = 0;
        for _ in 0..rows / batch {
            let tx = conn.transaction()?;
            {
                let mut insert = tx.prepare_cached(&sql)?;
                let mut params: Vec<rusqlite::types::Value> = Vec::with_capacity(batch * 5);
                for _ in 0..batch {
                    seq += 1;
                    params.push(thread.clone().into());
                    params.push(seq.into());
                    params.push((1_700_000_000_000 + seq).to_string().into());
                    params.push(sender.clone().into());
                    params.push(json.clone().into());
                }
                insert.execute(rusqlite::params_from_iter(params))?;
            }
            tx.commit()?;
        }
        let cpu = load::process_cpu()
            .zip(before)
            .map(|(after, before)| after.saturating_sub(before))
            .unwrap_or_default();
        per_row.push((batch, cpu / u32::try_from(rows / batch * batch)?));
    }
    Ok(Floor {
        json_bytes: json.len(),
        per_row,
    })
}

/// The lines of section 4 that say what a persisted send-message may cost at most and what
/// writing it costs at least: `cpu` is (canned, in memory, persisted) per request.
pub(crate) fn floor_lines(cpu: [Option<Duration>; 3], floor: &Floor) -> String {
    let us = |d: Duration| d.as_secs_f64() * 1e6;
    let mut s = String::new();
    let written = floor
        .per_row
        .iter()
        .map(|(batch, cpu)| format!("{:.1} µs ({batch} a transaction)", us(*cpu)))
        .collect::<Vec<_>>()
        .join(", ");
    let _ = writeln!(
        s,
        "- SQLite alone, writing the persisted emulator's last message row again ({} bytes of \
         JSON, the table's own schema, WAL and `synchronous=NORMAL` as the emulator, one thread, \
         nothing else): CPU per row {written}.",
        floor.json_bytes
    );
    if let [Some(canned), Some(memory), Some(persisted)] = cpu {
        let budget = us(canned) / 0.8;
        let floor = floor
            .per_row
            .iter()
            .map(|(_, cpu)| us(*cpu))
            .fold(f64::INFINITY, f64::min);
        let left = budget - us(memory);
        let _ = writeln!(
            s,
            "- send-message CPU per request (client and server, the process's user and system \
             time over the rounds): canned {:.1} µs, in memory {:.1} µs, persisted {:.1} µs. \
             At 0.8× canned a request may cost {budget:.1} µs: {}; SQLite alone needs at least \
             {floor:.1} µs a message.",
            us(canned),
            us(memory),
            us(persisted),
            if left >= 0.0 {
                format!("the in-memory emulator leaves {left:.1} µs of that for writing a message")
            } else {
                format!(
                    "the in-memory emulator alone costs {:.1} µs more than that, before \
                     anything is written",
                    -left
                )
            },
        );
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_floor_lines_set_the_budget_against_the_in_memory_cost() {
        let floor = Floor {
            json_bytes: 457,
            per_row: vec![
                (1, Duration::from_micros(25)),
                (20, Duration::from_micros(6)),
                (64, Duration::from_micros(4)),
            ],
        };
        let us = Duration::from_micros;
        // 40 µs canned: 50 µs at 0.8; 45 µs in memory leaves 5.
        let under = floor_lines([Some(us(40)), Some(us(45)), Some(us(60))], &floor);
        assert!(under.contains("may cost 50.0 µs"), "{under}");
        assert!(under.contains("leaves 5.0 µs"), "{under}");
        assert!(under.contains("at least 4.0 µs"), "{under}");
        assert!(under.contains("25.0 µs (1 a transaction)"), "{under}");
        // 52 µs in memory is already 2 µs over.
        let over = floor_lines([Some(us(40)), Some(us(52)), Some(us(60))], &floor);
        assert!(over.contains("costs 2.0 µs more than that"), "{over}");
        // Without CPU figures (off Linux), only the SQLite line.
        assert_eq!(floor_lines([None, None, None], &floor).lines().count(), 1);
    }
}
