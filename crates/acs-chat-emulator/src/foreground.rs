//! Running the emulator in the foreground until Ctrl-C or SIGTERM: the shared body of the
//! `acs-chat-emulator` binary and of `acs-chat emulator`.

use std::fmt;
use std::io::Write as _;
use std::path::PathBuf;

use crate::{DEFAULT_PORT, DEV_ACCESS_KEY, Emulator};

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
        help = "Where to write the generated CA certificate [default: <temp dir>/acs-chat-emulator/ca-<port>.pem]"
    )]
    pub ca_out: Option<PathBuf>,
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
        .throttle(args.throttle);
    if let (Some(cert), Some(key)) = (&args.cert, &args.key) {
        let read = |path: &std::path::Path, flag: &str| {
            std::fs::read_to_string(path)
                .map_err(|e| ServeError::Usage(format!("{flag} {}: {e}", path.display())))
        };
        builder = builder.tls_pem(read(cert, "--cert")?, read(key, "--key")?);
    }
    let emulator = builder
        .start()
        .await
        .map_err(|e| ServeError::Runtime(format!("the emulator did not start: {e}")))?;
    let mut banner = format!(
        "ACS Chat emulator listening\nendpoint:          {}\nconnection string: {}\n",
        emulator.endpoint(),
        emulator.connection_string()
    );
    if let Some(pem) = emulator.ca_certificate_pem() {
        let path = args.ca_out.unwrap_or_else(|| {
            std::env::temp_dir()
                .join("acs-chat-emulator")
                .join(format!("ca-{}.pem", emulator.local_addr().port()))
        });
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)
                .map_err(|e| ServeError::Runtime(format!("{}: {e}", dir.display())))?;
        }
        std::fs::write(&path, pem)
            .map_err(|e| ServeError::Runtime(format!("{}: {e}", path.display())))?;
        banner.push_str(&format!(
            "CA certificate:    {} ({trust_hint})\n",
            path.display()
        ));
    }
    if args.throttle {
        banner.push_str(
            "throttling:        on (10 message operations per 10 s, 30 per minute, per thread)\n",
        );
    }
    say(&banner);
    wait_for_signal()
        .await
        .map_err(|e| ServeError::Runtime(format!("cannot wait for Ctrl-C: {e}")))?;
    say("shutting down\n");
    emulator.shutdown().await;
    Ok(())
}

/// Writes to stdout, ignoring errors (a closed pipe must not stop the emulator).
fn say(text: &str) {
    let mut out = std::io::stdout().lock();
    let _ = out.write_all(text.as_bytes());
    let _ = out.flush();
}

#[cfg(unix)]
async fn wait_for_signal() -> std::io::Result<()> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = signal(SignalKind::terminate())?;
    tokio::select! {
        r = tokio::signal::ctrl_c() => r,
        _ = term.recv() => Ok(()),
    }
}

#[cfg(not(unix))]
async fn wait_for_signal() -> std::io::Result<()> {
    tokio::signal::ctrl_c().await
}
