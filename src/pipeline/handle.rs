//! The running handle of a pipeline: [`PipelineHandle`].

use std::fmt;
use std::process::ExitStatus;
use std::time::{Duration, Instant};

use crate::error::{Error, Result};
use crate::execution::Execution;
use crate::process::Process;
use crate::status::overall_status;
use crate::sys;

/// A running pipeline: every stage's process and our ends of the outer
/// pipes, from [`Pipeline::spawn`](crate::Pipeline::spawn).
///
/// Waiting, polling and killing take `&self` and the handle is `Send +
/// Sync`, like [`Popen`](crate::Popen).
///
/// # Drop
/// As for a [`Popen`](crate::Popen): dropping never blocks and never
/// leaves a zombie. Our pipe ends close first; stages that still run are
/// handed to the background reaper, not killed.
///
/// ```
/// let h = pipe_run::Pipeline::parse("sleep 5 | cat")?.spawn()?;
/// assert_eq!(h.pids().len(), 2);
/// assert!(h.poll()?.is_none());
/// h.kill()?;
/// assert_eq!(h.wait()?.code(), None); // killed by a signal
/// # Ok::<(), pipe_run::Error>(())
/// ```
pub struct PipelineHandle {
    // Field order is drop order: our pipe ends close before the processes
    // are dropped (and handed to the reaper if still running).
    stdin: Option<os_pipe::PipeWriter>,
    stdout: Option<os_pipe::PipeReader>,
    stderr: Option<os_pipe::PipeReader>,
    strict_sigpipe: bool,
    exec: Execution,
}

impl PipelineHandle {
    pub(super) fn new(
        exec: Execution,
        stdin: Option<os_pipe::PipeWriter>,
        stdout: Option<os_pipe::PipeReader>,
        stderr: Option<os_pipe::PipeReader>,
    ) -> PipelineHandle {
        PipelineHandle {
            stdin,
            stdout,
            stderr,
            strict_sigpipe: exec.strict_sigpipe(),
            exec,
        }
    }

    /// The process ids of the stages, left to right.
    ///
    /// ```
    /// let h = pipe_run::Pipeline::parse("true | true | true")?.spawn()?;
    /// assert_eq!(h.pids().len(), 3);
    /// h.wait()?;
    /// # Ok::<(), pipe_run::Error>(())
    /// ```
    pub fn pids(&self) -> Vec<u32> {
        self.exec.processes().iter().map(Process::pid).collect()
    }

    /// The pipeline's command line, shell-quoted.
    ///
    /// ```
    /// let h = pipe_run::Pipeline::parse("true | true")?.spawn()?;
    /// assert_eq!(h.command(), "true | true");
    /// h.wait()?;
    /// # Ok::<(), pipe_run::Error>(())
    /// ```
    pub fn command(&self) -> &str {
        self.exec.command()
    }

    /// The overall status if every stage has exited; never blocks.
    ///
    /// ```
    /// let h = pipe_run::Pipeline::parse("sleep 5 | cat")?.spawn()?;
    /// assert!(h.poll()?.is_none());
    /// h.kill()?;
    /// h.wait()?;
    /// assert!(h.poll()?.is_some());
    /// # Ok::<(), pipe_run::Error>(())
    /// ```
    ///
    /// # Errors
    /// [`ErrorKind::Io`](crate::ErrorKind::Io) if a status cannot be read.
    pub fn poll(&self) -> Result<Option<ExitStatus>> {
        for p in self.exec.processes() {
            p.try_reap().map_err(|e| self.io_error("cannot poll", e))?;
        }
        Ok(self.overall())
    }

    /// Waits for every stage to exit and returns the overall status (see
    /// [`Pipeline`](crate::Pipeline)). Like [`Popen::wait`](crate::Popen::wait) it does not
    /// read our pipe ends.
    ///
    /// ```
    /// let h = pipe_run::Pipeline::parse("false | true")?.spawn()?;
    /// assert_eq!(h.wait()?.code(), Some(1));
    /// # Ok::<(), pipe_run::Error>(())
    /// ```
    ///
    /// # Errors
    /// [`ErrorKind::Io`](crate::ErrorKind::Io) if waiting fails.
    pub fn wait(&self) -> Result<ExitStatus> {
        let status = self.wait_deadline_raw(None)?;
        Ok(status.expect("a wait without deadline returns a status"))
    }

    /// Waits at most `timeout`; `Ok(None)` if a stage is still running.
    ///
    /// ```
    /// use std::time::Duration;
    /// let h = pipe_run::Pipeline::parse("sleep 5 | cat")?.spawn()?;
    /// assert!(h.wait_timeout(Duration::from_millis(10))?.is_none());
    /// h.kill()?;
    /// assert!(h.wait_timeout(Duration::from_secs(5))?.is_some());
    /// # Ok::<(), pipe_run::Error>(())
    /// ```
    ///
    /// # Errors
    /// [`ErrorKind::Io`](crate::ErrorKind::Io) if waiting fails.
    pub fn wait_timeout(&self, timeout: Duration) -> Result<Option<ExitStatus>> {
        self.wait_deadline_raw(Some(Instant::now() + timeout))
    }

    /// Waits until `deadline`; `Ok(None)` if a stage is still running.
    ///
    /// ```
    /// use std::time::{Duration, Instant};
    /// let h = pipe_run::Pipeline::parse("true | true")?.spawn()?;
    /// assert!(h.wait_deadline(Instant::now() + Duration::from_secs(5))?.unwrap().success());
    /// # Ok::<(), pipe_run::Error>(())
    /// ```
    ///
    /// # Errors
    /// [`ErrorKind::Io`](crate::ErrorKind::Io) if waiting fails.
    pub fn wait_deadline(&self, deadline: Instant) -> Result<Option<ExitStatus>> {
        self.wait_deadline_raw(Some(deadline))
    }

    fn wait_deadline_raw(&self, deadline: Option<Instant>) -> Result<Option<ExitStatus>> {
        for p in self.exec.processes() {
            let status = p
                .wait_deadline(deadline)
                .map_err(|e| self.io_error("cannot wait", e))?;
            if status.is_none() {
                return Ok(None);
            }
        }
        Ok(self.overall())
    }

    /// Every stage's status, left to right, once all have been reaped (by
    /// [`wait`](PipelineHandle::wait) or [`poll`](PipelineHandle::poll)).
    ///
    /// ```
    /// let h = pipe_run::Pipeline::parse("false | true")?.spawn()?;
    /// h.wait()?;
    /// let codes: Vec<_> = h.statuses().unwrap().iter().map(|s| s.code()).collect();
    /// assert_eq!(codes, [Some(1), Some(0)]);
    /// # Ok::<(), pipe_run::Error>(())
    /// ```
    pub fn statuses(&self) -> Option<Vec<ExitStatus>> {
        self.exec.statuses()
    }

    fn overall(&self) -> Option<ExitStatus> {
        overall_status(&self.statuses()?, self.strict_sigpipe)
    }

    /// Kills every stage with SIGKILL: the whole process group if the
    /// stages have one of their own (then their descendants too), else each
    /// stage. Stages already reaped are left alone.
    ///
    /// ```
    /// let h = pipe_run::Pipeline::parse("sleep 5 | sleep 5")?.spawn()?;
    /// h.kill()?;
    /// assert!(h.wait()?.code().is_none());
    /// # Ok::<(), pipe_run::Error>(())
    /// ```
    ///
    /// # Errors
    /// [`ErrorKind::Io`](crate::ErrorKind::Io) if a signal cannot be sent.
    pub fn kill(&self) -> Result<()> {
        self.exec
            .signal_tree(sys::SIGKILL)
            .map_err(|e| self.io_error("cannot kill", e))
    }

    /// Takes our end of the first stage's stdin pipe (set with
    /// [`Redirect::Pipe`](crate::Redirect::Pipe)). Dropping it closes the stage's stdin.
    ///
    /// ```
    /// use std::io::{Read, Write};
    /// use pipe_run::{Pipeline, Redirect};
    /// let mut h = Pipeline::parse("cat | tr a-z A-Z")?.stdin(Redirect::Pipe).stdout(Redirect::Pipe).spawn()?;
    /// h.take_stdin().unwrap().write_all(b"hi")?;
    /// let mut out = String::new();
    /// h.take_stdout().unwrap().read_to_string(&mut out)?;
    /// assert_eq!(out, "HI");
    /// h.wait()?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn take_stdin(&mut self) -> Option<os_pipe::PipeWriter> {
        self.stdin.take()
    }

    /// Takes our end of the last stage's stdout pipe.
    ///
    /// ```
    /// use std::io::Read;
    /// use pipe_run::{Pipeline, Redirect};
    /// let mut h = Pipeline::parse("echo hi | cat")?.stdout(Redirect::Pipe).spawn()?;
    /// let mut out = String::new();
    /// h.take_stdout().unwrap().read_to_string(&mut out)?;
    /// assert_eq!(out, "hi\n");
    /// h.wait()?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn take_stdout(&mut self) -> Option<os_pipe::PipeReader> {
        self.stdout.take()
    }

    /// Takes our end of the shared stderr pipe of the stages (set with
    /// [`Redirect::Pipe`](crate::Redirect::Pipe)).
    ///
    /// ```
    /// use std::io::Read;
    /// use pipe_run::{Pipeline, Redirect};
    /// let mut h = Pipeline::parse("sh -c 'echo oops >&2' | cat")?.stderr(Redirect::Pipe).spawn()?;
    /// let mut err = String::new();
    /// h.take_stderr().unwrap().read_to_string(&mut err)?;
    /// assert_eq!(err, "oops\n");
    /// h.wait()?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn take_stderr(&mut self) -> Option<os_pipe::PipeReader> {
        self.stderr.take()
    }

    fn io_error(&self, context: &str, e: std::io::Error) -> Error {
        Error::io(Some(self.exec.command().clone()), context, e)
    }
}

impl fmt::Debug for PipelineHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PipelineHandle")
            .field("command", &self.command())
            .field("pids", &self.pids())
            .field("statuses", &self.statuses())
            .finish_non_exhaustive()
    }
}
