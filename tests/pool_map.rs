//! `map` yields in input order, lazily, with a bounded number of tasks submitted
//! ahead; `map_unordered` yields in completion order with input indices;
//! `as_completed` yields jobs as they finish and times out with a clear count.

mod common;
mod pool_support;
mod support;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use pipe_run::{Command, ErrorKind, Job, Pool, as_completed};

use support::fixture;

fn sleeper(secs: f64) -> Command {
    Command::new(fixture("sleep")).arg(secs.to_string())
}

#[test]
fn map_yields_in_input_order_whatever_the_completion_order() {
    let pool = Pool::new(4).unwrap();
    // Later tasks finish first.
    let tasks =
        (0..8).map(|i| Command::shell(format!("sleep {}; echo {i}", 0.05 * (8 - i) as f64)));
    let outs: Vec<String> = pool.map(tasks).map(|r| r.unwrap().stdout_text()).collect();
    let expected: Vec<String> = (0..8).map(|i| format!("{i}\n")).collect();
    assert_eq!(outs, expected);
}

#[test]
fn map_is_lazy_and_keeps_a_bounded_number_submitted_ahead() {
    let pool = Pool::new(2).unwrap();
    let pulled = Arc::new(AtomicUsize::new(0));
    let p = pulled.clone();
    let tasks = (0..200).map(move |_| {
        p.fetch_add(1, Ordering::SeqCst);
        Command::new("true")
    });
    let mut results = pool.map(tasks).ahead(5);
    assert_eq!(
        pulled.load(Ordering::SeqCst),
        0,
        "nothing before the first next()"
    );
    let mut yielded = 0;
    let mut most_ahead = 0;
    for r in &mut results {
        r.unwrap();
        yielded += 1;
        let ahead = pulled.load(Ordering::SeqCst) - yielded;
        most_ahead = most_ahead.max(ahead);
        assert!(ahead <= 5, "{ahead} tasks submitted ahead of the consumer");
    }
    assert_eq!(yielded, 200);
    assert_eq!(most_ahead, 4, "the window is used");
    // The default window is twice the workers.
    let pulled = Arc::new(AtomicUsize::new(0));
    let p = pulled.clone();
    let mut results = pool.map((0..100).map(move |_| {
        p.fetch_add(1, Ordering::SeqCst);
        Command::new("true")
    }));
    results.next().unwrap().unwrap();
    assert_eq!(pulled.load(Ordering::SeqCst), 4);
}

#[test]
fn map_yields_each_failure_in_its_place_and_goes_on() {
    let pool = Pool::new(3).unwrap();
    let tasks = ["true", "false", "no-such-program-pipe-run", "true"].map(Command::new);
    let kinds: Vec<Option<ErrorKind>> =
        pool.map(tasks).map(|r| r.err().map(|e| e.kind())).collect();
    assert_eq!(
        kinds,
        [
            None,
            Some(ErrorKind::CalledProcess),
            Some(ErrorKind::NotFound),
            None
        ]
    );
}

#[test]
fn dropping_a_map_cancels_its_tasks_that_have_not_started() {
    let pool = Pool::new(1).unwrap();
    let events = pool.events();
    let mut results = pool.map((0..10).map(|_| sleeper(0.2))).ahead(6);
    results.next().unwrap().unwrap();
    drop(results);
    drop(pool);
    let started = events
        .filter(|e| matches!(e, pipe_run::Event::Started { .. }))
        .count();
    assert!(
        started <= 2,
        "{started} started: the rest should have been cancelled"
    );
}

#[test]
fn map_unordered_yields_in_completion_order_with_input_indices() {
    let pool = Pool::new(3).unwrap();
    let delays = [0.6, 0.0, 0.3];
    let order: Vec<usize> = pool
        .map_unordered(delays.map(sleeper))
        .map(|(i, r)| {
            r.unwrap();
            i
        })
        .collect();
    assert_eq!(order, [1, 2, 0]);
}

#[test]
fn map_unordered_is_lazy_and_bounded_too() {
    let pool = Pool::new(2).unwrap();
    let pulled = Arc::new(AtomicUsize::new(0));
    let p = pulled.clone();
    let tasks = (0..100).map(move |_| {
        p.fetch_add(1, Ordering::SeqCst);
        Command::new("true")
    });
    let mut results = pool.map_unordered(tasks).ahead(3);
    assert_eq!(pulled.load(Ordering::SeqCst), 0);
    let mut seen = [false; 100];
    let mut yielded = 0;
    for (i, r) in &mut results {
        r.unwrap();
        assert!(!seen[i], "index {i} twice");
        seen[i] = true;
        yielded += 1;
        assert!(pulled.load(Ordering::SeqCst) - yielded <= 3);
    }
    assert!(seen.iter().all(|&s| s));
}

#[test]
fn as_completed_yields_jobs_as_they_finish() {
    let pool = Pool::new(3).unwrap();
    let slow = pool.submit(sleeper(0.6)).unwrap();
    let fast = pool.submit(sleeper(0.0)).unwrap();
    let mid = pool.submit(sleeper(0.3)).unwrap();
    let ids: Vec<usize> = as_completed([slow.clone(), fast.clone(), mid.clone()], None)
        .map(|j| j.unwrap().id())
        .collect();
    assert_eq!(ids, [fast.id(), mid.id(), slow.id()]);
    // Finished ones come out at once, in the order given; duplicates once.
    let again: Vec<usize> =
        as_completed([mid.clone(), slow.clone(), mid.clone(), fast.clone()], None)
            .map(|j| j.unwrap().id())
            .collect();
    assert_eq!(again, [mid.id(), slow.id(), fast.id()]);
}

#[test]
fn as_completed_times_out_with_the_count_of_unfinished_jobs() {
    let pool = Pool::new(4).unwrap();
    let jobs: Vec<Job> = [0.0, 5.0, 5.0]
        .iter()
        .map(|&s| pool.submit(sleeper(s)).unwrap())
        .collect();
    let t0 = Instant::now();
    let mut it = as_completed(jobs.clone(), Some(Duration::from_millis(400)));
    assert_eq!(it.next().unwrap().unwrap().id(), jobs[0].id());
    let err = it.next().unwrap().unwrap_err();
    let took = t0.elapsed();
    assert_eq!(err.kind(), ErrorKind::Timeout);
    assert_eq!(err.to_string(), "2 (of 3) jobs unfinished after 400ms");
    assert!(
        took >= Duration::from_millis(400) && took < Duration::from_secs(3),
        "{took:?}"
    );
    assert!(it.next().is_none());
    assert!(!jobs[1].done(), "the unfinished jobs keep running");
    pool.terminate();
}

#[test]
fn as_completed_takes_jobs_of_several_pools() {
    let a = Pool::new(1).unwrap();
    let b = Pool::new(1).unwrap();
    let jobs = [
        a.submit(sleeper(0.3)).unwrap(),
        b.submit(sleeper(0.0)).unwrap(),
    ];
    let commands: Vec<String> = as_completed(jobs, Some(Duration::from_secs(30)))
        .map(|j| j.unwrap().command().rsplit(' ').next().unwrap().to_owned())
        .collect();
    assert_eq!(commands, ["0", "0.3"]);
}
