//! `on_done` callbacks run exactly once (registered before or after completion, on
//! finished, failed and cancelled jobs), a panicking callback breaks nothing, and the
//! event stream and summary tell a progress bar and a job log what they need.

mod common;
mod pool_support;
mod support;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, mpsc};
use std::time::Duration;

use pipe_run::{Command, ErrorKind, Event, Job, Pool};

use support::fixture;

fn counters(n: usize) -> Arc<Vec<AtomicUsize>> {
    Arc::new((0..n).map(|_| AtomicUsize::new(0)).collect())
}

#[test]
fn every_callback_runs_exactly_once_registered_before_or_after_completion() {
    let pool = Pool::new(4).unwrap();
    let before = counters(100);
    let after = counters(100);
    let jobs: Vec<Job> = (0..100)
        .map(|i| {
            let cmd = match i % 3 {
                0 => Command::new("true"),
                1 => Command::new("false"),
                _ => Command::new("no-such-program-pipe-run"),
            };
            let job = pool.submit(cmd).unwrap();
            let c = before.clone();
            job.on_done(move |job| {
                c[job.id()].fetch_add(1, Ordering::SeqCst);
            });
            job
        })
        .collect();
    for job in &jobs {
        job.wait();
        let c = after.clone();
        let here = std::thread::current().id();
        job.on_done(move |job| {
            assert_eq!(std::thread::current().id(), here, "runs right away, here");
            c[job.id()].fetch_add(1, Ordering::SeqCst);
        });
    }
    drop(pool);
    for i in 0..100 {
        assert_eq!(before[i].load(Ordering::SeqCst), 1, "job {i} before");
        assert_eq!(after[i].load(Ordering::SeqCst), 1, "job {i} after");
    }
}

#[test]
fn callbacks_run_in_registration_order_and_see_the_result() {
    let pool = Pool::new(1).unwrap();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let gate = pool.acquire_slot(); // hold the job back until every callback is in
    let job = pool.submit(Command::new("echo").arg("hi")).unwrap();
    for n in 0..5 {
        let seen = seen.clone();
        job.on_done(move |job| {
            let out = job.result().unwrap().stdout_text();
            seen.lock().unwrap().push((n, out));
        });
    }
    drop(gate);
    job.wait();
    drop(pool);
    let seen = seen.lock().unwrap();
    assert_eq!(
        *seen,
        (0..5).map(|n| (n, "hi\n".to_owned())).collect::<Vec<_>>()
    );
}

#[test]
fn a_cancelled_jobs_callbacks_run_on_the_cancelling_thread() {
    let pool = Pool::new(1).unwrap();
    let _busy = pool.acquire_slot();
    let job = pool.submit(Command::new("true")).unwrap();
    let (tx, rx) = mpsc::channel();
    job.on_done(move |job| {
        tx.send((std::thread::current().id(), job.cancelled()))
            .unwrap()
    });
    assert!(job.cancel());
    let (thread, cancelled) = rx.try_recv().expect("ran during cancel()");
    assert_eq!(thread, std::thread::current().id());
    assert!(cancelled);
}

#[test]
fn a_panicking_callback_is_reported_and_breaks_nothing() {
    let pool = Pool::new(2).unwrap();
    let events = pool.events();
    let ran = Arc::new(AtomicUsize::new(0));
    let job = pool.submit(Command::new("echo").arg("x")).unwrap();
    job.on_done(|_| panic!("callback bug"));
    let r = ran.clone();
    job.on_done(move |_| {
        r.fetch_add(1, Ordering::SeqCst);
    });
    job.wait();
    // Registered after completion: runs here, and the panic stays caught.
    job.on_done(|_| panic!("late bug"));
    let r = ran.clone();
    job.on_done(move |_| {
        r.fetch_add(1, Ordering::SeqCst);
    });

    // The pool still works, with all its workers.
    let later: Vec<Job> = (0..4)
        .map(|_| pool.submit(Command::new("true")).unwrap())
        .collect();
    for j in &later {
        assert!(j.result().is_ok());
    }
    assert!(job.result().is_ok());
    drop(pool);
    assert_eq!(ran.load(Ordering::SeqCst), 2);
    let panics: Vec<String> = events
        .filter_map(|e| match e {
            Event::CallbackPanicked { message, job, .. } => {
                assert_eq!(job, 0);
                Some(message)
            }
            _ => None,
        })
        .collect();
    // The late one ran on this thread, perhaps while the scheduler was still
    // running the first: `wait` returns once the result is in, before callbacks.
    let mut panics = panics;
    panics.sort();
    assert_eq!(panics, ["callback bug", "late bug"]);
}

#[test]
fn a_callback_can_submit_more_work() {
    let pool = Arc::new(Pool::new(2).unwrap());
    let (tx, rx) = mpsc::channel();
    let first = pool.submit(Command::new("echo").arg("1")).unwrap();
    let p = pool.clone();
    first.on_done(move |_| {
        let second = p.submit(Command::new("echo").arg("2")).unwrap();
        tx.send(second).unwrap();
    });
    let second = rx.recv_timeout(Duration::from_secs(10)).unwrap();
    assert_eq!(second.result().unwrap().stdout_text(), "2\n");
}

#[test]
fn events_tell_when_each_job_started_and_how_it_finished() {
    let pool = Pool::new(2).unwrap();
    let events = pool.events();
    let ok = pool
        .submit(Command::new(fixture("sleep")).arg("0.2"))
        .unwrap();
    let bad = pool
        .submit(Command::new(fixture("exit-with")).arg("5"))
        .unwrap();
    let missing = pool
        .submit(Command::new("no-such-program-pipe-run"))
        .unwrap();
    for job in [&ok, &bad, &missing] {
        job.wait();
    }
    let busy = [pool.acquire_slot(), pool.acquire_slot()]; // keep the next one pending
    let cancelled = pool.submit(Command::new("true")).unwrap();
    assert!(cancelled.cancel());
    drop(busy);
    drop(pool);

    let events: Vec<Event> = events.collect();
    let started = |id: usize| {
        events
            .iter()
            .position(|e| matches!(e, Event::Started { job, .. } if *job == id))
    };
    let finished = |id: usize| {
        events
            .iter()
            .position(|e| matches!(e, Event::Finished { job, .. } if *job == id))
    };
    for id in [0, 1] {
        assert!(started(id).unwrap() < finished(id).unwrap(), "{events:#?}");
    }
    assert_eq!(started(2), None, "a spawn failure never started");
    assert!(finished(2).is_some());
    assert!(
        events
            .iter()
            .any(|e| matches!(e, Event::Cancelled { job: 3, .. }))
    );

    for e in &events {
        match e {
            Event::Started {
                job: 0,
                pid,
                attempt,
                command,
                ..
            } => {
                assert!(pid.is_some());
                assert_eq!(*attempt, 1);
                assert!(command.ends_with("sleep 0.2"), "{command}");
            }
            Event::Finished {
                job: 0,
                elapsed,
                status,
                error,
                ..
            } => {
                assert!(*elapsed >= Duration::from_millis(200), "{elapsed:?}");
                assert!(status.unwrap().success());
                assert!(error.is_none());
            }
            Event::Finished {
                job: 1,
                status,
                error,
                ..
            } => {
                assert_eq!(status.unwrap().code(), Some(5));
                let (kind, message) = error.as_ref().unwrap();
                assert_eq!(*kind, ErrorKind::CalledProcess);
                assert!(message.contains("exited with code 5"), "{message}");
            }
            Event::Finished {
                job: 2,
                status,
                error,
                ..
            } => {
                assert!(status.is_none());
                assert_eq!(error.as_ref().unwrap().0, ErrorKind::NotFound);
            }
            _ => {}
        }
    }
}

#[test]
fn a_progress_bar_can_count_every_job_from_the_events() {
    let pool = Pool::new(4).unwrap();
    let events = pool.events();
    let progress = std::thread::spawn(move || {
        let mut ended = 0;
        for e in events {
            if matches!(e, Event::Finished { .. } | Event::Cancelled { .. }) {
                ended += 1;
            }
        }
        ended
    });
    let jobs: Vec<Job> = (0..40)
        .map(|i| {
            pool.submit(Command::new(if i % 5 == 0 { "false" } else { "true" }))
                .unwrap()
        })
        .collect();
    jobs[39].cancel();
    drop(pool);
    assert_eq!(progress.join().unwrap(), 40);
}

#[test]
fn the_summary_lists_failed_and_cancelled_commands() {
    let pool = Pool::new(1).unwrap();
    let _busy = pool.acquire_slot();
    pool.submit(Command::new("true")).unwrap();
    pool.submit(Command::new("false")).unwrap();
    pool.submit(Command::new("echo").arg("a b"))
        .unwrap()
        .cancel();
    drop(_busy);
    drop(pool.submit(Command::new("true")));
    pool.shutdown(true, false);
    let summary = pool.summary();
    assert_eq!(summary.succeeded, 2);
    assert_eq!(summary.failed.len(), 1);
    assert_eq!(summary.cancelled.len(), 1);
    assert_eq!(&*summary.cancelled[0].command, "echo 'a b'");
    assert_eq!(
        summary.to_string(),
        "4 jobs: 2 succeeded, 1 failed, 1 cancelled\n  \
         failed: job 1 `false`: exited with code 1\n  \
         cancelled: job 2 `echo 'a b'`: was cancelled before it started"
    );
}
