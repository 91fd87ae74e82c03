//! The pool runs at most `workers` jobs at once, in parallel, in order; a job that
//! fails, dies by a signal, times out or cannot be spawned fails alone; retries and
//! fail-fast do what they say; every kind of task runs.

mod common;
mod pool_support;
mod support;

use std::time::{Duration, Instant};

use pipe_run::{Command, ErrorKind, FailurePolicy, Job, Pipeline, Pool, Redirect};

use common::{TempDir, show_result};
use pool_support::{describe, logged_sleep, max_overlap, read_log, run_logged_sleeps};
use support::fixture;

#[test]
fn zero_workers_is_invalid_input() {
    let err = Pool::new(0).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidInput, "{err}");
    assert!(err.to_string().contains("at least one worker"), "{err}");
    let err = Pool::builder().workers(0).build().unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidInput);
}

#[test]
fn public_types_are_send_and_sync() {
    fn both<T: Send + Sync>() {}
    both::<Pool>();
    both::<Job>();
    both::<pipe_run::Event>();
    both::<pipe_run::Summary>();
    both::<pipe_run::Slot>();
    both::<pipe_run::TaskSpec>();
    fn send<T: Send>() {}
    send::<pipe_run::Events>();
    send::<pipe_run::AsCompleted>();
}

#[test]
fn never_more_than_workers_children_at_once() {
    let dir = TempDir::new("pool-bound");
    let log = dir.path().join("log");
    let pool = Pool::new(3).unwrap();
    let runs = run_logged_sleeps(&pool, 12, "0.15", &log);
    let overlap = max_overlap(&runs);
    assert!(overlap <= 3, "{overlap} ran at once:\n{}", describe(&runs));
    assert!(overlap >= 2, "no parallelism at all:\n{}", describe(&runs));
}

#[test]
fn wall_time_shows_parallelism() {
    // 8 × 0.5 s on 4 workers: 1 s in parallel, 4 s one by one.
    let pool = Pool::new(4).unwrap();
    let t0 = Instant::now();
    let jobs: Vec<Job> = (0..8)
        .map(|_| {
            pool.submit(Command::new(fixture("sleep")).arg("0.5"))
                .unwrap()
        })
        .collect();
    for job in &jobs {
        job.result().unwrap();
    }
    let took = t0.elapsed();
    assert!(took >= Duration::from_millis(1000), "{took:?}");
    assert!(
        took < Duration::from_millis(2500),
        "no real parallelism: {took:?}"
    );
}

#[test]
fn results_match_their_jobs_and_capture_each_jobs_output() {
    let pool = Pool::new(4).unwrap();
    let jobs: Vec<(usize, Job)> = (0..20)
        .map(|i| {
            let cmd = Command::new(fixture("exit-with"))
                .arg("0")
                .args(["--stdout", &format!("out {i}")])
                .args(["--stderr", &format!("err {i}")]);
            (i, pool.submit(cmd).unwrap())
        })
        .collect();
    for (i, job) in jobs {
        assert_eq!(job.id(), i);
        let done = job.result().unwrap();
        assert_eq!(done.stdout_text(), format!("out {i}"));
        assert_eq!(done.stderr_text(), format!("err {i}"));
    }
}

/// After the failures, `workers` sleepers must still all run at once.
fn assert_full_width(pool: &Pool, workers: usize) {
    let dir = TempDir::new("pool-width");
    let log = dir.path().join("log");
    let jobs: Vec<Job> = (0..workers)
        .map(|_| pool.submit(logged_sleep("0.6", &log)).unwrap())
        .collect();
    for job in &jobs {
        job.result().unwrap();
    }
    let runs = read_log(&log);
    assert_eq!(
        max_overlap(&runs),
        workers,
        "the pool lost workers:\n{}",
        describe(&runs)
    );
}

#[test]
fn a_failing_job_fails_alone_and_the_pool_keeps_its_workers() {
    let pool = Pool::builder()
        .workers(4)
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap();
    let ok = pool.submit(Command::new("echo").arg("fine")).unwrap();
    let exit = pool
        .submit(
            Command::new(fixture("exit-with"))
                .arg("3")
                .args(["--stderr", "broken"]),
        )
        .unwrap();
    let signal = pool
        .submit(Command::new(fixture("signal-self")).arg("15"))
        .unwrap();
    let timeout = pool
        .submit(Command::shell("echo partial; exec sleep 10").timeout(Duration::from_millis(200)))
        .unwrap();
    let missing = pool
        .submit(Command::new("no-such-program-pipe-run"))
        .unwrap();
    let bad_cwd = pool
        .submit(Command::new("true").cwd("/no/such/dir"))
        .unwrap();

    assert_eq!(ok.result().unwrap().stdout_text(), "fine\n");

    let err = exit.result().unwrap_err();
    assert_eq!(err.kind(), ErrorKind::CalledProcess, "{err}");
    assert_eq!(err.status().and_then(|s| s.code()), Some(3));
    assert_eq!(err.stderr(), b"broken");
    assert!(err.to_string().contains("exited with code 3"), "{err}");

    let err = signal.result().unwrap_err();
    assert_eq!(err.kind(), ErrorKind::CalledProcess, "{err}");
    assert!(err.to_string().contains("SIGTERM"), "{err}");

    let t0 = Instant::now();
    let err = timeout.result().unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Timeout, "{err}");
    assert_eq!(err.stdout(), b"partial\n");
    assert_eq!(err.timeout(), Some(Duration::from_millis(200)));
    assert!(t0.elapsed() < Duration::from_secs(5));

    assert_eq!(missing.result().unwrap_err().kind(), ErrorKind::NotFound);
    assert_eq!(
        bad_cwd.result().unwrap_err().kind(),
        ErrorKind::WorkingDirectory
    );

    let summary = pool.summary();
    assert_eq!(summary.succeeded, 1);
    assert_eq!(summary.failed.len(), 5, "{summary}");

    assert_full_width(&pool, 4);
}

#[test]
fn the_pool_timeout_applies_to_each_job_and_a_commands_own_overrides_it() {
    let pool = Pool::builder()
        .workers(2)
        .timeout(Duration::from_millis(300))
        .build()
        .unwrap();
    let t0 = Instant::now();
    let short = pool
        .submit(Command::new(fixture("sleep")).arg("10"))
        .unwrap();
    let own = pool
        .submit(
            Command::new(fixture("sleep"))
                .arg("0.5")
                .timeout(Duration::from_secs(20)),
        )
        .unwrap();
    let err = short.result().unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Timeout);
    assert_eq!(err.timeout(), Some(Duration::from_millis(300)));
    let took = t0.elapsed();
    assert!(took < Duration::from_secs(3), "timeout took {took:?}");
    let done = own.result();
    assert!(done.is_ok(), "{}", show_result(&done));
}

#[test]
fn a_timeout_kills_the_jobs_descendants() {
    let dir = TempDir::new("pool-timeout-tree");
    let pid_file = dir.path().join("pid");
    let pool = Pool::new(1).unwrap();
    let job = pool
        .submit(
            Command::new(fixture("grandchild"))
                .args(["--sleep", "30", "--parent-sleep", "30", "--pid-file"])
                .arg(&pid_file)
                .timeout(Duration::from_secs(2)),
        )
        .unwrap();
    // The grandchild must exist before the deadline for the test to mean anything.
    assert!(support::wait_until(Duration::from_secs(2), || {
        std::fs::read_to_string(&pid_file).is_ok_and(|s| s.ends_with('\n'))
    }));
    let grandchild = common::read_pid_file(&pid_file);
    let err = job.result().unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Timeout, "{err}");
    let _guard = common::KillOnDrop(grandchild);
    assert!(
        support::wait_until(Duration::from_secs(5), || !support::process_alive(
            grandchild
        )),
        "the job's grandchild {grandchild} survived its timeout"
    );
}

#[test]
fn a_failed_job_is_retried_and_the_last_attempt_counts() {
    let dir = TempDir::new("pool-retry");
    let counter = dir.path().join("attempts");
    // Appends a line per attempt; fails until the file has `n` lines.
    let flaky = |n: usize| {
        Command::shell(format!(
            "echo x >> \"$1\"; test \"$(wc -l < \"$1\")\" -ge {n} || {{ echo fail >&2; exit 1; }}"
        ))
        .arg("sh")
        .arg(&counter)
    };
    let pool = Pool::builder().workers(1).retries(2).build().unwrap();
    let events = pool.events();
    let done = pool.submit(flaky(2)).unwrap().result();
    assert!(done.is_ok(), "{}", show_result(&done));
    assert_eq!(
        std::fs::read_to_string(&counter).unwrap().lines().count(),
        2
    );

    std::fs::remove_file(&counter).unwrap();
    let err = pool.submit(flaky(4)).unwrap().result().unwrap_err();
    assert_eq!(err.kind(), ErrorKind::CalledProcess);
    assert_eq!(
        std::fs::read_to_string(&counter).unwrap().lines().count(),
        3,
        "one attempt plus two retries"
    );

    // A spawn failure is not worth retrying.
    let err = pool
        .submit(Command::new("no-such-program-pipe-run"))
        .unwrap();
    assert_eq!(err.result().unwrap_err().kind(), ErrorKind::NotFound);
    drop(pool);

    let retried: Vec<(usize, u32)> = events
        .filter_map(|e| match e {
            pipe_run::Event::Retried { job, attempt, .. } => Some((job, attempt)),
            _ => None,
        })
        .collect();
    assert_eq!(retried, [(0, 1), (1, 1), (1, 2)]);
}

#[test]
fn fail_fast_cancels_pending_jobs_and_later_submissions() {
    let pool = Pool::builder()
        .workers(1)
        .failure_policy(FailurePolicy::FailFast {
            kill_running: false,
        })
        .build()
        .unwrap();
    let bad = pool.submit(Command::new("false")).unwrap();
    let pending: Vec<Job> = (0..5)
        .map(|_| pool.submit(Command::new("true")).unwrap())
        .collect();
    assert_eq!(bad.result().unwrap_err().kind(), ErrorKind::CalledProcess);
    for job in &pending {
        let err = job.result().unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Cancelled, "{err}");
    }
    let later = pool.submit(Command::new("true")).unwrap();
    assert!(later.cancelled());
    let summary = pool.summary();
    assert_eq!(summary.failed.len(), 1, "{summary}");
    assert_eq!(summary.cancelled.len(), 6, "{summary}");
}

#[test]
fn fail_fast_lets_running_jobs_finish_unless_told_to_kill_them() {
    for kill_running in [false, true] {
        let pool = Pool::builder()
            .workers(2)
            .fail_fast(kill_running)
            .build()
            .unwrap();
        let slow = pool
            .submit(Command::shell("echo started; sleep 0.8; echo finished"))
            .unwrap();
        let bad = pool.submit(Command::shell("sleep 0.2; exit 1")).unwrap();
        assert!(bad.result().is_err());
        let t0 = Instant::now();
        let result = slow.result();
        if kill_running {
            let err = result.unwrap_err();
            assert_eq!(err.kind(), ErrorKind::Cancelled, "{err}");
            assert_eq!(err.stdout(), b"started\n");
            assert!(
                err.to_string().contains("was killed while running"),
                "{err}"
            );
            assert!(t0.elapsed() < Duration::from_millis(500));
        } else {
            assert_eq!(result.unwrap().stdout_text(), "started\nfinished\n");
        }
    }
}

#[test]
fn pipelines_and_duct_expressions_are_tasks() {
    let pool = Pool::new(2).unwrap();
    let pipe = pool
        .submit(Pipeline::parse("echo hello | tr a-z A-Z").unwrap())
        .unwrap();
    let failing_pipe = pool
        .submit(Pipeline::parse("echo x | false").unwrap())
        .unwrap();
    let duct_ok = pool.submit(duct::cmd!("echo", "from duct")).unwrap();
    let duct_bad = pool
        .submit(duct::cmd!("sh", "-c", "echo oops >&2; exit 4"))
        .unwrap();
    let duct_pipe = pool
        .submit(duct::cmd!("echo", "abc").pipe(duct::cmd!("tr", "a-z", "A-Z")))
        .unwrap();

    assert_eq!(pipe.result().unwrap().stdout_text(), "HELLO\n");
    assert_eq!(
        failing_pipe.result().unwrap_err().kind(),
        ErrorKind::CalledProcess
    );
    assert_eq!(duct_ok.result().unwrap().stdout_text(), "from duct\n");
    let err = duct_bad.result().unwrap_err();
    assert_eq!(err.kind(), ErrorKind::CalledProcess);
    assert_eq!(err.status().and_then(|s| s.code()), Some(4));
    assert_eq!(err.stderr(), b"oops\n");
    assert_eq!(duct_pipe.result().unwrap().stdout_text(), "ABC\n");
}

#[test]
fn duct_jobs_obey_the_timeout() {
    let pool = Pool::builder()
        .workers(1)
        .timeout(Duration::from_millis(200))
        .build()
        .unwrap();
    let t0 = Instant::now();
    let job = pool.submit(duct::cmd!("sleep", "10")).unwrap();
    let err = job.result().unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Timeout, "{err}");
    assert!(t0.elapsed() < Duration::from_secs(3));
}

#[test]
fn jobs_read_dev_null_unless_given_input() {
    let pool = Pool::new(2).unwrap();
    // `cat` with an inherited terminal would hang; with /dev/null it ends.
    let cat = pool.submit(Command::new("cat")).unwrap();
    let fed = pool.submit(Command::new("cat").input("fed")).unwrap();
    let piped = pool
        .submit(Pipeline::parse("cat | wc -c").unwrap())
        .unwrap();
    assert!(cat.wait_timeout(Duration::from_secs(10)));
    assert_eq!(cat.result().unwrap().stdout, b"");
    assert_eq!(fed.result().unwrap().stdout, b"fed");
    assert_eq!(piped.result().unwrap().stdout_text().trim(), "0");
}

#[test]
fn redirected_output_is_not_captured() {
    let dir = TempDir::new("pool-redirect");
    let path = dir.path().join("out");
    let file = std::fs::File::create(&path).unwrap();
    let pool = Pool::new(1).unwrap();
    let done = pool
        .submit(
            Command::new("echo")
                .arg("to the file")
                .stdout(Redirect::File(file)),
        )
        .unwrap()
        .result()
        .unwrap();
    assert!(done.stdout.is_empty());
    assert_eq!(std::fs::read_to_string(&path).unwrap(), "to the file\n");
}

#[test]
fn big_outputs_of_many_jobs_are_captured_whole() {
    let pool = Pool::new(4).unwrap();
    let jobs: Vec<Job> = (0..8)
        .map(|_| {
            pool.submit(Command::new(fixture("spew")).args(["--stdout", "3M", "--stderr", "1M"]))
                .unwrap()
        })
        .collect();
    for job in jobs {
        let done = job.into_result().unwrap();
        assert_eq!(done.stdout.len(), 3 << 20);
        assert_eq!(done.stderr.len(), 1 << 20);
        assert!(done.stdout == support::spew_bytes(3 << 20));
    }
}

#[test]
fn an_external_slot_counts_against_the_workers() {
    let dir = TempDir::new("pool-slot");
    let log = dir.path().join("log");
    let pool = Pool::new(2).unwrap();
    let slot = pool.acquire_slot();
    assert!(pool.try_acquire_slot().is_some(), "one slot is still free");
    let jobs: Vec<Job> = (0..4)
        .map(|_| pool.submit(logged_sleep("0.2", &log)).unwrap())
        .collect();
    for job in &jobs {
        job.result().unwrap();
    }
    let runs = read_log(&log);
    assert_eq!(max_overlap(&runs), 1, "{}", describe(&runs));
    drop(slot);
}

#[test]
fn a_released_external_slot_wakes_the_pool() {
    let pool = Pool::new(1).unwrap();
    let slot = pool.acquire_slot();
    let job = pool.submit(Command::new("true")).unwrap();
    assert!(!job.wait_timeout(Duration::from_millis(100)));
    drop(slot);
    assert!(job.wait_timeout(Duration::from_secs(5)));
}
