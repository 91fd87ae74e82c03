//! The scheduler threads write jobs' input without dying of SIGPIPE in a host where
//! SIGPIPE is at its default (C, Python), and spawns on std's `posix_spawn` path.
//!
//! Alone in its file: it sets SIGPIPE to its default for the whole test process.

mod common;
mod support;

use pipe_run::{Command, ErrorKind, Pool};

#[test]
fn input_refused_by_a_job_does_not_kill_us_when_sigpipe_is_default() {
    // SAFETY: resetting a signal disposition to its default; no handler involved.
    unsafe { libc::signal(libc::SIGPIPE, libc::SIG_DFL) };
    let pool = Pool::new(4).unwrap();
    let big = vec![b'x'; 4 << 20];
    let jobs: Vec<_> = (0..8)
        .map(|_| pool.submit(Command::new("true").input(&big)).unwrap())
        .collect();
    for job in jobs {
        let done = job.result();
        assert!(done.is_ok(), "{}", common::show_result(&done));
    }
}

#[test]
fn pooled_jobs_spawn_on_the_posix_spawn_path() {
    // On std's fork fallback (taken when the spawning thread blocks signals) a file
    // without `#!` would be run by /bin/sh; posix_spawn refuses it with ENOEXEC.
    let dir = common::TempDir::new("pool-enoexec");
    let script = dir.file("no-shebang", b"echo ran by a shell\n", 0o755);
    let pool = Pool::new(1).unwrap();
    let err = pool
        .submit(Command::new(&script))
        .unwrap()
        .result()
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::ExecFormat, "{err}");
}
