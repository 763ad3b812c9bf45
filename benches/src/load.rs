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

    fn absorb(&mut self, other: Self) {
        self.latencies.extend(other.latencies);
        self.wall += other.wall;
    }
}

/// One round: `in_flight` loops sending with `driver` until `budget` is spent.
pub(crate) async fn round(
    driver: &Driver,
    in_flight: usize,
    budget: Budget,
) -> Result<Stats, BoxError> {
    let issued = Arc::new(AtomicU64::new(0));
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
    Ok(stats)
}

/// Measures variants against each other: a warm-up round of each (discarded), then `rounds`
/// rounds alternating a, b, c, a, b, c, … so slow phases of a shared machine hit them all.
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
    let mut stats = vec![Stats::default(); drivers.len()];
    for _ in 0..rounds {
        for (driver, stats) in drivers.iter().zip(&mut stats) {
            stats.absorb(round(driver, in_flight, budget).await?);
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
        };
        assert_eq!(stats.quantile(0.5), Duration::from_millis(50));
        assert_eq!(stats.quantile(0.99), Duration::from_millis(99));
        assert_eq!(stats.quantile(1.0), Duration::from_millis(100));
        assert_eq!(stats.rps(), 100.0);
    }
}
