//! `reader()` (issue 3): stdout as an `io::Read`/`BufRead` read only as fast as the
//! caller reads, stderr drained into a bounded tail meanwhile, input written
//! concurrently, the status checked at end of file, and an early drop that leaves no
//! zombie and no hang.

mod common;
mod support;

use std::io::{BufRead, Read};
use std::time::{Duration, Instant};

use common::{assert_bytes, assert_reaped, noise, ok};
use pipe_run::{Command, Error, ErrorKind, OutputLimit, Pipeline, Redirect};
use support::{fixture, process_alive, spew_bytes, spew_err_bytes};

fn spew(args: &[&str]) -> Command {
    Command::new(fixture("spew")).args(args)
}

/// The pipe-run error inside an `io::Error` returned by a reader.
#[track_caller]
fn inner(e: std::io::Error) -> Box<Error> {
    let shown = e.to_string();
    e.into_inner()
        .and_then(|inner| inner.downcast::<Error>().ok())
        .unwrap_or_else(|| panic!("not a pipe-run error: {shown}"))
}

#[test]
fn a_reader_yields_exactly_the_bytes_written() {
    let mut reader = ok(
        spew(&["--stdout", "5M", "--chunk", "9999"]).reader(),
        "reader",
    );
    let mut out = Vec::new();
    reader.read_to_end(&mut out).unwrap();
    assert_bytes("stdout", &out, &spew_bytes(5 << 20), "");
    let done = reader.completed().expect("completed at EOF");
    assert!(done.success());
    assert_eq!(done.statuses().len(), 1);
    // After end of file reads keep returning 0.
    assert_eq!(reader.read(&mut [0; 10]).unwrap(), 0);
}

#[test]
fn small_reads_and_lines_go_through_the_buffer() {
    let reader = ok(Command::new("seq").arg("100000").reader(), "seq reader");
    let mut expected = 1;
    for line in reader.lines() {
        assert_eq!(line.unwrap(), expected.to_string());
        expected += 1;
    }
    assert_eq!(expected, 100_001);

    let mut reader = ok(spew(&["--stdout", "300000"]).reader(), "byte reader");
    let mut out = Vec::new();
    let mut byte = [0u8; 7];
    loop {
        let n = reader.read(&mut byte).unwrap();
        if n == 0 {
            break;
        }
        out.extend_from_slice(&byte[..n]);
    }
    assert_bytes("stdout", &out, &spew_bytes(300_000), "");
}

#[test]
fn a_failed_exit_is_an_error_at_end_of_file_with_the_stderr_tail() {
    let cmd = Command::new(fixture("exit-with")).args([
        "3",
        "--stdout",
        "partial\n",
        "--stderr",
        "it broke\n",
    ]);
    let mut reader = ok(cmd.reader(), "reader");
    let mut out = Vec::new();
    let e = reader.read_to_end(&mut out).unwrap_err();
    assert_eq!(
        out, b"partial\n",
        "the data before the failure is delivered"
    );
    assert!(e.to_string().contains("exited with code 3"), "{e}");
    assert!(e.to_string().contains("it broke"), "{e}");
    let e = inner(e);
    assert_eq!(e.kind(), ErrorKind::CalledProcess);
    assert_eq!(e.status().and_then(|s| s.code()), Some(3));
    assert_eq!(e.stderr(), b"it broke\n");
    // The error is reported once; the stream is over.
    assert_eq!(reader.read(&mut [0; 10]).unwrap(), 0);

    let mut reader = ok(cmd.reader(), "reader").unchecked();
    let mut out = String::new();
    reader.read_to_string(&mut out).unwrap();
    assert_eq!(out, "partial\n");
    let done = reader.completed().unwrap();
    assert_eq!(done.status.code(), Some(3));
    assert_eq!(done.stderr, b"it broke\n");
}

#[test]
fn stderr_is_drained_into_a_bounded_tail_while_stdout_is_read() {
    // 16 MiB of stderr would block the child long before stdout ends if nobody
    // drained it; only the last 64 KiB are kept.
    let mut reader = ok(
        spew(&["--stdout", "1M", "--stderr", "16M"]).reader(),
        "reader",
    );
    let mut out = Vec::new();
    reader.read_to_end(&mut out).unwrap();
    assert_bytes("stdout", &out, &spew_bytes(1 << 20), "");
    let done = reader.completed().unwrap();
    let all_err = spew_err_bytes(16 << 20);
    assert_bytes(
        "stderr tail",
        &done.stderr,
        &all_err[all_err.len() - (64 << 10)..],
        "",
    );
    assert_eq!(done.stderr_dropped(), (16 << 20) - (64 << 10));

    // A stderr_limit on the command replaces the default tail; Inherit leaves it alone.
    let cmd = spew(&["--stdout", "10", "--stderr", "1000"]).stderr_limit(OutputLimit::head(5));
    let mut reader = ok(cmd.reader(), "reader");
    reader.read_to_end(&mut Vec::new()).unwrap();
    assert_eq!(reader.completed().unwrap().stderr, b"ERROR");
    let cmd = spew(&["--stdout", "10"]).stderr(Redirect::Null);
    let mut reader = ok(cmd.reader(), "reader");
    reader.read_to_end(&mut Vec::new()).unwrap();
    assert!(reader.completed().unwrap().stderr.is_empty());
}

#[test]
fn input_is_written_while_the_output_is_read() {
    // 8 MiB through cat: writing it all before reading would deadlock.
    let input = noise(8 << 20, 3);
    let mut reader = ok(Command::new("cat").input(&input).reader(), "cat reader");
    let mut out = Vec::new();
    reader.read_to_end(&mut out).unwrap();
    assert_bytes("stdout", &out, &input, "");
}

#[test]
fn the_child_waits_for_a_slow_reader() {
    let mut reader = ok(spew(&["--stdout", "100M"]).reader(), "reader");
    let pid = reader.pids()[0];
    let mut first = [0u8; 64];
    reader.read_exact(&mut first).unwrap();
    assert_eq!(&first[..], &spew_bytes(64)[..]);
    // Nobody reads: the child fills the pipe and waits, it cannot have finished.
    std::thread::sleep(Duration::from_millis(300));
    assert!(
        process_alive(pid),
        "spew finished 100 MiB with nobody reading"
    );
    assert!(reader.try_wait().unwrap().is_none());
    let mut rest = Vec::new();
    reader.read_to_end(&mut rest).unwrap();
    assert_eq!(rest.len(), (100 << 20) - 64);
    assert!(reader.try_wait().unwrap().unwrap().success());
}

#[test]
fn dropping_a_reader_early_leaves_no_zombie_and_does_not_hang() {
    // A child still writing: it gets SIGPIPE/EPIPE when we close the pipe.
    let mut reader = ok(spew(&["--stdout", "1G"]).reader(), "writer");
    let pid = reader.pids()[0];
    reader.read_exact(&mut [0u8; 10]).unwrap();
    let start = Instant::now();
    drop(reader);
    assert!(
        start.elapsed() < Duration::from_millis(500),
        "drop took {:?}",
        start.elapsed()
    );
    assert_reaped(pid, "dropped writer");

    // A child that never writes nor exits: killed after the grace period.
    let reader = ok(Command::new(fixture("sleep")).arg("30").reader(), "sleeper");
    let pid = reader.pids()[0];
    let start = Instant::now();
    drop(reader);
    assert!(
        start.elapsed() < Duration::from_millis(500),
        "drop took {:?}",
        start.elapsed()
    );
    assert_reaped(pid, "dropped sleeper");

    // A whole pipeline, in its own process group.
    let p = Pipeline::parse("yes | cat | cat")
        .unwrap()
        .new_process_group(true);
    let mut reader = ok(p.reader(), "pipeline reader");
    let pids = reader.pids();
    let mut line = String::new();
    reader.read_line(&mut line).unwrap();
    assert_eq!(line, "y\n");
    drop(reader);
    for pid in pids {
        assert_reaped(pid, "dropped stage");
    }
}

#[test]
fn a_pipeline_reader_streams_the_last_stage_and_checks_every_stage() {
    let p = Pipeline::new([
        spew(&["--stdout", "3M"]),
        Command::new("cat"),
        Command::new("cat"),
    ]);
    let mut reader = ok(p.reader(), "pipeline reader");
    let mut out = Vec::new();
    reader.read_to_end(&mut out).unwrap();
    assert_bytes("stdout", &out, &spew_bytes(3 << 20), "");
    assert_eq!(reader.completed().unwrap().statuses().len(), 3);

    let p = Pipeline::new([
        Command::new(fixture("exit-with")).args(["4", "--stderr", "stage one failed\n"]),
        Command::new("cat"),
    ]);
    let e = inner(
        ok(p.reader(), "reader")
            .read_to_end(&mut Vec::new())
            .unwrap_err(),
    );
    assert_eq!(e.status().and_then(|s| s.code()), Some(4));
    assert_eq!(e.stderr(), b"stage one failed\n");

    // `yes | head` ends by SIGPIPE: not an error.
    let mut reader = ok(
        Pipeline::parse("yes | head -n 3").unwrap().reader(),
        "yes | head",
    );
    let mut out = String::new();
    reader.read_to_string(&mut out).unwrap();
    assert_eq!(out, "y\ny\ny\n");
}

#[test]
fn a_timeout_bounds_the_whole_read() {
    let cmd = Command::new(fixture("grandchild"))
        .args([
            "--sleep",
            "30",
            "--stdout",
            "partial\n",
            "--parent-sleep",
            "30",
        ])
        .timeout(Duration::from_millis(300));
    let mut reader = ok(cmd.reader(), "timed reader");
    let start = Instant::now();
    let mut out = Vec::new();
    let e = reader.read_to_end(&mut out).unwrap_err();
    let took = start.elapsed();
    assert_eq!(e.kind(), std::io::ErrorKind::TimedOut, "{e}");
    assert!(took < Duration::from_millis(300 + 500), "took {took:?}");
    assert!(
        String::from_utf8_lossy(&out).contains("partial\n"),
        "{out:?}"
    );
    let gc = common::grandchild_pid(&out);
    let _guard = common::KillOnDrop(gc);
    assert_eq!(inner(e).kind(), ErrorKind::Timeout);
    assert!(
        support::wait_until(Duration::from_secs(2), || !process_alive(gc)),
        "the grandchild survived the timeout"
    );
}

#[test]
fn kill_ends_the_stream_with_an_error_unless_unchecked() {
    let mut reader = ok(Command::new("yes").reader(), "yes");
    reader.read_exact(&mut [0u8; 4]).unwrap();
    reader.kill().unwrap();
    let e = inner(std::io::copy(&mut reader, &mut std::io::sink()).unwrap_err());
    assert!(e.to_string().contains("SIGKILL"), "{e}");

    let mut reader = ok(Command::new("yes").reader(), "yes").unchecked();
    reader.kill().unwrap();
    std::io::copy(&mut reader, &mut std::io::sink()).unwrap();
    assert!(!reader.completed().unwrap().success());
}

#[test]
fn stderr_callbacks_run_while_stdout_is_read() {
    use std::sync::{Arc, Mutex};
    let lines = Arc::new(Mutex::new(Vec::new()));
    let seen = lines.clone();
    let cmd = Command::shell("echo one >&2; echo data; echo two >&2").on_stderr_line(move |l| {
        seen.lock()
            .unwrap()
            .push(String::from_utf8_lossy(l).into_owned())
    });
    let mut out = String::new();
    ok(cmd.reader(), "reader").read_to_string(&mut out).unwrap();
    assert_eq!(out, "data\n");
    assert_eq!(*lines.lock().unwrap(), ["one", "two"]);
}

#[test]
fn a_reader_needs_stdout() {
    let e = Command::new("true")
        .stdout(Redirect::Null)
        .reader()
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidInput);
    assert!(e.to_string().contains("reader()"), "{e}");
    let e = Pipeline::parse("true | true")
        .unwrap()
        .stdout(Redirect::Null)
        .reader()
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidInput);
    let e = Command::new("no-such-program-pipe-run-xyz")
        .reader()
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::NotFound);
}
