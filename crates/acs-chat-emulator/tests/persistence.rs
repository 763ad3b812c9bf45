//! With a data directory the state survives a restart, and a `kill -9`: every acknowledged
//! write is there, with the same ids, sequence numbers, certificate and tokens.

mod support;

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};

use acs_chat_emulator::identity::AccessKey;
use acs_chat_emulator::{DEV_ACCESS_KEY, Emulator};
use acs_chat_protocol::identity::{
    CommunicationIdentityTokenScope, CreateUser, CreateUserOptions, IDENTITY_API_VERSION,
    RevokeAccessTokens, sign_request,
};
use acs_chat_protocol::models::ChatParticipant;
use acs_chat_protocol::operations::{
    AddChatParticipants, CreateChatThread, DeleteChatThread, ListChatMessages,
    ListChatMessagesOptions, ListChatParticipants, ListChatReadReceipts, ListChatThreads,
    SendChatMessage, SendChatReadReceipt,
};
use acs_chat_protocol::{
    AccessToken, CommunicationIdentifier, DateTime, Endpoint, Operation, RequestContext,
};
use acs_chat_transport::{HyperTransport, Transport};
use support::{Harness, status};

async fn persistent(dir: &std::path::Path) -> Harness {
    Harness::with(Emulator::builder().data_dir(dir)).await
}

async fn all_messages(h: &Harness, token: &str, thread: &str) -> Vec<(String, String, String)> {
    let mut page = h
        .call(
            &ListChatMessages::new(
                thread,
                ListChatMessagesOptions::default().max_page_size(200),
            ),
            token,
        )
        .await
        .unwrap();
    let mut all = Vec::new();
    loop {
        all.extend(
            page.items
                .iter()
                .map(|m| (m.id.clone(), m.sequence_id.clone(), m.version.clone())),
        );
        let Some(link) = page.next_link.take() else {
            break;
        };
        page = h
            .call(&ListChatMessages::next_page(link), token)
            .await
            .unwrap();
    }
    all
}

#[tokio::test]
async fn a_restart_on_the_same_directory_serves_the_same_state() {
    let dir = tempfile::tempdir().unwrap();
    let h = persistent(dir.path()).await;
    let ca = h.emulator.ca_certificate_pem().unwrap();
    assert_eq!(
        h.emulator.ca_certificate_path(),
        Some(dir.path().join("ca.pem").as_path())
    );
    let (alice, alice_token) = h.user();
    let (bob, bob_token) = h.user();
    let thread = h.new_thread(&alice_token, "kept").await;
    let doomed = h.new_thread(&alice_token, "deleted").await;
    h.call(&DeleteChatThread::new(&doomed), &alice_token)
        .await
        .unwrap();
    let participant = ChatParticipant::new(CommunicationIdentifier::communication_user(&bob));
    h.call(
        &AddChatParticipants::new(&thread, vec![participant]),
        &alice_token,
    )
    .await
    .unwrap();
    let mut sent = Vec::new();
    for i in 0..5 {
        let op = SendChatMessage::new(&thread, format!("m{i}"), Default::default());
        sent.push(h.call(&op, &bob_token).await.unwrap().id);
    }
    h.call(&SendChatReadReceipt::new(&thread, &sent[2]), &alice_token)
        .await
        .unwrap();
    let key = AccessKey::from_base64(DEV_ACCESS_KEY).unwrap();
    let messages_before = all_messages(&h, &alice_token, &thread).await;
    let participants_before = h
        .call(
            &ListChatParticipants::new(&thread, Default::default()),
            &alice_token,
        )
        .await
        .unwrap()
        .items;
    // Revoke a user's tokens through the Identity API.
    let ctx = RequestContext::new(h.ctx.endpoint().clone(), IDENTITY_API_VERSION);
    let (carol, carol_token) = h.user();
    let op = RevokeAccessTokens::new(&carol);
    let mut request = op.build_request(&ctx).unwrap();
    sign_request(
        &mut request,
        &key,
        DateTime::from_system_time(std::time::SystemTime::now()).unwrap(),
    )
    .unwrap();
    op.parse_response(h.send(request).await.unwrap()).unwrap();
    h.emulator.shutdown().await;

    let h = persistent(dir.path()).await;
    assert_eq!(h.emulator.ca_certificate_pem().unwrap(), ca, "the same CA");
    // Tokens issued before the restart still work; revoked ones do not.
    let threads = h
        .call(&ListChatThreads::new(Default::default()), &alice_token)
        .await
        .unwrap();
    // The live thread, and the deleted one with its deletedOn (as the service lists it).
    assert_eq!(threads.items.len(), 2);
    assert_eq!(threads.items[0].id, thread);
    assert_eq!(threads.items[0].deleted_on, None);
    assert_eq!(threads.items[1].id, doomed);
    assert_eq!(threads.items[1].topic, "deleted");
    assert!(threads.items[1].deleted_on.is_some());
    assert_eq!(
        all_messages(&h, &alice_token, &thread).await,
        messages_before
    );
    assert_eq!(
        h.call(
            &ListChatParticipants::new(&thread, Default::default()),
            &bob_token
        )
        .await
        .unwrap()
        .items,
        participants_before
    );
    let receipts = h
        .call(
            &ListChatReadReceipts::new(&thread, Default::default()),
            &alice_token,
        )
        .await
        .unwrap();
    assert_eq!(receipts.items[0].chat_message_id, sent[2]);
    let error = h
        .call(&ListChatThreads::new(Default::default()), &carol_token)
        .await
        .unwrap_err();
    assert_eq!(status(&error), 401);
    let error = h
        .call(
            &ListChatMessages::new(&doomed, Default::default()),
            &alice_token,
        )
        .await
        .unwrap_err();
    assert_eq!(status(&error), 404);
    // New ids go on after the old ones.
    let op = SendChatMessage::new(&thread, "after", Default::default());
    let next = h.call(&op, &bob_token).await.unwrap().id;
    assert!(next.parse::<u64>().unwrap() > sent[4].parse::<u64>().unwrap());
    let after = all_messages(&h, &alice_token, &thread).await;
    assert_eq!(after[0].1, (messages_before.len() + 1).to_string());
    // Users made before the restart are known; new users get new ids.
    let (dave, _) = h.user();
    assert_ne!(dave, alice);
    assert!(h.emulator.service().with_store(|s| s.user_exists(&alice)));
    h.emulator.shutdown().await;
}

#[tokio::test]
async fn a_newer_schema_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    persistent(dir.path()).await.emulator.shutdown().await;
    let db = dir.path().join(acs_chat_emulator::persist::DATABASE_FILE);
    let conn = rusqlite::Connection::open(&db).unwrap();
    conn.pragma_update(None, "user_version", 99).unwrap();
    drop(conn);
    let error = Emulator::builder()
        .data_dir(dir.path())
        .start()
        .await
        .unwrap_err();
    assert!(
        error.to_string().contains("schema version 99 is newer"),
        "{error}"
    );
}

/// Spawns the binary on `dir`; returns it and its endpoint.
fn spawn_binary(dir: &std::path::Path) -> (std::process::Child, String) {
    use std::io::{BufRead, BufReader};
    use std::process::{Command, Stdio};
    let mut child = Command::new(env!("CARGO_BIN_EXE_acs-chat-emulator"))
        .args(["--port", "0", "--log-level", "off", "--data-dir"])
        .arg(dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    let endpoint = loop {
        line.clear();
        if stdout.read_line(&mut line).unwrap_or(0) == 0 {
            break None;
        }
        if let Some(e) = line.strip_prefix("endpoint:") {
            break Some(e.trim().to_owned());
        }
    };
    let Some(endpoint) = endpoint else {
        let _ = child.kill();
        let _ = child.wait();
        panic!("the emulator printed no endpoint");
    };
    // Keep reading stdout in the background so the child never blocks on it.
    std::thread::spawn(move || std::io::copy(&mut stdout, &mut std::io::sink()));
    (child, endpoint)
}

fn client(dir: &std::path::Path) -> HyperTransport {
    let pem = std::fs::read(dir.join("ca.pem")).unwrap();
    HyperTransport::builder()
        .add_root_certificate_pem(&pem)
        .unwrap()
        .build()
        .unwrap()
}

async fn call<O: Operation>(
    transport: &HyperTransport,
    endpoint: &str,
    op: &O,
    token: &str,
) -> Result<O::Output, String> {
    let endpoint = Endpoint::parse(endpoint).unwrap();
    let ctx = RequestContext::new(endpoint.clone(), Default::default());
    let mut request = op.build_request(&ctx).unwrap();
    let token = AccessToken::new(token, DateTime::UNIX_EPOCH);
    acs_chat_protocol::authorize(&mut request, &endpoint, &token).unwrap();
    let response = transport.send(request).await.map_err(|e| e.to_string())?;
    op.parse_response(response).map_err(|e| e.to_string())
}

#[cfg(unix)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_acknowledged_write_is_lost_on_kill_9() {
    let dir = tempfile::tempdir().unwrap();
    let (mut child, endpoint) = spawn_binary(dir.path());
    let ca_before = std::fs::read(dir.path().join("ca.pem")).unwrap();
    let transport = client(dir.path());
    // A user and a token through the Identity API.
    let ctx = RequestContext::new(Endpoint::parse(&endpoint).unwrap(), IDENTITY_API_VERSION);
    let op = CreateUser::new(
        CreateUserOptions::default()
            .create_token_with_scopes([CommunicationIdentityTokenScope::Chat]),
    );
    let mut request = op.build_request(&ctx).unwrap();
    let key = AccessKey::from_base64(DEV_ACCESS_KEY).unwrap();
    sign_request(
        &mut request,
        &key,
        DateTime::from_system_time(std::time::SystemTime::now()).unwrap(),
    )
    .unwrap();
    let created = op
        .parse_response(transport.send(request).await.unwrap())
        .unwrap();
    let token = created.access_token.unwrap().token;
    let thread = call(
        &transport,
        &endpoint,
        &CreateChatThread::new("load", Default::default()),
        &token,
    )
    .await
    .unwrap()
    .chat_thread
    .unwrap()
    .id;

    // Four writers send messages until the emulator dies; each acknowledged id is recorded.
    let acked = Arc::new(Mutex::new(Vec::new()));
    let (progress, mut progressed) = tokio::sync::mpsc::unbounded_channel();
    let mut writers = tokio::task::JoinSet::new();
    for w in 0..4 {
        let (transport, endpoint, token, thread, acked, progress) = (
            transport.clone(),
            endpoint.clone(),
            token.clone(),
            thread.clone(),
            acked.clone(),
            progress.clone(),
        );
        writers.spawn(async move {
            for i in 0..10_000 {
                let op = SendChatMessage::new(&thread, format!("w{w} m{i}"), Default::default());
                match call(&transport, &endpoint, &op, &token).await {
                    Ok(result) => {
                        acked.lock().unwrap().push(result.id);
                        let _ = progress.send(());
                    }
                    Err(_) => return,
                }
            }
        });
    }
    drop(progress);
    // Kill it in the middle of the load.
    for _ in 0..200 {
        progressed.recv().await.unwrap();
    }
    child.kill().unwrap();
    child.wait().unwrap();
    while let Some(done) = writers.join_next().await {
        done.unwrap();
    }
    let acked: BTreeSet<String> = acked.lock().unwrap().iter().cloned().collect();
    assert!(acked.len() >= 200);

    let (mut child, endpoint) = spawn_binary(dir.path());
    assert_eq!(
        std::fs::read(dir.path().join("ca.pem")).unwrap(),
        ca_before,
        "the same CA"
    );
    let transport = client(dir.path());
    // The token issued before the kill still works, and every acknowledged message is there.
    let mut stored = BTreeSet::new();
    let mut page = call(
        &transport,
        &endpoint,
        &ListChatMessages::new(
            &thread,
            ListChatMessagesOptions::default().max_page_size(200),
        ),
        &token,
    )
    .await
    .unwrap();
    loop {
        stored.extend(page.items.iter().map(|m| m.id.clone()));
        let Some(link) = page.next_link.take() else {
            break;
        };
        page = call(
            &transport,
            &endpoint,
            &ListChatMessages::next_page(link),
            &token,
        )
        .await
        .unwrap();
    }
    let lost: Vec<&String> = acked.difference(&stored).collect();
    assert!(
        lost.is_empty(),
        "{} acknowledged messages lost: {lost:?}",
        lost.len()
    );
    child.kill().unwrap();
    child.wait().unwrap();
}
