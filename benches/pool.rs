//! Per-job overhead of the pool, side by side in one run: 2,000 `/bin/true` jobs at
//! -j2 and -j16 through
//!
//! - plain std threads, one per slot, each calling `Command::status()` in a loop
//!   (the floor: no capture, no scheduler),
//! - a bare one-thread loop (spawn, pidfds in one `ppoll`, reap, refill; no capture):
//!   the floor of any single-scheduler design, for reference,
//! - pipe-run's `Pool`, output captured per job: everything submitted up front and
//!   waited for once (as the floor's threads are joined once), the same on one
//!   scheduler thread instead of the default (one per CPU), and through the lazy,
//!   bounded `Pool::map`, whose consumer wakes for every result in input order,
//! - `xargs -P`, GNU `parallel` and `rust-parallel`, when installed.
//!
//! Every round runs every contender once at each `-j`, starting with a different
//! contender each round; each time is divided by the std-threads time of the same
//! round and -j, and the table shows medians (and the smallest and largest ratio).
//!
//! ```text
//! cargo bench --bench pool                          # 2,000 jobs, 7 rounds
//! PIPE_RUN_BENCH_QUICK=1 cargo bench --bench pool   # 300 jobs, 3 rounds
//! PIPE_RUN_BENCH_ROUNDS=11 PIPE_RUN_BENCH_JOBS=5000 cargo bench --bench pool
//! PIPE_RUN_BENCH_SCALE=1 cargo bench --bench pool   # also 1,000 × `sleep 1` on 1,000 workers
//! ```

use std::io::Write;
use std::process::{Command as StdCommand, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use pipe_run::{Command, Job, Pool};

const TRUE: &str = "/bin/true";

type Run = fn(usize, usize) -> Duration;

/// The index of the contender the issue's goal is about (see `main`).
const GOAL_CONTENDER: usize = 2;

struct Contender {
    name: &'static str,
    run: Run,
}

fn env_usize(name: &str) -> Option<usize> {
    std::env::var(name).ok()?.parse().ok()
}

fn installed(program: &str) -> bool {
    StdCommand::new(program)
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

fn std_threads(jobs: usize, j: usize) -> Duration {
    let t0 = Instant::now();
    let next = Arc::new(AtomicUsize::new(0));
    let threads: Vec<_> = (0..j)
        .map(|_| {
            let next = next.clone();
            std::thread::spawn(move || {
                while next.fetch_add(1, Ordering::Relaxed) < jobs {
                    let status = StdCommand::new(TRUE).status().unwrap();
                    assert!(status.success());
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    t0.elapsed()
}

/// The least one thread can do: spawn, watch pidfds in one `ppoll`, reap,
/// refill at once; no capture, no bookkeeping. The gap between this and the
/// threads is what any one-thread scheduler pays: its spawns cannot overlap
/// (the parent waits inside `posix_spawn` until the child has exec'd).
fn single_thread_loop(jobs: usize, j: usize) -> Duration {
    use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
    let spawn = || {
        let child = StdCommand::new(TRUE).spawn().unwrap();
        // SAFETY: pidfd_open returns a new descriptor that we own.
        let fd = unsafe {
            OwnedFd::from_raw_fd(
                libc::syscall(libc::SYS_pidfd_open, child.id() as libc::pid_t, 0) as i32,
            )
        };
        (child, fd)
    };
    let t0 = Instant::now();
    let (mut started, mut done) = (0, 0);
    let mut running = Vec::new();
    while started < jobs.min(j) {
        running.push(spawn());
        started += 1;
    }
    let mut fds = Vec::new();
    while done < jobs {
        fds.clear();
        fds.extend(running.iter().map(|(_, fd): &(_, OwnedFd)| libc::pollfd {
            fd: fd.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        }));
        // SAFETY: a valid, exclusively borrowed pollfd array; no timeout.
        unsafe {
            libc::ppoll(
                fds.as_mut_ptr(),
                fds.len() as libc::nfds_t,
                std::ptr::null(),
                std::ptr::null(),
            )
        };
        for k in (0..fds.len()).rev() {
            if fds[k].revents == 0 {
                continue;
            }
            let (mut child, _fd) = running.swap_remove(k);
            assert!(child.wait().unwrap().success());
            done += 1;
            if started < jobs {
                running.push(spawn());
                started += 1;
            }
        }
    }
    t0.elapsed()
}

fn pool_submit_all(jobs: usize, j: usize) -> Duration {
    submit_all(jobs, || Pool::new(j).unwrap())
}

/// As `pool_submit_all` on one scheduler thread: what the default's second
/// thread (overlapping spawns) buys.
fn pool_one_thread(jobs: usize, j: usize) -> Duration {
    submit_all(jobs, || {
        Pool::builder()
            .workers(j)
            .scheduler_threads(1)
            .build()
            .unwrap()
    })
}

/// Builds a pool (timed too), submits `jobs` × `/bin/true` up front and, like the
/// floor's threads, waits once for the batch, then reads every result.
fn submit_all(jobs: usize, build: impl FnOnce() -> Pool) -> Duration {
    let t0 = Instant::now();
    let pool = build();
    let handles: Vec<Job> = (0..jobs)
        .map(|_| pool.submit(Command::new(TRUE)).unwrap())
        .collect();
    pool.shutdown(true, false);
    for h in handles {
        h.into_result().unwrap();
    }
    t0.elapsed()
}

/// As `pool_submit_all`, with stdio as the floor has it (inherited, here
/// `/dev/null`): what capturing costs.
fn pool_no_capture(jobs: usize, j: usize) -> Duration {
    use pipe_run::Redirect;
    let t0 = Instant::now();
    let pool = Pool::new(j).unwrap();
    let handles: Vec<Job> = (0..jobs)
        .map(|_| {
            let cmd = Command::new(TRUE)
                .stdin(Redirect::Inherit)
                .stdout(Redirect::Null)
                .stderr(Redirect::Null);
            pool.submit(cmd).unwrap()
        })
        .collect();
    pool.shutdown(true, false);
    for h in handles {
        h.into_result().unwrap();
    }
    t0.elapsed()
}

fn pool_map(jobs: usize, j: usize) -> Duration {
    let t0 = Instant::now();
    let pool = Pool::new(j).unwrap();
    for result in pool.map((0..jobs).map(|_| Command::new(TRUE))) {
        result.unwrap();
    }
    drop(pool);
    t0.elapsed()
}

/// Runs a parallelizer that reads one argument per line from stdin.
fn tool(jobs: usize, mut cmd: StdCommand) -> Duration {
    let input: String = (0..jobs).map(|i| format!("{i}\n")).collect();
    let t0 = Instant::now();
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.as_bytes())
        .unwrap();
    let status = child.wait().unwrap();
    let took = t0.elapsed();
    assert!(status.success(), "{cmd:?}: {status}");
    took
}

fn xargs(jobs: usize, j: usize) -> Duration {
    let mut cmd = StdCommand::new("xargs");
    cmd.args(["-P", &j.to_string(), "-n", "1", TRUE]);
    tool(jobs, cmd)
}

fn gnu_parallel(jobs: usize, j: usize) -> Duration {
    let mut cmd = StdCommand::new("parallel");
    cmd.args(["--will-cite", "-j", &j.to_string(), TRUE]);
    tool(jobs, cmd)
}

fn rust_parallel(jobs: usize, j: usize) -> Duration {
    let mut cmd = StdCommand::new("rust-parallel");
    cmd.args(["-j", &j.to_string(), TRUE]);
    tool(jobs, cmd)
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

fn scale() {
    let n = 1000;
    let pool = Pool::new(n).unwrap();
    let t0 = Instant::now();
    let jobs: Vec<Job> = (0..n)
        .map(|_| pool.submit(Command::new("sleep").arg("1")).unwrap())
        .collect();
    for job in jobs {
        job.into_result().unwrap();
    }
    let took = t0.elapsed();
    let threads = std::fs::read_to_string("/proc/self/status")
        .unwrap()
        .lines()
        .find_map(|l| l.strip_prefix("Threads:").map(|n| n.trim().to_owned()))
        .unwrap();
    println!(
        "\n1,000 × `sleep 1` on 1,000 workers: {:.2} s (goal < 2 s), {threads} threads in this process now",
        took.as_secs_f64()
    );
}

fn main() {
    // `cargo bench` passes `--bench`; a word argument filters nothing here.
    let quick = std::env::var_os("PIPE_RUN_BENCH_QUICK").is_some();
    let jobs = env_usize("PIPE_RUN_BENCH_JOBS").unwrap_or(if quick { 300 } else { 2000 });
    let rounds = env_usize("PIPE_RUN_BENCH_ROUNDS").unwrap_or(if quick { 3 } else { 7 });
    let widths = [2usize, 16];

    // Keep GOAL_CONTENDER pointing at "pipe-run Pool: submit all".
    let mut contenders = vec![
        Contender {
            name: "std threads, status() (floor)",
            run: std_threads,
        },
        Contender {
            name: "one-thread spawn loop, no capture (ref.)",
            run: single_thread_loop,
        },
        Contender {
            name: "pipe-run Pool: submit all, wait, results",
            run: pool_submit_all,
        },
        Contender {
            name: "pipe-run Pool, one scheduler thread",
            run: pool_one_thread,
        },
        Contender {
            name: "pipe-run Pool, output not captured",
            run: pool_no_capture,
        },
        Contender {
            name: "pipe-run Pool::map (results in order)",
            run: pool_map,
        },
    ];
    let mut missing = Vec::new();
    for (name, program, run) in [
        ("xargs -P", "xargs", xargs as Run),
        ("rust-parallel", "rust-parallel", rust_parallel as Run),
        ("GNU parallel", "parallel", gnu_parallel as Run),
    ] {
        if installed(program) {
            contenders.push(Contender { name, run });
        } else {
            missing.push(name);
        }
    }

    println!(
        "pool: {jobs} × {TRUE} at -j{} and -j{}, {rounds} interleaved rounds, {} cores",
        widths[0],
        widths[1],
        std::thread::available_parallelism().map_or(0, |n| n.get())
    );
    // times[j][contender] and ratios[j][contender], one entry per round.
    let mut times = vec![vec![Vec::new(); contenders.len()]; widths.len()];
    let mut ratios = vec![vec![Vec::new(); contenders.len()]; widths.len()];
    // Warm-up: page cache, the pool's code, the tools' start-up.
    for c in &contenders {
        (c.run)(jobs.min(50), 2);
    }
    for round in 0..rounds {
        for (w, &j) in widths.iter().enumerate() {
            let n = contenders.len();
            let mut this_round = vec![Duration::ZERO; n];
            for k in 0..n {
                let i = (round + k) % n;
                this_round[i] = (contenders[i].run)(jobs, j);
            }
            for i in 0..n {
                times[w][i].push(this_round[i].as_secs_f64());
                ratios[w][i].push(this_round[i].as_secs_f64() / this_round[0].as_secs_f64());
            }
        }
        eprint!(".");
    }
    eprintln!();

    // The goal's contender: (j, median ratio) per width.
    let mut goal_rows = Vec::new();
    for (w, &j) in widths.iter().enumerate() {
        println!("\n-j{j}: {jobs} jobs");
        println!(
            "  {:<42} {:>9} {:>10} {:>9}   [min–max ×]",
            "contender", "median s", "jobs/s", "× floor"
        );
        for (i, c) in contenders.iter().enumerate() {
            let t = median(&mut times[w][i]);
            let r = &mut ratios[w][i];
            let (lo, hi) = (
                r.iter().copied().fold(f64::INFINITY, f64::min),
                r.iter().copied().fold(0.0, f64::max),
            );
            let m = median(r);
            if i == GOAL_CONTENDER {
                goal_rows.push((j, m));
            }
            println!(
                "  {:<42} {:>9.3} {:>10.0} {:>9.3}   [{lo:.3}–{hi:.3}]",
                c.name,
                t,
                jobs as f64 / t,
                m
            );
        }
    }
    if !missing.is_empty() {
        println!("\nnot measured (not installed): {}", missing.join(", "));
    }
    let shown: Vec<String> = goal_rows
        .iter()
        .map(|(j, m)| format!("-j{j} {m:.3} ×"))
        .collect();
    let met = goal_rows.iter().all(|&(_, m)| m <= 1.1);
    println!(
        "\ngoal: pipe-run Pool (submit all) ≤ 1.1 × the std-threads floor at both -j: {} {}",
        shown.join(", "),
        if met { "(met)" } else { "(NOT met)" }
    );

    if std::env::var_os("PIPE_RUN_BENCH_SCALE").is_some() {
        scale();
    }
}
