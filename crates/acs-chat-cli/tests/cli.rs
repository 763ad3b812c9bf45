//! Runs the real `acs-chat` binary against an in-process emulator (HTTPS with its generated CA)
//! and checks its output and exit codes.

use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Command as StdCommand, Stdio};
use std::time::Duration;

use acs_chat_emulator::{Emulator, RunningEmulator};
use assert_cmd::Command;
use predicates::prelude::*;
use serde_json::Value;

const BIN: &str = env!("CARGO_BIN_EXE_acs-chat");
const ENV_VARS: [&str; 4] = [
    "AZURE_COMMUNICATION_ENDPOINT",
    "AZURE_COMMUNICATION_ACCESS_TOKEN",
    "AZURE_COMMUNICATION_CONNECTION_STRING",
    "ACS_CHAT_CA_CERT",
];
/// A well-formed JWT (`exp` in year 3000) that no emulator signed.
const FOREIGN_TOKEN: &str = "eyJhbGciOiJub25lIn0.eyJleHAiOjMyNTAzNjgwMDAwfQ.c2ln";

/// An emulator on 127.0.0.1:0, served by a multi-thread runtime's workers while the test
/// thread runs the binary, and its CA certificate in a temp file.
struct Env {
    // Dropped before the runtime: stops the server.
    emulator: RunningEmulator,
    ca: PathBuf,
    dir: tempfile::TempDir,
    _runtime: tokio::runtime::Runtime,
}

impl Env {
    fn start() -> Self {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let emulator = runtime
            .block_on(Emulator::builder().host("127.0.0.1").port(0).start())
            .unwrap();
        let dir = tempfile::tempdir().unwrap();
        let ca = dir.path().join("ca.pem");
        std::fs::write(&ca, emulator.ca_certificate_pem().unwrap()).unwrap();
        Self {
            emulator,
            ca,
            dir,
            _runtime: runtime,
        }
    }

    fn user(&self) -> (String, String) {
        self.emulator.create_user_and_token().unwrap()
    }

    /// `acs-chat` with no options from the environment.
    fn bare(&self) -> Command {
        acs_chat()
    }

    /// `acs-chat --endpoint <emulator> --access-token <token> --ca-cert <ca>`.
    fn as_user(&self, token: &str) -> Command {
        let mut cmd = self.bare();
        cmd.arg("--endpoint")
            .arg(self.emulator.endpoint())
            .arg("--access-token")
            .arg(token)
            .arg("--ca-cert")
            .arg(&self.ca);
        cmd
    }

    fn with_connection_string(&self) -> Command {
        let mut cmd = self.bare();
        cmd.arg("--connection-string")
            .arg(self.emulator.connection_string())
            .arg("--ca-cert")
            .arg(&self.ca);
        cmd
    }

    /// Creates a thread as the user of `token`; returns its id.
    fn thread(&self, token: &str, topic: &str) -> String {
        let out = json_ok(
            self.as_user(token)
                .args(["thread", "create", "--topic", topic]),
        );
        out["chatThread"]["id"].as_str().unwrap().to_owned()
    }

    fn send(&self, token: &str, thread: &str, content: &str) -> String {
        let out = json_ok(self.as_user(token).args([
            "message",
            "send",
            "-t",
            thread,
            "--content",
            content,
        ]));
        out["id"].as_str().unwrap().to_owned()
    }
}

/// `acs-chat` with no options from the environment.
fn acs_chat() -> Command {
    let mut cmd = Command::new(BIN);
    for var in ENV_VARS {
        cmd.env_remove(var);
    }
    cmd
}

/// Runs `cmd`, expects exit 0 and an empty stderr, and parses stdout as JSON.
fn json_ok(cmd: &mut Command) -> Value {
    let out = cmd
        .assert()
        .success()
        .stderr("")
        .get_output()
        .stdout
        .clone();
    serde_json::from_slice(&out).unwrap_or_else(|e| {
        panic!(
            "stdout is not JSON ({e}): {}",
            String::from_utf8_lossy(&out)
        )
    })
}

/// Runs `cmd`, expects exit 0 and no output at all.
fn silent_ok(cmd: &mut Command) {
    cmd.assert().success().stdout("").stderr("");
}

/// Runs `cmd`, expects `code`, nothing on stdout, and on stderr one `error: ` line, after
/// the `waiting … before retry …` lines of the retries if any; returns the error line.
fn fails(cmd: &mut Command, code: i32) -> String {
    let out = cmd.assert().code(code).stdout("").get_output().clone();
    error_line(&out.stderr)
}

/// The `error: ` line that ends `stderr`, after retry notices only.
fn error_line(stderr: &[u8]) -> String {
    let stderr = String::from_utf8(stderr.to_vec()).unwrap();
    assert!(!stderr.contains("panicked"), "{stderr}");
    // The first line that starts with `error: ` (a retry notice may quote an error too).
    let start = if stderr.starts_with("error: ") {
        0
    } else {
        stderr
            .find("\nerror: ")
            .map(|i| i + 1)
            .unwrap_or_else(|| panic!("no error: {stderr}"))
    };
    for line in stderr[..start].lines() {
        assert!(line.starts_with("waiting "), "{stderr}");
    }
    stderr[start..].to_owned()
}

fn ids(list: &Value) -> Vec<&str> {
    list.as_array()
        .unwrap()
        .iter()
        .map(|v| v["id"].as_str().unwrap())
        .collect()
}

#[test]
fn thread_create_list_update_topic_and_delete() {
    let env = Env::start();
    let (user, token) = env.user();

    let created = json_ok(env.as_user(&token).args([
        "thread",
        "create",
        "--topic",
        "Standup",
        "--idempotency-token",
        "key-1",
    ]));
    let thread = created["chatThread"]["id"].as_str().unwrap().to_owned();
    assert_eq!(created["chatThread"]["topic"], "Standup");
    assert_eq!(
        created["chatThread"]["createdByCommunicationIdentifier"]["rawId"],
        user.as_str()
    );
    assert!(created["chatThread"]["createdOn"].is_string());
    assert!(created.get("invalidParticipants").is_none(), "{created}");

    // The same idempotency token gives the same thread back.
    let again = json_ok(env.as_user(&token).args([
        "thread",
        "create",
        "--topic",
        "Standup",
        "--idempotency-token",
        "key-1",
    ]));
    assert_eq!(again["chatThread"]["id"], thread.as_str());
    let other = env.thread(&token, "Retro");

    let list = json_ok(env.as_user(&token).args(["thread", "list"]));
    let mut listed = ids(&list);
    listed.sort_unstable();
    let mut expected = vec![thread.as_str(), other.as_str()];
    expected.sort_unstable();
    assert_eq!(listed, expected);

    silent_ok(env.as_user(&token).args([
        "thread",
        "update-topic",
        "--thread",
        &thread,
        "--topic",
        "Daily standup",
    ]));
    let list = json_ok(env.as_user(&token).args(["thread", "list"]));
    let item = list
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["id"] == thread.as_str())
        .unwrap();
    assert_eq!(item["topic"], "Daily standup");

    // A start time in the future leaves nothing.
    let list = json_ok(env.as_user(&token).args([
        "thread",
        "list",
        "--start-time",
        "2999-01-01T00:00:00Z",
    ]));
    assert_eq!(list, Value::Array(vec![]));

    silent_ok(
        env.as_user(&token)
            .args(["thread", "delete", "-t", &thread]),
    );
    // Listed with its deletedOn from then on, as the service lists deleted threads.
    let list = json_ok(env.as_user(&token).args(["thread", "list"]));
    assert_eq!(ids(&list), vec![thread.as_str(), other.as_str()]);
    assert!(list[0]["deletedOn"].is_string(), "{list}");
    assert!(list[1].get("deletedOn").is_none(), "{list}");
}

#[test]
fn message_send_get_update_list_delete_and_receipts() {
    let env = Env::start();
    let (user, token) = env.user();
    let thread = env.thread(&token, "Messages");

    let sent = json_ok(env.as_user(&token).args([
        "message",
        "send",
        "--thread",
        &thread,
        "--content",
        "<b>hello</b>",
        "--display-name",
        "Alice",
        "--message-type",
        "html",
        "--metadata",
        "tag=greeting",
        "lang=en",
    ]));
    let id = sent["id"].as_str().unwrap().to_owned();
    assert_eq!(sent.as_object().unwrap().len(), 1, "{sent}");

    let got =
        json_ok(
            env.as_user(&token)
                .args(["message", "get", "-t", &thread, "--message-id", &id]),
        );
    assert_eq!(got["id"], id.as_str());
    assert_eq!(got["type"], "html");
    assert_eq!(got["content"]["message"], "<b>hello</b>");
    assert_eq!(got["senderDisplayName"], "Alice");
    assert_eq!(got["senderCommunicationIdentifier"]["rawId"], user.as_str());
    assert_eq!(got["metadata"]["tag"], "greeting");
    assert_eq!(got["metadata"]["lang"], "en");
    assert!(got.get("editedOn").is_none());

    silent_ok(env.as_user(&token).args([
        "message",
        "update",
        "-t",
        &thread,
        "--message-id",
        &id,
        "--content",
        "<b>hello again</b>",
    ]));
    let got =
        json_ok(
            env.as_user(&token)
                .args(["message", "get", "-t", &thread, "--message-id", &id]),
        );
    assert_eq!(got["content"]["message"], "<b>hello again</b>");
    assert!(got["editedOn"].is_string(), "{got}");

    let second = env.send(&token, &thread, "plain");
    let list = json_ok(env.as_user(&token).args(["message", "list", "-t", &thread]));
    let list = list.as_array().unwrap();
    // Newest first, after the thread's `participantAdded` system message.
    let texts: Vec<&Value> = list
        .iter()
        .filter(|m| m["type"] == "text" || m["type"] == "html")
        .collect();
    assert_eq!(texts.len(), 2);
    assert_eq!(texts[0]["id"], second.as_str());
    assert_eq!(texts[0]["type"], "text");
    assert_eq!(texts[1]["id"], id.as_str());
    assert!(list.iter().any(|m| m["type"] == "participantAdded"));

    silent_ok(env.as_user(&token).args([
        "message",
        "receipt",
        "send",
        "-t",
        &thread,
        "--message-id",
        &second,
    ]));
    let receipts = json_ok(
        env.as_user(&token)
            .args(["message", "receipt", "list", "-t", &thread]),
    );
    let receipts = receipts.as_array().unwrap();
    assert_eq!(receipts.len(), 1);
    assert_eq!(receipts[0]["chatMessageId"], second.as_str());
    assert_eq!(
        receipts[0]["senderCommunicationIdentifier"]["rawId"],
        user.as_str()
    );
    assert!(receipts[0]["readOn"].is_string());
    let skipped = json_ok(
        env.as_user(&token)
            .args(["message", "receipt", "list", "-t", &thread, "--skip", "1"]),
    );
    assert_eq!(skipped, Value::Array(vec![]));

    silent_ok(
        env.as_user(&token)
            .args(["message", "delete", "-t", &thread, "--message-id", &id]),
    );
    let got =
        json_ok(
            env.as_user(&token)
                .args(["message", "get", "-t", &thread, "--message-id", &id]),
        );
    assert!(got["deletedOn"].is_string(), "{got}");
}

#[test]
fn participant_add_list_remove_and_typing() {
    let env = Env::start();
    let (alice, alice_token) = env.user();
    let (bob, bob_token) = env.user();
    let thread = env.thread(&alice_token, "Team");

    // Bob is not a participant yet: 403.
    let stderr = fails(
        env.as_user(&bob_token)
            .args(["message", "list", "-t", &thread]),
        1,
    );
    assert!(stderr.contains("403 Forbidden"), "{stderr}");

    let added = json_ok(env.as_user(&alice_token).args([
        "participant",
        "add",
        "-t",
        &thread,
        "--user",
        &bob,
        "--display-name",
        "Bob",
        "--start-time",
        "2024-01-02T03:04:05Z",
    ]));
    assert_eq!(added, serde_json::json!({}));

    let list = json_ok(
        env.as_user(&alice_token)
            .args(["participant", "list", "-t", &thread]),
    );
    let list = list.as_array().unwrap();
    assert_eq!(list.len(), 2);
    let bob_entry = list
        .iter()
        .find(|p| p["communicationIdentifier"]["rawId"] == bob.as_str())
        .unwrap();
    assert_eq!(bob_entry["displayName"], "Bob");
    assert_eq!(bob_entry["shareHistoryTime"], "2024-01-02T03:04:05Z");
    assert_eq!(
        bob_entry["communicationIdentifier"]["communicationUser"]["id"],
        bob.as_str()
    );
    assert!(
        list.iter()
            .any(|p| p["communicationIdentifier"]["rawId"] == alice.as_str())
    );
    let skipped = json_ok(env.as_user(&alice_token).args([
        "participant",
        "list",
        "-t",
        &thread,
        "--skip",
        "1",
    ]));
    assert_eq!(skipped.as_array().unwrap().len(), 1);

    // Bob can now read and type.
    json_ok(
        env.as_user(&bob_token)
            .args(["message", "list", "-t", &thread]),
    );
    silent_ok(env.as_user(&bob_token).args([
        "typing",
        "send",
        "-t",
        &thread,
        "--display-name",
        "Bob",
    ]));
    silent_ok(
        env.as_user(&bob_token)
            .args(["typing", "send", "-t", &thread]),
    );

    silent_ok(env.as_user(&alice_token).args([
        "participant",
        "remove",
        "-t",
        &thread,
        "--user",
        &bob,
    ]));
    let list = json_ok(
        env.as_user(&alice_token)
            .args(["participant", "list", "-t", &thread]),
    );
    assert_eq!(list.as_array().unwrap().len(), 1);
    let stderr = fails(
        env.as_user(&bob_token)
            .args(["typing", "send", "-t", &thread]),
        1,
    );
    assert!(stderr.contains("403 Forbidden"), "{stderr}");
}

#[test]
fn a_refused_participant_is_printed_and_fails() {
    let env = Env::start();
    let (_, token) = env.user();
    let thread = env.thread(&token, "Team");
    // A phone number is a valid raw id of another kind, which the emulator refuses.
    let out = env
        .as_user(&token)
        .args([
            "participant",
            "add",
            "-t",
            &thread,
            "--user",
            "4:+14255550123",
        ])
        .assert()
        .code(1)
        .stderr(predicate::str::starts_with(
            "error: 4:+14255550123 was not added: 403",
        ))
        .get_output()
        .stdout
        .clone();
    let out: Value = serde_json::from_slice(&out).unwrap();
    let invalid = out["invalidParticipants"].as_array().unwrap();
    assert_eq!(invalid.len(), 1);
    assert_eq!(invalid[0]["target"], "4:+14255550123");
}

#[test]
fn lists_follow_every_page_into_one_array() {
    let env = Env::start();
    let (_, token) = env.user();
    let thread = env.thread(&token, "Busy");
    let mut sent: Vec<String> = (0..25)
        .map(|i| env.send(&token, &thread, &format!("message {i}")))
        .collect();
    sent.reverse(); // newest first, as listed

    // The emulator's default page size is 20: two pages. 25 texts + `participantAdded`.
    let all = json_ok(env.as_user(&token).args(["message", "list", "-t", &thread]));
    let all_ids = ids(&all);
    assert_eq!(all_ids.len(), 26);
    assert_eq!(
        &all_ids[..25],
        sent.iter().map(String::as_str).collect::<Vec<_>>()
    );

    // Pages of 10: three requests, the same array; the trace never shows the token.
    let out = env
        .as_user(&token)
        .args([
            "--page-size",
            "10",
            "--verbose",
            "message",
            "list",
            "-t",
            &thread,
        ])
        .assert()
        .success()
        .get_output()
        .clone();
    let paged: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(paged, all);
    let trace = String::from_utf8(out.stderr).unwrap();
    let requests = trace
        .lines()
        .filter(|l| l.contains("ChatThread_ListChatMessages") && l.contains("close"))
        .count();
    assert_eq!(requests, 3, "{trace}");
    assert!(trace.contains("status=200"), "{trace}");
    assert!(!trace.contains(&token), "the token leaked into the trace");

    // --max-items stops early, across a page boundary.
    let some = json_ok(env.as_user(&token).args([
        "--page-size",
        "10",
        "--max-items",
        "12",
        "message",
        "list",
        "-t",
        &thread,
    ]));
    assert_eq!(ids(&some), all_ids[..12].to_vec());

    // Participants and threads page too.
    for _ in 0..2 {
        let (other, _) = env.user();
        json_ok(
            env.as_user(&token)
                .args(["participant", "add", "-t", &thread, "--user", &other]),
        );
    }
    let participants = json_ok(env.as_user(&token).args([
        "--page-size",
        "1",
        "participant",
        "list",
        "-t",
        &thread,
    ]));
    assert_eq!(participants.as_array().unwrap().len(), 3);
    let threads: Vec<String> = (0..4)
        .map(|i| env.thread(&token, &format!("t{i}")))
        .collect();
    let listed = json_ok(
        env.as_user(&token)
            .args(["--page-size", "2", "thread", "list"]),
    );
    let listed = ids(&listed);
    assert_eq!(listed.len(), 5);
    assert!(threads.iter().all(|t| listed.contains(&t.as_str())));
}

#[test]
fn table_output_is_aligned_columns() {
    let env = Env::start();
    let (_, token) = env.user();
    let thread = env.thread(&token, "Table");
    env.send(&token, &thread, "line one\nline two");
    let out = env
        .as_user(&token)
        .args(["-o", "table", "message", "list", "-t", &thread])
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let text = String::from_utf8(out).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 4, "{text}");
    assert!(lines[0].starts_with("Id "), "{text}");
    assert!(lines[0].ends_with("Content"), "{text}");
    assert!(lines[1].starts_with("--"), "{text}");
    // The newline is escaped: one row per message, columns start at the header's offsets.
    assert!(lines[2].ends_with("line one\\nline two"), "{text}");
    let content_col = lines[0].find("Content").unwrap();
    assert_eq!(lines[2].find("line one"), Some(content_col), "{text}");
    let type_col = lines[0].find("Type").unwrap();
    assert_eq!(&lines[2][type_col..type_col + 4], "text", "{text}");
    assert_eq!(
        &lines[3][type_col..type_col + 16],
        "participantAdded",
        "{text}"
    );

    let out = env
        .as_user(&token)
        .args(["--output", "table", "thread", "list"])
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let text = String::from_utf8(out).unwrap();
    assert!(text.starts_with("Id "), "{text}");
    assert!(text.lines().nth(2).unwrap().starts_with(&thread), "{text}");
}

#[test]
fn service_errors_exit_1_with_status_code_message_and_request_id() {
    let env = Env::start();
    let (_, token) = env.user();

    // 401: a well-formed token the emulator did not sign.
    let stderr = fails(env.as_user(FOREIGN_TOKEN).args(["thread", "list"]), 1);
    assert!(
        stderr.starts_with("error: 401 Unauthorized: The access token is not valid. (request id "),
        "{stderr}"
    );
    assert!(stderr.ends_with(")\n"), "{stderr}");
    assert!(!stderr.contains(FOREIGN_TOKEN), "{stderr}");

    // 403: not a participant.
    let thread = env.thread(&token, "Private");
    let (_, stranger) = env.user();
    let stderr = fails(
        env.as_user(&stranger)
            .args(["message", "send", "-t", &thread, "--content", "hi"]),
        1,
    );
    assert!(stderr.starts_with("error: 403 Forbidden: "), "{stderr}");

    // 404: a deleted thread.
    silent_ok(
        env.as_user(&token)
            .args(["thread", "delete", "-t", &thread]),
    );
    let stderr = fails(
        env.as_user(&token).args(["message", "list", "-t", &thread]),
        1,
    );
    assert!(stderr.starts_with("error: 404 NotFound: "), "{stderr}");
    let stderr = fails(
        env.as_user(&token)
            .args(["message", "get", "-t", &thread, "--message-id", "1"]),
        1,
    );
    assert!(stderr.starts_with("error: 404 NotFound: "), "{stderr}");
}

#[test]
fn an_expired_token_is_refused_before_sending_and_exits_1() {
    let env = Env::start();
    let user = env.emulator.create_user();
    let (expired, _) = env
        .emulator
        .issue_token(&user, &["chat"], Duration::ZERO)
        .unwrap();
    let stderr = fails(env.as_user(&expired).args(["thread", "list"]), 1);
    assert!(stderr.contains("expired"), "{stderr}");
    assert!(!stderr.contains(&expired), "{stderr}");
}

#[test]
fn retries_come_from_the_client_and_each_wait_is_told_on_stderr() {
    let env = Env::start();
    let (_, token) = env.user();
    let thread = env.thread(&token, "Flaky");
    env.emulator.faults().fail_next_with_retry_after(1, 503, 0);
    let out = env
        .as_user(&token)
        .args(["thread", "list"])
        .assert()
        .success()
        .get_output()
        .clone();
    let list: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(ids(&list), vec![thread.as_str()]);
    assert_eq!(env.emulator.faults().pending(), 0);
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(
        stderr.starts_with("waiting 0.0 s before retry 1 of 3 ("),
        "{stderr}"
    );
    assert!(stderr.contains("503"), "{stderr}");
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
}

#[test]
fn a_service_error_that_outlasts_the_retries_exits_1() {
    let env = Env::start();
    let (_, token) = env.user();
    env.emulator
        .faults()
        .fail_next_with_retry_after(100, 503, 0);
    let out = env
        .as_user(&token)
        .args(["thread", "list"])
        .assert()
        .code(1)
        .stdout("")
        .get_output()
        .clone();
    let stderr = error_line(&out.stderr);
    let attempts = 100 - env.emulator.faults().pending();
    let waits = String::from_utf8(out.stderr)
        .unwrap()
        .matches("waiting ")
        .count();
    assert_eq!(waits + 1, attempts);
    assert!(attempts > 1, "not retried");
    assert_eq!(
        stderr,
        format!(
            "error: 503 ServiceUnavailable: The server is currently unable to handle the \
             request. (after {attempts} attempts)\n"
        )
    );
}

/// Runs `cmd`, expects a usage error (exit 2) whose message has each of `fragments`; returns it.
fn usage_error(cmd: &mut Command, fragments: &[&str]) -> String {
    let stderr = fails(cmd, 2);
    for fragment in fragments {
        assert!(
            stderr.contains(fragment),
            "{fragment:?} not in {stderr}{cmd:?}"
        );
    }
    stderr
}

#[test]
fn usage_errors_exit_2_with_what_to_fix() {
    let env = Env::start();
    let (_, token) = env.user();
    let endpoint = env.emulator.endpoint();
    let chat = |args: &[&str]| {
        let mut cmd = env.as_user(&token);
        cmd.args(args);
        cmd
    };
    let bare = |args: &[&str]| {
        let mut cmd = env.bare();
        cmd.args(args);
        cmd
    };
    // `--endpoint <url> --access-token <token> <args>`, without the emulator's CA.
    let to = |url: &str, args: &[&str]| {
        let mut cmd = bare(&["--endpoint", url, "--access-token", &token]);
        cmd.args(args);
        cmd
    };

    // Missing flag (clap).
    usage_error(&mut chat(&["message", "list"]), &["--thread <ID>"]);
    // Bad time.
    usage_error(
        &mut chat(&["thread", "list", "--start-time", "yesterday"]),
        &["--start-time", "2022-07-14T10:21"],
    );
    // Bad raw ids.
    for bad in ["", "alice", "8:acs: spaced"] {
        usage_error(
            &mut chat(&["participant", "add", "-t", "19:x@thread.v2", "--user", bad]),
            &["--user", "raw id"],
        );
    }
    // Empty ids, bad enum values, bad numbers, bad metadata.
    usage_error(&mut chat(&["thread", "delete", "-t", ""]), &[]);
    let send = ["message", "send", "-t", "x", "--content", "c"];
    usage_error(chat(&send).args(["--message-type", "rtf"]), &[]);
    usage_error(
        &mut chat(&["participant", "list", "-t", "x", "--skip", "-1"]),
        &[],
    );
    usage_error(&mut chat(&["--page-size", "0", "thread", "list"]), &[]);
    usage_error(chat(&send).args(["--metadata", "novalue"]), &["KEY=VALUE"]);
    // Unknown command.
    usage_error(&mut bare(&["thread", "explode"]), &[]);

    // No endpoint, no token.
    usage_error(
        &mut bare(&["--access-token", &token, "thread", "list"]),
        &["no endpoint", "AZURE_COMMUNICATION_ENDPOINT"],
    );
    usage_error(
        &mut bare(&["--endpoint", &endpoint, "thread", "list"]),
        &["no access token"],
    );
    // The endpoint and the token can come from the environment.
    let list = json_ok(
        env.bare()
            .env("AZURE_COMMUNICATION_ENDPOINT", &endpoint)
            .env("AZURE_COMMUNICATION_ACCESS_TOKEN", &token)
            .env("ACS_CHAT_CA_CERT", &env.ca)
            .args(["thread", "list"]),
    );
    assert_eq!(list, Value::Array(vec![]));

    // A token that is not a JWT; the message does not repeat it.
    let stderr = usage_error(
        env.as_user("not-a-jwt-secret").args(["thread", "list"]),
        &["--access-token"],
    );
    assert!(!stderr.contains("not-a-jwt-secret"), "{stderr}");
    // A CA file that does not exist.
    usage_error(
        &mut to(
            &endpoint,
            &["--ca-cert", "/nonexistent/ca.pem", "thread", "list"],
        ),
        &["--ca-cert /nonexistent/ca.pem"],
    );
    // A CA file that is not PEM.
    let not_pem = env.dir.path().join("not.pem");
    std::fs::write(&not_pem, "hello").unwrap();
    let stderr = usage_error(
        to(&endpoint, &[])
            .arg("--ca-cert")
            .arg(&not_pem)
            .args(["thread", "list"]),
        &[],
    );
    assert!(
        stderr.starts_with(&format!("error: --ca-cert {}: ", not_pem.display())),
        "{stderr}"
    );
    // Plain http: refused without --allow-http, and --allow-http only for loopback.
    usage_error(
        &mut to("http://127.0.0.1:9/", &["thread", "list"]),
        &["--allow-http"],
    );
    usage_error(
        &mut to(
            "http://contoso.communication.azure.com/",
            &["--allow-http", "thread", "list"],
        ),
        &["loopback"],
    );
    usage_error(&mut to("not a url", &["thread", "list"]), &["--endpoint"]);
    // Identity commands need a connection string.
    usage_error(&mut bare(&["identity", "create"]), &["--connection-string"]);
    let stderr = usage_error(
        &mut bare(&[
            "--connection-string",
            "endpoint=https://x/;accesskey=c2VjcmV0LWtleQ==xx",
            "identity",
            "create",
        ]),
        &["--connection-string"],
    );
    assert!(!stderr.contains("c2VjcmV0LWtleQ"), "{stderr}");
    usage_error(
        env.with_connection_string()
            .args(["identity", "token", "--user", "4:+14255550123"]),
        &["ACS users"],
    );
}

#[test]
fn help_and_version_exit_0() {
    // Secrets in the environment are never shown by --help.
    let out = acs_chat()
        .env("AZURE_COMMUNICATION_ACCESS_TOKEN", "secret-from-env")
        .env(
            "AZURE_COMMUNICATION_CONNECTION_STRING",
            "endpoint=https://x/;accesskey=secret-from-env",
        )
        .arg("--help")
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let help = String::from_utf8(out).unwrap();
    assert!(!help.contains("secret-from-env"), "{help}");
    for command in [
        "thread",
        "message",
        "participant",
        "typing",
        "identity",
        "emulator",
    ] {
        assert!(help.contains(command), "{help}");
    }
    acs_chat()
        .args(["message", "receipt", "--help"])
        .assert()
        .success()
        .stdout(predicate::str::contains("send").and(predicate::str::contains("list")));
    acs_chat()
        .arg("--version")
        .assert()
        .success()
        .stdout(predicate::str::starts_with("acs-chat "));
}

#[test]
fn identity_create_and_token_with_a_connection_string() {
    let env = Env::start();

    let created =
        json_ok(
            env.with_connection_string()
                .args(["identity", "create", "--scopes", "chat,voip"]),
        );
    let user = created["identity"]["id"].as_str().unwrap().to_owned();
    assert!(user.starts_with("8:acs:"), "{created}");
    let token = created["accessToken"]["token"].as_str().unwrap().to_owned();
    assert!(created["accessToken"]["expiresOn"].is_string(), "{created}");

    // The token works for chat.
    let thread = env.thread(&token, "From identity create");
    let list = json_ok(env.as_user(&token).args(["thread", "list"]));
    assert_eq!(ids(&list), vec![thread.as_str()]);

    // Without scopes: the user only.
    let bare = json_ok(env.with_connection_string().args(["identity", "create"]));
    let other = bare["identity"]["id"].as_str().unwrap().to_owned();
    assert!(bare.get("accessToken").is_none(), "{bare}");

    // A token for an existing user.
    let issued = json_ok(
        env.with_connection_string()
            .args(["identity", "token", "--user", &other]),
    );
    let other_token = issued["token"].as_str().unwrap();
    assert!(issued["expiresOn"].is_string());
    json_ok(env.as_user(other_token).args(["thread", "list"]));

    // The chat commands take the endpoint from the connection string when --endpoint is absent.
    let list =
        json_ok(
            env.with_connection_string()
                .args(["--access-token", &token, "thread", "list"]),
        );
    assert_eq!(ids(&list), vec![thread.as_str()]);

    // An unknown user is the service's 404.
    let stderr = fails(
        env.with_connection_string()
            .args(["identity", "token", "--user", "8:acs:nobody_nothing"]),
        1,
    );
    assert!(stderr.starts_with("error: 404"), "{stderr}");
}

/// A plain-HTTP loopback server that answers every request with `head` (status line and
/// headers, without the length) and `body`.
fn serve_forever(head: &'static str, body: &'static str) -> String {
    serve(move |_, _| (head.to_owned(), body.to_owned()))
}

/// A plain-HTTP loopback server: `answer(request target, base URL)` gives the head (status
/// line and headers, without the length) and the body of each response. Returns the base URL.
fn serve(answer: impl Fn(&str, &str) -> (String, String) + Send + 'static) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let base = format!("http://{}/", listener.local_addr().unwrap());
    let url = base.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { return };
            let mut request = Vec::new();
            let mut buf = [0u8; 1024];
            while !request.windows(4).any(|w| w == b"\r\n\r\n") {
                match stream.read(&mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => request.extend_from_slice(&buf[..n]),
                }
            }
            let request = String::from_utf8_lossy(&request);
            let target = request.split(' ').nth(1).unwrap_or("");
            let (head, body) = answer(target, &base);
            let response = format!(
                "{head}\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\
                 connection: close\r\n\r\n{body}",
                body.len()
            );
            let _ = stream.write_all(response.as_bytes());
        }
    });
    url
}

/// `acs-chat --endpoint <url> --allow-http --access-token <a foreign token> <args>`.
fn over_plain_http(url: &str, args: &[&str]) -> Command {
    let mut cmd = acs_chat();
    cmd.args([
        "--endpoint",
        url,
        "--allow-http",
        "--access-token",
        FOREIGN_TOKEN,
    ])
    .args(args);
    cmd
}

#[test]
fn a_next_link_to_another_host_is_refused_with_exit_1() {
    let endpoint = serve_forever(
        "HTTP/1.1 200 OK",
        r#"{"value":[{"id":"19:a@thread.v2","topic":"t"}],"nextLink":"https://attacker.example/chat/threads?page=2"}"#,
    );
    let out = over_plain_http(&endpoint, &["thread", "list"])
        .assert()
        .code(1)
        .get_output()
        .clone();
    let stderr = error_line(&out.stderr);
    assert!(stderr.contains("nextLink"), "{stderr}");
    assert!(!stderr.contains(FOREIGN_TOKEN), "{stderr}");
    // The first page was printed as it came; the array is left open.
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert!(
        stdout.starts_with("[\n  {\n    \"id\": \"19:a@thread.v2\""),
        "{stdout}"
    );
    assert!(serde_json::from_str::<Value>(&stdout).is_err(), "{stdout}");
}

#[test]
fn the_request_id_is_shown_when_the_service_sends_one() {
    let endpoint = serve_forever(
        "HTTP/1.1 404 Not Found\r\nx-ms-request-id: 7d1c0e4a-rid",
        r#"{"error":{"code":"NotFound","message":"Thread `19:a@thread.v2` was not found."}}"#,
    );
    let get = [
        "message",
        "get",
        "-t",
        "19:a@thread.v2",
        "--message-id",
        "1",
    ];
    assert_eq!(
        fails(&mut over_plain_http(&endpoint, &get), 1),
        "error: 404 NotFound: Thread `19:a@thread.v2` was not found. (request id 7d1c0e4a-rid)\n"
    );
}

#[test]
fn a_network_failure_exits_1() {
    // A port nobody listens on: bind one, then close it.
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let stderr = fails(
        &mut over_plain_http(
            &format!("http://127.0.0.1:{port}/"),
            &["thread", "delete", "-t", "19:a@thread.v2"],
        ),
        1,
    );
    // Retried by the client (a refused connection was not processed), then reported once.
    assert!(
        stderr.starts_with("error: Chat_DeleteChatThread: connect error: could not connect to "),
        "{stderr}"
    );
    assert!(stderr.contains(&format!("127.0.0.1:{port}")), "{stderr}");
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
}

#[test]
fn an_untrusted_certificate_exits_1() {
    let env = Env::start();
    let (_, token) = env.user();
    let stderr = fails(
        env.bare().args([
            "--endpoint",
            &env.emulator.endpoint(),
            "--access-token",
            &token,
            "thread",
            "list",
        ]),
        1,
    );
    assert!(stderr.contains("TLS"), "{stderr}");
    assert!(stderr.contains("UnknownIssuer"), "{stderr}");
    // What to do about it.
    assert!(stderr.contains("--ca-cert"), "{stderr}");
    assert!(stderr.contains("ACS_CHAT_CA_CERT"), "{stderr}");
}

#[test]
fn plain_http_to_an_https_server_says_it_speaks_https() {
    let env = Env::start();
    let (_, token) = env.user();
    let http = env.emulator.endpoint().replace("https://", "http://");
    let stderr = fails(
        env.bare().args([
            "--endpoint",
            &http,
            "--allow-http",
            "--access-token",
            &token,
            "thread",
            "list",
        ]),
        1,
    );
    assert!(stderr.contains("speaks HTTPS"), "{stderr}");
}

#[cfg(unix)]
#[test]
fn the_emulator_command_serves_until_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let ca = dir.path().join("ca.pem");
    let log = dir.path().join("stderr.log");
    let mut child = ChildGuard(
        StdCommand::new(BIN)
            .args([
                "emulator",
                "--port",
                "0",
                "--log-level",
                "debug",
                "--ca-out",
            ])
            .arg(&ca)
            .env_remove("ACS_EMULATOR_PORT")
            .env_remove("ACS_EMULATOR_HOST")
            .env_remove("ACS_EMULATOR_ACCESS_KEY")
            .env_remove("ACS_EMULATOR_DATA_DIR")
            .env_remove("RUST_LOG")
            // The kept CA goes to the user's data directory: a temporary one here.
            .env("XDG_DATA_HOME", dir.path())
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .unwrap(),
    );
    let mut stdout = BufReader::new(child.0.stdout.take().unwrap());
    let mut endpoint = None;
    let mut connection_string = None;
    let mut line = String::new();
    loop {
        line.clear();
        assert_ne!(
            stdout.read_line(&mut line).unwrap(),
            0,
            "the emulator exited"
        );
        if let Some(v) = line.strip_prefix("endpoint:") {
            endpoint = Some(v.trim().to_owned());
        }
        if let Some(v) = line.strip_prefix("connection string:") {
            connection_string = Some(v.trim().to_owned());
        }
        if let Some(v) = line.strip_prefix("CA certificate:") {
            assert!(v.contains(ca.to_str().unwrap()), "{line}");
            break;
        }
    }
    let endpoint = endpoint.unwrap();
    let connection_string = connection_string.unwrap();
    assert!(endpoint.starts_with("https://127.0.0.1:"), "{endpoint}");
    assert!(
        connection_string.starts_with(&format!("endpoint={endpoint};accesskey=")),
        "{connection_string}"
    );

    let created = json_ok(
        acs_chat()
            .args(["--connection-string", &connection_string, "--ca-cert"])
            .arg(&ca)
            .args(["identity", "create", "--scopes", "chat"]),
    );
    let token = created["accessToken"]["token"].as_str().unwrap();
    let thread = json_ok(
        acs_chat()
            .args([
                "--endpoint",
                &endpoint,
                "--access-token",
                token,
                "--ca-cert",
            ])
            .arg(&ca)
            .args(["thread", "create", "--topic", "Via the emulator command"]),
    );
    assert_eq!(thread["chatThread"]["topic"], "Via the emulator command");

    let status = StdCommand::new("kill")
        .args(["-TERM", &child.0.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let mut rest = String::new();
    stdout.read_to_string(&mut rest).unwrap();
    assert!(rest.contains("shutting down"), "{rest}");
    assert!(child.0.wait().unwrap().success());
    // --log-level debug: the request lines (never a token).
    let log = std::fs::read_to_string(&log).unwrap();
    assert!(log.contains("/chat/threads"), "{log}");
    assert!(!log.contains(token), "{log}");
    assert!(
        dir.path().join("acs-chat-emulator").join("ca.pem").exists(),
        "the kept CA is under XDG_DATA_HOME"
    );
}

/// Kills the child (by its own handle) if the test fails before it exits.
struct ChildGuard(std::process::Child);

impl Drop for ChildGuard {
    fn drop(&mut self) {
        if let Ok(None) = self.0.try_wait() {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
}

#[test]
fn a_long_cell_cannot_flood_a_table() {
    let env = Env::start();
    let (_, token) = env.user();
    let thread = env.thread(&token, "Flood");
    // As long as the service allows (28 KB of content).
    let long = "x".repeat(20_000);
    for _ in 0..3 {
        json_ok(
            env.as_user(&token)
                .args(["message", "send", "-t", &thread, "--content", &long]),
        );
    }
    let out = env
        .as_user(&token)
        .args(["-o", "table", "message", "list", "-t", &thread])
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let text = String::from_utf8(out).unwrap();
    assert_eq!(text.lines().count(), 6, "{}", text.len());
    for line in text.lines() {
        // 7 columns of at most 100 characters, 2 spaces apart.
        assert!(line.chars().count() <= 7 * 100 + 12, "{}", line.len());
    }
    assert!(
        text.contains(&format!("{}…", "x".repeat(99))),
        "cut with an ellipsis"
    );
}

#[test]
fn lists_print_each_page_as_it_arrives() {
    // Page 1 is served, page 2 fails: the items of page 1 are already out.
    let endpoint = serve(|target, base| {
        if target.contains("page=2") {
            (
                "HTTP/1.1 404 Not Found".to_owned(),
                r#"{"error":{"code":"NotFound","message":"gone"}}"#.to_owned(),
            )
        } else {
            let body = format!(
                r#"{{"value":[{{"id":"19:a@thread.v2","topic":"one"}},{{"id":"19:b@thread.v2","topic":"two"}}],"nextLink":"{base}chat/threads?page=2"}}"#
            );
            ("HTTP/1.1 200 OK".to_owned(), body)
        }
    });
    for (format, first) in [
        ("json", "[\n  {\n    \"id\": \"19:a@thread.v2\","),
        ("table", "Id "),
        ("tsv", "19:a@thread.v2\tone"),
        ("yaml", "- id: 19:a@thread.v2\n  topic: one\n"),
    ] {
        let out = over_plain_http(&endpoint, &["thread", "list", "-o", format])
            .assert()
            .code(1)
            .get_output()
            .clone();
        let stdout = String::from_utf8(out.stdout).unwrap();
        assert!(stdout.starts_with(first), "{format}: {stdout}");
        assert!(stdout.contains("19:b@thread.v2"), "{format}: {stdout}");
        assert!(error_line(&out.stderr).starts_with("error: 404 NotFound: gone"));
    }
}

#[test]
fn query_reads_a_list_whole_up_to_a_bound() {
    let items: Vec<String> = (0..10_001)
        .map(|i| format!(r#"{{"id":"19:{i}@thread.v2","topic":"t"}}"#))
        .collect();
    let body = format!(r#"{{"value":[{}]}}"#, items.join(","));
    let endpoint = serve(move |_, _| ("HTTP/1.1 200 OK".to_owned(), body.clone()));
    let stderr = fails(
        &mut over_plain_http(&endpoint, &["thread", "list", "--query", "[].id"]),
        1,
    );
    assert!(stderr.contains("--max-items"), "{stderr}");
    let out = over_plain_http(
        &endpoint,
        &[
            "thread",
            "list",
            "--query",
            "[].id",
            "--max-items",
            "3",
            "-o",
            "tsv",
        ],
    )
    .assert()
    .success()
    .get_output()
    .stdout
    .clone();
    assert_eq!(
        String::from_utf8(out).unwrap(),
        "19:0@thread.v2\n19:1@thread.v2\n19:2@thread.v2\n"
    );
}

#[test]
fn bidi_and_c1_controls_are_escaped_in_tables_and_tsv() {
    let env = Env::start();
    let (_, token) = env.user();
    let thread = env.thread(&token, "Spoof");
    let name = "evil\u{202e}gpj.exe\u{9b}2J";
    json_ok(env.as_user(&token).args([
        "message",
        "send",
        "-t",
        &thread,
        "--content",
        "x",
        "--display-name",
        name,
    ]));
    for format in ["table", "tsv"] {
        let out = env
            .as_user(&token)
            .args(["-o", format, "message", "list", "-t", &thread])
            .assert()
            .success()
            .get_output()
            .stdout
            .clone();
        let text = String::from_utf8(out).unwrap();
        assert!(
            text.contains("evil\\u{202e}gpj.exe\\u{9b}2J"),
            "{format}: {text}"
        );
        assert!(
            !text.contains('\u{202e}') && !text.contains('\u{9b}'),
            "{format}"
        );
    }
    // A pipe gets the exact JSON.
    let list = json_ok(env.as_user(&token).args(["message", "list", "-t", &thread]));
    assert!(
        list.as_array()
            .unwrap()
            .iter()
            .any(|m| m["senderDisplayName"] == name)
    );
}

#[test]
fn timeout_bounds_a_call_with_its_retries() {
    let env = Env::start();
    let (_, token) = env.user();
    // Retry-After 30 s would pass a 5 s budget: the client gives up at once.
    env.emulator
        .faults()
        .fail_next_with_retry_after(100, 503, 30);
    let stderr = fails(
        env.as_user(&token)
            .args(["--timeout", "5", "thread", "list"]),
        1,
    );
    assert!(
        stderr.starts_with("error: 503 ServiceUnavailable"),
        "{stderr}"
    );
    assert!(stderr.contains("--timeout"), "{stderr}");
    assert_eq!(env.emulator.faults().pending(), 99);
    usage_error(
        env.as_user(&token)
            .args(["--timeout", "0", "thread", "list"]),
        &["--timeout"],
    );
}

#[test]
fn rust_log_is_honoured() {
    let env = Env::start();
    let (_, token) = env.user();
    let out = env
        .as_user(&token)
        .env("RUST_LOG", "acs_chat=debug")
        .args(["thread", "list"])
        .assert()
        .success()
        .get_output()
        .clone();
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(stderr.contains("sending request"), "{stderr}");
    assert!(!stderr.contains(&token), "{stderr}");
    usage_error(
        env.as_user(&token)
            .env("RUST_LOG", "acs_chat=loud")
            .args(["thread", "list"]),
        &["RUST_LOG"],
    );
}

#[test]
fn secrets_in_urls_are_never_echoed() {
    let secret_url = "https://user:hunter2@contoso.example/?sig=s3cr3t&se=2030";
    let check = |stderr: &str| {
        assert!(!stderr.contains("hunter2"), "{stderr}");
        assert!(!stderr.contains("s3cr3t"), "{stderr}");
        assert!(stderr.contains("***"), "{stderr}");
    };
    // Our usage errors, the protocol's, and clap's own (which quote the value).
    for args in [
        &[
            "--endpoint",
            secret_url,
            "--access-token",
            FOREIGN_TOKEN,
            "thread",
            "list",
        ][..],
        &["thread", "list", secret_url],
        &["thread", "list", "--timeout", secret_url],
        &["thread", "list", "--start-time", secret_url],
    ] {
        check(&fails(acs_chat().args(args), 2));
    }
    let cs = format!("endpoint={secret_url};accesskey=c2VjcmV0");
    check(&fails(
        acs_chat().args(["--connection-string", &cs, "identity", "user", "create"]),
        2,
    ));
    // The emulator's banner would show the host: it must be a plain host.
    let stderr = fails(
        acs_chat().args([
            "emulator",
            "--host",
            "user:hunter2@localhost",
            "--port",
            "0",
        ]),
        2,
    );
    assert!(!stderr.contains("hunter2"), "{stderr}");
}

#[test]
fn a_huge_service_message_is_cut() {
    let message = "m".repeat(2_000_000);
    let body = format!(r#"{{"error":{{"code":"BadRequest","message":"{message}"}}}}"#);
    let endpoint = serve(move |_, _| ("HTTP/1.1 400 Bad Request".to_owned(), body.clone()));
    let stderr = fails(&mut over_plain_http(&endpoint, &["thread", "list"]), 1);
    assert!(stderr.len() < 8_000, "{}", stderr.len());
    assert!(stderr.contains("(2000000 bytes in all)"), "{stderr}");
}

#[test]
fn the_emulator_refuses_a_bad_access_key_as_a_usage_error() {
    let stderr = fails(
        acs_chat().args(["emulator", "--port", "0", "--access-key", "not base64!"]),
        2,
    );
    assert!(stderr.contains("--access-key"), "{stderr}");
}

#[test]
fn options_show_only_where_they_apply() {
    let help = |args: &[&str]| {
        let out = acs_chat()
            .args(args)
            .assert()
            .success()
            .get_output()
            .stdout
            .clone();
        String::from_utf8(out).unwrap()
    };
    let emulator = help(&["emulator", "--help"]);
    for option in ["--access-token", "--endpoint", "--output", "--query"] {
        assert!(!emulator.contains(option), "{option}: {emulator}");
    }
    let identity = help(&["identity", "token", "issue", "--help"]);
    assert!(!identity.contains("--access-token"), "{identity}");
    assert!(identity.contains("--connection-string"), "{identity}");
    let list = help(&["message", "list", "--help"]);
    for option in ["--access-token", "--max-items", "--query", "--timeout"] {
        assert!(list.contains(option), "{option}: {list}");
    }
    assert!(!help(&["message", "send", "--help"]).contains("--max-items <N>"));
    // An option of another command is refused; one from the environment is not required.
    fails(acs_chat().args(["--endpoint", "https://x/", "emulator"]), 2);
    let stderr = fails(
        acs_chat()
            .env("AZURE_COMMUNICATION_ACCESS_TOKEN", FOREIGN_TOKEN)
            .args(["message", "list"]),
        2,
    );
    assert!(
        stderr.contains("Usage: acs-chat message list --thread <ID>"),
        "{stderr}"
    );
    assert!(!stderr.contains("--access-token"), "{stderr}");
}

#[test]
fn completions_for_every_shell() {
    for shell in ["bash", "zsh", "fish", "powershell"] {
        let out = acs_chat()
            .args(["completions", shell])
            .assert()
            .success()
            .stderr("")
            .get_output()
            .stdout
            .clone();
        let script = String::from_utf8(out).unwrap();
        assert!(script.contains("acs-chat"), "{shell}");
        assert!(script.contains("participant"), "{shell}");
    }
    fails(acs_chat().args(["completions", "cmd.exe"]), 2);
}

#[test]
fn a_participant_refused_is_shown_in_the_table() {
    let env = Env::start();
    let (_, token) = env.user();
    let thread = env.thread(&token, "Team");
    let out = env
        .as_user(&token)
        .args(["-o", "table", "participant", "add", "-t", &thread])
        .args(["--user", "4:+14255550123"])
        .assert()
        .code(1)
        .get_output()
        .stdout
        .clone();
    let text = String::from_utf8(out).unwrap();
    assert!(text.starts_with("Target "), "{text}");
    assert!(
        text.lines().nth(2).unwrap().starts_with("4:+14255550123 "),
        "{text}"
    );
}

#[test]
fn identity_commands_as_az_names_them() {
    let env = Env::start();
    let id = |cmd: &mut Command| json_ok(cmd);

    let created = id(env
        .with_connection_string()
        .args(["identity", "user", "create"]));
    let user = created["identity"]["id"].as_str().unwrap().to_owned();
    assert!(user.starts_with("8:acs:"), "{created}");

    // For a user, with several scopes, space- or comma-separated, and a lifetime.
    let issued = id(env.with_connection_string().args([
        "identity",
        "token",
        "issue",
        "--scope",
        "chat",
        "voip",
        "--userid",
        &user,
        "--expires-in",
        "60",
    ]));
    assert_eq!(issued["user_id"], user.as_str());
    let token = issued["token"].as_str().unwrap().to_owned();
    assert!(issued["expires_on"].is_string(), "{issued}");
    json_ok(env.as_user(&token).args(["thread", "list"]));

    // Without --userid: a new user and its token.
    let fresh = id(env.with_connection_string().args([
        "identity",
        "token",
        "issue",
        "--scope",
        "chat,voip",
    ]));
    let other = fresh["user_id"].as_str().unwrap();
    assert!(other.starts_with("8:acs:") && other != user, "{fresh}");

    // Revoke: the token stops working; delete: the user is gone.
    silent_ok(
        env.with_connection_string()
            .args(["identity", "token", "revoke", "--userid", &user]),
    );
    let stderr = fails(env.as_user(&token).args(["thread", "list"]), 1);
    assert!(stderr.starts_with("error: 401"), "{stderr}");
    silent_ok(
        env.with_connection_string()
            .args(["identity", "user", "delete", "--userid", &user]),
    );
    let stderr = fails(
        env.with_connection_string().args([
            "identity", "token", "issue", "--scope", "chat", "--userid", &user,
        ]),
        1,
    );
    assert!(stderr.starts_with("error: 404"), "{stderr}");

    usage_error(
        env.with_connection_string().args([
            "identity",
            "token",
            "issue",
            "--scope",
            "chat",
            "--expires-in",
            "5",
        ]),
        &["--expires-in"],
    );
    usage_error(
        env.with_connection_string()
            .args(["identity", "token", "issue"]),
        &["--scope"],
    );
    usage_error(
        env.with_connection_string().args(["identity", "token"]),
        &["issue"],
    );
}

#[test]
fn thread_show_update_and_metadata() {
    let env = Env::start();
    let (user, token) = env.user();
    let created = json_ok(env.as_user(&token).args([
        "thread",
        "create",
        "--topic",
        "Props",
        "--metadata",
        "team=blue",
        "--delete-after-days",
        "30",
    ]));
    let thread = created["chatThread"]["id"].as_str().unwrap().to_owned();
    let shown = json_ok(env.as_user(&token).args(["thread", "show", "-t", &thread]));
    assert_eq!(shown["topic"], "Props");
    assert_eq!(shown["metadata"]["team"], "blue");
    assert_eq!(shown["retentionPolicy"]["kind"], "threadCreationDate");
    assert_eq!(shown["retentionPolicy"]["deleteThreadAfterDays"], 30);
    assert_eq!(
        shown["createdByCommunicationIdentifier"]["rawId"],
        user.as_str()
    );

    silent_ok(env.as_user(&token).args([
        "thread",
        "update",
        "-t",
        &thread,
        "--metadata",
        "team=red",
        "stage=2",
        "--no-retention-policy",
    ]));
    let shown = json_ok(env.as_user(&token).args(["thread", "show", "-t", &thread]));
    assert_eq!(shown["topic"], "Props", "not given, not changed");
    assert_eq!(
        shown["metadata"],
        serde_json::json!({"team": "red", "stage": "2"})
    );
    assert_eq!(shown["retentionPolicy"]["kind"], "none");
    silent_ok(
        env.as_user(&token)
            .args(["thread", "update", "-t", &thread, "--topic", "New"]),
    );
    let topic = json_ok(
        env.as_user(&token)
            .args(["thread", "show", "-t", &thread, "--query", "topic"]),
    );
    assert_eq!(topic, "New");
    usage_error(
        env.as_user(&token)
            .args(["thread", "update", "-t", &thread]),
        &[],
    );

    // Participant and message metadata.
    let (bob, _) = env.user();
    json_ok(env.as_user(&token).args([
        "participant",
        "add",
        "-t",
        &thread,
        "--user",
        &bob,
        "--metadata",
        "role=guest",
    ]));
    let role = json_ok(env.as_user(&token).args([
        "participant",
        "list",
        "-t",
        &thread,
        "--query",
        &format!("[?communicationIdentifier.rawId=='{bob}'].metadata.role | [0]"),
    ]));
    assert_eq!(role, "guest");
    let id = env.send(&token, &thread, "hello");
    silent_ok(env.as_user(&token).args([
        "message",
        "update",
        "-t",
        &thread,
        "--message-id",
        &id,
        "--metadata",
        "pinned=yes",
    ]));
    let got =
        json_ok(
            env.as_user(&token)
                .args(["message", "get", "-t", &thread, "--message-id", &id]),
        );
    assert_eq!(got["metadata"]["pinned"], "yes");
    assert_eq!(got["content"]["message"], "hello");
}

#[test]
fn output_formats_and_query() {
    let env = Env::start();
    let (_, token) = env.user();
    let thread = env.thread(&token, "Formats");
    let run = |args: &[&str]| {
        let out = env
            .as_user(&token)
            .args(args)
            .assert()
            .success()
            .stderr("")
            .get_output()
            .stdout
            .clone();
        String::from_utf8(out).unwrap()
    };
    assert_eq!(run(&["-o", "none", "thread", "list"]), "");
    assert_eq!(
        run(&["-o", "jsonc", "thread", "list", "--query", "[].topic"]),
        "[\n  \"Formats\"\n]\n"
    );
    assert_eq!(
        run(&["-o", "tsv", "thread", "list", "--query", "[].[id, topic]"]),
        format!("{thread}\tFormats\n")
    );
    let yaml = run(&["-o", "yaml", "thread", "show", "-t", &thread]);
    assert!(yaml.contains("topic: Formats\n"), "{yaml}");
    let yaml = run(&["-o", "yamlc", "thread", "list"]);
    assert!(yaml.starts_with(&format!("- id: {thread}\n")), "{yaml}");
    // tsv without a query: every value of each item, in key order, no header.
    let tsv = run(&["-o", "tsv", "thread", "list"]);
    assert_eq!(tsv.lines().count(), 1, "{tsv}");
    assert!(tsv.starts_with(&format!("{thread}\t")), "{tsv}");
    let table = run(&[
        "-o",
        "table",
        "thread",
        "list",
        "--query",
        "[].{topic: topic}",
    ]);
    assert_eq!(table, "Topic\n-------\nFormats\n");
    usage_error(
        env.as_user(&token)
            .args(["thread", "list", "--query", "[?"]),
        &["--query"],
    );
}

#[test]
fn start_time_takes_what_az_shows() {
    let env = Env::start();
    let (_, token) = env.user();
    let thread = env.thread(&token, "Times");
    for time in [
        "2022-07-14T10:21",
        "2022-07-14",
        "2022-07-14 10:21:05",
        "2022-07-14T10:21:00+02:00",
    ] {
        let list = json_ok(
            env.as_user(&token)
                .args(["thread", "list", "--start-time", time]),
        );
        assert_eq!(ids(&list), vec![thread.as_str()], "{time}");
    }
    let list = json_ok(env.as_user(&token).args([
        "message",
        "list",
        "-t",
        &thread,
        "--start-time",
        "2999-01-01",
    ]));
    assert_eq!(list, Value::Array(vec![]));
}

/// JSON Lines from a watch's stdout.
fn json_lines(stdout: &[u8]) -> Vec<Value> {
    String::from_utf8_lossy(stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{l:?}: {e}")))
        .collect()
}

#[test]
fn message_watch_prints_json_lines_and_resumes_from_its_cursor_file() {
    let env = Env::start();
    let (_, token) = env.user();
    let thread = env.thread(&token, "Watched");
    let first: Vec<String> = (0..3)
        .map(|i| env.send(&token, &thread, &format!("m{i}")))
        .collect();
    let cursor = env.dir.path().join("cursor.json");
    let watch = |max: &str| {
        env.as_user(&token)
            .args(["message", "watch", "-t", &thread, "--since", "1970-01-01"])
            .args([
                "--max-events",
                max,
                "--poll-interval",
                "0.01",
                "0.05",
                "--cursor-file",
            ])
            .arg(&cursor)
            .timeout(Duration::from_secs(60))
            .assert()
            .success()
            .get_output()
            .stdout
            .clone()
    };
    let events = json_lines(&watch("4"));
    let kinds: Vec<&str> = events.iter().map(|e| e["type"].as_str().unwrap()).collect();
    assert_eq!(
        kinds,
        [
            "participantsAdded",
            "chatMessageReceived",
            "chatMessageReceived",
            "chatMessageReceived"
        ]
    );
    let ids: Vec<&str> = events[1..]
        .iter()
        .map(|e| e["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, first);
    assert_eq!(events[1]["message"], "m0");
    assert_eq!(events[1]["threadId"], thread.as_str());

    // Restarted with the same cursor file: only what is new.
    let later: Vec<String> = (3..5)
        .map(|i| env.send(&token, &thread, &format!("m{i}")))
        .collect();
    let events = json_lines(&watch("2"));
    let ids: Vec<&str> = events.iter().map(|e| e["id"].as_str().unwrap()).collect();
    assert_eq!(ids, later);

    // A file that is not a cursor is a usage error, not a silent restart.
    std::fs::write(&cursor, "{\"not\": \"a cursor\"}").unwrap();
    let stderr = fails(
        env.as_user(&token)
            .args(["message", "watch", "-t", &thread, "--cursor-file"])
            .arg(&cursor),
        2,
    );
    assert!(stderr.contains("not a saved cursor"), "{stderr}");
}

#[cfg(unix)]
#[test]
fn events_watch_prints_changes_as_they_happen_and_stops_on_sigterm() {
    let env = Env::start();
    let (_, token) = env.user();
    let existing = env.thread(&token, "Existing");
    let mut child = ChildGuard(
        StdCommand::new(BIN)
            .args([
                "events",
                "watch",
                "-o",
                "tsv",
                "--poll-interval",
                "0.01",
                "0.05",
            ])
            .args([
                "--endpoint",
                &env.emulator.endpoint(),
                "--access-token",
                &token,
                "--ca-cert",
            ])
            .arg(&env.ca)
            .env_remove("AZURE_COMMUNICATION_CONNECTION_STRING")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap(),
    );
    let mut stderr = BufReader::new(child.0.stderr.take().unwrap());
    let mut line = String::new();
    stderr.read_line(&mut line).unwrap();
    assert!(line.contains("watching"), "{line}");
    // Made after the watch started: printed; the thread before it: not.
    let id = env.send(&token, &existing, "hello\tthere");
    let mut stdout = BufReader::new(child.0.stdout.take().unwrap());
    line.clear();
    stdout.read_line(&mut line).unwrap();
    let cells: Vec<&str> = line.trim_end_matches('\n').split('\t').collect();
    assert_eq!(cells.len(), 5, "{line:?}");
    assert_eq!(cells[0], "chatMessageReceived");
    assert_eq!(cells[1], existing);
    assert_eq!(cells[2], id);
    // The tab inside the content is escaped: one line, five cells.
    assert_eq!(cells[4], "hello\\tthere");

    let status = StdCommand::new("kill")
        .args(["-TERM", &child.0.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    assert!(child.0.wait().unwrap().success());
}

#[test]
fn events_listen_prints_each_delivered_event_once() {
    let mut child = ChildGuard(
        StdCommand::new(BIN)
            .args(["events", "listen", "--port", "0", "--max-events", "2"])
            .args(["--secret", "s3cret"])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap(),
    );
    let mut stderr = BufReader::new(child.0.stderr.take().unwrap());
    let mut line = String::new();
    stderr.read_line(&mut line).unwrap();
    let port: u16 = line
        .split("http://127.0.0.1:")
        .nth(1)
        .and_then(|rest| rest.split('/').next())
        .and_then(|p| p.parse().ok())
        .unwrap_or_else(|| panic!("no URL in {line:?}"));

    let post = |path: &str, id: &str, body: &str| -> String {
        let event = format!(
            r#"[{{"id": "{id}", "subject": "thread/19:a@thread.v2/sender/8:acs:r_ann/recipient/8:acs:r_bot",
            "eventType": "Microsoft.Communication.ChatMessageReceived",
            "eventTime": "2024-05-01T10:00:01Z", "dataVersion": "1.0",
            "data": {{"threadId": "19:a@thread.v2", "messageId": "{id}", "type": "Text",
                     "messageBody": "{body}", "composeTime": "2024-05-01T10:00:00Z",
                     "senderCommunicationIdentifier": {{"rawId": "8:acs:r_ann"}},
                     "recipientCommunicationIdentifier": {{"rawId": "8:acs:r_bot"}}}}}}]"#
        );
        let mut stream = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
        write!(
            stream,
            "POST {path} HTTP/1.1\r\nhost: x\r\naeg-event-type: Notification\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{event}",
            event.len()
        )
        .unwrap();
        let mut response = String::new();
        stream.read_to_string(&mut response).unwrap();
        response
    };
    assert!(post("/", "1", "no secret").starts_with("HTTP/1.1 401"));
    assert!(post("/?code=s3cret", "1", "first").starts_with("HTTP/1.1 200"));
    assert!(post("/?code=s3cret", "1", "first").starts_with("HTTP/1.1 200"));
    assert!(post("/?code=s3cret", "2", "second").starts_with("HTTP/1.1 200"));
    let mut stdout = String::new();
    child
        .0
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut stdout)
        .unwrap();
    assert!(child.0.wait().unwrap().success());
    let events = json_lines(stdout.as_bytes());
    let messages: Vec<&str> = events
        .iter()
        .map(|e| e["message"].as_str().unwrap())
        .collect();
    assert_eq!(messages, ["first", "second"]);
}
