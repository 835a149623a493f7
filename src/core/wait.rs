//! Waiting for something outside strata: a source's data to land, a warehouse
//! job to finish, a Tableau refresh. One loop for all of them: try, and while
//! not done, sleep (in short steps, so Ctrl-C is noticed) until the timeout.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// How long to sleep between attempts: `first`, then growing by `factor` up to `max`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Backoff {
    pub first: Duration,
    pub factor: f64,
    pub max: Duration,
}

impl Backoff {
    /// The same pause every time (a sensor's `poke_interval`).
    pub fn every(interval: Duration) -> Backoff {
        Backoff { first: interval, factor: 1.0, max: interval }
    }

    /// The pause after `attempts` attempts.
    pub fn pause(&self, attempts: u32) -> Duration {
        let grown = self.first.as_secs_f64() * self.factor.powi(attempts.saturating_sub(1).min(64) as i32);
        Duration::from_secs_f64(grown.min(self.max.as_secs_f64()).max(0.0))
    }
}

/// What one attempt found.
pub enum Attempt<T> {
    Done(T),
    /// Not yet, and why (shown when the wait starts and when it ends without success).
    NotYet(String),
}

/// How a wait ended, with the number of attempts made.
#[derive(Debug, PartialEq, Eq)]
pub enum Waited<T> {
    Done { value: T, attempts: u32 },
    TimedOut { reason: String, attempts: u32 },
    Cancelled { reason: String, attempts: u32 },
}

/// Tries `attempt` until it is done, `timeout` has passed or `cancelled` is
/// set. `waiting` is told the reason once, after the first attempt that is
/// not done and before the first sleep, so a wait never looks like a hang.
pub fn wait_for<T>(
    timeout: Duration,
    backoff: Backoff,
    cancelled: &AtomicBool,
    mut waiting: impl FnMut(&str),
    mut attempt: impl FnMut() -> Attempt<T>,
) -> Waited<T> {
    let deadline = Instant::now() + timeout;
    let mut attempts = 0;
    loop {
        attempts += 1;
        let reason = match attempt() {
            Attempt::Done(value) => return Waited::Done { value, attempts },
            Attempt::NotYet(reason) => reason,
        };
        let now = Instant::now();
        if cancelled.load(Ordering::SeqCst) {
            return Waited::Cancelled { reason, attempts };
        }
        if now >= deadline {
            return Waited::TimedOut { reason, attempts };
        }
        if attempts == 1 {
            waiting(&reason);
        }
        sleep((now + backoff.pause(attempts)).min(deadline) - now, cancelled);
    }
}

/// Tries `attempt` at most `attempts` times, pausing as `backoff` says between
/// tries: for a request whose own timeout bounds each try (a webhook), where
/// the number of tries matters, not a deadline. Ends `TimedOut` with the last
/// reason when no try was done.
pub fn retry<T>(attempts: u32, backoff: Backoff, mut attempt: impl FnMut() -> Attempt<T>) -> Waited<T> {
    let never = AtomicBool::new(false);
    let mut tried = 0;
    loop {
        tried += 1;
        match attempt() {
            Attempt::Done(value) => return Waited::Done { value, attempts: tried },
            Attempt::NotYet(reason) if tried >= attempts => return Waited::TimedOut { reason, attempts: tried },
            Attempt::NotYet(_) => sleep(backoff.pause(tried), &never),
        };
    }
}

/// Sleeps for `duration` in short steps, so Ctrl-C is noticed; false if it was.
pub fn sleep(duration: Duration, cancelled: &AtomicBool) -> bool {
    let wake = Instant::now() + duration;
    while Instant::now() < wake && !cancelled.load(Ordering::SeqCst) {
        std::thread::sleep(wake.saturating_duration_since(Instant::now()).min(Duration::from_millis(100)));
    }
    !cancelled.load(Ordering::SeqCst)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pauses_grow_to_the_maximum() {
        let backoff = Backoff { first: Duration::from_secs(1), factor: 1.5, max: Duration::from_secs(30) };
        let pauses: Vec<f64> = (1..=10).map(|n| backoff.pause(n).as_secs_f64()).collect();
        assert_eq!(pauses[..4], [1.0, 1.5, 2.25, 3.375]);
        assert_eq!(pauses[9], 30.0);
        assert_eq!(Backoff::every(Duration::from_secs(5)).pause(7), Duration::from_secs(5));
    }

    #[test]
    fn waits_until_done_and_says_why_once() {
        let cancelled = AtomicBool::new(false);
        let mut told = Vec::new();
        let mut left = 3;
        let waited = wait_for(
            Duration::from_secs(5),
            Backoff::every(Duration::ZERO),
            &cancelled,
            |why| told.push(why.to_string()),
            || {
                left -= 1;
                if left == 0 { Attempt::Done("landed") } else { Attempt::NotYet(format!("{left} to go")) }
            },
        );
        assert_eq!(waited, Waited::Done { value: "landed", attempts: 3 });
        assert_eq!(told, ["2 to go"]);
    }

    #[test]
    fn retries_stop_at_the_count_or_when_done() {
        let no_pause = Backoff::every(Duration::ZERO);
        let mut tries = 0;
        let waited: Waited<()> = retry(3, no_pause, || {
            tries += 1;
            Attempt::NotYet(format!("HTTP 50{tries}"))
        });
        assert_eq!(waited, Waited::TimedOut { reason: "HTTP 503".into(), attempts: 3 });
        let waited = retry(3, no_pause, || Attempt::Done("refused"));
        assert_eq!(waited, Waited::Done { value: "refused", attempts: 1 });
    }

    #[test]
    fn a_zero_timeout_tries_once_and_ctrl_c_stops_the_wait() {
        let cancelled = AtomicBool::new(false);
        let waited: Waited<()> =
            wait_for(Duration::ZERO, Backoff::every(Duration::from_secs(60)), &cancelled, |_| {}, || Attempt::NotYet("empty".into()));
        assert_eq!(waited, Waited::TimedOut { reason: "empty".into(), attempts: 1 });
        let cancelled = AtomicBool::new(true);
        let waited: Waited<()> =
            wait_for(Duration::from_secs(60), Backoff::every(Duration::from_secs(60)), &cancelled, |_| {}, || Attempt::NotYet("empty".into()));
        assert_eq!(waited, Waited::Cancelled { reason: "empty".into(), attempts: 1 });
    }
}
