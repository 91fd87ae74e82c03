//! pipe-run's engine side by side with `std::process`, duct, the `subprocess`
//! crate and Python's `subprocess`, in one run.
//!
//! Every round runs each contender once, in an order that rotates from round
//! to round; each contender's time is divided by the std baseline's time of
//! the same round, and the table shows medians. Interleaving and per-round
//! ratios keep the comparison fair on a shared, noisy machine: a burst of
//! load hits all contenders of a round, not one of them.
//!
//! ```text
//! cargo bench --bench engine                      # everything, a few minutes
//! cargo bench --bench engine -- capture timeout   # scenarios whose name matches
//! PIPE_RUN_BENCH_QUICK=1 cargo bench --bench engine   # small sizes, seconds
//! ```
//!
//! See `benches/README.md` for the knobs and how to read the tables.

mod common;
use common::{allowed_cpus, set_thread_cpus};

use std::ffi::OsString;
use std::fmt::Write as _;
use std::io::{Read, Write};
use std::os::fd::AsRawFd;
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::Stdio;
use std::sync::Arc;
use std::time::{Duration, Instant};

use pipe_run::{ErrorKind, Redirect};

const KIB: u64 = 1 << 10;
const MIB: u64 = 1 << 20;
const GIB: u64 = 1 << 30;

/// Read buffer of every streaming loop (ours and the peers'): the pipe, not
/// the buffer, should make the difference.
const READ_BUF: usize = 1 << 20;

// ---------------------------------------------------------------------------
// Configuration
// ---------------------------------------------------------------------------

#[derive(Debug, Clone)]
struct Config {
    quick: bool,
    /// Overrides every scenario's default number of rounds.
    rounds: Option<usize>,
    /// Scenario names to run (substring match); empty runs all.
    filters: Vec<String>,
    spawn_batch: usize,
    capture_size: u64,
    stream_size: u64,
    both_size: u64,
    both_stderr: u64,
    timeout: Duration,
    fork_1g: bool,
    python: Option<String>,
    spew: PathBuf,
    /// (reader CPU, producer CPU) for the throughput scenarios, or `None`
    /// to let the scheduler place them.
    pin: Option<(usize, usize)>,
}

fn env_flag(name: &str) -> bool {
    std::env::var(name).is_ok_and(|v| !v.is_empty() && v != "0")
}

fn env_size(name: &str, default: u64) -> u64 {
    match std::env::var(name) {
        Ok(v) => parse_size(&v).unwrap_or_else(|| panic!("{name}: bad size {v:?} (try 64M or 1G)")),
        Err(_) => default,
    }
}

fn env_usize(name: &str) -> Option<usize> {
    let v = std::env::var(name).ok()?;
    Some(
        v.parse()
            .unwrap_or_else(|_| panic!("{name}: not a number: {v:?}")),
    )
}

/// `123`, `64K`, `256M`, `1G` (powers of 1024).
fn parse_size(text: &str) -> Option<u64> {
    let (digits, mult) = match text.as_bytes().last()? {
        b'K' | b'k' => (&text[..text.len() - 1], KIB),
        b'M' | b'm' => (&text[..text.len() - 1], MIB),
        b'G' | b'g' => (&text[..text.len() - 1], GIB),
        _ => (text, 1),
    };
    digits.parse::<u64>().ok()?.checked_mul(mult)
}

fn show_size(bytes: u64) -> String {
    if bytes >= GIB && bytes % GIB == 0 {
        format!("{} GiB", bytes / GIB)
    } else if bytes >= MIB && bytes % MIB == 0 {
        format!("{} MiB", bytes / MIB)
    } else if bytes >= KIB && bytes % KIB == 0 {
        format!("{} KiB", bytes / KIB)
    } else {
        format!("{bytes} B")
    }
}

impl Config {
    fn from_env(filters: Vec<String>) -> Config {
        let quick = env_flag("PIPE_RUN_BENCH_QUICK");
        let pick = |full: u64, small: u64| if quick { small } else { full };
        let python = match std::env::var("PIPE_RUN_BENCH_PYTHON") {
            Ok(v) if v.is_empty() || v == "0" => None,
            Ok(v) => Some(v),
            Err(_) => Some("python3".to_owned()),
        };
        let python = python.filter(|py| {
            let ok = std::process::Command::new(py)
                .args(["-c", "import subprocess, resource"])
                .status()
                .is_ok_and(|s| s.success());
            if !ok {
                eprintln!("note: {py} not usable, Python contenders are skipped");
            }
            ok
        });
        Config {
            quick,
            rounds: env_usize("PIPE_RUN_BENCH_ROUNDS"),
            filters,
            spawn_batch: env_usize("PIPE_RUN_BENCH_SPAWN_BATCH").unwrap_or(pick(50, 20) as usize),
            capture_size: env_size("PIPE_RUN_BENCH_CAPTURE_SIZE", pick(GIB, 64 * MIB)),
            stream_size: env_size("PIPE_RUN_BENCH_STREAM_SIZE", pick(4 * GIB, 256 * MIB)),
            both_size: env_size("PIPE_RUN_BENCH_BOTH_SIZE", pick(256 * MIB, 16 * MIB)),
            both_stderr: env_size("PIPE_RUN_BENCH_BOTH_STDERR", pick(64 * MIB, 4 * MIB)),
            timeout: Duration::from_millis(
                env_usize("PIPE_RUN_BENCH_TIMEOUT_MS").unwrap_or(100) as u64
            ),
            fork_1g: env_flag("PIPE_RUN_BENCH_FORK_1G"),
            python,
            spew: fixture("spew"),
            pin: choose_pin(),
        }
    }

    /// The producer of the throughput scenarios: spew, run through
    /// `taskset` on the producer CPU when pinning.
    fn producer(&self, stdout: u64, stderr: u64) -> (OsString, Vec<OsString>) {
        let mut args: Vec<OsString> = spew_args(stdout, stderr)
            .into_iter()
            .map(OsString::from)
            .collect();
        match self.pin {
            Some((_, cpu)) => {
                let mut pinned: Vec<OsString> = vec![
                    "-c".into(),
                    cpu.to_string().into(),
                    self.spew.clone().into(),
                ];
                pinned.append(&mut args);
                ("taskset".into(), pinned)
            }
            None => (self.spew.clone().into(), args),
        }
    }

    fn rounds(&self, full: usize, quick: usize) -> usize {
        self.rounds
            .unwrap_or(if self.quick { quick } else { full })
            .max(1)
    }

    fn wants(&self, scenario: &str) -> bool {
        self.filters.is_empty() || self.filters.iter().any(|f| scenario.contains(f.as_str()))
    }
}

/// Pins readers and producers to two different CPUs unless
/// `PIPE_RUN_BENCH_PIN=0`. A pipe between two processes on one CPU moves
/// data from a warm cache without cross-CPU wake-ups, several times faster
/// than between two CPUs (and a 64 KiB pipe then loses little to a 1 MiB
/// one); left alone, the scheduler picks one or the other from run to run
/// depending on load, which makes medians flip. Two CPUs is the case the
/// issue measured and the common one on an idle machine.
fn choose_pin() -> Option<(usize, usize)> {
    if std::env::var("PIPE_RUN_BENCH_PIN").is_ok_and(|v| v == "0") {
        return None;
    }
    let cpus = allowed_cpus();
    let has_taskset = std::process::Command::new("taskset")
        .arg("-V")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if cpus.len() < 2 || !has_taskset {
        eprintln!("note: not pinning (needs 2 CPUs and taskset)");
        return None;
    }
    Some((cpus[0], cpus[1]))
}

/// Pins the calling thread to one CPU until dropped.
struct Pinned(Vec<usize>);

impl Pinned {
    fn to(cpu: Option<usize>) -> Pinned {
        let old = allowed_cpus();
        if let Some(cpu) = cpu {
            set_thread_cpus(&[cpu]);
        }
        Pinned(old)
    }
}

impl Drop for Pinned {
    fn drop(&mut self) {
        if !self.0.is_empty() {
            set_thread_cpus(&self.0);
        }
    }
}

/// The directory cargo puts release binaries in: the bench runs from
/// `target/release/deps/`.
fn release_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("current_exe");
    let deps = exe.parent().expect("exe dir");
    deps.parent().unwrap_or(deps).to_owned()
}

/// A fixture program, built with `cargo build --release -p pipe-run-fixtures`
/// when missing.
fn fixture(name: &str) -> PathBuf {
    let path = release_dir().join(name);
    if !path.exists() {
        eprintln!("building the fixtures (cargo build --release -p pipe-run-fixtures)...");
        let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
        let status = std::process::Command::new(cargo)
            .args(["build", "--release", "-p", "pipe-run-fixtures"])
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .status()
            .expect("run cargo");
        assert!(status.success(), "building the fixtures failed");
        assert!(
            path.exists(),
            "{} is still missing after building the fixtures",
            path.display()
        );
    }
    path
}

// ---------------------------------------------------------------------------
// Measuring
// ---------------------------------------------------------------------------

/// One run of one contender.
#[derive(Debug, Clone, Copy, Default)]
struct Sample {
    /// The timed part, in seconds.
    secs: f64,
    /// Peak resident memory of the process that held the output, and its
    /// resident memory just before the run (bytes).
    peak: Option<(u64, u64)>,
    /// Capacity of the pipe the data came through.
    pipe: Option<u64>,
    /// Timeout scenario: seconds from the deadline until the wait noticed it.
    noticed: Option<f64>,
    /// Timeout scenario: voluntary context switches of the waiting thread
    /// during the wait alone, and during the whole call.
    wakeups_wait: Option<f64>,
    wakeups_total: Option<f64>,
}

impl Sample {
    fn secs(secs: f64) -> Sample {
        Sample {
            secs,
            ..Sample::default()
        }
    }
}

type RunFn<'a> = Box<dyn FnMut() -> Result<Sample, String> + 'a>;

struct Contender<'a> {
    name: String,
    run: RunFn<'a>,
}

fn contender<'a>(
    name: impl Into<String>,
    run: impl FnMut() -> Result<Sample, String> + 'a,
) -> Contender<'a> {
    Contender {
        name: name.into(),
        run: Box::new(run),
    }
}

/// Results of one contender over all rounds.
struct Series {
    name: String,
    samples: Vec<Option<Sample>>,
    error: Option<String>,
}

/// Runs `rounds` rounds (after `warmup` unrecorded ones); each round runs
/// every contender once, starting at a different one each round. A
/// contender that fails is reported and left out of later rounds.
fn run_rounds(
    label: &str,
    rounds: usize,
    warmup: usize,
    contenders: &mut [Contender<'_>],
) -> Vec<Series> {
    let n = contenders.len();
    let mut series: Vec<Series> = contenders
        .iter()
        .map(|c| Series {
            name: c.name.clone(),
            samples: Vec::new(),
            error: None,
        })
        .collect();
    let started = Instant::now();
    // SAFETY: isatty only inspects a descriptor number.
    let tty = unsafe { libc::isatty(2) } == 1;
    for round in 0..warmup + rounds {
        let recorded = round >= warmup;
        if tty {
            if recorded {
                eprint!(
                    "\r{label}: round {}/{rounds} ({:.0} s)   ",
                    round - warmup + 1,
                    started.elapsed().as_secs_f64()
                );
            } else {
                eprint!("\r{label}: warm-up   ");
            }
            let _ = std::io::stderr().flush();
        }
        for k in 0..n {
            let i = (k + round) % n;
            if series[i].error.is_some() {
                if recorded {
                    series[i].samples.push(None);
                }
                continue;
            }
            let result = (contenders[i].run)();
            match result {
                Ok(sample) if recorded => series[i].samples.push(Some(sample)),
                Ok(_) => {}
                Err(e) => {
                    eprintln!("\n{label}: {} failed: {e}", series[i].name);
                    series[i].error = Some(e);
                    if recorded {
                        series[i].samples.push(None);
                    }
                }
            }
        }
    }
    let clear = if tty { "\r" } else { "" };
    eprintln!(
        "{clear}{label}: {rounds} rounds in {:.1} s        ",
        started.elapsed().as_secs_f64()
    );
    series
}

fn median(mut xs: Vec<f64>) -> Option<f64> {
    if xs.is_empty() {
        return None;
    }
    xs.sort_by(f64::total_cmp);
    let m = xs.len() / 2;
    Some(if xs.len() % 2 == 1 {
        xs[m]
    } else {
        (xs[m - 1] + xs[m]) / 2.0
    })
}

impl Series {
    fn values(&self, f: impl Fn(&Sample) -> Option<f64>) -> Vec<f64> {
        self.samples.iter().flatten().filter_map(f).collect()
    }

    fn median(&self, f: impl Fn(&Sample) -> Option<f64>) -> Option<f64> {
        median(self.values(f))
    }

    /// Per-round ratios of this contender's time to `base`'s.
    fn ratios(&self, base: &Series) -> Vec<f64> {
        self.samples
            .iter()
            .zip(&base.samples)
            .filter_map(|(s, b)| Some(s.as_ref()?.secs / b.as_ref()?.secs))
            .collect()
    }
}

/// Seconds in the most readable unit.
fn pin_note(cfg: &Config) -> String {
    match cfg.pin {
        Some((r, p)) => format!("; reader on CPU {r}, producer on CPU {p}"),
        None => String::new(),
    }
}

fn show_secs(s: f64) -> String {
    if s >= 1.0 {
        format!("{s:.3} s")
    } else if s >= 1e-3 {
        format!("{:.3} ms", s * 1e3)
    } else {
        format!("{:.1} µs", s * 1e6)
    }
}

fn show_gibs(bytes: u64, secs: f64) -> String {
    format!("{:.2} GiB/s", bytes as f64 / GIB as f64 / secs)
}

/// A plain text table with aligned columns.
struct Table {
    head: Vec<String>,
    rows: Vec<Vec<String>>,
}

impl Table {
    fn new(head: &[&str]) -> Table {
        Table {
            head: head.iter().map(|s| s.to_string()).collect(),
            rows: Vec::new(),
        }
    }

    fn row(&mut self, cells: Vec<String>) {
        self.rows.push(cells);
    }

    fn render(&self) -> String {
        let cols = self.head.len();
        let mut width = vec![0; cols];
        for row in std::iter::once(&self.head).chain(&self.rows) {
            for (i, cell) in row.iter().enumerate() {
                width[i] = width[i].max(cell.chars().count());
            }
        }
        let mut out = String::new();
        let line = |out: &mut String, row: &[String]| {
            for (i, cell) in row.iter().enumerate() {
                let pad = width[i] - cell.chars().count();
                // First column left-aligned, numbers right-aligned.
                if i == 0 {
                    let _ = write!(out, "| {cell}{} ", " ".repeat(pad));
                } else {
                    let _ = write!(out, "| {}{cell} ", " ".repeat(pad));
                }
            }
            out.push_str("|\n");
        };
        line(&mut out, &self.head);
        for (i, w) in width.iter().enumerate() {
            let dashes = "-".repeat(*w);
            if i == 0 {
                let _ = write!(out, "|:{dashes}-");
            } else {
                let _ = write!(out, "|-{dashes}:");
            }
        }
        out.push_str("|\n");
        for row in &self.rows {
            line(&mut out, row);
        }
        out
    }
}

/// A goal of the issue and whether this run met it.
struct Goal {
    text: String,
    met: Option<bool>,
    got: String,
}

/// A scenario-specific column: its heading and how to fill it.
type ExtraColumn<'a> = (&'a str, &'a dyn Fn(&Series) -> String);

/// Prints a time/throughput table for `series` against `series[base]` and
/// returns each contender's median time ratio to the baseline.
fn report_times(
    title: &str,
    series: &[Series],
    base: usize,
    bytes: u64,
    extra: &[ExtraColumn<'_>],
) -> Vec<Option<f64>> {
    let mut head = vec!["contender", "median time"];
    if bytes > 0 {
        head.push("throughput");
        head.push("speed vs std");
    }
    head.push("time / std (min–max)");
    head.extend(extra.iter().map(|(h, _)| *h));
    head.push("rounds");
    let mut table = Table::new(&head);
    let mut ratios = Vec::new();
    for s in series {
        let t = s.median(|x| Some(x.secs));
        let r = s.ratios(&series[base]);
        let rm = median(r.clone());
        ratios.push(rm);
        let mut row = vec![s.name.clone()];
        match (t, &s.error) {
            (Some(t), _) => row.push(show_secs(t)),
            (None, Some(e)) => row.push(format!("failed: {}", truncate(e, 40))),
            (None, None) => row.push("-".into()),
        }
        if bytes > 0 {
            row.push(t.map_or("-".into(), |t| show_gibs(bytes, t)));
            row.push(rm.map_or("-".into(), |r| format!("{:.2} ×", 1.0 / r)));
        }
        row.push(match rm {
            Some(rm) => {
                let lo = r.iter().cloned().fold(f64::INFINITY, f64::min);
                let hi = r.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
                format!("{rm:.3} ({lo:.2}–{hi:.2})")
            }
            None => "-".into(),
        });
        for (_, f) in extra {
            row.push(f(s));
        }
        row.push(s.samples.iter().flatten().count().to_string());
        table.row(row);
    }
    println!("\n### {title}\n");
    print!("{}", table.render());
    print_raw(series);
    ratios
}

/// With `PIPE_RUN_BENCH_VERBOSE=1`, every recorded time, round by round.
fn print_raw(series: &[Series]) {
    if !env_flag("PIPE_RUN_BENCH_VERBOSE") {
        return;
    }
    println!();
    for s in series {
        let times: Vec<String> = s
            .samples
            .iter()
            .map(|x| x.map_or("-".into(), |x| show_secs(x.secs)))
            .collect();
        println!("    {}: {}", s.name, times.join(", "));
    }
}

fn truncate(s: &str, n: usize) -> String {
    let s = s.replace('\n', " ");
    if s.chars().count() <= n {
        s
    } else {
        s.chars().take(n).collect::<String>() + "…"
    }
}

fn find(series: &[Series], prefix: &str) -> Option<usize> {
    series.iter().position(|s| s.name.starts_with(prefix))
}

// ---------------------------------------------------------------------------
// Helpers shared by scenarios
// ---------------------------------------------------------------------------

/// Voluntary context switches of the calling thread so far: each is one
/// time it blocked, i.e. one wake-up.
fn thread_wakeups() -> i64 {
    // SAFETY: getrusage fills the struct we pass; RUSAGE_THREAD is Linux's
    // per-thread variant.
    unsafe {
        let mut ru: libc::rusage = std::mem::zeroed();
        libc::getrusage(libc::RUSAGE_THREAD, &mut ru);
        ru.ru_nvcsw
    }
}

/// Peak resident set of this process, in bytes.
fn self_maxrss() -> u64 {
    // SAFETY: getrusage fills the struct we pass.
    unsafe {
        let mut ru: libc::rusage = std::mem::zeroed();
        libc::getrusage(libc::RUSAGE_SELF, &mut ru);
        ru.ru_maxrss as u64 * 1024
    }
}

fn pipe_size(fd: &impl AsRawFd) -> u64 {
    // SAFETY: F_GETPIPE_SZ on a descriptor we borrow.
    let n = unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_GETPIPE_SZ) };
    n.max(0) as u64
}

fn grow_pipe(fd: &impl AsRawFd, size: u64) {
    // SAFETY: F_SETPIPE_SZ on a descriptor we borrow; failure just leaves it.
    unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_SETPIPE_SZ, size as libc::c_int) };
}

/// Reads `r` to the end into a reused buffer, discarding the data.
fn drain(mut r: impl Read, buf: &mut [u8]) -> Result<u64, String> {
    let mut total = 0u64;
    loop {
        match r.read(buf) {
            Ok(0) => return Ok(total),
            Ok(n) => total += n as u64,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e.to_string()),
        }
    }
}

fn check_len(what: &str, got: u64, want: u64) -> Result<(), String> {
    if got == want {
        Ok(())
    } else {
        Err(format!("{what}: got {got} bytes, expected {want}"))
    }
}

fn err(e: impl std::fmt::Display) -> String {
    e.to_string()
}

/// Runs a Python snippet (which times itself) and returns the numbers it
/// prints on its last line.
fn python(py: &str, script: &str, args: &[OsString]) -> Result<Vec<f64>, String> {
    let out = std::process::Command::new(py)
        .arg("-c")
        .arg(script)
        .args(args)
        .stderr(Stdio::inherit())
        .output()
        .map_err(err)?;
    if !out.status.success() {
        return Err(format!("python exited with {}", out.status));
    }
    parse_numbers(&out.stdout)
}

fn parse_numbers(stdout: &[u8]) -> Result<Vec<f64>, String> {
    let text = String::from_utf8_lossy(stdout);
    let line = text.lines().last().ok_or("no output")?;
    line.split_whitespace()
        .map(|w| {
            w.parse::<f64>()
                .map_err(|_| format!("bad number {w:?} in {line:?}"))
        })
        .collect()
}

/// Runs this bench binary again in child mode (`--child ...`) and parses
/// the numbers it prints.
fn reexec<S: AsRef<std::ffi::OsStr>>(args: &[S]) -> Result<Vec<f64>, String> {
    let exe = std::env::current_exe().map_err(err)?;
    let out = std::process::Command::new(exe)
        .arg("--child")
        .args(args)
        .stderr(Stdio::inherit())
        .output()
        .map_err(err)?;
    if !out.status.success() {
        let shown: Vec<_> = args.iter().map(|a| a.as_ref().to_string_lossy()).collect();
        return Err(format!("child {shown:?} exited with {}", out.status));
    }
    parse_numbers(&out.stdout)
}

// ---------------------------------------------------------------------------
// 1. spawn + wait of /bin/true
// ---------------------------------------------------------------------------

const PY_SPAWN: &str = r#"
import subprocess, sys, time
n = int(sys.argv[1])
subprocess.call(['/bin/true'])
t = time.perf_counter()
for _ in range(n):
    subprocess.call(['/bin/true'])
print((time.perf_counter() - t) / n)
"#;

fn batch(k: usize, mut f: impl FnMut() -> Result<(), String>) -> Result<Sample, String> {
    let t = Instant::now();
    for _ in 0..k {
        f()?;
    }
    Ok(Sample::secs(t.elapsed().as_secs_f64() / k as f64))
}

fn ok_status(s: std::process::ExitStatus) -> Result<(), String> {
    if s.success() {
        Ok(())
    } else {
        Err(format!("/bin/true: {s}"))
    }
}

fn scenario_spawn(cfg: &Config, goals: &mut Vec<Goal>) {
    let k = cfg.spawn_batch;
    let rounds = cfg.rounds(51, 5);
    let mut cs = vec![
        contender("std status()", || {
            batch(k, || {
                ok_status(
                    std::process::Command::new("/bin/true")
                        .status()
                        .map_err(err)?,
                )
            })
        }),
        contender("pipe-run call()", || {
            batch(k, || {
                ok_status(pipe_run::Command::new("/bin/true").call().map_err(err)?)
            })
        }),
        contender("duct run()", || {
            batch(k, || duct::cmd!("/bin/true").run().map(drop).map_err(err))
        }),
        contender("subprocess join()", || {
            batch(k, || {
                let s = subprocess::Exec::cmd("/bin/true").join().map_err(err)?;
                if s.success() {
                    Ok(())
                } else {
                    Err(format!("{s:?}"))
                }
            })
        }),
        contender("std + pre_exec (fork)", || {
            batch(k, || {
                let mut c = std::process::Command::new("/bin/true");
                // SAFETY: an empty hook; it only forces std off posix_spawn.
                unsafe { c.pre_exec(|| Ok(())) };
                ok_status(c.status().map_err(err)?)
            })
        }),
    ];
    if let Some(py) = &cfg.python {
        cs.push(contender("python call()", move || {
            let v = python(py, PY_SPAWN, &[k.to_string().into()])?;
            Ok(Sample::secs(v[0]))
        }));
    }
    if cfg.fork_1g {
        let kk = k.to_string();
        let k2 = kk.clone();
        cs.push(contender("std status(), 1 GiB parent", move || {
            Ok(Sample::secs(reexec(&["spawn-1g", "posix", &kk])?[0]))
        }));
        cs.push(contender("std + pre_exec, 1 GiB parent", move || {
            Ok(Sample::secs(reexec(&["spawn-1g", "fork", &k2])?[0]))
        }));
    }
    let series = run_rounds("spawn", rounds, 1, &mut cs);
    let ratios = report_times(
        &format!(
            "1. spawn + wait of /bin/true (per call; batches of {k}, median of {rounds} rounds)"
        ),
        &series,
        0,
        0,
        &[],
    );
    if let Some(i) = find(&series, "pipe-run call()") {
        goals.push(Goal {
            text: "call() of /bin/true within 5 % of std status()".into(),
            met: ratios[i].map(|r| r <= 1.05),
            got: ratios[i].map_or("-".into(), |r| format!("{r:.3} × std time")),
        });
    }
}

/// Child mode: hold 1 GiB of touched memory, then spawn `/bin/true` `k`
/// times with std, through posix_spawn (`posix`) or fork (`fork`, any
/// `pre_exec` hook forces it). Prints seconds per call.
fn child_spawn_1g(mode: &str, k: usize) {
    let ballast = vec![1u8; GIB as usize];
    std::hint::black_box(&ballast);
    let t = Instant::now();
    for _ in 0..k {
        let mut c = std::process::Command::new("/bin/true");
        if mode == "fork" {
            // SAFETY: an empty hook; it only forces std off posix_spawn.
            unsafe { c.pre_exec(|| Ok(())) };
        }
        assert!(c.status().expect("spawn /bin/true").success());
    }
    println!("{}", t.elapsed().as_secs_f64() / k as f64);
    drop(ballast);
}

// ---------------------------------------------------------------------------
// 2. check_output of 1 GiB, with peak memory
// ---------------------------------------------------------------------------

const PY_CAPTURE: &str = r#"
import os, resource, subprocess, sys, time
if sys.argv[1] != '-':
    os.sched_setaffinity(0, {int(sys.argv[1])})
r0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
t = time.perf_counter()
p = subprocess.run(sys.argv[2:], capture_output=True)
dt = time.perf_counter() - t
r1 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(dt, r1 * 1024, r0 * 1024, len(p.stdout))
"#;

fn spew_args(stdout: u64, stderr: u64) -> Vec<String> {
    let mut args = Vec::new();
    if stdout > 0 {
        args.extend(["--stdout".to_owned(), stdout.to_string()]);
    }
    if stderr > 0 {
        args.extend(["--stderr".to_owned(), stderr.to_string()]);
    }
    args.extend(["--chunk".to_owned(), "1M".to_owned()]);
    args
}

const CAPTURE_CONTENDERS: [(&str, &str); 4] = [
    ("std", "std output()"),
    ("pipe-run", "pipe-run check_output()"),
    ("duct", "duct stdout_capture().run()"),
    ("subprocess", "subprocess capture()"),
];

fn scenario_capture(cfg: &Config, goals: &mut Vec<Goal>) {
    let size = cfg.capture_size;
    let rounds = cfg.rounds(5, 3);
    let cpu: OsString = cfg.pin.map_or("-".into(), |p| p.0.to_string()).into();
    let (program, args) = cfg.producer(size, 0);
    let mut cmdline: Vec<OsString> = vec![cpu, program];
    cmdline.extend(args);
    let mut cs: Vec<Contender<'_>> = CAPTURE_CONTENDERS
        .iter()
        .map(|&(who, name)| {
            let mut child_args: Vec<OsString> = vec!["capture".into(), who.into()];
            child_args.extend(cmdline.iter().cloned());
            contender(name, move || {
                let v = reexec(&child_args)?;
                check_len(who, v[3] as u64, size)?;
                Ok(Sample {
                    secs: v[0],
                    peak: Some((v[1] as u64, v[2] as u64)),
                    ..Sample::default()
                })
            })
        })
        .collect();
    if let Some(py) = &cfg.python {
        let args = cmdline.clone();
        cs.push(contender("python run(capture_output=True)", move || {
            let v = python(py, PY_CAPTURE, &args)?;
            check_len("python", v[3] as u64, size)?;
            Ok(Sample {
                secs: v[0],
                peak: Some((v[1] as u64, v[2] as u64)),
                ..Sample::default()
            })
        }));
    }
    let series = run_rounds("capture", rounds, 0, &mut cs);
    let peak_ratio = |s: &Series| {
        s.median(|x| {
            x.peak
                .map(|(p, base)| (p - base.min(p)) as f64 / size as f64)
        })
    };
    let peak_col = |s: &Series| match (s.median(|x| x.peak.map(|p| p.0 as f64)), peak_ratio(s)) {
        (Some(p), Some(r)) => format!("{:.0} MiB ({r:.3} ×)", p / MIB as f64),
        _ => "-".into(),
    };
    let ratios = report_times(
        &format!(
            "2. capture {} of stdout (`spew --stdout {} --chunk 1M`), each contender in a fresh process{}",
            show_size(size),
            show_size(size),
            pin_note(cfg)
        ),
        &series,
        0,
        size,
        &[("peak RSS (growth / output)", &peak_col)],
    );
    if let Some(i) = find(&series, "pipe-run") {
        goals.push(Goal {
            text: format!("check_output of {} ≥ 1.5 × std output()", show_size(size)),
            met: ratios[i].map(|r| 1.0 / r >= 1.5),
            got: ratios[i].map_or("-".into(), |r| format!("{:.2} × std speed", 1.0 / r)),
        });
        let pr = peak_ratio(&series[i]);
        goals.push(Goal {
            text: "check_output peak memory ≤ 1.05 × output size".into(),
            met: pr.map(|r| r <= 1.05),
            got: pr.map_or("-".into(), |r| format!("{r:.3} × output")),
        });
    }
}

/// Child mode: capture the stdout of `program args` with one contender,
/// running on `cpu` (`-`: anywhere); prints
/// `seconds peak_rss rss_before length`.
fn child_capture(who: &str, cpu: &str, program: &str, args: &[&str]) {
    if let Ok(cpu) = cpu.parse() {
        set_thread_cpus(&[cpu]);
    }
    let spew = program;
    let before = self_maxrss();
    let t = Instant::now();
    let out: Vec<u8> = match who {
        "std" => {
            let o = std::process::Command::new(spew)
                .args(args)
                .output()
                .expect("std output");
            assert!(o.status.success());
            o.stdout
        }
        "pipe-run" => pipe_run::Command::new(spew)
            .args(args)
            .check_output()
            .expect("check_output"),
        "duct" => {
            duct::cmd(spew, args)
                .stdout_capture()
                .run()
                .expect("duct")
                .stdout
        }
        "subprocess" => {
            let job = subprocess::Exec::cmd(spew)
                .args(args)
                .stdout(subprocess::Redirection::Pipe)
                .start()
                .expect("subprocess start");
            let c = job.capture().expect("subprocess capture");
            assert!(c.success());
            c.stdout
        }
        _ => panic!("unknown contender {who}"),
    };
    let secs = t.elapsed().as_secs_f64();
    let peak = self_maxrss();
    println!("{secs} {peak} {before} {}", out.len());
}

// ---------------------------------------------------------------------------
// 3. streaming to a sink
// ---------------------------------------------------------------------------

const PY_STREAM: &str = r#"
import os, subprocess, sys, time
if sys.argv[1] != '-':
    os.sched_setaffinity(0, {int(sys.argv[1])})
buf = memoryview(bytearray(1 << 20))
t = time.perf_counter()
p = subprocess.Popen(sys.argv[2:], stdout=subprocess.PIPE, bufsize=0)
readinto = p.stdout.readinto
total = 0
while True:
    n = readinto(buf)
    if not n:
        break
    total += n
p.stdout.close()
p.wait()
print(time.perf_counter() - t, total)
"#;

fn scenario_stream(cfg: &Config, goals: &mut Vec<Goal>) {
    let size = cfg.stream_size;
    let rounds = cfg.rounds(5, 3);
    let (program, args) = cfg.producer(size, 0);
    let spew = &program;
    let _pinned = Pinned::to(cfg.pin.map(|p| p.0));
    let buf = std::cell::RefCell::new(vec![0u8; READ_BUF]);
    let std_loop = |grow: bool| -> Result<Sample, String> {
        let mut buf = buf.borrow_mut();
        let t = Instant::now();
        let mut child = std::process::Command::new(spew)
            .args(&args)
            .stdout(Stdio::piped())
            .spawn()
            .map_err(err)?;
        let out = child.stdout.take().unwrap();
        if grow {
            grow_pipe(&out, MIB);
        }
        let pipe = pipe_size(&out);
        let n = drain(out, &mut buf)?;
        child.wait().map_err(err)?;
        let secs = t.elapsed().as_secs_f64();
        check_len("std", n, size)?;
        Ok(Sample {
            secs,
            pipe: Some(pipe),
            ..Sample::default()
        })
    };
    let mut cs = vec![
        contender("std read loop, default pipe", || std_loop(false)),
        contender("pipe-run take_stdout() read loop", || {
            let mut buf = buf.borrow_mut();
            let t = Instant::now();
            let mut p = pipe_run::Command::new(spew)
                .args(&args)
                .stdout(Redirect::Pipe)
                .spawn()
                .map_err(err)?;
            let out = p.take_stdout().ok_or("no stdout pipe")?;
            let pipe = pipe_size(&out);
            let n = drain(out, &mut buf)?;
            p.wait().map_err(err)?;
            let secs = t.elapsed().as_secs_f64();
            check_len("pipe-run", n, size)?;
            Ok(Sample {
                secs,
                pipe: Some(pipe),
                ..Sample::default()
            })
        }),
        contender("std read loop, pipe grown to 1 MiB by hand", || {
            std_loop(true)
        }),
    ];
    // The peers read a default pipe just like the std loop; they cost a
    // minute per run at 4 GiB, so they are opt-in here.
    let peers = vec![
        contender("duct reader()", || {
            let mut buf = buf.borrow_mut();
            let t = Instant::now();
            let reader = duct::cmd(spew, &args).reader().map_err(err)?;
            let n = drain(&reader, &mut buf)?;
            reader
                .try_wait()
                .map_err(err)?
                .ok_or("duct reader: child not done")?;
            let secs = t.elapsed().as_secs_f64();
            check_len("duct", n, size)?;
            Ok(Sample::secs(secs))
        }),
        contender("subprocess stream_stdout()", || {
            let mut buf = buf.borrow_mut();
            let t = Instant::now();
            let reader = subprocess::Exec::cmd(spew)
                .args(&args)
                .stream_stdout()
                .map_err(err)?;
            let n = drain(reader, &mut buf)?; // dropping the reader waits for the child
            let secs = t.elapsed().as_secs_f64();
            check_len("subprocess", n, size)?;
            Ok(Sample::secs(secs))
        }),
    ];
    let with_peers = env_flag("PIPE_RUN_BENCH_STREAM_PEERS");
    if with_peers {
        cs.extend(peers);
    }
    if let (Some(py), true) = (&cfg.python, with_peers) {
        let mut pargs: Vec<OsString> = vec![
            cfg.pin.map_or("-".into(), |p| p.0.to_string()).into(),
            spew.clone(),
        ];
        pargs.extend(args.iter().cloned());
        cs.push(contender("python Popen readinto loop", move || {
            let v = python(py, PY_STREAM, &pargs)?;
            check_len("python", v[1] as u64, size)?;
            Ok(Sample::secs(v[0]))
        }));
    }
    let series = run_rounds("stream", rounds, 0, &mut cs);
    let pipe_col = |s: &Series| {
        s.median(|x| x.pipe.map(|p| p as f64))
            .map_or("-".into(), |p| show_size(p as u64))
    };
    let ratios = report_times(
        &format!(
            "3. stream {} of stdout to a sink (read loop, {} buffer{})",
            show_size(size),
            show_size(READ_BUF as u64),
            pin_note(cfg)
        ),
        &series,
        0,
        size,
        &[("pipe", &pipe_col)],
    );
    if let Some(i) = find(&series, "pipe-run") {
        goals.push(Goal {
            text: format!(
                "streaming {} ≥ 2.5 × std read loop on a default pipe",
                show_size(size)
            ),
            met: ratios[i].map(|r| 1.0 / r >= 2.5),
            got: match ratios[i] {
                Some(r) => format!("{:.2} × std speed, pipe {}", 1.0 / r, pipe_col(&series[i])),
                None => "-".into(),
            },
        });
    }
}

// ---------------------------------------------------------------------------
// 4. both directions at once
// ---------------------------------------------------------------------------

/// `cat` copies stdin to stdout while a backgrounded spew writes to stderr:
/// all three pipes busy at once. (dash does not exec its last command, so
/// the shell stays the direct child; it is the same for every contender.)
const BOTH_SCRIPT: &str = r#""$1" --stderr "$2" --chunk 1M & cat; wait"#;

const PY_BOTH: &str = r#"
import subprocess, sys, time
data = b'x' * int(sys.argv[1])
t = time.perf_counter()
p = subprocess.run(sys.argv[2:], input=data, capture_output=True)
print(time.perf_counter() - t, len(p.stdout), len(p.stderr))
"#;

/// Input shared with the `subprocess` crate without copying it per run.
struct Shared(Arc<Vec<u8>>);

impl AsRef<[u8]> for Shared {
    fn as_ref(&self) -> &[u8] {
        &self.0
    }
}

fn scenario_both(cfg: &Config, goals: &mut Vec<Goal>) {
    let (n_io, n_err) = (cfg.both_size, cfg.both_stderr);
    let rounds = cfg.rounds(9, 3);
    let data = Arc::new(vec![b'x'; n_io as usize]);
    let sh_args: Vec<OsString> = vec![
        "-c".into(),
        BOTH_SCRIPT.into(),
        "sh".into(),
        cfg.spew.clone().into(),
        n_err.to_string().into(),
    ];
    let check = |who: &str, out: usize, err_len: usize| -> Result<(), String> {
        check_len(&format!("{who} stdout"), out as u64, n_io)?;
        check_len(&format!("{who} stderr"), err_len as u64, n_err)
    };
    // Commands that own their input are built once, outside the timing, as
    // a program that runs them repeatedly would.
    let ours = pipe_run::Command::new("sh").args(&sh_args).input(&data[..]);
    let duct_expr = duct::cmd("sh", &sh_args)
        .stdin_bytes(data.to_vec())
        .stdout_capture()
        .stderr_capture()
        .unchecked();
    let mut cs = vec![
        contender("std + writer thread", || {
            let t = Instant::now();
            let mut child = std::process::Command::new("sh")
                .args(&sh_args)
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .map_err(err)?;
            let mut stdin = child.stdin.take().unwrap();
            let out = std::thread::scope(|s| {
                s.spawn(|| {
                    let _ = stdin.write_all(&data);
                    drop(stdin);
                });
                child.wait_with_output()
            })
            .map_err(err)?;
            let secs = t.elapsed().as_secs_f64();
            check("std", out.stdout.len(), out.stderr.len())?;
            Ok(Sample::secs(secs))
        }),
        contender("pipe-run run() with input()", || {
            let t = Instant::now();
            let done = ours.run().map_err(err)?;
            let secs = t.elapsed().as_secs_f64();
            check("pipe-run", done.stdout.len(), done.stderr.len())?;
            Ok(Sample::secs(secs))
        }),
        contender("pipe-run spawn() + communicate(&input)", || {
            let t = Instant::now();
            let mut p = pipe_run::Command::new("sh")
                .args(&sh_args)
                .stdin(Redirect::Pipe)
                .stdout(Redirect::Pipe)
                .stderr(Redirect::Pipe)
                .spawn()
                .map_err(err)?;
            let (out, e) = p.communicate(Some(&data), None).map_err(err)?;
            let secs = t.elapsed().as_secs_f64();
            check("pipe-run", out.len(), e.len())?;
            Ok(Sample::secs(secs))
        }),
        contender("duct run() (stdin_bytes + captures)", || {
            let t = Instant::now();
            let out = duct_expr.run().map_err(err)?;
            let secs = t.elapsed().as_secs_f64();
            check("duct", out.stdout.len(), out.stderr.len())?;
            Ok(Sample::secs(secs))
        }),
        contender("subprocess capture()", || {
            let t = Instant::now();
            let c = subprocess::Exec::cmd("sh")
                .args(&sh_args)
                .stdin(subprocess::InputData::from_bytes(Shared(data.clone())))
                .stdout(subprocess::Redirection::Pipe)
                .stderr(subprocess::Redirection::Pipe)
                .capture()
                .map_err(err)?;
            let secs = t.elapsed().as_secs_f64();
            check("subprocess", c.stdout.len(), c.stderr.len())?;
            Ok(Sample::secs(secs))
        }),
    ];
    if let Some(py) = &cfg.python {
        let mut pargs: Vec<OsString> = vec![n_io.to_string().into(), "sh".into()];
        pargs.extend(sh_args.iter().cloned());
        cs.push(contender(
            "python run(input=, capture_output=True)",
            move || {
                let v = python(py, PY_BOTH, &pargs)?;
                check("python", v[1] as usize, v[2] as usize)?;
                Ok(Sample::secs(v[0]))
            },
        ));
    }
    let series = run_rounds("both", rounds, 1, &mut cs);
    let moved = 2 * n_io + n_err;
    let ratios = report_times(
        &format!(
            "4. both directions: {} in to cat, {} out, {} on stderr (throughput counts all {})",
            show_size(n_io),
            show_size(n_io),
            show_size(n_err),
            show_size(moved)
        ),
        &series,
        0,
        moved,
        &[],
    );
    for name in ["pipe-run run()", "pipe-run spawn()"] {
        if let Some(i) = find(&series, name) {
            goals.push(Goal {
                text: format!("both directions, {} ≥ std + writer thread", series[i].name),
                met: ratios[i].map(|r| r <= 1.0),
                got: ratios[i].map_or("-".into(), |r| format!("{:.2} × std speed", 1.0 / r)),
            });
        }
    }
}

// ---------------------------------------------------------------------------
// 5. timeout precision
// ---------------------------------------------------------------------------

const PY_TIMEOUT: &str = r#"
import resource, subprocess, sys, time
def csw():
    return resource.getrusage(resource.RUSAGE_THREAD).ru_nvcsw
limit = float(sys.argv[1])
mode = sys.argv[2]
subprocess.run(['true'])
if mode == 'run':
    c0 = csw(); t0 = time.perf_counter()
    try:
        subprocess.run(['sleep', '1'], timeout=limit)
        sys.exit('no timeout')
    except subprocess.TimeoutExpired:
        pass
    t1 = time.perf_counter(); c1 = csw()
    print(t1 - t0 - limit, -1, -1, c1 - c0)
else:
    c0 = csw()
    p = subprocess.Popen(['sleep', '1'])
    c1 = csw(); t1 = time.perf_counter()
    try:
        p.wait(timeout=limit)
        sys.exit('no timeout')
    except subprocess.TimeoutExpired:
        pass
    t2 = time.perf_counter(); c2 = csw()
    p.kill(); p.wait()
    t3 = time.perf_counter(); c3 = csw()
    print(t3 - t1 - limit, t2 - t1 - limit, c2 - c1, c3 - c0)
"#;

/// Times a wait-with-timeout, then kill and reap. `spawn` starts `sleep 1`;
/// `wait` waits at most `limit` and must report that the child still runs;
/// `finish` kills and reaps it.
fn timed_wait<H>(
    limit: Duration,
    spawn: impl FnOnce() -> Result<H, String>,
    wait: impl FnOnce(&H) -> Result<bool, String>,
    finish: impl FnOnce(H) -> Result<(), String>,
) -> Result<Sample, String> {
    let c0 = thread_wakeups();
    let h = spawn()?;
    let c1 = thread_wakeups();
    let t1 = Instant::now();
    if wait(&h)? {
        return Err("the child finished before the timeout".into());
    }
    let t2 = Instant::now();
    let c2 = thread_wakeups();
    finish(h)?;
    let t3 = Instant::now();
    let c3 = thread_wakeups();
    let lim = limit.as_secs_f64();
    Ok(Sample {
        secs: (t3 - t1).as_secs_f64() - lim,
        noticed: Some((t2 - t1).as_secs_f64() - lim),
        wakeups_wait: Some((c2 - c1) as f64),
        wakeups_total: Some((c3 - c0) as f64),
        ..Sample::default()
    })
}

fn scenario_timeout(cfg: &Config, goals: &mut Vec<Goal>) {
    let limit = cfg.timeout;
    let rounds = cfg.rounds(15, 5);
    let mut cs = vec![
        contender("pipe-run run() with timeout()", || {
            let cmd = pipe_run::Command::new("sleep").arg("1").timeout(limit);
            let c0 = thread_wakeups();
            let t0 = Instant::now();
            let result = cmd.run();
            let t1 = Instant::now();
            let c1 = thread_wakeups();
            match result {
                Err(e) if e.kind() == ErrorKind::Timeout => {}
                other => return Err(format!("expected a timeout, got {other:?}")),
            }
            Ok(Sample {
                secs: (t1 - t0).as_secs_f64() - limit.as_secs_f64(),
                wakeups_total: Some((c1 - c0) as f64),
                ..Sample::default()
            })
        }),
        contender("pipe-run wait_timeout() + kill()", || {
            timed_wait(
                limit,
                || {
                    pipe_run::Command::new("sleep")
                        .arg("1")
                        .spawn()
                        .map_err(err)
                },
                |p| Ok(p.wait_timeout(limit).map_err(err)?.is_some()),
                |p| {
                    p.kill().map_err(err)?;
                    p.wait().map(drop).map_err(err)
                },
            )
        }),
        contender("duct wait_timeout() + kill()", || {
            timed_wait(
                limit,
                || duct::cmd!("sleep", "1").unchecked().start().map_err(err),
                |h| Ok(h.wait_timeout(limit).map_err(err)?.is_some()),
                |h| {
                    h.kill().map_err(err)?;
                    h.wait().map(drop).map_err(err)
                },
            )
        }),
        contender("subprocess wait_timeout() + kill()", || {
            timed_wait(
                limit,
                || subprocess::Exec::cmd("sleep").arg("1").start().map_err(err),
                |j| Ok(j.wait_timeout(limit).map_err(err)?.is_some()),
                |j| {
                    j.kill().map_err(err)?;
                    j.wait().map(drop).map_err(err)
                },
            )
        }),
    ];
    if let Some(py) = &cfg.python {
        let lim = limit.as_secs_f64().to_string();
        for (name, mode) in [
            ("python run(timeout=)", "run"),
            ("python wait(timeout=) + kill()", "wait"),
        ] {
            let py = py.clone();
            let lim = lim.clone();
            cs.push(contender(name, move || {
                let v = python(&py, PY_TIMEOUT, &[lim.clone().into(), mode.into()])?;
                let opt = |x: f64| (x >= 0.0 || mode == "wait").then_some(x);
                Ok(Sample {
                    secs: v[0],
                    noticed: if mode == "wait" { Some(v[1]) } else { None },
                    wakeups_wait: opt(v[2]).filter(|_| mode == "wait"),
                    wakeups_total: Some(v[3]),
                    ..Sample::default()
                })
            }));
        }
    }
    let series = run_rounds("timeout", rounds, 1, &mut cs);
    let ms = |x: Option<f64>| x.map_or("-".into(), |v| format!("{:.3} ms", v * 1e3));
    let count = |x: Option<f64>| x.map_or("-".into(), |v| format!("{v:.0}"));
    let mut table = Table::new(&[
        "contender",
        "deadline → wait returns",
        "deadline → killed + reaped",
        "wake-ups in the wait",
        "wake-ups, whole call",
        "rounds",
    ]);
    for s in &series {
        table.row(vec![
            match &s.error {
                Some(e) => format!("{} (failed: {})", s.name, truncate(e, 40)),
                None => s.name.clone(),
            },
            ms(s.median(|x| x.noticed)),
            ms(s.median(|x| Some(x.secs))),
            count(s.median(|x| x.wakeups_wait)),
            count(s.median(|x| x.wakeups_total)),
            s.samples.iter().flatten().count().to_string(),
        ]);
    }
    println!(
        "\n### 5. timeout: `sleep 1` with a {} ms timeout (medians of {rounds} rounds; \
         a wake-up is one voluntary context switch of the calling thread)\n",
        limit.as_millis()
    );
    print!("{}", table.render());
    if let Some(i) = find(&series, "pipe-run run()") {
        let over = series[i].median(|x| Some(x.secs));
        goals.push(Goal {
            text: "run() with a timeout returns within 1 ms of the deadline (killed and reaped)"
                .into(),
            met: over.map(|o| o <= 1e-3),
            got: ms(over),
        });
    }
    if let Some(i) = find(&series, "pipe-run wait_timeout()") {
        let w = series[i].median(|x| x.wakeups_wait);
        goals.push(Goal {
            text: "waiting for a timeout takes one wake-up".into(),
            met: w.map(|w| w <= 1.0),
            got: count(w),
        });
    }
}

// ---------------------------------------------------------------------------

/// Runs one scenario, printing its table and adding its goals.
type ScenarioFn = fn(&Config, &mut Vec<Goal>);

fn machine_line() -> String {
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    let load: Vec<&str> = load.split_whitespace().take(3).collect();
    let cpus = std::thread::available_parallelism().map_or(0, |n| n.get());
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
    format!(
        "{cpus} CPUs, Linux {}, load average {}",
        kernel.trim(),
        load.join(" ")
    )
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("--child") {
        let rest: Vec<&str> = args[1..].iter().map(String::as_str).collect();
        match rest.as_slice() {
            ["capture", who, cpu, program, args @ ..] => child_capture(who, cpu, program, args),
            ["spawn-1g", mode, k] => child_spawn_1g(mode, k.parse().expect("count")),
            other => panic!("unknown child mode {other:?}"),
        }
        return;
    }
    // cargo passes `--bench`; anything that is not a flag selects scenarios.
    let filters: Vec<String> = args.into_iter().filter(|a| !a.starts_with('-')).collect();
    let cfg = Config::from_env(filters);

    println!("# pipe-run engine benchmark");
    println!();
    println!("- machine: {}", machine_line());
    println!(
        "- sizes: capture {}, stream {}, both {} in/out + {} stderr; spawn batches of {}; timeout {} ms{}",
        show_size(cfg.capture_size),
        show_size(cfg.stream_size),
        show_size(cfg.both_size),
        show_size(cfg.both_stderr),
        cfg.spawn_batch,
        cfg.timeout.as_millis(),
        if cfg.quick {
            " (PIPE_RUN_BENCH_QUICK)"
        } else {
            ""
        }
    );
    println!(
        "- peers: std::process, duct, subprocess crate{}",
        cfg.python.as_ref().map_or(String::new(), |p| {
            let v = std::process::Command::new(p)
                .arg("--version")
                .output()
                .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
                .unwrap_or_default();
            format!(", {v} (timed inside the interpreter)")
        })
    );
    println!("- ratios are per round against the first (std) row, then the median over rounds");

    let mut goals = Vec::new();
    let scenarios: [(&str, ScenarioFn); 5] = [
        ("spawn", scenario_spawn),
        ("capture", scenario_capture),
        ("stream", scenario_stream),
        ("both", scenario_both),
        ("timeout", scenario_timeout),
    ];
    let started = Instant::now();
    for (name, run) in scenarios {
        if cfg.wants(name) {
            run(&cfg, &mut goals);
        }
    }

    if !goals.is_empty() {
        let mut table = Table::new(&["goal (issue 2)", "result", "met"]);
        for g in &goals {
            let met = match g.met {
                Some(true) => "yes",
                Some(false) => "NO",
                None => "?",
            };
            table.row(vec![g.text.clone(), g.got.clone(), met.into()]);
        }
        println!("\n### Goals\n");
        print!("{}", table.render());
    }
    println!("\n(total {:.0} s)", started.elapsed().as_secs_f64());
}
