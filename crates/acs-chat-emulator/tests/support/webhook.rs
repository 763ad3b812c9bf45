//! A webhook receiver for tests: a small hyper server on 127.0.0.1 that hands every request to
//! `acs_chat_events::webhook::WebhookHandler`, reports it on a channel, and answers as
//! scripted (the handler's answer by default): handshakes and deliveries each from their own
//! script, so that a retried handshake does not shift the deliveries' answers.

use std::collections::VecDeque;
use std::convert::Infallible;
use std::sync::{Arc, Mutex};

use acs_chat_events::webhook::{Outcome, WebhookHandler};
use bytes::Bytes;
use http::{HeaderMap, Method, Request, Response, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tokio::sync::{mpsc, oneshot};

/// How the webhook answers one request.
pub enum Answer {
    /// What `WebhookHandler` answers.
    Handle,
    /// This status, empty body.
    Status(u16),
    /// Nothing, until the sender is dropped or sends.
    Hang(oneshot::Receiver<()>),
}

/// One request the webhook received.
#[derive(Debug)]
pub struct Received {
    pub method: Method,
    pub headers: HeaderMap,
    pub outcome: Result<Outcome, acs_chat_events::Error>,
}

impl Received {
    pub fn header(&self, name: &str) -> &str {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
    }

    /// The (event id, event type, subject) of a notification of one event.
    pub fn event(&self) -> (String, String, String) {
        match &self.outcome {
            Ok(Outcome::Notification { events, ignored }) => {
                assert_eq!((events.len(), *ignored), (1, 0), "one event per delivery");
                let e = &events[0];
                (
                    e.id.clone(),
                    e.event_type.clone(),
                    e.subject.clone().unwrap_or_default(),
                )
            }
            other => panic!("not a notification: {other:?}"),
        }
    }
}

pub struct Webhook {
    pub url: String,
    pub received: mpsc::UnboundedReceiver<Received>,
    script: Scripts,
    task: tokio::task::JoinHandle<()>,
}

#[derive(Clone, Default)]
struct Scripts {
    handshakes: Arc<Mutex<VecDeque<Answer>>>,
    deliveries: Arc<Mutex<VecDeque<Answer>>>,
}

impl Drop for Webhook {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Webhook {
    pub async fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!(
            "http://{}/api/events?code=secret",
            listener.local_addr().unwrap()
        );
        let (tx, received) = mpsc::unbounded_channel();
        let script = Scripts::default();
        let task = tokio::spawn(serve(listener, tx, script.clone()));
        Self {
            url,
            received,
            script,
            task,
        }
    }

    /// Answers the next deliveries so, then as the handler does.
    pub fn then(&self, answer: Answer) -> &Self {
        self.script.deliveries.lock().unwrap().push_back(answer);
        self
    }

    /// Answers the next handshakes so, then as the handler does.
    pub fn then_handshake(&self, answer: Answer) -> &Self {
        self.script.handshakes.lock().unwrap().push_back(answer);
        self
    }

    /// The next request, failing the test if none comes within a minute.
    pub async fn next(&mut self) -> Received {
        tokio::time::timeout(std::time::Duration::from_secs(60), self.received.recv())
            .await
            .expect("the webhook got no request within a minute")
            .expect("the webhook stopped")
    }
}

async fn serve(listener: TcpListener, tx: mpsc::UnboundedSender<Received>, script: Scripts) {
    let handler = WebhookHandler::new();
    loop {
        let Ok((tcp, _)) = listener.accept().await else {
            continue;
        };
        let (tx, script, handler) = (tx.clone(), script.clone(), handler.clone());
        tokio::spawn(async move {
            let service = service_fn(move |request: Request<Incoming>| {
                let (tx, script, handler) = (tx.clone(), script.clone(), handler.clone());
                async move {
                    let (parts, body) = request.into_parts();
                    let body = body
                        .collect()
                        .await
                        .map(|b| b.to_bytes())
                        .unwrap_or_default();
                    let request = Request::from_parts(parts, body);
                    let handled = handler.handle(&request);
                    let handshake = matches!(
                        handled.outcome,
                        Ok(Outcome::Validated { .. } | Outcome::HandshakeGranted { .. })
                    );
                    let queue = if handshake {
                        &script.handshakes
                    } else {
                        &script.deliveries
                    };
                    let answer = queue.lock().unwrap().pop_front().unwrap_or(Answer::Handle);
                    let _ = tx.send(Received {
                        method: request.method().clone(),
                        headers: request.headers().clone(),
                        outcome: handled.outcome,
                    });
                    let response = match answer {
                        Answer::Handle => handled.response,
                        Answer::Status(s) => {
                            let mut r = Response::new(Bytes::new());
                            *r.status_mut() = StatusCode::from_u16(s).unwrap();
                            r
                        }
                        Answer::Hang(rx) => {
                            let _ = rx.await;
                            Response::new(Bytes::new())
                        }
                    };
                    Ok::<_, Infallible>(response.map(Full::new))
                }
            });
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(tcp), service)
                .await;
        });
    }
}
