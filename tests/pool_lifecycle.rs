//! How a pool ends: `shutdown` with and without waiting or cancelling, `terminate`
//! killing and reaping every job (descendants included) promptly, `Drop` waiting for
//! submitted work, and nothing left behind: no zombie, no orphan.

mod common;
mod pool_support;
mod support;

use std::sync::Arc;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use pipe_run::{Command, ErrorKind, Event, Job, Pool};

use common::{KillOnDrop, TempDir, pid_exists, read_pid_file};
use support::{fixture, process_alive, wait_until, zombie_children};

/// Runs `f` on a thread and fails the test if it takes longer than `limit`.
fn within<T: Send + 'static>(
    limit: Duration,
    what: &str,
    f: impl FnOnce() -> T + Send + 'static,
) -> T {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(f());
    });
    rx.recv_timeout(limit)
        .unwrap_or_else(|_| panic!("{what} hung for more than {limit:?}"))
}

fn sleeper(secs: &str) -> Command {
    Command::new(fixture("sleep")).arg(secs)
}

#[test]
fn shutdown_without_wait_returns_at_once_and_jobs_still_finish() {
    let pool = Pool::new(2).unwrap();
    let jobs: Vec<Job> = (0..3)
        .map(|_| pool.submit(sleeper("0.5")).unwrap())
        .collect();
    let t0 = Instant::now();
    pool.shutdown(false, false);
    let took = t0.elapsed();
    assert!(
        took < Duration::from_millis(100),
        "shutdown(false) took {took:?}"
    );
    let err = pool.submit(Command::new("true")).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidInput);
    assert!(err.to_string().contains("the pool was shut down"), "{err}");
    for job in &jobs {
        assert!(job.result().is_ok());
    }
}

#[test]
fn shutdown_can_cancel_pending_jobs_and_lets_running_ones_finish() {
    let pool = Pool::new(1).unwrap();
    let running = pool.submit(sleeper("0.3")).unwrap();
    assert!(wait_until(Duration::from_secs(5), || running.running()));
    let pending: Vec<Job> = (0..5).map(|_| pool.submit(sleeper("5")).unwrap()).collect();
    let t0 = Instant::now();
    pool.shutdown(true, true);
    assert!(t0.elapsed() < Duration::from_secs(3), "{:?}", t0.elapsed());
    assert!(running.result().is_ok());
    for job in &pending {
        assert!(job.done() && job.cancelled(), "{job:?}");
        assert_eq!(job.result().unwrap_err().kind(), ErrorKind::Cancelled);
    }
    assert_eq!(pool.summary().cancelled.len(), 5);
}

#[test]
fn cancel_then_shutdown_never_hangs() {
    within(Duration::from_secs(20), "cancel-then-shutdown", || {
        for round in 0..20 {
            let pool = Pool::new(2).unwrap();
            let jobs: Vec<Job> = (0..50)
                .map(|_| pool.submit(Command::new("true")).unwrap())
                .collect();
            let cancelled = jobs.iter().rev().filter(|j| j.cancel()).count();
            if round % 2 == 0 {
                pool.shutdown(true, false);
            } else {
                pool.shutdown(true, true);
            }
            for job in &jobs {
                assert!(job.done(), "round {round}: {job:?} not done after shutdown");
            }
            let summary = pool.summary();
            assert_eq!(summary.total(), 50, "round {round}: {summary}");
            assert!(summary.cancelled.len() >= cancelled);
        }
    });
}

#[test]
fn only_pending_jobs_can_be_cancelled() {
    let pool = Pool::new(1).unwrap();
    let running = pool.submit(sleeper("0.3")).unwrap();
    let pending = pool.submit(Command::new("echo").arg("never")).unwrap();
    assert!(wait_until(Duration::from_secs(5), || running.running()));
    assert!(!running.cancel(), "a running job cannot be cancelled");
    assert!(pending.cancel());
    assert!(!pending.cancel(), "cancelling twice");
    assert!(running.result().is_ok());
    assert!(!running.cancel(), "a finished job cannot be cancelled");
    let err = pending.result().unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Cancelled);
    assert_eq!(
        err.to_string(),
        "command `echo never` was cancelled before it started"
    );
}

#[test]
fn terminate_kills_and_reaps_every_job_and_its_descendants_promptly() {
    let dir = TempDir::new("pool-terminate");
    let pool = Pool::new(3).unwrap();
    let events = pool.events();
    let pid_files: Vec<_> = (0..3).map(|i| dir.path().join(format!("pid{i}"))).collect();
    let running: Vec<Job> = pid_files
        .iter()
        .map(|f| {
            let cmd = Command::new(fixture("grandchild"))
                .args([
                    "--sleep",
                    "30",
                    "--parent-sleep",
                    "30",
                    "--stdout",
                    "hello",
                    "--pid-file",
                ])
                .arg(f);
            pool.submit(cmd).unwrap()
        })
        .collect();
    let pending: Vec<Job> = (0..3)
        .map(|_| pool.submit(sleeper("30")).unwrap())
        .collect();
    assert!(wait_until(Duration::from_secs(10), || pid_files
        .iter()
        .all(
            |f| std::fs::read_to_string(f).is_ok_and(|s| s.ends_with('\n'))
        )));
    let grandchildren: Vec<u32> = pid_files.iter().map(|f| read_pid_file(f)).collect();
    let _guards: Vec<KillOnDrop> = grandchildren.iter().map(|&p| KillOnDrop(p)).collect();

    let t0 = Instant::now();
    pool.terminate();
    let took = t0.elapsed();
    assert!(took < Duration::from_secs(1), "terminate took {took:?}");

    let children: Vec<u32> = events
        .filter_map(|e| match e {
            Event::Started { pid, .. } => pid,
            _ => None,
        })
        .collect();
    assert_eq!(children.len(), 3, "pending jobs never started");
    for pid in children {
        assert!(
            !pid_exists(pid),
            "job process {pid} was not reaped by terminate"
        );
    }
    for job in &running {
        let err = job.result().unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Cancelled, "{err}");
        assert!(err.to_string().contains("the pool was terminated"), "{err}");
    }
    for job in &pending {
        assert_eq!(job.result().unwrap_err().kind(), ErrorKind::Cancelled);
    }
    for pid in grandchildren {
        assert!(
            wait_until(Duration::from_secs(5), || !process_alive(pid)),
            "grandchild {pid} survived terminate"
        );
    }
    assert!(
        wait_until(Duration::from_secs(5), || zombie_children().is_empty()),
        "zombies left: {:?}",
        zombie_children()
    );
}

#[test]
fn terminate_does_not_wait_for_an_escaped_descendant_holding_the_pipes() {
    let dir = TempDir::new("pool-escaped");
    let pid_file = dir.path().join("pid");
    let pool = Pool::new(1).unwrap();
    let job = pool
        .submit(
            Command::new(fixture("grandchild"))
                .args([
                    "--setsid",
                    "--sleep",
                    "30",
                    "--parent-sleep",
                    "30",
                    "--pid-file",
                ])
                .arg(&pid_file),
        )
        .unwrap();
    assert!(wait_until(Duration::from_secs(10), || {
        std::fs::read_to_string(&pid_file).is_ok_and(|s| s.ends_with('\n'))
    }));
    let _escaped = KillOnDrop(read_pid_file(&pid_file));
    let t0 = Instant::now();
    pool.terminate();
    assert!(t0.elapsed() < Duration::from_secs(1), "{:?}", t0.elapsed());
    assert_eq!(job.result().unwrap_err().kind(), ErrorKind::Cancelled);
}

#[test]
fn dropping_the_pool_waits_for_submitted_work() {
    let pool = Pool::new(2).unwrap();
    let jobs: Vec<Job> = (0..4)
        .map(|_| pool.submit(sleeper("0.2")).unwrap())
        .collect();
    let t0 = Instant::now();
    drop(pool);
    assert!(
        t0.elapsed() >= Duration::from_millis(350),
        "{:?}",
        t0.elapsed()
    );
    for job in &jobs {
        assert!(job.done());
        assert!(job.result().is_ok());
    }
}

#[test]
fn shutdown_or_drop_from_a_callback_does_not_deadlock() {
    within(Duration::from_secs(20), "shutdown from a callback", || {
        let pool = Arc::new(Pool::new(2).unwrap());
        let job = pool.submit(Command::new("true")).unwrap();
        let p = pool.clone();
        job.on_done(move |_| p.shutdown(true, false));
        job.wait();
        assert!(wait_until(Duration::from_secs(5), || pool
            .submit(Command::new("true"))
            .is_err()));

        // The last handle to the pool dropped on its own scheduler thread.
        let pool = Arc::new(Pool::new(1).unwrap());
        let job = pool.submit(sleeper("0.1")).unwrap();
        let p = pool.clone();
        let (tx, rx) = mpsc::channel();
        job.on_done(move |_| {
            drop(p);
            tx.send(()).unwrap();
        });
        drop(pool);
        rx.recv_timeout(Duration::from_secs(5)).unwrap();
    });
}

#[test]
fn terminate_and_shutdown_are_idempotent() {
    let pool = Pool::new(1).unwrap();
    pool.submit(Command::new("true")).unwrap();
    pool.shutdown(false, false);
    pool.shutdown(true, false);
    pool.terminate();
    pool.terminate();
    pool.shutdown(true, true);
}

#[test]
fn no_zombie_remains_after_many_jobs_of_every_ending() {
    let pool = Pool::builder()
        .workers(8)
        .timeout(Duration::from_millis(300))
        .build()
        .unwrap();
    let mut jobs = Vec::new();
    for i in 0..60 {
        let cmd = match i % 4 {
            0 => Command::new("true"),
            1 => Command::new("false"),
            2 => Command::new(fixture("signal-self")).arg("15"),
            _ => sleeper("5"),
        };
        jobs.push(pool.submit(cmd).unwrap());
    }
    for job in &jobs {
        job.wait();
    }
    drop(pool);
    assert!(
        wait_until(Duration::from_secs(5), || zombie_children().is_empty()),
        "zombies left: {:?}",
        zombie_children()
    );
}
