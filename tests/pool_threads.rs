//! A pool's scheduler threads: how many there are, and that splitting the workers
//! between them changes nothing a user can see. The worker bound holds across
//! threads, and a fail-fast kill or `terminate` reaches the jobs of every thread.

mod common;
mod pool_support;
mod support;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use pipe_run::{Command, ErrorKind, Event, Job, Pool};

use common::TempDir;
use pool_support::{describe, max_overlap, run_logged_sleeps};
use support::{fixture, process_alive, wait_until};

fn cpus() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// Records the name of the thread each job's `on_done` callback ran on: a
/// scheduler thread, since every job here is still running when it is registered.
fn record_thread(job: &Job, names: &Arc<Mutex<Vec<String>>>) {
    let names = names.clone();
    job.on_done(move |_| {
        let name = std::thread::current().name().unwrap_or("?").to_owned();
        names.lock().unwrap().push(name);
    });
}

#[test]
fn one_scheduler_thread_per_cpu_up_to_four_and_never_more_than_the_workers() {
    assert_eq!(Pool::new(1).unwrap().scheduler_threads(), 1);
    assert_eq!(Pool::new(64).unwrap().scheduler_threads(), cpus().min(4));
    let pool = Pool::builder()
        .workers(8)
        .scheduler_threads(3)
        .build()
        .unwrap();
    assert_eq!(pool.scheduler_threads(), 3);
    let pool = Pool::builder()
        .workers(2)
        .scheduler_threads(16)
        .build()
        .unwrap();
    assert_eq!(pool.scheduler_threads(), 2);

    let err = Pool::builder().scheduler_threads(0).build().unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidInput, "{err}");
    assert!(
        err.to_string().contains("at least one scheduler thread"),
        "{err}"
    );
}

#[test]
fn the_worker_bound_holds_across_scheduler_threads() {
    let dir = TempDir::new("pool-threads-bound");
    let log = dir.path().join("log");
    let pool = Pool::builder()
        .workers(3)
        .scheduler_threads(2)
        .build()
        .unwrap();
    let runs = run_logged_sleeps(&pool, 12, "0.15", &log);
    let overlap = max_overlap(&runs);
    assert_eq!(
        overlap,
        3,
        "expected exactly 3 at once:\n{}",
        describe(&runs)
    );
}

#[test]
fn a_fail_fast_kill_reaches_the_jobs_of_the_other_scheduler_thread() {
    // One worker per thread: the two jobs cannot share a thread.
    let pool = Pool::builder()
        .workers(2)
        .scheduler_threads(2)
        .fail_fast(true)
        .build()
        .unwrap();
    let names = Arc::new(Mutex::new(Vec::new()));
    let slow = pool
        .submit(Command::shell("echo started; sleep 30; echo finished"))
        .unwrap();
    record_thread(&slow, &names);
    let bad = pool.submit(Command::shell("sleep 0.3; exit 1")).unwrap();
    record_thread(&bad, &names);

    assert_eq!(bad.result().unwrap_err().kind(), ErrorKind::CalledProcess);
    let t0 = Instant::now();
    let err = slow.result().unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Cancelled, "{err}");
    assert_eq!(err.stdout(), b"started\n");
    assert!(t0.elapsed() < Duration::from_secs(2), "{:?}", t0.elapsed());

    pool.shutdown(true, false);
    let mut names = names.lock().unwrap().clone();
    names.sort();
    assert_eq!(names, ["pipe-run-pool-0", "pipe-run-pool-1"]);
}

#[test]
fn terminate_kills_the_jobs_of_every_scheduler_thread() {
    let pool = Pool::builder()
        .workers(4)
        .scheduler_threads(2)
        .build()
        .unwrap();
    let events = pool.events();
    let names = Arc::new(Mutex::new(Vec::new()));
    let jobs: Vec<Job> = (0..4)
        .map(|_| {
            let job = pool
                .submit(Command::new(fixture("sleep")).arg("30"))
                .unwrap();
            record_thread(&job, &names);
            job
        })
        .collect();
    let mut pids = Vec::new();
    while pids.len() < 4 {
        match events.next_timeout(Duration::from_secs(10)) {
            Some(Event::Started { pid, .. }) => pids.push(pid.expect("a local job has a pid")),
            Some(_) => {}
            None => panic!("only {} of 4 jobs started", pids.len()),
        }
    }

    let t0 = Instant::now();
    pool.terminate();
    assert!(t0.elapsed() < Duration::from_secs(2), "{:?}", t0.elapsed());
    for job in &jobs {
        assert_eq!(job.result().unwrap_err().kind(), ErrorKind::Cancelled);
    }
    for pid in pids {
        let gone = wait_until(Duration::from_secs(5), || !process_alive(pid));
        assert!(gone, "sleeper {pid} survived terminate");
    }
    let mut names = names.lock().unwrap().clone();
    names.sort();
    names.dedup();
    assert_eq!(names, ["pipe-run-pool-0", "pipe-run-pool-1"]);
}
