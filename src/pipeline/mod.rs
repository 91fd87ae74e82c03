//! Chains of commands, `a | b | c`: [`Pipeline`] and its running handle
//! [`PipelineHandle`].
//!
//! # Data path
//! Each stage's stdout is connected to the next stage's stdin by an OS pipe
//! (`os_pipe`, created close-on-exec); the data flows child to child and
//! never through our process. Our copies of every inner pipe end are closed
//! as soon as the stage that uses them is spawned, so when a consumer exits
//! early its producer gets SIGPIPE (or EPIPE) at its next write instead of
//! blocking forever: `producer | head -c 1` returns at once.
//!
//! How stderr is shared and how the overall status is chosen (pipefail,
//! with SIGPIPE tolerance) is public policy: see the [`Pipeline`] docs.
//! The running handle lives in `handle.rs`.

use std::ffi::{OsStr, OsString};
use std::fmt;
use std::os::fd::{AsFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::process::ExitStatus;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::capture::Capture;
use crate::command::Command;
use crate::communicate::Communicator;
use crate::error::{Error, Result};
use crate::execution::{Execution, KILL_GRACE};
use crate::parse;
use crate::process::Process;
use crate::redirect::{Redirect, Slot};
use crate::spawn::{self, ChildIo, Group};
use crate::status::Completed;
use crate::sys;

mod handle;

pub use handle::PipelineHandle;

/// Commands connected stdout to stdin, like the shell's `a | b | c`.
///
/// Built by value like [`Command`] and run by reference with the same
/// methods: [`call`](Pipeline::call), [`check_call`](Pipeline::check_call),
/// [`check_output`](Pipeline::check_output), [`run`](Pipeline::run),
/// [`spawn`](Pipeline::spawn) and [`reader`](Pipeline::reader). Settings on
/// the pipeline apply to it as a whole:
///
/// - `stdin` / `input` feed the first stage, `stdout` takes the last
///   stage's output. Without them the first stage's own `stdin`/`input` and
///   the last stage's own `stdout` apply; the stdin and stdout of every
///   other stage are the pipes between stages, whatever the stage says.
/// - `stderr` is the default for every stage that sets none itself; the
///   captured stderr of all stages goes into one pipe (see below).
/// - `cwd` and `env` reach every stage, except where a stage sets its own
///   (its own working directory; its own value for the same variable).
/// - `timeout` and `new_process_group` put all stages in one process group
///   (the first stage leads it), so a timeout kills every stage and all
///   their descendants.
/// - A stage's own `timeout`, `new_process_group`, `kill_on_drop`, output
///   callbacks and output limits are not used: set them on the pipeline.
///
/// ```
/// use pipe_run::{Command, Pipeline};
/// let out = Pipeline::parse("printf 'b\\na\\nb\\n' | sort | uniq -c")?.check_output()?;
/// assert_eq!(String::from_utf8_lossy(&out).split_whitespace().collect::<Vec<_>>(), ["1", "a", "2", "b"]);
///
/// let done = Command::new("yes").pipe(Command::new("head").arg("-n2")).run()?;
/// assert!(done.success()); // yes died of SIGPIPE: not a failure
/// assert_eq!(done.statuses().len(), 2);
/// # Ok::<(), pipe_run::Error>(())
/// ```
///
/// # Stderr
/// Every stage whose stderr is captured writes into **one shared pipe**,
/// read by the same poll loop as the data path, so no stage can block on
/// it. [`Completed::stderr`] holds all stages' messages interleaved in the
/// order they were written, as a terminal would show them (writes of up to
/// 4 KiB, a line in practice, are atomic on a pipe, so lines never tear).
/// There is no per-stage split: use a stage's own
/// [`stderr`](Command::stderr) (a file, or [`Redirect::Merge`] to send it
/// down the pipe like `2>&1 |`) to keep one apart.
///
/// # Status and SIGPIPE
/// [`Completed::statuses`] has one status per stage, left to right. The
/// overall status follows bash's `pipefail`: the rightmost stage that
/// failed, or the last stage when all succeeded. One exception, on
/// purpose: a stage other than the last that was killed by SIGPIPE is not
/// a failure. It only means a later stage stopped reading early
/// (`yes | head -n 1`), which is how pipelines are meant to end; bash's
/// `pipefail` reports 141 there, which nobody wants.
/// [`strict_sigpipe(true)`](Pipeline::strict_sigpipe) makes it a failure
/// again. (A producer that ignores SIGPIPE and exits non-zero on EPIPE
/// instead, as Rust programs do, is counted as failed: its exit code is
/// all we see.)
///
/// [`Completed::stderr`]: crate::Completed::stderr
/// [`Completed::statuses`]: crate::Completed::statuses
#[derive(Clone)]
#[must_use = "a Pipeline does nothing until it is run"]
pub struct Pipeline {
    stages: Vec<Command>,
    cwd: Option<PathBuf>,
    /// Applied to every stage that does not set the same variable.
    env: Vec<(OsString, Option<OsString>)>,
    stdin: Option<Slot>,
    stdout: Option<Slot>,
    stderr: Option<Slot>,
    input: Option<Arc<[u8]>>,
    timeout: Option<Duration>,
    new_process_group: Option<bool>,
    strict_sigpipe: bool,
    /// Capacity asked for the pipes between stages (0: the OS default).
    pipe_size: usize,
    /// Callbacks and limits for the last stage's stdout (0) and the shared
    /// stderr (1).
    capture: [Capture; 2],
}

impl Pipeline {
    /// A pipeline of `commands`, left to right.
    ///
    /// ```
    /// use pipe_run::{Command, Pipeline};
    /// let p = Pipeline::new([Command::new("echo").arg("hi"), Command::new("tr").args(["a-z", "A-Z"])]);
    /// assert_eq!(p.check_output()?, b"HI\n");
    /// # Ok::<(), pipe_run::Error>(())
    /// ```
    ///
    /// An empty pipeline can be built but running it is an
    /// [`ErrorKind::InvalidInput`](crate::ErrorKind::InvalidInput) error.
    pub fn new(commands: impl IntoIterator<Item = Command>) -> Pipeline {
        Pipeline {
            stages: commands.into_iter().collect(),
            cwd: None,
            env: Vec::new(),
            stdin: None,
            stdout: None,
            stderr: None,
            input: None,
            timeout: None,
            new_process_group: None,
            strict_sigpipe: false,
            pipe_size: Pipeline::DEFAULT_PIPE_SIZE,
            capture: Default::default(),
        }
    }

    /// Parses a shell-style pipeline without a shell: words are split with
    /// POSIX quoting (no expansion) and a bare `|` separates stages.
    ///
    /// ```
    /// use pipe_run::{ErrorKind, Pipeline};
    /// let p = Pipeline::parse("grep -v '^#' conf | sort -u | head -n 5")?;
    /// assert_eq!(p.stages().len(), 3);
    /// assert_eq!(p.stages()[0].get_args(), ["-v", "^#", "conf"]);
    ///
    /// let err = Pipeline::parse("make && make install").unwrap_err();
    /// assert_eq!(err.kind(), ErrorKind::Parse);
    /// assert!(err.to_string().contains("Command::shell"));
    /// # Ok::<(), pipe_run::Error>(())
    /// ```
    ///
    /// # Errors
    /// [`ErrorKind::Parse`](crate::ErrorKind::Parse), naming the byte
    /// position: an unbalanced quote, an empty stage (`a | | b`), or other
    /// shell syntax (`||`, `&&`, `;`, redirections, `$(…)`), which needs
    /// [`Command::shell`].
    pub fn parse(line: &str) -> Result<Pipeline> {
        let stages = parse::split_stages(line)?;
        Ok(Pipeline::new(stages.into_iter().map(|words| {
            let mut words = words.into_iter();
            let program = words.next().unwrap_or_default();
            Command::new(program).args(words)
        })))
    }

    /// Appends a stage that reads this pipeline's output.
    ///
    /// ```
    /// use pipe_run::Command;
    /// let p = Command::new("echo").arg("b a").pipe(Command::new("tr").args([" ", "\n"])).pipe(Command::new("sort"));
    /// assert_eq!(p.check_output()?, b"a\nb\n");
    /// # Ok::<(), pipe_run::Error>(())
    /// ```
    pub fn pipe(mut self, next: Command) -> Pipeline {
        self.stages.push(next);
        self
    }

    /// The stages, left to right.
    ///
    /// ```
    /// let p = pipe_run::Pipeline::parse("ls | wc -l")?;
    /// assert_eq!(p.stages()[1].get_program(), "wc");
    /// # Ok::<(), pipe_run::Error>(())
    /// ```
    pub fn stages(&self) -> &[Command] {
        &self.stages
    }

    /// The pipeline as one shell-quoted line, as errors show it.
    ///
    /// ```
    /// let p = pipe_run::Pipeline::parse("grep 'a b' | wc -l")?;
    /// assert_eq!(p.command_line(), "grep 'a b' | wc -l");
    /// # Ok::<(), pipe_run::Error>(())
    /// ```
    pub fn command_line(&self) -> String {
        let lines: Vec<String> = self.stages.iter().map(Command::command_line).collect();
        lines.join(" | ")
    }

    /// Runs every stage in directory `dir`, except stages that set their
    /// own.
    ///
    /// ```
    /// let out = pipe_run::Pipeline::parse("pwd | cat")?.cwd("/").check_output()?;
    /// assert_eq!(out, b"/\n");
    /// # Ok::<(), pipe_run::Error>(())
    /// ```
    pub fn cwd(mut self, dir: impl AsRef<Path>) -> Pipeline {
        self.cwd = Some(dir.as_ref().to_owned());
        self
    }

    /// Sets an environment variable for every stage (a stage's own value
    /// for the same variable wins).
    ///
    /// ```
    /// use pipe_run::{Command, Pipeline};
    /// let p = Pipeline::new([Command::shell("echo $V"), Command::shell("cat; echo $V")]).env("V", "x");
    /// assert_eq!(p.check_output()?, b"x\nx\n");
    /// # Ok::<(), pipe_run::Error>(())
    /// ```
    pub fn env(mut self, key: impl AsRef<OsStr>, value: impl AsRef<OsStr>) -> Pipeline {
        self.set_env(key.as_ref(), Some(value.as_ref()));
        self
    }

    /// Sets several environment variables for every stage.
    ///
    /// ```
    /// let p = pipe_run::Pipeline::new([pipe_run::Command::shell("echo $A$B")]).envs([("A", "1"), ("B", "2")]);
    /// assert_eq!(p.check_output()?, b"12\n");
    /// # Ok::<(), pipe_run::Error>(())
    /// ```
    pub fn envs<I, K, V>(mut self, vars: I) -> Pipeline
    where
        I: IntoIterator<Item = (K, V)>,
        K: AsRef<OsStr>,
        V: AsRef<OsStr>,
    {
        for (k, v) in vars {
            self.set_env(k.as_ref(), Some(v.as_ref()));
        }
        self
    }

    /// Removes an environment variable from every stage's environment
    /// (unless a stage sets it itself).
    ///
    /// ```
    /// let p = pipe_run::Pipeline::new([pipe_run::Command::shell("echo ${HOME-unset}")]).env_remove("HOME");
    /// assert_eq!(p.check_output()?, b"unset\n");
    /// # Ok::<(), pipe_run::Error>(())
    /// ```
    pub fn env_remove(mut self, key: impl AsRef<OsStr>) -> Pipeline {
        self.set_env(key.as_ref(), None);
        self
    }

    fn set_env(&mut self, key: &OsStr, value: Option<&OsStr>) {
        crate::command::set_env(&mut self.env, key, value);
    }

    /// Connects the first stage's stdin. [`Redirect::Merge`] is invalid.
    ///
    /// ```
    /// use pipe_run::{Pipeline, Redirect};
    /// let out = Pipeline::parse("cat | wc -c")?.stdin(Redirect::Null).check_output()?;
    /// assert_eq!(String::from_utf8_lossy(&out).trim(), "0");
    /// # Ok::<(), pipe_run::Error>(())
    /// ```
    pub fn stdin(mut self, redirect: Redirect) -> Pipeline {
        self.stdin = Some(redirect.into());
        self
    }

    /// Connects the last stage's stdout, overriding the running method's
    /// default.
    ///
    /// ```
    /// use pipe_run::{Pipeline, Redirect};
    /// let done = Pipeline::parse("echo hi | cat")?.stdout(Redirect::Null).run()?;
    /// assert!(done.stdout.is_empty());
    /// # Ok::<(), pipe_run::Error>(())
    /// ```
    pub fn stdout(mut self, redirect: Redirect) -> Pipeline {
        self.stdout = Some(redirect.into());
        self
    }

    /// Connects the stderr of every stage that sets none itself, overriding
    /// the running method's default. With [`Redirect::Pipe`] all of them
    /// share one captured pipe.
    ///
    /// ```
    /// use pipe_run::{Command, Pipeline, Redirect};
    /// let err = Pipeline::new([Command::shell("echo one >&2"), Command::shell("cat; echo two >&2; exit 3")])
    ///     .stderr(Redirect::Pipe)
    ///     .check_output()
    ///     .unwrap_err();
    /// assert_eq!(err.stderr(), b"one\ntwo\n");
    /// ```
    pub fn stderr(mut self, redirect: Redirect) -> Pipeline {
        self.stderr = Some(redirect.into());
        self
    }

    /// Bytes to write to the first stage's stdin, concurrently with reading
    /// the output, so any size is safe.
    ///
    /// ```
    /// let out = pipe_run::Pipeline::parse("sort | head -n1")?.input("b\na\n").check_output()?;
    /// assert_eq!(out, b"a\n");
    /// # Ok::<(), pipe_run::Error>(())
    /// ```
    pub fn input(mut self, bytes: impl AsRef<[u8]>) -> Pipeline {
        self.input = Some(Arc::from(bytes.as_ref()));
        self
    }

    /// A time limit for the run-style methods and [`reader`](Pipeline::reader),
    /// counted from the spawn. All stages run in one new process group; on
    /// expiry the group is killed (every stage and their descendants) and
    /// an [`ErrorKind::Timeout`](crate::ErrorKind::Timeout) error returns
    /// the output captured so far.
    ///
    /// ```
    /// use std::time::Duration;
    /// use pipe_run::{ErrorKind, Pipeline};
    /// let err = Pipeline::parse("sh -c 'echo partial; sleep 10' | cat")?
    ///     .timeout(Duration::from_millis(200))
    ///     .check_output()
    ///     .unwrap_err();
    /// assert_eq!(err.kind(), ErrorKind::Timeout);
    /// assert_eq!(err.stdout(), b"partial\n");
    /// # Ok::<(), pipe_run::Error>(())
    /// ```
    pub fn timeout(mut self, timeout: Duration) -> Pipeline {
        self.timeout = Some(timeout);
        self
    }

    /// Whether the stages run in a new process group of their own (led by
    /// the first stage). Default: only when a timeout is set.
    ///
    /// ```
    /// let h = pipe_run::Pipeline::parse("sleep 5 | cat")?.new_process_group(true).spawn()?;
    /// h.kill()?; // kills the whole group
    /// assert!(!h.wait()?.success());
    /// # Ok::<(), pipe_run::Error>(())
    /// ```
    pub fn new_process_group(mut self, yes: bool) -> Pipeline {
        self.new_process_group = Some(yes);
        self
    }

    /// The capacity the pipes between stages get unless
    /// [`pipe_size`](Pipeline::pipe_size) says otherwise: 256 KiB, four
    /// times Linux's default.
    pub const DEFAULT_PIPE_SIZE: usize = 256 << 10;

    /// The capacity, in bytes, of the pipes between stages (default
    /// [`DEFAULT_PIPE_SIZE`](Pipeline::DEFAULT_PIPE_SIZE); `0` keeps the
    /// OS default, 64 KiB on Linux).
    ///
    /// A bigger pipe lets the stages hand over data in fewer, larger
    /// steps: `head -c 1G /dev/zero | cat | cat` runs about 12 % faster
    /// with 256 KiB pipes than with 64 KiB ones (see `benches/README.md`).
    /// The kernel counts pipe capacity against a per-user budget
    /// (`/proc/sys/fs/pipe-user-pages-soft`, 64 MiB for unprivileged users;
    /// no limit for root). Past it, growing fails and the pipe simply keeps
    /// the default size, but new pipes the same user creates elsewhere start
    /// small too, so a program running hundreds of pipelines at once as an
    /// unprivileged user may prefer `0`. Sizes above
    /// `/proc/sys/fs/pipe-max-size` (1 MiB by default) need privileges; a
    /// size the kernel refuses leaves the default. Linux rounds the size up
    /// to a power-of-two number of pages; elsewhere the setting is ignored.
    ///
    /// ```
    /// let p = pipe_run::Pipeline::parse("seq 3 | tac")?.pipe_size(1 << 20);
    /// assert_eq!(p.check_output()?, b"3\n2\n1\n");
    /// # Ok::<(), pipe_run::Error>(())
    /// ```
    pub fn pipe_size(mut self, bytes: usize) -> Pipeline {
        self.pipe_size = bytes;
        self
    }

    /// Counts a stage killed by SIGPIPE as a failure, like bash's
    /// `set -o pipefail` (default `false`: see [`Pipeline`]).
    ///
    /// ```
    /// let p = pipe_run::Pipeline::parse("yes | head -n1")?;
    /// assert!(p.run()?.success());
    /// let strict = p.strict_sigpipe(true).run()?;
    /// assert_eq!(strict.status.to_string(), "signal: 13 (SIGPIPE)");
    /// # Ok::<(), pipe_run::Error>(())
    /// ```
    pub fn strict_sigpipe(mut self, yes: bool) -> Pipeline {
        self.strict_sigpipe = yes;
        self
    }

    /// The timeout, if one was set.
    ///
    /// ```
    /// use std::time::Duration;
    /// let p = pipe_run::Pipeline::parse("a | b")?.timeout(Duration::from_secs(1));
    /// assert_eq!(p.get_timeout(), Some(Duration::from_secs(1)));
    /// # Ok::<(), pipe_run::Error>(())
    /// ```
    pub fn get_timeout(&self) -> Option<Duration> {
        self.timeout
    }

    /// Runs the pipeline with stdio inherited unless redirected and returns
    /// the overall status (see [`Pipeline`] for how it is chosen). A
    /// failure is not an error.
    ///
    /// ```
    /// let status = pipe_run::Pipeline::parse("true | false | true")?.call()?;
    /// assert_eq!(status.code(), Some(1)); // pipefail: the rightmost failure
    /// # Ok::<(), pipe_run::Error>(())
    /// ```
    ///
    /// # Errors
    /// Spawn failures of any stage (the stages already started are killed
    /// and reaped first; the error names the program), and
    /// [`ErrorKind::Timeout`](crate::ErrorKind::Timeout).
    pub fn call(&self) -> Result<ExitStatus> {
        self.execute(Slot::Inherit, Slot::Inherit)
            .map(|done| done.status)
    }

    /// Like [`call`](Pipeline::call), but a failed overall status is an
    /// error.
    ///
    /// ```
    /// use pipe_run::{ErrorKind, Pipeline};
    /// Pipeline::parse("true | true")?.check_call()?;
    /// let err = Pipeline::parse("false | true")?.check_call().unwrap_err();
    /// assert_eq!(err.kind(), ErrorKind::CalledProcess);
    /// assert_eq!(err.to_string(), "command `false | true` exited with code 1 (stage 1 of 2)");
    /// # Ok::<(), pipe_run::Error>(())
    /// ```
    ///
    /// # Errors
    /// As [`call`](Pipeline::call), plus
    /// [`ErrorKind::CalledProcess`](crate::ErrorKind::CalledProcess) with
    /// every stage's status.
    pub fn check_call(&self) -> Result<()> {
        self.execute(Slot::Inherit, Slot::Inherit)?
            .check()
            .map(drop)
    }

    /// Runs the pipeline and returns the last stage's stdout. Stages'
    /// stderr is inherited unless set to [`Redirect::Pipe`] (then captured
    /// into the error).
    ///
    /// ```
    /// let out = pipe_run::Pipeline::parse("echo hello | tr a-z A-Z")?.check_output()?;
    /// assert_eq!(out, b"HELLO\n");
    /// # Ok::<(), pipe_run::Error>(())
    /// ```
    ///
    /// # Errors
    /// As [`check_call`](Pipeline::check_call); the error carries the
    /// output captured before the failure.
    pub fn check_output(&self) -> Result<Vec<u8>> {
        self.execute(Slot::Pipe, Slot::Inherit)?
            .check()
            .map(|done| done.stdout)
    }

    /// Runs the pipeline, capturing the last stage's stdout and every
    /// stage's stderr (one shared pipe) unless redirected. A failure is not
    /// an error; see [`Completed::check`](crate::Completed::check).
    ///
    /// ```
    /// use pipe_run::{Command, Pipeline};
    /// let done = Pipeline::new([Command::shell("echo data; echo warn >&2; exit 2"), Command::new("cat")]).run()?;
    /// assert_eq!(done.stdout, b"data\n");
    /// assert_eq!(done.stderr, b"warn\n");
    /// assert_eq!(done.statuses().iter().map(|s| s.code()).collect::<Vec<_>>(), [Some(2), Some(0)]);
    /// assert_eq!(done.status.code(), Some(2));
    /// # Ok::<(), pipe_run::Error>(())
    /// ```
    ///
    /// # Errors
    /// Spawn failures and [`ErrorKind::Timeout`](crate::ErrorKind::Timeout).
    pub fn run(&self) -> Result<Completed> {
        self.execute(Slot::Pipe, Slot::Pipe)
    }

    /// Starts every stage and returns a handle over all of them, with stdio
    /// as configured (inherited by default). The timeout is not applied:
    /// the handle has [`wait_timeout`](PipelineHandle::wait_timeout).
    ///
    /// ```
    /// use std::io::Read;
    /// use pipe_run::{Pipeline, Redirect};
    /// let mut h = Pipeline::parse("echo hi | tr a-z A-Z")?.stdout(Redirect::Pipe).spawn()?;
    /// let mut out = String::new();
    /// h.take_stdout().unwrap().read_to_string(&mut out)?;
    /// assert_eq!(out, "HI\n");
    /// assert!(h.wait()?.success());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    /// Spawn failures; the stages already started are killed and reaped.
    pub fn spawn(&self) -> Result<PipelineHandle> {
        let l = self.launch(Slot::Inherit, Slot::Inherit, self.group(false))?;
        Ok(PipelineHandle::new(l.exec, l.stdin, l.stdout, l.stderr))
    }

    /// Spawns every stage with stdout and stderr captured (unless
    /// redirected) in a new process group, and returns the execution with
    /// its pipes set up: the pool runs pipelines through this.
    pub(crate) fn start(&self) -> Result<Execution> {
        self.start_with(Slot::Pipe, Slot::Pipe, Group::New)
    }

    /// Whether stdin or input is set, on the pipeline or its first stage
    /// (a pool gives its jobs `/dev/null` otherwise).
    pub(crate) fn stdin_configured(&self) -> bool {
        self.stdin.is_some()
            || self.input.is_some()
            || self
                .stages
                .first()
                .is_some_and(|c| c.stdin_slot().is_some() || c.get_input().is_some())
    }

    /// The process group for a run (`timed`: a timeout applies).
    pub(crate) fn group(&self, timed: bool) -> Group {
        match self.new_process_group {
            Some(true) => Group::New,
            Some(false) => Group::Inherit,
            None if timed => Group::New,
            None => Group::Inherit,
        }
    }

    pub(crate) fn captures(&self) -> &[Capture; 2] {
        &self.capture
    }

    pub(crate) fn capture_mut(&mut self, stream: usize) -> &mut Capture {
        &mut self.capture[stream]
    }

    /// Whether the last stage's stdout goes anywhere but a pipe to us.
    pub(crate) fn stdout_redirected(&self) -> bool {
        let own = self.stages.last().and_then(Command::stdout_slot);
        !matches!(self.stdout.as_ref().or(own), None | Some(Slot::Pipe))
    }

    fn execute(&self, out: Slot, err: Slot) -> Result<Completed> {
        let mut exec = self.start_with(out, err, self.group(self.timeout.is_some()))?;
        exec.finish(self.timeout)
    }

    /// Spawns every stage and hands our pipe ends to a [`Communicator`].
    pub(crate) fn start_with(&self, out: Slot, err: Slot, group: Group) -> Result<Execution> {
        let launched = self.launch(out, err, group)?;
        let mut exec = launched.exec;
        let comm = Communicator::new(
            launched.stdin.map(OwnedFd::from),
            launched.input,
            vec![
                launched.stdout.map(OwnedFd::from),
                launched.stderr.map(OwnedFd::from),
            ],
        );
        let mut comm = match comm {
            Ok(comm) => comm,
            Err(e) => {
                abort(exec.processes());
                return Err(Error::io(
                    Some(exec.command().clone()),
                    "cannot set up the pipes",
                    e,
                ));
            }
        };
        for (i, capture) in self.capture.iter().enumerate() {
            comm.capture(i, capture);
        }
        exec.set_comm(comm);
        Ok(exec)
    }

    /// Spawns the stages left to right, linking them with pipes. `out` and
    /// `err` are the running method's defaults for the last stage's stdout
    /// and every stage's stderr.
    fn launch(&self, out: Slot, err: Slot, group: Group) -> Result<Launched> {
        let line: Arc<str> = Arc::from(self.command_line());
        let (Some(first), Some(last)) = (self.stages.first(), self.stages.last()) else {
            return Err(Error::invalid(
                None,
                "a pipeline needs at least one command",
            ));
        };
        let started = Instant::now();
        let (mut next_stdin, input) = self.stdin_io(first, &line)?;
        let [cap_out, cap_err] = &self.capture;
        let explicit_out = self.stdout.as_ref().or(last.stdout_slot());
        cap_out.check_slot(explicit_out, "stdout", &line)?;
        cap_err.check_slot(self.stderr.as_ref(), "stderr", &line)?;
        let last_out = explicit_out.cloned().unwrap_or(cap_out.default_slot(out));
        let default_err = self.stderr.clone().unwrap_or(cap_err.default_slot(err));
        let stage_err =
            |stage: &Command| stage.stderr_slot().cloned().unwrap_or(default_err.clone());
        let io_err = |e| Error::io(Some(line.clone()), "cannot create a pipe", e);

        // One pipe for the stderr of every stage that captures it.
        let shared_err = match self
            .stages
            .iter()
            .any(|s| matches!(stage_err(s), Slot::Pipe))
        {
            true => Some(os_pipe::pipe().map_err(io_err)?),
            false => None,
        };
        let (mut parent_in, mut parent_out) = (None, None);
        let mut processes: Vec<Process> = Vec::with_capacity(self.stages.len());
        spawn::prepare();
        for (i, stage) in self.stages.iter().enumerate() {
            let is_last = i + 1 == self.stages.len();
            let mut spawn_stage = || {
                let cmd = stage.with_defaults(self.cwd.as_deref(), &self.env);
                let stage_line: Arc<str> = Arc::from(cmd.command_line());
                // The pipe to the next stage: the write end goes to this
                // stage (and closes in spawn), we hold the read end only
                // until the next stage is spawned with it.
                let (stdout, following) = if is_last {
                    (ChildIo::from(last_out.clone()), None)
                } else {
                    let (r, w) = os_pipe::pipe().map_err(io_err)?;
                    if self.pipe_size > 0 {
                        // Refused past the user's pipe budget: then the
                        // default size does.
                        sys::grow_pipe(w.as_fd(), self.pipe_size);
                    }
                    (ChildIo::Fd(w.into()), Some(r))
                };
                let stderr = match (stage_err(stage), &shared_err) {
                    (Slot::Pipe, Some((_, w))) => {
                        ChildIo::Fd(w.try_clone().map_err(io_err)?.into())
                    }
                    (slot, _) => ChildIo::from(slot),
                };
                let group = match (group, processes.first()) {
                    (Group::New, Some(leader)) => Group::Join(leader.pid()),
                    (group, _) => group,
                };
                let stdin = std::mem::replace(&mut next_stdin, ChildIo::Null);
                let spawned = spawn::spawn(&cmd, &stage_line, stdin, stdout, stderr, group)?;
                next_stdin = following.map_or(ChildIo::Null, |r| ChildIo::Fd(r.into()));
                Ok::<_, Error>(spawned)
            };
            match spawn_stage() {
                Ok(spawned) => {
                    if i == 0 {
                        parent_in = spawned.stdin;
                    }
                    if is_last {
                        parent_out = spawned.stdout;
                    }
                    processes.push(spawned.process);
                }
                Err(e) => {
                    // Close our pipe ends before waiting for the corpses.
                    drop((next_stdin, shared_err, parent_in));
                    abort(&processes);
                    return Err(e);
                }
            }
        }
        let mut exec = Execution::new(line, processes, started);
        exec.set_strict_sigpipe(self.strict_sigpipe);
        Ok(Launched {
            exec,
            input,
            stdin: parent_in,
            stdout: parent_out,
            // Dropping our copy of the shared write end here is what lets
            // the read end see end-of-file once the stages are done.
            stderr: shared_err.map(|(r, _w)| r),
        })
    }

    /// The first stage's stdin and the input to write to it: the
    /// pipeline's settings, or else the first stage's own.
    fn stdin_io(&self, first: &Command, line: &Arc<str>) -> Result<(ChildIo, Option<Arc<[u8]>>)> {
        let (slot, input) = if self.stdin.is_some() || self.input.is_some() {
            (self.stdin.clone(), self.input.clone())
        } else {
            (first.stdin_slot().cloned(), first.get_input().cloned())
        };
        match (slot, input) {
            (Some(Slot::Merge), _) => Err(Error::invalid(
                Some(line.clone()),
                "Redirect::Merge is for stdout or stderr, not stdin",
            )),
            (None, Some(data)) => Ok((ChildIo::Pipe, Some(data))),
            (Some(Slot::Pipe), data) => Ok((ChildIo::Pipe, data)),
            (Some(_), Some(_)) => Err(Error::invalid(
                Some(line.clone()),
                "input() was given but stdin is redirected elsewhere",
            )),
            (Some(slot), None) => Ok((ChildIo::from(slot), None)),
            (None, None) => Ok((ChildIo::Inherit, None)),
        }
    }
}

/// Kills and reaps the stages started before a later one failed to spawn,
/// so nothing is left running or unreaped when the error returns.
fn abort(processes: &[Process]) {
    for p in processes {
        let _ = p.signal_tree(sys::SIGKILL);
    }
    for p in processes {
        p.kill_tree_and_reap(KILL_GRACE);
    }
}

/// A freshly spawned pipeline and our ends of its outer pipes.
struct Launched {
    exec: Execution,
    input: Option<Arc<[u8]>>,
    stdin: Option<os_pipe::PipeWriter>,
    stdout: Option<os_pipe::PipeReader>,
    stderr: Option<os_pipe::PipeReader>,
}

impl fmt::Debug for Pipeline {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("Pipeline");
        d.field("line", &self.command_line());
        if let Some(cwd) = &self.cwd {
            d.field("cwd", cwd);
        }
        if !self.env.is_empty() {
            d.field("env", &self.env);
        }
        for (name, slot) in [
            ("stdin", &self.stdin),
            ("stdout", &self.stdout),
            ("stderr", &self.stderr),
        ] {
            if let Some(slot) = slot {
                d.field(name, slot);
            }
        }
        if let Some(t) = self.timeout {
            d.field("timeout", &t);
        }
        if self.strict_sigpipe {
            d.field("strict_sigpipe", &true);
        }
        if self.pipe_size != Pipeline::DEFAULT_PIPE_SIZE {
            d.field("pipe_size", &self.pipe_size);
        }
        d.finish_non_exhaustive()
    }
}

impl Command {
    /// A pipeline in which this command's stdout feeds `next`'s stdin, like
    /// the shell's `self | next`.
    ///
    /// ```
    /// use pipe_run::Command;
    /// let out = Command::new("printf").arg("b\\na\\n").pipe(Command::new("sort")).check_output()?;
    /// assert_eq!(out, b"a\nb\n");
    /// # Ok::<(), pipe_run::Error>(())
    /// ```
    pub fn pipe(self, next: Command) -> Pipeline {
        Pipeline::new([self, next])
    }
}
