//! Running the emulator in the foreground until Ctrl-C or SIGTERM: the shared body of the
//! `acs-chat-emulator` binary and of `acs-chat emulator`.

use std::fmt;
use std::io::Write as _;
use std::path::{Path, PathBuf};

use crate::{DEFAULT_PORT, DEV_ACCESS_KEY, DeliveryOptions, Emulator, EventSchema};

/// The command-line flags of the emulator (a `clap` argument group, flattened into both binaries).
#[derive(Debug, Clone, clap::Args)]
#[non_exhaustive]
pub struct ServeArgs {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1", env = "ACS_EMULATOR_HOST")]
    pub host: String,
    /// Port to listen on (0: any free port).
    #[arg(long, default_value_t = DEFAULT_PORT, env = "ACS_EMULATOR_PORT")]
    pub port: u16,
    /// Access key (base64) for HMAC request signatures and token signing
    /// [default: the well-known development key].
    #[arg(long, env = "ACS_EMULATOR_ACCESS_KEY", hide_env_values = true)]
    pub access_key: Option<String>,
    /// Serve HTTPS with this certificate chain (PEM) instead of a generated one.
    #[arg(long, requires = "key")]
    pub cert: Option<PathBuf>,
    /// The private key (PEM) of --cert.
    #[arg(long, requires = "cert")]
    pub key: Option<PathBuf>,
    /// Serve plain HTTP (loopback use only: the official chat SDKs need HTTPS).
    #[arg(long, conflicts_with_all = ["cert", "key"])]
    pub http: bool,
    /// Enforce the per-thread message rate limits (429 with Retry-After).
    #[arg(long)]
    pub throttle: bool,
    /// Where to write the generated CA certificate.
    #[arg(
        long,
        value_name = "PATH",
        help = "Also write the generated CA certificate here [default: the kept CA file, <data dir>/ca.pem or <user data dir>/acs-chat-emulator/ca.pem]"
    )]
    pub ca_out: Option<PathBuf>,
    /// What to log on stderr: a level (error, warn, info, debug, trace, off) or per target
    /// (`warn,acs_chat_emulator=debug`) [default: RUST_LOG, else the startup line and
    /// warnings; `debug` logs every request].
    #[arg(long, value_name = "FILTER")]
    pub log_level: Option<String>,
    /// Keep the state (and the CA) in SQLite in this directory, across restarts
    /// [default: in memory; the CA is kept in the user's data directory].
    #[arg(long, value_name = "DIR", env = "ACS_EMULATOR_DATA_DIR")]
    pub data_dir: Option<PathBuf>,
    /// Deliver every chat event to this webhook, as an Event Grid subscription does
    /// (repeatable; `NAME=URL` names the subscription): the validation handshake first, then
    /// each event at least once, retried with backoff.
    #[arg(
        long,
        value_name = "[NAME=]URL",
        env = "ACS_EMULATOR_EVENT_WEBHOOK",
        value_delimiter = ','
    )]
    pub event_webhook: Vec<String>,
    /// The schema of webhook deliveries.
    #[arg(
        long,
        value_name = "SCHEMA",
        default_value_t = EventSchema::EventGrid,
        env = "ACS_EMULATOR_EVENT_SCHEMA"
    )]
    pub event_schema: EventSchema,
    /// Attempts per event before it is dead-lettered (Event Grid: 1 to 30).
    #[arg(long, value_name = "N", default_value_t = 30, value_parser = clap::value_parser!(u32).range(1..=30))]
    pub event_max_attempts: u32,
    /// Minutes an event may wait for delivery before it is dead-lettered (Event Grid: 1 to
    /// 1440).
    #[arg(long, value_name = "MINUTES", default_value_t = 1440, value_parser = clap::value_parser!(u64).range(1..=1440))]
    pub event_ttl_minutes: u64,
}

/// The log filter of the foreground emulator when neither `--log-level` nor `RUST_LOG` says
/// otherwise: the one startup line (info) and warnings.
pub const DEFAULT_LOG_FILTER: &str = "warn,acs_chat_emulator=info";

/// Installs the global log subscriber of a foreground emulator (stderr): the filter is
/// `log_level` (`--log-level`), else `debug` when `verbose`, else `RUST_LOG`, else
/// [`DEFAULT_LOG_FILTER`]. Request lines are at `debug`. The library never calls this: only
/// a binary does, once, before [`serve_foreground`]; it does nothing when a subscriber is
/// already installed.
pub fn init_logging(log_level: Option<&str>, verbose: bool) -> Result<(), ServeError> {
    use tracing_subscriber::prelude::*;

    let env = std::env::var("RUST_LOG")
        .ok()
        .filter(|v| !v.trim().is_empty());
    let (text, source) = match (log_level, verbose, env.as_deref()) {
        (Some(level), _, _) => (level, "--log-level"),
        (None, true, _) => ("debug", "--verbose"),
        (None, false, Some(env)) => (env, "RUST_LOG"),
        (None, false, None) => (DEFAULT_LOG_FILTER, "the default"),
    };
    let filter: tracing_subscriber::filter::Targets = text
        .parse()
        .map_err(|e| ServeError::Usage(format!("{source} `{text}`: {e}")))?;
    let layer = tracing_subscriber::fmt::layer()
        .with_target(false)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_writer(std::io::stderr);
    let _ = tracing_subscriber::registry()
        .with(layer)
        .with(filter)
        .try_init();
    Ok(())
}

/// Why [`serve_foreground`] stopped with an error.
#[derive(Debug)]
#[non_exhaustive]
pub enum ServeError {
    /// A flag's value is unusable (an unreadable `--cert` or `--key`).
    Usage(String),
    /// The emulator could not start or run.
    Runtime(String),
}

impl fmt::Display for ServeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Usage(m) | Self::Runtime(m) => f.write_str(m),
        }
    }
}

impl std::error::Error for ServeError {}

/// Starts the emulator, prints its endpoint, connection string and certificate file on stdout,
/// and serves until Ctrl-C or SIGTERM. `trust_hint` ends the certificate line (e.g. "pass it
/// with --ca-cert"). A closed stdout does not stop it.
pub async fn serve_foreground(args: ServeArgs, trust_hint: &str) -> Result<(), ServeError> {
    let mut builder = Emulator::builder()
        .host(args.host)
        .port(args.port)
        .access_key(args.access_key.unwrap_or_else(|| DEV_ACCESS_KEY.to_owned()))
        .http(args.http)
        .throttle(args.throttle)
        .event_schema(args.event_schema)
        .event_delivery(
            DeliveryOptions::default()
                .max_attempts(args.event_max_attempts)
                .event_ttl(std::time::Duration::from_secs(args.event_ttl_minutes * 60)),
        );
    for webhook in &args.event_webhook {
        builder = builder.event_webhook(webhook);
    }
    if let (Some(cert), Some(key)) = (&args.cert, &args.key) {
        let read = |path: &Path, flag: &str| {
            std::fs::read_to_string(path)
                .map_err(|e| ServeError::Usage(format!("{flag} {}: {e}", path.display())))
        };
        builder = builder.tls_pem(read(cert, "--cert")?, read(key, "--key")?);
    }
    if let Some(dir) = &args.data_dir {
        builder = builder.data_dir(dir);
    } else if let Some(dir) = crate::tls::default_ca_dir() {
        builder = builder.ca_dir(dir);
    }
    let emulator = builder
        .start()
        .await
        .map_err(|e| ServeError::Runtime(format!("the emulator did not start: {e}")))?;
    let state = match &args.data_dir {
        Some(dir) => format!("{} (SQLite)", dir.display()),
        None => "in memory".to_owned(),
    };
    // Loopback clients need no token; from elsewhere the page needs it.
    let loopback = emulator.local_addr().ip().to_canonical().is_loopback();
    let web_view = if loopback {
        format!("{}_emulator/", emulator.endpoint())
    } else {
        emulator.web_view_url()
    };
    let mut banner = format!(
        "ACS Chat emulator listening\nendpoint:          {}\nconnection string: {}\nstate:             {state}\nweb view:          {web_view}\n",
        emulator.endpoint(),
        emulator.connection_string()
    );
    if let Some(pem) = emulator.ca_certificate_pem() {
        // The kept CA file itself, unless asked for a copy elsewhere (or none could be kept).
        let kept = emulator.ca_certificate_path().map(Path::to_path_buf);
        let path = match (args.ca_out, kept) {
            (Some(out), _) => {
                write_file(&out, &pem)?;
                out
            }
            (None, Some(kept)) => kept,
            (None, None) => {
                let path = std::env::temp_dir()
                    .join("acs-chat-emulator")
                    .join(format!("ca-{}.pem", emulator.local_addr().port()));
                write_file(&path, &pem)?;
                path
            }
        };
        banner.push_str(&format!(
            "CA certificate:    {} ({trust_hint})\n",
            path.display()
        ));
    }
    for sub in emulator.event_subscriptions() {
        banner.push_str(&format!(
            "event webhook:     {} {} ({})\n",
            sub.name,
            crate::events::redacted_url(&sub.endpoint),
            sub.schema
        ));
    }
    if args.throttle {
        banner.push_str(
            "throttling:        on (10 message operations per 10 s, 30 per minute, per thread)\n",
        );
    }
    // Listen for the signals before telling anyone the emulator is up.
    let stop = wait_for_signal()
        .map_err(|e| ServeError::Runtime(format!("cannot wait for Ctrl-C: {e}")))?;
    say(&banner);
    stop.await;
    say("shutting down\n");
    emulator.shutdown().await;
    Ok(())
}

/// Writes `contents` to `path`, making its directory.
fn write_file(path: &Path, contents: &str) -> Result<(), ServeError> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)
            .map_err(|e| ServeError::Runtime(format!("{}: {e}", dir.display())))?;
    }
    std::fs::write(path, contents)
        .map_err(|e| ServeError::Runtime(format!("{}: {e}", path.display())))
}

/// Writes to stdout, ignoring errors (a closed pipe must not stop the emulator).
fn say(text: &str) {
    let mut out = std::io::stdout().lock();
    let _ = out.write_all(text.as_bytes());
    let _ = out.flush();
}

/// Registers for Ctrl-C and SIGTERM now; the future ends at the first of them.
#[cfg(unix)]
fn wait_for_signal() -> std::io::Result<impl Future<Output = ()>> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = signal(SignalKind::terminate())?;
    let mut interrupt = signal(SignalKind::interrupt())?;
    Ok(async move {
        tokio::select! {
            _ = interrupt.recv() => {}
            _ = term.recv() => {}
        }
    })
}

/// Registers for Ctrl-C now; the future ends when it comes.
#[cfg(not(unix))]
fn wait_for_signal() -> std::io::Result<impl Future<Output = ()>> {
    Ok(async {
        let _ = tokio::signal::ctrl_c().await;
    })
}
