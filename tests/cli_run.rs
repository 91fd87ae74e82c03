//! `pipe-run run` end to end: the real binary runs real pipelines and exits as a shell
//! would (pipefail status, 128+N, 124 on timeout, 127 naming a missing program), prints
//! one JSON object with --json, refuses bad command lines clearly, and passes a stop
//! signal on to the pipeline so that nothing is left running.

mod cli_support;
mod common;
mod support;

use std::io::{BufRead, BufReader};
use std::time::{Duration, Instant};

use cli_support::{fx, pipe_run, pipe_run_input, spawn_pipe_run};
use common::{KillOnDrop, TempDir, kill, read_pid_file};
use serde_json::Value;
use support::{process_alive, wait_until};

#[test]
fn a_pipeline_streams_its_output_and_exits_zero() {
    let ran = pipe_run(&["run", r"printf 'b\na\nb\n' | sort | uniq -c"]);
    ran.expect_code(0);
    let lines: Vec<String> = ran
        .lines()
        .iter()
        .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
        .collect();
    assert_eq!(lines, ["1 a", "2 b"], "{ran:?}");
    assert_eq!(ran.stderr, "", "{ran:?}");
}

#[test]
fn stdin_reaches_the_first_stage() {
    let ran = pipe_run_input(&["run", "sort -r"], "a\nc\nb\n");
    ran.expect_code(0);
    assert_eq!(ran.stdout, "c\nb\na\n", "{ran:?}");
}

#[test]
fn words_after_double_dash_reach_the_program_verbatim() {
    let ran = pipe_run(&[
        "run",
        "--",
        &fx("print-args"),
        "a b",
        "$HOME",
        "",
        "x|y",
        "{}",
    ]);
    ran.expect_code(0);
    assert_eq!(ran.stdout, "a b\0$HOME\0\0x|y\0{}\0", "{ran:?}");
}

#[test]
fn the_status_is_the_rightmost_failure_like_pipefail() {
    let exit = fx("exit-with");
    pipe_run(&["run", "false | true"]).expect_code(1);
    pipe_run(&["run", &format!("{exit} 4 | {exit} 0")]).expect_code(4);
    pipe_run(&["run", &format!("{exit} 4 | {exit} 5 | {exit} 0")]).expect_code(5);
    pipe_run(&["run", "--", &exit, "7"]).expect_code(7);
}

#[test]
fn a_stage_stopped_by_sigpipe_is_not_a_failure() {
    let ran = pipe_run(&["run", "yes | head -n 1"]);
    ran.expect_code(0);
    assert_eq!(ran.stdout, "y\n", "{ran:?}");
}

#[test]
fn death_by_signal_exits_128_plus_n() {
    let signal = fx("signal-self");
    pipe_run(&["run", "--", &signal, "15"]).expect_code(143);
    pipe_run(&["run", "--", &signal, "10"]).expect_code(138);
    pipe_run(&["run", &format!("{signal} 2 | cat")]).expect_code(130);
}

#[test]
fn timeout_exits_124_and_kills_every_descendant() {
    let dir = TempDir::new("cli-run-timeout");
    let pid_file = dir.path().join("gc.pid");
    let start = Instant::now();
    let ran = pipe_run(&[
        "run",
        "--timeout",
        "300ms",
        "--",
        &fx("grandchild"),
        "--sleep",
        "30",
        "--parent-sleep",
        "30",
        "--pid-file",
        pid_file.to_str().unwrap(),
    ]);
    let elapsed = start.elapsed();
    let grandchild = read_pid_file(&pid_file);
    let _guard = KillOnDrop(grandchild);
    ran.expect_code(124).expect_stderr("timed out after 300ms");
    assert!(elapsed < Duration::from_secs(5), "took {elapsed:?}{ran:?}");
    assert!(
        wait_until(Duration::from_secs(2), || !process_alive(grandchild)),
        "grandchild {grandchild} survived the timeout{ran:?}"
    );
}

#[test]
fn a_missing_program_exits_127_and_is_named() {
    let ran = pipe_run(&["run", "no-such-program-xyz --flag | cat"]);
    ran.expect_code(127)
        .expect_stderr("no-such-program-xyz")
        .expect_stderr("not found");
}

#[test]
fn a_program_that_cannot_run_exits_126() {
    let dir = TempDir::new("cli-run-126");
    let script = dir.file("not-executable", b"#!/bin/sh\necho hi\n", 0o644);
    pipe_run(&["run", "--", script.to_str().unwrap()]).expect_code(126);
}

#[test]
fn capture_prints_the_output_after_the_run() {
    let ran = pipe_run(&["run", "--capture", "sh -c 'echo out; echo err >&2; exit 3'"]);
    ran.expect_code(3);
    assert_eq!(
        (ran.stdout.as_str(), ran.stderr.as_str()),
        ("out\n", "err\n"),
        "{ran:?}"
    );
}

fn json_of(ran: &cli_support::Ran) -> Value {
    assert_eq!(
        ran.stdout.lines().count(),
        1,
        "--json prints exactly one line{ran:?}"
    );
    serde_json::from_str(&ran.stdout).unwrap_or_else(|e| panic!("not JSON: {e}{ran:?}"))
}

#[test]
fn json_describes_every_stage_with_captured_output_and_byte_counts() {
    let ran = pipe_run(&["run", "--json", "--capture", r"printf 'x\ny\n' | sort -r"]);
    ran.expect_code(0);
    let v = json_of(&ran);
    assert_eq!(v["command"], r"printf 'x\ny\n' | sort -r", "{ran:?}");
    assert_eq!(v["exit_code"], 0);
    assert_eq!(v["timed_out"], false);
    assert_eq!(v["stdout"], "y\nx\n");
    assert_eq!(v["stdout_bytes"], 4);
    assert_eq!(v["stderr_bytes"], 0);
    assert!(v["duration"].as_f64().unwrap() > 0.0, "{ran:?}");
    let stages = v["stages"].as_array().unwrap();
    assert_eq!(stages.len(), 2, "{ran:?}");
    assert_eq!(stages[1]["command"], "sort -r");
    for stage in stages {
        assert_eq!(stage["exit_code"], 0, "{ran:?}");
        assert!(stage["pid"].as_u64().unwrap() > 0, "{ran:?}");
    }
}

#[test]
fn json_names_the_failing_stage_and_keeps_stdout_clean() {
    let exit = fx("exit-with");
    let ran = pipe_run(&["run", "--json", &format!("{exit} 3 --stdout noise | cat")]);
    ran.expect_code(3);
    let v = json_of(&ran);
    assert_eq!(v["exit_code"], 3);
    assert_eq!(v["stages"][0]["exit_code"], 3);
    assert_eq!(v["stages"][0]["status"], "exited with code 3");
    assert_eq!(v["stages"][1]["exit_code"], 0);
    // Without --capture the output streams to stderr and is counted.
    assert_eq!(v["stdout_bytes"], 5);
    assert!(v.get("stdout").is_none(), "{ran:?}");
    assert_eq!(ran.stderr, "noise", "{ran:?}");
}

#[test]
fn json_reports_a_timeout_and_a_signal() {
    let ran = pipe_run(&[
        "run",
        "--json",
        "--timeout",
        "200ms",
        "--",
        &fx("sleep"),
        "10",
    ]);
    ran.expect_code(124);
    let v = json_of(&ran);
    assert_eq!(v["timed_out"], true);
    assert_eq!(v["stages"][0]["signal"], 9, "{ran:?}");

    let ran = pipe_run(&["run", "--json", "--", &fx("signal-self"), "15"]);
    ran.expect_code(143);
    assert_eq!(
        json_of(&ran)["stages"][0]["status"],
        "was killed by signal 15 (SIGTERM)"
    );
}

#[test]
fn json_of_a_missing_program_says_why() {
    let ran = pipe_run(&["run", "--json", "no-such-program-xyz"]);
    ran.expect_code(127);
    assert!(
        json_of(&ran)["error"]
            .as_str()
            .unwrap()
            .contains("not found"),
        "{ran:?}"
    );
}

#[test]
fn bad_pipelines_are_refused_with_the_position_and_code_125() {
    pipe_run(&["run", "echo 'unbalanced"])
        .expect_code(125)
        .expect_stderr("missing closing single quote (at byte 5)");
    pipe_run(&["run", "make && make install"])
        .expect_code(125)
        .expect_stderr("`&&`");
    pipe_run(&["run", "a | | b"])
        .expect_code(125)
        .expect_stderr("stage 2");
}

#[test]
fn usage_errors_exit_125_with_a_clear_message() {
    pipe_run(&["run", "--bogus", "true"])
        .expect_code(125)
        .expect_stderr("unexpected argument '--bogus'");
    pipe_run(&["run"])
        .expect_code(125)
        .expect_stderr("required");
    pipe_run(&["run", "--timeout", "5x", "true"])
        .expect_code(125)
        .expect_stderr("unknown unit");
    pipe_run(&["run", "true", "--", "true"]).expect_code(125);
}

#[test]
fn help_has_examples() {
    let ran = pipe_run(&["run", "--help"]);
    ran.expect_code(0);
    assert!(ran.stdout.contains("Examples:"), "{ran:?}");
    assert!(ran.stdout.contains("124"), "{ran:?}");
}

/// Starts `pipe-run run ARGS` whose first stage is `sleep 30 --print-pid`, and returns
/// pipe-run and the sleeper's pid (read from pipe-run's stdout).
fn start_sleeper(
    extra: &[&str],
) -> (
    std::process::Child,
    u32,
    BufReader<std::process::ChildStdout>,
) {
    let sleep = fx("sleep");
    let mut args = vec!["run"];
    args.extend_from_slice(extra);
    args.extend_from_slice(&["--", &sleep, "30", "--print-pid"]);
    let mut child = spawn_pipe_run(&args);
    let mut out = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    out.read_line(&mut line).unwrap();
    let pid: u32 = line
        .trim()
        .parse()
        .unwrap_or_else(|_| panic!("no pid line: {line:?}"));
    (child, pid, out)
}

#[test]
fn a_stop_signal_to_pipe_run_alone_ends_the_pipeline() {
    for (sig, code, extra) in [
        (libc::SIGTERM, 143, &[][..]),
        (libc::SIGINT, 130, &[][..]),
        (libc::SIGHUP, 129, &[][..]),
        // With a timeout the pipeline has a process group of its own.
        (libc::SIGTERM, 143, &["--timeout", "60s"][..]),
    ] {
        let (mut child, sleeper, _out) = start_sleeper(extra);
        let _guard = KillOnDrop(sleeper);
        let start = Instant::now();
        kill(child.id(), sig);
        let status = child.wait().unwrap();
        assert_eq!(status.code(), Some(code), "signal {sig} {extra:?}");
        assert!(
            start.elapsed() < Duration::from_secs(5),
            "signal {sig}: {:?}",
            start.elapsed()
        );
        assert!(
            wait_until(Duration::from_secs(2), || !process_alive(sleeper)),
            "signal {sig} {extra:?}: the sleeper {sleeper} is still running"
        );
    }
}
