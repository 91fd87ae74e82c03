//! Timeouts on `call`, `check_call`, `check_output` and `run` kill the command and its
//! descendants, return promptly with the partial output even when an escaped
//! descendant holds the pipes, and waiting burns no CPU (issue 2, behaviour 4).
//!
//! "Promptly" is asserted as deadline + 500 ms: the behaviour being ruled out (waiting
//! for the 30 s sleepers below) would take 30 s, and the machine is noisy.

mod common;
mod support;

use std::os::unix::process::ExitStatusExt;
use std::path::Path;
use std::process::ExitStatus;
use std::time::{Duration, Instant};

use common::{KillOnDrop, TempDir, err, ok, read_pid_file, show_err};
use pipe_run::{Command, Error, ErrorKind, Redirect};
use support::{fixture, process_alive, spew_bytes, spew_err_bytes, wait_until, zombie_children};

/// How late past its deadline a timed-out call may return.
const MARGIN: Duration = Duration::from_millis(500);

/// Long enough for a fixture to start and write its pid file on a loaded machine.
const TREE_TIMEOUT: Duration = Duration::from_millis(700);

/// `grandchild` whose parent (our child) sleeps `parent_sleep` s and whose grandchild
/// sleeps 30 s, writing the grandchild's pid to `pid_file`.
fn grandchild(pid_file: &Path, parent_sleep: &str, setsid: bool) -> Command {
    let cmd = Command::new(fixture("grandchild"))
        .args([
            "--sleep",
            "30",
            "--parent-sleep",
            parent_sleep,
            "--pid-file",
        ])
        .arg(pid_file);
    if setsid { cmd.arg("--setsid") } else { cmd }
}

/// Runs `f`, returning its result and how long it took.
fn timed<T>(f: impl FnOnce() -> T) -> (T, Duration) {
    let start = Instant::now();
    let value = f();
    (value, start.elapsed())
}

/// Asserts `e` is the timeout error of a command killed by SIGKILL at `timeout`, that
/// came back no later than `timeout + MARGIN`.
#[track_caller]
fn assert_killed_at_timeout(e: &Error, timeout: Duration, elapsed: Duration) {
    assert_eq!(e.kind(), ErrorKind::Timeout, "{}", show_err(e));
    assert_eq!(e.timeout(), Some(timeout), "{}", show_err(e));
    assert_eq!(
        e.status().and_then(|s| s.signal()),
        Some(libc::SIGKILL),
        "the command must be killed by SIGKILL{}",
        show_err(e)
    );
    assert!(
        elapsed >= timeout,
        "returned after {elapsed:?}, before the {timeout:?} deadline{}",
        show_err(e)
    );
    assert!(
        elapsed < timeout + MARGIN,
        "returned {elapsed:?} after the start, for a {timeout:?} timeout{}",
        show_err(e)
    );
}

/// Asserts the grandchild `pid` dies (it is not our child: once killed it is gone or
/// a zombie of init).
#[track_caller]
fn assert_dies(pid: u32, what: &str) {
    assert!(
        wait_until(Duration::from_secs(5), || !process_alive(pid)),
        "{what}: grandchild {pid} survived the timeout"
    );
}

/// Every run-style method with a timeout, as a closure giving the error and the
/// stdout it captured. `call` and `check_call` get stdout and stderr from redirects.
/// A run-style method, reduced to whether it failed.
type Method = fn(&Command) -> Result<(), Error>;

fn methods() -> Vec<(&'static str, Method)> {
    vec![
        ("call", |c| {
            c.clone().stdout(Redirect::Null).call().map(drop)
        }),
        ("check_call", |c| {
            c.clone().stdout(Redirect::Null).check_call()
        }),
        ("check_output", |c| c.check_output().map(drop)),
        ("run", |c| c.run().map(drop)),
    ]
}

#[test]
fn every_run_method_kills_the_process_group_including_grandchildren_on_timeout() {
    let dir = TempDir::new("tree-kill");
    let handles: Vec<_> = methods()
        .into_iter()
        .map(|(name, method)| {
            let pid_file = dir.path().join(name);
            std::thread::spawn(move || {
                let cmd = grandchild(&pid_file, "30", false).timeout(TREE_TIMEOUT);
                let (result, elapsed) = timed(|| method(&cmd));
                let pid = read_pid_file(&pid_file);
                let _cleanup = KillOnDrop(pid);
                let e = err(result, name);
                assert_killed_at_timeout(&e, TREE_TIMEOUT, elapsed);
                if matches!(name, "check_output" | "run") {
                    assert_eq!(
                        e.stdout(),
                        format!("grandchild {pid}\n").as_bytes(),
                        "{name}: partial stdout{}",
                        show_err(&e)
                    );
                }
                assert_dies(pid, name);
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap();
    }
    assert!(
        wait_until(Duration::from_secs(5), || zombie_children().is_empty()),
        "zombies left: {:?}",
        zombie_children()
    );
}

#[test]
fn timeout_returns_on_time_while_an_escaped_descendant_holds_the_pipes() {
    let dir = TempDir::new("escaped");
    for (name, method) in methods() {
        let pid_file = dir.path().join(name);
        // Our child sleeps 30 s; its grandchild left the process group (setsid) and
        // keeps stdout and stderr open for 30 s after the group is killed.
        let cmd = grandchild(&pid_file, "30", true).timeout(TREE_TIMEOUT);
        let (result, elapsed) = timed(|| method(&cmd));
        let pid = read_pid_file(&pid_file);
        let _cleanup = KillOnDrop(pid);
        let e = err(result, name);
        assert_killed_at_timeout(&e, TREE_TIMEOUT, elapsed);
        assert!(
            process_alive(pid),
            "{name}: the escaped grandchild should still run (else this test proves nothing)"
        );
        if matches!(name, "check_output" | "run") {
            assert_eq!(
                e.stdout(),
                format!("grandchild {pid}\n").as_bytes(),
                "{name}{}",
                show_err(&e)
            );
        }
    }
}

#[test]
fn timeout_returns_on_time_when_the_child_exited_but_an_escaped_descendant_holds_the_pipes() {
    let dir = TempDir::new("escaped-exited");
    let pid_file = dir.path().join("pid");
    // Our child exits at once with code 0; only the escaped grandchild keeps the pipes
    // open, so without the timeout `run` would wait for its 30 s.
    let cmd = grandchild(&pid_file, "0", true).timeout(TREE_TIMEOUT);
    let (result, elapsed) = timed(|| cmd.run());
    let pid = read_pid_file(&pid_file);
    let _cleanup = KillOnDrop(pid);
    let e = err(result, "run");
    assert_eq!(e.kind(), ErrorKind::Timeout, "{}", show_err(&e));
    assert!(
        elapsed >= TREE_TIMEOUT && elapsed < TREE_TIMEOUT + MARGIN,
        "took {elapsed:?}"
    );
    assert_eq!(
        e.status().and_then(|s| s.code()),
        Some(0),
        "{}",
        show_err(&e)
    );
    assert_eq!(
        e.stdout(),
        format!("grandchild {pid}\n").as_bytes(),
        "{}",
        show_err(&e)
    );
}

#[test]
fn timeout_without_a_new_process_group_kills_only_the_child() {
    let dir = TempDir::new("no-group");
    let pid_file = dir.path().join("pid");
    let cmd = grandchild(&pid_file, "30", false)
        .timeout(TREE_TIMEOUT)
        .new_process_group(false);
    let (result, elapsed) = timed(|| cmd.run());
    let pid = read_pid_file(&pid_file);
    let _cleanup = KillOnDrop(pid);
    let e = err(result, "run");
    assert_killed_at_timeout(&e, TREE_TIMEOUT, elapsed);
    assert!(
        process_alive(pid),
        "new_process_group(false) must not kill the grandchild"
    );
}

#[test]
fn zero_and_tiny_timeouts_kill_at_once() {
    for timeout in [
        Duration::ZERO,
        Duration::from_nanos(1),
        Duration::from_micros(1),
        Duration::from_millis(1),
        Duration::from_millis(10),
    ] {
        let cmd = Command::new(fixture("sleep")).arg("30").timeout(timeout);
        let (result, elapsed) = timed(|| cmd.run());
        let e = err(result, format!("run with timeout {timeout:?}"));
        assert_killed_at_timeout(&e, timeout, elapsed);

        let (result, elapsed) = timed(|| cmd.call());
        let e = err(result, format!("call with timeout {timeout:?}"));
        assert_killed_at_timeout(&e, timeout, elapsed);
    }
}

#[test]
fn a_timeout_that_does_not_expire_changes_nothing() {
    let cmd = Command::new(fixture("exit-with"))
        .args(["3", "--stdout", "out", "--stderr", "err"])
        .timeout(Duration::from_secs(20));
    let (result, elapsed) = timed(|| cmd.run());
    let done = ok(result, "run");
    assert_eq!(done.status.code(), Some(3));
    assert_eq!(
        (&done.stdout[..], &done.stderr[..]),
        (&b"out"[..], &b"err"[..])
    );
    assert!(elapsed < Duration::from_secs(10), "took {elapsed:?}");
    let status = ok(
        cmd.clone()
            .stdout(Redirect::Null)
            .stderr(Redirect::Null)
            .call(),
        "call",
    );
    assert_eq!(status.code(), Some(3));
}

#[test]
fn timeout_keeps_exactly_the_output_written_before_the_deadline() {
    // spew writes its first 10 KiB chunk at once and the next only after 20 s.
    let timeout = Duration::from_millis(500);
    let cmd = Command::new(fixture("spew"))
        .args(["--stdout", "100K", "--chunk", "10K", "--delay-ms", "20000"])
        .timeout(timeout);
    let (result, elapsed) = timed(|| cmd.check_output());
    let e = err(result, "check_output");
    assert_killed_at_timeout(&e, timeout, elapsed);
    assert_eq!(e.stdout(), &spew_bytes(10 << 10)[..], "{}", show_err(&e));

    let cmd = Command::new(fixture("spew"))
        .args(["--stderr", "100K", "--chunk", "10K", "--delay-ms", "20000"])
        .timeout(timeout);
    let (result, elapsed) = timed(|| cmd.run());
    let e = err(result, "run");
    assert_killed_at_timeout(&e, timeout, elapsed);
    assert!(e.stdout().is_empty(), "{}", show_err(&e));
    assert_eq!(
        e.stderr(),
        &spew_err_bytes(10 << 10)[..],
        "{}",
        show_err(&e)
    );
}

#[test]
fn timeout_stops_writing_input_and_keeps_the_partial_echo() {
    let input = common::noise(4 << 20, 30);
    let timeout = Duration::from_millis(300);
    let cmd = Command::new(fixture("slow-cat"))
        .args(["--chunk", "16384", "--delay-ms", "20"])
        .input(&input)
        .timeout(timeout);
    let (result, elapsed) = timed(|| cmd.run());
    let e = err(result, "run");
    assert_killed_at_timeout(&e, timeout, elapsed);
    assert!(!e.stdout().is_empty(), "{}", show_err(&e));
    assert!(
        input.starts_with(e.stdout()),
        "partial stdout is not a prefix of the input"
    );
}

#[test]
fn timeout_error_names_the_command_the_timeout_and_the_output_tail() {
    let timeout = Duration::from_millis(300);
    let cmd = Command::new(fixture("spew"))
        .args(["--stderr", "100", "--chunk", "64", "--delay-ms", "20000"])
        .timeout(timeout);
    let e = err(cmd.run(), "run");
    let expected = format!(
        "command `{}` timed out after 300ms; it was killed\n--- stderr (last lines) ---\n{}",
        cmd.command_line(),
        String::from_utf8_lossy(&spew_err_bytes(64)).trim_end()
    );
    assert_eq!(e.to_string(), expected, "{}", show_err(&e));
}

/// Voluntary context switches of this thread so far: one per time it blocked.
fn voluntary_switches() -> u64 {
    // SAFETY: gettid has no preconditions.
    let tid = unsafe { libc::gettid() };
    let status = std::fs::read_to_string(format!("/proc/self/task/{tid}/status")).unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("voluntary_ctxt_switches:"))
        .and_then(|v| v.trim().parse().ok())
        .expect("no voluntary_ctxt_switches in /proc/self/task/TID/status")
}

/// Whether a `call` came back as a test expects.
type Expected = fn(&Result<ExitStatus, Error>) -> bool;

#[test]
fn waiting_for_a_timeout_burns_no_cpu_and_wakes_rarely() {
    let runs: [(&str, Command, Expected); 2] = [
        (
            "a child that exits before its timeout",
            Command::new(fixture("sleep"))
                .arg("0.6")
                .timeout(Duration::from_secs(20)),
            |r| r.as_ref().is_ok_and(|s| s.success()),
        ),
        (
            "a child killed at its timeout",
            Command::new(fixture("sleep"))
                .arg("30")
                .timeout(Duration::from_millis(600)),
            |r| r.as_ref().is_err_and(|e| e.kind() == ErrorKind::Timeout),
        ),
    ];
    for (what, cmd, expected) in runs {
        let (cpu, switches) = (common::thread_cpu_time(), voluntary_switches());
        let result = cmd.call();
        let (cpu, switches) = (
            common::thread_cpu_time() - cpu,
            voluntary_switches() - switches,
        );
        assert!(
            expected(&result),
            "{what}: {:?}",
            result.map_err(|e| show_err(&e))
        );
        // A busy loop would use the whole 600 ms; a sleep-poll every few ms would
        // block (and switch) a hundred times.
        assert!(
            cpu < Duration::from_millis(100),
            "{what}: used {cpu:?} of CPU"
        );
        assert!(switches <= 10, "{what}: blocked {switches} times");
    }
}

#[test]
fn timeout_keeps_an_exact_prefix_of_a_never_ending_stream() {
    // 64 KiB every 2 ms for as long as it lives: the partial output must be exactly
    // the start of the pattern, with nothing lost or repeated at the cut.
    let timeout = Duration::from_millis(300);
    let cmd = Command::new(fixture("spew"))
        .args(["--stdout", "1G", "--chunk", "64K", "--delay-ms", "2"])
        .timeout(timeout);
    let (result, elapsed) = timed(|| cmd.check_output());
    let e = err(result, "check_output");
    assert_killed_at_timeout(&e, timeout, elapsed);
    assert!(e.stdout().len() >= 64 << 10, "{}", show_err(&e));
    common::assert_bytes(
        "partial stdout",
        e.stdout(),
        &spew_bytes(e.stdout().len()),
        "",
    );
}

#[test]
fn timeout_of_a_shell_command_kills_the_program_the_shell_did_not_exec() {
    // dash runs `sleep` as a child of its own (it does not exec the last command), so
    // only killing the group reaches it.
    let script = format!(
        "'{}' 30 --print-pid; echo never",
        fixture("sleep").display()
    );
    let timeout = Duration::from_millis(700);
    let cmd = Command::shell(script).timeout(timeout);
    let (result, elapsed) = timed(|| cmd.run());
    let e = err(result, "run");
    assert_killed_at_timeout(&e, timeout, elapsed);
    let text = String::from_utf8_lossy(e.stdout()).into_owned();
    let pid: u32 = text
        .trim()
        .parse()
        .unwrap_or_else(|_| panic!("no pid from sleep --print-pid{}", show_err(&e)));
    let _cleanup = KillOnDrop(pid);
    assert_dies(pid, "the shell's sleep");
}
