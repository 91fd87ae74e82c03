//! `pipe-run pool` end to end: the real binary runs templated jobs against fixtures.
//! Exit codes count failed jobs (capped at 101, 255 for our own errors); placeholders
//! and input groups behave as in GNU parallel; output is grouped per job (never
//! interleaved) in completion or input order; the job log has GNU parallel's columns
//! and `--resume-failed` re-runs exactly the failed and missing jobs; and a stop signal
//! sent to pipe-run alone ends every job, leaving no process behind.

mod cli_support;
mod common;
mod support;

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader};
use std::time::{Duration, Instant};

use cli_support::{fx, pipe_run, pipe_run_input, spawn_pipe_run};
use common::{KillOnDrop, TempDir, kill, read_pid_file};
use serde_json::Value;
use support::{process_alive, wait_until};

fn args<'a>(head: &[&'a str], tail: &'a [String]) -> Vec<&'a str> {
    head.iter()
        .copied()
        .chain(tail.iter().map(String::as_str))
        .collect()
}

#[test]
fn all_jobs_succeeding_exits_zero_with_a_summary() {
    let ran = pipe_run(&["pool", "-j", "2", "echo {}", ":::", "a", "b", "c"]);
    ran.expect_code(0)
        .expect_stderr("3 jobs: 3 succeeded, 0 failed, 0 cancelled");
    let mut lines = ran.lines();
    lines.sort();
    assert_eq!(lines, ["a", "b", "c"], "{ran:?}");
}

#[test]
fn the_exit_code_is_the_number_of_failed_jobs() {
    let exit = fx("exit-with");
    let ran = pipe_run(&[
        "pool",
        "-j",
        "3",
        &format!("{exit} {{}}"),
        ":::",
        "0",
        "1",
        "0",
        "7",
        "2",
    ]);
    ran.expect_code(3)
        .expect_stderr("5 jobs: 2 succeeded, 3 failed, 0 cancelled")
        .expect_stderr("exited with code 7");
}

#[test]
fn the_exit_code_is_capped_at_101() {
    let exit = fx("exit-with");
    let ones: Vec<String> = vec!["1".to_owned(); 105];
    let template = format!("{exit} {{}}");
    let ran = pipe_run(&args(&["pool", "-j", "8", &template, ":::"], &ones));
    ran.expect_code(101).expect_stderr("105 failed");
}

#[test]
fn the_summary_shows_each_failure_with_its_last_stderr_lines() {
    let ran = pipe_run(&[
        "pool",
        "--shell",
        "echo first >&2; echo second >&2; echo third >&2; echo last >&2; exit {}",
        ":::",
        "0",
        "4",
    ]);
    ran.expect_code(1)
        .expect_stderr("failed: job 2 `echo first >&2; echo second >&2; echo third >&2; echo last >&2; exit 4` exited with code 4")
        .expect_stderr("    | second\n    | third\n    | last\n");
}

#[test]
fn a_missing_program_is_a_failed_job_naming_it() {
    let ran = pipe_run(&["pool", "no-such-program-xyz {}", ":::", "a"]);
    ran.expect_code(1)
        .expect_stderr("program `no-such-program-xyz` not found");
}

#[test]
fn our_own_errors_exit_255_with_a_clear_message() {
    pipe_run(&["pool", "--bogus", "echo", ":::", "a"])
        .expect_code(255)
        .expect_stderr("unexpected argument '--bogus'");
    pipe_run(&["pool", "echo {foo}", ":::", "a"])
        .expect_code(255)
        .expect_stderr("unknown placeholder `{foo}`")
        .expect_stderr("(at byte 5)");
    pipe_run(&["pool", "echo {3}", ":::", "a", ":::", "b"])
        .expect_code(255)
        .expect_stderr(
            "`{3}` (at byte 5) refers to input group 3, but the jobs have only 2 input groups",
        );
    pipe_run(&["pool", "echo 'oops {}", ":::", "a"])
        .expect_code(255)
        .expect_stderr("missing closing single quote (at byte 5)");
    pipe_run(&["pool", "gzip {} > {}.gz", ":::", "a"])
        .expect_code(255)
        .expect_stderr("needs a shell: run the template with `--shell`");
    pipe_run(&["pool", "--joblog", "/no/such/dir/log", "echo", ":::", "a"])
        .expect_code(255)
        .expect_stderr("/no/such/dir/log");
    pipe_run(&["pool", "--resume-failed", "echo", ":::", "a"])
        .expect_code(255)
        .expect_stderr("--joblog");
    pipe_run(&["pool", "--halt", "sometimes", "echo", ":::", "a"])
        .expect_code(255)
        .expect_stderr("now,fail=1");
    pipe_run(&["pool", "--termseq", "TERM,soon", "echo", ":::", "a"])
        .expect_code(255)
        .expect_stderr("`soon` is not a number of milliseconds");
}

#[test]
fn every_placeholder_is_substituted_as_in_gnu_parallel() {
    let ran = pipe_run(&[
        "pool",
        "-j",
        "1",
        &format!(
            "{} {{}} {{.}} {{/}} {{//}} {{/.}} {{#}} {{%}} x{{}}y",
            fx("print-args")
        ),
        ":::",
        "dir/sub/a b.tar.gz",
    ]);
    ran.expect_code(0);
    let words: Vec<&str> = ran.stdout.split('\0').collect();
    assert_eq!(
        words,
        [
            "dir/sub/a b.tar.gz",
            "dir/sub/a b.tar",
            "a b.tar.gz",
            "dir/sub",
            "a b.tar",
            "1",
            "1",
            "xdir/sub/a b.tar.gzy",
            ""
        ],
        "{ran:?}"
    );
}

#[test]
fn several_groups_make_the_cartesian_product_first_group_slowest() {
    let ran = pipe_run(&[
        "pool",
        "-k",
        "-j",
        "4",
        "echo {#} {1}-{2}",
        ":::",
        "a",
        "b",
        ":::",
        "1",
        "2",
        "3",
    ]);
    ran.expect_code(0);
    assert_eq!(
        ran.lines(),
        ["1 a-1", "2 a-2", "3 a-3", "4 b-1", "5 b-2", "6 b-3"],
        "{ran:?}"
    );
}

#[test]
fn without_placeholders_the_arguments_are_appended() {
    let ran = pipe_run(&["pool", "-k", "echo x", ":::", "a", "b", ":::", "1"]);
    assert_eq!(ran.lines(), ["x a 1", "x b 1"], "{ran:?}");
}

#[test]
fn values_are_never_split_or_run_by_a_shell() {
    let nasty = "a b; echo pwned $(id) `id` 'q' *";
    let ran = pipe_run(&["pool", &format!("{} {{}}", fx("print-args")), ":::", nasty]);
    ran.expect_code(0);
    assert_eq!(ran.stdout, format!("{nasty}\0"), "{ran:?}");
}

#[test]
fn shell_templates_quote_each_value_for_its_place() {
    let value = "it's \"$HOME\" `id`";
    let ran = pipe_run(&[
        "pool",
        "--shell",
        r#"printf '%s|' {} "{}" '{}' | tr -d '\n'"#,
        ":::",
        value,
    ]);
    ran.expect_code(0);
    assert_eq!(ran.stdout, format!("{value}|{value}|{value}|"), "{ran:?}");
}

#[test]
fn a_bar_in_the_template_makes_each_job_a_pipeline() {
    let ran = pipe_run(&["pool", "-k", r"printf '{}\n{}\n' | wc -l", ":::", "a", "b"]);
    ran.expect_code(0);
    let counts: Vec<&str> = ran.lines().iter().map(|l| l.trim()).collect();
    assert_eq!(counts, ["2", "2"], "{ran:?}");
}

#[test]
fn arguments_come_from_stdin_one_per_line_without_groups() {
    let ran = pipe_run_input(&["pool", "-k", "echo [{}]"], "a b\n\nc\n");
    ran.expect_code(0);
    assert_eq!(ran.lines(), ["[a b]", "[]", "[c]"], "{ran:?}");
}

#[test]
fn four_colons_read_a_group_from_a_file() {
    let dir = TempDir::new("cli-pool-argfile");
    let file = dir.file("args", b"x\ny\n", 0o644);
    let ran = pipe_run(&[
        "pool",
        "-k",
        "echo {1}{2}",
        "::::",
        file.to_str().unwrap(),
        ":::",
        "1",
    ]);
    assert_eq!(ran.lines(), ["x1", "y1"], "{ran:?}");
}

#[test]
fn several_template_words_are_taken_as_already_split() {
    let ran = pipe_run(&["pool", &fx("print-args"), "{}", "a b", ":::", "x"]);
    assert_eq!(ran.stdout, "x\0a b\0", "{ran:?}");
}

#[test]
fn dry_run_prints_the_commands_and_runs_nothing() {
    let dir = TempDir::new("cli-pool-dry");
    let marker = dir.path().join("ran");
    let ran = pipe_run(&[
        "pool",
        "--dry-run",
        &format!("touch {}-{{#}} {{}}", marker.display()),
        ":::",
        "a b",
        "c",
    ]);
    ran.expect_code(0);
    assert_eq!(
        ran.lines(),
        [
            format!("touch {}-1 'a b'", marker.display()),
            format!("touch {}-2 c", marker.display())
        ],
        "{ran:?}"
    );
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0, "{ran:?}");
}

/// `--shell` jobs that sleep `{}` tenths of a second, then print `{}`.
fn sleepers(extra: &[&str], tenths: &[&str]) -> cli_support::Ran {
    let mut a = vec!["pool", "-j", "4"];
    a.extend_from_slice(extra);
    a.extend_from_slice(&["--shell", "sleep 0.{}; echo {}", ":::"]);
    a.extend_from_slice(tenths);
    pipe_run(&a)
}

#[test]
fn output_comes_in_completion_order_by_default() {
    let ran = sleepers(&[], &["6", "1", "3"]);
    assert_eq!(ran.lines(), ["1", "3", "6"], "{ran:?}");
}

#[test]
fn keep_order_prints_in_input_order() {
    let ran = sleepers(&["--keep-order"], &["6", "1", "3", "0"]);
    assert_eq!(ran.lines(), ["6", "1", "3", "0"], "{ran:?}");
}

/// Splits `text` into runs of equal lines: `[(line, count)]`.
fn runs(text: &str) -> Vec<(&str, usize)> {
    let mut runs: Vec<(&str, usize)> = Vec::new();
    for line in text.lines() {
        match runs.last_mut() {
            Some((last, n)) if *last == line => *n += 1,
            _ => runs.push((line, 1)),
        }
    }
    runs
}

#[test]
fn concurrent_jobs_output_is_grouped_never_interleaved() {
    // Four jobs write 64 KiB each in 1000-byte chunks with pauses, at the same time:
    // on a shared terminal their lines would interleave.
    let spew = fx("spew");
    let ran = pipe_run(&[
        "pool",
        "-j",
        "4",
        &format!("{spew} --stdout 64K --chunk 1000 --delay-ms 1 --out-pattern {{}}"),
        ":::",
        "AAAAAAA\n",
        "BBBBBBB\n",
        "CCCCCCC\n",
        "DDDDDDD\n",
    ]);
    ran.expect_code(0);
    let runs = runs(&ran.stdout);
    let letters: BTreeSet<&str> = runs.iter().map(|(l, _)| *l).collect();
    assert_eq!(
        runs.len(),
        4,
        "output interleaved: {:?}",
        &runs[..runs.len().min(10)]
    );
    assert_eq!(letters.len(), 4);
    assert!(runs.iter().all(|&(_, n)| n == 64 * 1024 / 8), "{runs:?}");
}

#[test]
fn line_buffer_prints_whole_lines_as_they_come() {
    // Chunks of 1000 bytes cut 10-byte lines mid-way; pipe-run must never let another
    // job's line in between the pieces.
    let spew = fx("spew");
    let ran = pipe_run(&[
        "pool",
        "--line-buffer",
        "-j",
        "3",
        &format!("{spew} --stdout 20K --chunk 997 --delay-ms 1 --out-pattern {{}}"),
        ":::",
        "aaaaaaaaa\n",
        "bbbbbbbbb\n",
        "ccccccccc\n",
    ]);
    ran.expect_code(0);
    let runs = runs(&ran.stdout);
    for line in ran.stdout.lines() {
        assert!(
            ["aaaaaaaaa", "bbbbbbbbb", "ccccccccc"].contains(&line),
            "cut line {line:?}"
        );
    }
    assert_eq!(ran.stdout.len(), 3 * 20 * 1024, "{runs:?}");
    // Lines came as they were written, so the jobs did interleave line by line.
    assert!(runs.len() > 3, "not live: {runs:?}");
}

#[test]
fn line_buffer_also_prints_pipeline_jobs_live() {
    let ran = pipe_run(&[
        "pool",
        "--line-buffer",
        "-j",
        "2",
        "seq 3 | sed s/^/{}/",
        ":::",
        "x",
        "y",
    ]);
    ran.expect_code(0);
    let mut lines = ran.lines();
    lines.sort();
    assert_eq!(lines, ["x1", "x2", "x3", "y1", "y2", "y3"], "{ran:?}");
}

#[test]
fn slot_numbers_stay_within_the_worker_count() {
    let values: Vec<String> = (1..=12).map(|i| i.to_string()).collect();
    let ran = pipe_run(&args(
        &["pool", "-j", "3", "--shell", "sleep 0.0{}; echo {%}", ":::"],
        &values,
    ));
    ran.expect_code(0);
    let slots: BTreeSet<&str> = ran.lines().into_iter().collect();
    assert!(slots.iter().all(|s| ["1", "2", "3"].contains(s)), "{ran:?}");
}

#[test]
fn no_progress_bar_when_stderr_is_not_a_terminal() {
    let ran = sleepers(&[], &["2", "1"]);
    ran.expect_code(0);
    assert!(
        !ran.stderr.contains('\x1b'),
        "escape codes on a pipe{ran:?}"
    );
    assert!(
        !ran.stderr.contains("running"),
        "progress text on a pipe{ran:?}"
    );
    assert_eq!(ran.stderr.lines().count(), 1, "only the summary{ran:?}");
}

#[test]
fn a_progress_bar_is_drawn_on_a_terminal() {
    // script(1) gives pipe-run a pseudo-terminal for stdout and stderr.
    if std::process::Command::new("script")
        .arg("--version")
        .output()
        .is_err()
    {
        eprintln!("skipped: script(1) is not installed");
        return;
    }
    let line = shell_words::join([
        cli_support::bin().to_str().unwrap(),
        "pool",
        "-j",
        "2",
        "--shell",
        "sleep 0.{}",
        ":::",
        "5",
        "5",
        "5",
    ]);
    let out = std::process::Command::new("script")
        .args(["-qec", &line, "/dev/null"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("done,"), "no progress bar: {text:?}");
    assert!(text.contains("running"), "no running count: {text:?}");
    assert!(text.contains("3 jobs: 3 succeeded"), "{text:?}");
}

#[test]
fn json_prints_one_object_per_job() {
    let exit = fx("exit-with");
    let ran = pipe_run(&[
        "pool",
        "-k",
        "--json",
        &format!("{exit} {{}} --stdout out{{#}} --stderr err"),
        ":::",
        "0",
        "3",
    ]);
    ran.expect_code(1);
    let jobs: Vec<Value> = ran
        .lines()
        .iter()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(jobs.len(), 2, "{ran:?}");
    assert_eq!(jobs[0]["seq"], 1);
    assert_eq!(jobs[0]["ok"], true);
    assert_eq!(jobs[0]["stdout"], "out1");
    assert_eq!(jobs[1]["args"][0], "3");
    assert_eq!(jobs[1]["exit_code"], 3);
    assert_eq!(jobs[1]["error"], "exited with code 3");
    assert_eq!(jobs[1]["stderr"], "err");
    assert_eq!(
        jobs[1]["command"],
        format!("{exit} 3 --stdout out2 --stderr err")
    );
}

#[test]
fn results_keeps_each_jobs_files() {
    let dir = TempDir::new("cli-pool-results");
    let root = dir.path().join("res");
    let ran = pipe_run(&[
        "pool",
        "--results",
        root.to_str().unwrap(),
        "--shell",
        "echo out {}; echo err {} >&2; exit {}",
        ":::",
        "0",
        "5",
    ]);
    ran.expect_code(1);
    let read = |job: &str, file: &str| std::fs::read_to_string(root.join(job).join(file)).unwrap();
    assert_eq!(read("1", "stdout"), "out 0\n");
    assert_eq!(read("1", "status"), "0\n");
    assert_eq!(read("2", "stderr"), "err 5\n");
    assert_eq!(read("2", "status"), "5\n");
    assert_eq!(read("2", "cmd"), "echo out 5; echo err 5 >&2; exit 5\n");
    assert!(read("2", "error").contains("exited with code 5"));
    assert!(!root.join("1").join("error").exists());
}

/// The job log's lines as columns, without the header (checked to be GNU parallel's).
fn joblog(path: &std::path::Path) -> Vec<Vec<String>> {
    let text = std::fs::read_to_string(path).unwrap();
    let mut lines = text.lines();
    assert_eq!(
        lines.next(),
        Some("Seq\tHost\tStarttime\tJobRuntime\tSend\tReceive\tExitval\tSignal\tCommand"),
        "{text}"
    );
    lines
        .map(|l| l.splitn(9, '\t').map(str::to_owned).collect())
        .collect()
}

#[test]
fn the_joblog_has_gnu_parallel_columns() {
    let dir = TempDir::new("cli-pool-joblog");
    let log = dir.path().join("log");
    let before = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs_f64();
    let ran = pipe_run(&[
        "pool",
        "-j",
        "1",
        "--joblog",
        log.to_str().unwrap(),
        &format!("{} {{}}", fx("exit-with")),
        ":::",
        "0",
        "3",
    ]);
    ran.expect_code(1);
    let signal = pipe_run(&[
        "pool",
        "--joblog",
        log.to_str().unwrap(),
        &format!("{} {{}}", fx("signal-self")),
        ":::",
        "15",
    ]);
    signal.expect_code(1);
    let mut rows = joblog(&log);
    assert_eq!(rows.len(), 1, "a new run starts the log anew: {rows:?}");
    let row = rows.remove(0);
    assert_eq!(row[0], "1");
    assert_eq!(row[1], ":");
    let (secs, millis) = row[2].split_once('.').unwrap();
    assert_eq!(millis.len(), 3, "{row:?}");
    assert!(secs.parse::<f64>().unwrap() >= before.floor(), "{row:?}");
    assert_eq!(row[3].len(), 10, "runtime as %10.3f: {row:?}");
    assert!(row[3].trim().parse::<f64>().unwrap() < 10.0);
    assert_eq!(
        &row[4..8],
        ["0", "0", "0", "15"],
        "killed by SIGTERM: {row:?}"
    );
    assert_eq!(row[8], format!("{} 15", fx("signal-self")));

    // The first run's log, kept in another file, shows Exitval.
    let log2 = dir.path().join("log2");
    pipe_run(&[
        "pool",
        "-j",
        "1",
        "--joblog",
        log2.to_str().unwrap(),
        &format!("{} {{}}", fx("exit-with")),
        ":::",
        "0",
        "3",
    ]);
    let rows = joblog(&log2);
    let exits: Vec<(&str, &str, &str)> = rows
        .iter()
        .map(|r| (r[0].as_str(), r[6].as_str(), r[7].as_str()))
        .collect();
    assert_eq!(exits, [("1", "0", "0"), ("2", "3", "0")]);
}

#[test]
fn resume_failed_reruns_exactly_the_failed_and_missing_jobs() {
    let dir = TempDir::new("cli-pool-resume");
    let log = dir.path().join("log");
    let runs = dir.path().join("runs");
    let values = ["0", "1", "0", "2", "0", "0"];
    // Every job appends its number to `runs`, then exits with its value.
    let template = format!("echo {{#}} >> {}; exit {{}}", runs.display());
    let first = pipe_run(&args(
        &[
            "pool",
            "-j",
            "3",
            "--joblog",
            log.to_str().unwrap(),
            "--shell",
            &template,
            ":::",
        ],
        &values.map(String::from),
    ));
    first.expect_code(2);
    // Job 5 never finished, as if pipe-run had been killed: drop its line.
    let text = std::fs::read_to_string(&log).unwrap();
    let kept: String = text
        .lines()
        .filter(|l| !l.starts_with("5\t"))
        .map(|l| format!("{l}\n"))
        .collect();
    std::fs::write(&log, kept).unwrap();
    std::fs::remove_file(&runs).unwrap();

    // The failures are fixed now: every value is 0.
    let second = pipe_run(&args(
        &[
            "pool",
            "-j",
            "3",
            "--joblog",
            log.to_str().unwrap(),
            "--resume-failed",
            "--shell",
            &template,
            ":::",
        ],
        &["0"; 6].map(String::from),
    ));
    second.expect_code(0).expect_stderr("3 jobs: 3 succeeded");
    let mut rerun: Vec<String> = std::fs::read_to_string(&runs)
        .unwrap()
        .lines()
        .map(str::to_owned)
        .collect();
    rerun.sort();
    assert_eq!(rerun, ["2", "4", "5"], "{second:?}");
    // The log was appended to: job numbers kept, and now nothing is left to do.
    let rows = joblog(&log);
    assert_eq!(rows.len(), 5 + 3, "{rows:?}");
    let third = pipe_run(&args(
        &[
            "pool",
            "--joblog",
            log.to_str().unwrap(),
            "--resume-failed",
            "--shell",
            &template,
            ":::",
        ],
        &["0"; 6].map(String::from),
    ));
    third.expect_code(0).expect_stderr("0 jobs");
}

#[test]
fn timeout_kills_a_job_and_counts_it_failed() {
    let start = Instant::now();
    let ran = pipe_run(&[
        "pool",
        "--timeout",
        "300ms",
        &format!("{} {{}}", fx("sleep")),
        ":::",
        "0.01",
        "30",
    ]);
    ran.expect_code(1).expect_stderr("timed out after 300ms");
    assert!(
        start.elapsed() < Duration::from_secs(10),
        "{:?}",
        start.elapsed()
    );
}

#[test]
fn retries_run_a_failing_job_again() {
    let dir = TempDir::new("cli-pool-retries");
    let count = dir.path().join("count");
    let ran = pipe_run(&[
        "pool",
        "--retries",
        "2",
        "--shell",
        &format!("echo x >> {}; exit {{}}", count.display()),
        ":::",
        "1",
    ]);
    ran.expect_code(1);
    assert_eq!(
        std::fs::read_to_string(&count).unwrap().lines().count(),
        3,
        "{ran:?}"
    );
}

#[test]
fn halt_now_kills_the_running_jobs_at_the_first_failure() {
    let sleep = fx("sleep");
    let start = Instant::now();
    let ran = pipe_run(&[
        "pool",
        "-j",
        "3",
        "--halt",
        "now,fail=1",
        "--shell",
        &format!("{sleep} {{}}; exit 1"),
        ":::",
        "0.1",
        "30",
        "30",
        "30",
    ]);
    ran.expect_code(1)
        .expect_stderr("halting (now,fail=1)")
        .expect_stderr("4 jobs: 0 succeeded, 1 failed, 3 cancelled");
    assert!(
        start.elapsed() < Duration::from_secs(10),
        "{:?}",
        start.elapsed()
    );
}

#[test]
fn halt_soon_lets_running_jobs_finish_but_starts_no_more() {
    let ran = pipe_run(&[
        "pool",
        "-j",
        "1",
        "--halt",
        "soon,fail=1",
        &format!("{} {{}}", fx("exit-with")),
        ":::",
        "1",
        "0",
        "0",
        "0",
        "0",
    ]);
    ran.expect_code(1).expect_stderr("1 failed");
    // With one worker at most the job queued behind the failure had started.
    assert!(ran.stderr.contains("cancelled"), "{ran:?}");
    assert!(!ran.stderr.contains(" 4 succeeded"), "{ran:?}");
}

/// Starts `pipe-run pool` running `grandchild` jobs that write their grandchild's pid
/// to DIR/N and sleep 30 s (parent and grandchild alike); returns pipe-run and every
/// job's parent and grandchild pid once all are running.
fn start_grandchildren(
    dir: &TempDir,
    extra: &[&str],
    jobs: usize,
) -> (std::process::Child, Vec<u32>) {
    let template = format!(
        "{} --sleep 30 --parent-sleep 30 --pid-file {}/{{#}}",
        fx("grandchild"),
        dir.path().display()
    );
    let values: Vec<String> = (0..jobs).map(|i| i.to_string()).collect();
    let mut a = vec!["pool", "-j", "8", "--line-buffer"];
    a.extend_from_slice(extra);
    a.push(&template);
    a.push(":::");
    a.extend(values.iter().map(String::as_str));
    // The template has `{#}`, so the value is not appended; it only counts jobs.
    let mut child = spawn_pipe_run(&a);
    let mut out = BufReader::new(child.stdout.take().unwrap());
    let mut pids = Vec::new();
    for _ in 0..jobs {
        let mut line = String::new();
        out.read_line(&mut line).unwrap();
        assert!(line.starts_with("grandchild "), "unexpected line {line:?}");
    }
    for n in 1..=jobs {
        pids.push(read_pid_file(&dir.path().join(n.to_string())));
    }
    pids.extend(support::children_of(child.id()));
    assert_eq!(pids.len(), 2 * jobs, "jobs not all running: {pids:?}");
    (child, pids)
}

#[test]
fn a_stop_signal_to_pipe_run_alone_ends_every_job() {
    for (sig, code) in [
        (libc::SIGINT, 130),
        (libc::SIGTERM, 143),
        (libc::SIGHUP, 129),
    ] {
        let dir = TempDir::new("cli-pool-signal");
        let (mut child, pids) = start_grandchildren(&dir, &[], 3);
        let _guards: Vec<KillOnDrop> = pids.iter().map(|&p| KillOnDrop(p)).collect();
        let start = Instant::now();
        kill(child.id(), sig);
        let status = child.wait().unwrap();
        let mut stderr = String::new();
        std::io::Read::read_to_string(child.stderr.as_mut().unwrap(), &mut stderr).unwrap();
        assert_eq!(status.code(), Some(code), "signal {sig}: {stderr}");
        assert!(
            start.elapsed() < Duration::from_secs(5),
            "signal {sig}: {:?}",
            start.elapsed()
        );
        assert!(
            stderr.contains("3 jobs: 0 succeeded, 0 failed, 3 cancelled"),
            "{stderr}"
        );
        for &pid in &pids {
            assert!(
                wait_until(Duration::from_secs(2), || !process_alive(pid)),
                "signal {sig}: job process {pid} still running"
            );
        }
    }
}

#[test]
fn jobs_that_ignore_term_are_killed_after_the_grace() {
    let mut child = spawn_pipe_run(&[
        "pool",
        "-j",
        "2",
        "--line-buffer",
        "--termseq",
        "TERM,300,KILL,25",
        &format!("{} {{}}", fx("ignore-term")),
        ":::",
        "30",
        "30",
    ]);
    // Each job says `ready` once SIGTERM is ignored.
    let mut out = BufReader::new(child.stdout.take().unwrap());
    for _ in 0..2 {
        let mut line = String::new();
        out.read_line(&mut line).unwrap();
        assert_eq!(line, "ready\n");
    }
    let jobs = support::children_of(child.id());
    let _guards: Vec<KillOnDrop> = jobs.iter().map(|&p| KillOnDrop(p)).collect();
    assert_eq!(jobs.len(), 2, "{jobs:?}");
    let start = Instant::now();
    kill(child.id(), libc::SIGTERM);
    assert_eq!(child.wait().unwrap().code(), Some(143));
    let took = start.elapsed();
    assert!(
        took >= Duration::from_millis(300),
        "KILL came before the grace: {took:?}"
    );
    assert!(took < Duration::from_secs(5), "{took:?}");
    for pid in jobs {
        assert!(
            wait_until(Duration::from_secs(2), || !process_alive(pid)),
            "job {pid} survived"
        );
    }
}

#[test]
fn help_has_examples_and_explains_placeholders() {
    let ran = pipe_run(&["pool", "--help"]);
    ran.expect_code(0);
    for needle in ["Examples:", "{/.}", "{%}", "--resume-failed", "101"] {
        assert!(ran.stdout.contains(needle), "{needle:?} missing{ran:?}");
    }
    pipe_run(&["--help"]).expect_code(0);
}
