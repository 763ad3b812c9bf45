//! Section 6 of `BENCHMARKS.md`: syscalls and instructions per request, from `strace -c` and
//! `valgrind --tool=callgrind` over the `acs-chat-bench drive` hook.
//!
//! Each figure is a difference of two runs of the same variant, one sending `n` requests and one
//! `2n`, divided by `n`: process start, TLS certificates, the handshake and the first request
//! cancel out, and what is left is the cost of one more request. The canned server runs in the
//! same process, so a figure covers both ends; the client's own cost is its difference from the
//! raw client's, which has the same server.

use std::fmt::Write as _;
use std::path::Path;
use std::process::Command;

use anyhow::{Context, bail};

/// Requests in the shorter run under `strace` (the longer sends twice as many).
const STRACE_REQUESTS: u64 = 2000;
/// Requests in the shorter run under callgrind (about 50× slower than native).
const CALLGRIND_REQUESTS: u64 = 300;

/// One `drive` invocation: the operation and the variant's flags.
struct Run {
    op: &'static str,
    /// HTTP/1.1 instead of HTTP/2.
    http1: bool,
    label: &'static str,
    flags: &'static [&'static str],
}

const SEND: &str = "send-message";
const LIST: &str = "list-messages";

/// The canned-server variants, per operation.
const VARIANTS: [(&str, &[&str]); 4] = [
    ("raw hyper", &["--raw"]),
    ("raw + decode", &["--raw", "--decode"]),
    ("transport alone", &["--transport"]),
    ("acs-chat", &[]),
];

/// The emulator variants (send-message), next to acs-chat against the canned server (the
/// first table's row) and against the canned server shaped like the service (what section 4
/// compares the emulator with).
const EMULATOR: [Run; 3] = [
    Run {
        op: SEND,
        http1: false,
        label: "acs-chat → canned server with the service's headers and an emulator token (the emulator's baseline)",
        flags: &["--service-shape"],
    },
    Run {
        op: SEND,
        http1: false,
        label: "acs-chat → emulator, in memory",
        flags: &["--emulator"],
    },
    Run {
        op: SEND,
        http1: false,
        label: "acs-chat → emulator, persisted",
        flags: &["--emulator", "--persisted"],
    },
];

/// The section, or a note saying which tool is missing.
pub(crate) fn section(bench: &Path) -> anyhow::Result<String> {
    let mut s = String::from(
        "## 6. Syscalls and instructions per request\n\n\
         `strace -f -c` and `valgrind --tool=callgrind` over `acs-chat-bench drive` (one variant \
         alone against the in-process canned server, over TLS, HTTP/2 unless said, one request in flight). \
         Each figure is (run of 2n requests − run of n) / n, so start-up, certificates, the \
         handshake and the warm-up request cancel out; it covers client *and* server (same \
         process), so what acs-chat itself adds is its difference from *raw hyper*. \
         Instructions are counted on the current-thread runtime (callgrind runs one thread at \
         a time anyway).\n\n",
    );
    let missing: Vec<&str> = ["strace", "valgrind"]
        .into_iter()
        .filter(|tool| !installed(tool))
        .collect();
    if !missing.is_empty() {
        let _ = writeln!(
            s,
            "Not measured: {} not installed (`apt-get install strace valgrind`).\n",
            missing.join(" and ")
        );
        return Ok(s);
    }

    s.push_str(
        "| operation | variant | syscalls, multi-thread | of which writev / futex / epoll_wait | \
         syscalls, current-thread | of which writev | instructions |\n\
         |---|---|---|---|---|---|---|\n",
    );
    let http2 = [SEND, LIST].into_iter().flat_map(|op| {
        VARIANTS.map(|(label, flags)| Run {
            op,
            http1: false,
            label,
            flags,
        })
    });
    let http1 = [VARIANTS[0], VARIANTS[3]].map(|(label, flags)| Run {
        op: SEND,
        http1: true,
        label,
        flags,
    });
    // acs-chat's send-message over HTTP/2: (instructions, syscalls on current-thread), the
    // baseline of the emulator table.
    let mut canned = (f64::NAN, f64::NAN);
    for run in http2.chain(http1) {
        let op = format!("{}{}", run.op, if run.http1 { " (HTTP/1.1)" } else { "" });
        let label = run.label;
        let multi = syscalls(bench, &run, false)?;
        let current = syscalls(bench, &run, true)?;
        let instructions = instructions(bench, &run)?;
        if run.op == SEND && !run.http1 && run.flags.is_empty() {
            canned = (instructions, current.total);
        }
        let _ = writeln!(
            s,
            "| {op} | {label} | {:.1} | {:.1} / {:.1} / {:.1} | {:.1} | {:.1} | {} |",
            multi.total,
            multi.get("writev"),
            multi.get("futex"),
            multi.get("epoll_wait"),
            current.total,
            current.get("writev"),
            fmt_count(instructions),
        );
    }
    s.push_str(
        "\n| send-message | instructions per request | syscalls per request (current-thread) |\n\
         |---|---|---|\n",
    );
    let _ = writeln!(
        s,
        "| acs-chat → canned server | {} | {:.1} |",
        fmt_count(canned.0),
        canned.1
    );
    for run in &EMULATOR {
        let instructions = instructions(bench, run)?;
        let current = syscalls(bench, run, true)?;
        let _ = writeln!(
            s,
            "| {} | {} | {:.1} |",
            run.label,
            fmt_count(instructions),
            current.total
        );
    }
    s.push('\n');
    s.push_str(&runtime_table(bench)?);
    Ok(s)
}

/// Seconds each runtime-choice point runs.
const RUNTIME_SECONDS: &str = "3";

/// Send-message throughput and CPU per request, multi-thread against current-thread runtime, at
/// 1 and 16 in flight (the choice for callers with little concurrency).
fn runtime_table(bench: &Path) -> anyhow::Result<String> {
    let mut s = String::from(
        "The runtime for callers with little concurrency: send-message, client and canned server \
         on the same runtime, {RUNTIME_SECONDS} s per point; CPU is the process's user + system \
         time (both ends) per request.\n\n\
         | variant | in flight | multi-thread req/s | current-thread req/s | multi-thread CPU/request | current-thread CPU/request |\n\
         |---|---|---|---|---|---|\n",
    )
    .replace("{RUNTIME_SECONDS}", RUNTIME_SECONDS);
    for (label, flags) in [("raw hyper", &["--raw"][..]), ("acs-chat", &[][..])] {
        for in_flight in ["1", "16"] {
            let point = |current_thread: bool| -> anyhow::Result<(f64, f64)> {
                let mut cmd = Command::new(bench);
                cmd.args(["drive", "--op", SEND, "--in-flight", in_flight, "--seconds"])
                    .arg(RUNTIME_SECONDS)
                    .args(flags);
                if current_thread {
                    cmd.arg("--current-thread");
                }
                let output = cmd.output().with_context(|| format!("running {cmd:?}"))?;
                if !output.status.success() {
                    bail!(
                        "{cmd:?} failed:\n{}",
                        String::from_utf8_lossy(&output.stderr)
                    );
                }
                parse_drive_figures(&String::from_utf8_lossy(&output.stderr))
            };
            let (multi_rps, multi_cpu) = point(false)?;
            let (current_rps, current_cpu) = point(true)?;
            let _ = writeln!(
                s,
                "| {label} | {in_flight} | {multi_rps:.0} | {current_rps:.0} | {multi_cpu:.1} µs | {current_cpu:.1} µs |"
            );
        }
    }
    s.push('\n');
    Ok(s)
}

/// The `drive-figures: rps=… cpu_us_per_request=…` line `drive` writes on stderr.
fn parse_drive_figures(stderr: &str) -> anyhow::Result<(f64, f64)> {
    let line = stderr
        .lines()
        .find_map(|l| l.strip_prefix("drive-figures:"))
        .context("drive wrote no figures")?;
    let field = |name: &str| -> anyhow::Result<f64> {
        line.split_whitespace()
            .find_map(|kv| kv.strip_prefix(name)?.strip_prefix('='))
            .and_then(|v| v.parse().ok())
            .with_context(|| format!("no {name} in `{line}`"))
    };
    Ok((field("rps")?, field("cpu_us_per_request")?))
}

/// Syscalls per request, by name and in all.
struct Syscalls {
    total: f64,
    by_name: Vec<(String, f64)>,
}

impl Syscalls {
    fn get(&self, name: &str) -> f64 {
        self.by_name
            .iter()
            .find(|(n, _)| n == name)
            .map_or(0.0, |(_, c)| *c)
    }
}

fn syscalls(bench: &Path, run: &Run, current_thread: bool) -> anyhow::Result<Syscalls> {
    let count = |requests: u64| -> anyhow::Result<Vec<(String, u64)>> {
        let out = scratch_path(&format!("strace-{requests}"));
        let mut cmd = Command::new("strace");
        cmd.args(["-f", "-c", "-o"]).arg(&out).arg(bench);
        drive_args(&mut cmd, run, requests, current_thread);
        parse_strace(&output_of(cmd, &out)?)
    };
    let n = STRACE_REQUESTS;
    let (short, long) = (count(n)?, count(2 * n)?);
    let calls = |table: &[(String, u64)], name: &str| {
        table.iter().find(|(s, _)| s == name).map_or(0, |(_, c)| *c)
    };
    let mut by_name: Vec<(String, f64)> = long
        .iter()
        .map(|(name, c)| {
            let per = (*c as f64 - calls(&short, name) as f64) / n as f64;
            (name.clone(), per.max(0.0))
        })
        .collect();
    by_name.sort_by(|a, b| b.1.total_cmp(&a.1));
    let total = by_name.iter().map(|(_, c)| c).sum();
    Ok(Syscalls { total, by_name })
}

fn instructions(bench: &Path, run: &Run) -> anyhow::Result<f64> {
    callgrind_per_unit(bench, CALLGRIND_REQUESTS, |cmd, requests| {
        drive_args(cmd, run, requests, true);
    })
}

/// Instructions per unit of work: callgrind over `bench` with the arguments `args` adds for
/// `n` units and for `2n`, (long − short) / n, so start-up cancels out.
fn callgrind_per_unit(
    bench: &Path,
    n: u64,
    args: impl Fn(&mut Command, u64),
) -> anyhow::Result<f64> {
    let count = |units: u64| -> anyhow::Result<u64> {
        let out = scratch_path(&format!("callgrind-{units}"));
        let mut cmd = Command::new("valgrind");
        cmd.args(["--tool=callgrind", "--quiet"])
            .arg(format!("--callgrind-out-file={}", out.display()))
            .arg(bench);
        args(&mut cmd, units);
        parse_callgrind_total(&output_of(cmd, &out)?)
    };
    let (short, long) = (count(n)?, count(2 * n)?);
    Ok(long.saturating_sub(short) as f64 / n as f64)
}

/// Whether `tool --version` runs.
fn installed(tool: &str) -> bool {
    Command::new(tool)
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success())
}

/// Parses of a page in the shorter callgrind run of [`parse_instructions`].
const CALLGRIND_PARSES: u64 = 20;

/// Instructions per parse of a page of `messages` (acs-chat-protocol, baseline), or `None`
/// without valgrind.
pub(crate) fn parse_instructions(
    bench: &Path,
    messages: usize,
) -> anyhow::Result<Option<(f64, f64)>> {
    if !installed("valgrind") {
        return Ok(None);
    }
    let per_page = |baseline: bool| {
        callgrind_per_unit(bench, CALLGRIND_PARSES, |cmd, calls| {
            cmd.args(["parse", "--messages", &messages.to_string(), "--calls"])
                .arg(calls.to_string());
            if baseline {
                cmd.arg("--baseline");
            }
        })
    };
    Ok(Some((per_page(false)?, per_page(true)?)))
}

fn drive_args(cmd: &mut Command, run: &Run, requests: u64, current_thread: bool) {
    if run.http1 {
        cmd.arg("--http1");
    }
    cmd.args(["drive", "--op", run.op, "--in-flight", "1", "--requests"])
        .arg(requests.to_string())
        .args(run.flags);
    if current_thread {
        cmd.arg("--current-thread");
    }
}

/// Runs `cmd` (a tool writing its figures to `out`) and returns what it wrote there.
fn output_of(cmd: Command, out: &Path) -> anyhow::Result<String> {
    run_quietly(cmd)?;
    let text =
        std::fs::read_to_string(out).with_context(|| format!("reading {}", out.display()))?;
    let _ = std::fs::remove_file(out);
    Ok(text)
}

fn run_quietly(mut cmd: Command) -> anyhow::Result<()> {
    let output = cmd.output().with_context(|| format!("running {cmd:?}"))?;
    if !output.status.success() {
        bail!(
            "{cmd:?} failed:\n{}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
    Ok(())
}

fn scratch_path(name: &str) -> std::path::PathBuf {
    std::env::temp_dir().join(format!("acs-chat-profile-{}-{name}", std::process::id()))
}

/// The per-syscall call counts of a `strace -c` summary (the `total` line left out).
fn parse_strace(text: &str) -> anyhow::Result<Vec<(String, u64)>> {
    // % time     seconds  usecs/call     calls    errors syscall
    // ------ ----------- ----------- --------- --------- ----------------
    //  40.00    0.000400           2       200           writev
    let mut table = Vec::new();
    for line in text.lines() {
        let fields: Vec<&str> = line.split_whitespace().collect();
        let (Some(first), Some(name)) = (fields.first(), fields.last()) else {
            continue;
        };
        if first.parse::<f64>().is_err() || *name == "total" || fields.len() < 5 {
            continue;
        }
        let calls = fields[3]
            .parse()
            .with_context(|| format!("unexpected strace line: {line}"))?;
        table.push(((*name).to_owned(), calls));
    }
    if table.is_empty() {
        bail!("strace wrote no summary:\n{text}");
    }
    Ok(table)
}

/// The instruction count of a callgrind output file (its `summary:` or `totals:` line).
fn parse_callgrind_total(text: &str) -> anyhow::Result<u64> {
    text.lines()
        .find_map(|l| {
            l.strip_prefix("summary:")
                .or_else(|| l.strip_prefix("totals:"))
        })
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .context("the callgrind output has no summary line")
}

/// A count with thousands separated by thin spaces.
pub(crate) fn fmt_count(n: f64) -> String {
    let digits = format!("{:.0}", n.max(0.0));
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push('\u{2009}');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strace_summaries_are_read_with_and_without_errors() {
        let text = "\
% time     seconds  usecs/call     calls    errors syscall
------ ----------- ----------- --------- --------- ----------------
 40.00    0.000400           2       200           writev
 30.00    0.000300           1       310        12 futex
------ ----------- ----------- --------- --------- ----------------
100.00    0.000700                   510        12 total
";
        assert_eq!(
            parse_strace(text).unwrap(),
            [("writev".to_owned(), 200), ("futex".to_owned(), 310)]
        );
        assert!(parse_strace("strace: exec failed").is_err());
    }

    #[test]
    fn callgrind_totals_are_read() {
        let text = "version: 1\ncmd: x\nevents: Ir\nsummary: 123456789\n";
        assert_eq!(parse_callgrind_total(text).unwrap(), 123_456_789);
        assert_eq!(
            parse_callgrind_total("events: Ir\ntotals: 42\n").unwrap(),
            42
        );
        assert!(parse_callgrind_total("events: Ir\n").is_err());
    }

    #[test]
    fn drive_figures_are_read() {
        let stderr = "Client send-message at 1 in flight: 10 requests\n\
                      drive-figures: rps=9512.5 cpu_us_per_request=183.20\n";
        assert_eq!(parse_drive_figures(stderr).unwrap(), (9512.5, 183.2));
        assert!(parse_drive_figures("drive-figures: rps=1\n").is_err());
    }

    #[test]
    fn counts_are_grouped_by_thousands() {
        assert_eq!(fmt_count(1_234_567.4), "1\u{2009}234\u{2009}567");
        assert_eq!(fmt_count(999.0), "999");
        assert_eq!(fmt_count(1000.0), "1\u{2009}000");
    }
}
