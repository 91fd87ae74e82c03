//! Under a real `make -jN`, pools built with `jobserver(true)` take a token per job
//! beyond their first, so make's `-j` bounds the jobs of every pool in the build.
//!
//! The test writes a Makefile whose recipes run this very test binary again, filtered
//! to `child_runs_a_pool_under_make` with `PIPE_RUN_POOL_CHILD` set: that "test" then
//! runs a pool of `sleep --log` jobs (it does nothing in a normal run). The parent
//! reads the shared log and counts how many sleepers ran at once. Recipes are marked
//! `+` because GNU make (up to 4.3) hands its jobserver only to recursive recipes.

mod common;
mod pool_support;
mod support;

use std::path::Path;
use std::process::Command as StdCommand;

use pipe_run::{Job, Pool};

use common::TempDir;
use pool_support::{describe, logged_sleep, max_overlap, read_log};

const CHILD_ENV: &str = "PIPE_RUN_POOL_CHILD";
/// Jobs per child pool, each sleeping `SLEEP` seconds, on `WORKERS` workers: far more
/// than make allows, so any overlap above `-j` would be the pool ignoring make.
const JOBS: usize = 6;
const WORKERS: usize = 8;
const SLEEP: &str = "0.3";

/// The child side: runs only when the parent test started us under make.
#[test]
fn child_runs_a_pool_under_make() {
    let Some(log) = std::env::var_os(CHILD_ENV) else {
        return;
    };
    let log = Path::new(&log);
    let pool = Pool::builder()
        .workers(WORKERS)
        .jobserver(true)
        .build()
        .unwrap();
    if !pool.uses_jobserver() {
        // Recorded for the parent, which fails with a clear message.
        std::fs::write(log.with_extension("no-jobserver"), "").unwrap();
        return;
    }
    let jobs: Vec<Job> = (0..JOBS)
        .map(|_| pool.submit(logged_sleep(SLEEP, log)).unwrap())
        .collect();
    for job in jobs {
        job.into_result().unwrap();
    }
}

fn make_available() -> bool {
    StdCommand::new("make")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success())
}

/// Runs `make -jN targets` over a Makefile with one pool-running recipe per target,
/// and returns what the sleepers logged.
fn run_under_make(dir: &TempDir, jobs: usize, targets: &[&str]) -> Vec<pool_support::Ran> {
    let exe = std::env::current_exe().unwrap();
    let log = dir.path().join("log");
    let _ = std::fs::remove_file(&log);
    let mut makefile = String::from(".PHONY: all");
    for t in targets {
        makefile.push_str(&format!(" {t}"));
    }
    makefile.push('\n');
    for t in targets {
        makefile.push_str(&format!(
            "{t}:\n\t+@\"$(CHILD)\" child_runs_a_pool_under_make --exact --quiet --test-threads=1\n"
        ));
    }
    std::fs::write(dir.path().join("Makefile"), makefile).unwrap();
    let out = StdCommand::new("make")
        .arg(format!("-j{jobs}"))
        .args(targets)
        .arg(format!("CHILD={}", exe.display()))
        .current_dir(dir.path())
        .env(CHILD_ENV, &log)
        // Only make's jobserver counts: not the one cargo may have handed us.
        .env_remove("CARGO_MAKEFLAGS")
        .env_remove("MAKEFLAGS")
        .env_remove("MFLAGS")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "make failed: {}\n--- stdout ---\n{}\n--- stderr ---\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        !log.with_extension("no-jobserver").exists(),
        "the pool under make found no jobserver (MAKEFLAGS not passed to the recipe?)"
    );
    read_log(&log)
}

#[test]
fn make_j2_bounds_a_pool_of_eight_workers_to_two_jobs() {
    if !make_available() {
        eprintln!("skipped: GNU make is not installed");
        return;
    }
    let dir = TempDir::new("pool-make-j2");
    let runs = run_under_make(&dir, 2, &["a"]);
    assert_eq!(runs.len(), JOBS, "{}", describe(&runs));
    let overlap = max_overlap(&runs);
    assert!(
        overlap <= 2,
        "{overlap} at once under make -j2:\n{}",
        describe(&runs)
    );
    assert_eq!(
        overlap,
        2,
        "the pool never took make's second token:\n{}",
        describe(&runs)
    );
}

#[test]
fn make_j3_bounds_two_pools_running_side_by_side() {
    if !make_available() {
        eprintln!("skipped: GNU make is not installed");
        return;
    }
    let dir = TempDir::new("pool-make-j3");
    let runs = run_under_make(&dir, 3, &["a", "b"]);
    assert_eq!(runs.len(), 2 * JOBS, "{}", describe(&runs));
    let overlap = max_overlap(&runs);
    assert!(
        overlap <= 3,
        "{overlap} at once across two pools under make -j3:\n{}",
        describe(&runs)
    );
}

#[test]
fn under_a_wider_make_j_the_same_pool_runs_more_at_once() {
    if !make_available() {
        eprintln!("skipped: GNU make is not installed");
        return;
    }
    // The same set-up with a wider -j shows that the bound above comes from make.
    let dir = TempDir::new("pool-make-j8");
    let runs = run_under_make(&dir, 8, &["a"]);
    let overlap = max_overlap(&runs);
    assert!(
        overlap > 2,
        "only {overlap} at once under make -j8:\n{}",
        describe(&runs)
    );
}
