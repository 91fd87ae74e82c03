//! The fixture programs do exactly what the other tests rely on. Each runs here through
//! plain `std::process::Command`, so a failure points at the fixture, not the library.

mod support;

use std::io::{BufRead, BufReader, ErrorKind, Write};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use support::{fixture, process_alive, spew_bytes, spew_err_bytes, wait_until};

/// Runs `command` to completion, capturing stdout and stderr.
fn run(command: &mut Command) -> Output {
    command
        .output()
        .unwrap_or_else(|e| panic!("cannot run {command:?}: {e}"))
}

/// Describes a finished command for assertion messages.
fn describe(command: &Command, output: &Output) -> String {
    format!(
        "command: {command:?}\nstatus: {}\n--- stdout\n{}\n--- stderr\n{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

/// Runs `command` and asserts it exits with `code`, printing everything if not.
fn run_expecting(code: i32, command: &mut Command) -> Output {
    let output = run(command);
    assert_eq!(
        output.status.code(),
        Some(code),
        "{}",
        describe(command, &output)
    );
    output
}

/// Kills a process this test started but cannot wait for (a grandchild) when the test
/// ends, pass or fail.
struct KillOnDrop(u32);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        kill(self.0, libc::SIGKILL);
    }
}

fn kill(pid: u32, signal: i32) {
    let pid = libc::pid_t::try_from(pid).expect("pid out of range");
    // SAFETY: kill() only sends a signal; the pid is one this test started.
    unsafe { libc::kill(pid, signal) };
}

/// Fields 3.. of `/proc/PID/stat` (state, ppid, pgrp, session, ...), split after the
/// last `)` because the command name may contain spaces and parentheses.
fn stat_fields(pid: u32) -> Vec<String> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    stat[stat.rfind(')').unwrap() + 1..]
        .split_whitespace()
        .map(String::from)
        .collect()
}

#[test]
fn spew_writes_the_documented_patterns() {
    let mut command = Command::new(fixture("spew"));
    command.args(["--stdout", "1000", "--stderr", "100"]);
    let output = run_expecting(0, &mut command);
    assert!(
        output.stdout == spew_bytes(1000) && output.stderr == spew_err_bytes(100),
        "{}",
        describe(&command, &output)
    );
}

#[test]
fn spew_sizes_take_suffixes_and_chunking_does_not_change_the_bytes() {
    let output = run_expecting(
        0,
        Command::new(fixture("spew")).args(["--stdout", "1M", "--stderr", "3K", "--chunk", "1000"]),
    );
    assert_eq!(output.stdout.len(), 1 << 20);
    assert!(output.stdout == spew_bytes(1 << 20));
    assert!(output.stderr == spew_err_bytes(3 << 10));
}

#[test]
fn spew_alternates_stdout_and_stderr_chunk_by_chunk() {
    // Both streams on one pipe show the order: out 4, err 4, out 4, err 2, out 2.
    let script = r#""$0" --stdout 10 --stderr 6 --chunk 4 2>&1"#;
    let output = run_expecting(
        0,
        Command::new("sh").args(["-c", script]).arg(fixture("spew")),
    );
    assert_eq!(output.stdout, b"abcdERROefghRSij");
}

#[test]
fn spew_patterns_can_be_replaced() {
    let output = run_expecting(
        0,
        Command::new(fixture("spew")).args([
            "--stdout",
            "7",
            "--stderr",
            "5",
            "--out-pattern",
            "xy",
            "--err-pattern",
            "e",
        ]),
    );
    assert_eq!(output.stdout, b"xyxyxyx");
    assert_eq!(output.stderr, b"eeeee");
}

#[test]
fn spew_exits_3_quietly_when_stdout_is_closed() {
    let mut child = Command::new(fixture("spew"))
        .args(["--stdout", "10M"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    let output = child.wait_with_output().unwrap();
    assert_eq!(output.status.code(), Some(3), "{:?}", output);
    assert_eq!(output.stderr, b"");
}

#[test]
fn every_fixture_rejects_an_unknown_flag_with_exit_code_2() {
    for name in [
        "spew",
        "slow-cat",
        "exit-with",
        "sleep",
        "signal-self",
        "grandchild",
        "ignore-term",
        "close-stdin",
        "print-cwd",
        "list-fds",
    ] {
        let output = run_expecting(2, Command::new(fixture(name)).arg("--no-such-flag"));
        assert!(
            String::from_utf8_lossy(&output.stderr).contains("usage:"),
            "{name}: {output:?}"
        );
    }
}

#[test]
fn slow_cat_copies_stdin_to_stdout_and_optionally_stderr() {
    let mut child = Command::new(fixture("slow-cat"))
        .args(["--chunk", "3", "--stderr"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"hello, world")
        .unwrap();
    let output = child.wait_with_output().unwrap();
    assert!(output.status.success(), "{output:?}");
    assert_eq!(output.stdout, b"hello, world");
    assert_eq!(output.stderr, b"hello, world");
}

#[test]
fn slow_cat_stops_at_the_limit_leaving_the_rest_unread() {
    let mut child = Command::new(fixture("slow-cat"))
        .args(["--limit", "4", "--chunk", "3", "--delay-ms", "10"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(b"abcdefghij").unwrap();
    let output = child.wait_with_output().unwrap();
    assert!(output.status.success(), "{output:?}");
    assert_eq!(output.stdout, b"abcd");
    // With the only reader gone, writing more fails.
    assert_eq!(
        stdin.write_all(b"more").unwrap_err().kind(),
        ErrorKind::BrokenPipe
    );
}

#[test]
fn exit_with_prints_texts_verbatim_and_exits_with_the_code() {
    let output = run_expecting(
        7,
        Command::new(fixture("exit-with")).args(["7", "--stdout", "out\n", "--stderr", "err"]),
    );
    assert_eq!(output.stdout, b"out\n");
    assert_eq!(output.stderr, b"err");
    run_expecting(0, Command::new(fixture("exit-with")).arg("0"));
}

#[test]
fn sleep_prints_its_pid_and_logs_when_it_ran() {
    let log = std::env::temp_dir().join(format!("pipe-run-sleep-{}.log", std::process::id()));
    let _ = std::fs::remove_file(&log);
    let children: Vec<_> = (0..2)
        .map(|_| {
            Command::new(fixture("sleep"))
                .args(["0.3", "--print-pid", "--log"])
                .arg(&log)
                .stdout(Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    let mut pids = Vec::new();
    for child in children {
        let pid = child.id();
        let output = child.wait_with_output().unwrap();
        assert!(output.status.success(), "{output:?}");
        assert_eq!(output.stdout, format!("{pid}\n").as_bytes());
        pids.push(pid);
    }
    let text = std::fs::read_to_string(&log).unwrap();
    std::fs::remove_file(&log).unwrap();
    let mut spans: Vec<(u128, u128, u32)> = text
        .lines()
        .map(|line| {
            let f: Vec<&str> = line.split(' ').collect();
            assert_eq!(f.len(), 3, "bad log line {line:?}");
            (
                f[0].parse().unwrap(),
                f[1].parse().unwrap(),
                f[2].parse().unwrap(),
            )
        })
        .collect();
    spans.sort_by_key(|&(_, _, pid)| pid);
    pids.sort_unstable();
    assert_eq!(spans.iter().map(|s| s.2).collect::<Vec<_>>(), pids);
    for &(start, end, _) in &spans {
        assert!(end - start >= 300_000_000, "slept too little: {text}");
    }
    // Started together, so they overlapped.
    assert!(spans[0].0 < spans[1].1 && spans[1].0 < spans[0].1, "{text}");
}

#[test]
fn signal_self_dies_by_the_signal_even_one_rust_ignores() {
    for signal in [libc::SIGTERM, libc::SIGPIPE] {
        let mut command = Command::new(fixture("signal-self"));
        command.args([signal.to_string().as_str(), "--stdout", "bye"]);
        let output = run(&mut command);
        assert_eq!(
            output.status.signal(),
            Some(signal),
            "{}",
            describe(&command, &output)
        );
        assert_eq!(output.stdout, b"bye");
    }
}

#[test]
fn grandchild_outlives_its_parent_and_can_be_killed() {
    let pid_file = std::env::temp_dir().join(format!("pipe-run-gc-{}.pid", std::process::id()));
    let mut command = Command::new(fixture("grandchild"));
    command
        .arg("--pid-file")
        .arg(&pid_file)
        .stdout(Stdio::null());
    let status = command.status().unwrap();
    let pid: u32 = std::fs::read_to_string(&pid_file)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    std::fs::remove_file(&pid_file).unwrap();
    let _guard = KillOnDrop(pid);
    assert!(status.success(), "{command:?}: {status}");
    assert!(process_alive(pid), "grandchild {pid} is gone already");

    kill(pid, libc::SIGKILL);
    assert!(wait_until(Duration::from_secs(5), || !process_alive(pid)));
}

#[test]
fn grandchild_keeps_stdout_open_until_it_exits() {
    let mut command = Command::new(fixture("grandchild"));
    command.args(["--sleep", "0.2", "--stdout", "from below\n"]);
    // `output()` reads to EOF, which only comes once the grandchild has exited too.
    let output = run_expecting(0, &mut command);
    let text = String::from_utf8(output.stdout).unwrap();
    let mut lines: Vec<&str> = text.lines().collect();
    lines.sort_unstable();
    assert_eq!(lines.len(), 2, "{text:?}");
    assert_eq!(lines[0], "from below");
    let pid: u32 = lines[1]
        .strip_prefix("grandchild ")
        .unwrap()
        .parse()
        .unwrap();
    assert!(wait_until(Duration::from_secs(5), || !process_alive(pid)));
}

#[test]
fn grandchild_with_setsid_leaves_the_process_group() {
    let mut child = Command::new(fixture("grandchild"))
        .args(["--setsid", "--parent-sleep", "30"])
        .process_group(0)
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let parent = child.id();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let pid: u32 = line
        .trim()
        .strip_prefix("grandchild ")
        .unwrap()
        .parse()
        .unwrap();
    let _guard = KillOnDrop(pid);

    let (parent_stat, grandchild_stat) = (stat_fields(parent), stat_fields(pid));
    assert_eq!(grandchild_stat[1], parent.to_string(), "ppid");
    assert_eq!(parent_stat[2], parent.to_string(), "parent leads its group");
    assert_eq!(
        grandchild_stat[2],
        pid.to_string(),
        "grandchild leads a new group"
    );
    assert_eq!(
        grandchild_stat[3],
        pid.to_string(),
        "grandchild leads a new session"
    );

    child.kill().unwrap();
    child.wait().unwrap();
}

#[test]
fn ignore_term_survives_sigterm_but_not_sigkill() {
    let mut child = Command::new(fixture("ignore-term"))
        .arg("30")
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    assert_eq!(line, "ready\n");
    kill(child.id(), libc::SIGTERM);
    std::thread::sleep(Duration::from_millis(100));
    assert!(child.try_wait().unwrap().is_none(), "SIGTERM killed it");
    child.kill().unwrap();
    assert_eq!(child.wait().unwrap().signal(), Some(libc::SIGKILL));
}

#[test]
fn close_stdin_closes_fd_0_and_still_writes_its_output() {
    let mut child = Command::new(fixture("close-stdin"))
        .args(["--bytes", "100K", "--delay-ms", "300"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let fd0 = format!("/proc/{}/fd/0", child.id());
    assert!(wait_until(Duration::from_secs(5), || {
        std::fs::symlink_metadata(&fd0).is_err()
    }));
    let mut stdin = child.stdin.take().unwrap();
    assert_eq!(
        stdin.write_all(b"x").unwrap_err().kind(),
        ErrorKind::BrokenPipe
    );
    let output = child.wait_with_output().unwrap();
    assert!(output.status.success(), "{output:?}");
    assert!(output.stdout == spew_bytes(100 << 10));
}

#[test]
fn print_env_lists_sorted_variables_or_the_ones_named() {
    let output = run_expecting(
        0,
        Command::new(fixture("print-env"))
            .env_clear()
            .env("B", "2")
            .env("A", "x=1"),
    );
    assert_eq!(output.stdout, b"A=x=1\nB=2\n");
    let output = run_expecting(
        0,
        Command::new(fixture("print-env"))
            .args(["B", "NOT_SET_ANYWHERE", "A"])
            .env_clear()
            .env("A", "1")
            .env("B", ""),
    );
    assert_eq!(output.stdout, b"B=\nNOT_SET_ANYWHERE unset\nA=1\n");
}

#[test]
fn print_cwd_prints_the_working_directory() {
    let dir = std::env::temp_dir().canonicalize().unwrap();
    let output = run_expecting(0, Command::new(fixture("print-cwd")).current_dir(&dir));
    let mut expected = dir.as_os_str().as_bytes().to_vec();
    expected.push(b'\n');
    assert_eq!(output.stdout, expected);
}

#[test]
fn print_args_returns_each_argument_raw_and_nul_terminated() {
    use std::ffi::OsStr;
    let odd = OsStr::from_bytes(b"not \xff utf-8");
    let output = run_expecting(
        0,
        Command::new(fixture("print-args")).args([
            OsStr::new("a b"),
            OsStr::new(""),
            OsStr::new("line\n"),
            odd,
        ]),
    );
    assert_eq!(output.stdout, b"a b\0\0line\n\0not \xff utf-8\0");
    assert_eq!(
        run_expecting(0, &mut Command::new(fixture("print-args"))).stdout,
        b""
    );
}

/// What `list-fds` prints for a child given `standard` plus whatever this test process
/// itself inherited without close-on-exec (see `support::inherited_fds`).
fn fds_line(standard: &[i32]) -> String {
    let mut line = String::from("fds:");
    for fd in standard.iter().chain(&support::inherited_fds()) {
        line.push_str(&format!(" {fd}"));
    }
    line + "\n"
}

#[test]
fn list_fds_from_std_shows_only_the_standard_three() {
    let output = run_expecting(0, &mut Command::new(fixture("list-fds")));
    assert_eq!(
        String::from_utf8(output.stdout).unwrap(),
        fds_line(&[0, 1, 2])
    );
}

#[test]
fn list_fds_reports_a_closed_stdin_as_missing() {
    let mut command = Command::new(fixture("list-fds"));
    // SAFETY: close() is async-signal-safe, as pre_exec requires.
    unsafe {
        command.pre_exec(|| {
            libc::close(0);
            Ok(())
        });
    }
    let output = run_expecting(0, &mut command);
    assert_eq!(String::from_utf8(output.stdout).unwrap(), fds_line(&[1, 2]));
}

#[test]
fn list_fds_shows_the_signal_state_it_inherited() {
    let output = run_expecting(0, Command::new(fixture("list-fds")).arg("--signals"));
    let text = String::from_utf8(output.stdout).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 3, "{text}");
    let mask = |line: &str, prefix: &str| {
        let hex = line.strip_prefix(prefix).unwrap().trim();
        u64::from_str_radix(hex, 16).unwrap()
    };
    // std's Command unblocks every signal and resets SIGPIPE in the child, and list-fds
    // skips Rust's start-up that would ignore SIGPIPE again.
    assert_eq!(mask(lines[1], "SigBlk:"), 0, "{text}");
    let sigpipe_bit = 1u64 << (libc::SIGPIPE - 1);
    assert_eq!(mask(lines[2], "SigIgn:") & sigpipe_bit, 0, "{text}");
}

#[test]
fn support_sees_children_and_zombies() {
    let mut child = Command::new(fixture("sleep")).arg("30").spawn().unwrap();
    let pid = child.id();
    let me = std::process::id();
    assert!(support::children_of(me).contains(&pid));
    assert!(process_alive(pid));
    child.kill().unwrap();
    assert!(wait_until(Duration::from_secs(5), || {
        support::zombie_children().contains(&pid)
    }));
    assert!(!process_alive(pid));
    child.wait().unwrap();
    assert!(!support::children_of(me).contains(&pid));
}

#[test]
fn support_open_fds_sees_a_new_descriptor() {
    let file = std::fs::File::open("/dev/null").unwrap();
    use std::os::fd::AsRawFd;
    let fds = support::open_fds();
    assert!(fds.contains(&file.as_raw_fd()), "{fds:?}");
    assert!(fds.starts_with(&[0, 1, 2]), "{fds:?}");
}
