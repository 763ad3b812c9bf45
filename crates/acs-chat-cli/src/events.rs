//! `message watch`, `events watch` and `events listen`: chat events as they happen, one line per
//! event, until Ctrl-C, SIGTERM or `--max-events`.

use std::future::Future;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use acs_chat::futures::StreamExt as _;
use acs_chat::{ChatEvent, EventGridListener, Watch, WatchCursor, WatchOptions};

use crate::cli::{ChatArgs, OutputArgs, WatchArgs};
use crate::failure::{Failure, call_failed, describe};
use crate::output::{Printer, write_stderr};

/// Resolves on Ctrl-C or SIGTERM (never, when the signals cannot be watched).
async fn shutdown() {
    let ctrl_c = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {}
        () = term => {}
    }
}

/// The options of a watch: from the cursor file when it has one, else from `--since` or now.
fn watch_options(args: &WatchArgs) -> Result<WatchOptions, Failure> {
    let mut options = WatchOptions::default();
    if let [min, max] = args.poll_interval[..] {
        if min > max {
            return Err(Failure::Usage(
                "--poll-interval: the shortest pause comes first".to_owned(),
            ));
        }
        options = options.intervals(min, max);
    }
    if let Some(Some(cursor)) = args.cursor_file.as_deref().map(read_cursor).transpose()? {
        return Ok(options.resume(cursor));
    }
    if let Some(since) = args.since {
        options = options.since(since);
    }
    Ok(options)
}

/// The saved cursor, `None` when the file does not exist or is empty.
fn read_cursor(path: &Path) -> Result<Option<WatchCursor>, Failure> {
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => {
            return Err(Failure::Usage(format!(
                "--cursor-file {}: {e}",
                path.display()
            )));
        }
    };
    if text.trim().is_empty() {
        return Ok(None);
    }
    serde_json::from_str(&text).map(Some).map_err(|e| {
        Failure::Usage(format!(
            "--cursor-file {}: not a saved cursor ({e}); remove it to start afresh",
            path.display()
        ))
    })
}

/// Saves the cursor: written next to the file, then renamed over it, so a crash leaves the
/// old cursor or the new one, never half of one.
fn save_cursor(path: &Path, cursor: &WatchCursor) -> Result<(), Failure> {
    let text = serde_json::to_string(cursor)
        .map_err(|e| Failure::Runtime(format!("cannot save the cursor: {e}")))?;
    let mut temp: PathBuf = path.to_owned();
    temp.as_mut_os_string().push(".tmp");
    std::fs::write(&temp, text)
        .and_then(|()| std::fs::rename(&temp, path))
        .map_err(|e| Failure::Runtime(format!("cannot save the cursor to {}: {e}", path.display())))
}

/// `message watch` (one thread) and `events watch` (every thread).
pub(crate) async fn watch(
    g: &ChatArgs,
    client: acs_chat::ChatClient,
    thread: Option<String>,
    args: WatchArgs,
) -> Result<(), Failure> {
    let out = Printer::new(&g.common.output);
    let mut writer = out.events()?;
    let options = watch_options(&args)?;
    let watch = match thread {
        Some(id) => client.chat_thread_client(id).watch(options).await,
        None => client.watch(options).await,
    }
    .map_err(call_failed)?;
    write_stderr("acs-chat: watching (Ctrl-C to stop)");
    run_watch(watch, &args, &mut |event| writer.event(event), shutdown()).await
}

async fn run_watch(
    mut watch: Watch,
    args: &WatchArgs,
    print: &mut dyn FnMut(&ChatEvent) -> Result<bool, Failure>,
    stop: impl Future<Output = ()>,
) -> Result<(), Failure> {
    let mut printed = 0u64;
    let mut last_error = None;
    tokio::pin!(stop);
    loop {
        let item = tokio::select! {
            item = watch.next() => item,
            () = &mut stop => return Ok(()),
        };
        match item {
            Some(Ok(event)) => {
                last_error = None;
                if !print(&event)? {
                    return Ok(());
                }
                if let Some(path) = &args.cursor_file {
                    save_cursor(path, &watch.cursor())?;
                }
                printed += 1;
                if args.max_events.is_some_and(|max| printed >= max) {
                    return Ok(());
                }
            }
            Some(Err(e)) => {
                // Polling goes on after a pause; a final error ends the stream next.
                write_stderr(&format!(
                    "acs-chat: a poll failed, trying again: {}",
                    crate::failure::printable(&describe(&e))
                ));
                last_error = Some(e);
            }
            None => {
                return match last_error {
                    Some(e) => Err(call_failed(e)),
                    None => Ok(()),
                };
            }
        }
    }
}

/// `events listen`.
pub(crate) async fn listen(
    addr: SocketAddr,
    secret: Option<String>,
    max_events: Option<u64>,
    output: &OutputArgs,
) -> Result<(), Failure> {
    let out = Printer::new(output);
    let mut writer = out.events()?;
    let mut builder = EventGridListener::builder();
    if let Some(secret) = secret {
        builder = builder.secret(secret);
    }
    let mut listener = builder
        .bind(addr)
        .await
        .map_err(|e| Failure::Runtime(format!("--host/--port {addr}: {}", describe(&e))))?;
    write_stderr(&format!(
        "acs-chat: receiving Event Grid deliveries at {} (Ctrl-C to stop)",
        listener.url()
    ));
    let stop = shutdown();
    tokio::pin!(stop);
    let mut printed = 0u64;
    loop {
        let received = tokio::select! {
            received = listener.next() => received,
            () = &mut stop => return Ok(()),
        };
        let Some(received) = received else {
            return Ok(());
        };
        if !writer.event(&received.event)? {
            return Ok(());
        }
        printed += 1;
        if max_events.is_some_and(|max| printed >= max) {
            return Ok(());
        }
    }
}
