//! `acs-chat emulator`: the acs-chat-emulator library in the foreground, like `acs-chat-emulator`.

use std::net::IpAddr;

use acs_chat_emulator::{ServeArgs, ServeError, serve_foreground};
use acs_chat_protocol::identity::AccessKey;

use crate::failure::Failure;

pub(crate) async fn run(args: ServeArgs) -> Result<(), Failure> {
    check(&args)?;
    serve_foreground(args, "pass it with --ca-cert or ACS_CHAT_CA_CERT")
        .await
        .map_err(|e| match e {
            ServeError::Usage(m) => Failure::Usage(m),
            other => Failure::Runtime(other.to_string()),
        })
}

/// The flags the emulator would only refuse once starting, as usage errors (exit 2). The host
/// ends up in the banner's endpoint, so it must be a plain host: no user info, no path.
fn check(args: &ServeArgs) -> Result<(), Failure> {
    if let Some(key) = &args.access_key {
        AccessKey::from_base64(key).map_err(|e| Failure::Usage(format!("--access-key: {e}")))?;
    }
    let host = args.host.trim_start_matches('[').trim_end_matches(']');
    let is_name = !host.is_empty()
        && host.len() <= 253
        && host.split('.').all(|label| {
            !label.is_empty()
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-')
        });
    if host.parse::<IpAddr>().is_err() && !is_name {
        return Err(Failure::Usage(
            "--host: expected an IP address or a host name (e.g. 127.0.0.1, ::1, localhost)".into(),
        ));
    }
    Ok(())
}
