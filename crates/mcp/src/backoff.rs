//! Restart pacing: the doubling, jittered delay between restarts, and the crash-loop circuit
//! breaker. Pure state, driven by the supervisor with the current time.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use crate::spec::{Backoff, CircuitBreaker};

/// The next restart delay of one replica.
#[derive(Debug)]
pub(crate) struct BackoffState {
    policy: Backoff,
    next: Duration,
}

impl BackoffState {
    pub(crate) fn new(policy: Backoff) -> Self {
        Self {
            policy,
            next: policy.initial,
        }
    }

    /// The delay to wait now (jittered); doubles the following one up to the ceiling.
    pub(crate) fn next_delay(&mut self) -> Duration {
        let base = self.next.min(self.policy.max);
        self.next = base.saturating_mul(2).min(self.policy.max);
        let jitter = self.policy.jitter.clamp(0.0, 1.0);
        if jitter == 0.0 {
            return base;
        }
        let factor = rand::random_range((1.0 - jitter)..=(1.0 + jitter));
        base.mul_f64(factor)
    }

    /// Back to the initial delay (after a server ran stably).
    pub(crate) fn reset(&mut self) {
        self.next = self.policy.initial;
    }
}

/// Recent failures of one replica, to tell a crash loop from an occasional crash.
#[derive(Debug)]
pub(crate) struct FailureWindow {
    policy: CircuitBreaker,
    failures: VecDeque<Instant>,
}

impl FailureWindow {
    pub(crate) fn new(policy: CircuitBreaker) -> Self {
        Self {
            policy,
            failures: VecDeque::new(),
        }
    }

    /// Records a failure at `now`; true when the circuit is open (too many in the window).
    pub(crate) fn record(&mut self, now: Instant) -> bool {
        self.failures.push_back(now);
        while let Some(first) = self.failures.front() {
            if now.duration_since(*first) > self.policy.window {
                self.failures.pop_front();
            } else {
                break;
            }
        }
        self.failures.len() >= self.policy.max_failures.max(1)
    }

    /// Forgets every failure (after the server ran stably).
    pub(crate) fn clear(&mut self) {
        self.failures.clear();
    }

    /// The slow retry period while the circuit is open.
    pub(crate) fn retry_after(&self) -> Duration {
        self.policy.retry_after
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_double_up_to_the_ceiling_within_the_jitter() {
        let mut state = BackoffState::new(Backoff {
            initial: Duration::from_millis(100),
            max: Duration::from_millis(1000),
            jitter: 0.2,
        });
        let bases = [100, 200, 400, 800, 1000, 1000];
        for base in bases {
            let delay = state.next_delay().as_secs_f64() * 1000.0;
            let base = f64::from(base);
            assert!(
                (base * 0.8 - 1e-6..=base * 1.2 + 1e-6).contains(&delay),
                "{delay} not within 20 % of {base}"
            );
        }
        state.reset();
        let delay = state.next_delay();
        assert!(delay <= Duration::from_millis(120));
    }

    #[test]
    fn no_jitter_gives_exact_delays() {
        let mut state = BackoffState::new(Backoff {
            initial: Duration::from_millis(10),
            max: Duration::from_millis(25),
            jitter: 0.0,
        });
        let delays: Vec<_> = (0..4).map(|_| state.next_delay().as_millis()).collect();
        assert_eq!(delays, [10, 20, 25, 25]);
    }

    #[test]
    fn the_circuit_opens_after_repeated_failures_in_the_window_only() {
        let mut window = FailureWindow::new(CircuitBreaker {
            max_failures: 3,
            window: Duration::from_secs(10),
            retry_after: Duration::from_secs(60),
        });
        let start = Instant::now();
        assert!(!window.record(start));
        assert!(!window.record(start + Duration::from_secs(5)));
        // The first failure is out of the window by now.
        assert!(!window.record(start + Duration::from_secs(12)));
        assert!(window.record(start + Duration::from_secs(13)));
        window.clear();
        assert!(!window.record(start + Duration::from_secs(14)));
    }
}
