//! The fallback for systems without pidfds (Linux before 5.3, the BSDs, macOS), forced
//! here with `PIPE_RUN_NO_PIDFD=1`: waiting, signalling, timeouts and reaping must
//! behave exactly as on the pidfd path.
//!
//! The library reads the variable once, at its first spawn, so every test sets it
//! first (through one `Once`) and this file is a test binary of its own.

mod common;
mod support;

use std::os::unix::process::ExitStatusExt;
use std::sync::{Arc, Once};
use std::thread;
use std::time::{Duration, Instant};

use common::{
    KillOnDrop, TempDir, assert_bytes, assert_reaped, err, kill, noise, ok, read_pid_file,
    show_done, show_err,
};
use pipe_run::{Command, ErrorKind, Redirect};
use support::{fixture, process_alive, spew_bytes, spew_err_bytes, wait_until};

const MARGIN: Duration = Duration::from_millis(500);

/// Turns pidfds off for the whole test binary before anything is spawned.
fn no_pidfd() {
    static SET: Once = Once::new();
    SET.call_once(|| {
        // SAFETY: every test calls this before doing anything else, and `Once` makes
        // the others wait until it returns, so no thread reads the environment (by
        // spawning) while it is written.
        unsafe { std::env::set_var("PIPE_RUN_NO_PIDFD", "1") };
    });
}

/// Our descriptors that are pidfds (`anon_inode:[pidfd]` in /proc/self/fd).
fn open_pidfds() -> Vec<String> {
    std::fs::read_dir("/proc/self/fd")
        .unwrap()
        .filter_map(|e| std::fs::read_link(e.ok()?.path()).ok())
        .map(|target| target.display().to_string())
        .filter(|target| target.contains("pidfd"))
        .collect()
}

/// The `sleep` fixture, killed if its `Popen` drops (say, when an assertion fails)
/// unless a test sets `kill_on_drop(false)`.
fn sleeper(secs: &str) -> Command {
    Command::new(fixture("sleep")).arg(secs).kill_on_drop(true)
}

#[test]
fn the_fallback_is_really_in_use() {
    no_pidfd();
    let p = ok(sleeper("30").spawn(), "spawn");
    assert_eq!(
        open_pidfds(),
        Vec::<String>::new(),
        "a pidfd is open despite PIPE_RUN_NO_PIDFD"
    );
    ok(p.kill(), "kill");
    ok(p.wait(), "wait");
}

#[test]
fn wait_and_poll_report_the_exit_code() {
    no_pidfd();
    let p = ok(Command::new(fixture("exit-with")).arg("6").spawn(), "spawn");
    assert_eq!(ok(p.wait(), "wait").code(), Some(6));
    assert_eq!(ok(p.poll(), "poll").and_then(|s| s.code()), Some(6));
    assert_eq!(p.returncode(), Some(6));
}

#[test]
fn wait_timeout_and_wait_deadline_expire_then_see_the_kill() {
    no_pidfd();
    let p = ok(sleeper("30").spawn(), "spawn");
    let start = Instant::now();
    assert_eq!(
        ok(p.wait_timeout(Duration::from_millis(100)), "wait_timeout"),
        None
    );
    assert!(start.elapsed() >= Duration::from_millis(100), "woke early");
    assert!(
        start.elapsed() < Duration::from_millis(100) + MARGIN,
        "{:?}",
        start.elapsed()
    );
    let deadline = Instant::now() + Duration::from_millis(50);
    assert_eq!(ok(p.wait_deadline(deadline), "wait_deadline"), None);
    assert!(Instant::now() >= deadline);
    assert_eq!(ok(p.poll(), "poll"), None);
    ok(p.kill(), "kill");
    let status = ok(
        p.wait_timeout(Duration::from_secs(10)),
        "wait_timeout after kill",
    );
    assert_eq!(
        status.and_then(|s| s.signal()),
        Some(libc::SIGKILL),
        "{status:?}"
    );
}

#[test]
fn terminate_and_send_signal_deliver_their_signals() {
    no_pidfd();
    for (sig, send) in [
        (
            libc::SIGTERM,
            (|p: &pipe_run::Popen| p.terminate()) as fn(&pipe_run::Popen) -> _,
        ),
        (libc::SIGUSR2, |p| p.send_signal(libc::SIGUSR2)),
        (libc::SIGKILL, |p| p.kill()),
    ] {
        let p = ok(sleeper("30").spawn(), "spawn");
        ok(send(&p), "signal");
        assert_eq!(ok(p.wait(), "wait").signal(), Some(sig));
        assert_eq!(p.returncode(), Some(-sig));
        ok(send(&p), "signalling a reaped child");
    }
}

#[test]
fn one_thread_waits_while_another_polls_and_kills() {
    no_pidfd();
    let p = Arc::new(ok(sleeper("30").spawn(), "spawn"));
    let waiter = thread::spawn({
        let p = Arc::clone(&p);
        move || p.wait()
    });
    thread::sleep(Duration::from_millis(50));
    for _ in 0..20 {
        assert_eq!(ok(p.poll(), "poll"), None);
    }
    let start = Instant::now();
    ok(p.kill(), "kill");
    assert!(
        start.elapsed() < Duration::from_secs(1),
        "kill waited {:?} behind the blocked waiter",
        start.elapsed()
    );
    let status = ok(waiter.join().unwrap(), "wait in the other thread");
    assert_eq!(status.signal(), Some(libc::SIGKILL));
    assert_eq!(ok(p.wait(), "wait"), status);
    assert_eq!(ok(p.poll(), "poll"), Some(status));
}

#[test]
fn run_captures_both_streams_and_input() {
    no_pidfd();
    let (out_n, err_n) = (2 << 20, 3 << 20);
    let done = ok(
        Command::new(fixture("spew"))
            .args([
                "--stdout",
                &out_n.to_string(),
                "--stderr",
                &err_n.to_string(),
            ])
            .run(),
        "run",
    );
    assert!(done.status.success(), "{}", show_done(&done));
    assert_bytes("stdout", &done.stdout, &spew_bytes(out_n), show_done(&done));
    assert_bytes(
        "stderr",
        &done.stderr,
        &spew_err_bytes(err_n),
        show_done(&done),
    );

    let input = noise(3 << 20, 60);
    let out = ok(
        Command::new(fixture("slow-cat"))
            .input(&input)
            .check_output(),
        "check_output",
    );
    assert_bytes("stdout", &out, &input, "");
}

#[test]
fn run_with_a_timeout_kills_the_group_and_returns_on_time() {
    no_pidfd();
    let dir = TempDir::new("no-pidfd-tree");
    let pid_file = dir.path().join("pid");
    let timeout = Duration::from_millis(700);
    let cmd = Command::new(fixture("grandchild"))
        .args(["--sleep", "30", "--parent-sleep", "30", "--pid-file"])
        .arg(&pid_file)
        .timeout(timeout);
    let start = Instant::now();
    let result = cmd.run();
    let elapsed = start.elapsed();
    let grandchild = read_pid_file(&pid_file);
    let _cleanup = KillOnDrop(grandchild);
    let e = err(result, "run");
    assert_eq!(e.kind(), ErrorKind::Timeout, "{}", show_err(&e));
    assert_eq!(e.timeout(), Some(timeout));
    assert_eq!(
        e.status().and_then(|s| s.signal()),
        Some(libc::SIGKILL),
        "{}",
        show_err(&e)
    );
    assert_eq!(
        e.stdout(),
        format!("grandchild {grandchild}\n").as_bytes(),
        "{}",
        show_err(&e)
    );
    assert!(
        elapsed >= timeout && elapsed < timeout + MARGIN,
        "took {elapsed:?}"
    );
    assert!(
        wait_until(Duration::from_secs(5), || !process_alive(grandchild)),
        "grandchild {grandchild} survived the timeout"
    );
}

#[test]
fn timeout_returns_on_time_while_an_escaped_descendant_holds_the_pipes() {
    no_pidfd();
    let dir = TempDir::new("no-pidfd-escaped");
    let pid_file = dir.path().join("pid");
    let timeout = Duration::from_millis(700);
    let cmd = Command::new(fixture("grandchild"))
        .args([
            "--sleep",
            "30",
            "--parent-sleep",
            "30",
            "--setsid",
            "--pid-file",
        ])
        .arg(&pid_file)
        .timeout(timeout);
    let start = Instant::now();
    let result = cmd.check_output();
    let elapsed = start.elapsed();
    let grandchild = read_pid_file(&pid_file);
    let _cleanup = KillOnDrop(grandchild);
    let e = err(result, "check_output");
    assert_eq!(e.kind(), ErrorKind::Timeout, "{}", show_err(&e));
    assert_eq!(
        e.status().and_then(|s| s.signal()),
        Some(libc::SIGKILL),
        "{}",
        show_err(&e)
    );
    assert_eq!(
        e.stdout(),
        format!("grandchild {grandchild}\n").as_bytes(),
        "{}",
        show_err(&e)
    );
    assert!(
        elapsed >= timeout && elapsed < timeout + MARGIN,
        "took {elapsed:?}"
    );
}

#[test]
fn call_with_zero_and_short_timeouts_kills_and_uses_little_cpu() {
    no_pidfd();
    for timeout in [
        Duration::ZERO,
        Duration::from_millis(1),
        Duration::from_millis(500),
    ] {
        let (start, cpu) = (Instant::now(), common::thread_cpu_time());
        let e = err(
            sleeper("30").timeout(timeout).call(),
            format!("call, timeout {timeout:?}"),
        );
        let (elapsed, cpu) = (start.elapsed(), common::thread_cpu_time() - cpu);
        assert!(
            cpu < Duration::from_millis(100),
            "timeout {timeout:?}: used {cpu:?} of CPU"
        );
        assert_eq!(e.kind(), ErrorKind::Timeout, "{}", show_err(&e));
        assert_eq!(
            e.status().and_then(|s| s.signal()),
            Some(libc::SIGKILL),
            "{}",
            show_err(&e)
        );
        assert!(
            elapsed < timeout + MARGIN,
            "timeout {timeout:?} took {elapsed:?}"
        );
    }
}

#[test]
fn communicate_resumes_after_a_timeout_without_losing_a_byte() {
    no_pidfd();
    let input = noise(512 << 10, 61);
    let mut p = ok(
        Command::new(fixture("slow-cat"))
            .args(["--stderr", "--chunk", "16384", "--delay-ms", "20"])
            .stdin(Redirect::Pipe)
            .stdout(Redirect::Pipe)
            .stderr(Redirect::Pipe)
            .spawn(),
        "spawn",
    );
    let e = err(
        p.communicate(Some(&input), Some(Duration::from_millis(150))),
        "communicate",
    );
    assert_eq!(e.kind(), ErrorKind::Timeout, "{}", show_err(&e));
    assert!(
        input.starts_with(e.stdout()) && !e.stdout().is_empty(),
        "{}",
        show_err(&e)
    );
    let (out, errs) = ok(p.communicate(None, None), "resumed communicate");
    assert_bytes("stdout", &out, &input, "");
    assert_bytes("stderr", &errs, &input, "");
    assert!(ok(p.wait(), "wait").success());
}

#[test]
fn dropped_children_are_reaped_by_a_later_spawn() {
    no_pidfd();
    let exits = ok(sleeper("0.05").kill_on_drop(false).spawn(), "spawn").pid();
    let killed = ok(sleeper("30").kill_on_drop(true).spawn(), "spawn").pid();
    let running = ok(sleeper("30").kill_on_drop(false).spawn(), "spawn").pid();
    let _cleanup = KillOnDrop(running);
    assert!(wait_until(Duration::from_secs(5), || !process_alive(exits)
        && !process_alive(killed)));
    assert!(
        process_alive(running),
        "dropping without kill_on_drop killed the child"
    );
    kill(running, libc::SIGKILL);
    assert!(wait_until(Duration::from_secs(5), || !process_alive(
        running
    )));
    // Without pidfds there is no reaper thread: the next spawn sweeps the orphans.
    ok(
        Command::new(fixture("exit-with")).arg("0").call(),
        "a later spawn",
    );
    for pid in [exits, killed, running] {
        assert_reaped(pid, "dropped child");
    }
}
