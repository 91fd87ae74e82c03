//! `Popen::communicate` never deadlocks, swallows EPIPE, and resumes after a timeout
//! without losing or repeating a byte (issue 2, behaviours 2 and 3).

mod common;
mod support;

use std::sync::Mutex;
use std::time::Duration;

use common::{assert_bytes, err, noise, ok, show_err};
use pipe_run::{Command, ErrorKind, Popen, Redirect};
use support::{fixture, spew_bytes, spew_err_bytes};

/// Serialises the test that changes the process-wide SIGPIPE disposition with every
/// other test here, so no test writes to a pipe while SIGPIPE would kill the process
/// unless the library guards the write.
static SIGNALS: Mutex<()> = Mutex::new(());

fn serial() -> std::sync::MutexGuard<'static, ()> {
    SIGNALS.lock().unwrap_or_else(|e| e.into_inner())
}

/// Spawns `cmd` with stdin, stdout and stderr all piped.
fn spawn_piped(cmd: Command) -> Popen {
    ok(
        cmd.stdin(Redirect::Pipe)
            .stdout(Redirect::Pipe)
            .stderr(Redirect::Pipe)
            .spawn(),
        "spawn",
    )
}

/// Waits for `p` and asserts it exited with `code`.
#[track_caller]
fn assert_exit(p: &Popen, code: i32) {
    let status = ok(p.wait(), "wait");
    assert_eq!(status.code(), Some(code), "{}: {status:?}", p.command());
}

#[test]
fn communicate_moves_megabytes_in_while_megabytes_come_out_on_stdout_and_stderr() {
    let _serial = serial();
    // slow-cat --stderr copies each chunk of stdin to stdout and then to stderr: it
    // blocks on whichever of the three pipes we stop serving.
    let input = noise(8 << 20, 10);
    let mut p = spawn_piped(Command::new(fixture("slow-cat")).arg("--stderr"));
    let (out, errs) = ok(p.communicate(Some(&input), None), "communicate");
    assert_bytes(
        "stdout",
        &out,
        &input,
        format!("\ncommand: {}", p.command()),
    );
    assert_bytes(
        "stderr",
        &errs,
        &input,
        format!("\ncommand: {}", p.command()),
    );
    assert_exit(&p, 0);
}

/// `spew` with chunks far larger than a pipe: 3 MiB to stdout, then 3 MiB to stderr,
/// then stdout again. Reading stdout to the end first deadlocks on the first stderr
/// chunk; reading stderr first deadlocks on the first stdout chunk.
fn spew_big_chunks(out_n: usize, err_n: usize) -> Command {
    Command::new(fixture("spew")).args([
        "--stdout",
        &out_n.to_string(),
        "--stderr",
        &err_n.to_string(),
        "--chunk",
        "3M",
    ])
}

#[test]
fn communicate_reads_stdout_and_stderr_in_whatever_order_the_child_fills_them() {
    let _serial = serial();
    for (out_n, err_n) in [(9 << 20, 6 << 20), (3 << 20, 12 << 20)] {
        let mut p = ok(
            spew_big_chunks(out_n, err_n)
                .stdout(Redirect::Pipe)
                .stderr(Redirect::Pipe)
                .spawn(),
            "spawn",
        );
        let (out, errs) = ok(p.communicate(None, None), "communicate");
        let context = format!("\ncommand: {}", p.command());
        assert_bytes("stdout", &out, &spew_bytes(out_n), &context);
        assert_bytes("stderr", &errs, &spew_err_bytes(err_n), &context);
        assert_exit(&p, 0);
    }
}

#[test]
fn communicate_writes_input_while_a_child_that_never_reads_fills_both_outputs() {
    let _serial = serial();
    // spew never reads stdin: our 8 MiB stay stuck in the stdin pipe until spew exits
    // and the rest of the write fails with EPIPE, which is not an error.
    let (out_n, err_n) = (6 << 20, 6 << 20);
    let mut p = spawn_piped(spew_big_chunks(out_n, err_n));
    let (out, errs) = ok(
        p.communicate(Some(&noise(8 << 20, 11)), None),
        "communicate",
    );
    let context = format!("\ncommand: {}", p.command());
    assert_bytes("stdout", &out, &spew_bytes(out_n), &context);
    assert_bytes("stderr", &errs, &spew_err_bytes(err_n), &context);
    assert_exit(&p, 0);
}

#[test]
fn communicate_swallows_epipe_when_the_child_closes_stdin_early() {
    let _serial = serial();
    let mut p = spawn_piped(Command::new(fixture("close-stdin")).args([
        "--bytes",
        "1M",
        "--delay-ms",
        "50",
    ]));
    let (out, errs) = ok(
        p.communicate(Some(&noise(8 << 20, 12)), None),
        "communicate",
    );
    assert_bytes("stdout", &out, &spew_bytes(1 << 20), "");
    assert!(
        errs.is_empty(),
        "stderr: {:?}",
        String::from_utf8_lossy(&errs)
    );
    assert_exit(&p, 0);
}

/// Sets SIGPIPE's disposition, returning the previous one.
fn set_sigpipe(handler: libc::sighandler_t) -> libc::sighandler_t {
    // SAFETY: installs SIG_DFL or SIG_IGN (no handler code); every test that writes to
    // a pipe holds the `SIGNALS` lock, so none runs while SIGPIPE is at its default.
    unsafe { libc::signal(libc::SIGPIPE, handler) }
}

#[test]
fn communicate_never_lets_sigpipe_kill_us_even_at_its_default_disposition() {
    let _serial = serial();
    // A C or Python host may leave SIGPIPE at SIG_DFL (Rust binaries ignore it). Then a
    // write to a closed stdin raises SIGPIPE, which must not kill this test process.
    let old = set_sigpipe(libc::SIG_DFL);
    struct Restore(libc::sighandler_t);
    impl Drop for Restore {
        fn drop(&mut self) {
            set_sigpipe(self.0);
        }
    }
    let _restore = Restore(old);

    let mut p = spawn_piped(Command::new(fixture("close-stdin")).args(["--bytes", "1000"]));
    let (out, _) = ok(
        p.communicate(Some(&noise(4 << 20, 13)), None),
        "communicate",
    );
    assert_bytes("stdout", &out, &spew_bytes(1000), "");
    assert_exit(&p, 0);

    let done = ok(
        Command::new(fixture("exit-with"))
            .arg("0")
            .input(noise(4 << 20, 14))
            .run(),
        "run with input the child never reads",
    );
    assert!(done.status.success(), "{:?}", done.status);
}

/// A child that copies stdin to stdout and stderr slowly: 16 KiB every 20 ms.
fn slow_cat() -> Command {
    Command::new(fixture("slow-cat")).args(["--stderr", "--chunk", "16384", "--delay-ms", "20"])
}

#[test]
fn communicate_timeout_keeps_partial_output_and_the_child_keeps_running() {
    let _serial = serial();
    let input = noise(512 << 10, 20);
    let mut p = spawn_piped(slow_cat());
    let timeout = Duration::from_millis(200);
    let e = err(p.communicate(Some(&input), Some(timeout)), "communicate");
    assert_eq!(e.kind(), ErrorKind::Timeout, "{}", show_err(&e));
    assert_eq!(e.timeout(), Some(timeout), "{}", show_err(&e));
    // 200 ms hold several 20 ms chunks, far from all 32 of them.
    assert!(!e.stdout().is_empty(), "no partial stdout{}", show_err(&e));
    assert!(e.stdout().len() < input.len(), "{}", show_err(&e));
    assert!(
        input.starts_with(e.stdout()),
        "partial stdout is not a prefix of the input"
    );
    assert!(
        input.starts_with(e.stderr()),
        "partial stderr is not a prefix of the input"
    );
    assert_eq!(
        ok(p.poll(), "poll"),
        None,
        "the child must keep running after a timeout"
    );

    let (out, errs) = ok(p.communicate(None, None), "resumed communicate");
    assert_bytes("stdout after resume", &out, &input, "");
    assert_bytes("stderr after resume", &errs, &input, "");
    assert_exit(&p, 0);
}

#[test]
fn communicate_resumes_again_and_again_without_losing_or_repeating_a_byte() {
    let _serial = serial();
    let input = noise(768 << 10, 21);
    let mut p = spawn_piped(slow_cat());
    let mut first = Some(&input[..]);
    let mut timeouts = 0;
    let mut seen = 0;
    let (out, errs) = loop {
        match p.communicate(first.take(), Some(Duration::from_millis(60))) {
            Ok(done) => break done,
            Err(e) => {
                assert_eq!(e.kind(), ErrorKind::Timeout, "{}", show_err(&e));
                // Each error holds everything since the first call, and only grows.
                assert!(
                    input.starts_with(e.stdout()),
                    "stdout is not a prefix of the input"
                );
                assert!(e.stdout().len() >= seen, "stdout shrank");
                seen = e.stdout().len();
                timeouts += 1;
                assert!(timeouts < 1000, "communicate never finished");
            }
        }
    };
    assert!(
        timeouts >= 3,
        "only {timeouts} timeouts: the test proves nothing"
    );
    assert_bytes(
        "stdout",
        &out,
        &input,
        format!(" after {timeouts} timeouts"),
    );
    assert_bytes(
        "stderr",
        &errs,
        &input,
        format!(" after {timeouts} timeouts"),
    );
    assert_exit(&p, 0);
}

#[test]
fn communicate_refuses_new_input_when_resuming_and_still_resumes_correctly() {
    let _serial = serial();
    let input = noise(256 << 10, 22);
    let mut p = spawn_piped(slow_cat());
    let e = err(
        p.communicate(Some(&input), Some(Duration::from_millis(50))),
        "communicate",
    );
    assert_eq!(e.kind(), ErrorKind::Timeout, "{}", show_err(&e));
    let e = err(
        p.communicate(Some(b"more"), None),
        "communicate with new input",
    );
    assert_eq!(e.kind(), ErrorKind::InvalidInput, "{}", show_err(&e));
    let (out, errs) = ok(p.communicate(None, None), "resumed communicate");
    assert_bytes("stdout", &out, &input, "");
    assert_bytes("stderr", &errs, &input, "");
    assert_exit(&p, 0);
}

#[test]
fn communicate_writes_the_input_configured_on_the_command() {
    let _serial = serial();
    let input = noise(2 << 20, 23);
    let mut p = ok(
        Command::new(fixture("slow-cat"))
            .input(&input)
            .stdout(Redirect::Pipe)
            .spawn(),
        "spawn",
    );
    let (out, errs) = ok(p.communicate(None, None), "communicate");
    assert_bytes("stdout", &out, &input, "");
    assert!(
        errs.is_empty(),
        "stderr was not piped, so nothing is captured"
    );
    assert_exit(&p, 0);

    let mut p = ok(
        Command::new(fixture("slow-cat"))
            .input("configured")
            .stdout(Redirect::Pipe)
            .spawn(),
        "spawn",
    );
    let e = err(p.communicate(Some(b"given too"), None), "input twice");
    assert_eq!(e.kind(), ErrorKind::InvalidInput, "{}", show_err(&e));
    p.kill().unwrap();
    p.wait().unwrap();
}

#[test]
fn communicate_refuses_input_when_stdin_is_not_a_pipe() {
    let _serial = serial();
    let mut p = ok(
        Command::new(fixture("slow-cat"))
            .stdin(Redirect::Null)
            .stdout(Redirect::Pipe)
            .spawn(),
        "spawn",
    );
    let e = err(p.communicate(Some(b"data"), None), "communicate");
    assert_eq!(e.kind(), ErrorKind::InvalidInput, "{}", show_err(&e));
    let (out, _) = ok(p.communicate(None, None), "communicate without input");
    assert!(out.is_empty());
    assert_exit(&p, 0);
}

#[test]
fn communicate_times_out_on_a_child_without_pipes_then_returns_its_status() {
    let _serial = serial();
    let mut p = ok(
        Command::new(fixture("sleep"))
            .arg("30")
            .kill_on_drop(true)
            .spawn(),
        "spawn",
    );
    let e = err(
        p.communicate(None, Some(Duration::from_millis(100))),
        "communicate",
    );
    assert_eq!(e.kind(), ErrorKind::Timeout, "{}", show_err(&e));
    assert_eq!(ok(p.poll(), "poll"), None);
    p.kill().unwrap();
    let (out, errs) = ok(p.communicate(None, None), "communicate after kill");
    assert!(out.is_empty() && errs.is_empty());
    assert_eq!(p.returncode(), Some(-libc::SIGKILL));
}

#[test]
fn communicate_with_a_zero_timeout_resumes_like_any_other() {
    let _serial = serial();
    let input = noise(100_000, 24);
    let mut p = spawn_piped(Command::new(fixture("slow-cat")).args(["--delay-ms", "20"]));
    let e = err(
        p.communicate(Some(&input), Some(Duration::ZERO)),
        "communicate",
    );
    assert_eq!(e.kind(), ErrorKind::Timeout, "{}", show_err(&e));
    let (out, _) = ok(p.communicate(None, None), "resumed communicate");
    assert_bytes("stdout", &out, &input, "");
    assert_exit(&p, 0);
}
