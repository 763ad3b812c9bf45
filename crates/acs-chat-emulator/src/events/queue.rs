//! The delivery queue of one subscription: a pure state machine with time as input.
//!
//! Events wait in arrival order, in one lane per thread: a lane sends its oldest event, and
//! the next one only once that one is delivered or dead-lettered, so a thread's events arrive
//! in order; lanes of different threads do not wait for each other. At most `capacity` events
//! wait (the oldest is dead-lettered to make room) and at most `max_in_flight` attempts run at
//! once.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::Arc;
use std::time::{Duration, Instant};

use acs_chat_events::eventgrid::EventGridEvent;

use super::DeliveryOptions;

/// An event waiting for delivery.
#[derive(Debug, Clone)]
pub(crate) struct Pending {
    /// Its row in the outbox, when persisted.
    pub(crate) row: Option<i64>,
    /// Its thread (its lane).
    pub(crate) thread: String,
    /// The event.
    pub(crate) event: Arc<EventGridEvent>,
    /// Attempts made so far (the next attempt's `aeg-delivery-count`).
    pub(crate) attempts: u32,
    /// When it was queued.
    pub(crate) queued_at: Instant,
    next_at: Instant,
    in_flight: bool,
}

/// One attempt to make: send `event` with `aeg-delivery-count: delivery_count`, then report
/// with [`Queue::finish`] and `seq`.
#[derive(Debug, Clone)]
pub(crate) struct Attempt {
    pub(crate) seq: u64,
    pub(crate) event: Arc<EventGridEvent>,
    pub(crate) delivery_count: u32,
}

/// How an attempt went.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum AttemptResult {
    /// A 2xx.
    Delivered,
    /// A failure that may be retried (another status, no answer in time, no connection).
    Retry(String),
    /// A failure that is not retried (400, 401, 403, 413).
    Refused(String),
}

/// What became of an event after an attempt.
#[derive(Debug, Clone)]
pub(crate) enum Finished {
    /// Delivered after `Pending::attempts` attempts.
    Delivered(Pending),
    /// Will be tried again in `delay`.
    Retrying {
        /// Its outbox row, when persisted.
        row: Option<i64>,
        /// The event.
        event: Arc<EventGridEvent>,
        /// Attempts made so far.
        attempts: u32,
        /// The failure.
        error: String,
        /// Until the next attempt.
        delay: Duration,
    },
    /// Given up: refused, out of attempts or out of time.
    DeadLettered(Pending, String),
    /// The event was no longer queued (dead-lettered meanwhile to make room).
    Gone,
}

/// The queue; see the [module docs](self).
#[derive(Debug)]
pub(crate) struct Queue {
    options: DeliveryOptions,
    next_seq: u64,
    items: BTreeMap<u64, Pending>,
    lanes: HashMap<String, VecDeque<u64>>,
    in_flight: usize,
}

impl Queue {
    pub(crate) fn new(options: DeliveryOptions) -> Self {
        Self {
            options,
            next_seq: 0,
            items: BTreeMap::new(),
            lanes: HashMap::new(),
            in_flight: 0,
        }
    }

    /// How many events wait (in flight included).
    pub(crate) fn len(&self) -> usize {
        self.items.len()
    }

    /// Queues an event; when the queue is full, the oldest one makes room and is returned.
    pub(crate) fn push(
        &mut self,
        row: Option<i64>,
        thread: String,
        event: Arc<EventGridEvent>,
        now: Instant,
    ) -> Option<Pending> {
        self.push_restored(row, thread, event, 0, now, now)
    }

    /// [`Self::push`] for an event that already had `attempts` attempts and was queued at
    /// `queued_at` (read back from the outbox); it is due at `now`.
    pub(crate) fn push_restored(
        &mut self,
        row: Option<i64>,
        thread: String,
        event: Arc<EventGridEvent>,
        attempts: u32,
        queued_at: Instant,
        now: Instant,
    ) -> Option<Pending> {
        let evicted = if self.items.len() >= self.options.queue_capacity.max(1) {
            self.items
                .first_key_value()
                .map(|(seq, _)| *seq)
                .and_then(|seq| self.remove(seq))
        } else {
            None
        };
        let seq = self.next_seq;
        self.next_seq += 1;
        self.lanes.entry(thread.clone()).or_default().push_back(seq);
        self.items.insert(
            seq,
            Pending {
                row,
                thread,
                event,
                attempts,
                queued_at,
                next_at: now,
                in_flight: false,
            },
        );
        evicted
    }

    fn remove(&mut self, seq: u64) -> Option<Pending> {
        let item = self.items.remove(&seq)?;
        if item.in_flight {
            self.in_flight = self.in_flight.saturating_sub(1);
        }
        if let Some(lane) = self.lanes.get_mut(&item.thread) {
            lane.retain(|s| *s != seq);
            if lane.is_empty() {
                self.lanes.remove(&item.thread);
            }
        }
        Some(item)
    }

    /// The heads of the lanes, oldest first.
    fn heads(&self) -> Vec<u64> {
        let mut heads: Vec<u64> = self
            .lanes
            .values()
            .filter_map(|lane| lane.front().copied())
            .collect();
        heads.sort_unstable();
        heads
    }

    /// The attempts to start now (each lane's head when its time has come, within the
    /// in-flight bound).
    pub(crate) fn due(&mut self, now: Instant) -> Vec<Attempt> {
        let mut out = Vec::new();
        for seq in self.heads() {
            if self.in_flight >= self.options.max_in_flight.max(1) {
                break;
            }
            let Some(item) = self.items.get_mut(&seq) else {
                continue;
            };
            if item.in_flight || item.next_at > now {
                continue;
            }
            item.in_flight = true;
            self.in_flight += 1;
            out.push(Attempt {
                seq,
                event: item.event.clone(),
                delivery_count: item.attempts,
            });
        }
        out
    }

    /// When the next attempt is due (`None`: nothing waits, or the in-flight bound is reached
    /// and a finished attempt will say).
    pub(crate) fn next_due(&self) -> Option<Instant> {
        if self.in_flight >= self.options.max_in_flight.max(1) {
            return None;
        }
        self.heads()
            .into_iter()
            .filter_map(|seq| self.items.get(&seq))
            .filter(|item| !item.in_flight)
            .map(|item| item.next_at)
            .min()
    }

    /// Records how the attempt `seq` went, at `now`.
    pub(crate) fn finish(&mut self, seq: u64, result: AttemptResult, now: Instant) -> Finished {
        let Some(item) = self.items.get_mut(&seq) else {
            return Finished::Gone;
        };
        if item.in_flight {
            item.in_flight = false;
            self.in_flight = self.in_flight.saturating_sub(1);
        }
        item.attempts = item.attempts.saturating_add(1);
        let error = match result {
            AttemptResult::Delivered => {
                return self.remove(seq).map_or(Finished::Gone, Finished::Delivered);
            }
            AttemptResult::Refused(e) => {
                let reason = format!("{e} (not retried)");
                return self.dead_letter(seq, reason);
            }
            AttemptResult::Retry(e) => e,
        };
        let options = &self.options;
        if item.attempts >= options.max_attempts.max(1) {
            let reason = format!("{error}; {} attempts made", item.attempts);
            return self.dead_letter(seq, reason);
        }
        let delay = options.retry_delay(item.attempts);
        if now.saturating_duration_since(item.queued_at) + delay > options.event_ttl {
            let reason = format!(
                "{error}; the event's time to live ({:?}) ran out",
                options.event_ttl
            );
            return self.dead_letter(seq, reason);
        }
        item.next_at = now + delay;
        Finished::Retrying {
            row: item.row,
            event: item.event.clone(),
            attempts: item.attempts,
            error,
            delay,
        }
    }

    fn dead_letter(&mut self, seq: u64, reason: String) -> Finished {
        self.remove(seq)
            .map_or(Finished::Gone, |p| Finished::DeadLettered(p, reason))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use acs_chat_protocol::DateTime;

    fn event(id: &str) -> Arc<EventGridEvent> {
        Arc::new(EventGridEvent::new(
            id,
            "s",
            "t",
            DateTime::UNIX_EPOCH,
            serde_json::Value::Null,
        ))
    }

    fn options() -> DeliveryOptions {
        DeliveryOptions::default()
            .first_retry(Duration::from_secs(1))
            .max_retry_delay(Duration::from_secs(8))
            .max_attempts(5)
            .queue_capacity(3)
            .max_in_flight(2)
    }

    fn ids(attempts: &[Attempt]) -> Vec<&str> {
        attempts.iter().map(|a| a.event.id.as_str()).collect()
    }

    #[test]
    fn a_thread_waits_for_its_head_other_threads_do_not() {
        let t0 = Instant::now();
        let mut q = Queue::new(options());
        q.push(None, "a".into(), event("a1"), t0);
        q.push(None, "a".into(), event("a2"), t0);
        q.push(None, "b".into(), event("b1"), t0);
        let first = q.due(t0);
        assert_eq!(ids(&first), ["a1", "b1"]);
        assert!(q.due(t0).is_empty(), "a2 waits for a1");
        // b1 delivered; a1 fails: a2 still waits, until a1 is done.
        assert!(matches!(
            q.finish(first[1].seq, AttemptResult::Delivered, t0),
            Finished::Delivered(_)
        ));
        let Finished::Retrying { delay, .. } =
            q.finish(first[0].seq, AttemptResult::Retry("500".into()), t0)
        else {
            panic!()
        };
        assert_eq!(delay, Duration::from_secs(1));
        assert!(q.due(t0).is_empty());
        assert_eq!(q.next_due(), Some(t0 + delay));
        let retry = q.due(t0 + delay);
        assert_eq!(ids(&retry), ["a1"]);
        assert_eq!(retry[0].delivery_count, 1);
        q.finish(retry[0].seq, AttemptResult::Delivered, t0 + delay);
        assert_eq!(ids(&q.due(t0 + delay)), ["a2"]);
    }

    #[test]
    fn retries_back_off_then_dead_letter() {
        let mut now = Instant::now();
        let mut q = Queue::new(options());
        q.push(None, "a".into(), event("a1"), now);
        let mut delays = Vec::new();
        let mut counts = Vec::new();
        loop {
            let attempt = q.due(now).pop().expect("due");
            counts.push(attempt.delivery_count);
            match q.finish(attempt.seq, AttemptResult::Retry("503".into()), now) {
                Finished::Retrying { delay, .. } => {
                    delays.push(delay.as_secs());
                    now += delay;
                }
                Finished::DeadLettered(p, reason) => {
                    assert_eq!(p.attempts, 5);
                    assert!(reason.contains("5 attempts"), "{reason}");
                    break;
                }
                other => panic!("{other:?}"),
            }
        }
        assert_eq!(counts, [0, 1, 2, 3, 4]);
        assert_eq!(delays, [1, 2, 4, 8]);
        assert_eq!(q.len(), 0);
    }

    #[test]
    fn refusals_are_not_retried_and_ttl_bounds_the_time() {
        let now = Instant::now();
        let mut q = Queue::new(options());
        q.push(None, "a".into(), event("a1"), now);
        let a = q.due(now).pop().unwrap();
        assert!(matches!(
            q.finish(a.seq, AttemptResult::Refused("400".into()), now),
            Finished::DeadLettered(..)
        ));
        let mut q = Queue::new(options().event_ttl(Duration::from_secs(2)));
        q.push(None, "a".into(), event("a1"), now);
        let a = q.due(now).pop().unwrap();
        assert!(matches!(
            q.finish(a.seq, AttemptResult::Retry("500".into()), now),
            Finished::Retrying { .. }
        ));
        let later = now + Duration::from_secs(1);
        let a = q.due(later).pop().unwrap();
        let Finished::DeadLettered(_, reason) =
            q.finish(a.seq, AttemptResult::Retry("500".into()), later)
        else {
            panic!()
        };
        assert!(reason.contains("time to live"), "{reason}");
    }

    #[test]
    fn a_full_queue_drops_the_oldest_and_bounds_in_flight() {
        let now = Instant::now();
        let mut q = Queue::new(options());
        for (i, t) in ["a", "b", "c"].iter().enumerate() {
            assert!(
                q.push(None, (*t).into(), event(&i.to_string()), now)
                    .is_none()
            );
        }
        let running = q.due(now);
        assert_eq!(running.len(), 2, "max_in_flight");
        assert_eq!(q.next_due(), None);
        let evicted = q.push(None, "d".into(), event("3"), now).expect("full");
        assert_eq!(evicted.event.id, "0");
        assert_eq!(q.len(), 3);
        // The evicted one was in flight: its result finds nothing, and its slot is free.
        assert!(matches!(
            q.finish(running[0].seq, AttemptResult::Delivered, now),
            Finished::Gone
        ));
        assert_eq!(ids(&q.due(now)), ["2"]);
    }
}
