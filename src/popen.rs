//! The running handle: [`Popen`].

use std::fmt;
use std::os::fd::OwnedFd;
use std::process::ExitStatus;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::capture::Capture;
use crate::command::Command;
use crate::communicate::Communicator;
use crate::error::{Error, Result};
use crate::execution::Execution;
use crate::process::Process;
use crate::spawn::{self, ChildIo, Group};
use crate::status::Completed;
use crate::sys;

/// A running child process, in the spirit of Python's `subprocess.Popen`.
///
/// Waiting, polling and signalling take `&self` and `Popen` is `Send +
/// Sync`: one thread can block in [`wait`](Popen::wait) while another
/// [`poll`](Popen::poll)s or [`kill`](Popen::kill)s, and both see the same
/// status. Talking to the child ([`communicate`](Popen::communicate),
/// `take_*`) takes `&mut self`.
///
/// # Drop
/// Dropping a `Popen` never blocks and never leaves a zombie: our pipe ends
/// are closed first, then a child that still runs is handed to a background
/// reaper that collects its status when it exits (as CPython and duct do).
/// The child is killed only if the command had
/// [`kill_on_drop(true)`](Command::kill_on_drop); otherwise it keeps
/// running.
///
/// ```
/// use std::{sync::Arc, thread, time::Duration};
/// use pipe_run::Command;
/// let p = Arc::new(Command::new("sleep").arg("10").spawn()?);
/// let waiter = thread::spawn({ let p = p.clone(); move || p.wait() });
/// assert!(p.poll()?.is_none());
/// p.kill()?;
/// let status = waiter.join().unwrap()?;
/// assert_eq!(p.returncode(), Some(-9));
/// assert!(!status.success());
/// # Ok::<(), pipe_run::Error>(())
/// ```
pub struct Popen {
    // Field order is drop order: our pipe ends close before `process` is
    // dropped (and possibly handed to the reaper), so a child blocked on a
    // pipe to us sees EOF/EPIPE instead of waiting forever.
    stdin: Option<os_pipe::PipeWriter>,
    stdout: Option<os_pipe::PipeReader>,
    stderr: Option<os_pipe::PipeReader>,
    /// Whether `communicate` has taken the pipes into `exec`.
    communicating: bool,
    /// Input configured on the command, written by the first communicate.
    input: Option<Arc<[u8]>>,
    /// Callbacks and limits for stdout and stderr, applied by communicate.
    capture: [Capture; 2],
    exec: Execution,
    kill_on_drop: bool,
}

impl Popen {
    pub(crate) fn spawn(
        cmd: &Command,
        command: Arc<str>,
        stdin: ChildIo,
        stdout: ChildIo,
        stderr: ChildIo,
        group: Group,
    ) -> Result<Popen> {
        let started = Instant::now();
        spawn::prepare();
        let spawned = spawn::spawn(cmd, &command, stdin, stdout, stderr, group)?;
        Ok(Popen {
            stdin: spawned.stdin,
            stdout: spawned.stdout,
            stderr: spawned.stderr,
            communicating: false,
            input: cmd.get_input().cloned(),
            capture: cmd.captures().clone(),
            exec: Execution::new(command, vec![spawned.process], started),
            kill_on_drop: cmd.kills_on_drop(),
        })
    }

    /// The child's process id.
    ///
    /// ```
    /// let p = pipe_run::Command::new("true").spawn()?;
    /// assert!(p.pid() > 0);
    /// p.wait()?;
    /// # Ok::<(), pipe_run::Error>(())
    /// ```
    pub fn pid(&self) -> u32 {
        self.process().pid()
    }

    /// The command line, shell-quoted.
    ///
    /// ```
    /// let p = pipe_run::Command::new("echo").arg("a b").stdout(pipe_run::Redirect::Null).spawn()?;
    /// assert_eq!(p.command(), "echo 'a b'");
    /// p.wait()?;
    /// # Ok::<(), pipe_run::Error>(())
    /// ```
    pub fn command(&self) -> &str {
        self.exec.command()
    }

    /// The exit status if the child has exited; never blocks.
    ///
    /// ```
    /// let p = pipe_run::Command::new("sleep").arg("5").spawn()?;
    /// assert!(p.poll()?.is_none());
    /// p.kill()?;
    /// p.wait()?;
    /// assert!(p.poll()?.is_some());
    /// # Ok::<(), pipe_run::Error>(())
    /// ```
    ///
    /// # Errors
    /// [`ErrorKind::Io`](crate::ErrorKind::Io) if the status cannot be read.
    pub fn poll(&self) -> Result<Option<ExitStatus>> {
        self.process()
            .try_reap()
            .map_err(|e| self.io_error("cannot poll", e))
    }

    /// Waits for the child to exit.
    ///
    /// It does not read the child's pipes: a child that fills a pipe nobody
    /// reads blocks forever. Use [`communicate`](Popen::communicate) when
    /// stdout or stderr are pipes.
    ///
    /// ```
    /// let p = pipe_run::Command::new("false").spawn()?;
    /// assert_eq!(p.wait()?.code(), Some(1));
    /// # Ok::<(), pipe_run::Error>(())
    /// ```
    ///
    /// # Errors
    /// [`ErrorKind::Io`](crate::ErrorKind::Io) if waiting fails.
    pub fn wait(&self) -> Result<ExitStatus> {
        let status = self.wait_deadline_raw(None)?;
        Ok(status.expect("a wait without deadline returns a status"))
    }

    /// Waits at most `timeout`; `Ok(None)` if the child is still running.
    ///
    /// ```
    /// use std::time::Duration;
    /// let p = pipe_run::Command::new("sleep").arg("5").spawn()?;
    /// assert!(p.wait_timeout(Duration::from_millis(10))?.is_none());
    /// p.kill()?;
    /// assert!(p.wait_timeout(Duration::from_secs(5))?.is_some());
    /// # Ok::<(), pipe_run::Error>(())
    /// ```
    ///
    /// # Errors
    /// [`ErrorKind::Io`](crate::ErrorKind::Io) if waiting fails.
    pub fn wait_timeout(&self, timeout: Duration) -> Result<Option<ExitStatus>> {
        self.wait_deadline_raw(Some(Instant::now() + timeout))
    }

    /// Waits until `deadline`; `Ok(None)` if the child is still running.
    ///
    /// ```
    /// use std::time::{Duration, Instant};
    /// let p = pipe_run::Command::new("true").spawn()?;
    /// assert!(p.wait_deadline(Instant::now() + Duration::from_secs(5))?.unwrap().success());
    /// # Ok::<(), pipe_run::Error>(())
    /// ```
    ///
    /// # Errors
    /// [`ErrorKind::Io`](crate::ErrorKind::Io) if waiting fails.
    pub fn wait_deadline(&self, deadline: Instant) -> Result<Option<ExitStatus>> {
        self.wait_deadline_raw(Some(deadline))
    }

    fn wait_deadline_raw(&self, deadline: Option<Instant>) -> Result<Option<ExitStatus>> {
        self.process()
            .wait_deadline(deadline)
            .map_err(|e| self.io_error("cannot wait", e))
    }

    /// The exit code once the child has exited, as Python gives it: the
    /// code, or `-N` for a child killed by signal N. `None` while running
    /// (or not yet reaped: call [`poll`](Popen::poll) or
    /// [`wait`](Popen::wait)).
    ///
    /// ```
    /// let p = pipe_run::Command::shell("exit 7").spawn()?;
    /// p.wait()?;
    /// assert_eq!(p.returncode(), Some(7));
    /// # Ok::<(), pipe_run::Error>(())
    /// ```
    pub fn returncode(&self) -> Option<i32> {
        let status = self.process().status()?;
        status
            .code()
            .or_else(|| crate::status::signal_of(&status).map(|s| -s))
    }

    /// Sends SIGTERM to the child (not to its descendants). Does nothing if
    /// it has already been reaped.
    ///
    /// ```
    /// let p = pipe_run::Command::new("sleep").arg("5").spawn()?;
    /// p.terminate()?;
    /// assert_eq!(p.wait()?.to_string(), "signal: 15 (SIGTERM)");
    /// # Ok::<(), pipe_run::Error>(())
    /// ```
    ///
    /// # Errors
    /// [`ErrorKind::Io`](crate::ErrorKind::Io) if the signal cannot be sent.
    pub fn terminate(&self) -> Result<()> {
        self.send_signal(sys::SIGTERM)
    }

    /// Sends SIGKILL to the child (not to its descendants; see
    /// [`kill_tree`](Popen::kill_tree)). Does nothing if it has already been
    /// reaped.
    ///
    /// ```
    /// let p = pipe_run::Command::new("sleep").arg("5").spawn()?;
    /// p.kill()?;
    /// assert_eq!(p.returncode(), None); // not reaped yet
    /// p.wait()?;
    /// assert_eq!(p.returncode(), Some(-9));
    /// # Ok::<(), pipe_run::Error>(())
    /// ```
    ///
    /// # Errors
    /// [`ErrorKind::Io`](crate::ErrorKind::Io) if the signal cannot be sent.
    pub fn kill(&self) -> Result<()> {
        self.send_signal(sys::SIGKILL)
    }

    /// Sends signal `sig` to the child. Does nothing if it has already been
    /// reaped, so a recycled pid is never signalled (on Linux the signal
    /// goes through a pidfd, safe even where the kernel reaps children
    /// itself because SIGCHLD is ignored).
    ///
    /// ```
    /// let p = pipe_run::Command::new("sleep").arg("5").spawn()?;
    /// p.send_signal(libc::SIGINT)?;
    /// assert_eq!(p.wait()?.to_string(), "signal: 2 (SIGINT)");
    /// # Ok::<(), pipe_run::Error>(())
    /// ```
    ///
    /// # Errors
    /// [`ErrorKind::Io`](crate::ErrorKind::Io) (e.g. an invalid signal
    /// number).
    pub fn send_signal(&self, sig: i32) -> Result<()> {
        self.process()
            .signal(sig)
            .map_err(|e| self.io_error(&format!("cannot send signal {sig}"), e))
    }

    /// Sends `sig` to the child's whole process group when it leads one
    /// ([`new_process_group(true)`](Command::new_process_group)), reaching
    /// its descendants too; otherwise to the child alone.
    ///
    /// ```
    /// let p = pipe_run::Command::shell("sleep 10; echo never").new_process_group(true).spawn()?;
    /// p.send_signal_group(libc::SIGTERM)?; // sh and its sleep both get it
    /// assert!(!p.wait()?.success());
    /// # Ok::<(), pipe_run::Error>(())
    /// ```
    ///
    /// # Errors
    /// [`ErrorKind::Io`](crate::ErrorKind::Io) if the signal cannot be sent.
    pub fn send_signal_group(&self, sig: i32) -> Result<()> {
        self.process().signal_tree(sig).map_err(|e| {
            self.io_error(&format!("cannot send signal {sig} to the process group"), e)
        })
    }

    /// Kills the child's process group (or the child, without one of its
    /// own) with SIGKILL.
    ///
    /// ```
    /// let p = pipe_run::Command::shell("sleep 10").new_process_group(true).spawn()?;
    /// p.kill_tree()?;
    /// assert_eq!(p.wait()?.to_string(), "signal: 9 (SIGKILL)");
    /// # Ok::<(), pipe_run::Error>(())
    /// ```
    ///
    /// # Errors
    /// [`ErrorKind::Io`](crate::ErrorKind::Io) if the signal cannot be sent.
    pub fn kill_tree(&self) -> Result<()> {
        self.send_signal_group(sys::SIGKILL)
    }

    /// Takes our end of the child's stdin pipe (set with
    /// [`Redirect::Pipe`](crate::Redirect::Pipe)). Dropping it closes the
    /// child's stdin.
    ///
    /// ```
    /// use std::io::Write;
    /// use pipe_run::{Command, Redirect};
    /// let mut p = Command::new("cat").stdin(Redirect::Pipe).stdout(Redirect::Pipe).spawn()?;
    /// let mut stdin = p.take_stdin().unwrap();
    /// stdin.write_all(b"hi")?;
    /// drop(stdin);
    /// assert_eq!(p.communicate(None, None)?.0, b"hi");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn take_stdin(&mut self) -> Option<os_pipe::PipeWriter> {
        self.stdin.take()
    }

    /// Takes our end of the child's stdout pipe.
    ///
    /// ```
    /// use std::io::Read;
    /// use pipe_run::{Command, Redirect};
    /// let mut p = Command::new("echo").arg("hi").stdout(Redirect::Pipe).spawn()?;
    /// let mut out = String::new();
    /// p.take_stdout().unwrap().read_to_string(&mut out)?;
    /// assert_eq!(out, "hi\n");
    /// p.wait()?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn take_stdout(&mut self) -> Option<os_pipe::PipeReader> {
        self.stdout.take().inspect(grow_taken_pipe)
    }

    /// Takes our end of the child's stderr pipe.
    ///
    /// ```
    /// use std::io::Read;
    /// use pipe_run::{Command, Redirect};
    /// let mut p = Command::shell("echo oops >&2").stderr(Redirect::Pipe).spawn()?;
    /// let mut err = String::new();
    /// p.take_stderr().unwrap().read_to_string(&mut err)?;
    /// assert_eq!(err, "oops\n");
    /// p.wait()?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn take_stderr(&mut self) -> Option<os_pipe::PipeReader> {
        self.stderr.take().inspect(grow_taken_pipe)
    }

    /// Writes `input` to the child's stdin (then closes it), reads its
    /// stdout and stderr to the end, and waits for it to exit — all at once,
    /// so no size of input or output can deadlock. Returns what was read
    /// from the pipes (empty for streams that are not pipes).
    ///
    /// With a `timeout`, expiry gives an [`ErrorKind::Timeout`] error that
    /// carries everything collected so far; the child keeps running, and a
    /// later `communicate(None, ..)` resumes where this one stopped: the
    /// rest of the input is written exactly once and the final result holds
    /// all the output since the first call.
    ///
    /// A child that exits or closes its stdin without reading all of the
    /// input is not an error.
    ///
    /// ```
    /// use std::time::Duration;
    /// use pipe_run::{Command, ErrorKind, Redirect};
    /// let mut p = Command::shell("echo first; sleep 0.3; echo second")
    ///     .stdout(Redirect::Pipe)
    ///     .spawn()?;
    /// let err = p.communicate(None, Some(Duration::from_millis(100))).unwrap_err();
    /// assert_eq!(err.kind(), ErrorKind::Timeout);
    /// assert_eq!(err.stdout(), b"first\n");
    /// let (out, _) = p.communicate(None, None)?;
    /// assert_eq!(out, b"first\nsecond\n");
    /// # Ok::<(), pipe_run::Error>(())
    /// ```
    ///
    /// [`ErrorKind::Timeout`]: crate::ErrorKind::Timeout
    ///
    /// # Errors
    /// [`ErrorKind::Timeout`]; [`ErrorKind::InvalidInput`](crate::ErrorKind::InvalidInput)
    /// for input when stdin is not a pipe, or new input after an earlier call
    /// started writing; [`ErrorKind::Io`](crate::ErrorKind::Io).
    pub fn communicate(
        &mut self,
        input: Option<&[u8]>,
        timeout: Option<Duration>,
    ) -> Result<(Vec<u8>, Vec<u8>)> {
        let deadline = timeout.map(|t| Instant::now() + t);
        self.start_communication(input)?;
        match self
            .exec
            .run_lent(deadline, input.filter(|b| !b.is_empty()))
        {
            Ok(true) => {
                let comm = self.exec.comm_mut();
                Ok((comm.take(0), comm.take(1)))
            }
            Ok(false) => {
                let comm = self.exec.comm();
                Err(Error::timed_out(
                    self.exec.command().clone(),
                    timeout.unwrap_or_default(),
                    false,
                    Vec::new(),
                    comm.snapshot(0),
                    comm.snapshot(1),
                ))
            }
            Err(e) => {
                let comm = self.exec.comm_mut();
                let (out, err) = (comm.take(0), comm.take(1));
                Err(self
                    .io_error("cannot talk to the child", e)
                    .with_output(out, err))
            }
        }
    }

    fn start_communication(&mut self, input: Option<&[u8]>) -> Result<()> {
        if self.communicating {
            if input.is_some() {
                return Err(Error::invalid(
                    Some(self.exec.command().clone()),
                    "communicate already started: call it again with no input to resume",
                ));
            }
            return Ok(());
        }
        let data = match (input, self.input.take()) {
            (Some(_), Some(_)) => {
                return Err(Error::invalid(
                    Some(self.exec.command().clone()),
                    "input was given both to the command and to communicate",
                ));
            }
            // Lent to each run of the loop, copied only if a call ends early.
            (Some(_), None) => None,
            (None, configured) => configured,
        };
        if input.is_some() && self.stdin.is_none() {
            return Err(Error::invalid(
                Some(self.exec.command().clone()),
                "communicate was given input but stdin is not a pipe (use .stdin(Redirect::Pipe))",
            ));
        }
        let mut stdin = self.stdin.take().map(OwnedFd::from);
        let lent_stdin = match input {
            Some(bytes) if !bytes.is_empty() => stdin.take().map(|fd| (fd, bytes.len())),
            _ => None,
        };
        let outputs = vec![
            self.stdout.take().map(OwnedFd::from),
            self.stderr.take().map(OwnedFd::from),
        ];
        let mut comm = Communicator::new(stdin, data, outputs)
            .map_err(|e| self.io_error("cannot set up the pipes", e))?;
        if let Some((fd, len)) = lent_stdin {
            comm.lend_input(fd, len)
                .map_err(|e| self.io_error("cannot set up the pipes", e))?;
        }
        for (i, capture) in self.capture.iter().enumerate() {
            comm.capture(i, capture);
        }
        self.exec.set_comm(comm);
        self.communicating = true;
        Ok(())
    }

    /// Runs to completion for the run-style methods: communicate, wait, and
    /// on timeout kill the process group and return the partial output.
    pub(crate) fn finish(&mut self, timeout: Option<Duration>) -> Result<Completed> {
        self.start_communication(None)?;
        self.exec.finish(timeout)
    }

    fn io_error(&self, context: &str, e: std::io::Error) -> Error {
        Error::io(Some(self.exec.command().clone()), context, e)
    }

    fn process(&self) -> &Process {
        &self.exec.processes()[0]
    }

    /// The execution behind this handle (for the pool's scheduler).
    pub(crate) fn into_execution(mut self) -> Result<Execution> {
        self.start_communication(None)?;
        let exec = std::mem::replace(
            &mut self.exec,
            Execution::new(Arc::from(""), Vec::new(), Instant::now()),
        );
        self.kill_on_drop = false;
        Ok(exec)
    }
}

/// A pipe handed out raw is read by the caller's own loop, where we cannot
/// grow it lazily as the communicate loop does once it sees a full read: grow
/// it to 1 MiB now. Measured in `benches/engine.rs` (scenario 3): a 64 KiB
/// pipe caps a read loop at about a third of the speed of a 1 MiB one. Over
/// the per-user pipe budget the kernel refuses and the pipe keeps its size.
fn grow_taken_pipe(pipe: &os_pipe::PipeReader) {
    sys::grow_pipe(std::os::fd::AsFd::as_fd(pipe), sys::BIG_PIPE);
}

impl fmt::Debug for Popen {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Popen")
            .field("pid", &self.pid())
            .field("command", &self.command())
            .field("status", &self.process().status())
            .finish_non_exhaustive()
    }
}

impl Drop for Popen {
    fn drop(&mut self) {
        if self.kill_on_drop && self.exec.statuses().is_none() {
            let _ = self.exec.signal_tree(sys::SIGKILL);
        }
        // The fields drop next, pipes first; `Process::drop` hands a child
        // that still runs to the reaper.
    }
}
