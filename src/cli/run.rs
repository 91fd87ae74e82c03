//! `pipe-run run`: one command or pipeline, live output, a shell's exit
//! code, and optionally one JSON object describing how it went.

use std::io::{self, Read, Write};
use std::process::ExitStatus;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use pipe_run::{
    Command, ErrorKind, Interrupts, Pipeline, PipelineHandle, Redirect, TermSeq, describe_status,
    error_exit_code, shell_exit_code, signal_process,
};
use serde_json::{Value, json};

use crate::complain;

/// Exit code for pipe-run's own failures (a bad command line, no pipe), as
/// `timeout(1)` and `env(1)` use it: distinct from any code the pipeline's
/// programs are likely to return.
pub(crate) const OWN_ERROR: u8 = 125;

const EXAMPLES: &str = "Examples:
  pipe-run run 'cut -d: -f7 /etc/passwd | sort | uniq -c | sort -rn'
  pipe-run run -- printf '%s\\n' 'one arg' 'another'     # words verbatim, no parsing
  pipe-run run --timeout 500ms -- sleep 5; echo $?       # 124, like timeout(1)
  pipe-run run 'false | true'; echo $?                   # 1: pipefail, rightmost failure
  pipe-run run --json --capture 'seq 3 | wc -l'          # one JSON object

Exit status: the pipeline's (the rightmost failing stage; a stage killed by
SIGPIPE because a later one stopped reading does not count), 128+N when it
died of signal N, 124 on --timeout, 127 when a program is not found (the
message names it), 126 when it cannot be executed, 125 when pipe-run itself
fails (a bad option or an unparsable PIPELINE, like timeout(1)).
SIGINT, SIGTERM or SIGHUP sent to pipe-run are passed on to every stage
(then SIGKILL after 200 ms) and pipe-run exits 128+N.";

/// Arguments of `pipe-run run`.
#[derive(Debug, clap::Args)]
#[command(after_help = EXAMPLES)]
pub(crate) struct RunArgs {
    /// Kill every stage (and their descendants) after DURATION and exit 124:
    /// 500ms, 5s, 1.5m; a bare number is seconds.
    #[arg(long, value_name = "DURATION", value_parser = crate::parse_duration)]
    timeout: Option<Duration>,

    /// Capture stdout and stderr instead of streaming them, and print them
    /// when the pipeline ends (with --json: put them in the JSON object).
    #[arg(long)]
    capture: bool,

    /// Print one JSON object on stdout: the command, each stage's status,
    /// the duration, byte counts, and with --capture the output. Without
    /// --capture the output streams live to stderr, so stdout stays JSON.
    #[arg(long)]
    json: bool,

    /// The pipeline as one shell-style string: quotes work, a bare `|`
    /// separates stages, no shell is involved (`$VAR`, globs and `&&` are not
    /// expanded; wrap the script in `sh -c '…'` for those).
    #[arg(
        value_name = "PIPELINE",
        required_unless_present = "argv",
        conflicts_with = "argv"
    )]
    line: Option<String>,

    /// After `--`: a program and its arguments, each passed verbatim.
    #[arg(last = true, value_name = "PROGRAM ARGS")]
    argv: Vec<String>,
}

/// What one output pipe carried: the bytes kept (with --capture) and how
/// many there were.
#[derive(Default)]
struct Pumped {
    kept: Vec<u8>,
    bytes: u64,
}

pub(crate) fn main(args: RunArgs) -> i32 {
    let pipeline = match &args.line {
        Some(line) => match Pipeline::parse(line) {
            Ok(p) => p,
            Err(e) => {
                complain(e);
                return OWN_ERROR.into();
            }
        },
        None => Pipeline::new([Command::new(&args.argv[0]).args(&args.argv[1..])]),
    };
    let stages: Vec<String> = pipeline
        .stages()
        .iter()
        .map(Command::command_line)
        .collect();
    let command_line = pipeline.command_line();
    let piped = args.capture || args.json;
    let mut pipeline = pipeline;
    if piped {
        pipeline = pipeline.stdout(Redirect::Pipe).stderr(Redirect::Pipe);
    }
    if args.timeout.is_some() {
        // A group of its own, so that the kill at the deadline reaches
        // every descendant, as `timeout(1)` does.
        pipeline = pipeline.new_process_group(true);
    }
    let interrupts = match Interrupts::catch() {
        Ok(i) => i,
        Err(e) => {
            complain(e);
            return OWN_ERROR.into();
        }
    };

    let start = Instant::now();
    let mut handle = match pipeline.spawn() {
        Ok(h) => h,
        Err(e) => {
            complain(&e);
            let code = match e.kind() {
                ErrorKind::Parse | ErrorKind::InvalidInput | ErrorKind::Io => OWN_ERROR.into(),
                _ => error_exit_code(&e),
            };
            if args.json {
                let report = json!({
                    "command": command_line,
                    "stages": stages.iter().map(|s| json!({ "command": s })).collect::<Vec<_>>(),
                    "exit_code": code,
                    "error": e.to_string(),
                });
                println!("{report}");
            }
            return code;
        }
    };
    // With --json and no --capture, output streams to stderr so that
    // stdout carries only the JSON object.
    let keep = args.capture;
    let stdout = handle.take_stdout().map(|r| pump(r, keep, !keep));
    let stderr = handle.take_stderr().map(|r| pump(r, keep, !keep));

    let ending = wait(&handle, args.timeout.map(|t| start + t), &interrupts);
    let elapsed = start.elapsed();
    let statuses = handle.statuses().unwrap_or_default();
    let stdout = stdout.map(join).unwrap_or_default();
    let stderr = stderr.map(join).unwrap_or_default();

    let (code, overall) = match &ending {
        Ending::Exited(status) => (shell_exit_code(status), Some(*status)),
        Ending::TimedOut(status) => (124, *status),
        Ending::Interrupted(sig, status) => (128 + sig, *status),
        Ending::Failed(e) => {
            complain(e);
            (OWN_ERROR.into(), None)
        }
    };
    match ending {
        Ending::TimedOut(_) => complain(format_args!(
            "`{command_line}` timed out after {:?} and was killed",
            args.timeout.unwrap_or_default()
        )),
        Ending::Interrupted(sig, _) => complain(format_args!(
            "interrupted by signal {sig}; `{command_line}` was stopped"
        )),
        _ => {}
    }

    if args.json {
        let mut report = json!({
            "command": command_line,
            "stages": stages.iter().zip(handle.pids()).enumerate().map(|(i, (cmd, pid))| {
                let mut stage = json!({ "command": cmd, "pid": pid });
                if let Some(status) = statuses.get(i) {
                    stage.as_object_mut().expect("an object").extend(status_fields(status));
                }
                stage
            }).collect::<Vec<_>>(),
            "exit_code": code,
            "status": overall.as_ref().map(describe_status),
            "timed_out": matches!(ending, Ending::TimedOut(_)),
            "duration": elapsed.as_secs_f64(),
            "stdout_bytes": stdout.bytes,
            "stderr_bytes": stderr.bytes,
        });
        if let Ending::Interrupted(sig, _) = ending {
            report["signal_received"] = json!(sig);
        }
        if args.capture {
            report["stdout"] = json!(String::from_utf8_lossy(&stdout.kept));
            report["stderr"] = json!(String::from_utf8_lossy(&stderr.kept));
        }
        println!("{report}");
    } else if args.capture {
        let _ = io::stdout().write_all(&stdout.kept);
        let _ = io::stderr().write_all(&stderr.kept);
    }
    code
}

/// `exit_code`, `signal` and `status` of one stage, for the JSON report.
fn status_fields(status: &ExitStatus) -> serde_json::Map<String, Value> {
    let mut map = serde_json::Map::new();
    map.insert("exit_code".into(), json!(shell_exit_code(status)));
    map.insert("code".into(), json!(status.code()));
    let signal = status
        .code()
        .map_or_else(|| Some(shell_exit_code(status) - 128), |_| None);
    map.insert("signal".into(), json!(signal));
    map.insert("status".into(), json!(describe_status(status)));
    map
}

enum Ending {
    Exited(ExitStatus),
    TimedOut(Option<ExitStatus>),
    Interrupted(i32, Option<ExitStatus>),
    Failed(pipe_run::Error),
}

/// Waits for the pipeline, enforcing the deadline and passing on a stop
/// signal sent to us: the same signal to every stage, then SIGKILL to all
/// after 200 ms (a child that handles SIGINT and lives on is not left
/// behind when we exit).
fn wait(handle: &PipelineHandle, deadline: Option<Instant>, interrupts: &Interrupts) -> Ending {
    // Checking for signals every 50 ms costs nothing measurable and keeps
    // this loop free of a second thread.
    let tick = Duration::from_millis(50);
    loop {
        let until = deadline.map_or(Instant::now() + tick, |d| d.min(Instant::now() + tick));
        match handle.wait_deadline(until) {
            Ok(Some(status)) => return Ending::Exited(status),
            Ok(None) => {}
            Err(e) => return Ending::Failed(e),
        }
        if deadline.is_some_and(|d| Instant::now() >= d) {
            let _ = handle.kill();
            return Ending::TimedOut(handle.wait().ok());
        }
        if let Some(sig) = interrupts.wait_timeout(Duration::ZERO) {
            // The stages may be in our process group (then a terminal's
            // Ctrl-C reached them already) or not (`kill` sent to us alone):
            // either way each gets the signal once more, then a grace.
            let pids = handle.pids();
            let pass_on = TermSeq::parse(&format!("{sig},200")).unwrap_or_default();
            let gone = pass_on.run(
                |s| pids.iter().for_each(|&pid| drop(signal_process(pid, s))),
                |grace| matches!(handle.wait_timeout(grace), Ok(Some(_))),
            );
            if !gone {
                let _ = handle.kill();
            }
            return Ending::Interrupted(sig, handle.wait().ok());
        }
    }
}

/// Reads a pipe to its end on a thread of its own, keeping the bytes if
/// `keep` and copying them live to our stderr if `to_stderr`.
fn pump(mut reader: impl Read + Send + 'static, keep: bool, to_stderr: bool) -> JoinHandle<Pumped> {
    std::thread::spawn(move || {
        let mut pumped = Pumped::default();
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            match reader.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => {
                    pumped.bytes += n as u64;
                    if keep {
                        pumped.kept.extend_from_slice(&buf[..n]);
                    }
                    if to_stderr {
                        let _ = io::stderr().write_all(&buf[..n]);
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => break,
            }
        }
        pumped
    })
}

fn join(handle: JoinHandle<Pumped>) -> Pumped {
    handle.join().unwrap_or_default()
}
