//! The web view in a real headless browser (Debian's `chromium`), driven through the DevTools
//! protocol over `--remote-debugging-pipe` (JSON messages separated by NUL bytes on file
//! descriptors 3 and 4; `sh` wires them to the child's stdin and stdout, so no unsafe code and
//! no WebSocket client are needed).
//!
//! The browser waits for conditions itself (a promise over a `MutationObserver`, awaited by
//! `Runtime.evaluate`), so the test never polls or sleeps; a deadline only turns a hang into a
//! failure. Without a browser the test fails and says how to install one, unless
//! `ACS_CHAT_NO_BROWSER=1` says this machine has none (then it is skipped with a message).
//! `CHROMIUM=/path/to/chrome` picks another binary.

mod support;

use std::collections::VecDeque;
use std::io::{BufRead as _, BufReader, Write as _};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::time::Duration;

use acs_chat_protocol::models::CreateChatThreadRequest;
use acs_chat_protocol::operations::*;
use serde_json::{Value, json};
use support::Harness;
use tokio::sync::mpsc;

/// Every wait fails the test after this long (a hang, not a slow machine, is what it catches).
const DEADLINE: Duration = Duration::from_secs(60);

const EVIL_TOPIC: &str =
    "<script>document.title='pwned'</script><img src=x onerror=\"document.title='pwned'\">";

fn find_chromium() -> Option<String> {
    if let Ok(path) = std::env::var("CHROMIUM") {
        return Some(path);
    }
    let path = std::env::var_os("PATH")?;
    ["chromium", "chromium-browser", "google-chrome"]
        .iter()
        .flat_map(|name| std::env::split_paths(&path).map(move |dir| dir.join(name)))
        .find(|p| p.is_file())
        .map(|p| p.display().to_string())
}

struct Browser {
    child: Child,
    stdin: ChildStdin,
    messages: mpsc::UnboundedReceiver<Value>,
    events: VecDeque<Value>,
    next_id: u64,
    _profile: tempfile::TempDir,
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Browser {
    fn launch(chromium: &str) -> Self {
        let profile = tempfile::tempdir().unwrap();
        let mut child = Command::new("sh")
            .arg("-c")
            // fd 3 reads our stdin, fd 4 writes our stdout; chromium's own stdio goes nowhere.
            .arg(r#"exec "$0" "$@" 3<&0 4>&1 </dev/null >/dev/null 2>/dev/null"#)
            .arg(chromium)
            .args([
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--disable-dev-shm-usage",
                "--ignore-certificate-errors",
                "--remote-debugging-pipe",
            ])
            .arg(format!("--user-data-dir={}", profile.path().display()))
            .arg("about:blank")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromium starts");
        let stdin = child.stdin.take().unwrap();
        let mut stdout = BufReader::new(child.stdout.take().unwrap());
        let (tx, messages) = mpsc::unbounded_channel();
        std::thread::spawn(move || {
            let mut buf = Vec::new();
            loop {
                buf.clear();
                match stdout.read_until(0, &mut buf) {
                    Ok(0) | Err(_) => return,
                    Ok(_) => {
                        if buf.last() == Some(&0) {
                            buf.pop();
                        }
                        if let Ok(message) = serde_json::from_slice::<Value>(&buf)
                            && tx.send(message).is_err()
                        {
                            return;
                        }
                    }
                }
            }
        });
        Self {
            child,
            stdin,
            messages,
            events: VecDeque::new(),
            next_id: 0,
            _profile: profile,
        }
    }

    async fn receive(&mut self) -> Value {
        tokio::time::timeout(DEADLINE, self.messages.recv())
            .await
            .expect("the browser said nothing within the deadline")
            .expect("the browser exited")
    }

    /// Calls `method` (in `session`, when given) and returns its result.
    async fn call(&mut self, session: Option<&str>, method: &str, params: Value) -> Value {
        self.next_id += 1;
        let id = self.next_id;
        let mut message = json!({"id": id, "method": method, "params": params});
        if let Some(session) = session {
            message["sessionId"] = json!(session);
        }
        let mut bytes = serde_json::to_vec(&message).unwrap();
        bytes.push(0);
        self.stdin.write_all(&bytes).unwrap();
        self.stdin.flush().unwrap();
        loop {
            let reply = self.receive().await;
            if reply["id"] == json!(id) {
                assert!(reply.get("error").is_none(), "{method}: {reply}");
                return reply["result"].clone();
            }
            if reply.get("method").is_some() {
                self.events.push_back(reply);
            }
        }
    }

    async fn event(&mut self, method: &str) -> Value {
        if let Some(i) = self.events.iter().position(|e| e["method"] == method) {
            return self.events.remove(i).unwrap();
        }
        loop {
            let message = self.receive().await;
            if message["method"] == method {
                return message;
            }
        }
    }

    /// Waits, in the page, until `condition` (a JavaScript expression) holds; returns
    /// `value` (another expression) then.
    async fn wait_for(&mut self, session: &str, condition: &str, value: &str) -> Value {
        let expression = format!(
            "new Promise(resolve => {{
                const check = () => {{ if ({condition}) {{ resolve({value}); return true; }} return false; }};
                if (check()) return;
                const observer = new MutationObserver(() => {{ if (check()) observer.disconnect(); }});
                observer.observe(document, {{subtree: true, childList: true, characterData: true, attributes: true}});
            }})"
        );
        let result = self
            .call(
                Some(session),
                "Runtime.evaluate",
                json!({"expression": expression, "awaitPromise": true, "returnByValue": true}),
            )
            .await;
        assert!(result.get("exceptionDetails").is_none(), "{result}");
        result["result"]["value"].clone()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_web_view_renders_and_updates_live_in_a_browser() {
    let Some(chromium) = find_chromium() else {
        if std::env::var("ACS_CHAT_NO_BROWSER").is_ok_and(|v| v == "1") {
            eprintln!("SKIPPED: no chromium on this machine (ACS_CHAT_NO_BROWSER=1)");
            return;
        }
        panic!(
            "no chromium: install it (`apt-get install -y chromium`, as .ci/run does), point \
             CHROMIUM at a Chrome binary, or set ACS_CHAT_NO_BROWSER=1 to skip this test"
        );
    };
    let h = Harness::start().await;
    let (_, token) = h.user();
    let mut op = CreateChatThread::new("", Default::default());
    op.body = CreateChatThreadRequest::new(EVIL_TOPIC);
    let thread = h.call(&op, &token).await.unwrap().chat_thread.unwrap().id;
    let send = |text: &'static str| SendChatMessage::new(&thread, text, Default::default());
    h.call(&send("hello from the api"), &token).await.unwrap();

    let mut browser = Browser::launch(&chromium);
    let target = browser
        .call(None, "Target.createTarget", json!({"url": "about:blank"}))
        .await;
    let attached = browser
        .call(
            None,
            "Target.attachToTarget",
            json!({"targetId": target["targetId"], "flatten": true}),
        )
        .await;
    let session = attached["sessionId"].as_str().unwrap().to_owned();
    browser.call(Some(&session), "Page.enable", json!({})).await;
    let url = format!("{}_emulator/", h.emulator.endpoint());
    browser
        .call(Some(&session), "Page.navigate", json!({"url": url}))
        .await;
    browser.event("Page.loadEventFired").await;

    // Rendered, with the topic as text (its script never ran), and the live stream open.
    let seen = browser
        .wait_for(
            &session,
            "document.body.dataset.live === 'connected' && document.body.textContent.includes('hello from the api')",
            "({title: document.title, topic: document.querySelector('.topic').textContent, scripts: document.scripts.length})",
        )
        .await;
    assert_eq!(seen["title"], "ACS Chat emulator", "{seen}");
    assert_eq!(seen["topic"], EVIL_TOPIC, "{seen}");
    assert_eq!(seen["scripts"], 1, "only the page's own script: {seen}");

    // A message sent through the API appears without a reload (server-sent events).
    h.call(&send("sent while the page is open"), &token)
        .await
        .unwrap();
    let updated = browser
        .wait_for(
            &session,
            "document.body.textContent.includes('sent while the page is open')",
            "document.querySelectorAll('tr.message').length",
        )
        .await;
    // The system message of the creation and the two messages.
    assert_eq!(updated, 3);
    assert_eq!(
        browser.wait_for(&session, "true", "document.title").await,
        "ACS Chat emulator"
    );
}
