//! Python semantics of `call`, `check_call`, `check_output` and `run`; every `Redirect`
//! variant; environment, working directory and input (issue 2, behaviour 1).

mod common;
mod support;

use std::ffi::OsStr;
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::os::unix::process::ExitStatusExt;

use common::{TempDir, assert_bytes, err, noise, ok, show_done, show_err};
use pipe_run::{Command, ErrorKind, Redirect};
use support::{fixture, spew_bytes, spew_err_bytes};

/// `exit-with CODE --stdout OUT --stderr ERR`.
fn exit_with(code: i32, out: &str, err: &str) -> Command {
    Command::new(fixture("exit-with"))
        .arg(code.to_string())
        .args(["--stdout", out, "--stderr", err])
}

/// The command line of a fixture run, as errors render it: the fixture path needs no
/// quoting (checked), the arguments are given pre-quoted.
fn line(name: &str, quoted_args: &str) -> String {
    let path = fixture(name).display().to_string();
    assert!(
        path.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"/-_.".contains(&b)),
        "these tests assume a fixture path that needs no shell quoting: {path}"
    );
    format!("{path} {quoted_args}")
}

#[test]
fn call_returns_a_nonzero_exit_as_a_status_not_an_error() {
    let cmd = exit_with(3, "", "").stdout(Redirect::Null);
    let status = ok(cmd.call(), "call");
    assert_eq!(status.code(), Some(3), "{status:?}");
}

#[test]
fn call_returns_death_by_signal_as_a_status() {
    let status = ok(
        Command::new(fixture("signal-self")).arg("15").call(),
        "call",
    );
    assert_eq!(status.signal(), Some(libc::SIGTERM), "{status:?}");
}

#[test]
fn check_call_succeeds_on_exit_code_zero() {
    ok(
        Command::new(fixture("exit-with")).arg("0").check_call(),
        "check_call",
    );
}

#[test]
fn check_call_turns_a_nonzero_exit_into_an_error_with_command_and_status() {
    let cmd = Command::new(fixture("exit-with")).arg("4");
    let e = err(cmd.check_call(), "check_call of exit-with 4");
    assert_eq!(e.kind(), ErrorKind::CalledProcess, "{}", show_err(&e));
    assert_eq!(
        e.status().and_then(|s| s.code()),
        Some(4),
        "{}",
        show_err(&e)
    );
    assert_eq!(e.command(), Some(line("exit-with", "4").as_str()));
    assert_eq!(
        e.to_string(),
        format!("command `{}` exited with code 4", line("exit-with", "4"))
    );
    // Nothing was captured: stdio was inherited.
    assert!(
        e.stdout().is_empty() && e.stderr().is_empty(),
        "{}",
        show_err(&e)
    );
}

#[test]
fn check_call_error_carries_output_captured_through_redirects() {
    let cmd = exit_with(2, "partial", "reason")
        .stdout(Redirect::Pipe)
        .stderr(Redirect::Pipe);
    let e = err(cmd.check_call(), "check_call");
    assert_eq!(e.kind(), ErrorKind::CalledProcess, "{}", show_err(&e));
    assert_eq!(e.stdout(), b"partial", "{}", show_err(&e));
    assert_eq!(e.stderr(), b"reason", "{}", show_err(&e));
}

#[test]
fn check_call_treats_death_by_signal_as_failure() {
    let e = err(
        Command::new(fixture("signal-self")).arg("15").check_call(),
        "check_call of signal-self 15",
    );
    assert_eq!(e.kind(), ErrorKind::CalledProcess, "{}", show_err(&e));
    assert_eq!(
        e.status().and_then(|s| s.signal()),
        Some(libc::SIGTERM),
        "{}",
        show_err(&e)
    );
    assert!(
        e.to_string().ends_with("was killed by signal 15 (SIGTERM)"),
        "{e}"
    );
}

#[test]
fn check_output_returns_stdout_byte_for_byte() {
    let text = OsStr::from_bytes(b"line 1\n\xff\xfe binary \x01 and no newline");
    let cmd = Command::new(fixture("exit-with"))
        .arg("0")
        .arg("--stdout")
        .arg(text);
    let out = ok(cmd.check_output(), "check_output");
    assert_eq!(out, text.as_bytes());
}

#[test]
fn check_output_returns_megabytes_of_stdout() {
    let n = 5 << 20;
    let cmd = Command::new(fixture("spew")).args(["--stdout", &n.to_string()]);
    let out = ok(cmd.check_output(), "check_output");
    assert_bytes("stdout", &out, &spew_bytes(n), "");
}

#[test]
fn check_output_error_carries_stdout_and_piped_stderr() {
    let cmd = exit_with(5, "half done\n", "disk full\n").stderr(Redirect::Pipe);
    let e = err(cmd.check_output(), "check_output");
    assert_eq!(e.kind(), ErrorKind::CalledProcess, "{}", show_err(&e));
    assert_eq!(
        e.status().and_then(|s| s.code()),
        Some(5),
        "{}",
        show_err(&e)
    );
    assert_eq!(e.stdout(), b"half done\n", "{}", show_err(&e));
    assert_eq!(e.stderr(), b"disk full\n", "{}", show_err(&e));
    assert!(
        e.to_string()
            .ends_with("\n--- stderr (last lines) ---\ndisk full"),
        "{e}"
    );
}

#[test]
fn check_output_leaves_stderr_uncaptured_by_default() {
    // stderr is inherited, so this line shows up in the test's own output.
    let cmd = exit_with(1, "out", "(expected stderr from a pipe-run test)\n");
    let e = err(cmd.check_output(), "check_output");
    assert_eq!(e.stdout(), b"out", "{}", show_err(&e));
    assert!(e.stderr().is_empty(), "{}", show_err(&e));
}

#[test]
fn run_captures_both_streams_and_a_nonzero_exit_is_not_an_error() {
    let done = ok(exit_with(7, "to stdout", "to stderr").run(), "run");
    assert_eq!(done.status.code(), Some(7), "{}", show_done(&done));
    assert_eq!(done.stdout, b"to stdout", "{}", show_done(&done));
    assert_eq!(done.stderr, b"to stderr", "{}", show_done(&done));
    assert_eq!(
        done.command(),
        line("exit-with", "7 --stdout 'to stdout' --stderr 'to stderr'")
    );

    let e = err(done.check(), "Completed::check");
    assert_eq!(e.kind(), ErrorKind::CalledProcess);
    assert_eq!(e.status().and_then(|s| s.code()), Some(7));
    assert_eq!(
        (e.stdout(), e.stderr()),
        (&b"to stdout"[..], &b"to stderr"[..])
    );
}

#[test]
fn run_of_a_successful_command_checks_clean() {
    let done = ok(exit_with(0, "fine", "").run(), "run");
    let done = ok(done.check(), "check");
    assert!(done.status.success());
    assert_eq!(done.stdout, b"fine");
}

#[test]
fn run_captures_megabytes_interleaved_on_stdout_and_stderr() {
    let (out_n, err_n) = (3 << 20, (2 << 20) + 12345);
    let cmd = Command::new(fixture("spew")).args([
        "--stdout",
        &out_n.to_string(),
        "--stderr",
        &err_n.to_string(),
        "--chunk",
        "100000",
    ]);
    let done = ok(cmd.run(), "run");
    assert!(done.status.success(), "{}", show_done(&done));
    assert_bytes("stdout", &done.stdout, &spew_bytes(out_n), show_done(&done));
    assert_bytes(
        "stderr",
        &done.stderr,
        &spew_err_bytes(err_n),
        show_done(&done),
    );
}

#[test]
fn a_command_runs_again_with_the_same_result() {
    let input = noise(300_000, 1);
    let cmd = Command::new(fixture("slow-cat")).input(&input);
    for round in 0..3 {
        let done = ok(cmd.run(), format!("round {round}"));
        assert!(done.status.success(), "{}", show_done(&done));
        assert_bytes("stdout", &done.stdout, &input, format!("round {round}"));
    }
}

#[test]
fn redirect_null_discards_stdout_and_gives_eof_on_stdin() {
    let done = ok(
        exit_with(0, "discarded", "kept")
            .stdout(Redirect::Null)
            .run(),
        "run",
    );
    assert_eq!(
        (&done.stdout[..], &done.stderr[..]),
        (&b""[..], &b"kept"[..]),
        "{}",
        show_done(&done)
    );

    let done = ok(
        Command::new(fixture("slow-cat"))
            .stdin(Redirect::Null)
            .run(),
        "run",
    );
    assert!(
        done.status.success() && done.stdout.is_empty(),
        "{}",
        show_done(&done)
    );
}

#[test]
fn redirect_null_discards_stderr() {
    let done = ok(
        exit_with(0, "kept", "discarded")
            .stderr(Redirect::Null)
            .run(),
        "run",
    );
    assert_eq!(
        (&done.stdout[..], &done.stderr[..]),
        (&b"kept"[..], &b""[..]),
        "{}",
        show_done(&done)
    );
}

#[test]
fn redirect_file_sends_stdout_and_stderr_to_files_and_reads_stdin_from_one() {
    let dir = TempDir::new("redirect-file");
    let out_path = dir.path().join("out");
    let err_path = dir.path().join("err");
    let done = ok(
        exit_with(0, "into the file", "errors file")
            .stdout(Redirect::File(std::fs::File::create(&out_path).unwrap()))
            .stderr(std::fs::File::create(&err_path).unwrap().into())
            .run(),
        "run",
    );
    assert!(
        done.stdout.is_empty() && done.stderr.is_empty(),
        "{}",
        show_done(&done)
    );
    assert_eq!(std::fs::read(&out_path).unwrap(), b"into the file");
    assert_eq!(std::fs::read(&err_path).unwrap(), b"errors file");

    let input = noise(200_000, 2);
    let in_path = dir.file("in", &input, 0o644);
    let done = ok(
        Command::new(fixture("slow-cat"))
            .stdin(Redirect::File(std::fs::File::open(&in_path).unwrap()))
            .run(),
        "run",
    );
    assert_bytes("stdout", &done.stdout, &input, show_done(&done));
}

#[test]
fn redirect_file_opened_for_append_appends() {
    let dir = TempDir::new("redirect-append");
    let path = dir.file("log", b"first\n", 0o644);
    let file = std::fs::OpenOptions::new()
        .append(true)
        .open(&path)
        .unwrap();
    ok(
        exit_with(0, "second\n", "")
            .stdout(Redirect::File(file))
            .call(),
        "call",
    );
    assert_eq!(std::fs::read(&path).unwrap(), b"first\nsecond\n");
}

/// What `spew --stdout N --stderr N --chunk C` writes to one shared pipe: stdout and
/// stderr chunks alternate, and each is flushed before the next, so the order is fixed.
fn spew_merged(n: usize, chunk: usize) -> Vec<u8> {
    let (out, err) = (spew_bytes(n), spew_err_bytes(n));
    let mut merged = Vec::new();
    for i in (0..n).step_by(chunk) {
        merged.extend_from_slice(&out[i..(i + chunk).min(n)]);
        merged.extend_from_slice(&err[i..(i + chunk).min(n)]);
    }
    merged
}

fn spew_both(n: usize, chunk: usize) -> Command {
    Command::new(fixture("spew")).args([
        "--stdout",
        &n.to_string(),
        "--stderr",
        &n.to_string(),
        "--chunk",
        &chunk.to_string(),
    ])
}

#[test]
fn redirect_merge_on_stderr_joins_stdout_like_2_to_1() {
    let done = ok(spew_both(1000, 100).stderr(Redirect::Merge).run(), "run");
    assert!(done.stderr.is_empty(), "{}", show_done(&done));
    assert_bytes(
        "merged stdout",
        &done.stdout,
        &spew_merged(1000, 100),
        show_done(&done),
    );

    let out = ok(
        spew_both(1000, 100).stderr(Redirect::Merge).check_output(),
        "check_output",
    );
    assert_bytes("merged check_output", &out, &spew_merged(1000, 100), "");
}

#[test]
fn redirect_merge_on_stdout_joins_stderr_like_1_to_2() {
    let done = ok(spew_both(1000, 100).stdout(Redirect::Merge).run(), "run");
    assert!(done.stdout.is_empty(), "{}", show_done(&done));
    assert_bytes(
        "merged stderr",
        &done.stderr,
        &spew_merged(1000, 100),
        show_done(&done),
    );
}

#[test]
fn redirect_merge_follows_stdout_into_a_file() {
    let dir = TempDir::new("merge-file");
    let path = dir.path().join("both");
    let done = ok(
        spew_both(1000, 100)
            .stdout(Redirect::File(std::fs::File::create(&path).unwrap()))
            .stderr(Redirect::Merge)
            .run(),
        "run",
    );
    assert!(
        done.stdout.is_empty() && done.stderr.is_empty(),
        "{}",
        show_done(&done)
    );
    assert_bytes(
        "file",
        &std::fs::read(&path).unwrap(),
        &spew_merged(1000, 100),
        "",
    );
}

#[test]
fn redirect_merge_is_refused_on_stdin_and_on_both_outputs() {
    let e = err(
        Command::new(fixture("slow-cat"))
            .stdin(Redirect::Merge)
            .run(),
        "Merge on stdin",
    );
    assert_eq!(e.kind(), ErrorKind::InvalidInput, "{}", show_err(&e));
    let e = err(
        exit_with(0, "", "")
            .stdout(Redirect::Merge)
            .stderr(Redirect::Merge)
            .run(),
        "Merge on both",
    );
    assert_eq!(e.kind(), ErrorKind::InvalidInput, "{}", show_err(&e));
}

#[test]
fn input_with_stdin_redirected_elsewhere_is_refused() {
    let e = err(
        Command::new(fixture("slow-cat"))
            .stdin(Redirect::Null)
            .input("data")
            .run(),
        "input + Null stdin",
    );
    assert_eq!(e.kind(), ErrorKind::InvalidInput, "{}", show_err(&e));
}

#[test]
fn env_sets_and_overrides_variables() {
    let value = OsStr::from_bytes(b"spaces and \xff non-UTF-8 = signs");
    let cmd = Command::new(fixture("print-env"))
        .args(["PIPE_RUN_A", "PIPE_RUN_B", "HOME"])
        .env("PIPE_RUN_A", value)
        .envs([("PIPE_RUN_B", "b"), ("HOME", "/elsewhere")]);
    let out = ok(cmd.check_output(), "check_output");
    let mut expected = b"PIPE_RUN_A=".to_vec();
    expected.extend_from_slice(value.as_bytes());
    expected.extend_from_slice(b"\nPIPE_RUN_B=b\nHOME=/elsewhere\n");
    assert_eq!(out, expected, "{}", String::from_utf8_lossy(&out));
}

#[test]
fn env_remove_unsets_an_inherited_variable() {
    assert!(
        std::env::var_os("PATH").is_some(),
        "the test needs PATH set"
    );
    let cmd = Command::new(fixture("print-env"))
        .args(["PATH", "PIPE_RUN_GONE"])
        .env("PIPE_RUN_GONE", "x")
        .env_remove("PIPE_RUN_GONE")
        .env_remove("PATH");
    let out = ok(cmd.check_output(), "check_output");
    assert_eq!(
        out,
        b"PATH unset\nPIPE_RUN_GONE unset\n",
        "{}",
        String::from_utf8_lossy(&out)
    );
}

#[test]
fn env_clear_starts_from_an_empty_environment() {
    let cmd = Command::new(fixture("print-env"))
        .env("PIPE_RUN_BEFORE_CLEAR", "dropped")
        .env_clear()
        .env("ONLY", "me")
        .env("ALSO", "this");
    let out = ok(cmd.check_output(), "check_output");
    assert_eq!(
        out,
        b"ALSO=this\nONLY=me\n",
        "{}",
        String::from_utf8_lossy(&out)
    );
}

#[test]
fn cwd_sets_the_working_directory() {
    let dir = TempDir::new("cwd");
    let out = ok(
        Command::new(fixture("print-cwd"))
            .cwd(dir.path())
            .check_output(),
        "check_output",
    );
    let mut expected = dir
        .path()
        .canonicalize()
        .unwrap()
        .into_os_string()
        .into_vec();
    expected.push(b'\n');
    assert_eq!(out, expected, "{}", String::from_utf8_lossy(&out));
}

#[test]
fn input_reaches_stdin_and_stdin_is_closed_after_it() {
    // slow-cat exits only at end-of-file, so finishing proves stdin was closed.
    let input = noise(4 << 20, 3);
    let cmd = Command::new(fixture("slow-cat")).input(&input);
    let out = ok(cmd.check_output(), "check_output");
    assert_bytes("stdout", &out, &input, "");

    let done = ok(
        Command::new(fixture("slow-cat")).input("").run(),
        "empty input",
    );
    assert!(
        done.status.success() && done.stdout.is_empty(),
        "{}",
        show_done(&done)
    );
}

#[test]
fn input_a_child_never_reads_is_not_an_error() {
    let cmd = exit_with(0, "ignored stdin", "").input(noise(8 << 20, 4));
    let done = ok(cmd.run(), "run");
    assert!(done.status.success(), "{}", show_done(&done));
    assert_eq!(done.stdout, b"ignored stdin", "{}", show_done(&done));
}

#[test]
fn shell_runs_a_script_through_sh() {
    let out = ok(
        Command::shell("printf '%s|' \"$PIPE_RUN_X\" $((6 * 7))")
            .env("PIPE_RUN_X", "a b")
            .check_output(),
        "check_output",
    );
    assert_eq!(out, b"a b|42|");
}

/// A child that closes its stdout and stderr, then lives on for 0.3 s (the shell
/// becomes `sleep`): its pipes end long before it does.
fn outlives_its_pipes() -> Command {
    Command::shell("exec >&- 2>&-; exec sleep 0.3")
}

#[test]
fn a_child_that_outlives_its_pipes_is_still_waited_for() {
    // Captured output ends at once; the run must still wait for the exit (a pidfd is
    // opened only then), with and without a deadline, and in a pool.
    for timeout in [None, Some(std::time::Duration::from_secs(20))] {
        let cmd = match timeout {
            Some(t) => outlives_its_pipes().timeout(t),
            None => outlives_its_pipes(),
        };
        let t0 = std::time::Instant::now();
        let done = ok(cmd.run(), "run");
        let took = t0.elapsed();
        assert!(done.status.success(), "{}", show_done(&done));
        assert_eq!((done.stdout.len(), done.stderr.len()), (0, 0));
        assert!(
            took >= std::time::Duration::from_millis(280),
            "returned after {took:?}, before the child exited (timeout {timeout:?})"
        );
    }
    let pool = pipe_run::Pool::new(2).unwrap();
    let t0 = std::time::Instant::now();
    let job = pool.submit(outlives_its_pipes()).unwrap();
    let done = job.result().unwrap();
    assert!(done.status.success(), "{}", show_done(&done));
    assert!(t0.elapsed() >= std::time::Duration::from_millis(280));
}
