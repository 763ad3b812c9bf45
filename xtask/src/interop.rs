//! `cargo xtask interop [--keep]`: the official Python and JavaScript ACS SDKs, unchanged,
//! against the emulator, with SQLite persistence and Event Grid webhook delivery turned on.
//!
//! 1. Installs the pinned SDKs (`xtask/interop/python/requirements.txt`,
//!    `xtask/interop/node/package.json` + `package-lock.json`) into `target/interop/`, only when
//!    missing or when the pins (or the interpreter) changed: a stamp file records what was
//!    installed.
//! 2. Builds the emulator and the CLI, starts `acs-chat events listen` (the webhook receiver),
//!    then the emulator with `--data-dir` and `--event-webhook` pointing at it.
//! 3. Runs GUIDES.md's Python and Node snippets as written (only the endpoint and the CA path
//!    changed), then the full flows: Python sync (requests), Python async (aiohttp) and Node.
//! 4. Persistence: a Python step makes a thread and messages, the emulator is killed (SIGKILL)
//!    and started again on the same data directory (the same port when it is free), and Python
//!    and Node check, with the CA file and the tokens from before the kill, that all is there.
//! 5. Checks that the webhook received what the flows did (each message once per recipient and
//!    once for the thread, threads created and deleted), at least once, nothing missing.
//! 6. Prints a summary; exits non-zero when anything failed (the work directory, with the logs,
//!    is then kept, as with `--keep`).
//!
//! Every wait has a deadline, and every child process is killed on every way out (`Proc`'s
//! `Drop`). Tokens and keys are never printed.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::fs::{self, File};
use std::io::{BufRead as _, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Condvar, Mutex, mpsc};
use std::time::{Duration, Instant};

use anyhow::{Context as _, anyhow, bail};
use serde::Deserialize;
use serde_json::Value;

/// How long the emulator and the listener may take to say where they listen.
const START_TIMEOUT: Duration = Duration::from_secs(60);
/// How long one flow script may run.
const FLOW_TIMEOUT: Duration = Duration::from_secs(300);
/// How long `pip install` or `npm ci` may run.
const INSTALL_TIMEOUT: Duration = Duration::from_secs(900);
/// How long the webhook may take to receive every expected event after the flows.
const EVENTS_TIMEOUT: Duration = Duration::from_secs(60);
/// How long a child may take to stop after SIGTERM (or to be reaped after SIGKILL).
const STOP_TIMEOUT: Duration = Duration::from_secs(20);
/// The oldest Node.js the pinned `@azure` packages support (their `engines`).
const MIN_NODE_MAJOR: u32 = 20;

/// What GUIDES.md's snippets say, replaced by the running emulator's values.
const GUIDE_SECTION: &str = "## The emulator from Python and Node";
const GUIDE_ENDPOINT: &str = "https://127.0.0.1:10500/";
const GUIDE_CA: &str = "\"/home/you/.local/share/acs-chat-emulator/ca.pem\"";
/// What the snippets create, checked in the webhook's events.
const GUIDE_PYTHON: (&str, &str) = ("From Python", "hello from Python");
const GUIDE_NODE: (&str, &str) = ("From Node", "hello from Node");

const PACKAGES_HINT: &str = "`cargo xtask interop` needs Python 3 with venv, and Node.js 20 or later with npm \
     (Debian/Ubuntu: `apt-get install -y python3-venv nodejs npm`)";

pub(crate) fn run(args: &[String]) -> anyhow::Result<()> {
    let keep = crate::has_flag(args, "--keep");
    if let Some(other) = args.iter().find(|a| *a != "--keep") {
        bail!("unknown argument `{other}` (usage: cargo xtask interop [--keep])");
    }
    let started = Instant::now();
    let root = crate::workspace_root();
    let target = crate::target_dir(&root);
    let cache = target.join("interop");
    fs::create_dir_all(&cache).with_context(|| format!("creating {}", cache.display()))?;

    // 1. The SDKs.
    let python3 = tool("python3", &["--version"])?;
    let node = tool("node", &["--version"])?;
    let npm = tool("npm", &["--version"])?;
    let major: u32 = node
        .trim()
        .trim_start_matches('v')
        .split('.')
        .next()
        .and_then(|m| m.parse().ok())
        .ok_or_else(|| anyhow!("cannot read the version of node: {node}"))?;
    if major < MIN_NODE_MAJOR {
        bail!(
            "node {node} is too old: the pinned @azure packages need Node.js {MIN_NODE_MAJOR} or later"
        );
    }
    println!("interop: {python3}, node {node}, npm {npm}");
    let install_started = Instant::now();
    let (python, python_installed) = ensure_python(&root, &cache, &python3)?;
    let (node_dir, node_installed) = ensure_node(&root, &cache, &node)?;
    let install_time = install_started.elapsed();
    let installs = match (python_installed, node_installed) {
        (false, false) => "cached, nothing installed",
        (true, false) => "python packages installed",
        (false, true) => "node packages installed",
        (true, true) => "python and node packages installed",
    };

    // 2. The binaries, the listener and the emulator.
    let build_started = Instant::now();
    let status = Command::new(env!("CARGO"))
        .current_dir(&root)
        .args([
            "build",
            "-q",
            "-p",
            "acs-chat-emulator",
            "-p",
            "acs-chat-cli",
        ])
        .status()
        .context("running cargo build")?;
    if !status.success() {
        bail!("cargo build -p acs-chat-emulator -p acs-chat-cli failed");
    }
    let build_time = build_started.elapsed();
    let bin = target.join("debug");

    let work = tempfile::Builder::new()
        .prefix("acs-chat-interop-")
        .tempdir()
        .context("creating a temporary directory")?;
    let run = Run {
        work: work.path().to_owned(),
        python,
        node_dir,
        python_scripts: root.join("xtask/interop/python"),
        emulator_bin: bin.join("acs-chat-emulator"),
        cli_bin: bin.join("acs-chat"),
        guide: fs::read_to_string(root.join("GUIDES.md")).context("reading GUIDES.md")?,
    };
    let report = run.all();
    let failed = report.is_err() || report.as_ref().is_ok_and(Report::failed);

    // 6. The summary.
    println!("\ninterop summary");
    println!(
        "  SDKs: {:.1} s ({installs}); build: {:.1} s",
        install_time.as_secs_f64(),
        build_time.as_secs_f64()
    );
    println!("  total: {:.1} s", started.elapsed().as_secs_f64());
    if failed || keep {
        let kept = work.keep();
        println!("  work directory (logs, events) kept: {}", kept.display());
    }
    match &report {
        Ok(report) => print!("{}", report.table()),
        Err(e) => println!("  the harness stopped: {e:#}"),
    }
    if failed {
        bail!("interop failed");
    }
    Ok(())
}

/// The version line of a tool, or a clear error naming the packages to install.
fn tool(name: &str, args: &[&str]) -> anyhow::Result<String> {
    let mut cmd = Command::new(name);
    cmd.args(args);
    let output = run_to_end(name, &mut cmd, START_TIMEOUT)
        .map_err(|e| anyhow!("{name}: {e:#}: {PACKAGES_HINT}"))?;
    if !output.status.success() {
        bail!("`{name} {}` failed: {PACKAGES_HINT}", args.join(" "));
    }
    let mut text = output.stdout.trim().to_owned();
    if text.is_empty() {
        text = output.stderr.trim().to_owned();
    }
    Ok(text)
}

/// The venv's python, with the pinned packages; made again (true) when the pins or python
/// changed.
fn ensure_python(root: &Path, cache: &Path, version: &str) -> anyhow::Result<(PathBuf, bool)> {
    let venv = cache.join("python-venv");
    let python = venv.join("bin/python");
    let requirements = root.join("xtask/interop/python/requirements.txt");
    let pins = fs::read_to_string(&requirements)
        .with_context(|| format!("reading {}", requirements.display()))?;
    let stamp_file = venv.join("interop-stamp");
    let stamp = format!("{version}\n{pins}");
    if python.exists() && fs::read_to_string(&stamp_file).is_ok_and(|s| s == stamp) {
        println!("interop: python packages up to date ({})", venv.display());
        return Ok((python, false));
    }
    println!(
        "interop: installing the python packages into {}",
        venv.display()
    );
    if venv.exists() {
        fs::remove_dir_all(&venv).with_context(|| format!("removing {}", venv.display()))?;
    }
    let mut cmd = Command::new("python3");
    cmd.arg("-m").arg("venv").arg(&venv);
    let out = run_to_end("python3 -m venv", &mut cmd, INSTALL_TIMEOUT)?;
    if !out.status.success() {
        bail!(
            "python3 -m venv failed (Debian: apt-get install -y python3-venv):\n{}",
            out.stderr
        );
    }
    let mut cmd = Command::new(&python);
    cmd.args([
        "-m",
        "pip",
        "install",
        "--quiet",
        "--disable-pip-version-check",
        "--no-input",
        "-r",
    ])
    .arg(&requirements);
    let out = run_to_end("pip install", &mut cmd, INSTALL_TIMEOUT)?;
    if !out.status.success() {
        bail!(
            "pip install -r {} failed:\n{}",
            requirements.display(),
            out.stderr
        );
    }
    fs::write(&stamp_file, stamp)?;
    Ok((python, true))
}

/// The directory with `node_modules` (and, copied in at each run, the flow scripts, which
/// must sit beside `node_modules` for `import` to find the packages); true when `npm ci` ran.
fn ensure_node(root: &Path, cache: &Path, version: &str) -> anyhow::Result<(PathBuf, bool)> {
    let dir = cache.join("node");
    let source = root.join("xtask/interop/node");
    let mut stamp = format!("{version}\n");
    for file in ["package.json", "package-lock.json"] {
        let text = fs::read_to_string(source.join(file))
            .with_context(|| format!("reading {}", source.join(file).display()))?;
        stamp.push_str(&text);
    }
    let stamp_file = dir.join("interop-stamp");
    let fresh = dir.join("node_modules").exists()
        && fs::read_to_string(&stamp_file).is_ok_and(|s| s == stamp);
    if fresh {
        println!("interop: node packages up to date ({})", dir.display());
    } else {
        println!(
            "interop: installing the node packages into {}",
            dir.display()
        );
        if dir.exists() {
            fs::remove_dir_all(&dir).with_context(|| format!("removing {}", dir.display()))?;
        }
        fs::create_dir_all(&dir)?;
        for file in ["package.json", "package-lock.json"] {
            fs::copy(source.join(file), dir.join(file))?;
        }
        let mut cmd = Command::new("npm");
        cmd.current_dir(&dir)
            .args(["ci", "--no-audit", "--no-fund", "--loglevel=error"]);
        let out = run_to_end("npm ci", &mut cmd, INSTALL_TIMEOUT)?;
        if !out.status.success() {
            bail!("npm ci failed:\n{}", out.stderr);
        }
        fs::write(&stamp_file, stamp)?;
    }
    for entry in fs::read_dir(&source)? {
        let path = entry?.path();
        if path.extension().is_some_and(|e| e == "mjs") {
            let name = path.file_name().expect("a file has a name");
            fs::copy(&path, dir.join(name))?;
        }
    }
    Ok((dir, !fresh))
}

/// Keeps the caller's settings (`ACS_EMULATOR_PORT`, `ACS_CHAT_WEBHOOK_SECRET`, …) away from a
/// child: the harness passes everything it means on the command line.
fn remove_env_with_prefix(cmd: &mut Command, prefix: &str) {
    for (name, _) in std::env::vars_os() {
        if name.to_str().is_some_and(|n| n.starts_with(prefix)) {
            cmd.env_remove(name);
        }
    }
}

/// A child process that is killed (SIGKILL) and reaped when dropped, whatever the way out.
struct Proc {
    name: String,
    child: Child,
}

impl Proc {
    fn spawn(name: &str, cmd: &mut Command) -> anyhow::Result<Self> {
        let child = cmd
            .spawn()
            .with_context(|| format!("starting {name} ({:?})", cmd.get_program()))?;
        Ok(Self {
            name: name.to_owned(),
            child,
        })
    }

    /// Waits for the process to end, until `deadline` (polling; `None` when it still runs).
    fn wait_until(&mut self, deadline: Instant) -> anyhow::Result<Option<ExitStatus>> {
        loop {
            if let Some(status) = self.child.try_wait()? {
                return Ok(Some(status));
            }
            let now = Instant::now();
            if now >= deadline {
                return Ok(None);
            }
            std::thread::sleep((deadline - now).min(Duration::from_millis(20)));
        }
    }

    /// SIGKILL, then reap it.
    fn kill(&mut self) -> anyhow::Result<()> {
        let _ = self.child.kill();
        match self.wait_until(Instant::now() + STOP_TIMEOUT)? {
            Some(_) => Ok(()),
            None => bail!("{} did not end after SIGKILL", self.name),
        }
    }

    /// SIGTERM, and its exit status once it stopped (SIGKILL after STOP_TIMEOUT).
    fn terminate(&mut self) -> anyhow::Result<ExitStatus> {
        if let Some(status) = self.child.try_wait()? {
            bail!("{} had already stopped ({status})", self.name);
        }
        // `kill` is the portable way to send SIGTERM without unsafe code.
        let sent = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .context("running kill -TERM")?;
        if !sent.success() {
            bail!("kill -TERM {} failed", self.name);
        }
        match self.wait_until(Instant::now() + STOP_TIMEOUT)? {
            Some(status) => Ok(status),
            None => {
                self.kill()?;
                bail!(
                    "{} did not stop within {STOP_TIMEOUT:?} of SIGTERM",
                    self.name
                )
            }
        }
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// What a finished process printed.
struct Finished {
    status: ExitStatus,
    stdout: String,
    stderr: String,
}

/// Runs a command to its end with its output captured, killing it at `timeout`.
fn run_to_end(name: &str, cmd: &mut Command, timeout: Duration) -> anyhow::Result<Finished> {
    cmd.stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut proc = Proc::spawn(name, cmd)?;
    let stdout = drain(proc.child.stdout.take());
    let stderr = drain(proc.child.stderr.take());
    let Some(status) = proc.wait_until(Instant::now() + timeout)? else {
        proc.kill()?;
        bail!("{name} did not finish within {timeout:?}; killed");
    };
    // The pipes close when the process ends, unless a process it left behind holds them.
    let closed_by = Instant::now() + STOP_TIMEOUT;
    let text = |rx: mpsc::Receiver<Vec<u8>>| {
        let left = closed_by.saturating_duration_since(Instant::now());
        String::from_utf8_lossy(&rx.recv_timeout(left).unwrap_or_default()).into_owned()
    };
    Ok(Finished {
        status,
        stdout: text(stdout),
        stderr: text(stderr),
    })
}

/// Reads a pipe to its end on a thread; the bytes come on the channel.
fn drain(pipe: Option<impl Read + Send + 'static>) -> mpsc::Receiver<Vec<u8>> {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut bytes = Vec::new();
        if let Some(mut pipe) = pipe {
            let _ = pipe.read_to_end(&mut bytes);
        }
        let _ = tx.send(bytes);
    });
    rx
}

/// Sends each line of a pipe on the returned channel (and appends it to `log`) until the pipe
/// closes; the reading goes on when the receiver is gone, so the writer never blocks.
fn lines(pipe: impl Read + Send + 'static, log: Option<File>) -> mpsc::Receiver<String> {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        use std::io::Write as _;
        let mut log = log;
        for line in BufReader::new(pipe).lines() {
            let Ok(line) = line else { break };
            if let Some(log) = log.as_mut() {
                let _ = writeln!(log, "{line}");
            }
            let _ = tx.send(line);
        }
    });
    rx
}

/// Receives lines until `done` says the wanted ones came, or the deadline, or the pipe closed.
fn read_until(
    rx: &mpsc::Receiver<String>,
    deadline: Instant,
    what: &str,
    mut done: impl FnMut(&str) -> bool,
) -> anyhow::Result<()> {
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match rx.recv_timeout(left) {
            Ok(line) => {
                if done(&line) {
                    return Ok(());
                }
            }
            Err(mpsc::RecvTimeoutError::Timeout) => bail!("no {what} within {START_TIMEOUT:?}"),
            Err(mpsc::RecvTimeoutError::Disconnected) => {
                bail!("the process ended before printing {what}")
            }
        }
    }
}

/// The events the listener printed (one JSON object a line), and a condition variable to wait
/// for more.
#[derive(Default)]
struct Events {
    lines: Mutex<Vec<String>>,
    more: Condvar,
}

/// `acs-chat events listen`, printing every event it receives.
struct Listener {
    proc: Proc,
    url: String,
    events: Arc<Events>,
}

impl Listener {
    fn start(bin: &Path, work: &Path) -> anyhow::Result<Self> {
        let mut cmd = Command::new(bin);
        cmd.args(["events", "listen", "--port", "0", "-o", "json"])
            .env("XDG_DATA_HOME", work.join("xdg"))
            .env("XDG_CONFIG_HOME", work.join("xdg-config"))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        remove_env_with_prefix(&mut cmd, "ACS_CHAT_");
        let mut proc = Proc::spawn("acs-chat events listen", &mut cmd)?;
        let stderr = lines(
            proc.child.stderr.take().expect("piped"),
            Some(File::create(work.join("listener.log"))?),
        );
        let events = Arc::new(Events::default());
        let stdout = proc.child.stdout.take().expect("piped");
        let sink = Arc::clone(&events);
        let mut log = File::create(work.join("events.jsonl"))?;
        std::thread::spawn(move || {
            use std::io::Write as _;
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                let _ = writeln!(log, "{line}");
                sink.lines
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .push(line);
                sink.more.notify_all();
            }
        });
        let mut url = None;
        read_until(
            &stderr,
            Instant::now() + START_TIMEOUT,
            "`receiving Event Grid deliveries at URL` from the listener",
            |line| {
                url = listener_url(line);
                url.is_some()
            },
        )?;
        let url = url.expect("read_until ends on a URL");
        Ok(Self { proc, url, events })
    }

    /// Waits until `check` over every event received finds nothing missing, or the deadline;
    /// returns what is still missing (empty when all came).
    fn wait_for(&self, deadline: Instant, check: impl Fn(&[Value]) -> Vec<String>) -> Vec<String> {
        let mut lines = self.events.lines.lock().unwrap_or_else(|p| p.into_inner());
        loop {
            let events: Vec<Value> = lines
                .iter()
                .filter_map(|l| serde_json::from_str(l).ok())
                .collect();
            let missing = check(&events);
            let now = Instant::now();
            if missing.is_empty() || now >= deadline {
                return missing;
            }
            lines = self
                .events
                .more
                .wait_timeout(lines, deadline - now)
                .unwrap_or_else(|p| p.into_inner())
                .0;
        }
    }

    fn received(&self) -> Vec<Value> {
        self.events
            .lines
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
            .filter_map(|l| serde_json::from_str(l).ok())
            .collect()
    }
}

/// The URL in the listener's `acs-chat: receiving Event Grid deliveries at URL (…)` line.
fn listener_url(line: &str) -> Option<String> {
    let rest = line.split("receiving Event Grid deliveries at ").nth(1)?;
    let url = rest.split_whitespace().next()?;
    url.starts_with("http://").then(|| url.to_owned())
}

/// What the emulator's banner says.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Banner {
    endpoint: String,
    connection_string: String,
    ca: PathBuf,
}

/// Reads the banner's `key: value` lines; complete once the endpoint, the connection string, the
/// CA file and the webhook line were seen.
#[derive(Debug, Default)]
struct BannerReader {
    endpoint: Option<String>,
    connection_string: Option<String>,
    ca: Option<PathBuf>,
    webhook: bool,
}

impl BannerReader {
    /// Takes one line; the banner once it is complete.
    fn line(&mut self, line: &str) -> Option<Banner> {
        let value = |key: &str| {
            line.strip_prefix(key)
                .and_then(|rest| rest.strip_prefix(':'))
                .map(str::trim)
        };
        if let Some(v) = value("endpoint") {
            self.endpoint = Some(v.to_owned());
        } else if let Some(v) = value("connection string") {
            self.connection_string = Some(v.to_owned());
        } else if let Some(v) = value("CA certificate") {
            // `PATH (trust hint)`
            let path = v.rsplit_once(" (").map_or(v, |(path, _)| path);
            self.ca = Some(PathBuf::from(path));
        } else if value("event webhook").is_some() {
            self.webhook = true;
        }
        match (
            &self.endpoint,
            &self.connection_string,
            &self.ca,
            self.webhook,
        ) {
            (Some(endpoint), Some(connection_string), Some(ca), true) => Some(Banner {
                endpoint: endpoint.clone(),
                connection_string: connection_string.clone(),
                ca: ca.clone(),
            }),
            _ => None,
        }
    }
}

/// The running emulator.
struct Emulator {
    proc: Proc,
    banner: Banner,
}

impl Emulator {
    fn start(run: &Run, webhook: &str, port: u16) -> anyhow::Result<Self> {
        let log = fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(run.work.join("emulator.log"))?;
        let mut cmd = Command::new(&run.emulator_bin);
        cmd.arg("--port")
            .arg(port.to_string())
            .arg("--data-dir")
            .arg(run.work.join("data"))
            .arg("--event-webhook")
            .arg(webhook)
            .args(["--log-level", "warn,acs_chat_emulator=info"])
            .env("XDG_DATA_HOME", run.work.join("xdg"))
            .env_remove("RUST_LOG")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(log);
        remove_env_with_prefix(&mut cmd, "ACS_EMULATOR_");
        let mut proc = Proc::spawn("acs-chat-emulator", &mut cmd)?;
        let stdout = lines(
            proc.child.stdout.take().expect("piped"),
            Some(File::create(run.work.join(format!("emulator-{port}.out")))?),
        );
        let mut reader = BannerReader::default();
        let mut banner = None;
        read_until(
            &stdout,
            Instant::now() + START_TIMEOUT,
            "the emulator's banner",
            |line| {
                banner = reader.line(line);
                banner.is_some()
            },
        )
        .with_context(|| format!("see {}", run.work.join("emulator.log").display()))?;
        Ok(Self {
            proc,
            banner: banner.expect("read_until ends on a banner"),
        })
    }

    fn port(&self) -> Option<u16> {
        self.banner
            .endpoint
            .trim_end_matches('/')
            .rsplit(':')
            .next()?
            .parse()
            .ok()
    }
}

/// A message a flow sent: the webhook must receive it once for the thread (no recipient) and
/// once for each recipient, and for no one else.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
struct SentMessage {
    thread_id: String,
    id: String,
    recipients: Vec<String>,
}

/// What a flow did that the webhook must have received.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Expected {
    #[serde(default)]
    threads_created: Vec<String>,
    #[serde(default)]
    threads_deleted: Vec<String>,
    #[serde(default)]
    messages: Vec<SentMessage>,
    /// (topic, message) of a thread and a message known by their content (the guide snippets).
    #[serde(skip)]
    by_content: Vec<(String, String)>,
}

/// The result file of a flow script.
#[derive(Debug, Deserialize)]
struct FlowResult {
    calls: u64,
    assertions: u64,
    events: Expected,
}

/// One line of the summary.
struct Outcome {
    name: String,
    elapsed: Duration,
    /// `Ok((calls, assertions))`, or why it failed.
    result: Result<Option<(u64, u64)>, String>,
}

#[derive(Default)]
struct Report {
    outcomes: Vec<Outcome>,
}

impl Report {
    fn failed(&self) -> bool {
        self.outcomes.iter().any(|o| o.result.is_err())
    }

    fn push(&mut self, name: &str, elapsed: Duration, result: Result<Option<(u64, u64)>, String>) {
        match &result {
            Ok(_) => println!("interop: {name}: passed ({:.1} s)", elapsed.as_secs_f64()),
            Err(e) => println!("interop: {name}: FAILED: {e}"),
        }
        self.outcomes.push(Outcome {
            name: name.to_owned(),
            elapsed,
            result,
        });
    }

    fn table(&self) -> String {
        let mut out = String::new();
        let (mut calls, mut assertions) = (0, 0);
        for o in &self.outcomes {
            let status = match &o.result {
                Ok(Some((c, a))) => {
                    calls += c;
                    assertions += a;
                    format!("passed  {c:>3} calls, {a:>3} assertions")
                }
                Ok(None) => "passed".to_owned(),
                Err(e) => format!("FAILED  {}", e.lines().next().unwrap_or_default()),
            };
            let _ = writeln!(
                out,
                "  {:<28} {:>6.1} s  {status}",
                o.name,
                o.elapsed.as_secs_f64()
            );
        }
        let passed = self.outcomes.iter().filter(|o| o.result.is_ok()).count();
        let _ = writeln!(out, "  {calls} SDK calls, {assertions} assertions");
        let _ = writeln!(
            out,
            "interop: {passed} passed, {} failed",
            self.outcomes.len() - passed
        );
        out
    }
}

/// Everything one run needs.
struct Run {
    work: PathBuf,
    python: PathBuf,
    node_dir: PathBuf,
    python_scripts: PathBuf,
    emulator_bin: PathBuf,
    cli_bin: PathBuf,
    guide: String,
}

/// How a script trusts the emulator's CA.
enum Trust<'a> {
    /// Passed by the script itself (`connection_verify=ACS_INTEROP_CA`).
    Argument,
    /// An environment variable naming the CA file.
    Env(&'static str, &'a Path),
}

impl Run {
    fn all(&self) -> anyhow::Result<Report> {
        let mut report = Report::default();
        let mut expected = Vec::new();

        let listener = Listener::start(&self.cli_bin, &self.work)?;
        let mut emulator = Emulator::start(self, &listener.url, 0)?;
        let banner = emulator.banner.clone();
        if !banner.ca.starts_with(self.work.join("data")) {
            bail!(
                "the emulator keeps its CA at {}, not in its --data-dir",
                banner.ca.display()
            );
        }
        println!(
            "interop: emulator at {} (CA {}), webhook {}",
            banner.endpoint,
            banner.ca.display(),
            listener.url
        );

        // 3. The guide's snippets, then the flows.
        for (lang, content) in [("python", GUIDE_PYTHON), ("node", GUIDE_NODE)] {
            let started = Instant::now();
            let result = self.guide_snippet(lang, &banner);
            if result.is_ok() {
                expected.push(Expected {
                    by_content: vec![(content.0.to_owned(), content.1.to_owned())],
                    ..Expected::default()
                });
            }
            report.push(
                &format!("GUIDES.md snippet ({lang})"),
                started.elapsed(),
                result.map(|()| None),
            );
        }
        let ssl = Trust::Env("SSL_CERT_FILE", &banner.ca);
        let node_ca = Trust::Env("NODE_EXTRA_CA_CERTS", &banner.ca);
        for (name, script, trust) in [
            ("python-sync", "flow_sync.py", Trust::Argument),
            ("python-async", "flow_async.py", ssl),
            ("node", "flow.mjs", node_ca),
        ] {
            self.flow(&mut report, &mut expected, name, script, &banner, &trust);
        }

        // 4. Persistence across a SIGKILL.
        let wrote = self.flow(
            &mut report,
            &mut expected,
            "persist: write (python)",
            "persist_write.py",
            &banner,
            &Trust::Argument,
        );
        if wrote {
            let started = Instant::now();
            let ca_before = self.work.join("ca-before-kill.pem");
            fs::copy(&banner.ca, &ca_before).context("copying the CA file")?;
            let port = emulator.port().context("the endpoint has no port")?;
            emulator.proc.kill()?;
            drop(emulator);
            emulator = match Emulator::start(self, &listener.url, port) {
                Ok(e) => e,
                Err(e) => {
                    println!("interop: port {port} not free again ({e:#}); restarting on another");
                    Emulator::start(self, &listener.url, 0)?
                }
            };
            let after = emulator.banner.clone();
            let same_ca =
                after.ca == banner.ca && fs::read(&after.ca).ok() == fs::read(&ca_before).ok();
            report.push(
                "persist: SIGKILL + restart",
                started.elapsed(),
                if same_ca {
                    Ok(None)
                } else {
                    Err(format!(
                        "the CA changed across the restart ({} then {})",
                        banner.ca.display(),
                        after.ca.display()
                    ))
                },
            );
            println!(
                "interop: emulator restarted at {} on the same data directory",
                after.endpoint
            );
            self.flow(
                &mut report,
                &mut expected,
                "persist: check (python)",
                "persist_check.py",
                &after,
                &Trust::Env("REQUESTS_CA_BUNDLE", &ca_before),
            );
            self.flow(
                &mut report,
                &mut expected,
                "persist: check (node)",
                "persist_check.mjs",
                &after,
                &Trust::Env("NODE_EXTRA_CA_CERTS", &ca_before),
            );
        }

        // 5. The webhook.
        let started = Instant::now();
        let missing = listener.wait_for(Instant::now() + EVENTS_TIMEOUT, |events| {
            missing_events(events, &expected)
        });
        let received = listener.received();
        let unexpected = unexpected_recipients(&received, &expected);
        let result = if missing.is_empty() && unexpected.is_empty() {
            Ok(None)
        } else {
            let mut why = String::new();
            if !missing.is_empty() {
                let _ = write!(
                    why,
                    "{} expected events missing after {EVENTS_TIMEOUT:?}: {}",
                    missing.len(),
                    summarize(&missing)
                );
            }
            if !unexpected.is_empty() {
                let _ = write!(
                    why,
                    "{}events for someone who was not a recipient: {}",
                    if why.is_empty() { "" } else { "; " },
                    summarize(&unexpected)
                );
            }
            Err(why)
        };
        let wanted: usize = expected.iter().map(Expected::count).sum();
        println!(
            "interop: the webhook received {} events; {wanted} expected were looked for",
            received.len()
        );
        report.push("webhook events", started.elapsed(), result);

        // Clean stops.
        let started = Instant::now();
        let mut stops = Vec::new();
        match emulator.proc.terminate() {
            Ok(status) if status.success() => {}
            Ok(status) => stops.push(format!("the emulator exited with {status}")),
            Err(e) => stops.push(format!("{e:#}")),
        }
        let mut listener = listener;
        match listener.proc.terminate() {
            Ok(status) if status.success() => {}
            Ok(status) => stops.push(format!("the listener exited with {status}")),
            Err(e) => stops.push(format!("{e:#}")),
        }
        report.push(
            "stop emulator and listener",
            started.elapsed(),
            if stops.is_empty() {
                Ok(None)
            } else {
                Err(stops.join("; "))
            },
        );
        Ok(report)
    }

    /// Runs one flow script; records its outcome and what the webhook must receive. True when it
    /// passed.
    fn flow(
        &self,
        report: &mut Report,
        expected: &mut Vec<Expected>,
        name: &str,
        script: &str,
        banner: &Banner,
        trust: &Trust<'_>,
    ) -> bool {
        let started = Instant::now();
        let out = self.work.join(format!("{}.json", script.replace('.', "-")));
        let result = self.script(script, banner, trust, &out).and_then(|()| {
            let text =
                fs::read_to_string(&out).with_context(|| format!("reading {}", out.display()))?;
            let result: FlowResult = serde_json::from_str(&text)
                .with_context(|| format!("parsing {}", out.display()))?;
            Ok(result)
        });
        match result {
            Ok(result) => {
                expected.push(result.events);
                report.push(
                    name,
                    started.elapsed(),
                    Ok(Some((result.calls, result.assertions))),
                );
                true
            }
            Err(e) => {
                report.push(name, started.elapsed(), Err(format!("{e:#}")));
                false
            }
        }
    }

    /// Runs a script of `xtask/interop/` (`.py` with the venv's python, `.mjs` with node).
    fn script(
        &self,
        script: &str,
        banner: &Banner,
        trust: &Trust<'_>,
        out: &Path,
    ) -> anyhow::Result<()> {
        let mut cmd = if script.ends_with(".py") {
            let mut cmd = Command::new(&self.python);
            cmd.arg(self.python_scripts.join(script));
            cmd
        } else {
            let mut cmd = Command::new("node");
            cmd.arg(self.node_dir.join(script))
                .current_dir(&self.node_dir);
            cmd
        };
        self.script_env(&mut cmd, trust);
        cmd.env("ACS_INTEROP_CONNECTION_STRING", &banner.connection_string)
            .env("ACS_INTEROP_ENDPOINT", &banner.endpoint)
            .env("ACS_INTEROP_CA", &banner.ca)
            .env("ACS_INTEROP_OUT", out)
            .env("ACS_INTEROP_STATE", self.work.join("persist-state.json"));
        self.finish(script, &mut cmd)
    }

    /// A clean environment for a script: no CA variable but the one `trust` names, no proxy
    /// for loopback, no bytecode written into the source tree.
    fn script_env(&self, cmd: &mut Command, trust: &Trust<'_>) {
        for var in [
            "SSL_CERT_FILE",
            "SSL_CERT_DIR",
            "REQUESTS_CA_BUNDLE",
            "CURL_CA_BUNDLE",
            "NODE_EXTRA_CA_CERTS",
            "NODE_OPTIONS",
        ] {
            cmd.env_remove(var);
        }
        if let Trust::Env(var, path) = trust {
            cmd.env(var, path);
        }
        cmd.env("PYTHONDONTWRITEBYTECODE", "1")
            .env("NO_PROXY", "127.0.0.1,localhost")
            .env("no_proxy", "127.0.0.1,localhost");
    }

    /// Runs a script to its end; its last stdout line is echoed, its output kept in the work
    /// directory, and a failure carries the end of its stderr.
    fn finish(&self, name: &str, cmd: &mut Command) -> anyhow::Result<()> {
        let finished = run_to_end(name, cmd, FLOW_TIMEOUT)?;
        let log = self.work.join(format!("{}.log", name.replace('.', "-")));
        let _ = fs::write(
            &log,
            format!("{}\n--- stderr\n{}", finished.stdout, finished.stderr),
        );
        for line in finished.stdout.lines().filter(|l| !l.trim().is_empty()) {
            println!("    {line}");
        }
        if !finished.status.success() {
            let tail: Vec<&str> = finished.stderr.lines().rev().take(25).collect();
            let tail: Vec<&str> = tail.into_iter().rev().collect();
            bail!(
                "{name} exited with {}:\n      {}",
                finished.status,
                tail.join("\n      ")
            );
        }
        Ok(())
    }

    /// Runs GUIDES.md's snippet for `lang` with the running emulator's values.
    fn guide_snippet(&self, lang: &str, banner: &Banner) -> Result<(), String> {
        let snippets = guide_snippets(&self.guide).map_err(|e| format!("{e:#}"))?;
        let (code, content) = match lang {
            "python" => (snippets.python, GUIDE_PYTHON),
            _ => (snippets.node, GUIDE_NODE),
        };
        let code = adapt(&code, banner, content).map_err(|e| format!("{e:#}"))?;
        let result = if lang == "python" {
            let file = self.work.join("guide_snippet.py");
            fs::write(&file, code).map_err(|e| e.to_string())?;
            let mut cmd = Command::new(&self.python);
            cmd.arg(&file).current_dir(&self.work);
            self.script_env(&mut cmd, &Trust::Argument);
            self.finish("guide_snippet.py", &mut cmd)
        } else {
            let file = self.node_dir.join("guide_snippet.mjs");
            fs::write(&file, code).map_err(|e| e.to_string())?;
            let mut cmd = Command::new("node");
            cmd.arg(&file).current_dir(&self.node_dir);
            self.script_env(&mut cmd, &Trust::Env("NODE_EXTRA_CA_CERTS", &banner.ca));
            self.finish("guide_snippet.mjs", &mut cmd)
        };
        result.map_err(|e| format!("{e:#}"))
    }
}

/// The Python and the Node snippet of GUIDES.md's section on the emulator.
#[derive(Debug)]
struct Snippets {
    python: String,
    node: String,
}

fn guide_snippets(guide: &str) -> anyhow::Result<Snippets> {
    let start = guide
        .find(&format!("\n{GUIDE_SECTION}\n"))
        .ok_or_else(|| anyhow!("GUIDES.md has no section `{GUIDE_SECTION}`"))?;
    let section = &guide[start + 1..];
    let section = section[GUIDE_SECTION.len()..]
        .find("\n## ")
        .map_or(section, |end| &section[..GUIDE_SECTION.len() + end]);
    let block = |fence: &str| -> anyhow::Result<String> {
        let open = format!("```{fence}\n");
        let begin = section
            .find(&open)
            .ok_or_else(|| anyhow!("GUIDES.md `{GUIDE_SECTION}` has no ```{fence} block"))?
            + open.len();
        let end = section[begin..]
            .find("```")
            .ok_or_else(|| anyhow!("GUIDES.md: the ```{fence} block is not closed"))?;
        Ok(section[begin..begin + end].to_owned())
    };
    Ok(Snippets {
        python: block("python")?,
        node: block("js")?,
    })
}

/// The snippet with the guide's endpoint and CA path replaced by the emulator's; the connection
/// string it then has must be the emulator's, and it must still create what the webhook check
/// looks for.
fn adapt(snippet: &str, banner: &Banner, (topic, message): (&str, &str)) -> anyhow::Result<String> {
    for needle in [GUIDE_ENDPOINT, topic, message] {
        if !snippet.contains(needle) {
            bail!(
                "the GUIDES.md snippet no longer contains {needle:?}: update xtask/src/interop.rs with it"
            );
        }
    }
    let mut code = snippet.replace(GUIDE_ENDPOINT, &banner.endpoint);
    if code.contains(GUIDE_CA) {
        let ca = banner.ca.to_str().context("the CA path is not UTF-8")?;
        code = code.replace(GUIDE_CA, &serde_json::to_string(ca)?);
    }
    if !code.contains(&format!("\"{}\"", banner.connection_string)) {
        bail!(
            "the GUIDES.md snippet's connection string, with the endpoint replaced, is not the emulator's"
        );
    }
    Ok(code)
}

impl Expected {
    fn count(&self) -> usize {
        self.threads_created.len()
            + self.threads_deleted.len()
            + self
                .messages
                .iter()
                .map(|m| 1 + m.recipients.len())
                .sum::<usize>()
            + 2 * self.by_content.len()
    }
}

fn str_at<'a>(event: &'a Value, pointer: &str) -> Option<&'a str> {
    event.pointer(pointer).and_then(Value::as_str)
}

/// The expected events not (yet) received, described.
fn missing_events(events: &[Value], expected: &[Expected]) -> Vec<String> {
    // (type, thread, message id or "", recipient or "") of every event received.
    let mut seen: BTreeSet<(&str, &str, &str, &str)> = BTreeSet::new();
    let mut contents: BTreeSet<(&str, &str)> = BTreeSet::new();
    for e in events {
        let kind = str_at(e, "/type").unwrap_or_default();
        let thread = str_at(e, "/threadId").unwrap_or_default();
        let id = if kind == "chatMessageReceived" {
            str_at(e, "/id").unwrap_or_default()
        } else {
            ""
        };
        let recipient = str_at(e, "/recipient/rawId").unwrap_or_default();
        seen.insert((kind, thread, id, recipient));
        if recipient.is_empty() {
            match kind {
                "chatThreadCreated" => {
                    contents.insert((kind, str_at(e, "/properties/topic").unwrap_or_default()));
                }
                "chatMessageReceived" => {
                    contents.insert((kind, str_at(e, "/message").unwrap_or_default()));
                }
                _ => {}
            }
        }
    }
    let mut missing = Vec::new();
    for x in expected {
        for t in &x.threads_created {
            if !seen.contains(&("chatThreadCreated", t.as_str(), "", "")) {
                missing.push(format!("chatThreadCreated {t}"));
            }
        }
        for t in &x.threads_deleted {
            if !seen.contains(&("chatThreadDeleted", t.as_str(), "", "")) {
                missing.push(format!("chatThreadDeleted {t}"));
            }
        }
        for m in &x.messages {
            let key = ("chatMessageReceived", m.thread_id.as_str(), m.id.as_str());
            if !seen.contains(&(key.0, key.1, key.2, "")) {
                missing.push(format!("chatMessageReceived {} in {}", m.id, m.thread_id));
            }
            for r in &m.recipients {
                if !seen.contains(&(key.0, key.1, key.2, r.as_str())) {
                    missing.push(format!(
                        "chatMessageReceived {} in {} for {r}",
                        m.id, m.thread_id
                    ));
                }
            }
        }
        for (topic, message) in &x.by_content {
            if !contents.contains(&("chatThreadCreated", topic.as_str())) {
                missing.push(format!("chatThreadCreated with the topic {topic:?}"));
            }
            if !contents.contains(&("chatMessageReceived", message.as_str())) {
                missing.push(format!("chatMessageReceived {message:?}"));
            }
        }
    }
    missing
}

/// `chatMessageReceived` events for an expected message addressed to someone who is not one of
/// its recipients (the sender, or a participant who had left).
fn unexpected_recipients(events: &[Value], expected: &[Expected]) -> Vec<String> {
    let recipients: BTreeMap<(&str, &str), &[String]> = expected
        .iter()
        .flat_map(|x| &x.messages)
        .map(|m| {
            (
                (m.thread_id.as_str(), m.id.as_str()),
                m.recipients.as_slice(),
            )
        })
        .collect();
    let mut wrong = BTreeSet::new();
    for e in events {
        if str_at(e, "/type") != Some("chatMessageReceived") {
            continue;
        }
        let (Some(thread), Some(id), Some(recipient)) = (
            str_at(e, "/threadId"),
            str_at(e, "/id"),
            str_at(e, "/recipient/rawId"),
        ) else {
            continue;
        };
        if let Some(want) = recipients.get(&(thread, id))
            && !want.iter().any(|r| r == recipient)
        {
            wrong.insert(format!("message {id} in {thread} for {recipient}"));
        }
    }
    wrong.into_iter().collect()
}

/// The first few items of a list, and how many more.
fn summarize(items: &[String]) -> String {
    let mut text = items.iter().take(5).cloned().collect::<Vec<_>>().join(", ");
    if items.len() > 5 {
        let _ = write!(text, " and {} more", items.len() - 5);
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn banner() -> Banner {
        Banner {
            endpoint: "https://127.0.0.1:4321/".to_owned(),
            connection_string: format!(
                "endpoint=https://127.0.0.1:4321/;accesskey={}",
                "YWNzLWNoYXQtZW11bGF0b3Itd2VsbC1rbm93bi1kZXZlbG9wbWVudC1rZXkhIQ=="
            ),
            ca: PathBuf::from("/tmp/x/data/ca.pem"),
        }
    }

    #[test]
    fn the_guide_snippets_are_found_and_adapted() {
        let guide = fs::read_to_string(crate::workspace_root().join("GUIDES.md")).unwrap();
        let snippets = guide_snippets(&guide).unwrap();
        assert!(
            snippets
                .python
                .contains("from azure.communication.chat import")
        );
        assert!(snippets.node.contains("@azure/communication-chat"));
        let python = adapt(&snippets.python, &banner(), GUIDE_PYTHON).unwrap();
        assert!(python.contains("ca = \"/tmp/x/data/ca.pem\""), "{python}");
        assert!(!python.contains("10500"));
        let node = adapt(&snippets.node, &banner(), GUIDE_NODE).unwrap();
        assert!(node.contains("https://127.0.0.1:4321/"));
        assert!(!node.contains("10500"));
    }

    #[test]
    fn a_snippet_without_the_placeholders_is_refused() {
        let err = adapt("print('hi')", &banner(), GUIDE_PYTHON).unwrap_err();
        assert!(err.to_string().contains("no longer contains"), "{err}");
        let other_key = format!(
            "conn = \"endpoint={GUIDE_ENDPOINT};accesskey=b3RoZXI=\"\n# From Python, hello from Python"
        );
        assert!(adapt(&other_key, &banner(), GUIDE_PYTHON).is_err());
    }

    #[test]
    fn the_banner_is_read() {
        let mut reader = BannerReader::default();
        let text = "ACS Chat emulator listening
endpoint:          https://127.0.0.1:4321/
connection string: endpoint=https://127.0.0.1:4321/;accesskey=YWNzLWNoYXQtZW11bGF0b3Itd2VsbC1rbm93bi1kZXZlbG9wbWVudC1rZXkhIQ==
state:             /tmp/x/data (SQLite)
web view:          https://127.0.0.1:4321/_emulator/
CA certificate:    /tmp/x/data/ca.pem (trust it in your client)
event webhook:     WEBHOOK-1 http://127.0.0.1:9/ (eventgrid)";
        let mut got = None;
        for line in text.lines() {
            assert!(got.is_none(), "complete before the webhook line");
            got = reader.line(line);
        }
        assert_eq!(got, Some(banner()));
    }

    #[test]
    fn the_listener_url_is_read() {
        assert_eq!(
            listener_url(
                "acs-chat: receiving Event Grid deliveries at http://127.0.0.1:4000/ (Ctrl-C to stop)"
            ),
            Some("http://127.0.0.1:4000/".to_owned())
        );
        assert_eq!(listener_url("acs-chat: something else"), None);
    }

    fn message_event(id: &str, recipient: Option<&str>) -> Value {
        let mut e =
            json!({"type": "chatMessageReceived", "threadId": "19:t", "id": id, "message": "m"});
        if let Some(r) = recipient {
            e["recipient"] = json!({"rawId": r});
        }
        e
    }

    #[test]
    fn events_are_matched_at_least_once() {
        let expected = vec![Expected {
            threads_created: vec!["19:t".to_owned()],
            threads_deleted: vec!["19:t".to_owned()],
            messages: vec![SentMessage {
                thread_id: "19:t".to_owned(),
                id: "1".to_owned(),
                recipients: vec!["8:acs:b".to_owned(), "8:acs:c".to_owned()],
            }],
            by_content: vec![],
        }];
        let mut events = vec![
            json!({"type": "chatThreadCreated", "threadId": "19:t"}),
            message_event("1", None),
            message_event("1", Some("8:acs:b")),
            message_event("1", Some("8:acs:b")), // delivered twice: fine
        ];
        let missing = missing_events(&events, &expected);
        assert_eq!(
            missing,
            vec![
                "chatThreadDeleted 19:t".to_owned(),
                "chatMessageReceived 1 in 19:t for 8:acs:c".to_owned()
            ]
        );
        events.push(message_event("1", Some("8:acs:c")));
        events.push(json!({"type": "chatThreadDeleted", "threadId": "19:t"}));
        assert!(missing_events(&events, &expected).is_empty());
        assert!(unexpected_recipients(&events, &expected).is_empty());
        events.push(message_event("1", Some("8:acs:a")));
        assert_eq!(
            unexpected_recipients(&events, &expected),
            vec!["message 1 in 19:t for 8:acs:a".to_owned()]
        );
    }

    #[test]
    fn events_are_matched_by_content() {
        let expected = vec![Expected {
            by_content: vec![("From Python".to_owned(), "hello from Python".to_owned())],
            ..Expected::default()
        }];
        let events = vec![
            json!({"type": "chatThreadCreated", "threadId": "19:p", "properties": {"topic": "From Python"}}),
            json!({"type": "chatMessageReceived", "threadId": "19:p", "id": "5", "message": "hello from Python"}),
        ];
        assert!(missing_events(&events, &expected).is_empty());
        assert_eq!(missing_events(&events[..1], &expected).len(), 1);
    }
}
