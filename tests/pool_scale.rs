//! One scheduler thread runs a thousand children at once: 1,000 `sleep 1` jobs on
//! 1,000 workers finish in about a second, with a handful of threads, and leave no
//! descriptor behind; so does the default number of scheduler threads.
//!
//! Alone in its file so that no other test's threads or descriptors blur the counts.
//! The time bound is loose for a noisy two-core machine and an unoptimized build
//! (spawning 1,000 processes one after another takes 0.5–2 s there); the 2 s goal is
//! measured by `PIPE_RUN_BENCH_SCALE=1 cargo bench --bench pool`, or checked here with
//! `PIPE_RUN_STRICT_TIMING=1 cargo test --release --test pool_scale`.

mod support;

use std::time::{Duration, Instant};

use pipe_run::{Command, Job, Pool};

fn threads() -> usize {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("Threads:"))
        .and_then(|n| n.trim().parse().ok())
        .unwrap()
}

/// One test, not two: run side by side they would count each other's threads and
/// descriptors.
#[test]
fn a_thousand_concurrent_sleeps_take_one_scheduler_thread_and_about_a_second() {
    thousand_sleeps(Some(1));
    thousand_sleeps(None);
}

/// Runs 1,000 `sleep 1` on 1,000 workers served by `schedulers` threads (None: the
/// default) and checks time, thread count and descriptors.
fn thousand_sleeps(schedulers: Option<usize>) {
    // Warm up: start the background reaper and load the fixtures' pages, so that
    // the descriptor count below compares like with like.
    drop(
        Pool::new(2)
            .unwrap()
            .submit(Command::new("true"))
            .unwrap()
            .result(),
    );
    let fds_before = support::open_fds().len();

    let builder = Pool::builder().workers(1000);
    let pool = match schedulers {
        Some(n) => builder.scheduler_threads(n),
        None => builder,
    }
    .build()
    .unwrap();
    let t0 = Instant::now();
    let jobs: Vec<Job> = (0..1000)
        .map(|_| pool.submit(Command::new("sleep").arg("1")).unwrap())
        .collect();
    let mut most_threads = threads();
    while !jobs.iter().all(Job::done) {
        most_threads = most_threads.max(threads());
        std::thread::sleep(Duration::from_millis(20));
    }
    let took = t0.elapsed();
    for job in &jobs {
        let result = job.result();
        assert!(result.is_ok(), "{result:?}");
    }
    eprintln!(
        "1000 × sleep 1 on 1000 workers, {} scheduler threads: {took:?}, at most {most_threads} threads",
        pool.scheduler_threads()
    );
    assert!(most_threads <= 8, "{most_threads} threads");
    let limit = if std::env::var_os("PIPE_RUN_STRICT_TIMING").is_some() {
        Duration::from_secs(2)
    } else {
        Duration::from_secs(6)
    };
    assert!(took < limit, "took {took:?}");
    drop(jobs);
    drop(pool);
    assert!(
        support::wait_until(Duration::from_secs(5), || support::open_fds().len()
            <= fds_before),
        "descriptors leaked: {} before, {} after",
        fds_before,
        support::open_fds().len()
    );
}
