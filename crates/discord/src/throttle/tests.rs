//! Unit tests of `throttle`.

proptest::proptest! {
    /// Whatever a server puts in the rate-limit headers, reading them never panics and
    /// never asks for a wait longer than [`MAX_WAIT`].
    #[test]
    fn any_rate_limit_header_is_read_without_panic(
        remaining in "\\PC{0,24}",
        reset in "\\PC{0,24}|-1|NaN|inf|1e300|[0-9]{1,30}(\\.[0-9]{1,5})?",
        retry in "\\PC{0,24}|-1|NaN|inf|1e300|[0-9]{1,30}(\\.[0-9]{1,5})?",
    ) {
        let headers = [
            ("x-ratelimit-remaining", remaining.as_bytes()),
            ("x-ratelimit-reset-after", reset.as_bytes()),
            ("retry-after", retry.as_bytes()),
        ];
        match RateLimitFeedback::from_headers(headers) {
            Some(RateLimitFeedback::Limited { retry_after, .. }) => {
                proptest::prop_assert!(retry_after <= MAX_WAIT);
            }
            Some(RateLimitFeedback::Bucket { reset_after, .. }) => {
                proptest::prop_assert!(reset_after <= MAX_WAIT);
            }
            None => {}
        }
    }
}

use super::*;

type Log = Arc<Mutex<Vec<(Duration, String)>>>;

/// A real edit function that records what it was asked to show and when, answering with
/// the outcomes given (then `Applied(None)`), each after `latency`.
fn recorder(
    start: Instant,
    latency: Duration,
    outcomes: Vec<EditOutcome>,
) -> (
    Log,
    impl FnMut(String) -> std::pin::Pin<Box<dyn Future<Output = EditOutcome> + Send>> + Send + 'static,
) {
    let log: Log = Arc::default();
    let mut outcomes = outcomes.into_iter();
    let edit_log = log.clone();
    let edit = move |content: String| {
        let log = edit_log.clone();
        let outcome = outcomes.next().unwrap_or(EditOutcome::Applied(None));
        Box::pin(async move {
            log.lock().unwrap().push((start.elapsed(), content));
            tokio::time::sleep(latency).await;
            outcome
        }) as std::pin::Pin<Box<dyn Future<Output = EditOutcome> + Send>>
    };
    (log, edit)
}

fn edits(log: &Log) -> Vec<(Duration, String)> {
    log.lock().unwrap().clone()
}

/// Streams `tokens` one every `every`, recording when each text became current.
async fn stream(
    throttle: &EditThrottle<String>,
    tokens: usize,
    every: Duration,
) -> Vec<(Duration, String)> {
    let start = Instant::now();
    let mut text = String::new();
    let mut history = Vec::new();
    for i in 0..tokens {
        text.push_str(&format!("t{i} "));
        throttle.update(text.clone());
        history.push((start.elapsed(), text.clone()));
        tokio::time::sleep(every).await;
    }
    history
}

#[tokio::test(start_paused = true)]
async fn edits_are_spaced_and_carry_the_latest_text() {
    let start = Instant::now();
    let (log, edit) = recorder(start, Duration::from_millis(50), vec![]);
    let throttle = EditThrottle::spawn(
        1,
        String::new(),
        ThrottleConfig::default(),
        EditBudget::default(),
        edit,
    );
    let history = stream(&throttle, 100, Duration::from_millis(73)).await;
    let report = throttle.finish("the end".to_owned()).await;

    let edits = edits(&log);
    assert_eq!(edits.last().unwrap().1, "the end");
    assert!(report.final_delivered);
    assert_eq!(report.edits as usize, edits.len());
    // 7.3 s of streaming at one edit per 1.5 s (each edit taking 50 ms), plus the final.
    assert!((4..=6).contains(&edits.len()), "{} edits", edits.len());
    for pair in edits[..edits.len() - 1].windows(2) {
        assert!(pair[1].0 - pair[0].0 >= DEFAULT_EDIT_INTERVAL, "{pair:?}");
    }
    // Every streamed edit showed the newest text there was when it went out.
    for (at, text) in &edits[..edits.len() - 1] {
        let newest = history.iter().rev().find(|(t, _)| t <= at).unwrap();
        assert_eq!(&newest.1, text, "stale edit at {at:?}");
    }
}

#[tokio::test(start_paused = true)]
async fn a_slow_edit_does_not_queue_stale_ones() {
    let start = Instant::now();
    // Each edit takes 4 s, as if twilight held it in its queue.
    let (log, edit) = recorder(start, Duration::from_secs(4), vec![]);
    let throttle = EditThrottle::spawn(
        1,
        String::new(),
        ThrottleConfig::default(),
        EditBudget::default(),
        edit,
    );
    stream(&throttle, 100, Duration::from_millis(100)).await;
    throttle.finish("done".to_owned()).await;
    let edits = edits(&log);
    // At most one in flight: 10 s of streaming fits about three 4-second edits.
    assert!(edits.len() <= 4, "{edits:?}");
    for pair in edits.windows(2) {
        assert!(pair[1].0 - pair[0].0 >= Duration::from_secs(4));
    }
    assert_eq!(edits.last().unwrap().1, "done");
}

#[tokio::test(start_paused = true)]
async fn an_empty_bucket_holds_edits_until_it_resets() {
    let start = Instant::now();
    let empty = EditOutcome::Applied(Some(RateLimitFeedback::Bucket {
        remaining: 0,
        reset_after: Duration::from_secs(5),
    }));
    let (log, edit) = recorder(start, Duration::ZERO, vec![empty]);
    let budget = EditBudget::default();
    let throttle = EditThrottle::spawn(
        7,
        String::new(),
        ThrottleConfig::default(),
        budget.clone(),
        edit,
    );
    stream(&throttle, 30, Duration::from_millis(100)).await; // 3 s
    assert!(budget.ready_at(7) > Instant::now(), "channel 7 is held");
    assert_eq!(budget.ready_at(8), Instant::now(), "other channels are not");
    throttle.finish("end".to_owned()).await;
    let edits = edits(&log);
    assert_eq!(edits.len(), 2, "{edits:?}");
    assert!(
        edits[1].0 >= edits[0].0 + Duration::from_secs(5),
        "{edits:?}"
    );
    assert_eq!(edits[1].1, "end");
}

#[tokio::test(start_paused = true)]
async fn a_refused_edit_is_retried_with_newer_text_after_the_wait() {
    let start = Instant::now();
    let refused = EditOutcome::RateLimited(RateLimitFeedback::Limited {
        retry_after: Duration::from_secs(3),
        global: true,
    });
    let (log, edit) = recorder(start, Duration::ZERO, vec![refused]);
    let budget = EditBudget::default();
    let throttle = EditThrottle::spawn(
        1,
        String::new(),
        ThrottleConfig::default(),
        budget.clone(),
        edit,
    );
    throttle.update("first".to_owned());
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert!(
        budget.ready_at(99) > Instant::now(),
        "a global limit holds every channel"
    );
    throttle.update("second".to_owned());
    tokio::time::sleep(Duration::from_secs(5)).await;
    let report = throttle.finish("second".to_owned()).await;
    let edits = edits(&log);
    assert_eq!(edits[0].1, "first");
    assert_eq!(edits[1].1, "second");
    assert!(edits[1].0 >= edits[0].0 + Duration::from_secs(3));
    assert_eq!(report.rate_limited, 1);
    assert_eq!(report.edits, 1);
    assert!(report.final_delivered);
}

#[tokio::test(start_paused = true)]
async fn the_final_edit_is_not_held_by_the_interval_and_is_retried() {
    let start = Instant::now();
    let refused = EditOutcome::RateLimited(RateLimitFeedback::Limited {
        retry_after: Duration::from_secs(1),
        global: false,
    });
    let (log, edit) = recorder(
        start,
        Duration::ZERO,
        vec![EditOutcome::Applied(None), refused, refused],
    );
    let throttle = EditThrottle::spawn(
        1,
        String::new(),
        ThrottleConfig::default(),
        EditBudget::default(),
        edit,
    );
    throttle.update("a".to_owned());
    tokio::time::sleep(Duration::from_secs(2)).await;
    let report = throttle.finish("final".to_owned()).await;
    let edits = edits(&log);
    let texts: Vec<&str> = edits.iter().map(|(_, t)| t.as_str()).collect();
    assert_eq!(texts, ["a", "final", "final", "final"]);
    assert_eq!(
        edits[1].0,
        Duration::from_secs(2),
        "the final edit went out at once"
    );
    assert!(
        edits[3].0 >= edits[1].0 + Duration::from_secs(2),
        "{edits:?}"
    );
    assert!(report.final_delivered);

    // A final edit that keeps failing gives up after the configured attempts.
    let refusals = vec![refused; 10];
    let (log, edit) = recorder(start, Duration::ZERO, refusals);
    let config = ThrottleConfig {
        final_attempts: 3,
        ..ThrottleConfig::default()
    };
    let throttle = EditThrottle::spawn(1, String::new(), config, EditBudget::default(), edit);
    let report = throttle.finish("never".to_owned()).await;
    assert_eq!(log.lock().unwrap().len(), 3);
    assert!(!report.final_delivered);
}

#[tokio::test(start_paused = true)]
async fn nothing_new_means_no_edit_and_dropping_still_delivers() {
    let start = Instant::now();
    let (log, edit) = recorder(start, Duration::ZERO, vec![]);
    let throttle = EditThrottle::spawn(
        1,
        "shown".to_owned(),
        ThrottleConfig::default(),
        EditBudget::default(),
        edit,
    );
    throttle.update("shown".to_owned());
    let report = throttle.finish("shown".to_owned()).await;
    assert!(edits(&log).is_empty());
    assert!(report.final_delivered);

    let (log, edit) = recorder(start, Duration::ZERO, vec![]);
    let throttle = EditThrottle::spawn(
        1,
        String::new(),
        ThrottleConfig::default(),
        EditBudget::default(),
        edit,
    );
    throttle.update("partial".to_owned());
    drop(throttle);
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(edits(&log).last().map(|(_, t)| t.as_str()), Some("partial"));
}

#[tokio::test(start_paused = true)]
async fn the_global_budget_spaces_edits_across_messages() {
    let start = Instant::now();
    let budget = EditBudget::new(NonZeroU32::new(2).unwrap());
    let mut logs = Vec::new();
    let mut throttles = Vec::new();
    for channel in 0..6 {
        let (log, edit) = recorder(start, Duration::ZERO, vec![]);
        logs.push(log);
        throttles.push(EditThrottle::spawn(
            channel,
            String::new(),
            ThrottleConfig::default(),
            budget.clone(),
            edit,
        ));
    }
    for throttle in &throttles {
        throttle.update("x".to_owned());
    }
    for throttle in throttles {
        throttle.finish("x".to_owned()).await;
    }
    let mut times: Vec<Duration> = logs.iter().flat_map(edits).map(|(t, _)| t).collect();
    times.sort();
    assert_eq!(times.len(), 6);
    // Two at once (the burst), then one every half second.
    assert!(times[1] < Duration::from_millis(10));
    assert!(times[5] >= Duration::from_secs(2), "{times:?}");
}

#[test]
fn feedback_is_read_from_discord_headers() {
    let h = |pairs: &'static [(&'static str, &'static str)]| {
        RateLimitFeedback::from_headers(pairs.iter().map(|(k, v)| (*k, v.as_bytes())))
    };
    assert_eq!(
        h(&[
            ("x-ratelimit-limit", "5"),
            ("X-RateLimit-Remaining", "0"),
            ("x-ratelimit-reset-after", "1.250"),
            ("x-ratelimit-scope", "user")
        ]),
        Some(RateLimitFeedback::Bucket {
            remaining: 0,
            reset_after: Duration::from_millis(1250)
        })
    );
    assert_eq!(
        h(&[("retry-after", "2"), ("x-ratelimit-scope", "global")]),
        Some(RateLimitFeedback::Limited {
            retry_after: Duration::from_secs(2),
            global: true
        })
    );
    assert_eq!(h(&[("content-type", "application/json")]), None);
    assert_eq!(
        h(&[
            ("x-ratelimit-remaining", "x"),
            ("x-ratelimit-reset-after", "1")
        ]),
        None
    );
    assert_eq!(
        h(&[
            ("x-ratelimit-remaining", "1"),
            ("x-ratelimit-reset-after", "-1")
        ]),
        None
    );
}
