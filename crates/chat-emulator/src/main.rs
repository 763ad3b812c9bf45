//! `acs-chat-emulator`: runs the ACS Chat + Identity emulator until Ctrl-C or SIGTERM.

use std::path::PathBuf;
use std::process::ExitCode;

use chat_emulator::{DEFAULT_PORT, DEV_ACCESS_KEY, Emulator};
use clap::Parser;

/// A local, in-memory emulator of the Azure Communication Services Chat and Identity services.
#[derive(Debug, Parser)]
#[command(name = "acs-chat-emulator", version, about)]
struct Args {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1", env = "ACS_EMULATOR_HOST")]
    host: String,
    /// Port to listen on (0: any free port).
    #[arg(long, default_value_t = DEFAULT_PORT, env = "ACS_EMULATOR_PORT")]
    port: u16,
    /// Access key (base64) for HMAC request signatures and token signing
    /// [default: the well-known development key].
    #[arg(long, env = "ACS_EMULATOR_ACCESS_KEY", hide_env_values = true)]
    access_key: Option<String>,
    /// Serve HTTPS with this certificate chain (PEM) instead of a generated one.
    #[arg(long, requires = "key")]
    cert: Option<PathBuf>,
    /// The private key (PEM) of --cert.
    #[arg(long, requires = "cert")]
    key: Option<PathBuf>,
    /// Serve plain HTTP (loopback use only: the official chat SDKs need HTTPS).
    #[arg(long, conflicts_with_all = ["cert", "key"])]
    http: bool,
    /// Enforce the per-thread message rate limits (429 with Retry-After).
    #[arg(long)]
    throttle: bool,
    /// Where to write the generated CA certificate.
    #[arg(
        long,
        help = "Where to write the generated CA certificate [default: <temp dir>/acs-chat-emulator/ca-<port>.pem]"
    )]
    ca_out: Option<PathBuf>,
}

/// Prints a line to stdout, ignoring errors (a closed pipe must not stop the emulator).
macro_rules! say {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stdout(), $($arg)*);
    }};
}

#[tokio::main]
async fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_target(false)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_writer(std::io::stderr)
        .init();
    match run(Args::parse()).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("acs-chat-emulator: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn run(args: Args) -> Result<(), Box<dyn std::error::Error>> {
    let mut builder = Emulator::builder()
        .host(args.host)
        .port(args.port)
        .access_key(args.access_key.unwrap_or_else(|| DEV_ACCESS_KEY.to_owned()))
        .http(args.http)
        .throttle(args.throttle);
    if let (Some(cert), Some(key)) = (&args.cert, &args.key) {
        let cert =
            std::fs::read_to_string(cert).map_err(|e| format!("--cert {}: {e}", cert.display()))?;
        let key =
            std::fs::read_to_string(key).map_err(|e| format!("--key {}: {e}", key.display()))?;
        builder = builder.tls_pem(cert, key);
    }
    let emulator = builder.start().await?;
    say!("ACS Chat emulator listening");
    say!("endpoint:          {}", emulator.endpoint());
    say!("connection string: {}", emulator.connection_string());
    if let Some(pem) = emulator.ca_certificate_pem() {
        let path = args.ca_out.unwrap_or_else(|| {
            std::env::temp_dir()
                .join("acs-chat-emulator")
                .join(format!("ca-{}.pem", emulator.local_addr().port()))
        });
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        }
        std::fs::write(&path, pem).map_err(|e| format!("{}: {e}", path.display()))?;
        say!(
            "CA certificate:    {} (trust it in your client)",
            path.display()
        );
    }
    if args.throttle {
        say!("throttling:        on (10 message operations per 10 s, 30 per minute, per thread)");
    }
    wait_for_signal().await?;
    say!("shutting down");
    emulator.shutdown().await;
    Ok(())
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
