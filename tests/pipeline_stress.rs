//! Race test (issue 3): many threads spawning pipelines, readers and unrelated
//! long-lived children at once. If a pipe end of one pipeline leaked into any other
//! child, the reader of that pipe would never see end-of-file while the other child
//! lives (30 s here); every operation has a 10 s timeout, so a leak fails the test with
//! a Timeout error instead of hanging it.
//!
//! Runs for 3 s by default; set `PIPE_RUN_STRESS_SECONDS` to run longer (in CI).

mod common;
mod support;

use std::collections::VecDeque;
use std::io::Read;
use std::process::Stdio;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use common::{assert_bytes, noise, ok};
use pipe_run::{Command, Pipeline, Popen, Redirect};
use support::{fixture, spew_bytes};

const THREADS: usize = 6;
/// Long-lived bystanders each thread keeps alive at once.
const BYSTANDERS: usize = 4;
/// Far beyond what any operation needs, far below the bystanders' 30 s.
const OP_TIMEOUT: Duration = Duration::from_secs(10);

fn stress_duration() -> Duration {
    let secs = std::env::var("PIPE_RUN_STRESS_SECONDS")
        .ok()
        .and_then(|s| s.parse::<f64>().ok())
        .unwrap_or(3.0);
    Duration::from_secs_f64(secs)
}

/// A child that outlives every operation: through pipe-run, or through plain std.
enum Bystander {
    Ours(Box<Popen>),
    Std(std::process::Child),
}

impl Drop for Bystander {
    fn drop(&mut self) {
        match self {
            Bystander::Ours(p) => {
                let _ = p.kill();
                let _ = p.wait();
            }
            Bystander::Std(c) => {
                let _ = c.kill();
                let _ = c.wait();
            }
        }
    }
}

fn bystander(ours: bool) -> Bystander {
    if ours {
        let p = Command::new(fixture("sleep"))
            .arg("30")
            .stdin(Redirect::Null)
            .stdout(Redirect::Null)
            .stderr(Redirect::Null)
            .spawn()
            .unwrap();
        Bystander::Ours(Box::new(p))
    } else {
        let c = std::process::Command::new(fixture("sleep"))
            .arg("30")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        Bystander::Std(c)
    }
}

fn worker(thread: usize, until: Instant, ops: &AtomicUsize) {
    let mut bystanders = VecDeque::new();
    let mut round = 0;
    while Instant::now() < until {
        let what = format!("thread {thread} round {round}");
        match (round + thread) % 5 {
            0 => {
                let p = Pipeline::new([
                    Command::new(fixture("spew")).args(["--stdout", "64K", "--stderr", "1K"]),
                    Command::new("cat"),
                    Command::new("cat"),
                ])
                .timeout(OP_TIMEOUT);
                let done = ok(p.run(), &what);
                assert_bytes("stdout", &done.stdout, &spew_bytes(64 << 10), &what);
                assert_eq!(done.stderr.len(), 1024, "{what}");
            }
            1 => {
                let input = noise(32 << 10, round as u64);
                let out = ok(
                    Command::new("cat")
                        .input(&input)
                        .timeout(OP_TIMEOUT)
                        .check_output(),
                    &what,
                );
                assert_bytes("stdout", &out, &input, &what);
            }
            2 => {
                let p = Command::new(fixture("spew"))
                    .args(["--stdout", "32K"])
                    .pipe(Command::new("cat"))
                    .timeout(OP_TIMEOUT);
                let mut out = Vec::new();
                ok(p.reader(), &what)
                    .read_to_end(&mut out)
                    .unwrap_or_else(|e| panic!("{what}: {e}"));
                assert_bytes("stdout", &out, &spew_bytes(32 << 10), &what);
            }
            3 => {
                let mut h = Pipeline::parse("cat | cat")
                    .unwrap()
                    .stdin(Redirect::Pipe)
                    .stdout(Redirect::Pipe)
                    .spawn()
                    .unwrap();
                drop(h.take_stdin());
                let mut out = Vec::new();
                h.take_stdout().unwrap().read_to_end(&mut out).unwrap();
                let status = ok(h.wait_timeout(OP_TIMEOUT), &what);
                assert!(status.is_some_and(|s| s.success()), "{what}");
            }
            _ => {
                bystanders.push_back(bystander(round % 2 == 0));
                if bystanders.len() > BYSTANDERS {
                    bystanders.pop_front();
                }
            }
        }
        ops.fetch_add(1, Ordering::Relaxed);
        round += 1;
    }
}

#[test]
fn concurrent_spawns_never_leak_a_pipe_end_into_another_child() {
    let until = Instant::now() + stress_duration();
    let ops = AtomicUsize::new(0);
    std::thread::scope(|s| {
        for thread in 0..THREADS {
            let ops = &ops;
            s.spawn(move || worker(thread, until, ops));
        }
    });
    let ops = ops.into_inner();
    eprintln!("{ops} operations in {:?}", stress_duration());
    assert!(ops >= THREADS * 5, "only {ops} operations ran");
}
