//! Streaming a child's stdout with backpressure: [`ReaderHandle`], from
//! [`Command::reader`] and [`Pipeline::reader`].
//!
//! The reader does not add a second I/O mechanism: its stdout is an output
//! of the same [`Communicator`](crate::communicate) that serves stdin and
//! stderr, marked as streamed, and every `read` runs
//! [`Execution::read_stream`], which polls until stdout is readable while
//! writing the input and draining stderr. We read stdout only when the
//! caller does, so a slow caller makes the child block on a full pipe and
//! memory stays bounded; stderr is drained into a bounded tail meanwhile,
//! so the child never blocks on it.

use std::fmt;
use std::io::{self, BufRead, Read};
use std::process::ExitStatus;
use std::time::{Duration, Instant};

use crate::capture::{Capture, OutputLimit};
use crate::command::Command;
use crate::communicate::Communicator;
use crate::error::{Error, Result};
use crate::execution::Execution;
use crate::pipeline::Pipeline;
use crate::process::Process;
use crate::redirect::Slot;
use crate::status::Completed;
use crate::sys;

/// The stderr a reader keeps (the last bytes), unless a
/// [`stderr_limit`](Command::stderr_limit) says otherwise.
const STDERR_TAIL: usize = 64 << 10;
/// The reader's own buffer, for small reads and [`BufRead`]. Reads at least
/// this large go straight to the pipe.
const BUF_SIZE: usize = 128 << 10;
/// How long dropping an unfinished reader waits for the child to die of
/// SIGPIPE before killing it.
const DROP_GRACE: Duration = Duration::from_millis(20);

/// A child's (or a pipeline's) stdout as an [`io::Read`] and
/// [`io::BufRead`], from [`Command::reader`] or [`Pipeline::reader`].
///
/// The child is read only as fast as you read: a slow reader makes it wait
/// on a full pipe, so memory stays bounded however much it writes.
/// Meanwhile its stderr is drained into a bounded tail (the last 64 KiB,
/// unless [`stderr_limit`](Command::stderr_limit) says otherwise) and
/// [`input`](Command::input) is written, in the same poll loop.
///
/// At end of file every process is waited for and the status checked: a
/// failure becomes an error from `read` (an [`io::Error`] wrapping an
/// [`Error`] of kind [`CalledProcess`](crate::ErrorKind::CalledProcess)
/// with the status and the stderr tail; get it back with
/// `io_err.into_inner()` and `downcast`), unless
/// [`unchecked`](ReaderHandle::unchecked). A [`timeout`](Command::timeout)
/// bounds the whole read: on expiry the process group is killed and `read`
/// fails with an [`ErrorKind::Timeout`](crate::ErrorKind::Timeout) error.
///
/// ```
/// use std::io::BufRead;
/// let reader = pipe_run::Command::new("seq").arg("3").reader()?;
/// let lines: Vec<String> = reader.lines().collect::<Result<_, _>>()?;
/// assert_eq!(lines, ["1", "2", "3"]);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// # Drop
/// Dropping the reader before end of file closes our end of the pipe, so a
/// child still writing gets SIGPIPE (or EPIPE) and exits; one that has not
/// exited within 20 ms is killed with SIGKILL (its process group, if it has
/// one). Stages still alive are left to the background reaper: no zombie,
/// no hang, and the drop never takes much longer than those 20 ms.
pub struct ReaderHandle {
    exec: Execution,
    buf: Vec<u8>,
    pos: usize,
    filled: usize,
    deadline: Option<Instant>,
    timeout: Option<Duration>,
    checked: bool,
    /// End of file was reached and handled (or an error ended the read).
    done: bool,
    completed: Option<Completed>,
}

impl ReaderHandle {
    /// Wraps an execution whose output 0 is stdout and 1 stderr.
    fn new(mut exec: Execution, timeout: Option<Duration>, stderr: &Capture) -> ReaderHandle {
        let comm = exec.comm_mut();
        comm.stream(0);
        comm.capture(0, &Capture::default());
        comm.capture(1, &stderr.or_limit(OutputLimit::tail(STDERR_TAIL)));
        ReaderHandle {
            deadline: timeout.map(|t| exec.started() + t),
            exec,
            buf: Vec::new(),
            pos: 0,
            filled: 0,
            timeout,
            checked: true,
            done: false,
            completed: None,
        }
    }

    /// Turns off the status check at end of file: a failing child then
    /// ends the stream like a successful one. The status is still in
    /// [`completed`](ReaderHandle::completed).
    ///
    /// ```
    /// use std::io::Read;
    /// let mut reader = pipe_run::Command::shell("echo partial; exit 3").reader()?.unchecked();
    /// let mut out = String::new();
    /// reader.read_to_string(&mut out)?;
    /// assert_eq!(out, "partial\n");
    /// assert_eq!(reader.completed().unwrap().status.code(), Some(3));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn unchecked(mut self) -> ReaderHandle {
        self.checked = false;
        self
    }

    /// The process ids: one, or one per pipeline stage.
    ///
    /// ```
    /// let reader = pipe_run::Pipeline::parse("seq 3 | cat")?.reader()?;
    /// assert_eq!(reader.pids().len(), 2);
    /// # Ok::<(), pipe_run::Error>(())
    /// ```
    pub fn pids(&self) -> Vec<u32> {
        self.exec.processes().iter().map(Process::pid).collect()
    }

    /// The command line, shell-quoted.
    ///
    /// ```
    /// let reader = pipe_run::Command::new("echo").arg("a b").reader()?;
    /// assert_eq!(reader.command(), "echo 'a b'");
    /// # Ok::<(), pipe_run::Error>(())
    /// ```
    pub fn command(&self) -> &str {
        self.exec.command()
    }

    /// Kills the child with SIGKILL (its process group if it has one, or
    /// every stage of a pipeline). Reading then reaches end of file, and
    /// the check reports the kill unless [`unchecked`](ReaderHandle::unchecked).
    ///
    /// ```
    /// use std::io::Read;
    /// let mut reader = pipe_run::Command::new("yes").reader()?;
    /// reader.kill()?;
    /// let err = std::io::copy(&mut reader, &mut std::io::sink()).unwrap_err();
    /// assert!(err.to_string().contains("signal 9"), "{err}");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    /// [`ErrorKind::Io`](crate::ErrorKind::Io) if a signal cannot be sent.
    pub fn kill(&self) -> Result<()> {
        self.exec
            .signal_tree(sys::SIGKILL)
            .map_err(|e| Error::io(Some(self.exec.command().clone()), "cannot kill", e))
    }

    /// The overall status if every process has exited, without blocking
    /// (and without reading: stdout may still hold unread data).
    ///
    /// ```
    /// use std::io::Read;
    /// let mut reader = pipe_run::Command::new("true").reader()?;
    /// reader.read_to_end(&mut Vec::new())?;
    /// assert!(reader.try_wait()?.unwrap().success());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    /// [`ErrorKind::Io`](crate::ErrorKind::Io) if a status cannot be read.
    pub fn try_wait(&self) -> Result<Option<ExitStatus>> {
        if let Some(done) = &self.completed {
            return Ok(Some(done.status));
        }
        for p in self.exec.processes() {
            if p.try_reap()
                .map_err(|e| Error::io(Some(self.exec.command().clone()), "cannot poll", e))?
                .is_none()
            {
                return Ok(None);
            }
        }
        let statuses = self.exec.statuses().unwrap_or_default();
        Ok(crate::status::overall_status(
            &statuses,
            self.exec.strict_sigpipe(),
        ))
    }

    /// The result once end of file was reached without an error: the
    /// statuses and the stderr tail (stdout is empty: you read it).
    ///
    /// ```
    /// use std::io::Read;
    /// let mut reader = pipe_run::Command::shell("echo out; echo note >&2").reader()?;
    /// reader.read_to_end(&mut Vec::new())?;
    /// let done = reader.completed().unwrap();
    /// assert_eq!((done.stdout.len(), &done.stderr[..]), (0, &b"note\n"[..]));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn completed(&self) -> Option<&Completed> {
        self.completed.as_ref()
    }

    /// One read from the child's stdout straight into `out`.
    fn read_raw(&mut self, out: &mut [u8]) -> io::Result<usize> {
        if self.done || out.is_empty() {
            return Ok(0);
        }
        match self.exec.read_stream(0, out, self.deadline) {
            Ok(Some(0)) => {
                self.done = true;
                self.finish().map(|()| 0)
            }
            Ok(Some(n)) => Ok(n),
            Ok(None) => {
                self.done = true;
                Err(self.exec.expire(self.timeout.unwrap_or_default()).into())
            }
            Err(e) => {
                self.done = true;
                let _ = self.exec.signal_tree(sys::SIGKILL);
                Err(Error::io(Some(self.exec.command().clone()), "cannot read stdout", e).into())
            }
        }
    }

    /// At end of file: finish writing input and draining stderr, wait for
    /// every process, check the status.
    fn finish(&mut self) -> io::Result<()> {
        // Counted from the spawn, like the deadline of `read`.
        let done = self.exec.finish(self.timeout)?;
        if self.checked && !done.success() {
            return Err(Error::called_process(done).into());
        }
        self.completed = Some(done);
        Ok(())
    }
}

impl Read for ReaderHandle {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        // Large reads bypass our buffer, as `BufReader` does.
        if self.pos == self.filled && out.len() >= BUF_SIZE {
            return self.read_raw(out);
        }
        let available = self.fill_buf()?;
        let n = available.len().min(out.len());
        out[..n].copy_from_slice(&available[..n]);
        self.consume(n);
        Ok(n)
    }
}

impl BufRead for ReaderHandle {
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        if self.pos == self.filled {
            let mut buf = std::mem::take(&mut self.buf);
            buf.resize(BUF_SIZE, 0);
            (self.pos, self.filled) = (0, 0);
            let read = self.read_raw(&mut buf);
            self.buf = buf;
            self.filled = read?;
        }
        Ok(&self.buf[self.pos..self.filled])
    }

    fn consume(&mut self, n: usize) {
        self.pos = (self.pos + n).min(self.filled);
    }
}

impl fmt::Debug for ReaderHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ReaderHandle")
            .field("command", &self.command())
            .field("pids", &self.pids())
            .field("checked", &self.checked)
            .field("done", &self.done)
            .finish_non_exhaustive()
    }
}

impl Drop for ReaderHandle {
    fn drop(&mut self) {
        if self.exec.statuses().is_some() {
            return;
        }
        // Close our ends first, stdout above all: a child still writing
        // gets SIGPIPE at its next write instead of blocking forever.
        self.exec.set_comm(Communicator::default());
        let grace = Instant::now() + DROP_GRACE;
        let exited = self
            .exec
            .processes()
            .iter()
            .all(|p| matches!(p.wait_deadline(Some(grace)), Ok(Some(_))));
        if !exited {
            let _ = self.exec.signal_tree(sys::SIGKILL);
        }
        // `exec` drops next: processes not yet reaped go to the reaper.
    }
}

fn refuse_redirected_stdout(command: String) -> Error {
    Error::invalid(
        Some(command.into()),
        "reader() reads stdout: leave stdout unset (or Redirect::Pipe)",
    )
}

impl Command {
    /// Starts the command and returns its stdout as a stream, read only as
    /// fast as you read it; see [`ReaderHandle`]. stderr is drained into a
    /// bounded tail (for the error at a failed exit) unless redirected;
    /// [`input`](Command::input) is written concurrently; the
    /// [`timeout`](Command::timeout), if any, bounds the whole read.
    ///
    /// ```
    /// use std::io::BufRead;
    /// let reader = pipe_run::Command::new("seq").arg("1000000").reader()?;
    /// let first = reader.lines().next().unwrap()?; // the rest is never produced
    /// assert_eq!(first, "1");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    /// Spawn failures, and [`ErrorKind::InvalidInput`](crate::ErrorKind::InvalidInput)
    /// if stdout is redirected elsewhere. Failures of the child surface as
    /// errors from `read` at end of file.
    pub fn reader(&self) -> Result<ReaderHandle> {
        if !matches!(self.stdout_slot(), None | Some(Slot::Pipe)) {
            return Err(refuse_redirected_stdout(self.command_line()));
        }
        let group = self.group(self.get_timeout().is_some());
        let popen = self.spawn_with(Slot::Pipe, Slot::Pipe, group)?;
        let exec = popen.into_execution()?;
        Ok(ReaderHandle::new(
            exec,
            self.get_timeout(),
            &self.captures()[1],
        ))
    }
}

impl Pipeline {
    /// Starts the pipeline and returns the last stage's stdout as a stream;
    /// see [`Command::reader`] and [`ReaderHandle`]. The stderr of every
    /// stage goes into one bounded tail unless redirected.
    ///
    /// ```
    /// use std::io::BufRead;
    /// let reader = pipe_run::Pipeline::parse("seq 5 | grep -v 3")?.reader()?;
    /// let lines: Vec<String> = reader.lines().collect::<Result<_, _>>()?;
    /// assert_eq!(lines, ["1", "2", "4", "5"]);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    /// As [`Command::reader`]; a stage that cannot be spawned kills and
    /// reaps the others first.
    pub fn reader(&self) -> Result<ReaderHandle> {
        if self.stdout_redirected() {
            return Err(refuse_redirected_stdout(self.command_line()));
        }
        let group = self.group(self.get_timeout().is_some());
        let exec = self.start_with(Slot::Pipe, Slot::Pipe, group)?;
        Ok(ReaderHandle::new(
            exec,
            self.get_timeout(),
            &self.captures()[1],
        ))
    }
}
