//! Live output and output caps (issue 3): per-line and per-chunk callbacks on stdout
//! and stderr see every byte exactly once and in order while the output is still
//! captured, in one call with no deadlock; caps keep the head, the tail or both,
//! count what they drop, and keep draining the child unless asked to kill it.

mod common;
mod support;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::{assert_bytes, err, ok, show_done};
use pipe_run::{Command, ErrorKind, Keep, OutputLimit, Pipeline, Redirect};
use support::{fixture, spew_bytes, spew_err_bytes};

fn spew(args: &[&str]) -> Command {
    Command::new(fixture("spew")).args(args)
}

/// What a recording callback was given, one entry per call.
type Record = Arc<Mutex<Vec<Vec<u8>>>>;

/// A callback that records what it is given, and the record.
fn recorder() -> (impl FnMut(&[u8]) + Send + 'static, Record) {
    let record = Arc::new(Mutex::new(Vec::new()));
    let r = record.clone();
    (
        move |bytes: &[u8]| r.lock().unwrap().push(bytes.to_vec()),
        record,
    )
}

fn numbers(n: usize) -> Vec<Vec<u8>> {
    (1..=n).map(|i| i.to_string().into_bytes()).collect()
}

#[test]
fn line_callbacks_see_every_line_once_in_order_while_capturing() {
    // Both streams at full speed at once: seq to stdout and to stderr concurrently.
    let n = 200_000;
    let (on_out, out_lines) = recorder();
    let (on_err, err_lines) = recorder();
    let cmd = Command::shell(format!("seq {n} >&2 & seq {n}; wait"))
        .on_stdout_line(on_out)
        .on_stderr_line(on_err);
    let done = ok(cmd.run(), "seq on both streams");
    let expected = numbers(n);
    assert!(
        *out_lines.lock().unwrap() == expected,
        "stdout lines differ"
    );
    assert!(
        *err_lines.lock().unwrap() == expected,
        "stderr lines differ"
    );
    let mut text = expected.join(&b'\n');
    text.push(b'\n');
    assert_bytes("captured stdout", &done.stdout, &text, show_done(&done));
    assert_bytes("captured stderr", &done.stderr, &text, "");
}

#[test]
fn chunk_callbacks_see_exactly_the_captured_bytes() {
    let (on_out, chunks) = recorder();
    let (on_err, err_chunks) = recorder();
    let cmd = spew(&["--stdout", "3M", "--stderr", "2M", "--chunk", "10000"])
        .on_stdout_chunk(on_out)
        .on_stderr_chunk(on_err);
    let done = ok(cmd.run(), "spew with chunk callbacks");
    assert_bytes(
        "chunks",
        &chunks.lock().unwrap().concat(),
        &spew_bytes(3 << 20),
        "",
    );
    assert_bytes(
        "stderr chunks",
        &err_chunks.lock().unwrap().concat(),
        &spew_err_bytes(2 << 20),
        "",
    );
    assert_bytes("stdout", &done.stdout, &spew_bytes(3 << 20), "");
}

#[test]
fn a_last_line_without_newline_is_still_delivered() {
    let (on_out, lines) = recorder();
    ok(
        Command::new("printf")
            .arg("a\n\nb")
            .on_stdout_line(on_out)
            .check_output(),
        "printf",
    );
    assert_eq!(
        *lines.lock().unwrap(),
        [b"a".to_vec(), Vec::new(), b"b".to_vec()]
    );
}

#[test]
fn callbacks_make_the_stream_a_pipe_for_every_method() {
    // call() and check_call() inherit stdio by default; a callback needs the bytes.
    let (on_out, lines) = recorder();
    let (on_err, err_lines) = recorder();
    let cmd = Command::shell("echo out; echo err >&2")
        .on_stdout_line(on_out)
        .on_stderr_line(on_err);
    assert!(ok(cmd.call(), "call").success());
    assert_eq!(*lines.lock().unwrap(), [b"out".to_vec()]);
    assert_eq!(*err_lines.lock().unwrap(), [b"err".to_vec()]);

    // spawn() + communicate() run them too.
    let (on_out, lines) = recorder();
    let mut p = ok(
        Command::new("seq").arg("3").on_stdout_line(on_out).spawn(),
        "spawn",
    );
    let (out, _) = ok(p.communicate(None, None), "communicate");
    assert_eq!(out, b"1\n2\n3\n");
    assert_eq!(*lines.lock().unwrap(), numbers(3));

    // A stream redirected elsewhere cannot feed a callback: say so.
    let (on_out, _) = recorder();
    let e = err(
        Command::new("true")
            .stdout(Redirect::Null)
            .on_stdout_line(on_out)
            .run(),
        "null stdout",
    );
    assert_eq!(e.kind(), ErrorKind::InvalidInput);
    assert!(e.to_string().contains("stdout callbacks"), "{e}");
}

#[test]
fn a_cloned_command_shares_its_callback() {
    let (on_out, lines) = recorder();
    let cmd = Command::new("echo").arg("x").on_stdout_line(on_out);
    let copy = cmd.clone();
    let t = std::thread::spawn(move || copy.check_output().unwrap());
    cmd.check_output().unwrap();
    t.join().unwrap();
    assert_eq!(*lines.lock().unwrap(), [b"x".to_vec(), b"x".to_vec()]);
}

#[test]
fn pipelines_have_the_same_callbacks() {
    let (on_out, lines) = recorder();
    let (on_err, err_lines) = recorder();
    let p = Pipeline::new([
        Command::shell("seq 1000; echo first stage >&2"),
        Command::shell("cat; echo last stage >&2"),
    ])
    .on_stdout_line(on_out)
    .on_stderr_line(on_err);
    let done = ok(p.run(), "pipeline with callbacks");
    assert_eq!(*lines.lock().unwrap(), numbers(1000));
    let mut errs = err_lines.lock().unwrap().clone();
    errs.sort();
    assert_eq!(errs, [b"first stage".to_vec(), b"last stage".to_vec()]);
    assert_eq!(done.stdout.len(), 3893);
}

#[test]
fn limits_keep_the_head_the_tail_or_both_and_count_the_rest() {
    let total = 10 << 20;
    let all = spew_bytes(total);
    let max = 100_000;
    for (keep, expected) in [
        (Keep::Head, all[..max].to_vec()),
        (Keep::Tail, all[total - max..].to_vec()),
        (
            Keep::HeadAndTail,
            [&all[..max / 2], &all[total - max / 2..]].concat(),
        ),
    ] {
        let cmd = spew(&["--stdout", "10M", "--stderr", "1M"])
            .stdout_limit(OutputLimit::new(max, keep))
            .stderr_limit(OutputLimit::tail(10));
        let done = ok(cmd.run(), format!("limit {keep:?}"));
        // spew exits 0 only if every write succeeded: the child was drained.
        assert!(done.success(), "{keep:?}: {}", show_done(&done));
        assert_bytes(
            "kept stdout",
            &done.stdout,
            &expected,
            format!(" ({keep:?})"),
        );
        assert_eq!(done.stdout_dropped(), (total - max) as u64, "{keep:?}");
        assert_eq!(done.stderr, &spew_err_bytes(1 << 20)[(1 << 20) - 10..]);
        assert_eq!(done.stderr_dropped(), (1 << 20) - 10);
    }

    // Under the limit nothing is dropped.
    let done = ok(
        spew(&["--stdout", "100"])
            .stdout_limit(OutputLimit::head(1000))
            .run(),
        "small",
    );
    assert_eq!((done.stdout.len(), done.stdout_dropped()), (100, 0));
}

#[test]
fn callbacks_see_everything_even_what_a_limit_drops() {
    let (on_out, lines) = recorder();
    let done = ok(
        Command::new("seq")
            .arg("50000")
            .on_stdout_line(on_out)
            .stdout_limit(OutputLimit::tail(6))
            .run(),
        "seq with limit",
    );
    assert_eq!(*lines.lock().unwrap(), numbers(50_000));
    assert_eq!(done.stdout, b"50000\n");
}

#[test]
fn a_limit_can_kill_the_child_instead_of_draining_it() {
    let start = Instant::now();
    let cmd = spew(&["--stdout", "1G"]).stdout_limit(OutputLimit::head(1 << 20).kill());
    let done = ok(cmd.run(), "spew 1G with a killing limit");
    // Death by SIGKILL (asserted below) proves the kill: spew would have
    // exited 0 after writing its 1 GiB. The time bound only catches a hang;
    // a loaded 2-core CI machine drains 1 GiB in seconds anyway.
    assert!(
        start.elapsed() < Duration::from_secs(20),
        "took {:?}",
        start.elapsed()
    );
    use std::os::unix::process::ExitStatusExt;
    assert_eq!(
        done.status.signal(),
        Some(libc::SIGKILL),
        "{}",
        show_done(&done)
    );
    assert_bytes("kept", &done.stdout, &spew_bytes(1 << 20), "");
    assert!(done.stdout_dropped() > 0);
    let e = err(cmd.check_output(), "check_output");
    assert_eq!(e.kind(), ErrorKind::CalledProcess);

    // In a pipeline the kill reaches every stage: at once with a process group of
    // their own (one killpg), one by one without (a later stage may then see EOF and
    // exit before its signal lands, but the pipeline as a whole still failed).
    let p = Pipeline::parse("yes | cat | cat")
        .unwrap()
        .stdout_limit(OutputLimit::tail(4).kill());
    let done = ok(
        p.clone().new_process_group(true).run(),
        "pipeline with a killing limit",
    );
    assert_eq!(done.stdout, b"y\ny\n");
    let signals: Vec<_> = done.statuses().iter().map(|s| s.signal()).collect();
    assert_eq!(signals, [Some(libc::SIGKILL); 3], "{}", show_done(&done));
    let done = ok(p.run(), "pipeline with a killing limit, no group");
    assert_eq!(
        done.status.signal(),
        Some(libc::SIGKILL),
        "{}",
        show_done(&done)
    );
}

#[test]
fn a_failed_check_keeps_the_limited_output() {
    let cmd = Command::shell("seq 100000 >&2; exit 9")
        .stderr(Redirect::Pipe)
        .stderr_limit(OutputLimit::tail(13));
    let e = err(cmd.check_output(), "failing command");
    assert_eq!(e.stderr(), b"99999\n100000\n");
    assert!(e.to_string().ends_with("99999\n100000"), "{e}");
}

#[test]
fn public_types_are_send_and_sync() {
    fn send_sync<T: Send + Sync>() {}
    send_sync::<Command>();
    send_sync::<Pipeline>();
    send_sync::<pipe_run::PipelineHandle>();
    send_sync::<pipe_run::ReaderHandle>();
    send_sync::<OutputLimit>();
    send_sync::<Keep>();
    fn clone<T: Clone>() {}
    clone::<Command>();
    clone::<Pipeline>();
}
