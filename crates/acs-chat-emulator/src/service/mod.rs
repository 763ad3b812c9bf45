//! HTTP: `http::Request<Bytes>` in, `http::Response<Bytes>` out, over a [`Store`].
//!
//! [`Service::handle`] is synchronous and takes `now`, so it is tested without sockets or a
//! clock. Routes come from the generated operation table (`routes`); each operation has one
//! handler (`chat`, `identity`); JSON in and out is in `json`. The server
//! ([`crate::RunningEmulator`]) adds the body limit, fault injection and logging around it.

mod chat;
mod identity;
mod json;
mod routes;

use std::borrow::Cow;
use std::cell::Cell;
use std::fmt;
use std::panic::{self, AssertUnwindSafe};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use acs_chat_protocol::DateTime;
use acs_chat_protocol::headers::{CLIENT_REQUEST_ID, MS_CV, REQUEST_ID};
use bytes::Bytes;
use foldhash::HashMap;
use http::header::{AUTHORIZATION, HOST};
use http::{HeaderValue, Request, Response};
use percent_encoding::percent_decode_str;

use tokio::sync::watch;

use crate::events::{Emitted, Outgoing, Publisher, chat_events};
use crate::hmac_auth::{MAX_CLOCK_SKEW, verify_request};
use crate::identity::{AccessKey, TokenClaims, TokenSigner};
use crate::limits::ServiceLimits;
use crate::persist::{Db, PersistError, Plan};
use crate::store::{Caller, Store, StoreError};
pub use json::error_response;
use routes::Api;

/// Chat api-versions accepted (every published one; the Python SDK sends 2024-03-07).
pub const CHAT_API_VERSIONS: &[&str] = &[
    "2020-09-21-preview2",
    "2020-11-01-preview3",
    "2021-01-27-preview4",
    "2021-03-01-preview5",
    "2021-03-07",
    "2021-04-05-preview6",
    "2021-09-07",
    "2021-10-01-preview7",
    "2022-04-21-preview8",
    "2023-11-07",
    "2024-03-07",
    "2024-03-15-preview",
    "2025-03-15",
];

/// Identity api-versions accepted (the SDKs send 2023-10-01).
pub const IDENTITY_API_VERSIONS: &[&str] = &[
    "2021-03-07",
    "2021-10-31-preview",
    "2021-11-01",
    "2022-06-01",
    "2022-10-01",
    "2023-10-01",
    "2025-06-30",
    "2026-09-23",
];

/// Token scopes the Identity API knows.
pub const TOKEN_SCOPES: &[&str] = &[
    "chat",
    "voip",
    "chat.join",
    "chat.join.limited",
    "voip.join",
];

/// Default page size of list threads and list messages (the service does not document its own).
pub const DEFAULT_PAGE_SIZE: usize = 20;
/// Default page size of list participants and list read receipts.
pub const DEFAULT_PARTICIPANT_PAGE_SIZE: usize = 100;
/// The default token lifetime (24 hours, as the Identity service).
pub const DEFAULT_TOKEN_TTL: Duration = Duration::from_secs(24 * 3600);
/// At most this many verified tokens are remembered (the cache is emptied when full).
const VERIFIED_TOKENS_CAPACITY: usize = 1024;

type Result<T, E = StoreError> = std::result::Result<T, E>;

/// The handler of one operation.
type Handler = fn(&Service, &Ctx<'_>) -> Result<Response<Bytes>>;

/// The emulated service: a [`Store`] behind the wire protocol.
#[derive(Debug)]
pub struct Service {
    state: Mutex<State>,
    key: AccessKey,
    signer: TokenSigner,
    https: bool,
    default_authority: String,
    requests: AtomicU64,
    max_body_bytes: usize,
    /// The store's limits, as they were when the service was made (page sizes, display names).
    limits: ServiceLimits,
    /// Tokens whose signature checked out, with their claims. Checking a signature depends only
    /// on the token and the signing key (fixed for the service), so a remembered result is the
    /// result `verify` would give again; revocation and expiry are checked by the store on
    /// every request. Keyed by the token's signature (its last part, so a lookup hashes a few
    /// dozen bytes rather than the whole token), with the whole token to compare.
    verified_tokens: Mutex<HashMap<String, (String, Arc<TokenClaims>)>>,
    /// Who hears of the changes: in-process subscribers and webhook subscriptions.
    publisher: Publisher,
    /// The database, when the emulator has a data directory. Lock order: `flushing`, then
    /// `state`, then `db`.
    db: Mutex<Option<Db>>,
    /// Held by whoever writes the pending changes (one writer at a time, so batches are
    /// written in the order they were made).
    flushing: Mutex<()>,
    /// How far the changes made are written (see [`Durable`]).
    durable: watch::Sender<Durable>,
    /// Lets a test hold the writes back (see [`Self::written`]).
    #[cfg(test)]
    pub(crate) write_gate: WriteGate,
}

/// A test's hold on the writes: while it holds `gate` for writing, a request that must wait
/// for its change to be written waits before writing it (without holding a thread).
#[cfg(test)]
#[derive(Debug, Default)]
pub(crate) struct WriteGate {
    pub(crate) gate: tokio::sync::RwLock<()>,
    /// How many requests wait at the gate.
    waiting: AtomicU64,
    changed: tokio::sync::Notify,
}

#[cfg(test)]
impl WriteGate {
    /// Until a request waits at the gate.
    pub(crate) async fn a_request_waits(&self) {
        loop {
            // (Made before looking: it hears of any arrival after that.)
            let changed = self.changed.notified();
            if self.waiting.load(Ordering::SeqCst) > 0 {
                return;
            }
            changed.await;
        }
    }

    async fn pass(&self) {
        self.waiting.fetch_add(1, Ordering::SeqCst);
        self.changed.notify_waiters();
        drop(self.gate.read().await);
        self.waiting.fetch_sub(1, Ordering::SeqCst);
    }
}

/// How far the changes made in memory are in the database. Each store call of a persisted
/// emulator gets the number of the latest change made when it ended (its own, or an earlier
/// one it may have seen); its response waits until that number is written, so that no
/// response shows what a crash could lose.
#[derive(Debug, Default)]
struct Durable {
    /// Every change up to this one is written, or failed.
    done: u64,
    /// The changes that could not be written (undone in memory): their calls fail with 500.
    failed: Vec<std::ops::RangeInclusive<u64>>,
}

/// A change made in memory and not yet written: its statements and its events.
#[derive(Debug)]
struct Pending {
    seq: u64,
    plan: Plan,
    emitted: Vec<Emitted>,
    outgoing: Vec<Outgoing>,
}

/// The store, and (with a data directory) the changes made and not yet written.
#[derive(Debug)]
struct State {
    store: Store,
    /// Whether there is a database under the store.
    persisted: bool,
    /// The number of the latest change made (persisted only).
    applied: u64,
    pending: Vec<Pending>,
}

impl State {
    /// Hands the store's recorded changes on: in memory, publishes their events; with a
    /// database, plans their rows and queues them to be written (then published) by
    /// [`Service::flush`]. Returns the number of the latest change made (persisted only),
    /// which the caller's response waits for. On failure (a change that cannot be
    /// written), the store goes back to what the database holds.
    fn commit(
        &mut self,
        publisher: &Publisher,
        db: &Mutex<Option<Db>>,
        durable: &watch::Sender<Durable>,
        now: DateTime,
    ) -> Result<Option<u64>, PersistError> {
        let changes = self.store.take_changes();
        if changes.is_empty() {
            return Ok(self.persisted.then_some(self.applied));
        }
        // Nobody would hear of them (a subscriber that comes later sees only later events).
        let emitted = if publisher.listened() {
            chat_events(&changes, &self.store, now)
        } else {
            Vec::new()
        };
        let outgoing = publisher.outgoing(&emitted, now);
        if !self.persisted {
            publisher.publish(emitted, &outgoing, None);
            return Ok(None);
        }
        let names: Vec<&str> = publisher.subscriptions().iter().map(|s| s.name()).collect();
        match crate::persist::plan(&self.store, &changes, &names, &outgoing) {
            Ok(plan) => {
                self.applied += 1;
                self.pending.push(Pending {
                    seq: self.applied,
                    plan,
                    emitted,
                    outgoing,
                });
                Ok(Some(self.applied))
            }
            Err(e) => {
                self.undo(db, durable);
                Err(e)
            }
        }
    }

    /// Goes back to what the database holds: the store is read again, and the changes not
    /// yet written are dropped (their calls fail).
    ///
    /// The state after it counts as a change of its own, written already: the requests that
    /// see it wait for nothing.
    fn undo(&mut self, db: &Mutex<Option<Db>>, durable: &watch::Sender<Durable>) {
        // Taken before anything is decided: a batch being written is written (or its
        // failure recorded) by then.
        let db = db.lock().unwrap_or_else(PoisonError::into_inner);
        if let Err(e) = self.reload(&db) {
            tracing::error!(error = %e, "the database could not be read back");
        }
        let failed = self.pending.first().map(|first| first.seq..=self.applied);
        self.pending.clear();
        self.applied += 1;
        let applied = self.applied;
        durable.send_modify(|d| {
            d.failed.extend(failed);
            d.done = d.done.max(applied);
        });
    }

    /// The store as the database holds it (same configuration); nothing without a database.
    fn reload(&mut self, db: &Option<Db>) -> Result<(), PersistError> {
        if let Some(loaded) = db.as_ref().map(Db::load).transpose()?.flatten() {
            let mut store = loaded.store;
            store.configure_like(&self.store);
            self.store = store;
        }
        Ok(())
    }
}

/// The 500 of a change that could not be written.
fn not_saved() -> StoreError {
    StoreError::new(
        500,
        "InternalServerError",
        "The emulator could not save the change.",
    )
}

/// What a handler needs of a request.
struct Ctx<'a> {
    query: Vec<(Cow<'a, str>, Cow<'a, str>)>,
    /// The path parameters of the route, decoded.
    params: Vec<(&'static str, Cow<'a, str>)>,
    /// `https://host:port`, for links.
    origin: Origin<'a>,
    body: &'a [u8],
    authorization: Option<&'a HeaderValue>,
    /// The authenticated caller, for the chat routes.
    caller: Option<Caller>,
    repeatability: Option<&'a str>,
    now: DateTime,
    /// The latest change the request made or may have seen (persisted only): its response
    /// waits until it is written.
    seq: &'a Cell<Option<u64>>,
}

/// `https://host:port` (written out only when a response needs a link).
#[derive(Debug, Clone, Copy)]
struct Origin<'a> {
    /// `https://` or `http://`.
    scheme: &'static str,
    authority: &'a str,
}

impl fmt::Display for Origin<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.scheme)?;
        f.write_str(self.authority)
    }
}

impl Ctx<'_> {
    fn query(&self, name: &str) -> Option<&str> {
        self.query
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| &**v)
    }

    /// A path parameter (the route guarantees the template's parameters are there).
    fn param(&self, name: &str) -> &str {
        self.params
            .iter()
            .find(|(n, _)| *n == name)
            .map_or("", |(_, v)| v)
    }

    /// The api-version of the request (checked before the handler runs).
    fn api_version(&self) -> &str {
        self.query("api-version").unwrap_or_default()
    }
}

/// The 413 of a request body over `limit` bytes.
pub(crate) fn body_too_large(limit: usize) -> StoreError {
    StoreError::new(
        413,
        "RequestEntityTooLarge",
        format!("The request body exceeds {limit} bytes."),
    )
}

fn not_found_route() -> StoreError {
    StoreError::new(404, "NotFound", "The requested resource was not found.")
}

fn parse_query(query: Option<&str>) -> Vec<(Cow<'_, str>, Cow<'_, str>)> {
    query
        .unwrap_or_default()
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            (decode_lossy(k), decode_lossy(v))
        })
        .collect()
}

/// A query name or value, percent-decoded (invalid UTF-8 replaced); most hold no escape and
/// are borrowed as they are.
fn decode_lossy(s: &str) -> Cow<'_, str> {
    if s.contains('%') {
        percent_decode_str(s).decode_utf8_lossy()
    } else {
        Cow::Borrowed(s)
    }
}

/// `00000000-0000-4000-8000-<the low 48 bits of n, 12 hex digits>`: the `x-ms-request-id`
/// of the `n`th response.
fn request_id(n: u64) -> HeaderValue {
    let id = uuid::Uuid::from_u64_pair(0x4000, 0x8000_0000_0000_0000 | (n & 0xffff_ffff_ffff));
    let mut buf = [0u8; uuid::fmt::Hyphenated::LENGTH];
    // Hex digits and dashes are always a valid header value.
    HeaderValue::from_bytes(id.hyphenated().encode_lower(&mut buf).as_bytes())
        .unwrap_or_else(|_| HeaderValue::from_static(""))
}

/// `emulator.<n>`: the `MS-CV` of the `n`th response.
fn correlation_vector(n: u64) -> HeaderValue {
    let mut digits = itoa::Buffer::new();
    let digits = digits.format(n);
    let mut cv = Vec::with_capacity(9 + digits.len());
    cv.extend_from_slice(b"emulator.");
    cv.extend_from_slice(digits.as_bytes());
    HeaderValue::from_maybe_shared(Bytes::from(cv)).unwrap_or_else(|_| HeaderValue::from_static(""))
}

fn check_api_version(ctx: &Ctx<'_>, allowed: &[&str]) -> Result<()> {
    match ctx.query("api-version") {
        None => Err(StoreError::new(
            400,
            "MissingApiVersionParameter",
            "The api-version query parameter (?api-version=) is required for all requests.",
        )
        .with_target("api-version")),
        Some(v) if allowed.contains(&v) => Ok(()),
        Some(v) => Err(StoreError::new(
            400,
            "UnsupportedApiVersion",
            format!(
                "The HTTP resource does not support the api-version '{v}'. Supported versions: {}.",
                allowed.join(", ")
            ),
        )
        .with_target("api-version")),
    }
}

impl Service {
    /// A service over `store`, verifying HMAC signatures and signing tokens with `key`.
    /// `https` and `default_authority` (`host:port`) build absolute links when a request has no
    /// usable `Host`.
    pub fn new(
        store: Store,
        key: AccessKey,
        https: bool,
        default_authority: impl Into<String>,
    ) -> Self {
        Self {
            limits: store.limits().clone(),
            signer: TokenSigner::new(&key),
            state: Mutex::new(State {
                store,
                persisted: false,
                applied: 0,
                pending: Vec::new(),
            }),
            key,
            https,
            default_authority: default_authority.into(),
            requests: AtomicU64::new(0),
            max_body_bytes: crate::MAX_BODY_BYTES,
            verified_tokens: Mutex::new(HashMap::default()),
            publisher: Publisher::default(),
            db: Mutex::new(None),
            flushing: Mutex::new(()),
            durable: watch::channel(Durable::default()).0,
            #[cfg(test)]
            write_gate: WriteGate::default(),
        }
    }

    /// Publishes events to `publisher`'s subscribers from now on.
    pub(crate) fn set_publisher(&mut self, publisher: Publisher) {
        self.publisher = publisher;
    }

    /// Who hears of the changes.
    pub(crate) fn publisher(&self) -> &Publisher {
        &self.publisher
    }

    /// Every chat event from now on, in order (see [`crate::events::EventStream`]).
    pub fn events(&self) -> crate::events::EventStream {
        self.publisher.subscribe()
    }

    /// Reads the store (for the web view), changing nothing.
    pub(crate) fn read_store<R>(&self, f: impl FnOnce(&Store) -> R) -> R {
        f(&self.lock_state().store)
    }

    /// The web view's access token: HMAC-SHA256 of the access key over
    /// `acs-chat-emulator web view`, in hex. It proves the key without revealing it.
    pub(crate) fn web_token(&self) -> String {
        use base64::Engine as _;
        use hmac::Mac as _;
        let key = base64::engine::general_purpose::STANDARD
            .decode(self.key.to_base64())
            .unwrap_or_default();
        let mut mac = match hmac::Hmac::<sha2::Sha256>::new_from_slice(&key) {
            Ok(mac) => mac,
            Err(_) => return String::new(),
        };
        mac.update(b"acs-chat-emulator web view");
        mac.finalize()
            .into_bytes()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect()
    }

    /// Removes delivered (or dead-lettered) events from the outbox.
    pub(crate) fn outbox_done(&self, rows: &[i64]) {
        if let Some(db) = &mut *self.lock_db()
            && let Err(e) = db.outbox_delete(rows)
        {
            tracing::warn!(error = %e, "delivered events could not be removed from the outbox");
        }
    }

    /// Records the attempts made for an outbox row (so that a restart goes on counting).
    pub(crate) fn outbox_attempted(&self, row: i64, attempts: u32) {
        if let Some(db) = &mut *self.lock_db()
            && let Err(e) = db.outbox_attempted(row, attempts)
        {
            tracing::warn!(error = %e, "the attempts of an event could not be recorded in the outbox");
        }
    }

    /// Reads the undelivered events of every subscription back from the outbox and queues
    /// them (at start).
    pub(crate) fn requeue_outbox(&self) {
        let mut db = self.lock_db();
        let Some(db) = &mut *db else {
            return;
        };
        for sub in self.publisher.subscriptions() {
            match db.outbox(sub.name()) {
                Ok(rows) if rows.is_empty() => {}
                Ok(rows) => {
                    tracing::info!(
                        subscription = sub.name(),
                        events = rows.len(),
                        "undelivered events from the outbox are queued again"
                    );
                    let evicted = self.publisher.requeue(sub, rows);
                    if let Err(e) = db.outbox_delete(&evicted) {
                        tracing::warn!(error = %e, "dead-lettered events could not be removed from the outbox");
                    }
                }
                Err(e) => {
                    tracing::warn!(subscription = sub.name(), error = %e, "the outbox could not be read");
                }
            }
        }
    }

    /// Refuses request bodies over `limit` bytes with 413 (default [`crate::MAX_BODY_BYTES`]).
    pub fn set_max_body_bytes(&mut self, limit: usize) {
        self.max_body_bytes = limit;
    }

    /// Keeps the state in `db` from now on (it was loaded from there), and signs tokens with
    /// `signer` (whose key is kept there).
    pub(crate) fn set_database(&mut self, db: Db, signer: TokenSigner) {
        self.state
            .get_mut()
            .unwrap_or_else(PoisonError::into_inner)
            .persisted = true;
        *self.db.get_mut().unwrap_or_else(PoisonError::into_inner) = Some(db);
        self.signer = signer;
    }

    /// Runs `sql` on the service's database connection (see [`Db::execute_batch`]).
    #[cfg(test)]
    pub(crate) fn execute_sql(&self, sql: &str) {
        if let Some(db) = &*self.lock_db() {
            db.execute_batch(sql).expect("the statement runs");
        }
    }

    fn lock_db(&self) -> MutexGuard<'_, Option<Db>> {
        self.db.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Writes the changes made and not yet written, in one transaction (a group commit:
    /// every change queued meanwhile goes in the same one), then publishes their events, in
    /// order. When the write fails, the store goes back to what the database holds and the
    /// calls of those changes (and of any made since) fail.
    fn flush(&self) {
        let _flushing = self.flushing.lock().unwrap_or_else(PoisonError::into_inner);
        self.write_pending();
    }

    /// [`Self::flush`] unless someone else is writing: whether this call wrote.
    fn try_flush(&self) -> bool {
        let mut wrote = false;
        loop {
            let flushing = match self.flushing.try_lock() {
                Ok(guard) => guard,
                Err(std::sync::TryLockError::Poisoned(p)) => p.into_inner(),
                Err(std::sync::TryLockError::WouldBlock) => return wrote,
            };
            self.write_pending();
            drop(flushing);
            wrote = true;
            // A change queued by a caller that found this one writing, after it last
            // looked: that caller waits to hear of it, so it is written here.
            if self.lock_state().pending.is_empty() {
                return wrote;
            }
        }
    }

    /// Writes the pending changes, batch after batch, until none is left (with `flushing`
    /// held).
    fn write_pending(&self) {
        loop {
            let mut state = self.lock_state();
            let batch = std::mem::take(&mut state.pending);
            let Some(last) = batch.last().map(|p| p.seq) else {
                return;
            };
            // The database is taken before the store is let go, so that a reload meanwhile
            // (which takes the store, then the database) reads it after this batch.
            let mut db = self.lock_db();
            drop(state);
            let plans: Vec<&Plan> = batch.iter().map(|p| &p.plan).collect();
            let written = match &mut *db {
                Some(db) => db.write_batch(&plans),
                None => Ok(Vec::new()),
            };
            match written {
                Ok(rows) => {
                    let mut rows = rows.into_iter();
                    for pending in batch {
                        let rows = rows.next().unwrap_or_default();
                        let evicted =
                            self.publisher
                                .publish(pending.emitted, &pending.outgoing, Some(&rows));
                        if !evicted.is_empty()
                            && let Some(db) = &mut *db
                            && let Err(e) = db.outbox_delete(&evicted)
                        {
                            tracing::warn!(error = %e, "dead-lettered events could not be removed from the outbox");
                        }
                    }
                    self.durable.send_modify(|d| d.done = d.done.max(last));
                }
                Err(e) => {
                    tracing::error!(error = %e, "the change could not be saved; it is undone");
                    let first = batch.first().map_or(last, |p| p.seq);
                    // Recorded before the database is let go (see `State::undo`).
                    self.durable.send_modify(|d| {
                        d.failed.push(first..=last);
                        d.done = d.done.max(last);
                    });
                    drop(db);
                    self.lock_state().undo(&self.db, &self.durable);
                }
            }
        }
    }

    /// Whether change `seq` is written (`Some(true)`), failed (`Some(false)`), or neither yet.
    fn outcome(&self, seq: u64) -> Option<bool> {
        let durable = self.durable.borrow();
        if durable.failed.iter().any(|r| r.contains(&seq)) {
            Some(false)
        } else if durable.done >= seq {
            Some(true)
        } else {
            None
        }
    }

    /// Waits, writing them itself, until the changes up to `seq` are written: false when
    /// they could not be.
    fn wait_written(&self, seq: u64) -> bool {
        if let Some(ok) = self.outcome(seq) {
            return ok;
        }
        // Whoever flushes holds `flushing` until the batch that may hold `seq` is written.
        self.flush();
        self.outcome(seq).unwrap_or(false)
    }

    /// [`Self::wait_written`] for the server: a request writes the pending changes itself
    /// when nobody is writing (every change queued meanwhile goes in the same transaction),
    /// else waits without holding its thread to hear that its change is written.
    pub(crate) async fn written(&self, seq: u64) -> bool {
        #[cfg(test)]
        self.write_gate.pass().await;
        if self.outcome(seq).is_none() {
            // Let the other requests ready on this thread queue their changes first: they
            // go in the same transaction.
            tokio::task::yield_now().await;
        }
        let mut rx = self.durable.subscribe();
        loop {
            if let Some(ok) = self.outcome(seq) {
                return ok;
            }
            if !self.try_flush() && rx.changed().await.is_err() {
                return false;
            }
        }
    }

    /// Runs `f` on the store (for in-process setup and inspection). With a data directory,
    /// what `f` changed is written before this returns; if that fails, the failure is logged
    /// and the state goes back to what the database holds.
    pub fn with_store<R>(&self, f: impl FnOnce(&mut Store) -> R) -> R {
        let mut state = self.lock_state();
        let result = f(&mut state.store);
        let committed = state.commit(
            &self.publisher,
            &self.db,
            &self.durable,
            crate::server::wall_clock(),
        );
        drop(state);
        match committed {
            Ok(Some(seq)) => {
                // A failure is logged by the writer.
                self.wait_written(seq);
            }
            Ok(None) => {}
            Err(e) => tracing::error!(error = %e, "the change could not be saved; it is undone"),
        }
        result
    }

    /// Runs `f` on the store and writes what it changed (also when it fails: a thread whose
    /// retention ran out is deleted on the way) before returning: a 500 when that fails,
    /// with the state back to what the database holds.
    ///
    /// With a data directory the write is queued: the request's response waits for it
    /// (`Ctx::seq`), so that a response never shows a change a crash could lose, and the
    /// changes of concurrent requests are written together.
    fn transact<R>(&self, ctx: &Ctx<'_>, f: impl FnOnce(&mut Store) -> Result<R>) -> Result<R> {
        let mut state = self.lock_state();
        let result = f(&mut state.store);
        let seq = state
            .commit(&self.publisher, &self.db, &self.durable, ctx.now)
            .map_err(|e| {
                tracing::error!(error = %e, "the change could not be saved; it is undone");
                not_saved()
            })?;
        drop(state);
        if seq.is_some() {
            ctx.seq.set(seq.max(ctx.seq.get()));
        }
        result
    }

    /// The state, locked. A panic while it was locked (a bug: [`Self::handle`] turns it into a
    /// 500) leaves the lock poisoned; the next caller takes it over instead of failing too,
    /// after undoing the interrupted call (reloading the database, or, in memory, dropping
    /// the changes it had recorded).
    fn lock_state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|poisoned| {
            self.state.clear_poison();
            let mut state = poisoned.into_inner();
            tracing::warn!("a request panicked while holding the store; its changes are undone");
            state.store.take_changes();
            if state.persisted {
                state.undo(&self.db, &self.durable);
            }
            state
        })
    }

    /// Creates a user; returns its raw id.
    pub fn create_user(&self) -> String {
        self.with_store(Store::create_user)
    }

    /// Issues a token for `user_id`: the JWT and its expiry.
    pub fn issue_token(
        &self,
        user_id: &str,
        scopes: &[&str],
        ttl: Duration,
        now: DateTime,
    ) -> Result<(String, DateTime)> {
        self.with_store(|store| {
            let grant = store.issue_token(
                user_id,
                scopes.iter().map(|s| (*s).to_owned()).collect(),
                ttl,
                now,
            )?;
            Ok((
                self.signer.mint(&grant, store.resource_id()),
                grant.expires_on,
            ))
        })
    }

    fn authority<'a>(&'a self, request: &'a Request<Bytes>) -> &'a str {
        let from_uri = request.uri().authority().map(http::uri::Authority::as_str);
        let from_host = || {
            request
                .headers()
                .get(HOST)
                .and_then(|h| h.to_str().ok())
                .filter(|h| h.parse::<http::uri::Authority>().is_ok())
        };
        from_uri
            .or_else(from_host)
            .unwrap_or(&self.default_authority)
    }

    /// Handles one request at `now`: the whole service (routing, authentication, the store,
    /// the error shape) without sockets, so it can be driven directly by tests and fuzzers.
    /// The server adds only what needs a connection: reading the body (up to the body limit,
    /// also checked here), timeouts, fault injection and logs.
    ///
    /// Never panics: every failure is an error response, and a panic inside (a bug) becomes a
    /// 500 for this request alone; the next requests are served as before.
    ///
    /// Every response carries an `x-ms-request-id` (and `MS-CV`) like the service's, and echoes
    /// `x-ms-client-request-id` when the request had one.
    pub fn handle(&self, request: &Request<Bytes>, now: DateTime) -> Response<Bytes> {
        self.handle_inner(request, now, false)
    }

    /// [`Self::handle`]; `inject_panic` panics while holding the store (an injected fault).
    pub(crate) fn handle_inner(
        &self,
        request: &Request<Bytes>,
        now: DateTime,
        inject_panic: bool,
    ) -> Response<Bytes> {
        let (mut response, seq) = self.handle_unwritten(request, now, inject_panic);
        if let Some(seq) = seq
            && !self.wait_written(seq)
        {
            response = Self::not_saved_response();
        }
        self.finish(request, response)
    }

    /// [`Self::handle_inner`] up to the response, before what it changed (or saw) is written:
    /// the response, and the latest change it waits for (persisted only). The server waits
    /// for that change without holding a thread, then calls [`Self::finish`].
    pub(crate) fn handle_unwritten(
        &self,
        request: &Request<Bytes>,
        now: DateTime,
        inject_panic: bool,
    ) -> (Response<Bytes>, Option<u64>) {
        let seq = Cell::new(None);
        let routed = panic::catch_unwind(AssertUnwindSafe(|| {
            if inject_panic {
                self.with_store(|_| panic!("injected panic"));
            }
            self.route(request, now, &seq)
        }));
        let response = match routed {
            Ok(Ok(response)) => response,
            Ok(Err(error)) => error_response(&error),
            Err(_) => {
                tracing::error!(
                    method = %request.method(),
                    path = request.uri().path(),
                    "the request panicked; answered 500"
                );
                error_response(&StoreError::new(
                    500,
                    "InternalServerError",
                    "The emulator failed while handling the request.",
                ))
            }
        };
        (response, seq.get())
    }

    /// The response for a failed write (the change is undone).
    pub(crate) fn not_saved_response() -> Response<Bytes> {
        error_response(&not_saved())
    }

    /// The headers every response carries: `x-ms-request-id`, `MS-CV`, and the request's
    /// `x-ms-client-request-id` when it had one.
    pub(crate) fn finish(
        &self,
        request: &Request<Bytes>,
        mut response: Response<Bytes>,
    ) -> Response<Bytes> {
        let n = self
            .requests
            .fetch_add(1, Ordering::Relaxed)
            .wrapping_add(1);
        let headers = response.headers_mut();
        headers.insert(REQUEST_ID, request_id(n));
        headers.insert(MS_CV, correlation_vector(n));
        if let Some(v) = request.headers().get(&CLIENT_REQUEST_ID) {
            headers.insert(CLIENT_REQUEST_ID, v.clone());
        }
        response
    }

    fn route(
        &self,
        request: &Request<Bytes>,
        now: DateTime,
        seq: &Cell<Option<u64>>,
    ) -> Result<Response<Bytes>> {
        if request.body().len() > self.max_body_bytes {
            return Err(body_too_large(self.max_body_bytes));
        }
        let route =
            routes::find(request.method(), request.uri().path()).ok_or_else(not_found_route)?;
        let authority = self.authority(request);
        let scheme = if self.https { "https://" } else { "http://" };
        let mut ctx = Ctx {
            query: parse_query(request.uri().query()),
            params: route.params,
            origin: Origin { scheme, authority },
            body: request.body(),
            authorization: request.headers().get(AUTHORIZATION),
            caller: None,
            repeatability: request
                .headers()
                .get("repeatability-request-id")
                .and_then(|v| v.to_str().ok())
                .filter(|v| !v.is_empty()),
            now,
            seq,
        };
        match route.api {
            Api::Identity => {
                let target = request.uri().path_and_query().map_or("/", |pq| pq.as_str());
                verify_request(
                    request.method(),
                    target,
                    authority,
                    request.headers(),
                    request.body(),
                    &self.key,
                    now,
                    MAX_CLOCK_SKEW,
                )
                .map_err(|e| StoreError::unauthorized(e.message()))?;
                check_api_version(&ctx, IDENTITY_API_VERSIONS)?;
            }
            Api::Chat => {
                check_api_version(&ctx, CHAT_API_VERSIONS)?;
                ctx.caller = Some(self.authenticate(&ctx)?);
            }
        }
        (route.handler)(self, &ctx)
    }
}

#[cfg(test)]
mod tests;
