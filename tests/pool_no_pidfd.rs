//! The pool without pidfds (old kernels, other Unixes; forced here with
//! `PIPE_RUN_NO_PIDFD=1`): exits are found by looking again with a backing-off tick,
//! and results, timeouts, terminate and reaping still work.
//!
//! Alone in its file: the variable is read once per process.

mod common;
mod pool_support;
mod support;

use std::sync::Once;
use std::time::{Duration, Instant};

use pipe_run::{Command, ErrorKind, Job, Pool};

use support::{fixture, wait_until, zombie_children};

fn no_pidfd() {
    static SET: Once = Once::new();
    SET.call_once(|| {
        // SAFETY: every test calls this first, and `Once` makes the others wait until
        // it returns, so no thread reads the environment (by spawning) meanwhile.
        unsafe { std::env::set_var("PIPE_RUN_NO_PIDFD", "1") };
    });
}

#[test]
fn jobs_finish_fail_and_time_out_without_pidfds() {
    no_pidfd();
    let pool = Pool::builder()
        .workers(4)
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap();
    let t0 = Instant::now();
    let sleepers: Vec<Job> = (0..8)
        .map(|_| {
            pool.submit(Command::new(fixture("sleep")).arg("0.2"))
                .unwrap()
        })
        .collect();
    let echo = pool.submit(Command::new("echo").arg("hi")).unwrap();
    let bad = pool.submit(Command::new("false")).unwrap();
    let slow = pool
        .submit(
            Command::new(fixture("sleep"))
                .arg("30")
                .timeout(Duration::from_millis(300)),
        )
        .unwrap();
    assert_eq!(echo.result().unwrap().stdout, b"hi\n");
    assert_eq!(bad.result().unwrap_err().kind(), ErrorKind::CalledProcess);
    assert_eq!(slow.result().unwrap_err().kind(), ErrorKind::Timeout);
    for job in &sleepers {
        assert!(job.result().is_ok());
    }
    let took = t0.elapsed();
    assert!(took < Duration::from_secs(5), "{took:?}");
    drop(pool);
    assert!(
        wait_until(Duration::from_secs(5), || zombie_children().is_empty()),
        "zombies: {:?}",
        zombie_children()
    );
}

#[test]
fn terminate_is_prompt_without_pidfds() {
    no_pidfd();
    let pool = Pool::new(2).unwrap();
    let jobs: Vec<Job> = (0..4)
        .map(|_| {
            pool.submit(Command::new(fixture("sleep")).arg("30"))
                .unwrap()
        })
        .collect();
    assert!(wait_until(Duration::from_secs(5), || jobs[0].running()
        && jobs[1].running()));
    let t0 = Instant::now();
    pool.terminate();
    assert!(t0.elapsed() < Duration::from_secs(1), "{:?}", t0.elapsed());
    for job in &jobs {
        assert_eq!(job.result().unwrap_err().kind(), ErrorKind::Cancelled);
    }
}
