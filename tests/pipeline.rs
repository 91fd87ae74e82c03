//! Pipelines (`a | b | c`, issue 3): data flows child to child byte-exactly, every stage
//! has a status and the overall one follows pipefail with SIGPIPE tolerance, an early
//! consumer ends its producer at once, a stage that cannot start takes the others down
//! with it, and a timeout kills every stage and their descendants.

mod common;
mod support;

use std::os::unix::process::ExitStatusExt;
use std::time::{Duration, Instant};

use common::{KillOnDrop, TempDir, assert_bytes, assert_reaped, err, ok, show_done, show_err};
use pipe_run::{Command, ErrorKind, Pipeline, Redirect};
use support::{fixture, spew_bytes, spew_err_bytes, wait_until};

fn spew(args: &[&str]) -> Command {
    Command::new(fixture("spew")).args(args)
}

fn codes(statuses: &[std::process::ExitStatus]) -> Vec<Option<i32>> {
    statuses.iter().map(|s| s.code()).collect()
}

/// Processes (of anyone) whose command line contains `token`: lets a test find the
/// stages it started without knowing their pids.
fn pids_with_arg(token: &str) -> Vec<u32> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .filter_map(|e| {
            let pid: u32 = e.ok()?.file_name().to_str()?.parse().ok()?;
            let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).ok()?;
            let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
            let state = stat[stat.rfind(')')? + 2..].chars().next()?;
            let found = cmdline
                .split(|&b| b == 0)
                .any(|arg| arg == token.as_bytes());
            (found && state != 'Z').then_some(pid)
        })
        .collect()
}

#[test]
fn bytes_flow_through_every_stage_exactly() {
    let n = 3 << 20;
    let p = Pipeline::new([
        spew(&["--stdout", "3M", "--chunk", "12345"]),
        Command::new(fixture("slow-cat")).args(["--chunk", "7000"]),
        Command::new("cat"),
    ]);
    let done = ok(p.run(), "spew | slow-cat | cat");
    assert_bytes("stdout", &done.stdout, &spew_bytes(n), show_done(&done));
    assert_eq!(codes(done.statuses()), [Some(0); 3], "{}", show_done(&done));
    assert_eq!(
        done.command(),
        format!(
            "{} --stdout 3M --chunk 12345 | {} --chunk 7000 | cat",
            fixture("spew").display(),
            fixture("slow-cat").display()
        )
    );
}

/// What `pipe-size` reports for its stdin and stdout, run in the middle of `p`'s
/// three stages (`cat | pipe-size | cat`).
fn inner_pipe_sizes(p: Pipeline) -> String {
    let done = ok(p.input("").run(), "cat | pipe-size | cat");
    String::from_utf8(done.stdout.clone()).expect("pipe-size prints text")
}

fn three_stages() -> Pipeline {
    Pipeline::new([
        Command::new("cat"),
        Command::new(fixture("pipe-size")),
        Command::new("cat"),
    ])
}

#[test]
fn pipes_between_stages_are_grown_to_the_pipe_size() {
    // Root has no per-user pipe budget, so the kernel grants every size here.
    assert_eq!(Pipeline::DEFAULT_PIPE_SIZE, 256 << 10);
    assert_eq!(
        inner_pipe_sizes(three_stages()),
        "stdin 262144\nstdout 262144\n"
    );
    assert_eq!(
        inner_pipe_sizes(three_stages().pipe_size(1 << 20)),
        "stdin 1048576\nstdout 1048576\n"
    );
    // 0 keeps the kernel's default (64 KiB); odd sizes round up to pages.
    assert_eq!(
        inner_pipe_sizes(three_stages().pipe_size(0)),
        "stdin 65536\nstdout 65536\n"
    );
    assert_eq!(
        inner_pipe_sizes(three_stages().pipe_size(100_000)),
        "stdin 131072\nstdout 131072\n"
    );
    // A size the kernel refuses (here 4 GiB, more than an int) leaves the default;
    // it must not wrap around into a tiny pipe.
    assert_eq!(
        inner_pipe_sizes(three_stages().pipe_size((1u64 << 32) as usize)),
        "stdin 65536\nstdout 65536\n"
    );
}

#[test]
fn input_feeds_the_first_stage_concurrently_with_the_output() {
    // 8 MiB in while 8 MiB come out: writing all the input first would deadlock.
    let input = common::noise(8 << 20, 7);
    let p = Command::new("cat").pipe(Command::new("cat")).input(&input);
    let out = ok(p.check_output(), "cat | cat with input");
    assert_bytes("stdout", &out, &input, "");

    // Without pipeline-level stdin/input the first stage's own input is used.
    let p = Command::new("cat").input("own\n").pipe(Command::new("cat"));
    assert_eq!(ok(p.check_output(), "stage input"), b"own\n");
}

#[test]
fn statuses_are_per_stage_and_the_rightmost_failure_decides() {
    let exit = |code: &str| Command::new(fixture("exit-with")).arg(code);
    let done = ok(
        Pipeline::new([exit("3"), exit("0"), exit("5"), exit("0")]).run(),
        "exits",
    );
    assert_eq!(codes(done.statuses()), [Some(3), Some(0), Some(5), Some(0)]);
    assert_eq!(done.status.code(), Some(5), "{}", show_done(&done));

    let done = ok(Pipeline::new([exit("0"), exit("0")]).run(), "all succeed");
    assert!(done.success(), "{}", show_done(&done));

    let e = err(
        Pipeline::new([exit("7"), exit("0")]).check_call(),
        "check_call",
    );
    assert_eq!(e.kind(), ErrorKind::CalledProcess, "{}", show_err(&e));
    assert_eq!(e.status().and_then(|s| s.code()), Some(7));
    assert_eq!(codes(e.statuses()), [Some(7), Some(0)]);
    assert!(
        e.to_string().contains("exited with code 7 (stage 1 of 2)"),
        "{e}"
    );

    // A signal other than SIGPIPE is a failure wherever it happens.
    let killed = Command::new(fixture("signal-self")).arg("15");
    let done = ok(
        Pipeline::new([killed, exit("0")]).run(),
        "SIGTERM in stage 1",
    );
    assert_eq!(
        done.status.signal(),
        Some(libc::SIGTERM),
        "{}",
        show_done(&done)
    );
}

#[test]
fn a_consumer_that_stops_early_ends_the_producer_at_once() {
    let start = Instant::now();
    let p = Pipeline::new([
        spew(&["--stdout", "1G"]),
        Command::new("head").args(["-c", "1"]),
    ]);
    let done = ok(p.run(), "spew 1G | head -c 1");
    let took = start.elapsed();
    assert_eq!(done.stdout, b"a", "{}", show_done(&done));
    assert!(
        took < Duration::from_secs(2),
        "took {took:?}: the producer did not get EPIPE"
    );
    // spew ignores SIGPIPE (a Rust program) and exits 3 on EPIPE: that is a failure.
    assert_eq!(
        codes(done.statuses()),
        [Some(3), Some(0)],
        "{}",
        show_done(&done)
    );

    // The same with a real SIGPIPE death, the classic `yes | head`.
    let start = Instant::now();
    let out = ok(
        Pipeline::parse("yes | head -c 1").unwrap().check_output(),
        "yes | head -c 1",
    );
    assert_eq!(out, b"y");
    assert!(start.elapsed() < Duration::from_secs(2));
}

#[test]
fn sigpipe_in_an_early_stage_succeeds_by_default_and_fails_when_strict() {
    let p = Pipeline::parse("yes | head -n1").unwrap();
    let done = ok(p.run(), "yes | head -n1");
    assert!(done.success(), "{}", show_done(&done));
    assert_eq!(done.stdout, b"y\n");
    assert_eq!(
        done.statuses()[0].signal(),
        Some(libc::SIGPIPE),
        "{}",
        show_done(&done)
    );
    ok(p.check_call(), "check_call tolerates SIGPIPE");

    let strict = p.clone().strict_sigpipe(true);
    let done = ok(strict.run(), "strict yes | head -n1");
    assert_eq!(
        done.status.signal(),
        Some(libc::SIGPIPE),
        "{}",
        show_done(&done)
    );
    let e = err(strict.check_output(), "strict check_output");
    assert_eq!(e.kind(), ErrorKind::CalledProcess);
    assert!(e.to_string().contains("SIGPIPE"), "{e}");
    assert_eq!(e.stdout(), b"y\n");

    // The last stage dying of SIGPIPE is always a failure: nobody stopped reading it.
    let last = Command::new(fixture("signal-self")).arg("13");
    let done = ok(
        Command::new("true").pipe(last).run(),
        "true | signal-self 13",
    );
    assert!(!done.success(), "{}", show_done(&done));
}

#[test]
fn a_stage_that_cannot_start_takes_the_started_ones_down_and_is_named() {
    // A unique argument so that we can find our sleeper among all processes.
    let token = format!("31.{}", std::process::id());
    let p = Pipeline::new([
        Command::new(fixture("sleep")).arg(&token),
        Command::new("no-such-program-pipe-run-xyz").arg("-x"),
        Command::new("cat"),
    ]);
    let start = Instant::now();
    let e = err(p.run(), "missing stage 2");
    let took = start.elapsed();
    assert_eq!(e.kind(), ErrorKind::NotFound, "{}", show_err(&e));
    assert!(
        e.to_string().contains("`no-such-program-pipe-run-xyz`"),
        "{e}"
    );
    assert!(e.to_string().contains("PATH"), "{e}");
    assert!(took < Duration::from_millis(500), "took {took:?}");
    // The first stage was killed and reaped before the error came back.
    assert_eq!(
        pids_with_arg(&token),
        Vec::<u32>::new(),
        "stage 1 is still running"
    );

    // A bad working directory in the last stage is reported as such.
    let p = Command::new(fixture("sleep"))
        .arg(&token)
        .pipe(Command::new("cat").cwd("/no/such/dir"));
    let e = err(p.call(), "bad cwd in stage 2");
    assert_eq!(e.kind(), ErrorKind::WorkingDirectory, "{}", show_err(&e));
    assert_eq!(pids_with_arg(&token), Vec::<u32>::new());
}

#[test]
fn a_timeout_kills_every_stage_and_their_descendants_with_partial_output() {
    let dir = TempDir::new("pipeline-timeout");
    let pid_file = dir.path().join("grandchild.pid");
    // sleep | cat | grandchild: the last stage exits at once but leaves a grandchild
    // that holds stdout open; the first two stages never end by themselves.
    let p = Pipeline::new([
        Command::new(fixture("sleep")).arg("30"),
        Command::new("cat"),
        Command::new(fixture("grandchild"))
            .args(["--sleep", "30", "--stdout", "partial\n", "--pid-file"])
            .arg(&pid_file),
    ])
    .timeout(Duration::from_millis(700));
    let start = Instant::now();
    let e = err(p.run(), "timed pipeline");
    let took = start.elapsed();
    assert_eq!(e.kind(), ErrorKind::Timeout, "{}", show_err(&e));
    assert!(took < Duration::from_millis(700 + 500), "took {took:?}");
    let gc = common::read_pid_file(&pid_file);
    let _guard = KillOnDrop(gc);
    assert!(
        String::from_utf8_lossy(e.stdout()).contains("partial\n"),
        "{}",
        show_err(&e)
    );
    let signals: Vec<_> = e.statuses().iter().map(|s| s.signal()).collect();
    assert_eq!(
        signals,
        [Some(libc::SIGKILL), Some(libc::SIGKILL), None],
        "{}",
        show_err(&e)
    );
    assert!(
        wait_until(Duration::from_secs(2), || !common::pid_exists(gc)
            || !support::process_alive(gc)),
        "the grandchild {gc} survived the timeout"
    );
}

#[test]
fn pipeline_cwd_and_env_reach_every_stage_unless_it_sets_its_own() {
    let dir = TempDir::new("pipeline-cwd");
    let here = dir.path().canonicalize().unwrap();
    // Each stage prints its own, then copies what came before.
    let stage = |cmd: Command| {
        Command::shell("cat; \"$0\" \"$@\"")
            .arg(cmd.get_program())
            .args(cmd.get_args())
    };
    let p = Pipeline::new([
        stage(Command::new(fixture("print-cwd"))).stdin(Redirect::Null),
        stage(Command::new(fixture("print-cwd"))).cwd("/"),
        stage(Command::new(fixture("print-env")).args(["PR_A", "PR_B"])),
        stage(Command::new(fixture("print-env")).args(["PR_A", "PR_B"])).env("PR_A", "own"),
        stage(Command::new(fixture("print-env")).arg("HOME")),
    ])
    .cwd(&here)
    .env("PR_A", "pipe")
    .env("PR_B", "both")
    .env_remove("HOME");
    let out = String::from_utf8(ok(p.check_output(), "cwd/env pipeline")).unwrap();
    let expected = format!(
        "{}\n/\nPR_A=pipe\nPR_B=both\nPR_A=own\nPR_B=both\nHOME unset\n",
        here.display()
    );
    assert_eq!(out, expected);
}

#[test]
fn stderr_of_every_stage_is_captured_while_the_data_flows() {
    // Each stage writes megabytes to stderr while the data passes through: if stderr
    // were not drained concurrently with the data path this would deadlock.
    let p = Pipeline::new([
        spew(&["--stdout", "2M", "--stderr", "2M", "--chunk", "65536"]),
        Command::new(fixture("slow-cat")).arg("--stderr"),
        Command::new("cat"),
    ]);
    let done = ok(p.run(), "stderr from every stage");
    assert_bytes(
        "stdout",
        &done.stdout,
        &spew_bytes(2 << 20),
        show_done(&done),
    );
    assert_eq!(done.stderr.len(), 4 << 20, "{}", show_done(&done));
    // spew's stderr pattern and its stdout pattern (copied by slow-cat) are both
    // complete: count the bytes only one of them has.
    let dashes = done.stderr.iter().filter(|&&b| b == b'-').count();
    assert_eq!(
        dashes,
        spew_err_bytes(2 << 20)
            .iter()
            .filter(|&&b| b == b'-')
            .count()
    );
    let plus = done.stderr.iter().filter(|&&b| b == b'+').count();
    assert_eq!(plus, (2 << 20) / 64);

    // check_output leaves stderr alone unless asked; with Pipe it lands in the error.
    let p = Pipeline::new([
        Command::new(fixture("exit-with")).args(["0", "--stderr", "first\n"]),
        Command::new(fixture("exit-with")).args(["4", "--stderr", "second\n"]),
    ])
    .stderr(Redirect::Pipe);
    let e = err(p.check_output(), "failing pipeline with stderr");
    let mut lines: Vec<&[u8]> = e
        .stderr()
        .split(|&b| b == b'\n')
        .filter(|l| !l.is_empty())
        .collect();
    lines.sort();
    assert_eq!(lines, [&b"first"[..], b"second"], "{}", show_err(&e));
    assert!(e.to_string().contains("second"), "{e}");
}

#[test]
fn a_stage_can_keep_its_own_stderr_or_merge_it_into_the_pipe() {
    let dir = TempDir::new("pipeline-stderr");
    let log = dir.path().join("stage2.err");
    let file = std::fs::File::create(&log).unwrap();
    let p = Pipeline::new([
        // Like `a 2>&1 | b`: the first stage's stderr goes down the pipe.
        Command::new(fixture("exit-with"))
            .args(["0", "--stdout", "out\n", "--stderr", "err\n"])
            .stderr(Redirect::Merge),
        Command::new("sh")
            .args(["-c", "cat; echo mine >&2"])
            .stderr(Redirect::File(file)),
        Command::new("sort"),
    ]);
    let done = ok(p.run(), "merge and file");
    assert_eq!(done.stdout, b"err\nout\n", "{}", show_done(&done));
    assert!(done.stderr.is_empty(), "{}", show_done(&done));
    assert_eq!(std::fs::read(&log).unwrap(), b"mine\n");
}

#[test]
fn stage_stdio_between_stages_is_always_the_pipe() {
    // The middle stage asks for its stdin from /dev/null and its stdout to /dev/null:
    // inside a pipeline both are the pipes, as documented.
    let p = Pipeline::new([
        Command::new("echo").arg("through").stdout(Redirect::Null),
        Command::new("cat")
            .stdin(Redirect::Null)
            .stdout(Redirect::Null),
        Command::new("cat").stdin(Redirect::Null),
    ]);
    assert_eq!(ok(p.check_output(), "overridden stdio"), b"through\n");
    // The last stage's own stdout is honoured (like `a | b > file`).
    let p = Command::new("echo")
        .arg("x")
        .pipe(Command::new("cat").stdout(Redirect::Null));
    assert!(ok(p.run(), "last stage to null").stdout.is_empty());
}

#[test]
fn parse_splits_at_bare_pipes_and_refuses_other_shell_syntax() {
    let p = ok(
        Pipeline::parse("printf '%s\\n' 'a|b' c | grep -v c | cat"),
        "parse",
    );
    assert_eq!(p.stages().len(), 3);
    assert_eq!(ok(p.check_output(), "parsed pipeline"), b"a|b\n");

    for (line, what) in [
        ("a || b", "`||`"),
        ("a && b", "`&&`"),
        ("a > f", "redirection"),
        ("a ; b", "`;`"),
    ] {
        let e = err(Pipeline::parse(line), line);
        assert_eq!(e.kind(), ErrorKind::Parse, "{line}");
        assert!(e.to_string().contains("Command::shell"), "{line}: {e}");
        assert!(e.to_string().contains(what), "{line}: {e}");
        assert!(e.to_string().contains("at byte 2"), "{line}: {e}");
    }
    let e = err(Pipeline::parse("a | | b"), "empty stage");
    assert!(e.to_string().contains("stage 2"), "{e}");
    let e = err(Pipeline::parse("a | 'b"), "unbalanced");
    assert!(e.to_string().contains("at byte 4"), "{e}");
    let e = err(Pipeline::new(Vec::new()).run(), "empty pipeline");
    assert_eq!(e.kind(), ErrorKind::InvalidInput);
}

#[test]
fn spawn_gives_a_handle_over_every_stage() {
    let h = ok(
        Pipeline::parse("sleep 30 | cat | cat")
            .unwrap()
            .new_process_group(true)
            .spawn(),
        "spawn",
    );
    let pids = h.pids();
    assert_eq!(pids.len(), 3);
    assert!(ok(h.poll(), "poll").is_none());
    assert!(ok(h.wait_timeout(Duration::from_millis(20)), "wait_timeout").is_none());
    ok(h.kill(), "kill");
    let status = ok(h.wait(), "wait");
    assert_eq!(status.signal(), Some(libc::SIGKILL));
    let statuses = h.statuses().expect("all reaped");
    assert!(
        statuses.iter().all(|s| s.signal() == Some(libc::SIGKILL)),
        "{statuses:?}"
    );
    for pid in pids {
        assert_reaped(pid, "stage");
    }

    // Without a group of their own, kill still reaches every stage.
    let h = ok(
        Pipeline::parse("sleep 30 | sleep 30").unwrap().spawn(),
        "spawn",
    );
    ok(h.kill(), "kill");
    assert!(
        ok(
            h.wait_deadline(Instant::now() + Duration::from_secs(5)),
            "wait"
        )
        .is_some()
    );
}

#[test]
fn spawned_pipelines_hand_out_their_outer_pipes() {
    use std::io::{Read, Write};
    let mut h = ok(
        Pipeline::parse("tr a-z A-Z | sh -c 'cat; echo done >&2'")
            .unwrap()
            .stdin(Redirect::Pipe)
            .stdout(Redirect::Pipe)
            .stderr(Redirect::Pipe)
            .spawn(),
        "spawn with pipes",
    );
    let mut stdin = h.take_stdin().unwrap();
    stdin.write_all(b"hello").unwrap();
    drop(stdin);
    let mut out = String::new();
    h.take_stdout().unwrap().read_to_string(&mut out).unwrap();
    let mut errs = String::new();
    h.take_stderr().unwrap().read_to_string(&mut errs).unwrap();
    assert_eq!((out.as_str(), errs.as_str()), ("HELLO", "done\n"));
    assert!(ok(h.wait(), "wait").success());
}

#[test]
fn dropping_a_spawned_pipeline_leaves_no_zombie() {
    let h = ok(Pipeline::parse("true | true").unwrap().spawn(), "spawn");
    let pids = h.pids();
    drop(h);
    for pid in pids {
        assert_reaped(pid, "dropped stage");
    }
}
