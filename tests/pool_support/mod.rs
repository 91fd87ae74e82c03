//! Helpers for the pool tests: `sleep --log` jobs and reading back when they ran.
//!
//! Each pool test file pulls this in with `mod pool_support;` next to `mod support;`
//! and `mod common;`.

#![allow(dead_code)]

use std::path::Path;

use pipe_run::{Command, Job, Pool};

use crate::common::show_result;

use crate::support::fixture;

/// One `sleep --log` record: when the sleeper started and ended (ns since the epoch)
/// and its pid.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ran {
    pub start: u128,
    pub end: u128,
    pub pid: u32,
}

/// The `sleep` fixture sleeping `secs`, appending when it ran to `log`.
pub fn logged_sleep(secs: &str, log: &Path) -> Command {
    Command::new(fixture("sleep"))
        .arg(secs)
        .arg("--log")
        .arg(log)
}

/// Runs `n` sleepers of `secs` on `pool`, each logging to `log`; checks that every
/// one succeeded and logged, and returns the records.
pub fn run_logged_sleeps(pool: &Pool, n: usize, secs: &str, log: &Path) -> Vec<Ran> {
    let jobs: Vec<Job> = (0..n)
        .map(|_| pool.submit(logged_sleep(secs, log)).unwrap())
        .collect();
    for job in &jobs {
        let result = job.result();
        assert!(result.is_ok(), "{}", show_result(&result));
    }
    let runs = read_log(log);
    assert_eq!(runs.len(), n);
    runs
}

/// Every record in a `sleep --log` file, in the order they were written.
pub fn read_log(log: &Path) -> Vec<Ran> {
    let text = std::fs::read_to_string(log).unwrap_or_default();
    text.lines()
        .map(|line| {
            let mut f = line.split_whitespace();
            let mut next = || f.next().unwrap_or_else(|| panic!("bad log line {line:?}"));
            let start = next().parse().expect("start");
            let end = next().parse().expect("end");
            let pid = next().parse().expect("pid");
            Ran { start, end, pid }
        })
        .collect()
}

/// The largest number of records whose [start, end) intervals overlap at one instant.
pub fn max_overlap(runs: &[Ran]) -> usize {
    // Ends sort before starts at the same instant: touching is not overlapping.
    let mut edges: Vec<(u128, i32)> = runs
        .iter()
        .flat_map(|r| [(r.start, 1), (r.end, -1)])
        .collect();
    edges.sort();
    let (mut now, mut max) = (0i32, 0i32);
    for (_, delta) in edges {
        now += delta;
        max = max.max(now);
    }
    max as usize
}

/// `max_overlap` with the intervals in a readable form for a failure message.
pub fn describe(runs: &[Ran]) -> String {
    let t0 = runs.iter().map(|r| r.start).min().unwrap_or(0);
    runs.iter()
        .map(|r| {
            format!(
                "pid {} ran {:.3}..{:.3}s",
                r.pid,
                (r.start - t0) as f64 / 1e9,
                (r.end - t0) as f64 / 1e9
            )
        })
        .collect::<Vec<_>>()
        .join("\n")
}
