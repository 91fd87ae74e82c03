//! `pipe-run pool`: a command template run once per argument, many at a
//! time, GNU parallel style. Everything reusable (templates, inputs, the job
//! log, resume, results files, signals, the pool) is in the library; this
//! file wires them together and decides what is printed where.

use std::collections::{BTreeMap, HashMap};
use std::io::{self, BufReader, IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitStatus;
use std::time::{Duration, SystemTime};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use pipe_run::{
    Completed, Error, ErrorKind, Event, Inputs, Interrupts, Job, JobArgs, JobLog, JobLogEntry,
    Keep, OutputLimit, Pipeline, Pool, ResultsDir, Resume, Task, TaskSpec, Template, TermSeq,
    describe_status, error_exit_code, shell_exit_code,
};
use serde_json::json;

use crate::complain;

/// Exit code for pipe-run's own failures (bad options, a bad template, an
/// unwritable job log), as GNU parallel: above the 101 that failed jobs
/// can reach.
pub(crate) const OWN_ERROR: u8 = 255;

const EXAMPLES: &str = "Examples:
  pipe-run pool -j 4 'gzip -9 {}' ::: *.log
  find . -name '*.c' | pipe-run pool 'cc -c {} -o {.}.o'
  pipe-run pool 'convert {1} -resize {2} out/{1/.}-{2}.png' ::: a.jpg b.jpg ::: 50% 25%
  pipe-run pool --shell 'grep -c TODO {} > {}.todo'  ::: src/*.rs
  pipe-run pool --joblog run.log --halt now,fail=1 'make -C {}' ::: lib app tests
  pipe-run pool --joblog run.log --resume-failed 'make -C {}' ::: lib app tests
  pipe-run pool --dry-run 'mv {} {.}.txt' ::: a.md b.md

Placeholders (as in GNU parallel): {} the argument, {.} without extension,
{/} basename, {//} dirname, {/.} basename without extension, {#} job number,
{%} slot number, {1} {2} ... the argument of the 1st, 2nd ::: group (also
{1.} {1/} {1//} {1/.}, and {-1} for the last group). Several ::: groups run
every combination, the first group varying slowest; `:::: FILE` adds a group
with one argument per line of FILE; with no group, arguments are read from
stdin, one per line. A template without placeholders gets the arguments
appended. Values are inserted into words and never re-split or run by a
shell, unless --shell is given (then they are shell-quoted). One quoted
TEMPLATE is split like a shell would (a bare `|` makes a pipeline); several
words are taken as already split.

Output: each job's output is printed whole when it finishes (stdout, then
stderr), never mixed with another job's; --keep-order prints in input order.
--line-buffer prints lines as they come, whole lines only.

Exit status: the number of failed jobs, at most 101 (0: all succeeded);
255 for other errors (bad options or template, unwritable job log); 128+N
when stopped by signal N: SIGINT, SIGTERM or SIGHUP sent to pipe-run end
every running job (each runs in a process group of its own) with --termseq,
then the summary is printed.";

/// Arguments of `pipe-run pool`.
#[derive(Debug, clap::Args)]
#[command(after_help = EXAMPLES)]
pub(crate) struct PoolArgs {
    /// How many jobs run at once [default: the number of CPUs].
    #[arg(short = 'j', long = "jobs", value_name = "N")]
    jobs: Option<usize>,

    /// Kill a job (its whole process group) that runs longer than DURATION;
    /// it counts as failed: 500ms, 30s, 5m; a bare number is seconds.
    #[arg(long, value_name = "DURATION", value_parser = crate::parse_duration)]
    timeout: Option<Duration>,

    /// Run a failed job up to N more times.
    #[arg(long, value_name = "N", default_value_t = 0)]
    retries: u32,

    /// Print the output of jobs in input order instead of as they finish.
    #[arg(short = 'k', long)]
    keep_order: bool,

    /// When to stop early: `never` (default), or WHEN,WHY=N with WHEN `now`
    /// (kill running jobs) or `soon` (let them finish), WHY `fail`, `success`
    /// or `done`, and N a count or a percentage (`now,fail=1`, `soon,fail=10%`).
    #[arg(long, value_name = "SPEC", value_parser = Halt::parse)]
    halt: Option<Halt>,

    /// Write one line per finished job to FILE in GNU parallel's --joblog
    /// format (Seq, Host, Starttime, JobRuntime, Send, Receive, Exitval,
    /// Signal, Command); FILE is started anew unless resuming.
    #[arg(long, value_name = "FILE")]
    joblog: Option<PathBuf>,

    /// Run only the jobs that --joblog FILE shows as failed or missing
    /// (by job number), appending to it.
    #[arg(long, requires = "joblog", conflicts_with = "resume")]
    resume_failed: bool,

    /// Run only the jobs missing from --joblog FILE, appending to it.
    #[arg(long, requires = "joblog")]
    resume: bool,

    /// Keep each job's cmd, stdout, stderr, status (and error) in DIR/<job number>/.
    #[arg(long, value_name = "DIR")]
    results: Option<PathBuf>,

    /// Print output line by line as it comes (no line is ever cut by another
    /// job's), instead of whole jobs when they finish.
    #[arg(long, conflicts_with_all = ["keep_order", "json"])]
    line_buffer: bool,

    /// Print the command lines that would run, and run nothing.
    #[arg(long)]
    dry_run: bool,

    /// Print one JSON object per finished job on stdout (instead of its output).
    #[arg(long)]
    json: bool,

    /// Run the template with /bin/sh -c; each value is shell-quoted.
    #[arg(long)]
    shell: bool,

    /// How running jobs are stopped on a signal or `--halt now`: signals and
    /// waits in ms, as GNU parallel.
    #[arg(long, value_name = "SEQ", default_value = "TERM,200,KILL,25", value_parser = TermSeq::parse)]
    termseq: TermSeq,

    /// The command template, then `:::` groups of arguments (or `:::: FILE`).
    #[arg(
        value_name = "TEMPLATE [::: ARGS]...",
        required = true,
        trailing_var_arg = true
    )]
    command: Vec<String>,
}

/// `--halt`: when to stop early.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Halt {
    /// Kill running jobs (`now`) or let them finish (`soon`).
    now: bool,
    why: Why,
    limit: Limit,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Why {
    Fail,
    Success,
    Done,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Limit {
    Count(usize),
    Percent(f64),
}

impl Halt {
    /// Parses `never` (a limit of 0, never reached) or `WHEN,WHY=N[%]`.
    fn parse(spec: &str) -> Result<Halt, String> {
        if spec == "never" || spec == "0" {
            return Ok(Halt {
                now: false,
                why: Why::Fail,
                limit: Limit::Count(0),
            });
        }
        let bad = || {
            format!("`{spec}`: expected `never` or WHEN,WHY=N like `now,fail=1` or `soon,fail=10%`")
        };
        let (when, rest) = spec.split_once(',').ok_or_else(bad)?;
        let (why, n) = rest.split_once('=').ok_or_else(bad)?;
        let now = match when {
            "now" => true,
            "soon" => false,
            _ => return Err(bad()),
        };
        let why = match why {
            "fail" => Why::Fail,
            "success" => Why::Success,
            "done" => Why::Done,
            _ => return Err(bad()),
        };
        let limit = match n.strip_suffix('%') {
            Some(p) => Limit::Percent(p.parse().map_err(|_| bad())?),
            None => Limit::Count(n.parse().map_err(|_| bad())?),
        };
        Ok(Halt { now, why, limit })
    }

    /// Whether the counts so far reach the limit (`total`: jobs in all,
    /// when known, for percentages).
    fn reached(&self, counts: &Counts, total: Option<u64>) -> bool {
        let n = match self.why {
            Why::Fail => counts.failed,
            Why::Success => counts.succeeded,
            Why::Done => counts.failed + counts.succeeded,
        };
        match self.limit {
            Limit::Count(limit) => limit > 0 && n >= limit,
            Limit::Percent(p) => {
                let base = total.map_or(counts.failed + counts.succeeded, |t| t as usize);
                p > 0.0 && base > 0 && n as f64 * 100.0 >= p * base as f64
            }
        }
    }
}

/// Jobs that ended, by how.
#[derive(Debug, Default)]
struct Counts {
    succeeded: usize,
    failed: usize,
    cancelled: usize,
}

/// What we know of a submitted job.
struct Submitted {
    job: Job,
    args: JobArgs,
    /// Position in input order among the jobs of this run (for --keep-order).
    index: u64,
    command: String,
    slot: usize,
    pid: Option<u32>,
    /// Stopped by us (a signal to pipe-run, `--halt now`): a failure it
    /// ends with counts as cancelled, not failed.
    stopped: bool,
}

/// A per-line output callback.
type LineSink = Box<dyn FnMut(&[u8]) + Send>;

/// A finished job's stdout and stderr.
type JobOutput = (Vec<u8>, Vec<u8>);

/// Line callbacks for --line-buffer, and output caps for what is printed
/// already.
struct LinePrinters {
    stdout: LineSink,
    stderr: LineSink,
    limits: Option<(OutputLimit, OutputLimit)>,
}

/// A finished job's report, kept until it is printed (--keep-order) and
/// for the summary.
struct Failure {
    seq: u64,
    command: String,
    reason: String,
    stderr: Vec<u8>,
}

pub(crate) fn main(args: PoolArgs) -> i32 {
    match Run::start(args).and_then(Run::finish) {
        Ok(code) => code,
        Err(e) => {
            complain(e);
            OWN_ERROR.into()
        }
    }
}

/// One `pipe-run pool` invocation.
struct Run {
    args: PoolArgs,
    template: Template,
    inputs: std::iter::Peekable<Box<dyn Iterator<Item = pipe_run::Result<JobArgs>>>>,
    total: Option<u64>,
    joblog: Option<JobLog>,
    results: Option<ResultsDir>,
    progress: ProgressBar,
    printer: Printer,
    counts: Counts,
    failures: Vec<Failure>,
}

impl Run {
    fn start(args: PoolArgs) -> pipe_run::Result<Run> {
        let (words, groups) = Inputs::split_args(args.command.iter().cloned())?;
        let template = if args.shell {
            Template::shell(&words.join(" "))?
        } else if words.len() == 1 {
            Template::parse(&words[0])?
        } else {
            Template::from_words(&words)?
        };
        let inputs = groups.unwrap_or_else(|| Inputs::lines(BufReader::new(io::stdin())));
        template.check_inputs(inputs.groups())?;

        let resume = match (&args.joblog, args.resume_failed || args.resume) {
            (Some(path), true) => Some(Resume::from_log(path, args.resume_failed)?),
            _ => None,
        };
        let total = inputs
            .total()
            .map(|t| t.saturating_sub(resume.as_ref().map_or(0, |r| r.done() as u64)));
        let inputs: Box<dyn Iterator<Item = pipe_run::Result<JobArgs>>> = match resume {
            Some(resume) => Box::new(
                inputs.filter(move |job| job.as_ref().map_or(true, |j| resume.should_run(j.seq()))),
            ),
            None => Box::new(inputs),
        };
        let joblog = match (&args.joblog, args.dry_run) {
            (Some(_), true) | (None, _) => None,
            (Some(path), false) if args.resume_failed || args.resume => Some(JobLog::append(path)?),
            (Some(path), false) => Some(JobLog::create(path)?),
        };
        let results = match &args.results {
            Some(dir) if !args.dry_run => Some(ResultsDir::create(dir)?),
            _ => None,
        };
        let progress = progress_bar(total, args.dry_run);
        Ok(Run {
            printer: Printer::new(args.keep_order, progress.clone()),
            args,
            template,
            inputs: inputs.peekable(),
            total,
            joblog,
            results,
            progress,
            counts: Counts::default(),
            failures: Vec::new(),
        })
    }

    fn finish(mut self) -> pipe_run::Result<i32> {
        if self.args.dry_run {
            let mut out = io::stdout().lock();
            for job in self.inputs.by_ref() {
                let job = job?;
                let _ = writeln!(out, "{}", self.template.command_line(&job, 1)?);
            }
            return Ok(0);
        }
        let workers = match self.args.jobs {
            Some(n) => n,
            None => std::thread::available_parallelism().map_or(1, |n| n.get()),
        };
        let mut builder = Pool::builder().workers(workers).retries(self.args.retries);
        if let Some(t) = self.args.timeout {
            builder = builder.timeout(t);
        }
        let pool = builder.build()?;
        let events = pool.events();
        let interrupts = Interrupts::catch()?;

        // We keep at most `window` jobs in the pool: the workers' worth plus
        // as many queued, so the pool never idles while memory stays flat
        // however long the input. With `{%}` the window is exactly the
        // workers, so a job's slot number is free when it is handed out.
        let window = if self.template.uses_slot() {
            workers
        } else {
            workers * 2
        };
        let mut free_slots: Vec<usize> = (1..=window).rev().collect();
        let mut jobs: HashMap<usize, Submitted> = HashMap::new();
        let mut next_index = 0u64;
        let mut stopping = false;
        let mut signal = None;

        loop {
            while !stopping && jobs.len() < window && self.inputs.peek().is_some() {
                let args = self.inputs.next().expect("peeked")?;
                let slot = free_slots.pop().expect("a slot per window place");
                let (task, command) = self.task(&args, slot)?;
                let job = pool.submit(task)?;
                jobs.insert(
                    job.id(),
                    Submitted {
                        job,
                        args,
                        index: next_index,
                        command,
                        slot,
                        pid: None,
                        stopped: false,
                    },
                );
                self.printer.expect(next_index);
                next_index += 1;
            }
            if jobs.is_empty() && (stopping || self.inputs.peek().is_none()) {
                break;
            }
            self.update_progress(&jobs);
            if let Some(event) = events.next_timeout(Duration::from_millis(50)) {
                if let Some(done) = self.on_event(event, &mut jobs) {
                    free_slots.push(done.slot);
                    self.finished(done)?;
                    if let Some(halt) = self.args.halt {
                        if !stopping && halt.reached(&self.counts, self.total) {
                            stopping = true;
                            complain(format_args!(
                                "halting ({}): {}",
                                halt_text(&halt),
                                self.count_text()
                            ));
                            if halt.now {
                                self.stop_running(&pool, &events, &mut jobs)?;
                            } else {
                                pool.shutdown(false, true);
                            }
                        }
                    }
                }
            }
            if signal.is_none() {
                if let Some(sig) = interrupts.wait_timeout(Duration::ZERO) {
                    signal = Some(sig);
                    stopping = true;
                    self.progress
                        .suspend(|| complain(format_args!("got signal {sig}: stopping every job")));
                    self.stop_running(&pool, &events, &mut jobs)?;
                }
            }
        }
        pool.shutdown(true, false);
        self.progress.finish_and_clear();
        self.printer.flush_all();
        self.summary();
        Ok(match signal {
            Some(sig) => 128 + sig,
            None => self.counts.failed.min(101) as i32,
        })
    }

    /// The task for one job: a command, or a pipeline when the template has
    /// a `|`; with --line-buffer, with callbacks that print whole lines.
    fn task(&self, args: &JobArgs, slot: usize) -> pipe_run::Result<(TaskSpec, String)> {
        let command = self.template.command_line(args, slot)?;
        let Some(p) = self.line_printers() else {
            return Ok((self.template.task(args, slot)?, command));
        };
        // Callbacks and caps go on the whole pipeline when there is one (a
        // pipeline's stdout is its last stage's, its stderr all stages').
        let mut stages = self.template.stages(args, slot)?;
        let spec = if stages.len() == 1 {
            let cmd = stages
                .remove(0)
                .on_stdout_line(p.stdout)
                .on_stderr_line(p.stderr);
            match p.limits {
                Some((out, err)) => cmd.stdout_limit(out).stderr_limit(err),
                None => cmd,
            }
            .into_spec()
        } else {
            let pipeline = Pipeline::new(stages)
                .on_stdout_line(p.stdout)
                .on_stderr_line(p.stderr);
            match p.limits {
                Some((out, err)) => pipeline.stdout_limit(out).stderr_limit(err),
                None => pipeline,
            }
            .into_spec()
        };
        Ok((spec, command))
    }

    /// With --line-buffer: callbacks that print each line whole, as it
    /// comes, and the caps that keep only what the summary needs (unless
    /// --results or --json want everything).
    fn line_printers(&self) -> Option<LinePrinters> {
        if !self.args.line_buffer {
            return None;
        }
        let (bar, bar2) = (self.progress.clone(), self.progress.clone());
        let keep_all = self.results.is_some() || self.args.json;
        Some(LinePrinters {
            stdout: Box::new(move |line| {
                bar.suspend(|| write_line(&mut io::stdout().lock(), line))
            }),
            stderr: Box::new(move |line| {
                bar2.suspend(|| write_line(&mut io::stderr().lock(), line))
            }),
            limits: (!keep_all).then(|| {
                (
                    OutputLimit::head(0),
                    OutputLimit::new(16 * 1024, Keep::Tail),
                )
            }),
        })
    }

    /// Applies one pool event; returns the job when it has ended.
    fn on_event(
        &mut self,
        event: Event,
        jobs: &mut HashMap<usize, Submitted>,
    ) -> Option<Submitted> {
        match event {
            Event::Started { job, pid, .. } => {
                if let Some(s) = jobs.get_mut(&job) {
                    s.pid = pid;
                }
                None
            }
            Event::Finished {
                job,
                started,
                elapsed,
                status,
                ..
            } => {
                let mut done = jobs.remove(&job)?;
                done.pid = None;
                self.record(&done, Some((started, elapsed)), status);
                Some(done)
            }
            Event::Cancelled { job, .. } => {
                let done = jobs.remove(&job)?;
                self.record(&done, None, None);
                Some(done)
            }
            _ => None,
        }
    }

    /// Writes the job log line and the results files of an ended job.
    fn record(
        &mut self,
        done: &Submitted,
        timing: Option<(SystemTime, Duration)>,
        status: Option<ExitStatus>,
    ) {
        let result = done.job.result();
        if let (Some(log), Some((started, elapsed))) = (self.joblog.as_mut(), timing) {
            let entry =
                JobLogEntry::new(done.args.seq(), done.command.clone()).started(started, elapsed);
            let entry = match (&status, &result) {
                (Some(status), _) => entry.status(status),
                (None, Err(e)) => entry.exit_code(error_exit_code(e)),
                (None, Ok(_)) => entry,
            };
            if let Err(e) = log.write(&entry) {
                complain(e);
            }
        }
        if let (Some(results), Some(_)) = (&self.results, timing) {
            if let Err(e) = results.save(done.args.seq(), &done.command, &result) {
                complain(e);
            }
        }
    }

    /// Counts an ended job and prints its output (or its JSON line).
    fn finished(&mut self, done: Submitted) -> pipe_run::Result<()> {
        let Submitted {
            job,
            args,
            index,
            command,
            slot,
            stopped,
            ..
        } = done;
        let result = job.into_result();
        let (stdout, stderr): (&[u8], &[u8]) = match &result {
            Ok(c) => (&c.stdout, &c.stderr),
            Err(e) => (e.stdout(), e.stderr()),
        };
        match &result {
            Ok(_) => self.counts.succeeded += 1,
            Err(e) if e.kind() == ErrorKind::Cancelled || stopped => self.counts.cancelled += 1,
            Err(e) => {
                self.counts.failed += 1;
                self.failures.push(Failure {
                    seq: args.seq(),
                    command: command.clone(),
                    reason: reason(e),
                    stderr: e.stderr().to_vec(),
                });
            }
        }
        let output = if self.args.json {
            let mut line = job_json(&args, &command, slot, &result)
                .to_string()
                .into_bytes();
            line.push(b'\n');
            (line, Vec::new())
        } else if self.args.line_buffer {
            (Vec::new(), Vec::new())
        } else {
            (stdout.to_vec(), stderr.to_vec())
        };
        self.printer.done(index, output);
        Ok(())
    }

    /// Stops every running job with the term sequence, cancels the rest.
    fn stop_running(
        &mut self,
        pool: &Pool,
        events: &pipe_run::Events,
        jobs: &mut HashMap<usize, Submitted>,
    ) -> pipe_run::Result<()> {
        // No job starts after this; pending ones end as cancelled.
        pool.shutdown(false, true);
        // Pids of jobs that started before the shutdown, from events we have
        // not read yet.
        while let Some(event) = events.try_next() {
            if let Some(done) = self.on_event(event, jobs) {
                self.finished(done)?;
            }
        }
        // Each job leads its own process group, so its pid is the group id.
        let groups: Vec<u32> = jobs
            .values_mut()
            .filter_map(|s| {
                s.stopped = true;
                s.pid
            })
            .collect();
        self.args.termseq.signal_groups(&groups);
        // Whatever is left (a job that started in the meantime) is killed
        // and reaped by the pool itself.
        pool.terminate();
        // The pool has stopped: its event stream ends once drained.
        while let Some(event) = events.next_timeout(Duration::from_secs(1)) {
            if let Some(done) = self.on_event(event, jobs) {
                self.finished(done)?;
            }
        }
        Ok(())
    }

    fn update_progress(&self, jobs: &HashMap<usize, Submitted>) {
        let running = jobs.values().filter(|s| s.pid.is_some()).count();
        self.progress.set_position(
            (self.counts.succeeded + self.counts.failed + self.counts.cancelled) as u64,
        );
        self.progress
            .set_message(format!("{running} running, {} failed", self.counts.failed));
    }

    fn count_text(&self) -> String {
        let c = &self.counts;
        let total = c.succeeded + c.failed + c.cancelled;
        format!(
            "{total} job{}: {} succeeded, {} failed, {} cancelled",
            if total == 1 { "" } else { "s" },
            c.succeeded,
            c.failed,
            c.cancelled
        )
    }

    /// The summary on stderr: counts, then each failed job with its status
    /// and the last lines of its stderr.
    fn summary(&self) {
        let mut err = io::stderr().lock();
        let _ = writeln!(err, "pipe-run: {}", self.count_text());
        for f in &self.failures {
            let _ = writeln!(err, "  failed: job {} `{}` {}", f.seq, f.command, f.reason);
            for line in last_lines(&f.stderr, 3) {
                let _ = writeln!(err, "    | {line}");
            }
        }
    }
}

/// The first line of an error, without the command (the summary names it).
fn reason(e: &Error) -> String {
    match e.kind() {
        ErrorKind::CalledProcess => e
            .status()
            .map_or_else(|| "failed".into(), |s| describe_status(&s)),
        ErrorKind::Timeout => format!("timed out after {:?}", e.timeout().unwrap_or_default()),
        _ => {
            let text = e.to_string();
            let first = text.lines().next().unwrap_or_default();
            match (e.command(), first.find("`: ")) {
                (Some(_), Some(i)) => first[i + 3..].to_owned(),
                _ => first.to_owned(),
            }
        }
    }
}

fn last_lines(data: &[u8], n: usize) -> Vec<String> {
    let text = String::from_utf8_lossy(data);
    let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    lines[lines.len().saturating_sub(n)..]
        .iter()
        .map(|l| l.to_string())
        .collect()
}

fn halt_text(halt: &Halt) -> String {
    let why = match halt.why {
        Why::Fail => "fail",
        Why::Success => "success",
        Why::Done => "done",
    };
    let limit = match halt.limit {
        Limit::Count(n) => n.to_string(),
        Limit::Percent(p) => format!("{p}%"),
    };
    format!("{},{why}={limit}", if halt.now { "now" } else { "soon" })
}

/// One job as a JSON object, for --json.
fn job_json(
    args: &JobArgs,
    command: &str,
    slot: usize,
    result: &pipe_run::Result<Completed>,
) -> serde_json::Value {
    let (status, stdout, stderr) = match result {
        Ok(c) => (Some(c.status), &c.stdout[..], &c.stderr[..]),
        Err(e) => (e.status(), e.stdout(), e.stderr()),
    };
    let exit_code = match result {
        Ok(c) => shell_exit_code(&c.status),
        Err(e) => error_exit_code(e),
    };
    json!({
        "seq": args.seq(),
        "args": args.values(),
        "command": command,
        "slot": slot,
        "ok": result.is_ok(),
        "exit_code": exit_code,
        "status": status.as_ref().map(describe_status),
        "error": result.as_ref().err().map(reason),
        "stdout": String::from_utf8_lossy(stdout),
        "stderr": String::from_utf8_lossy(stderr),
    })
}

fn write_line(out: &mut impl Write, line: &[u8]) {
    // One write of line + newline under the stream's lock: never cut.
    let mut buf = Vec::with_capacity(line.len() + 1);
    buf.extend_from_slice(line);
    buf.push(b'\n');
    let _ = out.write_all(&buf);
    let _ = out.flush();
}

/// A progress bar on stderr when it is a terminal; hidden otherwise (no
/// escape codes in logs or pipes).
fn progress_bar(total: Option<u64>, dry_run: bool) -> ProgressBar {
    if dry_run || !io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let bar = match total {
        Some(n) => ProgressBar::with_draw_target(Some(n), ProgressDrawTarget::stderr()),
        None => ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr()),
    };
    let style = match total {
        Some(_) => "{bar:30} {pos}/{len} done, {msg} [{elapsed_precise}, ETA {eta}]",
        None => "{spinner} {pos} done, {msg} [{elapsed_precise}]",
    };
    if let Ok(style) = ProgressStyle::with_template(style) {
        bar.set_style(style);
    }
    bar.enable_steady_tick(Duration::from_millis(200));
    bar
}

/// Prints finished jobs' output whole, in completion order or (with
/// --keep-order) in input order.
struct Printer {
    keep_order: bool,
    progress: ProgressBar,
    /// With --keep-order: output waiting for earlier jobs, by input index.
    waiting: BTreeMap<u64, Option<JobOutput>>,
}

impl Printer {
    fn new(keep_order: bool, progress: ProgressBar) -> Printer {
        Printer {
            keep_order,
            progress,
            waiting: BTreeMap::new(),
        }
    }

    /// Notes that job `index` was submitted (its output will come).
    fn expect(&mut self, index: u64) {
        if self.keep_order {
            self.waiting.insert(index, None);
        }
    }

    fn done(&mut self, index: u64, output: (Vec<u8>, Vec<u8>)) {
        if !self.keep_order {
            self.print(&output);
            return;
        }
        self.waiting.insert(index, Some(output));
        while let Some(entry) = self.waiting.first_entry() {
            if entry.get().is_none() {
                break;
            }
            let output = entry.remove().expect("checked");
            self.print(&output);
        }
    }

    fn flush_all(&mut self) {
        for (_, output) in std::mem::take(&mut self.waiting) {
            if let Some(output) = output {
                self.print(&output);
            }
        }
    }

    fn print(&self, (out, err): &(Vec<u8>, Vec<u8>)) {
        if out.is_empty() && err.is_empty() {
            return;
        }
        self.progress.suspend(|| {
            // Each stream in one write under its lock: another job's output
            // can never land in the middle.
            let _ = io::stdout()
                .lock()
                .write_all(out)
                .and_then(|()| io::stdout().flush());
            let _ = io::stderr().lock().write_all(err);
        });
    }
}
