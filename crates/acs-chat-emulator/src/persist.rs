//! Persistence: the store's state in SQLite, under the store.
//!
//! The store stays a pure state machine; after each of its calls the service turns the
//! recorded [`Change`]s into the statements that write the rows they name (`plan`, while the
//! store is at hand) and queues them; `Db::write_batch` writes the queued plans of concurrent
//! requests in order in one transaction (a group commit), and no response is sent before the
//! changes it made or may have seen are committed. So an acknowledged mutation is on disk, and
//! no response shows one a crash could lose: the database is in WAL mode with
//! `synchronous=NORMAL`, which makes a commit durable once SQLite has written it to the WAL
//! file, so it survives the emulator being killed (`kill -9`); only an operating-system crash
//! or a power cut can lose the last commits. That is the right trade for a development
//! emulator: `FULL` would add an fsync to every commit for a case a test machine does not care
//! about. Commits never sync: the WAL is checkpointed into the database file (which syncs it)
//! by a thread of its own (`Checkpointer`), not by the commit that fills it. A batch that
//! cannot be written is undone (the store is read back) and its requests,
//! and those that may have seen it, are answered 500. On start, `Db::load` reads everything
//! back.
//!
//! Tables (inspect them with `sqlite3 <data dir>/emulator.sqlite3 .tables`): `meta` (resource
//! id, id counters, the token signing key), `users`, `tokens` (a revoked token's row is
//! deleted), `threads`, `deleted_threads`, `deleted_thread_listings` (what thread lists still
//! show of a deleted thread), `participants`, `messages`, `read_receipts`,
//! `repeatability`, and `outbox` (the events not yet delivered, per webhook subscription, as
//! Event Grid JSON). Models are stored as the JSON the service sends. The schema version is
//! `PRAGMA user_version` (older ones are migrated on open); a newer one than this build knows
//! is refused. The outbox is written in the same transaction as the rows of the change that
//! made its events, so an acknowledged change's events are never lost; the delivery worker
//! deletes a row once its event is delivered or dead-lettered.

use std::ffi::c_int;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, LazyLock};

use acs_chat_events::eventgrid::EventGridEvent;
use acs_chat_protocol::DateTime;
use acs_chat_protocol::models::{
    ChatMessage, ChatMessageReadReceipt, ChatParticipant, ChatThreadProperties,
};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use bytes::Bytes;
use rusqlite::hooks::Wal;
use rusqlite::types::{ToSqlOutput, Value, ValueRef};
use rusqlite::wal::CheckpointMode;
use rusqlite::{Connection, OptionalExtension, ToSql, Transaction, params};

use crate::events::Outgoing;
use crate::store::{Change, Ids, Store, StoredMessage, Thread, TokenRecord, Tombstone};

/// The schema version this build writes (`PRAGMA user_version`): 2 added the `outbox`, 3 the
/// `deleted_thread_listings`.
pub const SCHEMA_VERSION: i64 = 3;

/// The database file in the data directory.
pub const DATABASE_FILE: &str = "emulator.sqlite3";

const SCHEMA: &str = "
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE users (id TEXT PRIMARY KEY);
CREATE TABLE tokens (
    id TEXT PRIMARY KEY,
    user_id TEXT NOT NULL,
    expires_on TEXT NOT NULL,
    scopes TEXT NOT NULL
);
CREATE INDEX tokens_by_user ON tokens (user_id);
CREATE TABLE threads (
    id TEXT PRIMARY KEY,
    properties TEXT NOT NULL,
    last_message_received_on TEXT NOT NULL,
    next_seq INTEGER NOT NULL
);
CREATE TABLE deleted_threads (id TEXT PRIMARY KEY);
CREATE TABLE participants (
    thread_id TEXT NOT NULL REFERENCES threads (id) ON DELETE CASCADE,
    user_id TEXT NOT NULL,
    position INTEGER NOT NULL,
    participant TEXT NOT NULL,
    PRIMARY KEY (thread_id, user_id)
);
CREATE TABLE messages (
    thread_id TEXT NOT NULL REFERENCES threads (id) ON DELETE CASCADE,
    seq INTEGER NOT NULL,
    id TEXT NOT NULL,
    sender TEXT,
    message TEXT NOT NULL,
    PRIMARY KEY (thread_id, seq)
);
CREATE TABLE read_receipts (
    thread_id TEXT NOT NULL REFERENCES threads (id) ON DELETE CASCADE,
    user_id TEXT NOT NULL,
    position INTEGER NOT NULL,
    receipt TEXT NOT NULL,
    PRIMARY KEY (thread_id, user_id)
);
CREATE TABLE repeatability (
    user_id TEXT NOT NULL,
    request_id TEXT NOT NULL,
    request TEXT NOT NULL,
    result TEXT NOT NULL,
    PRIMARY KEY (user_id, request_id)
);
";

/// Version 1 → 2: the events outbox. One row per event and subscription, written in the
/// transaction of the change that made the event, with the attempts made so far, deleted once
/// the event is delivered or dead-lettered.
const MIGRATION_2: &str = "
CREATE TABLE outbox (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    subscription TEXT NOT NULL,
    thread_id TEXT NOT NULL,
    event TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX outbox_by_subscription ON outbox (subscription, id);
";

/// What the thread list still shows of a deleted thread (see `MAX_LISTED_DELETED_THREADS`).
const MIGRATION_3: &str = "
CREATE TABLE deleted_thread_listings (
    id TEXT PRIMARY KEY,
    topic TEXT NOT NULL,
    deleted_on TEXT NOT NULL,
    last_message_received_on TEXT NOT NULL,
    members TEXT NOT NULL
);
";

/// A persistence failure: the database could not be opened, read or written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PersistError(String);

impl fmt::Display for PersistError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for PersistError {}

impl From<rusqlite::Error> for PersistError {
    fn from(e: rusqlite::Error) -> Self {
        Self(format!("database: {e}"))
    }
}

impl From<serde_json::Error> for PersistError {
    fn from(e: serde_json::Error) -> Self {
        Self(format!("database: a stored value is not valid JSON: {e}"))
    }
}

fn corrupt(what: &str) -> PersistError {
    PersistError(format!("database: {what} is not valid"))
}

fn time(text: &str) -> Result<DateTime, PersistError> {
    DateTime::parse(text).map_err(|_| corrupt("a stored time"))
}

/// What a database holds beyond the store: the token signing key.
pub(crate) struct Loaded {
    pub(crate) store: Store,
    pub(crate) signing_key: Vec<u8>,
}

/// The emulator's SQLite database.
pub(crate) struct Db {
    conn: Connection,
    path: PathBuf,
    /// The id counters as the last committed transaction wrote them (`None`: unknown), so
    /// that a transaction writes only those that changed.
    counters: Option<(u64, u64)>,
    /// The thread that checkpoints the WAL (see [`Checkpointer`]).
    checkpointer: Option<std::thread::JoinHandle<()>>,
}

/// The WAL size, in pages, from which it is checkpointed: SQLite's own default for its
/// automatic checkpoints (<https://www.sqlite.org/wal.html#automatic_checkpoint>).
const CHECKPOINT_PAGES: c_int = 1000;

/// Checkpoints the WAL (copies its pages into the database file, so that it can start over)
/// on a thread of its own, with a connection of its own, instead of in the commit that finds
/// it full: a checkpoint writes up to [`CHECKPOINT_PAGES`] pages and syncs the database file
/// twice, which took up to 14 ms on this project's test machine, and a commit that ran it kept
/// every request waiting for its write waiting for that too. A `PASSIVE` checkpoint
/// (<https://www.sqlite.org/c3ref/wal_checkpoint_v2.html>) takes no lock a writer needs, so
/// the commits go on meanwhile; the WAL starts over at the first commit after a checkpoint
/// that copied all of it.
struct Checkpointer {
    /// Asks for a checkpoint (one pending request is enough).
    wake: std::sync::mpsc::SyncSender<()>,
}

impl Checkpointer {
    /// Starts the thread on its own connection to `path`; `done` hears of each checkpoint
    /// (frames in the WAL, frames checkpointed), for tests.
    fn start(
        path: &Path,
        done: Option<std::sync::mpsc::Sender<(i64, i64)>>,
    ) -> Result<(Self, std::thread::JoinHandle<()>), PersistError> {
        let conn = Connection::open(path)?;
        let (wake, asked) = std::sync::mpsc::sync_channel::<()>(1);
        let thread = std::thread::Builder::new()
            .name("acs-chat-emulator-checkpoint".into())
            .spawn(move || {
                // Ends when the writer's connection (which holds `wake`) is closed.
                while asked.recv().is_ok() {
                    let result = conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |r| {
                        Ok((r.get::<_, i64>(1)?, r.get::<_, i64>(2)?))
                    });
                    match result {
                        Ok(frames) => {
                            if let Some(done) = &done {
                                let _ = done.send(frames);
                            }
                        }
                        Err(e) => tracing::warn!(error = %e, "the WAL could not be checkpointed"),
                    }
                }
            })
            .map_err(|e| PersistError(format!("the checkpoint thread could not start: {e}")))?;
        Ok((Self { wake }, thread))
    }

    /// Called after each commit with the WAL's size: asks for a checkpoint when it is full.
    /// Never fails (an error would make SQLite report the commit, which has happened, as
    /// failed); if the thread is gone, the commit checkpoints, as SQLite would by itself.
    fn committed(&self, wal: &mut Wal, pages: c_int) {
        if pages < CHECKPOINT_PAGES {
            return;
        }
        if let Err(std::sync::mpsc::TrySendError::Disconnected(())) = self.wake.try_send(()) {
            let _ = wal.checkpoint_v2(CheckpointMode::PASSIVE);
        }
    }
}

impl Drop for Db {
    fn drop(&mut self) {
        // Letting go of the hook closes the checkpointer's channel: it ends.
        let _ = self
            .conn
            .wal_hook(None::<fn(&mut Wal, c_int) -> rusqlite::Result<()>>);
        if let Some(thread) = self.checkpointer.take() {
            let _ = thread.join();
        }
    }
}

impl fmt::Debug for Db {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Db").field("path", &self.path).finish()
    }
}

impl Db {
    /// Runs `sql` on the emulator's own connection, for tests that change the database under
    /// a running service.
    #[cfg(test)]
    pub(crate) fn execute_batch(&self, sql: &str) -> Result<(), PersistError> {
        Ok(self.conn.execute_batch(sql)?)
    }

    /// Opens (or creates) `dir/emulator.sqlite3`; refuses a schema newer than this build's.
    pub(crate) fn open(dir: &Path) -> Result<Self, PersistError> {
        Self::open_with(dir, None)
    }

    /// [`Self::open`], telling `checkpoints` of each checkpoint of the WAL.
    fn open_with(
        dir: &Path,
        checkpoints: Option<std::sync::mpsc::Sender<(i64, i64)>>,
    ) -> Result<Self, PersistError> {
        std::fs::create_dir_all(dir)
            .map_err(|e| PersistError(format!("{}: {e}", dir.display())))?;
        let path = dir.join(DATABASE_FILE);
        let mut conn = Connection::open(&path)?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "NORMAL")?;
        conn.pragma_update(None, "foreign_keys", true)?;
        // Every statement the emulator runs stays prepared (rusqlite keeps 16 by default).
        conn.set_prepared_statement_cache_capacity(64);
        let version: i64 = conn.pragma_query_value(None, "user_version", |r| r.get(0))?;
        match version {
            0..SCHEMA_VERSION => {
                let tx = conn.unchecked_transaction()?;
                if version == 0 {
                    tx.execute_batch(SCHEMA)?;
                }
                if version < 2 {
                    tx.execute_batch(MIGRATION_2)?;
                }
                tx.execute_batch(MIGRATION_3)?;
                tx.pragma_update(None, "user_version", SCHEMA_VERSION)?;
                tx.commit()?;
            }
            SCHEMA_VERSION => {}
            newer => {
                return Err(PersistError(format!(
                    "{}: schema version {newer} is newer than this emulator's ({SCHEMA_VERSION}); use a newer acs-chat-emulator or another data directory",
                    path.display()
                )));
            }
        }
        let (checkpointer, thread) = Checkpointer::start(&path, checkpoints)?;
        // (This replaces SQLite's automatic checkpoints, which run in the commit.)
        conn.wal_hook(Some(move |wal: &mut Wal, pages: c_int| {
            checkpointer.committed(wal, pages);
            Ok(())
        }))?;
        Ok(Self {
            conn,
            path,
            counters: None,
            checkpointer: Some(thread),
        })
    }

    /// Everything the database holds, or `None` when it is new.
    pub(crate) fn load(&self) -> Result<Option<Loaded>, PersistError> {
        let meta = |key: &str| -> Result<Option<String>, PersistError> {
            Ok(self
                .conn
                .query_row("SELECT value FROM meta WHERE key = ?1", [key], |r| r.get(0))
                .optional()?)
        };
        let Some(resource_id) = meta("resource_id")? else {
            return Ok(None);
        };
        let number = |key: &str| -> Result<u128, PersistError> {
            meta(key)?
                .and_then(|v| v.parse().ok())
                .ok_or_else(|| corrupt(key))
        };
        let mut store = Store::new(resource_id, number("seed")?);
        store.ids = Ids {
            seed: number("seed")?,
            counter: u64::try_from(number("id_counter")?).map_err(|_| corrupt("id_counter"))?,
            last_time_id: u64::try_from(number("last_time_id")?)
                .map_err(|_| corrupt("last_time_id"))?,
        };
        let signing_key = meta("token_signing_key")?
            .and_then(|k| STANDARD.decode(k).ok())
            .ok_or_else(|| corrupt("token_signing_key"))?;
        let c = &self.conn;
        let mut rows = c.prepare("SELECT id FROM users")?;
        for id in rows.query_map([], |r| r.get::<_, String>(0))? {
            store.users.insert(id?);
        }
        let mut rows = c.prepare("SELECT id, user_id, expires_on, scopes FROM tokens")?;
        let tokens = rows.query_map([], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, String>(2)?,
                r.get::<_, String>(3)?,
            ))
        })?;
        for token in tokens {
            let (id, user_id, expires_on, scopes) = token?;
            let record = TokenRecord {
                user_id,
                expires_on: time(&expires_on)?,
                scopes: serde_json::from_str(&scopes)?,
            };
            store.tokens.insert(id, record);
        }
        let mut rows = c.prepare("SELECT id FROM deleted_threads")?;
        for id in rows.query_map([], |r| r.get::<_, String>(0))? {
            store.deleted_threads.insert(id?);
        }
        let mut rows = c.prepare(
            "SELECT id, topic, deleted_on, last_message_received_on, members \
             FROM deleted_thread_listings",
        )?;
        let listings = rows.query_map([], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, String>(2)?,
                r.get::<_, String>(3)?,
                r.get::<_, String>(4)?,
            ))
        })?;
        for listing in listings {
            let (id, topic, deleted_on, last, members) = listing?;
            let tombstone = Tombstone {
                topic,
                deleted_on: time(&deleted_on)?,
                last_message_received_on: time(&last)?,
                members: serde_json::from_str(&members)?,
            };
            store.tombstones.insert(id, tombstone);
        }
        let mut rows =
            c.prepare("SELECT id, properties, last_message_received_on, next_seq FROM threads")?;
        let threads = rows.query_map([], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, String>(2)?,
                r.get::<_, i64>(3)?,
            ))
        })?;
        for thread in threads {
            let (id, props, last, next_seq) = thread?;
            let props: ChatThreadProperties = serde_json::from_str(&props)?;
            let mut thread = Thread::new(props);
            thread.last_message_received_on = time(&last)?;
            thread.next_seq = u64::try_from(next_seq).map_err(|_| corrupt("next_seq"))?;
            store.threads.insert(id, thread);
        }
        let mut rows = c.prepare(
            "SELECT thread_id, user_id, participant FROM participants ORDER BY thread_id, position",
        )?;
        let participants = rows.query_map([], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, String>(2)?,
            ))
        })?;
        for row in participants {
            let (thread_id, user_id, participant) = row?;
            let participant: ChatParticipant = serde_json::from_str(&participant)?;
            if let Some(thread) = store.threads.get_mut(&thread_id) {
                thread.participants.push((user_id, participant));
            }
        }
        let mut rows = c.prepare(
            "SELECT thread_id, seq, sender, message FROM messages ORDER BY thread_id, seq",
        )?;
        let messages = rows.query_map([], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, i64>(1)?,
                r.get::<_, Option<String>>(2)?,
                r.get::<_, String>(3)?,
            ))
        })?;
        for row in messages {
            let (thread_id, seq, sender, message) = row?;
            let message: ChatMessage = serde_json::from_str(&message)?;
            let seq = u64::try_from(seq).map_err(|_| corrupt("a message's seq"))?;
            // Message ids and versions are the time-based ids (see [`message_only`]).
            for time_id in [&message.id, &message.version] {
                if let Ok(n) = time_id.parse::<u64>() {
                    store.ids.last_time_id = store.ids.last_time_id.max(n);
                }
            }
            if let Some(thread) = store.threads.get_mut(&thread_id) {
                // What `Thread::push_message` did when the message was added (its thread's
                // row is not written for a message: see [`write_change`]).
                thread.last_message_received_on = message.created_on;
                thread.next_seq = thread.next_seq.max(seq.saturating_add(1));
                thread
                    .messages
                    .push(StoredMessage::new(seq, sender, message));
            }
        }
        let mut rows = c.prepare(
            "SELECT thread_id, user_id, receipt FROM read_receipts ORDER BY thread_id, position",
        )?;
        let receipts = rows.query_map([], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, String>(2)?,
            ))
        })?;
        for row in receipts {
            let (thread_id, user_id, receipt) = row?;
            let receipt: ChatMessageReadReceipt = serde_json::from_str(&receipt)?;
            if let Some(thread) = store.threads.get_mut(&thread_id) {
                thread.receipts.push((user_id, receipt));
            }
        }
        let mut rows =
            c.prepare("SELECT user_id, request_id, request, result FROM repeatability")?;
        let firsts = rows.query_map([], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, String>(2)?,
                r.get::<_, String>(3)?,
            ))
        })?;
        for row in firsts {
            let (user_id, request_id, request, result) = row?;
            store.repeatability.insert(
                (user_id, request_id),
                (
                    serde_json::from_str(&request)?,
                    serde_json::from_str(&result)?,
                ),
            );
        }
        Ok(Some(Loaded { store, signing_key }))
    }

    /// Records a new store (its resource id, seed and counters) and the token signing key.
    pub(crate) fn init(&mut self, store: &Store, signing_key: &[u8]) -> Result<(), PersistError> {
        let tx = self.conn.transaction()?;
        let put = "INSERT OR REPLACE INTO meta (key, value) VALUES (?1, ?2)";
        tx.execute(put, params!["resource_id", store.resource_id])?;
        tx.execute(put, params!["seed", store.ids.seed.to_string()])?;
        tx.execute(
            put,
            params!["token_signing_key", STANDARD.encode(signing_key)],
        )?;
        write_counters(&tx, counters(store), None)?;
        tx.commit()?;
        self.counters = Some(counters(store));
        Ok(())
    }

    /// Writes `plans`, in order, in one transaction (a group commit). Returns the outbox rows
    /// of each plan: `rows[p][i][j]` is event `j` of plan `p` for subscription `i`.
    pub(crate) fn write_batch(
        &mut self,
        plans: &[&Plan],
    ) -> Result<Vec<Vec<Vec<i64>>>, PersistError> {
        let Some(last) = plans.last() else {
            return Ok(Vec::new());
        };
        let tx = self.conn.transaction()?;
        let mut all_rows = Vec::with_capacity(plans.len());
        // Consecutive writes of messages (of one plan or of several) are written together
        // (see [`write_messages`]), before the next statement of another kind.
        let mut messages: Vec<&Op> = Vec::new();
        for planned in plans.iter().copied() {
            for op in &planned.ops {
                if op.sql == write_message() {
                    messages.push(op);
                    continue;
                }
                write_messages(&tx, &mut messages)?;
                tx.prepare_cached(op.sql)?
                    .execute(rusqlite::params_from_iter(&op.params))?;
            }
            let mut rows = Vec::with_capacity(planned.subscriptions.len());
            if !planned.outbox.is_empty() {
                let mut insert = tx.prepare_cached(
                    "INSERT INTO outbox (subscription, thread_id, event) VALUES (?1, ?2, ?3)",
                )?;
                for name in &planned.subscriptions {
                    let mut mine = Vec::with_capacity(planned.outbox.len());
                    for (thread, event) in &planned.outbox {
                        insert.execute(params![name, thread, event])?;
                        mine.push(tx.last_insert_rowid());
                    }
                    rows.push(mine);
                }
            }
            all_rows.push(rows);
        }
        write_messages(&tx, &mut messages)?;
        // A batch of messages alone leaves the counters to be found from the messages.
        let counted = !plans.iter().all(|p| p.message_only);
        if counted {
            write_counters(&tx, last.counters, self.counters)?;
        }
        tx.commit()?;
        if counted {
            self.counters = Some(last.counters);
        }
        Ok(all_rows)
    }

    /// The undelivered events of `subscription`, oldest first, with the attempts made.
    pub(crate) fn outbox(
        &self,
        subscription: &str,
    ) -> Result<Vec<(i64, Outgoing, u32)>, PersistError> {
        let mut rows = self.conn.prepare(
            "SELECT id, thread_id, event, attempts FROM outbox WHERE subscription = ?1 ORDER BY id",
        )?;
        let events = rows.query_map([subscription], |r| {
            Ok((
                r.get::<_, i64>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, String>(2)?,
                r.get::<_, i64>(3)?,
            ))
        })?;
        let mut out = Vec::new();
        for row in events {
            let (id, thread, event, attempts) = row?;
            let event: EventGridEvent = serde_json::from_str(&event)?;
            out.push((
                id,
                Outgoing {
                    thread,
                    event: Arc::new(event),
                },
                u32::try_from(attempts).unwrap_or(0),
            ));
        }
        Ok(out)
    }

    /// Records that `attempts` attempts were made for the outbox row `row`.
    pub(crate) fn outbox_attempted(&mut self, row: i64, attempts: u32) -> Result<(), PersistError> {
        self.conn.execute(
            "UPDATE outbox SET attempts = ?2 WHERE id = ?1",
            params![row, attempts],
        )?;
        Ok(())
    }

    /// Deletes delivered or dead-lettered events from the outbox.
    pub(crate) fn outbox_delete(&mut self, rows: &[i64]) -> Result<(), PersistError> {
        if rows.is_empty() {
            return Ok(());
        }
        let tx = self.conn.transaction()?;
        {
            let mut delete = tx.prepare_cached("DELETE FROM outbox WHERE id = ?1")?;
            for row in rows {
                delete.execute([row])?;
            }
        }
        tx.commit()?;
        Ok(())
    }
}

/// The id counters the `meta` table keeps: (`id_counter`, `last_time_id`).
fn counters(store: &Store) -> (u64, u64) {
    (store.ids.counter, store.ids.last_time_id)
}

/// Writes the id counters `now` that differ from `written` (what the database holds, when
/// known).
fn write_counters(
    tx: &Transaction<'_>,
    now: (u64, u64),
    written: Option<(u64, u64)>,
) -> Result<(), PersistError> {
    let (counter, last_time_id) = now;
    let mut update = tx.prepare_cached("UPDATE meta SET value = ?2 WHERE key = ?1")?;
    for (key, value, before) in [
        ("id_counter", counter, written.map(|w| w.0)),
        ("last_time_id", last_time_id, written.map(|w| w.1)),
    ] {
        if before == Some(value) {
            continue;
        }
        let value = value.to_string();
        if update.execute(params![key, value])? == 0 {
            tx.prepare_cached("INSERT INTO meta (key, value) VALUES (?1, ?2)")?
                .execute(params![key, value])?;
        }
    }
    Ok(())
}

/// The row counts of the statements that write messages' rows, largest first; the last is 1.
const MESSAGE_ROWS: [usize; 6] = [32, 16, 8, 4, 2, 1];

/// The statements that write [`MESSAGE_ROWS`] messages' rows, each row's five parameters in
/// the order of `INSERT_MESSAGES`.
static WRITE_MESSAGES: LazyLock<[String; MESSAGE_ROWS.len()]> = LazyLock::new(|| {
    const INSERT_MESSAGES: &str =
        "INSERT OR REPLACE INTO messages (thread_id, seq, id, sender, message) VALUES ";
    MESSAGE_ROWS.map(|rows| {
        let mut sql = String::from(INSERT_MESSAGES);
        for row in 0..rows {
            if row > 0 {
                sql.push_str(", ");
            }
            sql.push_str("(?, ?, ?, ?, ?)");
        }
        sql
    })
});

/// The statement that writes one message's row (see [`write_messages`]).
fn write_message() -> &'static str {
    &WRITE_MESSAGES[MESSAGE_ROWS.len() - 1]
}

/// Runs the message writes `ops` (each a [`write_message`]), in order, as statements of up to
/// 32 rows each (a statement costs SQLite about as much to start and end as to insert a row),
/// and empties `ops`. The rows of one statement are written in order, so a later write of the
/// same message wins, as with one statement each.
fn write_messages(tx: &Transaction<'_>, ops: &mut Vec<&Op>) -> Result<(), PersistError> {
    let mut rest = &ops[..];
    while !rest.is_empty() {
        let i = MESSAGE_ROWS
            .iter()
            .position(|&rows| rows <= rest.len())
            .unwrap_or(MESSAGE_ROWS.len() - 1);
        let (chunk, tail) = rest.split_at(MESSAGE_ROWS[i]);
        tx.prepare_cached(&WRITE_MESSAGES[i])?
            .execute(rusqlite::params_from_iter(
                chunk.iter().flat_map(|op| &op.params),
            ))?;
        rest = tail;
    }
    ops.clear();
    Ok(())
}

/// One statement of a planned write and its parameters.
#[derive(Debug)]
pub(crate) struct Op {
    sql: &'static str,
    params: Vec<Param>,
}

fn op(ops: &mut Vec<Op>, sql: &'static str, params: Vec<Param>) {
    ops.push(Op { sql, params });
}

/// A statement parameter: a value, or a message's JSON, shared with the store rather than
/// copied (UTF-8: serde_json wrote it).
#[derive(Debug)]
enum Param {
    Value(Value),
    Json(Bytes),
}

impl ToSql for Param {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        Ok(ToSqlOutput::Borrowed(match self {
            Self::Value(value) => value.into(),
            Self::Json(json) => ValueRef::Text(json),
        }))
    }
}

/// What one store call changed and its events, as the statements that write them: made
/// while the store is at hand, written later ([`Db::write_batch`]) without it.
#[derive(Debug)]
pub(crate) struct Plan {
    ops: Vec<Op>,
    /// (thread, event JSON), written once for each subscription.
    outbox: Vec<(String, String)>,
    subscriptions: Vec<String>,
    counters: (u64, u64),
    /// Whether every change is a message added or changed (see [`message_only`]).
    message_only: bool,
}

/// The statements that write what `changes` changed (reading the new state from `store`)
/// and their events (`outgoing`, once for each of the `subscriptions`).
pub(crate) fn plan(
    store: &Store,
    changes: &[Change],
    subscriptions: &[&str],
    outgoing: &[Outgoing],
) -> Result<Plan, PersistError> {
    let mut ops = Vec::new();
    for change in changes {
        write_change(&mut ops, store, change)?;
    }
    let outbox = if subscriptions.is_empty() {
        Vec::new()
    } else {
        outgoing
            .iter()
            .map(|out| Ok((out.thread.clone(), serde_json::to_string(&*out.event)?)))
            .collect::<Result<_, PersistError>>()?
    };
    Ok(Plan {
        ops,
        outbox,
        subscriptions: subscriptions.iter().map(|s| (*s).to_owned()).collect(),
        counters: counters(store),
        message_only: changes.iter().all(message_only),
    })
}

/// Whether `change` is a message added or changed: such a change draws no uuid, and the
/// time-based id it draws is the message's id or its new version, so `Db::load` finds the
/// `last_time_id` counter again from the messages (the larger of it and the stored one):
/// a batch of such changes alone does not write the counters. (Nor the thread's row: its last
/// message time and next sequence number are the last message's, see `Db::load`.)
fn message_only(change: &Change) -> bool {
    matches!(
        change,
        Change::MessageAdded { .. } | Change::MessageUpdated { .. }
    )
}

fn text(s: impl Into<String>) -> Param {
    Param::Value(Value::Text(s.into()))
}

fn int(n: u64) -> Param {
    Param::Value(Value::Integer(i64::try_from(n).unwrap_or(i64::MAX)))
}

fn write_thread(ops: &mut Vec<Op>, thread: &Thread) -> Result<(), PersistError> {
    op(
        ops,
        "INSERT INTO threads (id, properties, last_message_received_on, next_seq)
         VALUES (?1, ?2, ?3, ?4)
         ON CONFLICT (id) DO UPDATE SET properties = ?2, last_message_received_on = ?3, next_seq = ?4",
        vec![
            text(&thread.props.id),
            text(serde_json::to_string(&thread.props)?),
            text(thread.last_message_received_on.to_string()),
            int(thread.next_seq),
        ],
    );
    Ok(())
}

fn write_change(ops: &mut Vec<Op>, store: &Store, change: &Change) -> Result<(), PersistError> {
    match change {
        Change::UserCreated { user_id } => {
            op(
                ops,
                "INSERT OR IGNORE INTO users (id) VALUES (?1)",
                vec![text(user_id)],
            );
        }
        Change::UserDeleted { user_id } => {
            op(ops, "DELETE FROM users WHERE id = ?1", vec![text(user_id)]);
            op(
                ops,
                "DELETE FROM tokens WHERE user_id = ?1",
                vec![text(user_id)],
            );
        }
        Change::TokensRevoked { user_id } => {
            op(
                ops,
                "DELETE FROM tokens WHERE user_id = ?1",
                vec![text(user_id)],
            );
        }
        Change::TokenIssued { token_id } => {
            if let Some(t) = store.tokens.get(token_id) {
                op(
                    ops,
                    "INSERT OR REPLACE INTO tokens (id, user_id, expires_on, scopes) VALUES (?1, ?2, ?3, ?4)",
                    vec![
                        text(token_id),
                        text(&t.user_id),
                        text(t.expires_on.to_string()),
                        text(serde_json::to_string(&t.scopes)?),
                    ],
                );
            }
        }
        Change::ThreadCreated { thread_id } | Change::ThreadUpdated { thread_id, .. } => {
            if let Some(thread) = store.threads.get(thread_id) {
                write_thread(ops, thread)?;
            }
        }
        Change::ThreadDeleted { thread_id, .. } => {
            op(
                ops,
                "DELETE FROM threads WHERE id = ?1",
                vec![text(thread_id)],
            );
            op(
                ops,
                "INSERT OR IGNORE INTO deleted_threads (id) VALUES (?1)",
                vec![text(thread_id)],
            );
            if let Some(t) = store.tombstones.get(thread_id) {
                op(
                    ops,
                    "INSERT OR REPLACE INTO deleted_thread_listings \
                     (id, topic, deleted_on, last_message_received_on, members) \
                     VALUES (?1, ?2, ?3, ?4, ?5)",
                    vec![
                        text(thread_id),
                        text(&t.topic),
                        text(t.deleted_on.to_string()),
                        text(t.last_message_received_on.to_string()),
                        text(serde_json::to_string(&t.members)?),
                    ],
                );
            }
            // The oldest beyond the bound, as the store dropped them.
            op(
                ops,
                "DELETE FROM deleted_thread_listings WHERE id NOT IN \
                 (SELECT id FROM deleted_thread_listings ORDER BY deleted_on DESC, id DESC LIMIT ?1)",
                vec![int(crate::store::MAX_LISTED_DELETED_THREADS as u64)],
            );
        }
        Change::MessageAdded {
            thread_id,
            message_id,
        }
        | Change::MessageUpdated {
            thread_id,
            message_id,
            ..
        } => {
            let Some(thread) = store.threads.get(thread_id) else {
                return Ok(());
            };
            // A message changes its thread's last message time and next sequence number,
            // which `Db::load` finds again from the messages: the thread's row is not
            // written (it was when the thread was created or changed).
            if let Some(m) = thread.message_by_id(message_id) {
                // The JSON the listings send (made once per version of the message).
                // serde_json writes UTF-8 (bound as text as it is, unchecked: checking cost
                // more than inserting the row's index entry).
                let json = m.json();
                debug_assert!(std::str::from_utf8(&json).is_ok());
                op(
                    ops,
                    write_message(),
                    vec![
                        text(thread_id),
                        int(m.seq),
                        text(message_id),
                        Param::Value(m.sender.clone().map_or(Value::Null, Value::Text)),
                        Param::Json(json),
                    ],
                );
            }
        }
        Change::ParticipantsAdded {
            thread_id,
            user_ids,
            ..
        } => {
            let Some(thread) = store.threads.get(thread_id) else {
                return Ok(());
            };
            for (user_id, participant) in &thread.participants {
                if user_ids.contains(user_id) {
                    op(
                        ops,
                        "INSERT OR REPLACE INTO participants (thread_id, user_id, position, participant)
                         VALUES (?1, ?2, (SELECT COALESCE(MAX(position), -1) + 1 FROM participants WHERE thread_id = ?1), ?3)",
                        vec![
                            text(thread_id),
                            text(user_id),
                            text(serde_json::to_string(participant)?),
                        ],
                    );
                }
            }
        }
        Change::ParticipantRemoved {
            thread_id, user_id, ..
        } => {
            op(
                ops,
                "DELETE FROM participants WHERE thread_id = ?1 AND user_id = ?2",
                vec![text(thread_id), text(user_id)],
            );
        }
        Change::ReadReceiptSent { thread_id, user_id } => {
            let receipt = store
                .threads
                .get(thread_id)
                .and_then(|t| t.receipts.iter().find(|(who, _)| who == user_id));
            if let Some((_, receipt)) = receipt {
                op(
                    ops,
                    "INSERT INTO read_receipts (thread_id, user_id, position, receipt)
                     VALUES (?1, ?2, (SELECT COALESCE(MAX(position), -1) + 1 FROM read_receipts WHERE thread_id = ?1), ?3)
                     ON CONFLICT (thread_id, user_id) DO UPDATE SET receipt = ?3",
                    vec![
                        text(thread_id),
                        text(user_id),
                        text(serde_json::to_string(receipt)?),
                    ],
                );
            }
        }
        // Not state: only its event is published.
        Change::TypingSent { .. } => {}
        Change::RepeatabilityRecorded {
            user_id,
            request_id,
        } => {
            let key = (user_id.clone(), request_id.clone());
            if let Some((request, result)) = store.repeatability.get(&key) {
                op(
                    ops,
                    "INSERT OR REPLACE INTO repeatability (user_id, request_id, request, result) VALUES (?1, ?2, ?3, ?4)",
                    vec![
                        text(user_id),
                        text(request_id),
                        text(serde_json::to_string(request)?),
                        text(serde_json::to_string(result)?),
                    ],
                );
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{Caller, MessageUpdate};
    use acs_chat_protocol::models::{CreateChatThreadRequest, SendChatMessageRequest};

    /// `s` seconds after a fixed instant.
    fn at(s: i64) -> DateTime {
        DateTime::from_unix_timestamp(1_700_000_000 + s).unwrap()
    }

    /// A database in a directory of its own, recording a new store, and a chat user of it.
    struct Setup {
        dir: tempfile::TempDir,
        db: Db,
        store: Store,
        caller: Caller,
    }

    impl Setup {
        fn new() -> Self {
            Self::with_checkpoints(None)
        }

        /// With `checkpoints` told of each checkpoint of the WAL.
        fn with_checkpoints(checkpoints: Option<std::sync::mpsc::Sender<(i64, i64)>>) -> Self {
            let dir = tempfile::tempdir().unwrap();
            let mut db = Db::open_with(dir.path(), checkpoints).unwrap();
            let mut store = Store::new("res", 3);
            db.init(&store, b"key").unwrap();
            let caller = Caller::new(store.create_user(), vec!["chat".into()]);
            Self {
                dir,
                db,
                store,
                caller,
            }
        }

        /// A new thread (its changes not planned yet).
        fn thread(&mut self) -> String {
            self.store
                .create_thread(&self.caller, CreateChatThreadRequest::new("t"), None, at(0))
                .unwrap()
                .chat_thread
                .unwrap()
                .id
        }

        /// Sends `text` to `thread` at `when`: the message's id.
        fn send(&mut self, thread: &str, text: &str, when: DateTime) -> String {
            self.store
                .send_message(
                    &self.caller,
                    thread,
                    SendChatMessageRequest::new(text),
                    when,
                )
                .unwrap()
        }

        /// The store's changes since the last plan, planned.
        fn plan(&mut self) -> Plan {
            let changes = self.store.take_changes();
            plan(&self.store, &changes, &[], &[]).unwrap()
        }

        /// What the database holds, read by a new connection once this one is closed, and the
        /// store as it is in memory.
        fn reload(self) -> (Loaded, Store) {
            let Self { dir, db, store, .. } = self;
            drop(db);
            let loaded = Db::open(dir.path()).unwrap().load().unwrap().unwrap();
            (loaded, store)
        }
    }

    #[test]
    fn batches_of_messages_alone_are_found_again_with_their_thread_and_counters() {
        let mut s = Setup::new();
        let thread = s.thread();
        let created = s.plan();
        assert!(!created.message_only);
        s.db.write_batch(&[&created]).unwrap();
        // Three messages, each its own plan, in one batch; the clock steps back for the
        // last two, so their ids run ahead of it.
        let first = s.send(&thread, "m1", at(5));
        let mut plans = vec![s.plan()];
        for text in ["m2", "m3"] {
            s.send(&thread, text, at(4));
            plans.push(s.plan());
        }
        assert!(plans.iter().all(|p| p.message_only));
        s.db.write_batch(&plans.iter().collect::<Vec<_>>()).unwrap();
        // An edit of the first one: a new version, a batch of its own.
        s.store
            .update_message(&s.caller, &thread, &first, MessageUpdate::default(), at(4))
            .unwrap();
        let edited = s.plan();
        assert!(edited.message_only);
        s.db.write_batch(&[&edited]).unwrap();

        let (loaded, store) = s.reload();
        let (a, b) = (&store.threads[&thread], &loaded.store.threads[&thread]);
        assert_eq!(b.last_message_received_on, at(4));
        assert_eq!(b.last_message_received_on, a.last_message_received_on);
        assert_eq!(b.next_seq, a.next_seq);
        assert_eq!(b.messages.len(), a.messages.len());
        assert_eq!(loaded.store.ids, store.ids);
    }

    #[test]
    fn one_batch_writes_many_messages_in_order_before_what_follows_them() {
        let mut s = Setup::new();
        let (kept, deleted) = (s.thread(), s.thread());
        let mut plans = vec![s.plan()];
        // 45 messages (more than one statement's rows), the first edited in the same
        // batch, then a message to a thread deleted after it.
        let first = s.send(&kept, "m0", at(1));
        plans.push(s.plan());
        for i in 1..45 {
            s.send(&kept, &format!("m{i}"), at(1));
            plans.push(s.plan());
        }
        let update = MessageUpdate {
            content: Some("edited".into()),
            ..MessageUpdate::default()
        };
        s.store
            .update_message(&s.caller, &kept, &first, update, at(2))
            .unwrap();
        plans.push(s.plan());
        s.send(&deleted, "gone", at(2));
        plans.push(s.plan());
        s.store.delete_thread(&s.caller, &deleted, at(3)).unwrap();
        plans.push(s.plan());
        s.db.write_batch(&plans.iter().collect::<Vec<_>>()).unwrap();
        let rows: i64 =
            s.db.conn
                .query_row(
                    "SELECT COUNT(*) FROM messages WHERE thread_id = ?1",
                    [&deleted],
                    |r| r.get(0),
                )
                .unwrap();
        assert_eq!(rows, 0, "the deleted thread's messages went with it");

        let (loaded, store) = s.reload();
        assert!(!loaded.store.threads.contains_key(&deleted));
        let (a, b) = (&store.threads[&kept], &loaded.store.threads[&kept]);
        let texts = |t: &Thread| {
            t.messages
                .iter()
                .map(|m| (m.seq, m.message().clone()))
                .collect::<Vec<_>>()
        };
        assert_eq!(texts(b), texts(a));
        let edited = b.message_by_id(&first).unwrap().message();
        assert_eq!(
            edited.content.as_ref().unwrap().message.as_deref(),
            Some("edited")
        );
    }

    #[test]
    fn a_full_wal_is_checkpointed_by_the_checkpoint_thread_while_commits_go_on() {
        let (checkpoints, checkpointed) = std::sync::mpsc::channel();
        let mut s = Setup::with_checkpoints(Some(checkpoints));
        let thread = s.thread();
        let commit = |s: &mut Setup| {
            let planned = s.plan();
            s.db.write_batch(&[&planned]).unwrap();
        };
        commit(&mut s);
        // A message of about a page per commit, until the WAL has been checkpointed (the
        // commits' own automatic checkpoints are off: without the thread, none comes).
        let text = "x".repeat(3000);
        let mut sent: usize = 0;
        let frames = loop {
            s.send(&thread, &text, at(1));
            commit(&mut s);
            sent += 1;
            assert!(
                sent <= 20 * CHECKPOINT_PAGES as usize,
                "no checkpoint after {sent} commits"
            );
            if let Ok(frames) = checkpointed.try_recv() {
                break frames;
            }
        };
        let (in_wal, copied) = frames;
        assert!(in_wal >= i64::from(CHECKPOINT_PAGES), "{frames:?}");
        assert!(copied > 0, "{frames:?}");
        let (loaded, _) = s.reload();
        // (Creating the thread added a system message.)
        assert_eq!(loaded.store.threads[&thread].messages.len(), sent + 1);
    }

    #[test]
    fn a_version_1_database_gets_the_outbox() {
        let dir = tempfile::tempdir().unwrap();
        {
            let conn = Connection::open(dir.path().join(DATABASE_FILE)).unwrap();
            conn.execute_batch(SCHEMA).unwrap();
            conn.pragma_update(None, "user_version", 1).unwrap();
        }
        let db = Db::open(dir.path()).unwrap();
        let version: i64 = db
            .conn
            .pragma_query_value(None, "user_version", |r| r.get(0))
            .unwrap();
        assert_eq!(version, SCHEMA_VERSION);
        assert!(db.outbox("ANY").unwrap().is_empty());
        drop(db);
        // Opening it again changes nothing.
        assert!(
            Db::open(dir.path())
                .unwrap()
                .outbox("ANY")
                .unwrap()
                .is_empty()
        );
    }
}
