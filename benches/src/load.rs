//! A closed-loop load generator: `in_flight` tasks each send one request at a time, back to
//! back, until the budget is spent; every latency is recorded (percentiles by sorting).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use futures::future::BoxFuture;

use crate::BoxError;

/// Sends one request and checks its response.
pub(crate) type Driver = Arc<dyn Fn() -> BoxFuture<'static, Result<(), BoxError>> + Send + Sync>;

/// How much one round sends.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Budget {
    /// Requests are started until this much time has passed.
    Time(Duration),
    /// This many requests in all.
    Count(u64),
}

/// The measurements of one variant, over one or more rounds.
#[derive(Debug, Clone, Default)]
pub(crate) struct Stats {
    latencies: Vec<Duration>,
    wall: Duration,
    /// Requests per second of each round, in order.
    rounds: Vec<f64>,
    /// The 99th percentile latency of each round, in seconds, in order.
    round_p99: Vec<f64>,
    /// The process's CPU time (all threads, user and system) during the rounds; `None` off
    /// Linux.
    cpu: Option<Duration>,
}

impl Stats {
    /// Requests per second over all rounds.
    pub(crate) fn rps(&self) -> f64 {
        self.latencies.len() as f64 / self.wall.as_secs_f64().max(1e-9)
    }

    /// Requests measured.
    pub(crate) fn requests(&self) -> usize {
        self.latencies.len()
    }

    /// The `q` quantile (0..=1) of the latencies, nearest rank.
    pub(crate) fn quantile(&self, q: f64) -> Duration {
        let mut sorted = self.latencies.clone();
        sorted.sort_unstable();
        if sorted.is_empty() {
            return Duration::ZERO;
        }
        let rank = ((q * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
        sorted[rank - 1]
    }

    /// CPU time of the whole process (client and server) per request over the rounds.
    pub(crate) fn cpu_per_request(&self) -> Option<Duration> {
        let requests = u32::try_from(self.latencies.len())
            .ok()
            .filter(|&n| n > 0)?;
        Some(self.cpu? / requests)
    }

    fn absorb(&mut self, other: Self) {
        self.cpu = match (self.rounds.is_empty(), self.cpu, other.cpu) {
            (true, _, cpu) => cpu,
            (false, Some(a), Some(b)) => Some(a + b),
            _ => None,
        };
        self.rounds.push(other.rps());
        self.round_p99.push(other.quantile(0.99).as_secs_f64());
        self.latencies.extend(other.latencies);
        self.wall += other.wall;
    }
}

/// The median over rounds of `a`'s requests per second divided by `b`'s in the same round
/// (rounds of [`alternate`] run back to back, so each pair saw the same phase of a shared
/// machine): a burst of noise moves one pair, not the result. NaN without paired rounds.
pub(crate) fn paired_ratio(a: &Stats, b: &Stats) -> f64 {
    median_of_ratios(&a.rounds, &b.rounds)
}

/// The median over rounds of `a`'s p99 latency divided by `b`'s in the same round: the tail
/// latency compared as [`paired_ratio`] compares throughput, so that a round in which the
/// machine stalled (which puts its stall into the p99 of whichever variant ran then) moves
/// one pair, not the figure. NaN without paired rounds.
pub(crate) fn paired_p99_ratio(a: &Stats, b: &Stats) -> f64 {
    median_of_ratios(&a.round_p99, &b.round_p99)
}

fn median_of_ratios(a: &[f64], b: &[f64]) -> f64 {
    median(
        a.iter()
            .zip(b)
            .filter(|(_, b)| **b > 0.0)
            .map(|(a, b)| a / b)
            .collect(),
    )
}

/// The median of `values` (the mean of the middle two for an even count); NaN when empty.
pub(crate) fn median(mut values: Vec<f64>) -> f64 {
    if values.is_empty() {
        return f64::NAN;
    }
    values.sort_by(f64::total_cmp);
    let mid = values.len() / 2;
    if values.len() % 2 == 1 {
        values[mid]
    } else {
        (values[mid - 1] + values[mid]) / 2.0
    }
}

/// One round: `in_flight` loops sending with `driver` until `budget` is spent.
pub(crate) async fn round(
    driver: &Driver,
    in_flight: usize,
    budget: Budget,
) -> Result<Stats, BoxError> {
    let issued = Arc::new(AtomicU64::new(0));
    let cpu_before = process_cpu();
    let started = Instant::now();
    let mut workers = Vec::with_capacity(in_flight);
    for _ in 0..in_flight {
        let driver = Arc::clone(driver);
        let issued = Arc::clone(&issued);
        workers.push(tokio::spawn(async move {
            let mut latencies = Vec::with_capacity(4096);
            loop {
                let go = match budget {
                    Budget::Time(d) => started.elapsed() < d,
                    Budget::Count(n) => issued.fetch_add(1, Ordering::Relaxed) < n,
                };
                if !go {
                    break;
                }
                let sent = Instant::now();
                driver().await?;
                latencies.push(sent.elapsed());
            }
            Ok::<_, BoxError>(latencies)
        }));
    }
    let mut stats = Stats::default();
    for worker in workers {
        stats.latencies.extend(worker.await??);
    }
    stats.wall = started.elapsed();
    stats.cpu = cpu_before.and_then(|before| Some(process_cpu()?.saturating_sub(before)));
    Ok(stats)
}

/// The CPU time this process (all its threads, user and system) has used so far, from
/// `/proc/self/stat` (clock ticks, assumed 100 per second as on every Linux since 2.6); `None`
/// off Linux.
pub(crate) fn process_cpu() -> Option<Duration> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // The command name (field 2) may hold spaces: count fields after its closing parenthesis.
    let rest = stat.get(stat.rfind(')')? + 1..)?;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // utime and stime are fields 14 and 15, i.e. 11 and 12 after the name.
    let ticks: u64 = fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?;
    Some(Duration::from_millis(ticks * 10))
}

/// Measures variants against each other: a warm-up round of each (discarded), then `rounds`
/// rounds of every variant back to back, so slow phases of a shared machine hit them all; the
/// order rotates from round to round (a, b, c; b, c, a; c, a, b; …) so no variant always goes
/// first or last.
pub(crate) async fn alternate(
    drivers: &[&Driver],
    in_flight: usize,
    warm_up: Budget,
    budget: Budget,
    rounds: usize,
) -> Result<Vec<Stats>, BoxError> {
    for driver in drivers {
        round(driver, in_flight, warm_up).await?;
    }
    let n = drivers.len();
    let mut stats = vec![Stats::default(); n];
    for r in 0..rounds {
        for i in (0..n).map(|k| (k + r) % n) {
            stats[i].absorb(round(drivers[i], in_flight, budget).await?);
        }
    }
    Ok(stats)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank_quantiles() {
        let stats = Stats {
            latencies: (1..=100).rev().map(Duration::from_millis).collect(),
            wall: Duration::from_secs(1),
            ..Stats::default()
        };
        assert_eq!(stats.quantile(0.5), Duration::from_millis(50));
        assert_eq!(stats.quantile(0.99), Duration::from_millis(99));
        assert_eq!(stats.quantile(1.0), Duration::from_millis(100));
        assert_eq!(stats.rps(), 100.0);
    }

    #[test]
    fn paired_ratio_is_the_median_of_round_ratios() {
        let with = |rounds: &[f64]| Stats {
            rounds: rounds.to_vec(),
            ..Stats::default()
        };
        // One noisy round (the third) does not move the median.
        let a = with(&[90.0, 95.0, 10.0, 92.0, 94.0]);
        let b = with(&[100.0, 100.0, 100.0, 100.0, 100.0]);
        assert_eq!(paired_ratio(&a, &b), 0.92);
        // Even count: the mean of the two middle ratios.
        assert_eq!(paired_ratio(&with(&[1.0, 3.0]), &with(&[2.0, 2.0])), 1.0);
        assert!(paired_ratio(&with(&[]), &with(&[])).is_nan());
    }

    #[test]
    fn paired_p99_ratio_compares_each_rounds_tail() {
        // Three rounds of 100 requests each; in the second, A's requests met a stall.
        let round = |slow_ms: u64| Stats {
            latencies: (1..=100)
                .map(|i| Duration::from_millis(if i > 95 { slow_ms } else { 1 }))
                .collect(),
            wall: Duration::from_secs(1),
            ..Stats::default()
        };
        let (mut a, mut b) = (Stats::default(), Stats::default());
        for (slow_a, slow_b) in [(12, 10), (500, 10), (11, 10)] {
            a.absorb(round(slow_a));
            b.absorb(round(slow_b));
        }
        // Pooled, the stall is A's whole p99; round by round it is one ratio of three.
        assert_eq!(a.quantile(0.99), Duration::from_millis(500));
        assert!((paired_p99_ratio(&a, &b) - 1.2).abs() < 1e-9);
        assert_eq!(a.round_p99.len(), 3);
    }

    #[tokio::test]
    async fn alternate_rotates_the_order_and_records_every_round() {
        use std::sync::Mutex;
        let order = Arc::new(Mutex::new(Vec::new()));
        let driver = |name: &'static str| -> Driver {
            let order = Arc::clone(&order);
            Arc::new(move || {
                order.lock().unwrap().push(name);
                Box::pin(std::future::ready(Ok(())))
            })
        };
        let (a, b, c) = (driver("a"), driver("b"), driver("c"));
        let stats = alternate(&[&a, &b, &c], 1, Budget::Count(1), Budget::Count(1), 3)
            .await
            .unwrap();
        assert_eq!(
            *order.lock().unwrap(),
            ["a", "b", "c", "a", "b", "c", "b", "c", "a", "c", "a", "b"]
        );
        assert!(
            stats
                .iter()
                .all(|s| s.rounds.len() == 3 && s.requests() == 3)
        );
    }
}
