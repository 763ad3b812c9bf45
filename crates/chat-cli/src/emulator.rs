//! `acs-chat emulator`: the chat-emulator library in the foreground, like `acs-chat-emulator`.

use chat_emulator::{DEV_ACCESS_KEY, Emulator};

use crate::Failure;
use crate::cli::EmulatorArgs;
use crate::output::write_stdout;

pub(crate) async fn run(args: EmulatorArgs) -> Result<(), Failure> {
    let mut builder = Emulator::builder()
        .host(args.host)
        .port(args.port)
        .access_key(args.access_key.unwrap_or_else(|| DEV_ACCESS_KEY.to_owned()))
        .http(args.http)
        .throttle(args.throttle);
    if let (Some(cert), Some(key)) = (&args.cert, &args.key) {
        let read = |path: &std::path::Path, flag: &str| {
            std::fs::read_to_string(path)
                .map_err(|e| Failure::Usage(format!("{flag} {}: {e}", path.display())))
        };
        builder = builder.tls_pem(read(cert, "--cert")?, read(key, "--key")?);
    }
    let emulator = builder
        .start()
        .await
        .map_err(|e| Failure::Runtime(format!("the emulator did not start: {e}")))?;
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
                .map_err(|e| Failure::Runtime(format!("{}: {e}", dir.display())))?;
        }
        std::fs::write(&path, pem)
            .map_err(|e| Failure::Runtime(format!("{}: {e}", path.display())))?;
        banner.push_str(&format!(
            "CA certificate:    {} (pass it with --ca-cert)\n",
            path.display()
        ));
    }
    if args.throttle {
        banner.push_str(
            "throttling:        on (10 message operations per 10 s, 30 per minute, per thread)\n",
        );
    }
    // A closed stdout must not stop the emulator.
    let _ = write_stdout(&banner);
    wait_for_signal()
        .await
        .map_err(|e| Failure::Runtime(format!("cannot wait for Ctrl-C: {e}")))?;
    let _ = write_stdout("shutting down\n");
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
